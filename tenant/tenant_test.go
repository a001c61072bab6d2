package tenant_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/tenant"
)

func keyring(t testing.TB) *settings.Keyring {
	t.Helper()
	k, err := settings.NewKeyring("k1", map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type env struct {
	db    *memory.DB
	store *memory.SettingsStore
	clock *identitytest.Clock
	rt    *tenant.Runtime
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{db: memory.New(), clock: identitytest.NewClock()}
	e.store = memory.NewSettings(e.db, keyring(t), e.clock)
	e.rt = e.runtime(t)
	return e
}

// runtime returns another Runtime over the same data: another process.
func (e *env) runtime(t testing.TB) *tenant.Runtime {
	t.Helper()
	rt, err := tenant.New(tenant.Config{
		Settings: e.store,
		Stores:   func(id string) identity.Store { return e.db.Tenant(id) },
		Keys:     func(id string) identity.KeyStore { return e.db.Keys(id, e.clock) },
		Clock:    e.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func idpMetadata(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../saml/testdata/idp-metadata.xml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fullSettings(t testing.TB) settings.Settings {
	return settings.Settings{
		Directory: settings.Directory{SSOOnly: true, GroupLimit: 10},
		SAML: []settings.SAML{{
			Name: "okta", IdPMetadata: idpMetadata(t), EntityID: "https://sp.example/acme",
			ACSURL: "https://sp.example/saml/okta/acs", Preset: "okta", SyncGroups: true,
		}},
		OAuth: []settings.OAuth{{
			Name: "google", Kind: settings.KindGoogle, ClientID: "cid", ClientSecret: settings.NewSecret([]byte("cs")),
			RedirectURL: "https://sp.example/oauth/google/callback",
		}},
		SCIM: &settings.SCIM{Enabled: true},
	}
}

func TestResolveBuildsSources(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	created, err := e.rt.Create(ctx, "acme", fullSettings(t))
	if err != nil {
		t.Fatal(err)
	}
	if created.SAML[0].Key(settings.KeyActive) == nil {
		t.Fatal("no SP key generated")
	}
	src, err := e.rt.Resolve(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Errors) != 0 {
		t.Fatalf("errors: %v", src.Errors)
	}
	if src.Directory.Tenant() != "acme" || src.SAML["okta"] == nil || src.OAuth["google"] == nil || src.SCIM == nil || src.Importer == nil || src.Google != nil {
		t.Fatalf("sources: %+v", src)
	}
	if src.SAML["okta"].Source() != "saml:okta" || src.OAuth["google"].Source() != "oauth:google" {
		t.Errorf("sources named %s, %s", src.SAML["okta"].Source(), src.OAuth["google"].Source())
	}
	again, _ := e.rt.Resolve(ctx, "acme")
	if again != src {
		t.Error("second Resolve built the sources again")
	}
	// The runtime refuses a change that leaves a source unbuildable, naming it.
	badMetadata := func(s *settings.Settings) error {
		s.SAML[0].IdPMetadata = "<EntityDescriptor/>"
		return nil
	}
	var verr *identity.ValidationError
	if _, err := e.rt.Update(ctx, "acme", 0, badMetadata); !errors.As(err, &verr) || verr.Fields[0].Field != "saml[0]" {
		t.Fatalf("bad metadata through the runtime: %v", err)
	}
	bad := fullSettings(t)
	bad.SAML[0].IdPMetadata = "<EntityDescriptor/>"
	if _, err := e.rt.Create(ctx, "beta", bad); !errors.As(err, &verr) || verr.Fields[0].Field != "saml[0]" {
		t.Fatalf("bad metadata at create: %v", err)
	}
	// Stored around the runtime (or broken since), a source that cannot be
	// built is named, and the others still serve.
	if _, err := e.store.Update(ctx, "acme", 0, badMetadata); err != nil {
		t.Fatal(err)
	}
	src, err = e.rt.Resolve(ctx, "acme")
	if err != nil || src.Errors["saml:okta"] == nil || src.SAML["okta"] != nil || src.OAuth["google"] == nil {
		t.Errorf("with bad metadata: %v, %+v", err, src)
	}
	if _, err := e.rt.Create(ctx, "Bad_ID", settings.Settings{}); !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("bad tenant ID: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	sink := &identitytest.Sink{}
	rt, err := tenant.New(tenant.Config{
		Settings: e.store,
		Stores:   func(id string) identity.Store { return e.db.Tenant(id) },
		Keys:     func(id string) identity.KeyStore { return e.db.Keys(id, e.clock) },
		Clock:    e.clock,
		Events:   sink,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.rt = rt
	ctx := identity.WithActor(context.Background(), "operator")
	if _, err := e.rt.Resolve(ctx, "acme"); !errors.Is(err, tenant.ErrUnknown) || !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	if _, err := e.rt.Create(ctx, "acme", settings.Settings{SCIM: &settings.SCIM{Enabled: true}}); err != nil {
		t.Fatal(err)
	}
	src, err := e.rt.Resolve(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Directory.CreateUser(ctx, identity.SourceManual, identity.User{Email: "a@acme.example"}, identity.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.SetDisabled(ctx, "acme", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.Resolve(ctx, "acme"); !errors.Is(err, tenant.ErrUnknown) {
		t.Fatalf("disabled tenant: %v", err)
	}
	if err := e.rt.SetDisabled(ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	src, err = e.rt.Resolve(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if page, _ := identity.ListUsers(ctx, src.Store, identity.UserQuery{}); page.Total != 1 {
		t.Errorf("enabled again: %d users, want 1", page.Total)
	}
	if err := e.rt.Delete(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.Resolve(ctx, "acme"); !errors.Is(err, tenant.ErrUnknown) {
		t.Fatalf("deleted tenant: %v", err)
	}
	if page, _ := e.db.Tenant("acme").ListUsers(ctx, identity.UserQuery{}); page.Total != 0 {
		t.Errorf("deleted tenant keeps %d users", page.Total)
	}
	var types []string
	for _, ev := range sink.Events() {
		if ev.Source == settings.EventSource {
			types = append(types, string(ev.Type)+" "+strings.Join(ev.Fields, ","))
			if ev.Actor != "operator" {
				t.Errorf("event %+v without its actor", ev)
			}
		}
	}
	want := []string{"tenant.created scim", "settings.changed disabled", "settings.changed disabled", "tenant.deleted "}
	if strings.Join(types, "|") != strings.Join(want, "|") {
		t.Errorf("settings events to the sink: %q, want %q", types, want)
	}
}

// TestOtherProcessChange: a change made through one Runtime is in force in
// another within PollInterval, and not before the version is checked.
func TestOtherProcessChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := e.runtime(t)
	if _, err := e.rt.Create(ctx, "acme", settings.Settings{Directory: settings.Directory{GroupLimit: 5}}); err != nil {
		t.Fatal(err)
	}
	first, err := other.Resolve(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.Update(ctx, "acme", 1, func(s *settings.Settings) error { s.Directory.GroupLimit = 6; return nil }); err != nil {
		t.Fatal(err)
	}
	if src, _ := e.rt.Resolve(ctx, "acme"); src.Version != 2 {
		t.Errorf("this process: version %d, want 2 at once", src.Version)
	}
	e.clock.Advance(tenant.DefaultPollInterval - time.Millisecond)
	if src, _ := other.Resolve(ctx, "acme"); src != first {
		t.Error("the other process checked before the interval")
	}
	e.clock.Advance(time.Millisecond)
	src, err := other.Resolve(ctx, "acme")
	if err != nil || src.Version != 2 || src.Settings.Directory.GroupLimit != 6 {
		t.Errorf("the other process after the interval: version %d, %v", src.Version, err)
	}
	// Disabled and deleted elsewhere: the same bound.
	if err := e.rt.SetDisabled(ctx, "acme", true); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(tenant.DefaultPollInterval)
	if _, err := other.Resolve(ctx, "acme"); !errors.Is(err, tenant.ErrUnknown) {
		t.Errorf("disabled elsewhere: %v", err)
	}
	if err := e.rt.Delete(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(tenant.DefaultPollInterval)
	if _, err := other.Resolve(ctx, "acme"); !errors.Is(err, tenant.ErrUnknown) {
		t.Errorf("deleted elsewhere: %v", err)
	}
}

func scimRequest(t *testing.T, h http.Handler, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func scimMux(rt *tenant.Runtime) http.Handler {
	mux := http.NewServeMux()
	h := rt.SCIMHandler(func(r *http.Request) string { return r.PathValue("tenant") })
	mux.Handle("/t/{tenant}/scim/v2/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.StripPrefix("/t/"+r.PathValue("tenant")+"/scim/v2", h).ServeHTTP(w, r)
	}))
	return mux
}

// TestSCIMTokensPerTenant: each tenant's token reads and writes only its own
// users; a revoked token, a disabled tenant and another tenant's token are
// refused.
func TestSCIMTokensPerTenant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mux := scimMux(e.rt)
	tokens := map[string]string{}
	for _, id := range []string{"acme", "beta"} {
		if _, err := e.rt.Create(ctx, id, settings.Settings{SCIM: &settings.SCIM{Enabled: true, SyncGroups: true}}); err != nil {
			t.Fatal(err)
		}
		tok, _, err := e.rt.IssueToken(ctx, id, "entra", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		tokens[id] = tok
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@` + id + `.example","active":true}`
		if w := scimRequest(t, mux, "POST", "/t/"+id+"/scim/v2/Users", tok, body); w.Code != http.StatusCreated {
			t.Fatalf("%s: create user: %d %s", id, w.Code, w.Body)
		}
	}
	w := scimRequest(t, mux, "GET", "/t/acme/scim/v2/Users", tokens["acme"], "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "ada@acme.example") || strings.Contains(w.Body.String(), "beta") {
		t.Errorf("acme's list: %d %s", w.Code, w.Body)
	}
	for name, tc := range map[string]struct{ path, token string }{
		"beta's token on acme": {"/t/acme/scim/v2/Users", tokens["beta"]},
		"unknown tenant":       {"/t/nobody/scim/v2/Users", tokens["acme"]},
		"bad token":            {"/t/acme/scim/v2/Users", tokens["acme"] + "x"},
	} {
		if w := scimRequest(t, mux, "GET", tc.path, tc.token, ""); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d", name, w.Code)
		}
	}
	list, _ := e.store.Tokens(ctx, "acme")
	if len(list) != 1 || list[0].LastUsed.IsZero() {
		t.Errorf("acme's tokens: %+v", list)
	}
	if err := e.rt.RevokeToken(ctx, "acme", list[0].ID); err != nil {
		t.Fatal(err)
	}
	if w := scimRequest(t, mux, "GET", "/t/acme/scim/v2/Users", tokens["acme"], ""); w.Code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", w.Code)
	}
	if err := e.rt.SetDisabled(ctx, "beta", true); err != nil {
		t.Fatal(err)
	}
	if w := scimRequest(t, mux, "GET", "/t/beta/scim/v2/Users", tokens["beta"], ""); w.Code != http.StatusUnauthorized {
		t.Errorf("disabled tenant: %d", w.Code)
	}
}

func TestKeyRollover(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.rt.Create(ctx, "acme", fullSettings(t)); err != nil {
		t.Fatal(err)
	}
	certOf := func(s settings.Settings, status string) string {
		k := s.SAML[0].Key(status)
		if k == nil {
			return ""
		}
		lines := strings.Split(strings.TrimSpace(k.Certificate), "\n")
		return strings.Join(lines[1:len(lines)-1], "")
	}
	metadata := func() string {
		src, err := e.rt.Resolve(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		md, err := src.SAML["okta"].Metadata()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(string(md)), "")
	}
	st, err := e.rt.StartKeyRollover(ctx, "acme", "okta", nil)
	if err != nil {
		t.Fatal(err)
	}
	active, next := certOf(st, settings.KeyActive), certOf(st, settings.KeyNext)
	md := metadata()
	if !strings.Contains(md, active) || !strings.Contains(md, next) {
		t.Fatal("the metadata does not publish both the active and the next certificate")
	}
	st, err = e.rt.CompleteKeyRollover(ctx, "acme", "okta")
	if err != nil {
		t.Fatal(err)
	}
	if certOf(st, settings.KeyActive) != next || certOf(st, settings.KeyRetired) != active {
		t.Fatal("the next key did not become active")
	}
	if md := metadata(); !strings.Contains(md, next) || strings.Contains(md, active) {
		t.Error("after the rollover the metadata still publishes the retired certificate, or not the new one")
	}
	if _, err := e.rt.StartKeyRollover(ctx, "acme", "nope", nil); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("unknown connection: %v", err)
	}
}

func TestSweepCertificates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st, err := e.rt.Create(ctx, "acme", fullSettings(t))
	if err != nil {
		t.Fatal(err)
	}
	notAfter := st.SAML[0].Key(settings.KeyActive).NotAfter
	count := func() int {
		evs, _ := e.db.Tenant("acme").Events(ctx, 0, 1000)
		n := 0
		for _, ev := range evs {
			if ev.Type == settings.CertificateExpiring && strings.HasPrefix(ev.Fields[0], "sp:") {
				n++
			}
		}
		return n
	}
	for _, step := range []struct {
		at   time.Time
		want int
	}{
		{notAfter.Add(-40 * 24 * time.Hour), 0},
		{notAfter.Add(-29 * 24 * time.Hour), 1},
		{notAfter.Add(-28 * 24 * time.Hour), 1}, // sent once
		{notAfter.Add(-6 * 24 * time.Hour), 2},
		{notAfter.Add(-5 * 24 * time.Hour), 2},
	} {
		e.clock.Set(step.at)
		if _, err := e.rt.SweepCertificates(ctx); err != nil {
			t.Fatal(err)
		}
		if got := count(); got != step.want {
			t.Errorf("at %v: %d SP warnings, want %d", step.at, got, step.want)
		}
	}
}

// TestUpdateGeneratesKeys: a SAML connection added without a key gets one,
// generated outside the store's transaction, and serves.
func TestUpdateGeneratesKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.rt.Create(ctx, "acme", settings.Settings{}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	st, err := e.rt.Update(ctx, "acme", 1, func(s *settings.Settings) error {
		calls++
		c := fullSettings(t).SAML[0]
		c.SyncGroups = false
		s.SAML = append(s.SAML, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 2 || len(st.SAML) != 1 || st.SAML[0].Key(settings.KeyActive) == nil || calls != 2 {
		t.Fatalf("version %d, keys %+v, fn called %d times (want 2: once to find the connection, once with its key)", st.Version, st.SAML, calls)
	}
	src, err := e.rt.Resolve(ctx, "acme")
	if err != nil || src.SAML["okta"] == nil {
		t.Fatalf("resolve: %v %+v", err, src)
	}
}
