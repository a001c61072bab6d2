package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// reopener opens the same database again and again.
type reopener struct {
	name string
	// new returns a function that opens one fresh database, each call
	// another view of it.
	new func(t *testing.T) func(opts Options) (*DB, error)
}

var reopeners = []reopener{
	{"sqlite", func(t *testing.T) func(Options) (*DB, error) {
		path := filepath.Join(t.TempDir(), "rollcall.db")
		return func(opts Options) (*DB, error) { return OpenSQLite(context.Background(), path, opts) }
	}},
	{"postgres", func(t *testing.T) func(Options) (*DB, error) {
		dsn := postgresSchema(t)
		return func(opts Options) (*DB, error) { return OpenPostgres(context.Background(), dsn, opts) }
	}},
}

func schemaVersions(t *testing.T, db *DB) []int {
	t.Helper()
	rows, err := db.wdb.Query("SELECT version FROM rollcall_schema ORDER BY version")
	if err != nil {
		t.Fatalf("read rollcall_schema: %v", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

func knownVersions(t *testing.T, d Dialect) []int {
	t.Helper()
	ms, err := loadMigrations(d)
	if err != nil {
		t.Fatal(err)
	}
	var vs []int
	for _, m := range ms {
		vs = append(vs, m.version)
	}
	return vs
}

func TestMigrationsMatch(t *testing.T) {
	lite, err := loadMigrations(SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := loadMigrations(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones: want the same, and some", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].version != pg[i].version || lite[i].name != pg[i].name {
			t.Errorf("migration %d: SQLite %d_%s, PostgreSQL %d_%s", i, lite[i].version, lite[i].name, pg[i].version, pg[i].name)
		}
	}
}

func TestMigrateReopen(t *testing.T) {
	for _, r := range reopeners {
		t.Run(r.name, func(t *testing.T) {
			open := r.new(t)
			db, err := open(Options{})
			if err != nil {
				t.Fatalf("first open: %v", err)
			}
			u, err := db.Tenant("t").CreateUser(t.Context(), identity.User{Email: "kept@example.com", UserName: "kept"})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			for i := range 2 {
				db, err = open(Options{})
				if err != nil {
					t.Fatalf("open %d: %v", i+2, err)
				}
				want := knownVersions(t, db.dialect)
				if got := schemaVersions(t, db); !slices.Equal(got, want) {
					t.Errorf("versions recorded after reopening: %v, want %v", got, want)
				}
				if got, err := db.Tenant("t").UserByEmail(t.Context(), "kept@example.com"); err != nil || got.ID != u.ID {
					t.Errorf("user after reopening: %v, %v", got.ID, err)
				}
				db.Close()
			}
		})
	}
}

func TestMigrateConcurrentOpen(t *testing.T) {
	for _, r := range reopeners {
		t.Run(r.name, func(t *testing.T) {
			open := r.new(t)
			const n = 4
			dbs := make([]*DB, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { dbs[i], errs[i] = open(Options{}) })
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Errorf("open %d: %v", i, errs[i])
					continue
				}
				defer dbs[i].Close()
			}
			if t.Failed() {
				return
			}
			want := knownVersions(t, dbs[0].dialect)
			if got := schemaVersions(t, dbs[0]); !slices.Equal(got, want) {
				t.Errorf("versions recorded after %d concurrent opens: %v, want %v", n, got, want)
			}
		})
	}
}

func TestNewerSchema(t *testing.T) {
	for _, r := range reopeners {
		t.Run(r.name, func(t *testing.T) {
			open := r.new(t)
			db, err := open(Options{})
			if err != nil {
				t.Fatal(err)
			}
			known := len(knownVersions(t, db.dialect))
			if _, err := db.wdb.Exec(db.dialect.rebind("INSERT INTO rollcall_schema (version, name, applied) VALUES (?, 'future', 0)"), known+1); err != nil {
				t.Fatal(err)
			}
			db.Close()
			db, err = open(Options{})
			if err == nil {
				db.Close()
				t.Fatal("opening a database with a newer schema succeeded")
			}
			var sv *SchemaVersionError
			if !errors.As(err, &sv) || sv.Database != known+1 || sv.Code != known {
				t.Fatalf("open: %v (%T), want *SchemaVersionError{%d, %d}", err, err, known+1, known)
			}
			if !strings.Contains(err.Error(), "newer") {
				t.Errorf("error %q does not say the schema is newer", err)
			}
		})
	}
}

// TestConstraintFallback checks the mapping of the databases' own unique and
// foreign key violations, which the store meets only when a concurrent
// writer takes a value between its check and its write.
func TestConstraintFallback(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			db := b.open(t, Options{})
			s := db.Tenant("t")
			u, err := s.CreateUser(ctx, identity.User{Email: "a@example.com", UserName: "a", ExternalID: "ext-a", Active: true})
			if err != nil {
				t.Fatal(err)
			}
			g, err := s.CreateGroup(ctx, identity.Group{Name: "G", Kind: groups.Internal, ExternalID: "ext-g"})
			if err != nil {
				t.Fatal(err)
			}
			v, err := s.CreateUser(ctx, identity.User{UserName: "v"})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateLink(ctx, identity.Link{Source: "scim", Subject: "sub", UserID: u.ID}); err != nil {
				t.Fatal(err)
			}
			c := conn{d: db.dialect, q: db.wdb}
			insert := func(other identity.User) error {
				_, err := c.exec(ctx, "INSERT INTO rollcall_users (tenant, id, "+userWriteCols+") VALUES (?, ?, "+
					placeholders(userWriteCount)+")", append([]any{"t", other.ID}, userValues(other)...)...)
				return err
			}
			for _, tc := range []struct {
				name, resource, field string
				err                   error
			}{
				{"user id", "user", "id", insert(identity.User{ID: u.ID, UserName: "b"})},
				{"email", "user", "email", insert(identity.User{ID: "b", Email: " Ａ@example.com", UserName: "b", Active: true})},
				{"userName", "user", "userName", insert(identity.User{ID: "b", UserName: "A"})},
				{"group name", "group", "name", execErr(c, "INSERT INTO rollcall_groups (tenant, id, "+groupWriteCols+") VALUES (?, ?, "+placeholders(9)+")",
					append([]any{"t", "g2"}, groupValues(identity.Group{Name: " g "})...)...)},
				{"link subject", "link", "subject", execErr(c, "INSERT INTO rollcall_links (tenant, source, subject, user_id, created) VALUES ('t', 'scim', 'sub', ?, 0)", v.ID)},
				{"link source", "link", "source", execErr(c, "INSERT INTO rollcall_links (tenant, source, subject, user_id, created) VALUES ('t', 'scim', 'other', ?, 0)", u.ID)},
			} {
				var ce *identity.ConflictError
				if err := db.dialect.mapErr(tc.err, "test"); !errors.As(err, &ce) || ce.Resource != tc.resource || ce.Field != tc.field {
					t.Errorf("%s: mapErr(%v) = %v, want a conflict of %s %s", tc.name, tc.err, err, tc.resource, tc.field)
				}
			}
			// A group's externalID is not unique: the database takes a second.
			if _, err := c.exec(ctx, "INSERT INTO rollcall_groups (tenant, id, "+groupWriteCols+") VALUES (?, ?, "+placeholders(9)+")",
				append([]any{"t", "g3"}, groupValues(identity.Group{Name: "h", ExternalID: "ext-g"})...)...); err != nil {
				t.Errorf("a second group with a stored externalID: %v, want it stored", err)
			}
			fk := execErr(c, "INSERT INTO rollcall_members (tenant, group_id, user_id) VALUES ('t', ?, 'nobody')", g.ID)
			if err := db.dialect.mapErr(fk, "test"); !errors.Is(err, identity.ErrNotFound) {
				t.Errorf("foreign key violation: mapErr(%v) = %v, want ErrNotFound", fk, err)
			}
		})
	}
}

func execErr(c conn, query string, args ...any) error {
	_, err := c.exec(context.Background(), query, args...)
	if err == nil {
		return errors.New("the statement succeeded")
	}
	return err
}

// TestCancelMidTx cancels the context between two writes of a transaction:
// the first must not be stored.
func TestCancelMidTx(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t, Options{})
			s := db.Tenant("t")
			ctx, cancel := context.WithCancel(t.Context())
			err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
				if _, err := tx.CreateUser(ctx, identity.User{Email: "first@example.com", UserName: "first"}); err != nil {
					return err
				}
				cancel()
				_, err := tx.CreateUser(ctx, identity.User{Email: "second@example.com", UserName: "second"})
				return err
			})
			if err == nil {
				t.Fatal("Tx succeeded after its context was cancelled")
			}
			if !errors.Is(err, context.Canceled) {
				t.Logf("Tx error (not context.Canceled, which is allowed): %v", err)
			}
			for _, email := range []string{"first@example.com", "second@example.com"} {
				if _, err := s.UserByEmail(t.Context(), email); !errors.Is(err, identity.ErrNotFound) {
					t.Errorf("UserByEmail(%s) after the cancelled transaction: %v, want ErrNotFound", email, err)
				}
			}
			// The database is usable afterwards.
			if _, err := s.CreateUser(t.Context(), identity.User{Email: "first@example.com", UserName: "first"}); err != nil {
				t.Errorf("CreateUser after the cancelled transaction: %v", err)
			}
		})
	}
}

// TestCancelledUpdate cancels the context inside UpdateUser's fn.
func TestCancelledUpdate(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t, Options{})
			s := db.Tenant("t")
			u, err := s.CreateUser(t.Context(), identity.User{UserName: "u", DisplayName: "before"})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			_, err = s.UpdateUser(ctx, u.ID, func(u *identity.User) error {
				u.DisplayName = "after"
				cancel()
				return nil
			})
			if err == nil {
				t.Fatal("UpdateUser succeeded after its context was cancelled")
			}
			got, err := s.User(t.Context(), u.ID)
			if err != nil || got.DisplayName != "before" || got.Version != 1 {
				t.Errorf("User after a cancelled update = %q v%d, %v; want %q v1", got.DisplayName, got.Version, err, "before")
			}
		})
	}
}

// TestPanicInTx checks that a panic in fn rolls back and gives the
// connection back: SQLite has one writer connection, which would otherwise
// stay taken.
func TestPanicInTx(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t, Options{})
			s := db.Tenant("t")
			func() {
				defer func() {
					if recover() == nil {
						t.Error("Tx did not pass fn's panic on")
					}
				}()
				s.Tx(t.Context(), func(ctx context.Context, tx identity.Store) error {
					if _, err := tx.CreateUser(ctx, identity.User{UserName: "ghost"}); err != nil {
						return err
					}
					panic("boom")
				})
			}()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if _, err := s.CreateUser(ctx, identity.User{UserName: "after"}); err != nil {
				t.Fatalf("CreateUser after a panic in Tx: %v", err)
			}
			if _, err := s.UserByUserName(ctx, "ghost"); !errors.Is(err, identity.ErrNotFound) {
				t.Errorf("the panicking transaction's user: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestClosedDB checks that every call on a closed DB returns an error and
// none panics.
func TestClosedDB(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			db := b.open(t, Options{})
			s, k := db.Tenant("t"), db.Keys("t", nil)
			u, err := s.CreateUser(ctx, identity.User{UserName: "u"})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			calls := map[string]func() error{
				"CreateUser": func() error { _, err := s.CreateUser(ctx, identity.User{UserName: "v"}); return err },
				"User":       func() error { _, err := s.User(ctx, u.ID); return err },
				"UpdateUser": func() error {
					_, err := s.UpdateUser(ctx, u.ID, func(*identity.User) error { return nil })
					return err
				},
				"ListUsers":    func() error { _, err := s.ListUsers(ctx, identity.UserQuery{}); return err },
				"AddMember":    func() error { _, err := s.AddMember(ctx, "g", u.ID); return err },
				"Tx":           func() error { return s.Tx(ctx, func(context.Context, identity.Store) error { return nil }) },
				"AppendEvents": func() error { return s.AppendEvents(ctx, []identity.Event{{Type: identity.UserCreated}}) },
				"Events":       func() error { _, err := s.Events(ctx, 0, 10); return err },
				"SetIfAbsent":  func() error { _, err := k.SetIfAbsent(ctx, "k", nil, time.Now().Add(time.Hour)); return err },
				"Take":         func() error { _, err := k.Take(ctx, "k"); return err },
			}
			for name, call := range calls {
				err := call()
				if err == nil {
					t.Errorf("%s on a closed DB: no error", name)
				} else if errors.Is(err, identity.ErrNotFound) {
					t.Errorf("%s on a closed DB: %v, which claims the record is missing", name, err)
				}
			}
		})
	}
}

// TestPostgresKilledConnection ends the backend of a transaction from a
// second connection, between two writes: nothing of it must be stored, and
// the DB must go on working.
func TestPostgresKilledConnection(t *testing.T) {
	db := openPostgres(t, Options{})
	admin, err := sql.Open("pgx", postgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := t.Context()
	s := db.Tenant("t")
	calls := 0
	err = s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		calls++
		if _, err := tx.CreateUser(ctx, identity.User{Email: "doomed@example.com", UserName: "doomed"}); err != nil {
			return err
		}
		var pid int
		if err := tx.(*Store).tx.row(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			return err
		}
		var ok bool
		if err := admin.QueryRowContext(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
		}
		_, err := tx.CreateUser(ctx, identity.User{Email: "doomed2@example.com", UserName: "doomed2"})
		return err
	})
	if err == nil {
		t.Fatal("Tx succeeded though its connection was killed")
	}
	t.Logf("Tx error: %v", err)
	if calls != 1 {
		t.Errorf("fn ran %d times: a broken connection must not be retried", calls)
	}
	for _, email := range []string{"doomed@example.com", "doomed2@example.com"} {
		if _, err := s.UserByEmail(ctx, email); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("UserByEmail(%s): %v, want ErrNotFound", email, err)
		}
	}
	if _, err := s.CreateUser(ctx, identity.User{Email: "doomed@example.com", UserName: "doomed"}); err != nil {
		t.Errorf("CreateUser after the connection was killed: %v", err)
	}
}

// TestEventCursorNoSkip pages through a tenant's log while transactions
// append to it and take their time to commit: a reader that follows the
// cursor must see every event. In PostgreSQL that needs Events' horizon:
// without it, a transaction with a lower seq could commit after the reader
// had passed it.
func TestEventCursorNoSkip(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t, Options{})
			s := db.Tenant("t")
			other := db.Tenant("other")
			const writers, each = 6, 10
			ctx := t.Context()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
							e := identity.Event{Type: identity.UserUpdated, UserID: fmt.Sprintf("w%d-%d", w, i)}
							if err := tx.(identity.EventLog).AppendEvents(ctx, []identity.Event{e}); err != nil {
								return err
							}
							time.Sleep(time.Duration(w) * time.Millisecond) // commit late
							return nil
						})
						if err != nil {
							t.Errorf("Tx: %v", err)
							return
						}
						// Another tenant's appends share the sequence.
						if err := other.AppendEvents(ctx, []identity.Event{{Type: identity.UserCreated}}); err != nil {
							t.Errorf("AppendEvents(other): %v", err)
							return
						}
					}
				})
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			seen := map[string]bool{}
			var after int64
			for finished := false; len(seen) < writers*each; {
				page, err := s.Events(ctx, after, 3)
				if err != nil {
					t.Fatalf("Events: %v", err)
				}
				for _, e := range page {
					if seen[e.UserID] {
						t.Fatalf("event %s seen twice", e.UserID)
					}
					seen[e.UserID] = true
					after = e.Seq
				}
				if len(page) > 0 {
					continue
				}
				if finished {
					break // every writer has committed and nothing is left after the cursor
				}
				select {
				case <-done:
					finished = true
				case <-time.After(time.Millisecond):
				}
			}
			<-done
			if len(seen) != writers*each {
				all, _ := s.Events(ctx, 0, 1000)
				t.Errorf("the reader following the cursor saw %d of %d events (the log holds %d): it skipped some",
					len(seen), writers*each, len(all))
			}
		})
	}
}

// TestNew checks a DB over a *sql.DB the host opened: migrated, usable, and
// left open by Close.
func TestNew(t *testing.T) {
	cases := []struct {
		name    string
		dialect Dialect
		open    func(t *testing.T) *sql.DB
	}{
		{"sqlite", SQLite, func(t *testing.T) *sql.DB {
			db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "host.db")+
				"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_txlock=immediate")
			if err != nil {
				t.Fatal(err)
			}
			return db
		}},
		{"postgres", Postgres, func(t *testing.T) *sql.DB {
			db, err := sql.Open("pgx", postgresSchema(t))
			if err != nil {
				t.Fatal(err)
			}
			return db
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host := c.open(t)
			defer host.Close()
			db, err := New(t.Context(), host, c.dialect, Options{})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			s := db.Tenant("t")
			u, err := s.CreateUser(t.Context(), identity.User{UserName: "u"})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := host.Ping(); err != nil {
				t.Errorf("the host's *sql.DB after Close: %v", err)
			}
			db, err = New(t.Context(), host, c.dialect, Options{})
			if err != nil {
				t.Fatalf("New again: %v", err)
			}
			if _, err := db.Tenant("t").User(t.Context(), u.ID); err != nil {
				t.Errorf("User through a second New: %v", err)
			}
		})
	}
	if _, err := New(t.Context(), nil, SQLite, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c IN (?, ?)"
	if got := SQLite.rebind(q); got != q {
		t.Errorf("SQLite rebind = %q", got)
	}
	if got, want := Postgres.rebind(q), "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"; got != want {
		t.Errorf("Postgres rebind = %q, want %q", got, want)
	}
}

func TestLikeContains(t *testing.T) {
	if got, want := likeContains(`A_b%c\D`), `%a\_b\%c\\d%`; got != want {
		t.Errorf("likeContains = %q, want %q", got, want)
	}
}

func TestEventOfAnotherTenant(t *testing.T) {
	db := openSQLiteMemory(t, Options{})
	err := db.Tenant("a").AppendEvents(t.Context(), []identity.Event{{Type: identity.UserCreated, Tenant: "b"}})
	if !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("AppendEvents of another tenant's event: %v, want ErrInvalid", err)
	}
}

func TestSQLitePathWithQuery(t *testing.T) {
	if _, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "a?b.db"), Options{}); err == nil {
		t.Error("OpenSQLite of a path with '?' succeeded; want an error that asks for a file: URI")
	}
}

// TestPostgresSerializationRetry runs two transactions that both find no
// user with an email and then both create one. PostgreSQL fails the second
// with a serialization failure; the store runs its fn again, which now finds
// the user: both succeed, one user exists.
func TestPostgresSerializationRetry(t *testing.T) {
	db := openPostgres(t, Options{})
	s := db.Tenant("t")
	ctx := t.Context()
	var (
		wg      sync.WaitGroup
		barrier sync.WaitGroup
		mu      sync.Mutex
		calls   int
		created int
	)
	barrier.Add(2)
	for w := range 2 {
		wg.Go(func() {
			first := true
			err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
				mu.Lock()
				calls++
				mu.Unlock()
				_, err := tx.UserByEmail(ctx, "once@example.com")
				if first {
					// Both have read before either writes.
					first = false
					barrier.Done()
					barrier.Wait()
				}
				if err == nil || !errors.Is(err, identity.ErrNotFound) {
					return err
				}
				if _, err := tx.CreateUser(ctx, identity.User{Email: "once@example.com", UserName: fmt.Sprintf("once%d", w)}); err != nil {
					return err
				}
				mu.Lock()
				created++
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Errorf("Tx %d: %v", w, err)
			}
		})
	}
	wg.Wait()
	// Two runs and at least one retry; PostgreSQL may abort a transaction
	// more than once when both commit at about the same time.
	if calls < 3 {
		t.Errorf("fn ran %d times, want 3 or more: two, and a retry", calls)
	}
	p, err := s.ListUsers(ctx, identity.UserQuery{})
	if err != nil || p.Total != 1 {
		t.Errorf("ListUsers: Total %d, %v; want 1", p.Total, err)
	}
}

func TestRetriesExhausted(t *testing.T) {
	db := openPostgres(t, Options{MaxRetries: -1})
	if db.maxRetries != 0 {
		t.Fatalf("MaxRetries -1 gave %d retries, want 0", db.maxRetries)
	}
	s := db.Tenant("t")
	ctx := t.Context()
	var barrier sync.WaitGroup
	barrier.Add(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			errs[w] = s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
				_, err := tx.UserByEmail(ctx, "once@example.com")
				barrier.Done()
				barrier.Wait()
				if !errors.Is(err, identity.ErrNotFound) {
					return err
				}
				_, err = tx.CreateUser(ctx, identity.User{Email: "once@example.com", UserName: fmt.Sprintf("once%d", w)})
				return err
			})
		})
	}
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			if !Postgres.retryable(err) {
				t.Errorf("Tx: %v, want a serialization failure", err)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d of 2 transactions failed without retries, want 1 (errors %v)", failed, errs)
	}
}

// TestMigrateKeepsEvents opens a database of schema version 1 holding an
// event, as an older rollcall left it: the new migrations run, the event is
// still there (with no actor), and new events keep theirs.
func TestMigrateKeepsEvents(t *testing.T) {
	for _, c := range []struct {
		name    string
		dialect Dialect
		driver  string
		dsn     func(t *testing.T) string
	}{
		{"sqlite", SQLite, "sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "rollcall.db") }},
		{"postgres", Postgres, "pgx", func(t *testing.T) string { return postgresSchema(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dsn := c.dsn(t)
			ms, err := loadMigrations(c.dialect)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := sql.Open(c.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				"CREATE TABLE rollcall_schema (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)",
				ms[0].sql,
				"INSERT INTO rollcall_schema (version, name, applied) VALUES (1, 'init', 0)",
				"INSERT INTO rollcall_events (tenant, type, source, user_id, group_id, fields, time) VALUES ('t', 'user.created', 'manual', 'u1', '', 'null', 0)",
			} {
				if _, err := raw.Exec(q); err != nil {
					t.Fatalf("%.60s: %v", q, err)
				}
			}
			raw.Close()

			var db *DB
			if c.dialect == SQLite {
				db, err = OpenSQLite(t.Context(), dsn, Options{})
			} else {
				db, err = OpenPostgres(t.Context(), dsn, Options{})
			}
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got, want := schemaVersions(t, db), knownVersions(t, c.dialect); !slices.Equal(got, want) {
				t.Fatalf("versions %v, want %v", got, want)
			}
			s := db.Tenant("t")
			if err := s.AppendEvents(t.Context(), []identity.Event{{Type: identity.UserUpdated, Source: "manual", Actor: "admin@example.com", UserID: "u1"}}); err != nil {
				t.Fatal(err)
			}
			events, err := s.Events(t.Context(), 0, 10)
			if err != nil || len(events) != 2 {
				t.Fatalf("events %+v, %v", events, err)
			}
			if events[0].UserID != "u1" || events[0].Actor != "" || events[1].Actor != "admin@example.com" {
				t.Errorf("events %+v", events)
			}
		})
	}
}
