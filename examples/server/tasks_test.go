package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/webhook"
)

// newBackgroundOn returns the background work of a server with the operator
// API, on a private in-memory SQLite database, and its server.
func newBackgroundOn(t *testing.T, vars map[string]string) (*background, *server) {
	t.Helper()
	return newBackgroundWith(t, "", vars)
}

// newBackgroundWith is newBackgroundOn with a configuration file of that
// content (none if empty).
func newBackgroundWith(t *testing.T, content string, vars map[string]string) (*background, *server) {
	t.Helper()
	path := ""
	if content != "" {
		path = writeConfig(t, content)
	}
	cfg, err := loadConfig(path, env(map[string]string{EnvAdminToken: testToken}))
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	where := storeFlags{sqlite: ":memory:"}
	stores, closeStore, err := openStore(t.Context(), where, logger)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, closeStore()) })
	s, err := newServer(cfg, stores, logger)
	require.NoError(t, err)
	op, err := openOperator(s, stores.db, where, env(vars))
	require.NoError(t, err)
	b, err := newBackground(s, op, env(vars))
	require.NoError(t, err)
	return b, s
}

// TestSweepUnderLease: a sweep whose lease another replica holds is
// skipped on this one; once the lease is free it runs.
func TestSweepUnderLease(t *testing.T) {
	b, s := newBackgroundOn(t, map[string]string{EnvReplica: "A"})
	_, err := b.o.rt.Create(t.Context(), "acme", settings.Settings{})
	require.NoError(t, err)
	expired := func(tenant string) {
		_, err := s.stores.keys(tenant).SetIfAbsent(t.Context(), "oauth:state:x", []byte("x"), time.Now().Add(-time.Minute))
		require.NoError(t, err)
	}
	expired("acme")
	expired(s.cfg.Tenant)
	_, err = s.stores.keys(s.cfg.Tenant).SetIfAbsent(t.Context(), "test:live", []byte("y"), time.Now().Add(time.Hour))
	require.NoError(t, err)

	_, ok, err := b.leases.Acquire(t.Context(), jobKeySweep, "B", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	b.sweep(t.Context(), jobKeySweep)
	n, err := s.stores.keys("acme").DeleteExpired(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n, "B holds the sweep: A does not run it")
	expired("acme")

	require.NoError(t, b.leases.Release(t.Context(), jobKeySweep, "B"))
	b.sweep(t.Context(), jobKeySweep)
	for _, tenant := range []string{"acme", s.cfg.Tenant} {
		n, err = s.stores.keys(tenant).DeleteExpired(t.Context())
		require.NoError(t, err)
		assert.Zero(t, n, "the sweep ran on A: %s", tenant)
	}
	v, err := s.stores.keys(s.cfg.Tenant).Take(t.Context(), "test:live")
	require.NoError(t, err, "a live key stays")
	assert.Equal(t, "y", string(v))
	_, err = b.leases.Lease(t.Context(), jobKeySweep)
	assert.ErrorIs(t, err, identity.ErrNotFound, "released when done")

	// The diagnostics logs are pruned to their bounds.
	diag := s.stores.db.Diagnostics("acme")
	_, err = diag.RecordAttempt(t.Context(), identity.Attempt{Time: time.Now().Add(-30 * 24 * time.Hour), Connection: "saml:okta"})
	require.NoError(t, err)
	_, err = diag.RecordAttempt(t.Context(), identity.Attempt{Connection: "saml:okta"})
	require.NoError(t, err)
	b.sweep(t.Context(), jobDiagSweep)
	left, err := diag.Attempts(t.Context(), identity.AttemptQuery{})
	require.NoError(t, err)
	assert.Len(t, left, 1, "the month-old attempt is gone")
}

// TestGoogleDueHeld: while the interval's lease of a tenant is held by
// another replica, this one waits until it expires and does not sync.
func TestGoogleDueHeld(t *testing.T) {
	b, _ := newBackgroundOn(t, map[string]string{EnvReplica: "A"})
	_, ok, err := b.leases.Acquire(t.Context(), googleNextJob("acme"), "B", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	calls := 0
	wait := b.googleDue(t.Context(), "acme", func(context.Context, string) (*googlesync.Syncer, *identity.Directory, time.Duration, error) {
		calls++
		return nil, nil, time.Hour, nil
	})
	assert.Zero(t, calls, "not due: no sync")
	assert.InDelta(t, time.Minute.Seconds(), wait.Seconds(), 2)
}

// TestBackgroundEnvErrors: a bad option is an error naming its variable.
func TestBackgroundEnvErrors(t *testing.T) {
	for name, v := range map[string]string{EnvLeaseTTL: "soon", EnvTenantScan: "-1s", EnvWebhookAllow: "127.0.0.1"} {
		err := run(t.Context(), []string{"-db", ":memory:", "-addr", "127.0.0.1:0"},
			env(map[string]string{EnvAdminToken: testToken, name: v}), &syncBuffer{}, nil)
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), name), "%s: %v", name, err)
	}
}

// TestSealedWebhooks: the store keeps the secrets sealed, bound to the
// tenant: a row copied to another tenant does not open.
func TestSealedWebhooks(t *testing.T) {
	b, s := newBackgroundOn(t, nil)
	h := b.hooks
	require.NotNil(t, h)
	secret := webhook.NewSecret()
	ep, err := h.store("acme").CreateEndpoint(t.Context(), identity.WebhookEndpoint{URL: "https://hooks.example/a", Secrets: []string{secret}})
	require.NoError(t, err)
	assert.Equal(t, []string{secret}, ep.Secrets)

	raw, err := s.stores.db.Webhooks("acme").Endpoint(t.Context(), ep.ID)
	require.NoError(t, err)
	require.Len(t, raw.Secrets, 1)
	assert.NotEqual(t, secret, raw.Secrets[0])
	assert.True(t, strings.HasPrefix(raw.Secrets[0], "v1:"))

	// A change that leaves the secrets alone keeps their sealed values.
	_, err = h.store("acme").UpdateEndpoint(t.Context(), ep.ID, func(e *identity.WebhookEndpoint) error {
		e.URL = "https://hooks.example/b"
		return nil
	})
	require.NoError(t, err)
	again, err := s.stores.db.Webhooks("acme").Endpoint(t.Context(), ep.ID)
	require.NoError(t, err)
	assert.Equal(t, raw.Secrets, again.Secrets)

	// Copied to another tenant: it does not open there.
	raw.ID = ""
	copied, err := s.stores.db.Webhooks("globex").CreateEndpoint(t.Context(), raw)
	require.NoError(t, err)
	_, err = h.store("globex").Endpoint(t.Context(), copied.ID)
	assert.ErrorIs(t, err, settings.ErrSealed)
	assert.NotContains(t, err.Error(), secret)
}

// TestDiagnosticsBoundsPerTenant: the diagnostics sweep prunes each runtime
// tenant's log to the bounds of its settings: a tenant bounded to 100
// entries keeps its newest 100, another on the defaults keeps all of its
// 150. The bounds are checked by field through the operator API.
func TestDiagnosticsBoundsPerTenant(t *testing.T) {
	ts := newOperatorServer(t)
	res := ts.call(t, "POST", "/api/v1/tenants", map[string]any{"id": "bad", "settings": map[string]any{
		"diagnostics": map[string]any{"maxAge": "1s", "maxEntries": -1},
	}})
	require.Equal(t, http.StatusUnprocessableEntity, res.status, "%s", res.body)
	assert.ElementsMatch(t, []string{"diagnostics.maxAge", "diagnostics.maxEntries"}, decode[apiError](t, res).fieldNames())

	b, s := newBackgroundOn(t, nil)
	for id, st := range map[string]settings.Settings{
		"acme": {Diagnostics: settings.Diagnostics{MaxEntries: 100}},
		"beta": {},
	} {
		_, err := b.o.rt.Create(t.Context(), id, st)
		require.NoError(t, err)
		for range 150 {
			_, err := s.stores.db.Diagnostics(id).RecordAttempt(t.Context(), identity.Attempt{Connection: "scim", Step: "request"})
			require.NoError(t, err)
		}
	}
	// The configured tenant, once it has settings, keeps 30 days rather
	// than the default 7; the ten-day-old entry stays.
	_, err := b.o.rt.Create(t.Context(), s.cfg.Tenant, settings.Settings{Diagnostics: settings.Diagnostics{MaxAge: settings.Duration(30 * 24 * time.Hour)}})
	require.NoError(t, err)
	for _, age := range []time.Duration{10, 40} {
		_, err := s.stores.db.Diagnostics(s.cfg.Tenant).RecordAttempt(t.Context(), identity.Attempt{Connection: "scim", Step: "request",
			Time: time.Now().Add(-age * 24 * time.Hour)})
		require.NoError(t, err)
	}
	b.sweep(t.Context(), jobDiagSweep)
	for id, want := range map[string]int{"acme": 100, "beta": 150, s.cfg.Tenant: 1} {
		left, err := s.stores.db.Diagnostics(id).Attempts(t.Context(), identity.AttemptQuery{Limit: 1000})
		require.NoError(t, err)
		assert.Len(t, left, want, id)
	}
}

// selfSigned returns a self-signed certificate valid until notAfter and its
// key: RSA, as an SP's key must be.
func selfSigned(t *testing.T, cn string, notAfter time.Time) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(notAfter.UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

// TestSweepConfiguredCertificates: the certificate sweep covers the SAML
// connections of the configuration file too. Its IdP certificate (from the
// inline metadata) expires in 20 days, its SP certificate (certFile) in 5:
// over two sweeps, each is warned of once, as a certificate.expiring event
// of the configured tenant, with the 30-day and the 7-day threshold.
func TestSweepConfiguredCertificates(t *testing.T) {
	dir := t.TempDir()
	idpNotAfter := time.Now().Add(20 * 24 * time.Hour).Truncate(time.Second)
	idpCert, _ := selfSigned(t, "idp.example.test", idpNotAfter)
	md := regexp.MustCompile(`<ds:X509Certificate>[^<]+</ds:X509Certificate>`).ReplaceAllString(readTestdata(t, "idp-metadata.xml"),
		"<ds:X509Certificate>"+base64.StdEncoding.EncodeToString(idpCert.Raw)+"</ds:X509Certificate>")
	spNotAfter := time.Now().Add(5 * 24 * time.Hour).Truncate(time.Second)
	spCert, spKey := selfSigned(t, "sp.example.test", spNotAfter)
	certFile, keyFile := filepath.Join(dir, "sp.crt"), filepath.Join(dir, "sp.key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: spCert.Raw}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(spKey)}), 0o600))
	mdJSON, err := json.Marshal(md)
	require.NoError(t, err)
	b, s := newBackgroundWith(t, fmt.Sprintf(`{"baseURL": "https://desks.example", "saml": {"entra": {
		"idpMetadata": %s, "certFile": %q, "keyFile": %q}}}`, mdJSON, certFile, keyFile), nil)

	b.sweep(t.Context(), jobCertSweep)
	b.sweep(t.Context(), jobCertSweep)
	log, ok := s.stores.store(s.cfg.Tenant).(identity.EventLog)
	require.True(t, ok, "the configured tenant's store keeps events")
	evs, err := log.Events(t.Context(), 0, 1000)
	require.NoError(t, err)
	var got [][]string
	for _, ev := range evs {
		if ev.Type == settings.CertificateExpiring {
			assert.Equal(t, "saml:entra", ev.Source)
			assert.Equal(t, s.cfg.Tenant, ev.Tenant)
			got = append(got, ev.Fields)
		}
	}
	assert.ElementsMatch(t, [][]string{
		{"idp:0", "notAfter=" + idpNotAfter.UTC().Format(time.RFC3339), "within=30d"},
		{"sp:0", "notAfter=" + spNotAfter.UTC().Format(time.RFC3339), "within=7d"},
	}, got, "one event each over two sweeps")
}
