package tenant_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/saml"
	"github.com/rollcall/rollcall/saml/samltest"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/tenant"
)

// noRedirects is a browser that keeps cookies and follows no redirect.
func noRedirects(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// A SAML connection saved as a draft is built with its SP key and served
// (metadata, test login, ACS), so the IdP can be set up and a test sign-in
// run before anyone can sign in through it: a real login is refused, the
// test reports the user and the group plan and writes nothing but one
// connection.tested event. Activated, the connection keeps its key, the IdP
// set up during the test needs no change, and the real sign-in creates the
// user with the groups of memberOf (AD FS DNs here).
func TestDraftSAMLConnection(t *testing.T) {
	ctx := context.Background()
	db := memory.New()
	store := memory.NewSettings(db, keyring(t), nil) // crewjam's IdP runs on the real clock
	rt, err := tenant.New(tenant.Config{Settings: store,
		Stores: func(id string) identity.Store { return db.Tenant(id) },
		Keys:   func(id string) identity.KeyStore { return db.Keys(id, nil) }})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		signedIn []saml.Result
	)
	h, err := saml.NewHandler(saml.HandlerConfig{
		Resolve:    rt.Resolver(func(*http.Request) string { return "acme" }),
		Connection: rt.SAMLConnection,
		SignedIn: func(w http.ResponseWriter, r *http.Request, res saml.Result) {
			mu.Lock()
			signedIn = append(signedIn, res)
			mu.Unlock()
			http.Redirect(w, r, "/home", http.StatusSeeOther)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /saml/{connection}/metadata", h.Metadata())
	mux.Handle("GET /saml/{connection}/login", h.Login())
	mux.Handle("GET /saml/{connection}/test", h.TestLogin())
	mux.Handle("POST /saml/{connection}/acs", h.ACS())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	alice := samltest.User{Name: "alice", Password: "pw-alice", NameID: "id-alice", Email: "alice@acme.example",
		GivenName: "Alice", FamilyName: "Liddell", Groups: []string{"Desk Admins", "Berlin, Mitte"}}
	idp := samltest.Start(t, samltest.Config{Users: []samltest.User{alice}, DNGroups: true})

	st, err := rt.Create(ctx, "acme", settings.Settings{SAML: []settings.SAML{{
		Name: "corp", IdPMetadata: string(idp.Metadata()), EntityID: srv.URL + "/saml/corp/metadata",
		ACSURL: srv.URL + "/saml/corp/acs", SyncGroups: true, GroupFormat: "dn", Draft: true,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	key := st.SAMLConnection("corp").Key(settings.KeyActive)
	if key == nil {
		t.Fatal("the draft has no SP key")
	}
	src, err := rt.Resolve(ctx, "acme")
	if err != nil || src.SAML["corp"] == nil {
		t.Fatalf("the draft is not built: %v %v", err, src.Errors)
	}

	// A real login through the draft is refused, typed.
	if _, err := src.SAML["corp"].Login(ctx, src.Keys, ""); !errors.Is(err, saml.ErrDraft) || saml.Reason(err) != saml.ReasonDraft {
		t.Errorf("Login of a draft: %v, want ErrDraft", err)
	}
	resp, err := noRedirects(t).Get(srv.URL + "/saml/corp/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("login route of a draft: %s, want 403", resp.Status)
	}

	before, err := src.Directory.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	// The test: the IdP fetches the SP metadata of the draft (its setup),
	// alice signs in, the ACS answers the report.
	resp, err = idp.Login(noRedirects(t), srv.URL+"/saml/corp/test", "alice", "pw-alice")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var rep saml.Test
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &rep) != nil {
		t.Fatalf("test sign-in: %s %s", resp.Status, body)
	}
	wantGroups := []string{"Berlin, Mitte", "Desk Admins"}
	if rep.Reason != "" || rep.Resolved != identity.ResolvedNew || rep.NameID != "id-alice" || rep.User.Email != alice.Email ||
		!slices.Equal(sorted(rep.Groups.Create), wantGroups) || len(rep.Attributes["memberOf"]) != 2 {
		t.Fatalf("report: %s", body)
	}
	dir := src.Directory
	if _, err := dir.Reader().UserByEmail(ctx, alice.Email); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("the test created the user: %v", err)
	}
	evs, err := dir.Events(ctx, before[len(before)-1].Seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != identity.ConnectionTested || evs[0].Source != "saml:corp" {
		t.Fatalf("events after the test: %+v, want one connection.tested", evs)
	}

	// Activate: the same key; the IdP is left as the test set it up.
	st, err = rt.Update(ctx, "acme", st.Version, func(s *settings.Settings) error {
		s.SAMLConnection("corp").Draft = false
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if k := st.SAMLConnection("corp").Key(settings.KeyActive); k == nil || k.Certificate != key.Certificate {
		t.Fatal("activation changed the SP key")
	}
	resp, err = idp.Login(noRedirects(t), srv.URL+"/saml/corp/login?return_to=/desk", "alice", "pw-alice")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	n := len(signedIn)
	mu.Unlock()
	if resp.StatusCode != http.StatusSeeOther || n != 1 {
		t.Fatalf("sign-in after activation: %s, %d signed in", resp.Status, n)
	}
	u, err := dir.Reader().UserByEmail(ctx, alice.Email)
	if err != nil || u.GivenName != "Alice" {
		t.Fatalf("user after activation: %+v %v", u, err)
	}
	gs, err := dir.Reader().UserGroups(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
	}
	if !slices.Equal(sorted(names), wantGroups) {
		t.Errorf("groups after activation: %v, want %v", names, wantGroups)
	}
	if idp.Logins() != 2 {
		t.Errorf("IdP logins: %d, want 2", idp.Logins())
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
