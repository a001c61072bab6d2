package tenant_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/sqlstore"
	"github.com/rollcall/rollcall/storage/sqlstore/sqlstoretest"
	"github.com/rollcall/rollcall/tenant"
)

// sqlRuntime is one process: its own DB handle and Runtime.
func sqlRuntime(t *testing.T, db *sqlstore.DB, clock identity.Clock) *tenant.Runtime {
	t.Helper()
	rt, err := tenant.New(tenant.Config{
		Settings: db.Settings(keyring(t)),
		Stores:   func(id string) identity.Store { return db.Tenant(id) },
		Keys:     func(id string) identity.KeyStore { return db.Keys(id, nil) },
		Clock:    clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// TestTwoProcesses: two handles on one database (SQLite file, PostgreSQL),
// each with its Runtime: a settings change made through one is in force in
// the other once PollInterval has passed.
func TestTwoProcesses(t *testing.T) {
	open := map[string]func(t *testing.T) (*sqlstore.DB, *sqlstore.DB){
		"sqlite": func(t *testing.T) (*sqlstore.DB, *sqlstore.DB) {
			path := filepath.Join(t.TempDir(), "rollcall.db")
			return openSQLite(t, path), openSQLite(t, path)
		},
		"postgres": func(t *testing.T) (*sqlstore.DB, *sqlstore.DB) {
			dsn := sqlstoretest.DSN(t)
			return openPostgres(t, dsn), openPostgres(t, dsn)
		},
	}
	for name, open := range open {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dbA, dbB := open(t)
			clock := identitytest.NewClock()
			a, b := sqlRuntime(t, dbA, clock), sqlRuntime(t, dbB, clock)
			if _, err := a.Create(ctx, "acme", settings.Settings{SCIM: &settings.SCIM{Enabled: true}}); err != nil {
				t.Fatal(err)
			}
			if src, err := b.Resolve(ctx, "acme"); err != nil || src.SCIM == nil {
				t.Fatalf("b: %v", err)
			}
			if _, err := a.Update(ctx, "acme", 1, func(s *settings.Settings) error { s.SCIM.Enabled = false; return nil }); err != nil {
				t.Fatal(err)
			}
			clock.Advance(tenant.DefaultPollInterval)
			src, err := b.Resolve(ctx, "acme")
			if err != nil || src.Version != 2 || src.SCIM != nil {
				t.Errorf("b after the interval: version %d, scim %v, %v", src.Version, src.SCIM != nil, err)
			}
			if err := a.Delete(ctx, "acme"); err != nil {
				t.Fatal(err)
			}
			clock.Advance(tenant.DefaultPollInterval)
			if _, err := b.Resolve(ctx, "acme"); err == nil {
				t.Error("b still serves a deleted tenant")
			}
		})
	}
}

func openSQLite(t *testing.T, path string) *sqlstore.DB {
	db, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t *testing.T, dsn string) *sqlstore.DB {
	db, err := sqlstore.OpenPostgres(context.Background(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
