package sqlstore

import (
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/storagetest"
)

// schemaBefore makes the schema of the migrations before the one named
// name, their Go steps skipped (the tables are empty).
func schemaBefore(t *testing.T, raw *sql.DB, d Dialect, name string) {
	t.Helper()
	ms, err := loadMigrations(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("CREATE TABLE rollcall_schema (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ms, func(m migration) bool { return m.name == name })
	if i < 0 {
		t.Fatalf("no migration %s", name)
	}
	for _, m := range ms[:i] {
		if _, err := raw.Exec(m.sql); err != nil {
			t.Fatalf("migration %d: %v", m.version, err)
		}
		if _, err := raw.Exec(d.rebind("INSERT INTO rollcall_schema (version, name, applied) VALUES (?, ?, 0)"), m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMigrateUserSearch opens a database made before the migration
// user_search, with users: the migration indexes them, and a search of
// three characters or more (from the index) and a shorter one (a scan)
// find them; in SQLite the index follows the writes after it; in PostgreSQL
// the trigram index exists.
func TestMigrateUserSearch(t *testing.T) {
	for _, b := range rawBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			raw := b.open(t)
			schemaBefore(t, raw, b.dialect, "user_search")
			c := conn{d: b.dialect, q: raw}
			for _, u := range []struct{ tenant, id, name string }{
				{"t", "01", "Zoë Ünal"}, {"t", "02", "Zoe Unal"}, {"t2", "03", "Zoë Ünal"},
			} {
				args := append([]any{u.tenant, u.id}, userValues(identity.User{ID: u.id, UserName: u.id, DisplayName: u.name, Active: true, Version: 1})...)
				if _, err := c.exec(ctx, "INSERT INTO rollcall_users (tenant, id, "+userWriteCols+") VALUES (?, ?, "+
					placeholders(userWriteCount)+")", args...); err != nil {
					t.Fatalf("insert %s: %v", u.id, err)
				}
			}
			db, err := New(ctx, raw, b.dialect, Options{})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			s := db.Tenant("t")
			search := func(q string, want ...string) {
				t.Helper()
				p, err := s.ListUsers(ctx, identity.UserQuery{Search: q})
				if err != nil {
					t.Fatalf("ListUsers(%q): %v", q, err)
				}
				if got := userIDsOf(p.Users); !slices.Equal(got, want) || p.Total != len(want) {
					t.Errorf("Search %q: %v (total %d), want %v", q, got, p.Total, want)
				}
			}
			search("ZOË ün", "01")
			search("ë", "01")
			search("unal", "02")
			if _, err := s.UpdateUser(ctx, "02", func(u *identity.User) error { u.DisplayName = "Zoë Ünal"; return nil }); err != nil {
				t.Fatal(err)
			}
			search("zoë ü", "01", "02")
			search("unal")
			if err := s.DeleteUser(ctx, "01"); err != nil {
				t.Fatal(err)
			}
			search("zoë ü", "02")
			switch b.dialect {
			case SQLite:
				var keys, users int
				if err := raw.QueryRow("SELECT (SELECT COUNT(*) FROM rollcall_user_search_keys), (SELECT COUNT(*) FROM rollcall_users)").Scan(&keys, &users); err != nil || keys != users {
					t.Errorf("%d search keys for %d users (%v)", keys, users, err)
				}
			case Postgres:
				var n int
				if err := raw.QueryRow("SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'rollcall_users_search_trgm'").Scan(&n); err != nil || n != 1 {
					t.Errorf("trigram index: %d (%v), want 1", n, err)
				}
			}
		})
	}
}

func userIDsOf(users []identity.User) []string {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

// A PostgreSQL database where the extension cannot be installed migrates
// without the index: the step logs it, its failed CREATE EXTENSION is
// undone in its savepoint, and the transaction goes on.
func TestTrigramIndexWithoutExtension(t *testing.T) {
	ctx := t.Context()
	var logs syncBuffer
	db := openPostgres(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := db.wdb.ExecContext(ctx, "DROP INDEX rollcall_users_search_trgm"); err != nil {
		t.Fatal(err)
	}
	err := db.runTx(ctx, txWrite, func(c conn) error {
		if err := makeTrigramIndex(ctx, db, c, "rollcall_no_such_extension"); err != nil {
			return err
		}
		// The transaction is still usable.
		_, err := c.exec(ctx, "INSERT INTO rollcall_users (tenant, id, "+userWriteCols+") VALUES (?, ?, "+
			placeholders(userWriteCount)+")", append([]any{"t", "01"}, userValues(identity.User{ID: "01", UserName: "ann", Active: true, Version: 1})...)...)
		return err
	})
	if err != nil {
		t.Fatalf("trigram step without the extension: %v", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "rollcall_no_such_extension") {
		t.Errorf("not logged at Warn:\n%s", logs.String())
	}
	var n int
	if err := db.wdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'rollcall_users_search_trgm'").Scan(&n); err != nil || n != 0 {
		t.Errorf("trigram index: %d (%v), want none", n, err)
	}
	p, err := db.Tenant("t").ListUsers(ctx, identity.UserQuery{Search: "ANN"})
	if err != nil || len(p.Users) != 1 {
		t.Errorf("search without the index: %+v, %v", p, err)
	}
}

// In SQLite a search starts from the trigram index: a term of three
// characters or more as its phrase, a shorter one as the trigrams that
// start with it, unless there are too many (then LIKE), or none (then no
// user holds it, and nothing is read).
func TestSearchPlan(t *testing.T) {
	ctx := t.Context()
	db := openSQLiteMemory(t, Options{})
	s := db.Tenant("t")
	var many strings.Builder
	for i := range maxShortTerms + 10 {
		many.WriteString("a" + string(rune(0x4e00+i)) + "x ")
	}
	for _, u := range []identity.User{{UserName: "abc", DisplayName: "Äöü"}, {UserName: "many", DisplayName: many.String()}} {
		if _, err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []struct {
		search      string
		index, none bool
	}{{"abc", true, false}, {"ab", true, false}, {"äöü", true, false}, {"äö", true, false}, {"ö", true, false},
		{"a", false, false}, {"zq", false, true}, {"zqx", true, false}} {
		var match string
		var none bool
		err := s.snapshot(ctx, func(c conn) (err error) {
			match, none, err = s.searchMatch(ctx, c, identity.UserQuery{Search: q.search})
			return err
		})
		if err != nil || none != q.none || (match != "") != q.index {
			t.Errorf("Search %q: match %q, none %v, %v", q.search, match, none, err)
			continue
		}
		if none {
			continue
		}
		from, where, args := s.userSearch(identity.UserQuery{Search: q.search}, match)
		rows, err := db.wdb.QueryContext(ctx, "EXPLAIN QUERY PLAN SELECT u.id FROM "+from+" WHERE "+where+" ORDER BY u.id LIMIT 10", args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan strings.Builder
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(detail + "\n")
		}
		rows.Close()
		if got := strings.Contains(plan.String(), "VIRTUAL TABLE INDEX"); got != q.index {
			t.Errorf("Search %q: plan\n%s", q.search, plan.String())
		}
	}
}

// With a probe of two users, a search's page is mostly not found by the
// probe and comes from the index: the suite holds either way.
func TestConformanceSmallProbe(t *testing.T) {
	defer func(n int) { probeRows = n }(probeRows)
	probeRows = 2
	storagetest.Run(t, func(t *testing.T) storagetest.Opener {
		db := openSQLiteMemory(t, Options{})
		return func(tenant string) identity.Store { return db.Tenant(tenant) }
	})
}

// The index holds a userName equal to the email once, and follows a
// change of either: an instance of a trigram per place it occurs in the
// indexed text.
func TestSearchIndexText(t *testing.T) {
	ctx := t.Context()
	db := openSQLiteMemory(t, Options{})
	s := db.Tenant("t")
	instances := func(term string) int {
		t.Helper()
		var n int
		if err := db.wdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM rollcall_user_search_inst WHERE term = ?", term).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := db.wdb.ExecContext(ctx, "CREATE VIRTUAL TABLE temp.rollcall_user_search_inst USING fts5vocab(main, rollcall_user_search, 'instance')"); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, identity.User{UserName: "Qqq@X.example", Email: "Qqq@X.example", DisplayName: "Qqq"})
	if err != nil {
		t.Fatal(err)
	}
	if n := instances("qqq"); n != 2 { // the email and the display name
		t.Errorf("qqq: %d instances, want 2", n)
	}
	if _, err := s.UpdateUser(ctx, u.ID, func(u *identity.User) error { u.UserName = "qqq-other"; return nil }); err != nil {
		t.Fatal(err)
	}
	if n := instances("qqq"); n != 3 {
		t.Errorf("qqq after the userName changed: %d instances, want 3", n)
	}
	if p, err := s.ListUsers(ctx, identity.UserQuery{Search: "Q-O"}); err != nil || len(p.Users) != 1 {
		t.Errorf("search of the new userName: %+v, %v", p, err)
	}
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if n := instances("qqq"); n != 0 {
		t.Errorf("qqq after the delete: %d instances, want 0", n)
	}
}

// TestSearchIndexAutomerge checks that the migration sets the index's
// automerge to 8, which makes a bulk create cheaper (docs/benchmarks.md),
// and that a search still finds every user after the merges that many
// one-user transactions cause.
func TestSearchIndexAutomerge(t *testing.T) {
	ctx := t.Context()
	db := openSQLiteMemory(t, Options{})
	var v int
	if err := db.wdb.QueryRowContext(ctx, "SELECT v FROM rollcall_user_search_config WHERE k = 'automerge'").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != 8 {
		t.Errorf("automerge %d, want 8", v)
	}
	s := db.Tenant("t")
	const n = 150 // enough one-row segments for merges of two levels
	for i := range n {
		email := fmt.Sprintf("merge%03d@example.com", i)
		if _, err := s.CreateUser(ctx, identity.User{UserName: email, Email: email}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		term string
		want int
	}{{"merge", n}, {"merge1", 50}, {"e07", 10}, {"ge073", 1}, {"z", 0}, {"9@", 15}, {"m", n}} {
		p, err := s.ListUsers(ctx, identity.UserQuery{Search: c.term, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != c.want || len(p.Users) != c.want {
			t.Errorf("Search %q: total %d, %d users; want %d", c.term, p.Total, len(p.Users), c.want)
		}
	}
}
