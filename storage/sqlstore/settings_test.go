package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/storagetest"
)

func settingsBackend(db *DB, k *settings.Keyring) storagetest.SettingsBackend {
	return storagetest.SettingsBackend{
		Settings:    db.Settings(k),
		Open:        func(tenant string) identity.Store { return db.Tenant(tenant) },
		Keys:        func(tenant string) identity.KeyStore { return db.Keys(tenant, nil) },
		WithKeyring: func(k *settings.Keyring) settings.Store { return db.Settings(k) },
	}
}

func TestSettingsConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storagetest.RunSettings(t, func(t *testing.T, k *settings.Keyring, clock identity.Clock) storagetest.SettingsBackend {
				return settingsBackend(b.open(t, Options{Clock: clock}), k)
			})
		})
	}
}

// rowsOf returns every row of the table as text, for a look at what is
// stored.
func rowsOf(t *testing.T, db *DB, table string) []string {
	t.Helper()
	rows, err := db.wdb.QueryContext(context.Background(), "SELECT * FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, v := range vals {
			if raw, ok := v.([]byte); ok {
				v = string(raw)
			}
			fmt.Fprintf(&b, "%v|", v)
		}
		out = append(out, b.String())
	}
	return out
}

func allTables(t *testing.T, db *DB) []string {
	t.Helper()
	var tables []string
	err := db.runTx(context.Background(), txRead, func(c conn) error {
		var err error
		tables, err = tenantTables(context.Background(), c)
		return err
	})
	if err != nil || len(tables) < 9 {
		t.Fatalf("tenant tables %v, %v", tables, err)
	}
	return tables
}

// TestSettingsNoSecretInClear reads the raw rows of every table: no private
// key, client secret or service account key is there in clear.
func TestSettingsNoSecretInClear(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db := b.open(t, Options{})
			st := db.Settings(storagetest.SettingsKeyring(t))
			fix := storagetest.SettingsFixture()
			fix.SAML = []settings.SAML{{Name: "okta", IdPMetadataURL: "https://idp.example/md", EntityID: "https://sp.example", ACSURL: "https://sp.example/acs"}}
			if _, err := fix.EnsureKeys(db.now()); err != nil {
				t.Fatal(err)
			}
			pemKey := string(fix.SAML[0].Keys[0].Key.Value())
			if _, err := st.Create(ctx, "acme", fix); err != nil {
				t.Fatal(err)
			}
			tok, _, err := settings.IssueToken(ctx, st, "acme", "entra", db.now(), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			// The key's base64 body, a line of it, and the PEM header.
			keyLine := strings.Split(pemKey, "\n")[3]
			needles := append([]string{"PRIVATE KEY", keyLine, tok, strings.TrimPrefix(tok, settings.TokenPrefix)}, storagetest.SettingsSecrets...)
			found := 0
			for _, table := range allTables(t, db) {
				for _, row := range rowsOf(t, db, table) {
					found++
					for _, n := range needles {
						if strings.Contains(row, n) {
							t.Errorf("%s holds %.20q in clear", table, n)
						}
					}
				}
			}
			if found == 0 {
				t.Fatal("no rows read")
			}
		})
	}
}

// countRows counts the tenant's rows in every table with a tenant column.
func countRows(t *testing.T, db *DB, tenant string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range allTables(t, db) {
		var n int
		if err := db.on(db.wdb, nil).row(context.Background(), "SELECT COUNT(*) FROM "+table+" WHERE tenant = ?", tenant).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// TestDeleteTenantRows counts a tenant's rows in every table before and after
// DeleteTenant: none is left, and the other tenant keeps all of its.
func TestDeleteTenantRows(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t, Options{})
			be := settingsBackend(db, storagetest.SettingsKeyring(t))
			for _, tenant := range []string{"acme", "beta"} {
				storagetest.FillTenant(t, be, tenant)
				fillOtherTables(t, db, tenant)
			}
			before, beta := countRows(t, db, "acme"), countRows(t, db, "beta")
			for table, n := range before {
				if n == 0 {
					t.Errorf("before: acme has no row in %s: the test fills every table", table)
				}
			}
			if err := be.Settings.DeleteTenant(context.Background(), "acme"); err != nil {
				t.Fatal(err)
			}
			after := countRows(t, db, "acme")
			for table, n := range after {
				if n != 0 {
					t.Errorf("after: acme has %d rows in %s", n, table)
				}
			}
			if got := countRows(t, db, "beta"); fmt.Sprint(got) != fmt.Sprint(beta) {
				t.Errorf("beta's rows changed: %v -> %v", beta, got)
			}
			t.Logf("acme's rows before: %v", before)
		})
	}
}

// fillOtherTables writes a row of the tenant in the tables FillTenant does
// not know: a webhook endpoint and its delivery log, the diagnostics log, an
// email collision left by the canonical-email migration.
func fillOtherTables(t *testing.T, db *DB, tenant string) {
	t.Helper()
	ctx := context.Background()
	hooks := db.Webhooks(tenant)
	e, err := hooks.CreateEndpoint(ctx, identity.WebhookEndpoint{URL: "https://hooks.example/" + tenant, Secrets: []string{"whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}})
	if err != nil {
		t.Fatal(err)
	}
	d := identity.WebhookDelivery{EndpointID: e.ID, Seq: 1, Attempt: 1, Time: db.now(), Status: 200}
	if _, err := hooks.RecordDeliveries(ctx, e.ID, []identity.WebhookDelivery{d}, func(*identity.WebhookEndpoint) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Diagnostics(tenant).RecordAttempt(ctx, identity.Attempt{Time: db.now(), Connection: "scim", Step: identity.StepRequest, Outcome: identity.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.on(db.wdb, nil).exec(ctx, "INSERT INTO rollcall_email_collisions (tenant, user_id, holder_id, email_key, found) VALUES (?, 'u1', 'u2', 'x@example.com', 0)", tenant); err != nil {
		t.Fatal(err)
	}
}

// Deleting a tenant takes its users out of the search index too: a term
// only its users held finds nobody in another tenant afterwards, also once
// that tenant has new users (in SQLite the index's row keys are reused).
func TestDeleteTenantSearchIndex(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db := b.open(t, Options{})
			st := db.Settings(storagetest.SettingsKeyring(t))
			for _, tenant := range []string{"acme", "beta"} {
				if _, err := st.Create(ctx, tenant, settings.Settings{}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Tenant("acme").CreateUser(ctx, identity.User{UserName: "zzsecretname@x.example",
				Email: "zzsecretname@x.example", DisplayName: "Zz Secret", Active: true}); err != nil {
				t.Fatal(err)
			}
			if err := st.DeleteTenant(ctx, "acme"); err != nil {
				t.Fatal(err)
			}
			beta := db.Tenant("beta")
			for i := range 30 {
				e := fmt.Sprintf("user%02d@y.example", i)
				if _, err := beta.CreateUser(ctx, identity.User{UserName: e, Email: e, Active: true}); err != nil {
					t.Fatal(err)
				}
			}
			for _, q := range []string{"zzsecret", "zz", "secret"} {
				p, err := beta.ListUsers(ctx, identity.UserQuery{Search: q})
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Users) != 0 || p.Total != 0 {
					t.Errorf("search %q in beta after acme's deletion: %d users (total %d), want none", q, len(p.Users), p.Total)
				}
			}
			if p, err := beta.ListUsers(ctx, identity.UserQuery{Search: "user1"}); err != nil || p.Total != 10 {
				t.Errorf("search of beta's own users: %v, total %d, want 10", err, p.Total)
			}
			if c := countSearchIndex(t, db); db.dialect == SQLite && c != 30 {
				t.Errorf("the search index holds %d rows, want beta's 30", c)
			}
		})
	}
}

// countSearchIndex counts the rows of SQLite's user search index; -1 in
// PostgreSQL, whose index is on the users' table itself.
func countSearchIndex(t *testing.T, db *DB) int {
	t.Helper()
	if db.dialect != SQLite {
		return -1
	}
	var n int
	if err := db.wdb.QueryRowContext(context.Background(), "SELECT count(*) FROM rollcall_user_search").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
