package saml

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/rollcall/rollcall/identity"
)

func TestMetadata(t *testing.T) {
	e := newEnv(t, nil)
	b, err := e.conn.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	var md crewjam.EntityDescriptor
	if err := xml.Unmarshal(b, &md); err != nil {
		t.Fatal(err)
	}
	// validUntil is the certificate's expiry (2045), not two days ahead: an
	// IdP that imports the file once keeps the SP.
	cert := testConfig(t).Certificate
	if md.EntityID != spEntityID || len(md.SPSSODescriptors) != 1 || !md.ValidUntil.Equal(cert.NotAfter) || md.ValidUntil.Year() != 2045 {
		t.Fatalf("validUntil %s, metadata = %s", md.ValidUntil, b)
	}
	sp := md.SPSSODescriptors[0]
	if sp.ValidUntil == nil || !sp.ValidUntil.Equal(cert.NotAfter) {
		t.Errorf("SPSSODescriptor validUntil = %v", sp.ValidUntil)
	}
	if len(sp.AssertionConsumerServices) != 1 || sp.AssertionConsumerServices[0].Location != spACS ||
		sp.AssertionConsumerServices[0].Binding != crewjam.HTTPPostBinding {
		t.Errorf("ACS = %+v", sp.AssertionConsumerServices)
	}
	uses := map[string]bool{}
	for _, k := range sp.KeyDescriptors {
		uses[k.Use] = len(k.KeyInfo.X509Data.X509Certificates) == 1
	}
	if !uses["signing"] || !uses["encryption"] || sp.AuthnRequestsSigned == nil || !*sp.AuthnRequestsSigned {
		t.Errorf("keys = %v, AuthnRequestsSigned = %v", uses, sp.AuthnRequestsSigned)
	}
}

// metadataServer serves IdP metadata over TLS; body and status can change.
type metadataServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	delay  time.Duration
	hits   atomic.Int32
}

func newMetadataServer(t *testing.T, body []byte) *metadataServer {
	s := &metadataServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status, delay := s.body, s.status, s.delay
		s.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *metadataServer) set(body []byte, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status = body, status
}

func urlEnv(t *testing.T, s *metadataServer, edit func(*Config)) *env {
	t.Helper()
	cfg := testConfig(t)
	cfg.IdPMetadata = nil
	cfg.IdPMetadataURL = s.URL + "/metadata"
	cfg.MetadataRefresh = time.Hour
	if edit != nil {
		edit(&cfg)
	}
	e := newEnv(t, func(c *Config) { *c = cfg })
	// newEnv built the connection without the test server's client.
	conn, err := New(cfg, identity.Deps{HTTPClient: s.Client(), Clock: e.clock, Logger: e.conn.logger})
	if err != nil {
		t.Fatal(err)
	}
	e.conn = conn
	return e
}

func TestMetadataURL(t *testing.T) {
	s := newMetadataServer(t, readFile(t, "idp-metadata.xml"))
	e := urlEnv(t, s, nil)
	if s.hits.Load() != 0 {
		t.Fatal("New fetched: want first use")
	}
	if _, err := e.post(t, fixtureXML(t, "both-signed")); err != nil {
		t.Fatalf("%v\n%s", err, e.log)
	}
	if n := s.hits.Load(); n != 1 {
		t.Errorf("%d fetches", n)
	}
	// Still fresh: no fetch.
	if _, err := e.conn.Login(context.Background(), e.keys, ""); err != nil || s.hits.Load() != 1 {
		t.Errorf("login: %v, %d fetches", err, s.hits.Load())
	}

	// A failed refresh keeps the metadata, with a warning.
	s.set([]byte("oops"), http.StatusInternalServerError)
	e.clock.Advance(2 * time.Hour)
	if _, err := e.conn.Login(context.Background(), e.keys, ""); err != nil {
		t.Errorf("login with stale metadata: %v", err)
	}
	if s.hits.Load() != 2 || !strings.Contains(e.log.String(), "refresh failed") {
		t.Errorf("%d fetches; log:\n%s", s.hits.Load(), e.log)
	}

	// The IdP rolls its key over: after the refresh, its old signatures fail.
	s.set(readFile(t, "idp2-metadata.xml"), http.StatusOK)
	e.clock.Advance(2 * time.Hour)
	_, err := e.post(t, fixtureXML(t, "both-signed"))
	assertReason(t, e, err, ReasonSignature)

	// Metadata naming another entity is refused: the IdP is pinned.
	other := bytes.ReplaceAll(readFile(t, "idp-metadata.xml"), []byte(idpEntityID), []byte("https://evil.example.test/"))
	s.set(other, http.StatusOK)
	if err := e.conn.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Errorf("Refresh to another entity: %v", err)
	}
}

func TestMetadataURLLimits(t *testing.T) {
	s := newMetadataServer(t, readFile(t, "idp-metadata.xml"))
	e := urlEnv(t, s, func(c *Config) { c.MetadataMaxBytes = 100 })
	if err := e.conn.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "larger than 100") {
		t.Errorf("size limit: %v", err)
	}
	s.mu.Lock()
	s.delay = 2 * time.Second
	s.mu.Unlock()
	e = urlEnv(t, s, func(c *Config) { c.MetadataTimeout = 50 * time.Millisecond })
	start := time.Now()
	if _, err := e.conn.Login(context.Background(), e.keys, ""); err == nil || time.Since(start) > time.Second {
		t.Errorf("timeout: %v after %s", err, time.Since(start))
	}
}

func TestParseIdPMetadata(t *testing.T) {
	md := readFile(t, "idp-metadata.xml")
	body := bytes.TrimPrefix(bytes.TrimSpace(md), []byte(`<?xml version="1.0"?>`))
	set := []byte(`<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` + string(body) + `</EntitiesDescriptor>`)
	got, err := parseIdPMetadata(set, "")
	if err != nil || got.EntityID != idpEntityID {
		t.Errorf("EntitiesDescriptor: %v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"doctype":   append([]byte(`<!DOCTYPE x [<!ENTITY a "b">]>`), md...),
		"no sso":    bytes.ReplaceAll(md, []byte("SingleSignOnService"), []byte("ArtifactResolutionService")),
		"no certs":  bytes.ReplaceAll(md, []byte(`use="signing"`), []byte(`use="encryption"`)),
		"not xml":   []byte("{}"),
		"not an id": []byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`),
	} {
		cfg := testConfig(t)
		cfg.IdPMetadata = bad
		if _, err := New(cfg, identity.Deps{}); err == nil {
			t.Errorf("%s: New accepted the metadata", name)
		}
	}
}

// With no metadata yet and the IdP down, sign-in fails on the SP's side: a
// 500, reason "metadata" in the log.
func TestMetadataUnavailable(t *testing.T) {
	s := newMetadataServer(t, nil)
	s.set([]byte("down"), http.StatusServiceUnavailable)
	e := urlEnv(t, s, nil)
	_, err := e.post(t, fixtureXML(t, "both-signed"))
	if err == nil || errors.Is(err, ErrRejected) || status(err) != http.StatusInternalServerError {
		t.Errorf("err = %v (status %d)", err, status(err))
	}
	if !strings.Contains(e.log.String(), "reason=metadata") {
		t.Errorf("log:\n%s", e.log)
	}
}
