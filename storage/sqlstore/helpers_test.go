package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// defaultPostgres is where the tests look for PostgreSQL when
// ROLLCALL_TEST_POSTGRES is not set.
const defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func postgresDSN() string {
	if dsn := os.Getenv("ROLLCALL_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return defaultPostgres
}

var (
	pgOnce sync.Once
	pgErr  error
)

// needPostgres skips tb when PostgreSQL is unreachable, or fails it if
// ROLLCALL_REQUIRE_POSTGRES=1.
func needPostgres(tb testing.TB) {
	tb.Helper()
	pgOnce.Do(func() {
		db, err := sql.Open("pgx", postgresDSN())
		if err != nil {
			pgErr = err
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pgErr = db.PingContext(ctx)
	})
	if pgErr == nil {
		return
	}
	msg := "PostgreSQL is not reachable at $ROLLCALL_TEST_POSTGRES (default " + defaultPostgres + "): " + pgErr.Error() +
		"; start one (trust auth, database test) or point ROLLCALL_TEST_POSTGRES at one to run these tests"
	if os.Getenv("ROLLCALL_REQUIRE_POSTGRES") == "1" {
		tb.Fatal(msg + " (ROLLCALL_REQUIRE_POSTGRES=1)")
	}
	tb.Skip(msg)
}

// postgresSchema creates a schema of its own for tb, dropped at cleanup, and
// returns a DSN whose search_path selects it.
func postgresSchema(tb testing.TB) string {
	tb.Helper()
	needPostgres(tb)
	admin, err := sql.Open("pgx", postgresDSN())
	if err != nil {
		tb.Fatal(err)
	}
	schema := "rollcall_test_" + randomHex(8)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return withSearchPath(postgresDSN(), schema)
}

// withSearchPath adds a search_path run-time parameter to a pgx DSN, in URL
// or key=value form.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// openPostgres opens a fresh schema of the test database, closed and dropped
// at cleanup.
func openPostgres(tb testing.TB, opts Options) *DB {
	tb.Helper()
	dsn := postgresSchema(tb)
	db, err := OpenPostgres(context.Background(), dsn, opts)
	if err != nil {
		tb.Fatalf("OpenPostgres: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// openSQLiteFile opens a fresh SQLite file in tb's temporary directory.
func openSQLiteFile(tb testing.TB, opts Options) *DB {
	tb.Helper()
	db, err := OpenSQLite(context.Background(), filepath.Join(tb.TempDir(), "rollcall.db"), opts)
	if err != nil {
		tb.Fatalf("OpenSQLite: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// openSQLiteMemory opens a fresh in-memory SQLite database.
func openSQLiteMemory(tb testing.TB, opts Options) *DB {
	tb.Helper()
	db, err := OpenSQLite(context.Background(), ":memory:", opts)
	if err != nil {
		tb.Fatalf("OpenSQLite(:memory:): %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// backends are the databases every test runs on.
var backends = []struct {
	name string
	open func(tb testing.TB, opts Options) *DB
}{
	{"sqlite", openSQLiteFile},
	{"sqlite-memory", openSQLiteMemory},
	{"postgres", openPostgres},
}

// rawBackends open an empty database with database/sql alone, for a test
// that writes an older schema before the store opens it; closed at the
// test's end.
var rawBackends = []struct {
	name    string
	dialect Dialect
	open    func(t *testing.T) *sql.DB
}{
	{"sqlite", SQLite, func(t *testing.T) *sql.DB {
		db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "old.db")+"?_pragma=foreign_keys(1)&_txlock=immediate")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		return db
	}},
	{"postgres", Postgres, func(t *testing.T) *sql.DB {
		db, err := sql.Open("pgx", postgresSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
}
