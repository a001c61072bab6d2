package scim_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/scim"
)

// localIssuer is an OAuth issuer on 127.0.0.1 that publishes one RSA key
// and mints tokens with it, as Entra ID does for the client credentials
// grant.
type localIssuer struct {
	key     *rsa.PrivateKey
	jwksURL string
	fetches atomic.Int64
}

const (
	entraIssuer   = "https://sts.windows.net/11111111-1111-1111-1111-111111111111/"
	entraAudience = "api://rollcall-scim"
	entraApp      = "cccccccc-0000-0000-0000-000000000001"
)

func newLocalIssuer(t *testing.T) *localIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	li := &localIssuer{key: key}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		li.fetches.Add(1)
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	li.jwksURL = srv.URL + "/discovery/v2.0/keys"
	return li
}

// mint signs claims with key (the issuer's unless another is given) and
// the algorithm alg.
func mint(t *testing.T, key any, alg jose.SignatureAlgorithm, claims map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestEntraClientCredentials(t *testing.T) {
	li := newLocalIssuer(t)
	clock := identitytest.NewClock()
	iss, err := scim.NewIssuer(scim.IssuerConfig{Issuer: entraIssuer, JWKSURL: li.jwksURL, Audience: entraAudience, AppIDs: []string{entraApp}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *scim.Config, _ *identity.Config) {})
	dir := e.dir
	h, err := scim.New(scim.Config{
		Resolve: identity.Fixed(identity.Tenant{Directory: dir}),
		Credentials: func(*http.Request, identity.Tenant) (scim.Credentials, error) {
			return scim.Credentials{TokenHashes: [][]byte{scim.TokenHash(testToken)}, Issuers: []*scim.Issuer{iss}}, nil
		},
	}, identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", h))
	e.h = mux

	now := clock.Now()
	claims := func(change func(map[string]any)) map[string]any {
		c := map[string]any{"iss": entraIssuer, "aud": entraAudience, "appid": entraApp, "tid": "11111111-1111-1111-1111-111111111111",
			"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(), "sub": "sp-object-id"}
		if change != nil {
			change(c)
		}
		return c
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name  string
		token string
		want  int
	}{
		{"v1 token with appid", mint(t, li.key, jose.RS256, claims(nil)), 200},
		{"v2 token with azp", mint(t, li.key, jose.RS256, claims(func(c map[string]any) {
			delete(c, "appid")
			c["azp"] = entraApp
			c["aud"] = []string{"x", entraAudience}
		})), 200},
		{"the static token still", testToken, 200},
		{"another issuer", mint(t, li.key, jose.RS256, claims(func(c map[string]any) { c["iss"] = "https://sts.windows.net/other/" })), 401},
		{"another audience", mint(t, li.key, jose.RS256, claims(func(c map[string]any) { c["aud"] = "api://other" })), 401},
		{"expired", mint(t, li.key, jose.RS256, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })), 401},
		{"not valid yet", mint(t, li.key, jose.RS256, claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })), 401},
		{"another application", mint(t, li.key, jose.RS256, claims(func(c map[string]any) { c["appid"] = "dddddddd-0000-0000-0000-000000000002" })), 401},
		{"no application", mint(t, li.key, jose.RS256, claims(func(c map[string]any) { delete(c, "appid") })), 401},
		{"signed by another key", mint(t, other, jose.RS256, claims(nil)), 401},
		{"HMAC with the public key's bytes", mint(t, []byte("0123456789abcdef0123456789abcdef"), jose.HS256, claims(nil)), 401},
		{"garbage with two dots", "a.b.c", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.doToken(tc.token, "GET", "/Users", "")
			if r.Status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.want, r.Raw)
			}
		})
	}
	if li.fetches.Load() == 0 {
		t.Error("the issuer's keys were never fetched")
	}
	// A tenant without issuers refuses a valid JWT.
	plain := newEnv(t)
	if r := plain.doToken(mint(t, li.key, jose.RS256, claims(nil)), "GET", "/Users", ""); r.Status != 401 {
		t.Errorf("no issuers: %d", r.Status)
	}
	for _, bad := range []scim.IssuerConfig{
		{JWKSURL: "x", Audience: "a", AppIDs: []string{"b"}},
		{Issuer: "x", Audience: "a", AppIDs: []string{"b"}},
		{Issuer: "x", JWKSURL: "x", AppIDs: []string{"b"}},
		{Issuer: "x", JWKSURL: "x", Audience: "a"},
	} {
		if _, err := scim.NewIssuer(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
