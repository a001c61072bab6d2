package sqlstore

import (
	"bytes"
	"database/sql"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMigrateCanonicalEmails builds a database at schema version 2 whose
// users are apart under the old email comparison (trimmed, lower-cased) and
// collide under the canonical one, then opens it: the migration does not
// fail, keeps the collisions apart, reports them, and the canonical keys
// then hold.
func TestMigrateCanonicalEmails(t *testing.T) {
	for _, b := range rawBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			raw := b.open(t)
			oldSchema(t, raw, b.dialect)
			users := []struct {
				tenant, id, email string
				active            bool
			}{
				{"t", "01", "j@müller.de", true},
				{"t", "02", "j@xn--mller-kva.de", true}, // its old key is the canonical one: it keeps it
				{"t", "03", "ＡＤＡ@example.com", true},
				{"t", "04", "ada@example.com", false}, // inactive: no collision
				{"t", "05", "Bob@ＥＸＡＭＰＬＥ.com", true},
				{"t", "06", "bob@ｅｘａｍｐｌｅ.ｃｏｍ", true}, // neither had it: the smaller ID, 05, keeps it
				{"t2", "07", "j@MÜLLER.de", true},    // another tenant
			}
			c := conn{d: b.dialect, q: raw}
			for _, u := range users {
				args := append([]any{u.tenant, u.id}, userValues(identity.User{
					ID: u.id, UserName: u.id, Email: u.email, Active: u.active, Version: 1,
				})...)
				args[5] = strings.ToLower(strings.TrimSpace(u.email)) // email_key as version 2 computed it
				if _, err := c.exec(ctx, "INSERT INTO rollcall_users (tenant, id, "+userWriteCols+") VALUES (?, ?, "+
					placeholders(userWriteCount)+")", args...); err != nil {
					t.Fatalf("insert %s: %v", u.id, err)
				}
			}

			var logs syncBuffer
			db, err := New(ctx, raw, b.dialect, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("New on a database with colliding emails: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			s := db.Tenant("t")
			got, err := s.EmailCollisions(ctx)
			if err != nil {
				t.Fatalf("EmailCollisions: %v", err)
			}
			want := []EmailCollision{
				{UserID: "01", HolderID: "02", EmailKey: "j@xn--mller-kva.de"},
				{UserID: "06", HolderID: "05", EmailKey: "bob@example.com"},
			}
			for i := range got {
				got[i].Found = 0
			}
			if !slices.Equal(got, want) {
				t.Errorf("EmailCollisions = %+v, want %+v", got, want)
			}
			if n := strings.Count(logs.String(), "share an email"); n != 2 {
				t.Errorf("%d collisions logged, want 2:\n%s", n, logs.String())
			}
			if strings.Contains(logs.String(), "müller") || strings.Contains(logs.String(), "bob@") {
				t.Errorf("the log names an address:\n%s", logs.String())
			}
			if other, err := db.Tenant("t2").EmailCollisions(ctx); err != nil || len(other) != 0 {
				t.Errorf("EmailCollisions of the other tenant = %v, %v; want none", other, err)
			}

			// The canonical keys hold: the holders are found in any form.
			for email, id := range map[string]string{"J@Müller.DE": "02", "ada@ＥＸＡＭＰＬＥ.com": "03", "BOB@example.com": "05"} {
				if u, err := s.UserByEmail(ctx, email); err != nil || u.ID != id {
					t.Errorf("UserByEmail(%q) = %s, %v; want %s", email, u.ID, err, id)
				}
			}
			_, err = s.CreateUser(ctx, identity.User{Email: "j@xn--MLLER-kva.de", UserName: "new", Active: true})
			var ce *identity.ConflictError
			if !errors.As(err, &ce) || ce.Field != "email" {
				t.Errorf("CreateUser with a migrated address: %v, want a conflict on email", err)
			}
			// A change that keeps both active is a conflict until resolved;
			// deactivating the user resolves it.
			_, err = s.UpdateUser(ctx, "01", func(u *identity.User) error { u.DisplayName = "J"; return nil })
			if !errors.As(err, &ce) || ce.Field != "email" {
				t.Errorf("UpdateUser of a colliding user: %v, want a conflict on email", err)
			}
			if _, err := s.UpdateUser(ctx, "01", func(u *identity.User) error { u.Active = false; return nil }); err != nil {
				t.Fatalf("deactivating a colliding user: %v", err)
			}
			if got, err := s.EmailCollisions(ctx); err != nil || len(got) != 1 || got[0].UserID != "06" {
				t.Errorf("EmailCollisions after resolving one = %+v, %v; want 06 only", got, err)
			}
			if all, err := s.UsersByEmail(ctx, "j@müller.de"); err != nil || len(all) != 2 {
				t.Errorf("UsersByEmail after resolving = %d users, %v; want 01 and 02", len(all), err)
			}
		})
	}
}

// oldSchema migrates raw to schema version 2 as that release did.
func oldSchema(t *testing.T, raw *sql.DB, d Dialect) {
	t.Helper()
	ms, err := loadMigrations(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("CREATE TABLE rollcall_schema (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		if _, err := raw.Exec(m.sql); err != nil {
			t.Fatalf("migration %d: %v", m.version, err)
		}
		if _, err := raw.Exec(d.rebind("INSERT INTO rollcall_schema (version, name, applied) VALUES (?, ?, 0)"), m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
}
