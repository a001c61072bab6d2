package saml

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// Health lists the IdP's signing certificate (from the metadata) and the
// SP's own, with their expiry (both test certificates end in 2045).
func TestHealthCertificates(t *testing.T) {
	e := newEnv(t, nil)
	h := e.conn.Health()
	if !h.MetadataLoaded.Equal(received) || h.RefreshError != "" || len(h.Certificates) != 2 {
		t.Fatalf("health %+v", h)
	}
	owners := map[string]Certificate{}
	for _, c := range h.Certificates {
		owners[c.Owner] = c
	}
	if idp := owners[OwnerIdP]; idp.Subject != "CN=idp.example.test" || idp.NotAfter.Year() != 2045 {
		t.Errorf("IdP certificate %+v", idp)
	}
	if sp := owners[OwnerSP]; sp.Subject != "CN=sp.example.test" || !sp.NotAfter.Equal(testConfig(t).Certificate.NotAfter) {
		t.Errorf("SP certificate %+v", sp)
	}
}

// Warnings come 30 and 7 days ahead and at expiry, once each per
// certificate, and go to the diagnostics log.
func TestCheckCertificates(t *testing.T) {
	e := newEnv(t, nil)
	log := memory.NewDiagnostics(e.clock)
	e.withDiagnostics(t, log, nil)
	notAfter := testConfig(t).Certificate.NotAfter
	ctx := context.Background()
	check := func(wantWithin time.Duration, wantN int) {
		t.Helper()
		ws, err := e.conn.CheckCertificates(ctx, e.keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) != wantN {
			t.Fatalf("at %s: %d warnings %+v, want %d", e.clock.Now(), len(ws), ws, wantN)
		}
		for _, w := range ws {
			if w.Within != wantWithin {
				t.Errorf("warning %+v, want within %s", w, wantWithin)
			}
		}
	}
	e.clock.Set(notAfter.Add(-40 * 24 * time.Hour))
	check(0, 0)
	e.clock.Set(notAfter.Add(-20 * 24 * time.Hour))
	check(30*24*time.Hour, 2) // the IdP's and the SP's
	e.clock.Advance(24 * time.Hour)
	check(0, 0) // said already
	e.clock.Set(notAfter.Add(-5 * 24 * time.Hour))
	check(7*24*time.Hour, 2)
	e.clock.Set(notAfter.Add(time.Hour))
	check(0, 2) // expired
	check(0, 0)
	// Still said once, not again, until well past the end of the
	// warnings: the record of it outlives them.
	e.clock.Set(notAfter.Add(WarnAfterExpiry - time.Hour))
	check(0, 0)
	e.clock.Set(notAfter.Add(WarnAfterExpiry + time.Hour))
	check(0, 0)
	e.clock.Set(notAfter.Add(WarnAfterExpiry + 23*time.Hour))
	check(0, 0)

	as, err := log.Attempts(ctx, identity.AttemptQuery{Connection: "saml:acme"})
	if err != nil || len(as) != 6 {
		t.Fatalf("%d diagnostics entries, %v", len(as), err)
	}
	for _, a := range as {
		if a.Reason != ReasonCertificateExpiring || a.Step != "certificate" || a.Detail == "" {
			t.Errorf("entry %+v", a)
		}
	}
}

// A failed refresh keeps the metadata and says so in Health and in the
// diagnostics log; the next success clears it. The last success and failure
// of the connection are read from the log.
func TestHealthRefreshFailure(t *testing.T) {
	s := newMetadataServer(t, readFile(t, "idp-metadata.xml"))
	e := urlEnv(t, s, nil)
	log := memory.NewDiagnostics(e.clock)
	cfg := e.conn.cfg
	conn, err := New(cfg, identity.Deps{HTTPClient: s.Client(), Clock: e.clock, Logger: e.conn.logger, Diagnostics: log})
	if err != nil {
		t.Fatal(err)
	}
	e.conn = conn
	if _, err := e.post(t, fixtureXML(t, "both-signed")); err != nil {
		t.Fatal(err)
	}
	loaded := e.conn.Health().MetadataLoaded

	s.set([]byte("down"), http.StatusServiceUnavailable)
	e.clock.Advance(2 * time.Hour)
	if _, err := e.conn.Login(context.Background(), e.keys, ""); err != nil {
		t.Fatalf("login with the old metadata: %v", err)
	}
	h := e.conn.Health()
	if !h.MetadataLoaded.Equal(loaded) || !h.RefreshFailed.Equal(e.clock.Now()) || h.RefreshError == "" || len(h.Certificates) != 2 {
		t.Errorf("after a failed refresh: %+v", h)
	}
	success, failure, err := identity.LastAttempts(context.Background(), log, "saml:acme")
	if err != nil || success == nil || failure == nil || failure.Step != "metadata" || failure.Reason != ReasonMetadata || success.Step != identity.StepACS {
		t.Errorf("last success %+v, failure %+v, %v", success, failure, err)
	}

	s.set(readFile(t, "idp-metadata.xml"), http.StatusOK)
	if err := e.conn.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h := e.conn.Health(); h.RefreshError != "" || !h.RefreshFailed.IsZero() || !h.MetadataLoaded.Equal(e.clock.Now()) {
		t.Errorf("after a refresh: %+v", h)
	}
}
