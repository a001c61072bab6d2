package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/storage/memory"
)

func TestLoginHandlerCookie(t *testing.T) {
	conn, err := oauth.New(oauth.Config{Provider: oauth.Google, ClientID: "c", RedirectURL: "https://desks.example/oauth/google/callback"}, identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	db := memory.New()
	dir, err := identity.New(db.Tenant("acme"), identity.Config{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := oauth.NewHandler(oauth.HandlerConfig{
		Resolve:    identity.Fixed(identity.Tenant{Directory: dir, Keys: db.Keys("acme", nil)}),
		Connection: func(context.Context, identity.Tenant, string) (*oauth.Connection, error) { return conn, nil },
		SignedIn:   func(http.ResponseWriter, *http.Request, oauth.Result) { t.Error("signed in") },
	})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.Login().ServeHTTP(w, httptest.NewRequest("GET", "https://desks.example/oauth/google/login?return_to=/desks", nil))
	if w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), oauth.Google.AuthURL+"?") {
		t.Fatalf("login: %d %q", w.Code, w.Header().Get("Location"))
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	c := cookies[0]
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/oauth/google/callback" || c.MaxAge != 600 || c.Value == "" {
		t.Errorf("cookie %+v", c)
	}
	if !strings.Contains(w.Header().Get("Location"), "state="+c.Value) {
		t.Errorf("the cookie does not hold the state of %s", w.Header().Get("Location"))
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
	}

	// A callback without state or cookie: 400, generic, and the cookie is
	// deleted.
	w = httptest.NewRecorder()
	h.Callback().ServeHTTP(w, httptest.NewRequest("GET", "https://desks.example/oauth/google/callback?code=x", nil))
	if w.Code != http.StatusBadRequest || !strings.HasPrefix(w.Body.String(), "Sign-in failed.") {
		t.Errorf("callback: %d %q", w.Code, w.Body)
	}
	if cs := w.Result().Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("callback cookies %v", cs)
	}
}

func TestHandlerResolverError(t *testing.T) {
	noConn := func(context.Context, identity.Tenant, string) (*oauth.Connection, error) {
		t.Error("Connection called after Resolve failed")
		return nil, nil
	}
	for _, c := range []struct {
		err  error
		code int
	}{
		{errors.New("database down"), http.StatusInternalServerError},
		{fmt.Errorf("no tenant here: %w", identity.ErrNotFound), http.StatusNotFound},
	} {
		h, err := oauth.NewHandler(oauth.HandlerConfig{
			Resolve:    func(*http.Request) (identity.Tenant, error) { return identity.Tenant{}, c.err },
			Connection: noConn,
			SignedIn:   func(http.ResponseWriter, *http.Request, oauth.Result) {},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, handler := range []http.Handler{h.Login(), h.Callback()} {
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, httptest.NewRequest("GET", "/oauth/google/login", nil))
			if w.Code != c.code || strings.Contains(w.Body.String(), "database") || strings.Contains(w.Body.String(), "tenant") {
				t.Errorf("%v: %d %q, want %d", c.err, w.Code, w.Body, c.code)
			}
		}
	}
	db := memory.New()
	dir, err := identity.New(db.Tenant("acme"), identity.Config{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := oauth.NewHandler(oauth.HandlerConfig{
		Resolve: identity.Fixed(identity.Tenant{Directory: dir, Keys: db.Keys("acme", nil)}),
		Connection: func(_ context.Context, _ identity.Tenant, name string) (*oauth.Connection, error) {
			return nil, fmt.Errorf("provider %q: %w", name, oauth.ErrNoConnection)
		},
		SignedIn: func(http.ResponseWriter, *http.Request, oauth.Result) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.Login().ServeHTTP(w, httptest.NewRequest("GET", "/oauth/google/login", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("unknown provider: %d %q, want 404", w.Code, w.Body)
	}
	if _, err := oauth.NewHandler(oauth.HandlerConfig{}); err == nil {
		t.Error("NewHandler without Resolve: no error")
	}
}
