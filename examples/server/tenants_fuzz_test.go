package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzAdminToken: no bearer token but one minted opens a tenant's API, and
// checking never panics.
func FuzzAdminToken(f *testing.F) {
	fs := newFlowState()
	good := fs.mintAdminToken("acme", time.Now().Add(time.Hour))
	f.Add(good)
	f.Add(adminTokenPrefix)
	f.Add(adminTokenPrefix + "AAAA")
	f.Add(good[:len(good)-1] + "A")
	f.Fuzz(func(t *testing.T, token string) {
		if fs.checkAdminToken("acme", token, time.Now()) && token != good {
			t.Fatalf("a token never minted opens the API: %q", token)
		}
		if fs.checkAdminToken("beta", token, time.Now()) {
			t.Fatalf("a token of beta opens the API: %q", token)
		}
	})
}

// FuzzHostTenant: a Host header names a tenant only as one label under
// localhost or the base URL's host.
func FuzzHostTenant(f *testing.F) {
	s := &server{cfg: Config{BaseURL: "https://desks.example"}}
	for _, h := range []string{"acme.localhost", "acme.localhost:8080", "acme.desks.example", "desks.example", "127.0.0.1:8080", "a.b.localhost", "[::1]:80", ".localhost", "ACME.LOCALHOST.", "a/b.localhost", "a%2e.localhost"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, host string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		id := s.hostTenant(r)
		if id == "" {
			return
		}
		if strings.ContainsAny(id, ".:/[]") {
			t.Fatalf("host %q names tenant %q", host, id)
		}
		h := strings.ToLower(host)
		if !strings.Contains(h, id+".localhost") && !strings.Contains(h, id+".desks.example") {
			t.Fatalf("host %q names tenant %q, not a label under the base", host, id)
		}
	})
}
