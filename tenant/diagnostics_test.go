package tenant_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
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
	h := &saml.Handler{
		Resolve: rt.SAMLResolver(func(*http.Request) string { return "acme" }),
		SignedIn: func(w http.ResponseWriter, r *http.Request, res saml.Result) {
			http.Redirect(w, r, "/home", http.StatusSeeOther)
		},
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
