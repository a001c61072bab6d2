// Package sqlstoretest opens PostgreSQL for the tests of packages that run
// on storage/sqlstore: each test gets a schema of its own, dropped when it
// ends.
//
// The server is the one at $ROLLCALL_TEST_POSTGRES, by default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. A test that
// cannot reach it is skipped with the reason, or fails when
// ROLLCALL_REQUIRE_POSTGRES=1 (as in CI).
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/storage/sqlstore"
)

// DefaultDSN is the server the tests use when ROLLCALL_TEST_POSTGRES is not
// set.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN returns the DSN of a new, empty schema of the test server, dropped at
// tb's cleanup.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("ROLLCALL_TEST_POSTGRES")
	if dsn == "" {
		dsn = DefaultDSN
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatalf("sqlstoretest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		msg := "PostgreSQL is not reachable at $ROLLCALL_TEST_POSTGRES (default " + DefaultDSN + "): " + err.Error()
		if os.Getenv("ROLLCALL_REQUIRE_POSTGRES") == "1" {
			tb.Fatal(msg + " (ROLLCALL_REQUIRE_POSTGRES=1)")
		}
		tb.Skip(msg)
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "rollcall_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		tb.Fatalf("sqlstoretest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("sqlstoretest: drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return withSearchPath(dsn, schema)
}

// Postgres opens (and migrates) a new, empty schema of the test server,
// closed and dropped at tb's cleanup.
func Postgres(tb testing.TB, opts sqlstore.Options) *sqlstore.DB {
	tb.Helper()
	db, err := sqlstore.OpenPostgres(context.Background(), DSN(tb), opts)
	if err != nil {
		tb.Fatalf("sqlstoretest: OpenPostgres: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// withSearchPath adds a search_path run-time parameter to a pgx DSN, in URL
// or key=value form.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}
