package tenant_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/netguard"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/saml"
	"github.com/rollcall/rollcall/saml/samltest"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/tenant"
)

// stepAttempts returns the entries of the diagnostics log of the source at
// the step, newest first.
func stepAttempts(t *testing.T, log identity.DiagnosticsLog, source, step string) []identity.Attempt {
	t.Helper()
	as, err := log.Attempts(context.Background(), identity.AttemptQuery{Connection: source, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []identity.Attempt
	for _, a := range as {
		if a.Step == step {
			out = append(out, a)
		}
	}
	return out
}

// A runtime tenant's SAML sign-ins are recorded in its diagnostics log
// (Config.Diagnostics): a success with the user, and a failure with its
// typed reason. Two connections to one IdP: "corp" trusts the IdP's
// certificate, "forged" another one, so the IdP's signed response is
// refused there for its signature.
func TestRuntimeSAMLSignInsDiagnosed(t *testing.T) {
	ctx := context.Background()
	db := memory.New()
	logs := map[string]*memory.DiagnosticsLog{"acme": memory.NewDiagnostics(nil)}
	rt, err := tenant.New(tenant.Config{Settings: memory.NewSettings(db, keyring(t), nil), // crewjam's IdP runs on the real clock
		Stores:      func(id string) identity.Store { return db.Tenant(id) },
		Keys:        func(id string) identity.KeyStore { return db.Keys(id, nil) },
		Diagnostics: func(id string) identity.DiagnosticsLog { return logs[id] }})
	if err != nil {
		t.Fatal(err)
	}
	h, err := saml.NewHandler(saml.HandlerConfig{
		Resolve:    rt.Resolver(func(*http.Request) string { return "acme" }),
		Connection: rt.SAMLConnection,
		SignedIn: func(w http.ResponseWriter, r *http.Request, res saml.Result) {
			http.Redirect(w, r, "/home", http.StatusSeeOther)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /saml/{connection}/login", h.Login())
	mux.Handle("POST /saml/{connection}/acs", h.ACS())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	alice := samltest.User{Name: "alice", Password: "pw-alice", NameID: "id-alice", Email: "alice@acme.example"}
	idp := samltest.Start(t, samltest.Config{Users: []samltest.User{alice}})
	forged := regexp.MustCompile(`(<(?:ds:)?X509Certificate[^>]*>)[^<]+(</(?:ds:)?X509Certificate>)`).ReplaceAllString(string(idp.Metadata()),
		"${1}"+idpCertificate(t, time.Now().Add(365*24*time.Hour))+"${2}")
	if forged == string(idp.Metadata()) {
		t.Fatal("no certificate replaced in the IdP's metadata")
	}
	conn := func(name, md string) settings.SAML {
		return settings.SAML{Name: name, IdPMetadata: md, EntityID: srv.URL + "/saml/" + name + "/metadata", ACSURL: srv.URL + "/saml/" + name + "/acs"}
	}
	st, err := rt.Create(ctx, "acme", settings.Settings{SAML: []settings.SAML{conn("corp", string(idp.Metadata())), conn("forged", forged)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range st.SAML {
		// The IdP knows both SPs: from their metadata, as it would fetch it.
		src, err := rt.Resolve(ctx, "acme")
		if err != nil || src.SAML[c.Name] == nil {
			t.Fatalf("connection %s not built: %v", c.Name, err)
		}
		md, err := src.SAML[c.Name].Metadata()
		if err != nil {
			t.Fatal(err)
		}
		if err := idp.AddServiceProvider(md); err != nil {
			t.Fatal(err)
		}
	}

	for name, want := range map[string]int{"corp": http.StatusSeeOther, "forged": http.StatusForbidden} {
		resp, err := idp.Login(noRedirects(t), srv.URL+"/saml/"+name+"/login", "alice", "pw-alice")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("sign-in through %s: %s, want %d", name, resp.Status, want)
		}
	}
	ok := stepAttempts(t, logs["acme"], "saml:corp", identity.StepACS)
	if len(ok) != 1 || ok[0].Outcome != identity.OutcomeSuccess || ok[0].Subject != "id-alice" || ok[0].UserID == "" || ok[0].Reason != "" {
		t.Errorf("the sign-in through corp recorded as %+v, want one success of id-alice", ok)
	}
	bad := stepAttempts(t, logs["acme"], "saml:forged", identity.StepACS)
	if len(bad) != 1 || bad[0].Outcome != identity.OutcomeFailure || bad[0].Reason != saml.ReasonSignature || bad[0].Detail == "" {
		t.Errorf("the sign-in through forged recorded as %+v, want one failure for its signature", bad)
	}
}

// A runtime tenant's OAuth sign-ins are recorded in its diagnostics log: a
// success with the user, and a refusal (an email domain the settings do not
// allow) with its typed reason. The provider is go-oidc's test server
// (discovery and keys) with a token endpoint that signs an ID token of the
// claims set for the sign-in.
func TestRuntimeOAuthSignInsDiagnosed(t *testing.T) {
	ctx := context.Background()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		nonce  string
		claims map[string]any
	)
	op := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: priv.Public(), KeyID: "k1", Algorithm: "RS256"}}}
	mux := http.NewServeMux()
	mux.Handle("/", op)
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		c := map[string]any{"aud": "cid", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "nonce": nonce}
		for k, v := range claims {
			c[k] = v
		}
		mu.Unlock()
		raw, err := json.Marshal(c)
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600,
			"id_token": oidctest.SignIDToken(priv, "k1", "RS256", string(raw))})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	op.SetIssuer(srv.URL)

	db := memory.New()
	logs := map[string]*memory.DiagnosticsLog{"acme": memory.NewDiagnostics(nil)}
	rt, err := tenant.New(tenant.Config{Settings: memory.NewSettings(db, keyring(t), nil),
		Stores:      func(id string) identity.Store { return db.Tenant(id) },
		Keys:        func(id string) identity.KeyStore { return db.Keys(id, nil) },
		Diagnostics: func(id string) identity.DiagnosticsLog { return logs[id] },
		// The provider runs on the loopback, which the default client refuses.
		HTTPClient: netguard.New(netguard.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}).Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Create(ctx, "acme", settings.Settings{OAuth: []settings.OAuth{{
		Name: "corp", Kind: settings.KindOIDC, Issuer: srv.URL, ClientID: "cid", ClientSecret: settings.NewSecret([]byte("s3cret")),
		RedirectURL: "https://app.example/oauth/corp/callback", AllowedDomains: []string{"acme.example"},
	}}}); err != nil {
		t.Fatal(err)
	}
	src, err := rt.Resolve(ctx, "acme")
	if err != nil || src.OAuth["corp"] == nil {
		t.Fatalf("connection not built: %v", err)
	}
	conn := src.OAuth["corp"]
	signIn := func(sub, email, ref string) error {
		t.Helper()
		login, err := conn.Begin(ctx, src.Keys, "")
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(login.URL)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		nonce = u.Query().Get("nonce")
		claims = map[string]any{"iss": srv.URL, "sub": sub, "email": email, "email_verified": true}
		mu.Unlock()
		_, err = conn.Finish(ctx, src.Directory, src.Keys, oauth.Callback{State: login.State, Code: "code-1", BrowserState: login.State, Reference: ref})
		return err
	}
	if err := signIn("s-alice", "alice@acme.example", "REF-1"); err != nil {
		t.Fatalf("sign-in of alice: %v", err)
	}
	if err := signIn("s-bob", "bob@other.example", "REF-2"); oauth.Reason(err) != oauth.ReasonDomainNotAllowed {
		t.Fatalf("sign-in of bob: %v, want a refused domain", err)
	}
	as := stepAttempts(t, logs["acme"], "oauth:corp", identity.StepCallback)
	if len(as) != 2 {
		t.Fatalf("%d callbacks recorded, want 2: %+v", len(as), as)
	}
	if a := as[1]; a.Outcome != identity.OutcomeSuccess || a.Subject != "s-alice" || a.Email != "alice@acme.example" || a.UserID == "" || a.Reference != "REF-1" {
		t.Errorf("alice's sign-in recorded as %+v", a)
	}
	if a := as[0]; a.Outcome != identity.OutcomeFailure || a.Reason != oauth.ReasonDomainNotAllowed || a.Subject != "s-bob" || a.Reference != "REF-2" || a.Detail == "" {
		t.Errorf("bob's sign-in recorded as %+v", a)
	}
}
