package saml

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// testPending marks a request ID as a test login's, issued to the browser
// of testBinding, as TestLogin does.
func (e *env) testPending(t *testing.T, id string) {
	t.Helper()
	if _, err := e.keys.SetIfAbsent(context.Background(), e.conn.testKey(id), pendingValue(testBinding, ""), e.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
}

func (e *env) postTest(t *testing.T, xml string) (Result, error) {
	t.Helper()
	e.testPending(t, fixtureRequest)
	return e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(xml), Binding: testBinding})
}

// A test login's response runs the whole protocol and writes nothing but
// its connection.tested event; the report says what the sign-in would do.
func TestTestLoginReportsAndWritesNothing(t *testing.T) {
	e := newEnv(t, nil)
	res, err := e.postTest(t, fixtureXML(t, "both-signed"))
	if err != nil {
		t.Fatalf("ACS of a test: %v\n%s", err, e.log)
	}
	rep := res.Test
	if rep == nil {
		t.Fatal("no report for a test login")
	}
	if rep.Reason != "" || rep.Resolved != identity.ResolvedNew || rep.User.Email != "jane.doe@example.test" || rep.NameID != "jane-persistent-7f3a" {
		t.Errorf("report %+v", rep)
	}
	if got := rep.Attributes["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"]; len(got) != 1 || got[0] != "Jane" {
		t.Errorf("given name in the report: %q (attributes %+v)", got, rep.Attributes)
	}
	if res.User.ID != "" {
		t.Errorf("a test signed someone in: %+v", res.User)
	}
	ctx := context.Background()
	if _, err := e.dir.Reader().UserByEmail(ctx, "jane.doe@example.test"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("the test created the user: %v", err)
	}
	evs, err := e.dir.Events(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != identity.ConnectionTested || evs[0].Source != "saml:acme" {
		t.Errorf("events of a test: %+v, want one connection.tested", evs)
	}
	// The test's request is not a login's: a real sign-in with it fails,
	// and the real login's request is not a test's.
	if _, err := e.conn.ACS(ctx, e.dir, e.keys, Post{SAMLResponse: b64(fixtureXML(t, "response-signed")), Binding: testBinding}); err == nil {
		t.Error("a second response to the test's request was accepted")
	}
	res, err = e.post(t, fixtureXML(t, "response-signed"))
	if err != nil || res.Test != nil || !res.Created {
		t.Errorf("a real login after the test: %+v, %v", res, err)
	}
}

// A response the protocol refuses is reported with its typed reason to the
// admin who tests, instead of the generic failure.
func TestTestLoginReportsRefusals(t *testing.T) {
	for _, tc := range []struct{ fixture, reason string }{
		{"wrong-audience", ReasonAudience},
		{"expired", ReasonExpired},
	} {
		e := newEnv(t, nil)
		res, err := e.postTest(t, fixtureXML(t, tc.fixture))
		if err != nil {
			t.Fatalf("%s: a test's refusal returned as an error: %v", tc.fixture, err)
		}
		if res.Test == nil || res.Test.Reason != tc.reason || res.Test.Refusal == "" {
			t.Errorf("%s: report %+v, want reason %s", tc.fixture, res.Test, tc.reason)
		}
	}
	// The core's refusal: a deactivated user.
	e := newEnv(t, nil)
	real, err := e.post(t, fixtureXML(t, "both-signed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.Deactivate(context.Background(), identity.Manual, real.User.ID); err != nil {
		t.Fatal(err)
	}
	res, err := e.postTest(t, fixtureXML(t, "assertion-signed"))
	if err != nil || res.Test == nil || res.Test.Reason != "signin" || !errors.Is(res.Test.SignInTest.Err, identity.ErrDeactivated) {
		t.Errorf("deactivated: %+v, %v", res.Test, err)
	}
}

// Over HTTP: TestLogin sends the browser to the IdP with a binding cookie;
// the ACS answers the report as JSON (no Tested set), and signs nobody in.
func TestHandlerTestLogin(t *testing.T) {
	e := newEnv(t, nil)
	mux := e.mux(func(http.ResponseWriter, *http.Request, Result) { t.Error("SignedIn called for a test") })
	h, err := NewHandler(HandlerConfig{
		Resolve:    identity.Fixed(identity.Tenant{Directory: e.dir, Keys: e.keys}),
		Connection: func(context.Context, identity.Tenant, string) (*Connection, error) { return e.conn, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET /saml/{connection}/test", h.TestLogin())
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/saml/acme/test", nil))
	if w.Code != http.StatusFound || !strings.Contains(w.Header().Get("Location"), "SAMLRequest=") {
		t.Fatalf("test login: %d %s", w.Code, w.Header().Get("Location"))
	}
	if ck := w.Result().Cookies(); len(ck) != 1 || ck[0].Name != "saml_acme" {
		t.Errorf("binding cookie: %v", ck)
	}
	e.testPending(t, fixtureRequest)
	w = postForm(mux, "/saml/acme/acs", url.Values{"SAMLResponse": {b64(fixtureXML(t, "both-signed"))}})
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("ACS of a test: %d %s", w.Code, w.Body)
	}
	var rep map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep["Resolved"] != identity.ResolvedNew || rep["NameID"] != "jane-persistent-7f3a" {
		t.Errorf("report JSON: %s", w.Body)
	}
}

func TestSecretAttributesRedacted(t *testing.T) {
	for name, want := range map[string]bool{"password": true, "userPassword": true, "client_secret": true, "accessToken": true, "mail": false, "memberOf": false} {
		if got := secretName(name); got != want {
			t.Errorf("secretName(%q) = %v, want %v", name, got, want)
		}
	}
}

// A draft (Config.Draft) answers test logins only: Login is refused with
// ErrDraft, and so is any response that is not to a test login (here a
// real login's request and an IdP-initiated one, which the connection
// would otherwise accept), with reason "draft"; a test login's response is
// reported as for a live connection.
func TestDraftAnswersTestLoginsOnly(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Draft = true; c.AllowIDPInitiated = true })
	ctx := context.Background()
	if _, err := e.conn.Login(ctx, e.keys, ""); !errors.Is(err, ErrDraft) || Reason(err) != ReasonDraft {
		t.Errorf("Login of a draft: %v, want ErrDraft", err)
	}
	if _, err := e.post(t, fixtureXML(t, "response-signed")); !errors.Is(err, ErrDraft) || Reason(err) != ReasonDraft || status(err) != http.StatusForbidden {
		t.Errorf("a real login's response to a draft: %v, want reason draft", err)
	}
	if _, err := e.conn.ACS(ctx, e.dir, e.keys, Post{SAMLResponse: b64(fixtureXML(t, "idp-initiated"))}); Reason(err) != ReasonDraft {
		t.Errorf("an IdP-initiated response to a draft: %v, want reason draft", err)
	}
	if _, err := e.dir.Reader().UserByEmail(ctx, "jane.doe@example.test"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("a draft signed someone in: %v", err)
	}
	res, err := e.postTest(t, fixtureXML(t, "both-signed"))
	if err != nil || res.Test == nil || res.Test.Reason != "" || res.Test.Resolved != identity.ResolvedNew {
		t.Fatalf("test login of a draft: %+v %v\n%s", res.Test, err, e.log)
	}
}
