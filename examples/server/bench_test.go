package main

// SCIM POST /Users over HTTP against the database/sql floor, in the same
// run. The figures and the command are in docs/benchmarks.md.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/internal/floorbench"
	"github.com/rollcall/rollcall/storage/sqlstore/sqlstoretest"
)

const benchSCIMToken = "bench-scim-token-0123456789abcdef"

// benchServer runs the example server as main does, with -db or -postgres
// as given, its log going to /dev/null, and returns its address.
func benchServer(b *testing.B, args []string) string {
	b.Helper()
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan net.Addr, 1)
	done := make(chan error, 1)
	vars := map[string]string{EnvAdminToken: testToken, EnvSCIMToken: benchSCIMToken}
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), env(vars), devNull, func(a net.Addr) { listening <- a })
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("run: %v", err)
		}
		devNull.Close()
	})
	select {
	case a := <-listening:
		return a.String()
	case err := <-done:
		b.Fatalf("run returned before listening: %v", err)
	}
	return ""
}

var benchSeq atomic.Int64

// scimCreate POSTs a new user to /scim/v2/Users, as Entra ID does, and
// checks the 201.
func scimCreate(ctx context.Context, client *http.Client, base string) error {
	i := benchSeq.Add(1)
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bench%d@example.com",`+
		`"name":{"givenName":"N","familyName":"U"},"emails":[{"value":"bench%d@example.com","type":"work","primary":true}],"active":true}`, i, i)
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/scim/v2/Users", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchSCIMToken)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	out, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST /Users: %d %s", res.StatusCode, out)
	}
	return nil
}

// rawFloor is the floor under a SCIM create: one transaction that inserts
// the user row and its event row with statements prepared once, through
// database/sql with the server's driver, DSN, pragmas and schema. It writes
// to a tenant of its own.
type rawFloor struct {
	db          *sql.DB
	opts        *sql.TxOptions
	user, event *sql.Stmt
	postgres    bool
}

const (
	floorUserInsert = "INSERT INTO rollcall_users (tenant, id, user_name, user_name_key, email, email_key, email_verified, " +
		"given_name, family_name, display_name, active, external_id, attributes, search, created, updated, version) " +
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	floorEventSQLite = "INSERT INTO rollcall_events (tenant, type, source, actor, user_id, group_id, fields, time) " +
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	// floorEventPostgres numbers the event as the store does: its
	// transaction's ID and its place in it.
	floorEventPostgres = "INSERT INTO rollcall_events (tenant, type, source, actor, user_id, group_id, fields, time, seq) " +
		"OVERRIDING SYSTEM VALUE VALUES (?, ?, ?, ?, ?, ?, ?, ?, (pg_current_xact_id()::text::bigint << 20) + ?) RETURNING seq"
)

// newRawFloor opens the server's database as sqlstore.OpenSQLite or
// OpenPostgres does; the server has migrated it.
func newRawFloor(b *testing.B, dbPath, dsn string) *rawFloor {
	b.Helper()
	var (
		db  *sql.DB
		err error
		f   = &rawFloor{opts: &sql.TxOptions{}, postgres: dsn != ""}
	)
	event := floorEventSQLite
	if f.postgres {
		db, err = sql.Open("pgx", dsn)
		f.opts.Isolation, event = sql.LevelReadCommitted, floorEventPostgres
	} else {
		db, err = sql.Open("sqlite", dbPath+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=cache_size(-16384)"+
			"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=temp_store(2)&_txlock=immediate")
		db.SetMaxOpenConns(1)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	f.db = db
	user := floorUserInsert
	if f.postgres {
		user, event = dollars(user), dollars(event)
	}
	if f.user, err = db.Prepare(user); err != nil {
		b.Fatal(err)
	}
	if f.event, err = db.Prepare(event); err != nil {
		b.Fatal(err)
	}
	return f
}

func (f *rawFloor) create(ctx context.Context) error {
	i := benchSeq.Add(1)
	email := fmt.Sprintf("raw%d@example.com", i)
	now := time.Now().UnixMicro()
	id := identity.NewID()
	tx, err := f.db.BeginTx(ctx, f.opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Stmt(f.user).ExecContext(ctx, "raw", id, email, email, email, email, true, "N", "U", "", true, "", "null",
		email+"\n"+email+"\nn\nu", now, now, 1); err != nil {
		return err
	}
	args := []any{"raw", string(identity.UserCreated), identity.SourceSCIM, "", id, "", "null", now}
	if f.postgres {
		args = append(args, 0)
	}
	rows, err := tx.Stmt(f.event).QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return tx.Commit()
}

// BenchmarkSCIMCreateHTTP POSTs users to the example server over HTTP (TCP
// on the loopback, keep-alive), with one client and with eight, against the
// floor (rawFloor) in the same run; "sqlite-unindexed" drops the user
// search index's triggers first (the schema before that index). Each run
// alternates the two, b.N creates each, floorbench.Rounds rounds, and
// reports the medians and their ratio.
func BenchmarkSCIMCreateHTTP(b *testing.B) {
	backends := []struct {
		name      string
		args      func(b *testing.B) (args []string, dbPath, dsn string)
		unindexed bool // without the user search index's triggers, the floor included
	}{
		{"sqlite", func(b *testing.B) ([]string, string, string) {
			path := filepath.Join(b.TempDir(), "rollcall.db")
			return []string{"-db", path}, path, ""
		}, false},
		{"postgres", func(b *testing.B) ([]string, string, string) {
			dsn := sqlstoretest.DSN(b)
			return []string{"-postgres", dsn}, "", dsn
		}, false},
		{"sqlite-unindexed", func(b *testing.B) ([]string, string, string) {
			path := filepath.Join(b.TempDir(), "rollcall.db")
			return []string{"-db", path}, path, ""
		}, true},
	}
	for _, be := range backends {
		for _, clients := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/clients=%d", be.name, clients), func(b *testing.B) {
				args, dbPath, dsn := be.args(b)
				base := "http://" + benchServer(b, args)
				floor := newRawFloor(b, dbPath, dsn)
				if be.unindexed {
					for _, t := range []string{"insert", "update", "delete"} {
						if _, err := floor.db.Exec("DROP TRIGGER rollcall_users_search_" + t); err != nil {
							b.Fatal(err)
						}
					}
				}
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
				b.Cleanup(client.CloseIdleConnections)
				post := func(ctx context.Context) error { return scimCreate(ctx, client, base) }
				if err := post(context.Background()); err != nil { // connect, and check the route
					b.Fatal(err)
				}
				floorbench.Compare(b, clients, "http", floor.create, post)
			})
		}
	}
}

// dollars numbers the ? placeholders of query as PostgreSQL's $1, $2...
func dollars(query string) string {
	var sb strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&sb, "$%d", n)
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
