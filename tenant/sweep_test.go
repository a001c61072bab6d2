package tenant_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/tenant"
)

// TestPruneDiagnosticsPerTenant: a tenant whose settings bound its
// diagnostics log to 100 entries is pruned to its newest 100, while another
// tenant, on the defaults, keeps every entry.
func TestPruneDiagnosticsPerTenant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	logs := map[string]*memory.DiagnosticsLog{"acme": memory.NewDiagnostics(e.clock), "beta": memory.NewDiagnostics(e.clock)}
	rt, err := tenant.New(tenant.Config{
		Settings:    e.store,
		Stores:      func(id string) identity.Store { return e.db.Tenant(id) },
		Keys:        func(id string) identity.KeyStore { return e.db.Keys(id, e.clock) },
		Clock:       e.clock,
		Diagnostics: func(id string) identity.DiagnosticsLog { return logs[id] },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Create(ctx, "acme", settings.Settings{Diagnostics: settings.Diagnostics{MaxEntries: 100}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Create(ctx, "beta", settings.Settings{}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"acme", "beta"} {
		for i := range 150 {
			if _, err := logs[id].RecordAttempt(ctx, identity.Attempt{Connection: "saml:okta", Step: "acs",
				Outcome: identity.OutcomeSuccess, Subject: fmt.Sprintf("u%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := rt.PruneDiagnostics(ctx)
	if err != nil || n != 50 {
		t.Fatalf("pruned %d (%v), want 50", n, err)
	}
	count := func(id string) (int, string) {
		as, err := logs[id].Attempts(ctx, identity.AttemptQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		oldest := ""
		if len(as) > 0 {
			oldest = as[len(as)-1].Subject
		}
		return len(as), oldest
	}
	if got, oldest := count("acme"); got != 100 || oldest != "u50" {
		t.Errorf("acme keeps %d entries, the oldest %q; want 100, from u50", got, oldest)
	}
	if got, _ := count("beta"); got != 150 {
		t.Errorf("beta keeps %d entries, want its 150 (default bounds)", got)
	}

	// The age bound: a day, for beta now.
	if _, err := rt.Update(ctx, "beta", 0, func(s *settings.Settings) error {
		s.Diagnostics.MaxAge = settings.Duration(24 * time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(25 * time.Hour)
	if _, err := logs["beta"].RecordAttempt(ctx, identity.Attempt{Connection: "saml:okta", Step: "acs",
		Outcome: identity.OutcomeFailure, Subject: "late"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.PruneDiagnostics(ctx); err != nil {
		t.Fatal(err)
	}
	if got, oldest := count("beta"); got != 1 || oldest != "late" {
		t.Errorf("beta keeps %d entries (oldest %q) after a day, want the 1 recorded since", got, oldest)
	}
	if got, _ := count("acme"); got != 100 {
		t.Errorf("acme keeps %d entries after a day, want 100 (its age bound is the default 7 days)", got)
	}
}

// idpCertificate returns a self-signed certificate, base64 DER, valid until
// notAfter.
func idpCertificate(t *testing.T, notAfter time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(notAfter.Unix()), Subject: pkix.Name{CommonName: "idp.example.test"},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// TestSweepCertificatesMetadataURL: the IdP certificate of metadata fetched
// from a URL (served here, expiring in 20 days) is warned of once, with the
// 30-day threshold, over two sweeps, as a certificate.expiring event; at 6
// days it is warned of again, with the 7-day threshold.
func TestSweepCertificatesMetadataURL(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	notAfter := e.clock.Now().Add(20 * 24 * time.Hour).Truncate(time.Second)
	md := regexp.MustCompile(`<ds:X509Certificate>[^<]+</ds:X509Certificate>`).ReplaceAllString(idpMetadata(t),
		"<ds:X509Certificate>"+idpCertificate(t, notAfter)+"</ds:X509Certificate>")
	var fetches atomic.Int32
	idp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		_, _ = io.WriteString(w, md)
	}))
	t.Cleanup(idp.Close)
	rt, err := tenant.New(tenant.Config{
		Settings:   e.store,
		Stores:     func(id string) identity.Store { return e.db.Tenant(id) },
		Keys:       func(id string) identity.KeyStore { return e.db.Keys(id, e.clock) },
		Clock:      e.clock,
		HTTPClient: idp.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	st := settings.Settings{SAML: []settings.SAML{{
		Name: "okta", IdPMetadataURL: idp.URL + "/metadata", EntityID: "https://sp.example/acme",
		ACSURL: "https://sp.example/saml/okta/acs",
	}}}
	if _, err := rt.Create(ctx, "acme", st); err != nil {
		t.Fatal(err)
	}
	idpEvents := func() []identity.Event {
		evs, err := e.db.Tenant("acme").Events(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []identity.Event
		for _, ev := range evs {
			if ev.Type == settings.CertificateExpiring && strings.HasPrefix(ev.Fields[0], "idp:") {
				out = append(out, ev)
			}
		}
		return out
	}
	for sweep := 1; sweep <= 2; sweep++ {
		n, err := rt.SweepCertificates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]int{1: 1, 2: 0}[sweep]; n != want {
			t.Errorf("sweep %d recorded %d warnings, want %d", sweep, n, want)
		}
		e.clock.Advance(24 * time.Hour)
	}
	evs := idpEvents()
	if len(evs) != 1 {
		t.Fatalf("%d IdP warnings after two sweeps, want 1: %+v", len(evs), evs)
	}
	want := []string{"idp:0", "notAfter=" + notAfter.UTC().Format(time.RFC3339), "within=30d"}
	if ev := evs[0]; ev.Source != "saml:okta" || !slices.Equal(ev.Fields, want) {
		t.Errorf("event %+v, want source saml:okta and fields %v", ev, want)
	}
	if fetches.Load() < 2 {
		t.Errorf("the metadata was fetched %d times, want once per sweep at least", fetches.Load())
	}

	e.clock.Set(notAfter.Add(-6 * 24 * time.Hour))
	if _, err := rt.SweepCertificates(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.SweepCertificates(ctx); err != nil {
		t.Fatal(err)
	}
	evs = idpEvents()
	if len(evs) != 2 || evs[1].Fields[2] != "within=7d" || evs[1].Fields[0] != "idp:0" {
		t.Fatalf("IdP warnings at 6 days: %+v, want a second one, within=7d", evs)
	}

	// Once expired, it is not warned of again at each sweep, nor once the
	// record of the warning could expire.
	for _, after := range []time.Duration{2, 10, 29, 31, 40, 400} {
		e.clock.Set(notAfter.Add(after * 24 * time.Hour))
		if _, err := e.db.Keys("acme", e.clock).DeleteExpired(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.SweepCertificates(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if evs = idpEvents(); len(evs) != 2 {
		t.Errorf("%d IdP warnings after the expiry, want still 2: %+v", len(evs), evs[2:])
	}
}
