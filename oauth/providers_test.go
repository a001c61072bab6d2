package oauth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/storage/memory"
)

const (
	clientID     = "client-1"
	clientSecret = "s3cret"
	tenantA      = "aaaaaaaa-0000-4000-8000-00000000000a"
	tenantB      = "bbbbbbbb-0000-4000-8000-00000000000b"
)

var (
	signingKey     *rsa.PrivateKey
	signingKeyOnce sync.Once
)

func key(t *testing.T) *rsa.PrivateKey {
	signingKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		signingKey = k
	})
	return signingKey
}

// fakeOP is a provider built on go-oidc's oidctest server (discovery and
// keys), with a token endpoint that checks PKCE and returns an ID token
// signed with the claims a test sets, and an optional userinfo endpoint.
type fakeOP struct {
	t     *testing.T
	URL   string
	clock *identitytest.Clock

	mu        sync.Mutex
	challenge string
	nonce     string
	claims    map[string]any
	userinfo  map[string]any
	form      url.Values
	basicAuth bool
	// keysStatus and tokenStatus, when set, are what the keys and token
	// endpoints answer instead: an outage.
	keysStatus, tokenStatus int
	// idTokens are the ID tokens the token endpoint issued.
	idTokens []string
}

// failing answers status instead of h while status() is not zero.
func (f *fakeOP) failing(status func() int, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		code := status()
		f.mu.Unlock()
		if code != 0 {
			http.Error(w, "unavailable", code)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func newFakeOP(t *testing.T, clock *identitytest.Clock) *fakeOP {
	f := &fakeOP{t: t, clock: clock}
	priv := key(t)
	ts := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: priv.Public(), KeyID: "k1", Algorithm: oidc.RS256}}}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/openid-configuration", ts)
	mux.Handle("/keys", f.failing(func() int { return f.keysStatus }, ts))
	mux.Handle("POST /token", f.failing(func() int { return f.tokenStatus }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.form = r.PostForm
		_, _, f.basicAuth = r.BasicAuth()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != f.challenge {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant","error_description":"invalid code_verifier"}`))
			return
		}
		now := f.clock.Now()
		claims := map[string]any{"aud": clientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": f.nonce}
		for k, v := range f.claims {
			claims[k] = v
		}
		raw, err := json.Marshal(claims)
		if err != nil {
			t.Error(err)
		}
		idToken := oidctest.SignIDToken(priv, "k1", oidc.RS256, string(raw))
		f.idTokens = append(f.idTokens, idToken)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
	})))
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.userinfo == nil || r.Header.Get("Authorization") != "Bearer at-1" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(f.userinfo)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ts.SetIssuer(srv.URL)
	f.URL = srv.URL
	return f
}

// at points a provider's endpoints at the fake.
func (f *fakeOP) at(p oauth.Provider) oauth.Provider {
	p.AuthURL, p.TokenURL, p.JWKSURL = f.URL+"/auth", f.URL+"/token", f.URL+"/keys"
	if p.UserInfoURL != "" {
		p.UserInfoURL = f.URL + "/userinfo"
	}
	return p
}

// tenant is one tenant of a host with one connection to the fake.
type tenant struct {
	t     *testing.T
	f     *fakeOP
	conn  *oauth.Connection
	dir   *identity.Directory
	keys  identity.KeyStore
	clock *identitytest.Clock
}

// newTenant builds the connection of cfg with deps[0], if given, on f's clock.
func newTenant(t *testing.T, f *fakeOP, cfg oauth.Config, deps ...identity.Deps) *tenant {
	t.Helper()
	cfg.ClientID, cfg.ClientSecret = clientID, clientSecret
	if cfg.RedirectURL == "" {
		cfg.RedirectURL = "https://app.example/oauth/" + cfg.Provider.Name + "/callback"
	}
	d := append(deps, identity.Deps{})[0]
	d.Clock = f.clock
	conn, err := oauth.New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	db := memory.New()
	dir, err := identity.New(db.Tenant("acme"), identity.Config{Tenant: "acme", Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	return &tenant{t: t, f: f, conn: conn, dir: dir, keys: db.Keys("acme", f.clock), clock: f.clock}
}

// begin starts a login and tells the fake its nonce and challenge.
func (tn *tenant) begin() oauth.Login {
	tn.t.Helper()
	login, err := tn.conn.Begin(context.Background(), tn.keys, "/after")
	if err != nil {
		tn.t.Fatal(err)
	}
	u, err := url.Parse(login.URL)
	if err != nil {
		tn.t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("state") != login.State || q.Get("client_id") != clientID {
		tn.t.Fatalf("authorization URL %s", login.URL)
	}
	tn.f.mu.Lock()
	tn.f.nonce, tn.f.challenge = q.Get("nonce"), q.Get("code_challenge")
	tn.f.mu.Unlock()
	return login
}

// signIn runs a login whose ID token holds claims.
func (tn *tenant) signIn(claims map[string]any) (oauth.Result, error) {
	tn.t.Helper()
	login := tn.begin()
	tn.f.mu.Lock()
	tn.f.claims = claims
	tn.f.mu.Unlock()
	return tn.conn.Finish(context.Background(), tn.dir, tn.keys, oauth.Callback{State: login.State, Code: "code-1", BrowserState: login.State})
}

func mustSignIn(t *testing.T, tn *tenant, claims map[string]any) oauth.Result {
	t.Helper()
	res, err := tn.signIn(claims)
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	return res
}

func wantErr(t *testing.T, err, target error, text string) {
	t.Helper()
	if !errors.Is(err, target) || !strings.Contains(err.Error(), text) {
		t.Errorf("err = %v, want %v with %q", err, target, text)
	}
}

func TestGoogle(t *testing.T) {
	f := newFakeOP(t, identitytest.NewClock())
	p := f.at(oauth.Google)
	p.Issuer = f.URL
	tn := newTenant(t, f, oauth.Config{Provider: p, AllowedDomains: []string{"example.com"}})

	base := func(extra map[string]any) map[string]any {
		c := map[string]any{"iss": f.URL, "sub": "g-1", "email": "ann@example.com", "email_verified": true, "hd": "example.com", "name": "Ann Example"}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}

	t.Run("hosted domain", func(t *testing.T) {
		res := mustSignIn(t, tn, base(nil))
		if !res.Created || res.Subject != f.URL+" g-1" || res.User.Email != "ann@example.com" || !res.User.EmailVerified || res.ReturnTo != "/after" {
			t.Errorf("result %+v", res)
		}
		// Google's token endpoint takes the secret in the body.
		if f.form.Get("client_secret") != clientSecret || f.basicAuth {
			t.Errorf("token request: form %v, basic auth %v", f.form, f.basicAuth)
		}
		if login := tn.begin(); !strings.Contains(login.URL, "hd=example.com") {
			t.Errorf("no hd hint in %s", login.URL)
		}
	})
	t.Run("missing hd", func(t *testing.T) {
		// A consumer account that carries a corporate address.
		_, err := tn.signIn(base(map[string]any{"sub": "g-2", "email": "bea@example.com", "hd": nil}))
		wantErr(t, err, oauth.ErrRefused, "no hd claim")
	})
	t.Run("other hd", func(t *testing.T) {
		_, err := tn.signIn(base(map[string]any{"sub": "g-3", "hd": "other.org"}))
		wantErr(t, err, oauth.ErrRefused, `hd "other.org"`)
	})
	t.Run("unverified", func(t *testing.T) {
		_, err := tn.signIn(base(map[string]any{"sub": "g-4", "email_verified": false}))
		wantErr(t, err, oauth.ErrRefused, "verified email")
	})
	t.Run("string email_verified", func(t *testing.T) {
		res := mustSignIn(t, tn, base(map[string]any{"sub": "g-5", "email": "cat@example.com", "email_verified": "true"}))
		if !res.User.EmailVerified {
			t.Errorf("user %+v", res.User)
		}
	})
	t.Run("re-created account does not take over", func(t *testing.T) {
		// The same address under a new sub (a re-created Workspace account).
		_, err := tn.signIn(base(map[string]any{"sub": "g-6"}))
		wantErr(t, err, identity.ErrConflict, "linked to another subject")
	})
	t.Run("other audience", func(t *testing.T) {
		_, err := tn.signIn(base(map[string]any{"sub": "g-7", "aud": "someone-else"}))
		wantErr(t, err, oauth.ErrToken, "audience")
	})
	t.Run("expired token", func(t *testing.T) {
		_, err := tn.signIn(base(map[string]any{"sub": "g-8", "exp": tn.clock.Now().Add(-time.Minute).Unix()}))
		wantErr(t, err, oauth.ErrToken, "expired")
	})
	t.Run("other issuer", func(t *testing.T) {
		_, err := tn.signIn(base(map[string]any{"sub": "g-9", "iss": "https://accounts.example"}))
		wantErr(t, err, oauth.ErrToken, "different provider")
	})
}

func TestMicrosoftMultiTenant(t *testing.T) {
	f := newFakeOP(t, identitytest.NewClock())
	p := f.at(oauth.Microsoft("organizations"))
	p.Issuer = f.URL + "/" + oauth.TenantPlaceholder + "/v2.0"
	issuer := func(tid string) string { return f.URL + "/" + tid + "/v2.0" }
	tn := newTenant(t, f, oauth.Config{Provider: p, AllowedTenants: []string{tenantA}, AllowedDomains: []string{"contoso.example"}})

	base := func(extra map[string]any) map[string]any {
		c := map[string]any{
			"iss": issuer(tenantA), "tid": tenantA, "sub": "pairwise-1", "oid": "oid-1",
			"email": "ann@contoso.example", "xms_edov": true, "preferred_username": "ann@contoso.example", "name": "Ann",
		}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}

	t.Run("allowed tenant", func(t *testing.T) {
		res := mustSignIn(t, tn, base(nil))
		if !res.Created || res.Subject != issuer(tenantA)+" oid-1" || !res.User.EmailVerified {
			t.Errorf("result %+v", res)
		}
		if f.form.Get("client_secret") != clientSecret || f.basicAuth {
			t.Errorf("token request: form %v, basic auth %v", f.form, f.basicAuth)
		}
	})
	t.Run("keyed by oid, not sub or email", func(t *testing.T) {
		res := mustSignIn(t, tn, base(map[string]any{"sub": "pairwise-2", "email": "renamed@contoso.example", "preferred_username": "x"}))
		if res.Created || res.Subject != issuer(tenantA)+" oid-1" {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("iss tid mismatch", func(t *testing.T) {
		_, err := tn.signIn(base(map[string]any{"oid": "oid-2", "iss": issuer(tenantB)}))
		wantErr(t, err, oauth.ErrToken, "is not the issuer of tid")
	})
	t.Run("tenant not allowed", func(t *testing.T) {
		_, err := tn.signIn(base(map[string]any{"oid": "oid-3", "iss": issuer(tenantB), "tid": tenantB}))
		wantErr(t, err, oauth.ErrRefused, "tenant")
	})
	t.Run("consumer tenant", func(t *testing.T) {
		_, err := tn.signIn(base(map[string]any{"oid": "oid-4", "iss": issuer(oauth.ConsumerTenant), "tid": oauth.ConsumerTenant}))
		wantErr(t, err, oauth.ErrRefused, "consumer tenant")
	})
	t.Run("no xms_edov", func(t *testing.T) {
		// email_verified is not Entra's: only xms_edov verifies the email.
		_, err := tn.signIn(base(map[string]any{"oid": "oid-5", "email": "bea@contoso.example", "xms_edov": nil, "email_verified": true}))
		wantErr(t, err, oauth.ErrRefused, "verified email")
	})
	t.Run("string xms_edov", func(t *testing.T) {
		res := mustSignIn(t, tn, base(map[string]any{"oid": "oid-6", "email": "cat@contoso.example", "xms_edov": "1"}))
		if !res.Created || !res.User.EmailVerified {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("nOAuth: another oid with a known email", func(t *testing.T) {
		_, err := tn.signIn(base(map[string]any{"oid": "oid-7", "email": "cat@contoso.example"}))
		wantErr(t, err, identity.ErrConflict, "linked to another subject")
	})
	t.Run("no oid", func(t *testing.T) {
		_, err := tn.signIn(base(map[string]any{"oid": nil}))
		wantErr(t, err, oauth.ErrToken, "oid")
	})

	consumers := newTenant(t, f, oauth.Config{Provider: p, AllowedTenants: []string{tenantA, oauth.ConsumerTenant}, AllowUnverifiedEmail: true})
	t.Run("consumer tenant allowed", func(t *testing.T) {
		res := mustSignIn(t, consumers, base(map[string]any{"oid": "msa-1", "iss": issuer(oauth.ConsumerTenant), "tid": oauth.ConsumerTenant, "xms_edov": nil}))
		if !res.Created || res.User.EmailVerified {
			t.Errorf("result %+v", res)
		}
	})
}

func TestMicrosoftSingleTenant(t *testing.T) {
	f := newFakeOP(t, identitytest.NewClock())
	p := f.at(oauth.Microsoft(tenantA))
	p.Issuer = f.URL + "/" + tenantA + "/v2.0"
	tn := newTenant(t, f, oauth.Config{Provider: p})
	claims := map[string]any{"iss": p.Issuer, "tid": tenantA, "sub": "s", "oid": "o", "email": "a@contoso.example", "xms_edov": true}
	mustSignIn(t, tn, claims)
	claims["tid"], claims["oid"] = tenantB, "o2"
	_, err := tn.signIn(claims)
	wantErr(t, err, oauth.ErrToken, "is not the issuer of tid")
}

func TestWebex(t *testing.T) {
	f := newFakeOP(t, identitytest.NewClock())
	p := f.at(oauth.Webex)
	p.IssuerPattern = regexp.MustCompile(`^` + regexp.QuoteMeta(f.URL) + `/idbroker(-[a-z0-9]+)*/idb$`)
	tn := newTenant(t, f, oauth.Config{Provider: p, AllowedDomains: []string{"example.com"}})
	regional := f.URL + "/idbroker-b-us/idb"

	t.Run("regional issuer, string email_verified", func(t *testing.T) {
		res := mustSignIn(t, tn, map[string]any{"iss": regional, "sub": "w-1", "email": "ann@example.com", "email_verified": "true"})
		if !res.Created || res.Subject != "https://webexapis.com/v1 w-1" || !res.User.EmailVerified {
			t.Errorf("result %+v", res)
		}
		// Webex documents client_secret_post.
		if f.form.Get("client_secret") != clientSecret || f.form.Get("client_id") != clientID || f.basicAuth {
			t.Errorf("token request: form %v, basic auth %v", f.form, f.basicAuth)
		}
	})
	t.Run("string email_verified false", func(t *testing.T) {
		_, err := tn.signIn(map[string]any{"iss": regional, "sub": "w-2", "email": "bea@example.com", "email_verified": "false"})
		wantErr(t, err, oauth.ErrRefused, "verified email")
	})
	t.Run("issuer outside the pattern", func(t *testing.T) {
		_, err := tn.signIn(map[string]any{"iss": "https://idbroker.webex.com.evil.example/idb", "sub": "w-3", "email": "cat@example.com", "email_verified": "true"})
		wantErr(t, err, oauth.ErrToken, "issuer pattern")
	})
	t.Run("audience kept", func(t *testing.T) {
		_, err := tn.signIn(map[string]any{"iss": regional, "aud": "another-integration", "sub": "w-4", "email": "dan@example.com", "email_verified": "true"})
		wantErr(t, err, oauth.ErrToken, "audience")
	})
	t.Run("unreadable email_verified", func(t *testing.T) {
		_, err := tn.signIn(map[string]any{"iss": regional, "sub": "w-5", "email": "eve@example.com", "email_verified": "yes"})
		wantErr(t, err, oauth.ErrToken, "not a boolean")
	})
}

func TestWebexIssuerPattern(t *testing.T) {
	for iss, want := range map[string]bool{
		"https://idbroker.webex.com/idb":                      true,
		"https://idbroker-b-us.webex.com/idb":                 true,
		"https://idbroker-eu.webex.com/idb":                   true,
		"https://idbroker.webex.com/idb/":                     false,
		"http://idbroker.webex.com/idb":                       false,
		"https://idbroker.webex.com.evil.example/idb":         false,
		"https://evil.example/https://idbroker.webex.com/idb": false,
		"https://webexapis.com/v1":                            false,
	} {
		if got := oauth.Webex.IssuerPattern.MatchString(iss); got != want {
			t.Errorf("%s: %v, want %v", iss, got, want)
		}
	}
}

func TestDiscoveredProvider(t *testing.T) {
	f := newFakeOP(t, identitytest.NewClock())
	tn := newTenant(t, f, oauth.Config{Provider: oauth.Discover("corp", f.URL)})

	res := mustSignIn(t, tn, map[string]any{"iss": f.URL, "sub": "c-1", "email": "ann@corp.example", "email_verified": true})
	if !res.Created || res.Source != "oauth:corp" || res.User.EmailVerified {
		t.Errorf("result %+v", res)
	}
	// The discovery document lists no auth methods: client_secret_basic.
	if f.form.Get("client_secret") != "" || !f.basicAuth {
		t.Errorf("token request: form %v, basic auth %v", f.form, f.basicAuth)
	}
	// No domain filter, but an unverified email is still refused by default.
	_, err := tn.signIn(map[string]any{"iss": f.URL, "sub": "c-2", "email": "bea@corp.example"})
	wantErr(t, err, oauth.ErrRefused, "did not verify the email")

	// Without a domain filter a verified email does not find an existing
	// user: the core is told the email is not verified, and the address is
	// taken.
	if _, err := tn.dir.CreateUser(context.Background(), identity.SourceImport, identity.User{Email: "cat@corp.example"}, identity.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = tn.signIn(map[string]any{"iss": f.URL, "sub": "c-3", "email": "cat@corp.example", "email_verified": true})
	wantErr(t, err, identity.ErrConflict, "email")
}

func TestUserInfoFallback(t *testing.T) {
	f := newFakeOP(t, identitytest.NewClock())
	p := f.at(oauth.Google)
	p.Issuer = f.URL
	tn := newTenant(t, f, oauth.Config{Provider: p, AllowedDomains: []string{"example.com"}})

	f.userinfo = map[string]any{"sub": "u-1", "email": "ann@example.com", "email_verified": "true", "hd": "example.com", "given_name": "Ann"}
	res := mustSignIn(t, tn, map[string]any{"iss": f.URL, "sub": "u-1"})
	if res.User.Email != "ann@example.com" || res.User.GivenName != "Ann" || !res.User.EmailVerified {
		t.Errorf("user %+v", res.User)
	}

	f.userinfo = map[string]any{"sub": "someone-else", "email": "bea@example.com", "email_verified": true, "hd": "example.com"}
	_, err := tn.signIn(map[string]any{"iss": f.URL, "sub": "u-2"})
	wantErr(t, err, oauth.ErrToken, "userinfo sub")

	// A verified flag from userinfo is taken only for the token's own email.
	f.userinfo = map[string]any{"sub": "u-3", "email": "other@example.com", "email_verified": true, "hd": "example.com"}
	_, err = tn.signIn(map[string]any{"iss": f.URL, "sub": "u-3", "email": "cat@example.com", "hd": "example.com", "name": "Cat"})
	wantErr(t, err, oauth.ErrRefused, "verified email")
}

func TestState(t *testing.T) {
	f := newFakeOP(t, identitytest.NewClock())
	p := f.at(oauth.Google)
	p.Issuer = f.URL
	tn := newTenant(t, f, oauth.Config{Provider: p, AllowUnverifiedEmail: true})
	ctx := context.Background()
	claims := map[string]any{"iss": f.URL, "sub": "s-1", "email": "a@example.com", "email_verified": true}
	f.claims = claims

	t.Run("expired", func(t *testing.T) {
		login := tn.begin()
		tn.clock.Advance(oauth.DefaultLoginTTL + time.Second)
		_, err := tn.conn.Finish(ctx, tn.dir, tn.keys, oauth.Callback{State: login.State, Code: "c", BrowserState: login.State})
		wantErr(t, err, oauth.ErrState, "")
	})
	t.Run("single use", func(t *testing.T) {
		login := tn.begin()
		cb := oauth.Callback{State: login.State, Code: "c", BrowserState: login.State}
		if _, err := tn.conn.Finish(ctx, tn.dir, tn.keys, cb); err != nil {
			t.Fatal(err)
		}
		_, err := tn.conn.Finish(ctx, tn.dir, tn.keys, cb)
		wantErr(t, err, oauth.ErrState, "not found")
	})
	t.Run("other connection", func(t *testing.T) {
		q := p
		q.Name = "google-2"
		other, err := oauth.New(oauth.Config{Provider: q, ClientID: clientID, RedirectURL: "https://app.example/cb"}, identity.Deps{Clock: tn.clock})
		if err != nil {
			t.Fatal(err)
		}
		login := tn.begin()
		_, err = other.Finish(ctx, tn.dir, tn.keys, oauth.Callback{State: login.State, Code: "c", BrowserState: login.State})
		wantErr(t, err, oauth.ErrState, `started for "oauth:google"`)
	})
	t.Run("no browser binding", func(t *testing.T) {
		login := tn.begin()
		_, err := tn.conn.Finish(ctx, tn.dir, tn.keys, oauth.Callback{State: login.State, Code: "c"})
		wantErr(t, err, oauth.ErrState, "browser")
	})
	t.Run("provider error", func(t *testing.T) {
		login := tn.begin()
		_, err := tn.conn.Finish(ctx, tn.dir, tn.keys, oauth.Callback{State: login.State, Error: "access_denied", BrowserState: login.State})
		wantErr(t, err, oauth.ErrDenied, "access_denied")
	})
}
