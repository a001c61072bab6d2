package saml

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// mux mounts the handlers as a host would, for the one tenant of e.
func (e *env) mux(signedIn func(http.ResponseWriter, *http.Request, Result)) *http.ServeMux {
	h, err := NewHandler(HandlerConfig{
		Resolve: identity.Fixed(identity.Tenant{Directory: e.dir, Keys: e.keys}),
		Connection: func(_ context.Context, _ identity.Tenant, name string) (*Connection, error) {
			if name != e.conn.Name() {
				return nil, fmt.Errorf("no connection %q: %w", name, identity.ErrNotFound)
			}
			return e.conn, nil
		},
		SignedIn: signedIn,
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /saml/{connection}/metadata", h.Metadata())
	mux.Handle("GET /saml/{connection}/login", h.Login())
	mux.Handle("/saml/{connection}/acs", h.ACS())
	return mux
}

// postForm posts a form from the browser of testBinding.
func postForm(mux http.Handler, path string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(&http.Cookie{Name: "saml_acme", Value: testBinding})
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

func TestHandlers(t *testing.T) {
	e := newEnv(t, nil)
	mux := e.mux(nil)
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}

	if w := get("/saml/acme/metadata"); w.Code != 200 || !strings.Contains(w.Body.String(), spACS) ||
		w.Header().Get("Content-Type") != "application/samlmetadata+xml" {
		t.Errorf("metadata: %d %s", w.Code, w.Body)
	}
	if w := get("/saml/other/metadata"); w.Code != 404 {
		t.Errorf("unknown connection: %d", w.Code)
	}
	w := get("/saml/acme/login?return_to=%2Fdesks")
	if loc, _ := url.Parse(w.Header().Get("Location")); w.Code != http.StatusFound || loc.Host != "idp.example.test" ||
		loc.Query().Get("RelayState") != "/desks" || loc.Query().Get("SAMLRequest") == "" {
		t.Errorf("login: %d %s", w.Code, w.Header().Get("Location"))
	}
	if cks := w.Result().Cookies(); len(cks) != 1 || cks[0].Name != "saml_acme" || cks[0].Path != "/saml/acme/acs" ||
		!cks[0].Secure || !cks[0].HttpOnly || cks[0].SameSite != http.SameSiteNoneMode || len(cks[0].Value) < 20 {
		t.Errorf("binding cookie: %+v", w.Result().Cookies())
	}
	if w := get("/saml/acme/login?return_to=%2F%2Fevil.example.test"); w.Code != http.StatusBadRequest {
		t.Errorf("login to another site: %d", w.Code)
	}
	if w := get("/saml/acme/acs"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET acs: %d", w.Code)
	}

	// A good response: signed in, sent to the RelayState kept with the request.
	e.pending(t, fixtureRequest, "/desks")
	w = postForm(mux, "/saml/acme/acs", url.Values{"SAMLResponse": {b64(fixtureXML(t, "both-signed"))}, "RelayState": {"https://evil.example.test/"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/desks" {
		t.Errorf("acs: %d %q %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if cks := w.Result().Cookies(); len(cks) != 1 || cks[0].MaxAge >= 0 {
		t.Errorf("the binding cookie is not cleared: %+v", cks)
	}

	// A replayed one: a generic page, the reason in the log only.
	e.pending(t, fixtureRequest, "/desks")
	w = postForm(mux, "/saml/acme/acs", url.Values{"SAMLResponse": {b64(fixtureXML(t, "both-signed"))}})
	if w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "replay") || !strings.Contains(w.Body.String(), "Sign-in failed") {
		t.Errorf("replay: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(e.log.String(), "reason=replay") {
		t.Errorf("log:\n%s", e.log)
	}

	for name, form := range map[string]url.Values{
		"no response": {},
		"not base64":  {"SAMLResponse": {"%%%"}},
		"too large":   {"SAMLResponse": {strings.Repeat("A", DefaultMaxBodyBytes+1)}},
	} {
		if w := postForm(mux, "/saml/acme/acs", form); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Sign-in failed") {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
}

func TestHandlerSignedIn(t *testing.T) {
	e := newEnv(t, nil)
	var got Result
	mux := e.mux(func(w http.ResponseWriter, r *http.Request, res Result) {
		got = res
		http.SetCookie(w, &http.Cookie{Name: "session", Value: res.User.ID, Expires: res.Expires})
		w.WriteHeader(http.StatusNoContent)
	})
	e.pending(t, fixtureRequest, "")
	w := postForm(mux, "/saml/acme/acs", url.Values{"SAMLResponse": {b64(fixtureXML(t, "encrypted"))}})
	session := false
	for _, ck := range w.Result().Cookies() {
		session = session || ck.Name == "session" && ck.Value == got.User.ID
	}
	if w.Code != http.StatusNoContent || got.User.Email != "jane.doe@example.test" || !session {
		t.Errorf("%d %+v %v", w.Code, got, w.Result().Cookies())
	}
}

// A response posted by a browser that did not start the login (login CSRF:
// an attacker's own response, auto-posted from the victim's browser) is
// refused; UnboundRequests turns the check off.
func TestHandlerBinding(t *testing.T) {
	e := newEnv(t, nil)
	mux := e.mux(nil)
	e.pending(t, fixtureRequest, "/desks")
	r := httptest.NewRequest(http.MethodPost, "/saml/acme/acs", strings.NewReader(url.Values{"SAMLResponse": {b64(fixtureXML(t, "both-signed"))}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(&http.Cookie{Name: "saml_acme", Value: "the victim's own login"})
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || !strings.Contains(e.log.String(), "reason=binding") {
		t.Errorf("%d\n%s", w.Code, e.log)
	}

	// With no cookie at all, an http ACS names the likely cause (SameSite
	// over plain http); an https ACS does not.
	for _, acs := range []string{"http://sp.example.test/saml/acme/acs", spACS} {
		e = newEnv(t, func(c *Config) { c.ACSURL = acs })
		e.pending(t, fixtureRequest, "/desks")
		_, err := e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(fixtureXML(t, "both-signed"))})
		assertRejected(t, e, err, ReasonBinding)
		if got, want := errors.Is(err, ErrHTTPBindingCookie), acs != spACS; got != want {
			t.Errorf("%s: errors.Is(err, ErrHTTPBindingCookie) = %v (%v)", acs, got, err)
		}
	}

	e = newEnv(t, func(c *Config) { c.UnboundRequests = true })
	e.pending(t, fixtureRequest, "/desks")
	if _, err := e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(fixtureXML(t, "both-signed"))}); err != nil {
		t.Errorf("UnboundRequests: %v", err)
	}
}

// A resolver's error matching identity.ErrNotFound answers 404, any other
// 500; NewHandler wants Resolve and Connection.
func TestHandlerResolveErrors(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("no tenant at this host: %w", identity.ErrNotFound), http.StatusNotFound},
		{errors.New("database down"), http.StatusInternalServerError},
	} {
		h, err := NewHandler(HandlerConfig{
			Resolve:    func(*http.Request) (identity.Tenant, error) { return identity.Tenant{}, c.err },
			Connection: func(context.Context, identity.Tenant, string) (*Connection, error) { return e.conn, nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.Metadata().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/saml/acme/metadata", nil))
		if w.Code != c.code || strings.Contains(w.Body.String(), "database") || strings.Contains(w.Body.String(), "tenant") {
			t.Errorf("%v: %d %q, want %d", c.err, w.Code, w.Body, c.code)
		}
	}
	if _, err := NewHandler(HandlerConfig{Resolve: identity.Fixed(identity.Tenant{Directory: e.dir, Keys: e.keys})}); err == nil {
		t.Error("NewHandler without Connection: no error")
	}
}
