package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A runtime tenant's OpenID issuer on a loopback address is not fetched:
// its admin entered the URL, and the host's network is not theirs to probe.
// With the range allowed (an IdP inside the host's network), it is.
func TestConnectionURLsGuarded(t *testing.T) {
	var hits atomic.Int32
	op := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r) // no discovery document: the login fails either way
	}))
	defer op.Close()
	for _, tc := range []struct {
		name  string
		vars  map[string]string
		fetch bool
	}{
		{"refused by default", nil, false},
		{"allowed", map[string]string{EnvConnectionAllow: "127.0.0.0/8"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits.Store(0)
			ts := newOperatorServerEnv(t, tc.vars)
			provider := map[string]any{"name": "corp", "kind": "oidc", "issuer": op.URL, "clientID": "cid",
				"clientSecret": "s3cret-value", "redirectURL": ts.URL + "/t/acme/oauth/corp/callback"}
			res := ts.call(t, "POST", "/api/v1/tenants", map[string]any{"id": "acme", "settings": map[string]any{"oauth": []any{provider}}})
			require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
			client := *ts.Client()
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			r, err := client.Get(ts.URL + "/t/acme/oauth/corp/login")
			require.NoError(t, err)
			r.Body.Close()
			assert.GreaterOrEqual(t, r.StatusCode, 500, "a login whose discovery fails")
			assert.Equal(t, tc.fetch, hits.Load() > 0, "discovery fetched: %d requests", hits.Load())
		})
	}
}
