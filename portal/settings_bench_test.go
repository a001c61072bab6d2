package portal_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/portal"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/sqlstore"
	"github.com/rollcall/rollcall/tenant"
)

// BenchmarkSettingsPages renders the SSO, SCIM and Google pages of a tenant
// on SQLite whose settings hold three SAML connections (IdP metadata parsed
// at each render) and 20 SCIM tokens, and reports the 95th percentile:
//
//	go test -run '^$' -bench SettingsPages -benchtime 200x ./portal
//
// These pages read the settings and tokens only, never the users.
func BenchmarkSettingsPages(b *testing.B) {
	ctx := identity.WithActor(context.Background(), "bench")
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	k, err := settings.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{3}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	store := db.Settings(k)
	rt, err := tenant.New(tenant.Config{Settings: store,
		Stores: func(id string) identity.Store { return db.Tenant(id) },
		Keys:   func(id string) identity.KeyStore { return db.Keys(id, nil) }})
	if err != nil {
		b.Fatal(err)
	}
	md, err := os.ReadFile("../saml/testdata/idp-metadata.xml")
	if err != nil {
		b.Fatal(err)
	}
	ep := endpoints{base: "https://app.example"}
	var st settings.Settings
	for _, name := range []string{"okta", "entra", "adfs"} {
		e := ep.SAML("acme", name)
		st.SAML = append(st.SAML, settings.SAML{Name: name, IdPMetadata: string(md), EntityID: e.EntityID, ACSURL: e.ACSURL, Preset: name})
	}
	if _, err := rt.Create(ctx, "acme", st); err != nil {
		b.Fatal(err)
	}
	for range 20 {
		if _, _, err := rt.IssueToken(ctx, "acme", "client", time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	dir, err := identity.New(db.Tenant("acme"), identity.Config{Tenant: "acme"})
	if err != nil {
		b.Fatal(err)
	}
	t := portal.Tenant{Directory: dir, Keys: db.Keys("acme", nil)}
	h, err := portal.New(portal.Config{
		Tenant:     func(*http.Request) (portal.Tenant, error) { return t, nil },
		SessionKey: bytes.Repeat([]byte{1}, 32),
		Settings:   portal.NewSettingsStore(rt, store),
		Endpoints:  ep,
	})
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := h.NewSetupLink(ctx, t, portal.Admin{Name: "bench", Sections: portal.AllSections})
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/setup", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(rec, req)
	cookie := rec.Result().Cookies()
	if len(cookie) != 1 {
		b.Fatalf("setup: %d %v", rec.Code, cookie)
	}
	for _, page := range []struct{ name, path string }{
		{"sso", "/sso"},
		{"sso-saml", "/sso/saml/okta"},
		{"scim", "/scim"},
		{"google", "/google"},
	} {
		b.Run(page.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, page.path, nil)
				req.AddCookie(cookie[0])
				start := time.Now()
				h.ServeHTTP(rec, req)
				took = append(took, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d\n%s", page.path, rec.Code, rec.Body)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}
