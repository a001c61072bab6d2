package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/oauth"
)

// The errors of a sign-in keep their causes (wrapped with %w), so that a
// host tells a provider outage (ErrProvider: keys, token endpoint down or
// 5xx, discovery) from a bad token (ErrToken) or a refused code
// (ErrExchange), and reaches the typed cause with errors.As.
func TestErrorCauses(t *testing.T) {
	ok := map[string]any{"sub": "e-1", "email": "ann@example.com", "email_verified": true}
	newT := func(t *testing.T) (*fakeOP, *tenant) {
		f := newFakeOP(t, identitytest.NewClock())
		tn := newTenant(t, f, oauth.Config{Provider: oauth.Discover("corp", f.URL)})
		ok["iss"] = f.URL
		return f, tn
	}
	only := func(t *testing.T, err, want error) {
		t.Helper()
		for _, kind := range []error{oauth.ErrProvider, oauth.ErrToken, oauth.ErrExchange} {
			if errors.Is(err, kind) != (kind == want) {
				t.Errorf("errors.Is(%v, %v) = %v", err, kind, !(kind == want))
			}
		}
	}

	t.Run("keys endpoint down", func(t *testing.T) {
		f, tn := newT(t)
		f.keysStatus = http.StatusServiceUnavailable
		_, err := tn.signIn(ok)
		only(t, err, oauth.ErrProvider)
		f.keysStatus = 0
		if _, err := tn.signIn(ok); err != nil {
			t.Errorf("after the outage: %v", err)
		}
	})
	t.Run("token endpoint 503", func(t *testing.T) {
		f, tn := newT(t)
		f.tokenStatus = http.StatusServiceUnavailable
		_, err := tn.signIn(ok)
		only(t, err, oauth.ErrProvider)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("errors.As RetrieveError: %v", err)
		}
	})
	t.Run("token endpoint refuses the code", func(t *testing.T) {
		_, tn := newT(t)
		login := tn.begin()
		tn.f.mu.Lock()
		tn.f.challenge = "not-the-challenge"
		tn.f.mu.Unlock()
		_, err := tn.conn.Finish(context.Background(), tn.dir, tn.keys, oauth.Callback{State: login.State, Code: "c", BrowserState: login.State})
		only(t, err, oauth.ErrExchange)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("errors.As RetrieveError: %v", err)
		}
	})
	t.Run("token endpoint unreachable", func(t *testing.T) {
		f := newFakeOP(t, identitytest.NewClock())
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		p := f.at(oauth.Discover("corp", f.URL))
		p.TokenURL, p.AuthStyle = dead.URL+"/token", oauth2.AuthStyleInHeader
		tn := newTenant(t, f, oauth.Config{Provider: p})
		_, err := tn.signIn(map[string]any{"iss": f.URL, "sub": "e-1", "email": "ann@example.com", "email_verified": true})
		only(t, err, oauth.ErrProvider)
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Errorf("errors.As url.Error: %v", err)
		}
	})
	t.Run("discovery down", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		conn, err := oauth.New(oauth.Config{Provider: oauth.Discover("corp", dead.URL), ClientID: clientID, RedirectURL: "https://app.example/cb"}, identity.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Begin(context.Background(), nil, "")
		only(t, err, oauth.ErrProvider)
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Errorf("errors.As url.Error: %v", err)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		f, tn := newT(t)
		expired := map[string]any{"exp": f.clock.Now().Add(-time.Hour).Unix()}
		for k, v := range ok {
			expired[k] = v
		}
		_, err := tn.signIn(expired)
		only(t, err, oauth.ErrToken)
		var te *oidc.TokenExpiredError
		if !errors.As(err, &te) {
			t.Errorf("errors.As TokenExpiredError: %v", err)
		}
	})
}
