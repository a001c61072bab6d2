package portal_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/portal"
	"github.com/rollcall/rollcall/storage/memory"
)

// env is a portal for two tenants, acme and globex, told apart by the
// request's host name, mounted at /portal/.
type env struct {
	db      *memory.DB
	t       *testing.T
	clock   *identitytest.Clock
	h       *portal.Handler
	srv     *httptest.Server
	tenants map[string]portal.Tenant
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := memory.New()
	e := &env{t: t, db: db, clock: identitytest.NewClock(), tenants: map[string]portal.Tenant{}}
	for _, name := range []string{"acme", "globex"} {
		dir, err := identity.New(db.Tenant(name), identity.Config{Tenant: name, GroupSource: "scim", Clock: e.clock})
		if err != nil {
			t.Fatal(err)
		}
		e.tenants[name] = portal.Tenant{Directory: dir, Keys: db.Keys(name, e.clock)}
	}
	im, err := importer.New(importer.Config{}, identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	e.h, err = portal.New(portal.Config{
		Tenant: func(r *http.Request) (portal.Tenant, error) {
			name, _, _ := strings.Cut(r.Host, ".")
			if t, ok := e.tenants[name]; ok {
				return t, nil
			}
			return portal.Tenant{}, errors.New("no such tenant")
		},
		SessionKey: bytes.Repeat([]byte{7}, 32),
		Importer:   im,
		InviteURL:  func(_ *http.Request, token string) string { return "https://app.example/accept#" + token },
		Webhooks:   func(tenant string) identity.WebhookStore { return db.Webhooks(tenant) },
		Clock:      e.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/portal/", http.StripPrefix("/portal", e.h))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) dir(tenant string) *identity.Directory { return e.tenants[tenant].Directory }

// client is a browser of one tenant: a cookie jar, and the host name that
// names the tenant.
type client struct {
	e    *env
	host string
	http *http.Client
}

func (e *env) client(tenant string) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{e: e, host: tenant + ".test", http: &http.Client{Jar: jar}}
}

func (c *client) do(method, path string, body io.Reader, contentType string) (int, string) {
	c.e.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+"/portal"+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Host = c.host
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

func (c *client) get(path string) (int, string) { return c.do(http.MethodGet, path, nil, "") }

func (c *client) post(path string, form url.Values) (int, string) {
	return c.do(http.MethodPost, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page.
func (c *client) csrf(page string) string {
	c.e.t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		c.e.t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// signIn mints a setup link for the sections and redeems it; it returns the
// users page.
func (c *client) signIn(tenant string, sections ...portal.Section) string {
	c.e.t.Helper()
	if len(sections) == 0 {
		sections = portal.AllSections
	}
	token, _, err := c.e.h.NewSetupLink(context.Background(), c.e.tenants[tenant], portal.Admin{Name: "it@" + tenant, Sections: sections})
	if err != nil {
		c.e.t.Fatal(err)
	}
	status, body := c.post("/setup", url.Values{"token": {token}})
	if status != http.StatusOK {
		c.e.t.Fatalf("setup: %d\n%s", status, body)
	}
	return body
}

func TestSetupLinkIsSingleUse(t *testing.T) {
	e := newEnv(t)
	token, expires, err := e.h.NewSetupLink(context.Background(), e.tenants["acme"], portal.Admin{Name: "it", Sections: portal.AllSections})
	if err != nil {
		t.Fatal(err)
	}
	if want := e.clock.Now().Add(24 * time.Hour); !expires.Equal(want) {
		t.Errorf("expires %v, want %v", expires, want)
	}
	c := e.client("acme")
	// Opening the link only shows a form: a link preview uses nothing.
	status, body := c.get("/setup?token=" + url.QueryEscape(token))
	if status != http.StatusOK || !strings.Contains(body, `value="`+token+`"`) {
		t.Fatalf("setup page: %d\n%s", status, body)
	}
	if status, body = c.post("/setup", url.Values{"token": {token}}); status != http.StatusOK || !strings.Contains(body, "Add a user") {
		t.Fatalf("first use: %d\n%s", status, body)
	}
	other := e.client("acme")
	if status, body = other.post("/setup", url.Values{"token": {token}}); status != http.StatusForbidden || !strings.Contains(body, "not valid") {
		t.Fatalf("second use: %d, want 403\n%s", status, body)
	}
	if status, _ = other.get("/users"); status != http.StatusUnauthorized {
		t.Errorf("users after a refused link: %d, want 401", status)
	}
}

func TestSetupLinkExpiresAndBelongsToItsTenant(t *testing.T) {
	e := newEnv(t)
	token, _, err := e.h.NewSetupLink(context.Background(), e.tenants["acme"], portal.Admin{Name: "it", Sections: portal.AllSections})
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := e.client("globex").post("/setup", url.Values{"token": {token}}); status != http.StatusForbidden {
		t.Errorf("acme's link at globex: %d, want 403", status)
	}
	e.clock.Advance(24*time.Hour + time.Second)
	if status, _ := e.client("acme").post("/setup", url.Values{"token": {token}}); status != http.StatusForbidden {
		t.Errorf("expired link: %d, want 403", status)
	}
	if _, _, err := e.h.NewSetupLink(context.Background(), e.tenants["acme"], portal.Admin{Name: "it"}); err == nil {
		t.Error("a link with no section was minted")
	}
	if _, _, err := e.h.NewSetupLink(context.Background(), e.tenants["acme"], portal.Admin{Name: "it", Sections: []portal.Section{"billing"}}); err == nil {
		t.Error("a link with an unknown section was minted")
	}
}

func TestSessionTimeoutsAndTenant(t *testing.T) {
	e := newEnv(t)
	c := e.client("acme")
	c.signIn("acme")
	// The cookie of acme's session is sent to globex's host too (one
	// server here); it must not open globex.
	g := &client{e: e, host: "globex.test", http: c.http}
	if status, _ := g.get("/users"); status != http.StatusUnauthorized {
		t.Errorf("acme's session at globex: %d, want 401", status)
	}
	for range 10 { // used every 20 minutes: the idle timeout slides
		e.clock.Advance(20 * time.Minute)
		if status, _ := c.get("/users"); status != http.StatusOK {
			t.Fatalf("active session refused at %v: %d", e.clock.Now(), status)
		}
	}
	e.clock.Advance(31 * time.Minute)
	if status, _ := c.get("/users"); status != http.StatusUnauthorized {
		t.Errorf("idle session: %d, want 401", status)
	}

	c = e.client("acme")
	c.signIn("acme")
	for range 30 { // 12 h 30 min in steps of 25 minutes
		e.clock.Advance(25 * time.Minute)
		c.get("/users")
	}
	if status, _ := c.get("/users"); status != http.StatusUnauthorized {
		t.Errorf("session past its absolute timeout: %d, want 401", status)
	}
}

func TestForgedCookieRefused(t *testing.T) {
	e := newEnv(t)
	token, _, err := e.h.NewSetupLink(context.Background(), e.tenants["acme"], portal.Admin{Name: "it", Sections: []portal.Section{portal.SectionUsers}})
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path string, body io.Reader, ck *http.Cookie) *http.Response {
		req, _ := http.NewRequest(method, e.srv.URL+"/portal"+path, body)
		req.Host = "acme.test"
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if ck != nil {
			req.AddCookie(ck)
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res := send(http.MethodPost, "/setup", strings.NewReader(url.Values{"token": {token}}.Encode()), nil)
	cks := res.Cookies()
	if res.StatusCode != http.StatusSeeOther || len(cks) != 1 {
		t.Fatalf("setup: %d, cookies %v", res.StatusCode, cks)
	}
	ck := cks[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/portal/" {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/portal/", ck)
	}
	if got := send(http.MethodGet, "/groups", nil, ck).StatusCode; got != http.StatusForbidden {
		t.Fatalf("groups with the real users-only session: %d, want 403", got)
	}
	payload, sig, _ := strings.Cut(ck.Value, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || !strings.Contains(string(raw), `["users"]`) {
		t.Fatalf("cookie payload %q: %v", raw, err)
	}
	// A session that claims every section, with the old signature.
	raw = []byte(strings.Replace(string(raw), `["users"]`, `["users","groups","import","events"]`, 1))
	forged := &http.Cookie{Name: ck.Name, Value: base64.RawURLEncoding.EncodeToString(raw) + "." + sig}
	if got := send(http.MethodGet, "/groups", nil, forged).StatusCode; got != http.StatusUnauthorized {
		t.Errorf("forged cookie: %d, want 401", got)
	}
}

func TestSectionsAndHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.client("acme")
	c.signIn("acme", portal.SectionUsers)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/portal/groups", nil)
	req.Host = "acme.test"
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("groups with a users-only link: %d, want 403", res.StatusCode)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if status, _ := e.client("nowhere").get("/users"); status != http.StatusNotFound {
		t.Errorf("unknown tenant: %d, want 404", status)
	}
	if status, _ := c.do(http.MethodDelete, "/users", nil, ""); status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /users: %d, want 405", status)
	}
}

func TestCSRFRefused(t *testing.T) {
	e := newEnv(t)
	c := e.client("acme")
	page := c.signIn("acme")
	form := url.Values{"email": {"mallory@acme.example"}}
	if status, _ := c.post("/users", form); status != http.StatusForbidden {
		t.Errorf("POST without the CSRF token: %d, want 403", status)
	}
	form.Set("csrf", "AAAA"+c.csrf(page)[4:])
	if status, _ := c.post("/users", form); status != http.StatusForbidden {
		t.Errorf("POST with a wrong CSRF token: %d, want 403", status)
	}
	if _, err := e.dir("acme").Reader().UserByEmail(context.Background(), "mallory@acme.example"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("a refused POST created the user: %v", err)
	}
	form.Set("csrf", c.csrf(page))
	if status, body := c.post("/users", form); status != http.StatusOK {
		t.Errorf("POST with the token: %d\n%s", status, body)
	}
}

func TestAddUserWithInvitation(t *testing.T) {
	e := newEnv(t)
	c := e.client("acme")
	page := c.signIn("acme")
	status, body := c.post("/users", url.Values{"csrf": {c.csrf(page)}, "email": {"ada@acme.example"},
		"givenName": {"Ada"}, "familyName": {"Lovelace"}, "invite": {"1"}})
	if status != http.StatusOK {
		t.Fatalf("add user: %d\n%s", status, body)
	}
	m := regexp.MustCompile(`value="https://app.example/accept#([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no invitation link on the page:\n%s", body)
	}
	u, err := e.dir("acme").AcceptInvitation(context.Background(), m[1])
	if err != nil {
		t.Fatalf("accept the link shown: %v", err)
	}
	if u.Email != "ada@acme.example" || !u.EmailVerified || u.GivenName != "Ada" {
		t.Errorf("accepted user %+v", u)
	}
	// The link is shown once: the user's page does not show it again.
	if _, body := c.get("/users/" + u.ID); strings.Contains(body, m[1]) {
		t.Error("the invitation token is rendered a second time")
	}
	evs, err := e.dir("acme").Events(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[0].Type != identity.UserCreated || evs[0].Actor != "it@acme" || evs[0].Source != identity.SourceManual {
		t.Errorf("first event %+v, want user.created by it@acme from manual", evs)
	}
	// A duplicate is answered on the form, with the values kept.
	status, body = c.post("/users", url.Values{"csrf": {c.csrf(page)}, "email": {"ADA@acme.example"}, "givenName": {"Other"}})
	if status != http.StatusConflict || !strings.Contains(body, `value="Other"`) {
		t.Errorf("duplicate email: %d\n%s", status, body)
	}
	status, body = c.post("/users", url.Values{"csrf": {c.csrf(page)}, "email": {"not an address"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "<strong>email</strong>") {
		t.Errorf("bad email: %d\n%s", status, body)
	}
}

func TestUserActions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, err := e.dir("acme").CreateUser(ctx, identity.SourceManual, identity.User{Email: "bob@acme.example"}, identity.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client("acme")
	page := c.signIn("acme")
	tok := c.csrf(page)
	if status, body := c.post("/users/"+u.ID+"/deactivate", url.Values{"csrf": {tok}}); status != http.StatusOK || !strings.Contains(body, "The user is deactivated.") {
		t.Fatalf("deactivate: %d\n%s", status, body)
	}
	if got, _ := e.dir("acme").Reader().User(ctx, u.ID); got.Active {
		t.Error("still active")
	}
	if status, _ := c.post("/users/"+u.ID+"/restore", url.Values{"csrf": {tok}}); status != http.StatusOK {
		t.Fatalf("restore: %d", status)
	}
	got, _ := e.dir("acme").Reader().User(ctx, u.ID)
	if !got.Active {
		t.Error("not restored")
	}
	// An edit from a stale form is refused.
	stale := url.Values{"csrf": {tok}, "version": {"1"}, "givenName": {"Robert"}}
	if status, _ := c.post("/users/"+u.ID, stale); status != http.StatusConflict {
		t.Errorf("edit on a stale version: %d, want 409", status)
	}
	fresh := url.Values{"csrf": {tok}, "version": {itoa(got.Version)}, "givenName": {"Robert"}}
	if status, _ := c.post("/users/"+u.ID, fresh); status != http.StatusOK {
		t.Errorf("edit: %d", status)
	}
	if got, _ := e.dir("acme").Reader().User(ctx, u.ID); got.GivenName != "Robert" {
		t.Errorf("given name %q", got.GivenName)
	}
	if status, _ := c.post("/users/"+u.ID+"/delete", url.Values{"csrf": {tok}}); status != http.StatusOK {
		t.Errorf("delete: %d", status)
	}
	if _, err := e.dir("acme").Reader().User(ctx, u.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("deleted user: %v", err)
	}
	if status, _ := c.get("/users/" + u.ID); status != http.StatusNotFound {
		t.Errorf("page of a deleted user: %d", status)
	}
	for _, q := range []string{"%00", "%E2%80%AE", "%E2%80%8B", "%FF"} { // NUL, RLO, zero-width space, not UTF-8
		if status, _ := c.get("/users?q=" + q); status != http.StatusBadRequest {
			t.Errorf("q=%s: %d, want 400", q, status)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestGroups(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := e.dir("acme")
	u, err := dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "cy@acme.example"}, identity.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ext, err := dir.CreateGroup(ctx, "scim", "Engineering", "eng")
	if err != nil {
		t.Fatal(err)
	}
	c := e.client("acme")
	page := c.signIn("acme")
	tok := c.csrf(page)
	status, body := c.post("/groups", url.Values{"csrf": {tok}, "name": {"Desk booking admins"}})
	if status != http.StatusOK || !strings.Contains(body, "An internal group") {
		t.Fatalf("create group: %d\n%s", status, body)
	}
	g, err := dir.Reader().GroupByName(ctx, "desk booking admins")
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := c.post("/groups/"+g.ID+"/members", url.Values{"csrf": {tok}, "email": {"cy@acme.example"}}); status != http.StatusOK {
		t.Fatalf("add member: %d", status)
	}
	if res, _ := dir.Reader().ListUsers(ctx, identity.UserQuery{GroupID: g.ID}); res.Total != 1 || res.Users[0].ID != u.ID {
		t.Errorf("members %+v", res)
	}
	status, body = c.post("/groups/"+ext.ID+"/members", url.Values{"csrf": {tok}, "email": {"cy@acme.example"}})
	if status != http.StatusBadRequest || !strings.Contains(body, "managed by scim") {
		t.Errorf("add to an external group: %d\n%s", status, body)
	}
	if _, body := c.get("/groups"); !strings.Contains(body, "Engineering") || !strings.Contains(body, "external") {
		t.Errorf("groups page:\n%s", body)
	}
	if status, _ := c.post("/groups/"+g.ID+"/members/"+u.ID+"/remove", url.Values{"csrf": {tok}}); status != http.StatusOK {
		t.Errorf("remove member: %d", status)
	}
	if res, _ := dir.Reader().ListUsers(ctx, identity.UserQuery{GroupID: g.ID}); res.Total != 0 {
		t.Errorf("members after remove: %d", res.Total)
	}
	if status, _ := c.get("/groups?kind=other"); status != http.StatusBadRequest {
		t.Errorf("kind=other: %d, want 400", status)
	}
}

func multipartFile(t *testing.T, name string, data []byte, fields map[string]string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

var idRE = regexp.MustCompile(`name="id" value="([^"]+)"`)

func TestImportPreviewThenApply(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := e.dir("acme")
	c := e.client("acme")
	tok := c.csrf(c.signIn("acme"))
	csv := "email,first_name,last_name\nann@acme.example,Ann,Smith\nnot-an-email,Bad,Row\nben@acme.example,Ben,Jones\n"
	body, ct := multipartFile(t, "users.csv", []byte(csv), map[string]string{"csrf": tok})
	status, page := c.do(http.MethodPost, "/import/preview", body, ct)
	if status != http.StatusOK {
		t.Fatalf("preview: %d\n%s", status, page)
	}
	if !strings.Contains(page, `<span id="count-created">2</span>`) || !strings.Contains(page, `<span id="count-errors">1</span>`) ||
		!strings.Contains(page, "<td>3</td>") {
		t.Errorf("preview page:\n%s", page)
	}
	if res, _ := dir.Reader().ListUsers(ctx, identity.UserQuery{}); res.Total != 0 {
		t.Fatalf("the preview wrote %d users", res.Total)
	}
	id := idRE.FindStringSubmatch(page)[1]

	// The tenant changes between the preview and the apply: the plan is
	// shown again, and nothing is applied.
	if _, err := dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "ann@acme.example"}, identity.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	status, page = c.post("/import/apply", url.Values{"csrf": {tok}, "id": {id}})
	if status != http.StatusConflict || !strings.Contains(page, "changed since the preview") || !strings.Contains(page, `<span id="count-created">1</span>`) {
		t.Fatalf("apply after a change: %d\n%s", status, page)
	}
	if res, _ := dir.Reader().ListUsers(ctx, identity.UserQuery{}); res.Total != 1 {
		t.Fatalf("users after a refused apply: %d", res.Total)
	}
	status, page = c.post("/import/apply", url.Values{"csrf": {tok}, "id": {id}})
	if status != http.StatusOK || !strings.Contains(page, "What the import did") || !strings.Contains(page, `<span id="count-created">1</span>`) {
		t.Fatalf("apply: %d\n%s", status, page)
	}
	if _, err := dir.Reader().UserByEmail(ctx, "ben@acme.example"); err != nil {
		t.Errorf("ben not imported: %v", err)
	}
	status, js := c.get("/import/result/" + id)
	if status != http.StatusOK || !strings.Contains(js, `"created":[4]`) || !strings.Contains(js, `"errors":[3]`) {
		t.Errorf("result JSON: %d %s", status, js)
	}
	if status, _ := e.client("globex").get("/import/result/" + id); status != http.StatusUnauthorized {
		t.Errorf("result from another tenant without a session: %d", status)
	}
	g := e.client("globex")
	g.signIn("globex")
	if status, _ := g.get("/import/result/" + id); status != http.StatusNotFound {
		t.Errorf("acme's result read by globex: %d, want 404", status)
	}
	// Applied once: the file is gone, a second apply is refused.
	if status, _ := c.post("/import/apply", url.Values{"csrf": {tok}, "id": {id}}); status != http.StatusBadRequest {
		t.Errorf("second apply: %d, want 400", status)
	}
}

func TestTemplateAndExport(t *testing.T) {
	e := newEnv(t)
	if _, err := e.dir("acme").CreateUser(context.Background(), identity.SourceManual, identity.User{Email: "dee@acme.example"}, identity.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := e.client("acme")
	c.signIn("acme", portal.SectionImport)
	if status, body := c.get("/import/template?format=csv"); status != http.StatusOK || !strings.Contains(body, "email") {
		t.Errorf("template: %d %q", status, body)
	}
	if status, body := c.get("/import/export?format=csv"); status != http.StatusOK || !strings.Contains(body, "dee@acme.example") {
		t.Errorf("export: %d %q", status, body)
	}
	if status, body := c.get("/import/export?format=xlsx"); status != http.StatusOK || !strings.HasPrefix(body, "PK") {
		t.Errorf("xlsx export: %d", status)
	}
	if status, _ := c.get("/import/export?format=pdf"); status != http.StatusBadRequest {
		t.Errorf("pdf: %d, want 400", status)
	}
}

func TestEventsPage(t *testing.T) {
	e := newEnv(t)
	ctx := identity.WithActor(context.Background(), "someone")
	for _, m := range []string{"a", "b", "c"} {
		if _, err := e.dir("acme").CreateUser(ctx, identity.SourceManual, identity.User{Email: m + "@acme.example"}, identity.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.dir("acme").CreateGroup(ctx, identity.SourceManual, "Team", ""); err != nil {
		t.Fatal(err)
	}
	c := e.client("acme")
	c.signIn("acme", portal.SectionEvents)
	_, body := c.get("/events?type=group.created")
	if n := strings.Count(body, "<td>group.created</td>"); n != 1 || strings.Contains(body, "<td>user.created</td>") {
		t.Errorf("filtered events page has %d group.created:\n%s", n, body)
	}
	if _, body = c.get("/events?before=3"); strings.Count(body, "<td>user.created</td>") != 2 || strings.Contains(body, "<td>3</td>") {
		t.Errorf("before=3:\n%s", body)
	}
	for i := range 55 {
		if _, err := e.dir("acme").CreateUser(ctx, identity.SourceManual, identity.User{Email: fmt.Sprintf("p%d@acme.example", i)}, identity.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, body = c.get("/events")
	m := regexp.MustCompile(`before=(\d+)" rel="next"`).FindStringSubmatch(body)
	if m == nil || strings.Count(body, "<td>user.created</td>") != 50 {
		t.Fatalf("first page of 59 events: no link to older ones, or not 50 rows:\n%s", body)
	}
	if _, body = c.get("/events?before=" + m[1]); strings.Count(body, "<tr><td>") != 9 || strings.Contains(body, `rel="next"`) {
		t.Errorf("second page, want the 9 oldest events and no further link:\n%s", body)
	}
	if status, _ := c.get("/events?before=zz"); status != http.StatusBadRequest {
		t.Errorf("before=zz: %d, want 400", status)
	}
}

// TestImportPerTenant: a tenant's own importer (Tenant.Importer) replaces
// Config.Importer for it: its size limit refuses a file another tenant, on
// the Config's importer, previews.
func TestImportPerTenant(t *testing.T) {
	e := newEnv(t)
	small, err := importer.New(importer.Config{MaxFileSize: 100}, identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	acme := e.tenants["acme"]
	acme.Importer = small
	e.tenants["acme"] = acme
	csv := "email,first_name,last_name\n" + strings.Repeat("someone@acme.example,Some,One\n", 5) // over 100 bytes
	for _, tc := range []struct {
		tenant string
		status int
		want   string
	}{
		{"acme", http.StatusBadRequest, "the file is larger than 100 bytes"},
		{"globex", http.StatusOK, `<span id="count-created">1</span>`},
	} {
		c := e.client(tc.tenant)
		tok := c.csrf(c.signIn(tc.tenant))
		body, ct := multipartFile(t, "users.csv", []byte(csv), map[string]string{"csrf": tok})
		status, page := c.do(http.MethodPost, "/import/preview", body, ct)
		if status != tc.status || !strings.Contains(page, tc.want) {
			t.Errorf("%s: %d, want %d with %q\n%s", tc.tenant, status, tc.status, tc.want, page)
		}
	}
}

// The users page counts every user; a search is counted only when its
// first page holds every match, and otherwise says there are more.
func TestUsersSearchCount(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 55 {
		if _, err := e.dir("acme").CreateUser(ctx, identity.SourceManual, identity.User{Email: fmt.Sprintf("p%02d@acme.example", i)}, identity.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.client("acme")
	c.signIn("acme")
	for _, tc := range []struct{ path, want string }{
		{"/users", "55 user(s)."},
		{"/users?q=P0", "10 user(s) matching “P0”."},
		{"/users?q=acme", "Users matching “acme”, more on the next page (a search is not counted)."},
		{"/users?q=nobody", "0 user(s) matching “nobody”."},
	} {
		status, body := c.get(tc.path)
		if status != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d, want %q in\n%s", tc.path, status, tc.want, body)
		}
	}
}
