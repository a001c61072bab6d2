package portal_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/portal"
	"github.com/rollcall/rollcall/saml"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/tenant"
)

// endpoints are the example addresses of a tenant's sources.
type endpoints struct{ base string }

func (e endpoints) SAML(t, c string) portal.SAMLEndpoints {
	u := e.base + "/t/" + t + "/saml/" + c
	return portal.SAMLEndpoints{EntityID: u + "/metadata", ACSURL: u + "/acs", MetadataURL: u + "/metadata"}
}
func (e endpoints) SCIM(t string) string { return e.base + "/t/" + t + "/scim/v2" }
func (e endpoints) OAuthRedirect(t, p string) string {
	return e.base + "/t/" + t + "/oauth/" + p + "/callback"
}

// settingsEnv is a portal whose tenant, acme, keeps its settings in a
// settings store behind a tenant.Runtime, whose SCIM endpoint is served at
// /t/{tenant}/scim/v2 beside the portal.
type settingsEnv struct {
	*env
	store *memory.SettingsStore
	rt    *tenant.Runtime
}

func newSettingsEnv(t *testing.T, opts ...func(*portal.Config)) *settingsEnv {
	t.Helper()
	db := memory.New()
	clock := identitytest.NewClock()
	k, err := settings.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	store := memory.NewSettings(db, k, clock)
	rt, err := tenant.New(tenant.Config{Settings: store, Clock: clock,
		Stores: func(id string) identity.Store { return db.Tenant(id) },
		Keys:   func(id string) identity.KeyStore { return db.Keys(id, clock) }})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := identity.New(db.Tenant("acme"), identity.Config{Tenant: "acme", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: clock, tenants: map[string]portal.Tenant{"acme": {Directory: dir, Keys: db.Keys("acme", clock),
		Attempts: memory.NewDiagnostics(clock)}}}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	cfg := portal.Config{
		Tenant: func(r *http.Request) (portal.Tenant, error) {
			if t, ok := e.tenants[strings.Split(r.Host, ".")[0]]; ok {
				return t, nil
			}
			return portal.Tenant{}, errors.New("no such tenant")
		},
		SessionKey: bytes.Repeat([]byte{7}, 32),
		Settings:   portal.NewSettingsStore(rt, store),
		Endpoints:  endpoints{base: e.srv.URL},
		SAMLHealth: func(ctx context.Context, tenant, conn string) (saml.Health, bool) {
			src, err := rt.Resolve(ctx, tenant)
			if err != nil || src.SAML[conn] == nil {
				return saml.Health{}, false
			}
			return src.SAML[conn].Health(), true
		},
		Clock: clock,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if e.h, err = portal.New(cfg); err != nil {
		t.Fatal(err)
	}
	mux.Handle("/portal/", http.StripPrefix("/portal", e.h))
	scimH := rt.SCIMHandler(func(r *http.Request) string { return r.PathValue("tenant") })
	mux.Handle("/t/{tenant}/scim/v2/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.StripPrefix("/t/"+r.PathValue("tenant")+"/scim/v2", scimH).ServeHTTP(w, r)
	}))
	return &settingsEnv{env: e, store: store, rt: rt}
}

// scimStatus answers GET /Users of acme's SCIM endpoint with the token.
func (e *settingsEnv) scimStatus(token string) int {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/t/acme/scim/v2/Users", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func (e *settingsEnv) settings() *settings.Settings {
	e.t.Helper()
	st, err := e.store.Settings(context.Background(), "acme")
	if err != nil {
		e.t.Fatal(err)
	}
	return &st
}

// events returns acme's events of a type.
func (e *settingsEnv) events(typ identity.EventType) []identity.Event {
	e.t.Helper()
	evs, err := e.dir("acme").SearchEvents(context.Background(), identity.EventFilter{Type: typ}, 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

var versionRE = regexp.MustCompile(`name="version" value="(\d+)"`)

func version(page string) string {
	if m := versionRE.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return "0"
}

// postFiles posts a multipart form with files.
func (c *client) postFiles(path string, fields map[string]string, files map[string][]byte) (int, string) {
	c.e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			c.e.t.Fatal(err)
		}
	}
	for k, v := range files {
		fw, err := mw.CreateFormFile(k, k+".bin")
		if err != nil {
			c.e.t.Fatal(err)
		}
		if _, err := io.Copy(fw, bytes.NewReader(v)); err != nil {
			c.e.t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		c.e.t.Fatal(err)
	}
	return c.do(http.MethodPost, path, &buf, mw.FormDataContentType())
}

var tokenRE = regexp.MustCompile(`rcscim_[A-Za-z0-9_-]+`)
var revokeRE = regexp.MustCompile(`action="/portal/scim/tokens/([^/"]+)/revoke"`)

func TestSCIMTokenShownOnceAndRevoked(t *testing.T) {
	e := newSettingsEnv(t)
	c := e.client("acme")
	c.signIn("acme")
	status, page := c.get("/scim")
	if status != http.StatusOK || !strings.Contains(page, e.srv.URL+"/t/acme/scim/v2") {
		t.Fatalf("scim page: %d\n%s", status, page)
	}
	// Turn SCIM on: the tenant's settings are made by this first change.
	if status, page = c.post("/scim", url.Values{"csrf": {c.csrf(page)}, "version": {version(page)}, "enabled": {"on"}}); status != http.StatusOK {
		t.Fatalf("enable: %d\n%s", status, page)
	}
	if st := e.settings(); st.SCIM == nil || !st.SCIM.Enabled {
		t.Fatalf("SCIM not enabled: %+v", st.SCIM)
	}
	status, page = c.post("/scim/tokens", url.Values{"csrf": {c.csrf(page)}, "name": {"Entra provisioning"}})
	token := tokenRE.FindString(page)
	if status != http.StatusCreated || token == "" {
		t.Fatalf("create token: %d\n%s", status, page)
	}
	if got := e.scimStatus(token); got != http.StatusOK {
		t.Fatalf("SCIM with the new token: %d, want 200", got)
	}
	// Shown once: the list names it, with its last use, never the token.
	status, page = c.get("/scim")
	if status != http.StatusOK || strings.Contains(page, token) || strings.Contains(page, "rcscim_") || !strings.Contains(page, "Entra provisioning") {
		t.Fatalf("scim page after: %d\n%s", status, page)
	}
	if strings.Contains(page, "<td>never</td><td>never</td>") {
		t.Errorf("the token's last use is not shown:\n%s", page)
	}
	m := revokeRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no revoke form:\n%s", page)
	}
	// Revoking without the CSRF token changes nothing.
	if status, _ = c.post("/scim/tokens/"+m[1]+"/revoke", url.Values{}); status != http.StatusForbidden {
		t.Errorf("revoke without CSRF: %d, want 403", status)
	}
	if got := e.scimStatus(token); got != http.StatusOK {
		t.Fatalf("SCIM after a refused revoke: %d, want 200", got)
	}
	if status, page = c.post("/scim/tokens/"+m[1]+"/revoke", url.Values{"csrf": {c.csrf(page)}}); status != http.StatusOK || !strings.Contains(page, "revoked") {
		t.Fatalf("revoke: %d\n%s", status, page)
	}
	if got := e.scimStatus(token); got != http.StatusUnauthorized {
		t.Errorf("SCIM with the revoked token: %d, want 401", got)
	}
	for _, typ := range []identity.EventType{settings.TokenIssued, settings.TokenRevoked, settings.TenantCreated} {
		evs := e.events(typ)
		if len(evs) == 0 || evs[0].Actor != "it@acme" {
			t.Errorf("%s events: %+v, want one by it@acme", typ, evs)
		}
	}
}

func TestRecentAttemptsShown(t *testing.T) {
	e := newSettingsEnv(t)
	log := e.tenants["acme"].Attempts
	for _, a := range []identity.Attempt{
		{Connection: "scim", Step: identity.StepRequest, Outcome: identity.OutcomeFailure, Reason: "uniqueness", Reference: "ref-scim-1"},
		{Connection: "saml:okta", Step: identity.StepACS, Outcome: identity.OutcomeFailure, Reason: "audience", Email: "ada@acme.example", Reference: "ref-saml-1"},
	} {
		if _, err := log.RecordAttempt(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	c := e.client("acme")
	c.signIn("acme")
	if _, page := c.get("/scim"); !strings.Contains(page, "ref-scim-1") || strings.Contains(page, "ref-saml-1") {
		t.Errorf("scim page attempts:\n%s", page)
	}
	if _, page := c.get("/sso/saml/okta"); !strings.Contains(page, "ref-saml-1") || !strings.Contains(page, "audience") || strings.Contains(page, "ref-scim-1") {
		t.Errorf("saml page attempts:\n%s", page)
	}
}

func TestSCIMTokenNeedsCSRF(t *testing.T) {
	e := newSettingsEnv(t)
	c := e.client("acme")
	c.signIn("acme")
	if status, page := c.post("/scim/tokens", url.Values{"name": {"x"}}); status != http.StatusForbidden || tokenRE.MatchString(page) {
		t.Fatalf("create without CSRF: %d\n%s", status, page)
	}
	if _, err := e.store.Version(context.Background(), "acme"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("settings made by a refused request: %v", err)
	}
}

func TestSAMLDraftThenActivate(t *testing.T) {
	e := newSettingsEnv(t)
	c := e.client("acme")
	c.signIn("acme")
	status, page := c.get("/sso/saml?name=okta&idp=okta")
	if status != http.StatusOK || !strings.Contains(page, "Okta: set up the application") ||
		!strings.Contains(page, e.srv.URL+"/t/acme/saml/okta/acs") || !strings.Contains(page, `disabled id="test-signin"`) {
		t.Fatalf("new connection page: %d\n%s", status, page)
	}
	md, err := os.ReadFile("../saml/testdata/idp-metadata.xml")
	if err != nil {
		t.Fatal(err)
	}
	// Without the IdP's metadata yet, the draft is kept beside the
	// settings: it would not build.
	fields := map[string]string{"csrf": c.csrf(page), "version": version(page), "preset": "okta", "action": "draft"}
	status, page = c.postFiles("/sso/saml/okta", fields, nil)
	if status != http.StatusOK || !strings.Contains(page, `id="draft-note"`) || !strings.Contains(page, "Sign-ins use nothing") {
		t.Fatalf("draft without metadata: %d\n%s", status, page)
	}
	if _, err := e.store.Version(context.Background(), "acme"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("a draft without metadata changed the settings: %v", err)
	}
	fields["csrf"], fields["version"] = c.csrf(page), version(page)
	status, page = c.postFiles("/sso/saml/okta", fields, map[string][]byte{"metadataFile": md})
	if status != http.StatusOK || !strings.Contains(page, `id="draft-note"`) || !strings.Contains(page, "https://idp.example.test/metadata") {
		t.Fatalf("draft: %d\n%s", status, page)
	}
	// A new connection's draft is in the settings as a draft, with its SP
	// key: the runtime builds it for test sign-ins only.
	drafted := e.settings().SAMLConnection("okta")
	if drafted == nil || !drafted.Draft || len(drafted.Keys) != 1 || drafted.ACSURL != e.srv.URL+"/t/acme/saml/okta/acs" {
		t.Fatalf("drafted connection: %+v", drafted)
	}
	src, err := e.rt.Resolve(context.Background(), "acme")
	if err != nil || src.SAML["okta"] == nil {
		t.Fatalf("the draft is not built: %v", err)
	}
	if _, err := src.SAML["okta"].Login(context.Background(), src.Keys, ""); !errors.Is(err, saml.ErrDraft) {
		t.Errorf("a real login through the draft: %v, want saml.ErrDraft", err)
	}
	if status, page := c.get("/sso"); status != http.StatusOK || !strings.Contains(page, "okta</a> (draft)") {
		t.Errorf("the SSO page does not list the draft as one: %d\n%s", status, page)
	}
	// Activate: the connection is written, with its SP key; the page shows
	// the IdP's entity ID and certificate, never a key.
	fields = map[string]string{"csrf": c.csrf(page), "version": version(page), "preset": "okta", "action": "activate",
		"syncGroups": "on", "groupFormat": "list"}
	status, page = c.postFiles("/sso/saml/okta", fields, map[string][]byte{"metadataFile": md})
	if status != http.StatusOK || !strings.Contains(page, "Activated") || !strings.Contains(page, `class="idp-cert"`) ||
		strings.Contains(page, `id="draft-note"`) || strings.Contains(page, "PRIVATE KEY") {
		t.Fatalf("activate: %d\n%s", status, page)
	}
	if !strings.Contains(page, `id="saml-health"`) || !strings.Contains(page, "IdP metadata loaded") || !strings.Contains(page, "application's (SP)") {
		t.Errorf("no health of the live connection:\n%s", page)
	}
	conn := e.settings().SAMLConnection("okta")
	if conn == nil || conn.Draft || conn.Preset != "okta" || !conn.SyncGroups || conn.GroupFormat != "list" || len(conn.Keys) != 1 ||
		conn.Keys[0].Certificate != drafted.Keys[0].Certificate ||
		conn.ACSURL != e.srv.URL+"/t/acme/saml/okta/acs" || !strings.Contains(conn.IdPMetadata, "idp.example.test") {
		t.Fatalf("stored connection: %+v", conn)
	}
	if evs := e.events(settings.TenantCreated); len(evs) != 1 || evs[0].Actor != "it@acme" {
		t.Errorf("events: %+v", evs)
	}
	// The SSO page lists it; bad metadata is refused and changes nothing.
	if status, page = c.get("/sso"); status != http.StatusOK || !strings.Contains(page, `href="/portal/sso/saml/okta"`) {
		t.Fatalf("sso page: %d\n%s", status, page)
	}
	status, page = c.get("/sso/saml/okta")
	fields = map[string]string{"csrf": c.csrf(page), "version": version(page), "preset": "okta", "action": "activate"}
	status, page = c.postFiles("/sso/saml/okta", fields, map[string][]byte{"metadataFile": []byte("<!DOCTYPE x><x/>")})
	if status != http.StatusBadRequest || !strings.Contains(page, "not accepted") {
		t.Fatalf("bad metadata: %d\n%s", status, page)
	}
	if got := e.settings().SAMLConnection("okta"); !got.SyncGroups {
		t.Errorf("a refused form changed the connection: %+v", got)
	}
}

func TestOneGroupSourceExplained(t *testing.T) {
	e := newSettingsEnv(t)
	c := e.client("acme")
	c.signIn("acme")
	_, page := c.get("/scim")
	if status, body := c.post("/scim", url.Values{"csrf": {c.csrf(page)}, "enabled": {"on"}, "syncGroups": {"on"}}); status != http.StatusOK {
		t.Fatalf("scim: %d\n%s", status, body)
	}
	md, err := os.ReadFile("../saml/testdata/idp-metadata.xml")
	if err != nil {
		t.Fatal(err)
	}
	_, page = c.get("/sso/saml/entra?idp=entra")
	fields := map[string]string{"csrf": c.csrf(page), "preset": "entra", "action": "activate", "syncGroups": "on"}
	status, page := c.postFiles("/sso/saml/entra", fields, map[string][]byte{"metadataFile": md})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "A tenant has one group source") || !strings.Contains(page, "groupSource") {
		t.Fatalf("second group source: %d\n%s", status, page)
	}
	if e.settings().SAMLConnection("entra") != nil {
		t.Error("the refused connection was stored")
	}
	// A stale version is refused too.
	if status, _ := c.post("/scim", url.Values{"csrf": {c.csrf(page)}, "version": {"99"}, "enabled": {"on"}}); status != http.StatusConflict {
		t.Errorf("stale version: %d, want 409", status)
	}
}

func TestPasswordLoginSwitch(t *testing.T) {
	e := newSettingsEnv(t)
	c := e.client("acme")
	c.signIn("acme")
	_, page := c.get("/sso")
	if status, body := c.post("/sso/password", url.Values{"csrf": {c.csrf(page)}, "ssoOnly": {"on"}}); status != http.StatusOK || !strings.Contains(body, `id="ssoOnly" name="ssoOnly" checked`) {
		t.Fatalf("sso only: %d\n%s", status, body)
	}
	if !e.settings().Directory.SSOOnly {
		t.Error("ssoOnly not stored")
	}
	_, page = c.get("/sso")
	if status, body := c.post("/sso/password", url.Values{"csrf": {c.csrf(page)}, "version": {version(page)}}); status != http.StatusOK {
		t.Fatalf("password login on: %d\n%s", status, body)
	}
	evs := e.events(settings.SettingsChanged)
	if e.settings().Directory.SSOOnly || len(evs) != 1 || evs[0].Actor != "it@acme" || !strings.Contains(strings.Join(evs[0].Fields, ","), "directory.ssoOnly") {
		t.Errorf("after turning password login on: %+v", evs)
	}
}

func TestGoogleKeyIsWriteOnly(t *testing.T) {
	e := newSettingsEnv(t)
	c := e.client("acme")
	c.signIn("acme")
	status, page := c.get("/google")
	if status != http.StatusOK || !strings.Contains(page, `id="no-sync"`) {
		t.Fatalf("google page: %d\n%s", status, page)
	}
	key := []byte(`{"type":"service_account","client_email":"sync@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nSECRETVALUE\n-----END PRIVATE KEY-----\n"}`)
	fields := map[string]string{"csrf": c.csrf(page), "version": version(page), "admin": "admin@acme.example", "domain": "acme.example", "groupFilter": "eng-*"}
	if status, page = c.postFiles("/google", fields, map[string][]byte{"key": []byte(`{"type":"user"}`)}); status != http.StatusBadRequest {
		t.Fatalf("not a service account key: %d\n%s", status, page)
	}
	status, page = c.postFiles("/google", fields, map[string][]byte{"key": key})
	if status != http.StatusOK || strings.Contains(page, "SECRETVALUE") || !strings.Contains(page, "A key is stored") {
		t.Fatalf("save: %d\n%s", status, page)
	}
	g := e.settings().Google
	if g == nil || string(g.KeyJSON.Value()) != string(key) || g.Admin != "admin@acme.example" || g.Domain != "acme.example" || g.GroupFilter != "eng-*" {
		t.Fatalf("stored: %+v", g)
	}
	// Saved again without a file, the stored key stays.
	fields["csrf"], fields["version"], fields["groupFilter"] = c.csrf(page), version(page), "ops-*"
	if status, page = c.postFiles("/google", fields, nil); status != http.StatusOK || strings.Contains(page, "SECRETVALUE") {
		t.Fatalf("save again: %d\n%s", status, page)
	}
	if g = e.settings().Google; string(g.KeyJSON.Value()) != string(key) || g.GroupFilter != "ops-*" {
		t.Fatalf("stored after: %+v", g)
	}
	if status, _ = c.post("/google/sync", url.Values{"csrf": {c.csrf(page)}}); status != http.StatusBadRequest {
		t.Errorf("sync without a syncer: %d, want 400", status)
	}
}

func TestSettingsSectionsWithoutSettings(t *testing.T) {
	e := newEnv(t)
	c := e.client("acme")
	c.signIn("acme")
	for _, p := range []string{"/sso", "/scim", "/google"} {
		if status, page := c.get(p); status != http.StatusOK || !strings.Contains(page, "does not offer this page") ||
			strings.Contains(page, `href="/portal/scim"`) || !strings.Contains(page, `href="/portal/users"`) {
			t.Errorf("%s: %d\n%s", p, status, page)
		}
	}
	c2 := e.client("acme")
	c2.signIn("acme", portal.SectionUsers)
	if status, _ := c2.get("/scim"); status != http.StatusForbidden {
		t.Errorf("scim without the section: %d, want 403", status)
	}
}

func TestOAuthSecretIsWriteOnly(t *testing.T) {
	e := newSettingsEnv(t)
	c := e.client("acme")
	c.signIn("acme")
	_, page := c.get("/sso")
	form := url.Values{"csrf": {c.csrf(page)}, "name": {"google"}, "kind": {"google"}, "clientID": {"client-1"}, "clientSecret": {"SUPERSECRET"}}
	status, page := c.post("/sso/oauth", form)
	if status != http.StatusOK || strings.Contains(page, "SUPERSECRET") || !strings.Contains(page, "<td>set</td>") ||
		!strings.Contains(page, e.srv.URL+"/t/acme/oauth/google/callback") {
		t.Fatalf("save: %d\n%s", status, page)
	}
	// Saved again without the secret, the stored one stays.
	form.Set("csrf", c.csrf(page))
	form.Set("clientSecret", "")
	form.Set("clientID", "client-2")
	if status, page = c.post("/sso/oauth", form); status != http.StatusOK || strings.Contains(page, "SUPERSECRET") {
		t.Fatalf("save again: %d\n%s", status, page)
	}
	o := e.settings().OAuthProvider("google")
	if o == nil || string(o.ClientSecret.Value()) != "SUPERSECRET" || o.ClientID != "client-2" {
		t.Fatalf("stored: %+v", o)
	}
}

// An OAuth provider saved as a draft is in the settings as one: the runtime
// builds it for test sign-ins only, the page lists it as a draft with a
// Test sign-in button; saved with "Save provider", it is active.
func TestOAuthDraftThenActivate(t *testing.T) {
	e := newSettingsEnv(t, func(c *portal.Config) {
		c.TestSignIn = func(w http.ResponseWriter, r *http.Request, tenant, source string) {}
	})
	c := e.client("acme")
	c.signIn("acme")
	_, page := c.get("/sso")
	form := url.Values{"csrf": {c.csrf(page)}, "name": {"google"}, "kind": {"google"}, "clientID": {"client-1"},
		"clientSecret": {"s"}, "action": {"draft"}}
	status, page := c.post("/sso/oauth", form)
	if status != http.StatusOK || !strings.Contains(page, "<td>google (draft)</td>") || !strings.Contains(page, `id="test-oauth-google"`) {
		t.Fatalf("draft: %d\n%s", status, page)
	}
	if o := e.settings().OAuthProvider("google"); o == nil || !o.Draft {
		t.Fatalf("stored draft: %+v", o)
	}
	ctx := context.Background()
	src, err := e.rt.Resolve(ctx, "acme")
	if err != nil || src.OAuth["google"] == nil {
		t.Fatalf("the draft is not built: %v", err)
	}
	if _, err := src.OAuth["google"].Begin(ctx, src.Keys, ""); !errors.Is(err, oauth.ErrDraft) {
		t.Errorf("a real login through the draft: %v, want oauth.ErrDraft", err)
	}
	if _, err := src.OAuth["google"].BeginTest(ctx, src.Keys); err != nil {
		t.Errorf("a test login of the draft: %v", err)
	}
	form.Set("csrf", c.csrf(page))
	form.Set("action", "activate")
	if status, page = c.post("/sso/oauth", form); status != http.StatusOK || strings.Contains(page, "(draft)") {
		t.Fatalf("activate: %d\n%s", status, page)
	}
	if o := e.settings().OAuthProvider("google"); o == nil || o.Draft {
		t.Fatalf("stored after activation: %+v", o)
	}
	if src, err = e.rt.Resolve(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := src.OAuth["google"].Begin(ctx, src.Keys, ""); err != nil {
		t.Errorf("a real login after activation: %v", err)
	}

	// A live provider is not turned back into a draft: its sign-ins would stop.
	form.Set("csrf", c.csrf(page))
	form.Set("action", "draft")
	form.Set("clientID", "client-2")
	if status, page = c.post("/sso/oauth", form); status != http.StatusBadRequest || !strings.Contains(page, "google is in use") {
		t.Fatalf("draft of a live provider: %d\n%s", status, page)
	}
	if o := e.settings().OAuthProvider("google"); o == nil || o.Draft || o.ClientID != "client-1" {
		t.Fatalf("stored after the refused draft: %+v", o)
	}
}

func TestSetupLinkScopedToSCIM(t *testing.T) {
	e := newSettingsEnv(t)
	c := e.client("acme")
	c.signIn("acme", portal.SectionSCIM)
	if status, page := c.get("/scim"); status != http.StatusOK || strings.Contains(page, `href="/portal/sso"`) {
		t.Fatalf("scim: %d\n%s", status, page)
	}
	for _, p := range []string{"/sso", "/google", "/users"} {
		if status, _ := c.get(p); status != http.StatusForbidden {
			t.Errorf("%s with a SCIM-only link: %d, want 403", p, status)
		}
	}
}

func TestGoogleSyncFuse(t *testing.T) {
	var runs []portal.GoogleSyncOptions
	e := newSettingsEnv(t, func(c *portal.Config) {
		c.GoogleSync = func(_ context.Context, tenant string, o portal.GoogleSyncOptions) (googlesync.Report, error) {
			runs = append(runs, o)
			rep := googlesync.Report{Tenant: tenant, DryRun: o.DryRun, Groups: 3, MembersRemoved: 5}
			if !o.DryRun && !o.Force {
				return rep, &googlesync.ThresholdError{What: "memberships", Remove: 5, Of: 10, Limit: 0.2}
			}
			return rep, nil
		}
	})
	c := e.client("acme")
	c.signIn("acme")
	status, page := c.get("/google")
	if status != http.StatusOK || !strings.Contains(page, `id="sync-now"`) {
		t.Fatalf("google page: %d\n%s", status, page)
	}
	if status, page = c.post("/google/sync", url.Values{"csrf": {c.csrf(page)}, "dryRun": {"on"}}); status != http.StatusOK || !strings.Contains(page, "Dry run: what a sync would change") {
		t.Fatalf("dry run: %d\n%s", status, page)
	}
	if status, page = c.post("/google/sync", url.Values{"csrf": {c.csrf(page)}}); status != http.StatusOK ||
		!strings.Contains(page, "would remove 5 of 10 memberships") || !strings.Contains(page, `id="apply-anyway"`) {
		t.Fatalf("fuse: %d\n%s", status, page)
	}
	if status, _ = c.post("/google/sync", url.Values{"csrf": {c.csrf(page)}, "force": {"on"}}); status != http.StatusBadRequest {
		t.Errorf("apply anyway without confirming: %d, want 400", status)
	}
	if status, page = c.post("/google/sync", url.Values{"csrf": {c.csrf(page)}, "force": {"on"}, "confirm": {"on"}}); status != http.StatusOK || !strings.Contains(page, "Sync report") {
		t.Fatalf("apply anyway: %d\n%s", status, page)
	}
	want := []portal.GoogleSyncOptions{{DryRun: true}, {}, {Force: true}}
	if len(runs) != len(want) || runs[0] != want[0] || runs[1] != want[1] || runs[2] != want[2] {
		t.Errorf("runs %+v, want %+v", runs, want)
	}
}

// A live SAML connection has a Test sign-in button, which hands the host
// the tenant and the source to test; a new connection's button is
// disabled, and a source of another kind is refused.
func TestTestSignInButton(t *testing.T) {
	var got []string
	e := newSettingsEnv(t, func(c *portal.Config) {
		c.TestSignIn = func(w http.ResponseWriter, r *http.Request, tenant, source string) {
			got = append(got, tenant+" "+source)
			http.Redirect(w, r, "/idp/sso?SAMLRequest=x", http.StatusFound) // the test server has no IdP: a 404 there
		}
	})
	c := e.client("acme")
	c.signIn("acme")
	_, page := c.get("/sso/saml?name=okta&idp=okta")
	if !strings.Contains(page, `disabled id="test-signin"`) {
		t.Fatalf("a new connection's test button is not disabled:\n%s", page)
	}
	md, err := os.ReadFile("../saml/testdata/idp-metadata.xml")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{"csrf": c.csrf(page), "version": version(page), "preset": "okta", "action": "activate"}
	if status, page := c.postFiles("/sso/saml/okta", fields, map[string][]byte{"metadataFile": md}); status != http.StatusOK || !strings.Contains(page, `<button type="submit" id="test-signin"`) {
		t.Fatalf("activated connection without a test button: %d\n%s", status, page)
	}
	if status, _ := c.post("/sso/test", url.Values{"source": {"saml:okta"}}); status != http.StatusForbidden {
		t.Errorf("test without the CSRF token: %d, want 403", status)
	}
	// The host's redirect to the IdP is answered as a page that goes on
	// there: the form-action 'self' of the page would stop the redirect.
	status, cont := c.post("/sso/test", url.Values{"csrf": {c.csrf(page)}, "source": {"saml:okta"}})
	if len(got) != 1 || got[0] != "acme saml:okta" {
		t.Errorf("test sign-ins started: %v", got)
	}
	if status != http.StatusOK || !strings.Contains(cont, `<meta http-equiv="refresh" content="0; url=/idp/sso?SAMLRequest=x">`) ||
		!strings.Contains(cont, `id="continue-idp" href="/idp/sso?SAMLRequest=x"`) {
		t.Errorf("the page that goes on to the IdP: %d\n%s", status, cont)
	}
	if status, _ := c.post("/sso/test", url.Values{"csrf": {c.csrf(page)}, "source": {"ldap:x"}}); status != http.StatusNotFound {
		t.Errorf("unknown kind: %d, want 404", status)
	}
	// A new connection saved as a draft can be tested: the runtime has it.
	_, page = c.get("/sso/saml?name=trial&idp=generic")
	fields = map[string]string{"csrf": c.csrf(page), "version": version(page), "preset": "", "action": "draft"}
	if status, page := c.postFiles("/sso/saml/trial", fields, map[string][]byte{"metadataFile": md}); status != http.StatusOK ||
		!strings.Contains(page, `<button type="submit" id="test-signin"`) || !strings.Contains(page, `id="draft-note"`) {
		t.Fatalf("a draft without a test button: %d\n%s", status, page)
	}
	c.post("/sso/test", url.Values{"csrf": {c.csrf(page)}, "source": {"saml:trial"}})
	if len(got) != 2 || got[1] != "acme saml:trial" {
		t.Errorf("test sign-ins started: %v", got)
	}
	// A draft over a live connection is not what the runtime has: its
	// button is disabled.
	_, page = c.get("/sso/saml/okta")
	fields = map[string]string{"csrf": c.csrf(page), "version": version(page), "preset": "okta", "action": "draft"}
	if status, page := c.postFiles("/sso/saml/okta", fields, map[string][]byte{"metadataFile": md}); status != http.StatusOK ||
		!strings.Contains(page, `disabled id="test-signin"`) {
		t.Fatalf("a draft over a live connection: %d\n%s", status, page)
	}
}
