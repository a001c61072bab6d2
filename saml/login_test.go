package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"
)

func TestLogin(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	lr, err := e.conn.Login(ctx, e.keys, "/desks?floor=2")
	if err != nil {
		t.Fatal(err)
	}
	u := lr.URL
	if u.Scheme != "https" || u.Host != "idp.example.test" || u.Path != "/sso" {
		t.Errorf("URL = %s", u)
	}
	q := u.Query()
	if q.Get("RelayState") != "/desks?floor=2" {
		t.Errorf("RelayState = %q", q.Get("RelayState"))
	}
	req := inflateRequest(t, q.Get("SAMLRequest"))
	if req.ID != lr.RequestID || len(lr.Binding) < 20 {
		t.Errorf("ID %q, RequestID %q, binding %q", req.ID, lr.RequestID, lr.Binding)
	}
	if req.Destination != "https://idp.example.test/sso" || req.AssertionConsumerServiceURL != spACS ||
		req.ProtocolBinding != crewjam.HTTPPostBinding || req.Issuer.Value != spEntityID {
		t.Errorf("request = %+v", req)
	}
	if !req.IssueInstant.Equal(received) {
		t.Errorf("IssueInstant = %s, want the connection's clock %s", req.IssueInstant, received)
	}
	if req.NameIDPolicy == nil || (req.NameIDPolicy.Format != nil && *req.NameIDPolicy.Format != "") {
		t.Errorf("NameIDPolicy = %+v, want unspecified (no Format)", req.NameIDPolicy)
	}

	// The redirect is signed with the SP key (RSA-SHA256 over the raw query).
	raw := u.RawQuery
	i := strings.Index(raw, "&Signature=")
	if q.Get("SigAlg") != "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" || i < 0 {
		t.Fatalf("query = %s", raw)
	}
	sig, _ := base64.StdEncoding.DecodeString(q.Get("Signature"))
	sum := sha256.Sum256([]byte(raw[:i]))
	cfg := testConfig(t)
	if err := rsa.VerifyPKCS1v15(cfg.Certificate.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig); err != nil {
		t.Errorf("signature: %v", err)
	}

	// The request is pending, with its RelayState and binding, once; it
	// expires.
	stored, err := e.keys.Take(ctx, e.conn.requestKey(req.ID))
	if bound, relay := checkPending(stored, lr.Binding); err != nil || !bound || relay != "/desks?floor=2" {
		t.Errorf("pending = %v %q, %v", bound, relay, err)
	}
	if bound, _ := checkPending(stored, "another browser"); bound {
		t.Error("another binding matched")
	}
	lr, _ = e.conn.Login(ctx, e.keys, "")
	req = inflateRequest(t, lr.URL.Query().Get("SAMLRequest"))
	e.clock.Advance(DefaultRequestTTL)
	if _, err := e.keys.Take(ctx, e.conn.requestKey(req.ID)); err == nil {
		t.Error("the pending request outlived RequestTTL")
	}

	if _, err := e.conn.Login(ctx, e.keys, "https://evil.example.test/"); !errors.Is(err, ErrRelayState) {
		t.Errorf("absolute RelayState: %v", err)
	}
}

func TestLoginUnsignedRequests(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.UnsignedRequests = true
		c.UnboundRequests = true
		c.NameIDFormat = NameIDPersistent
	})
	lr, err := e.conn.Login(context.Background(), e.keys, "")
	if err != nil {
		t.Fatal(err)
	}
	if lr.Binding != "" {
		t.Errorf("binding %q with UnboundRequests", lr.Binding)
	}
	q := lr.URL.Query()
	if q.Has("Signature") || q.Has("SigAlg") || q.Has("RelayState") {
		t.Errorf("query = %v", q)
	}
	req := inflateRequest(t, q.Get("SAMLRequest"))
	if *req.NameIDPolicy.Format != NameIDPersistent {
		t.Errorf("NameIDPolicy = %q", *req.NameIDPolicy.Format)
	}
}

func TestSafeRelayState(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"/", true},
		{"/desks", true},
		{"/desks?floor=2#map", true},
		{"/a/b%2F%2Fc", true},
		{"", false},
		{"desks", false},
		{"//evil.example.test", false},
		{"/\\evil.example.test", false},
		{"/desks\\..", false},
		{"https://evil.example.test/", false},
		{"javascript:alert(1)", false},
		{"/\t/evil.example.test", false},
		{"/\n", false},
		{"/" + strings.Repeat("a", MaxRelayState), false},
		{" /desks", false},
	} {
		if got := SafeRelayState(tc.in); (got != "") != tc.ok {
			t.Errorf("SafeRelayState(%q) = %q, want ok=%v", tc.in, got, tc.ok)
		}
	}
}

func inflateRequest(t *testing.T, s string) crewjam.AuthnRequest {
	t.Helper()
	compressed, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(compressed)))
	if err != nil {
		t.Fatal(err)
	}
	var req crewjam.AuthnRequest
	if err := xml.Unmarshal(raw, &req); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	return req
}
