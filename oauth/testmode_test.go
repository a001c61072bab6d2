package oauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/oauth/internal/oidctestserver"
)

// testLogin runs a test login for user with the provider and returns the
// report the callback answers.
func (h *host) testLogin(c *http.Client, user oidctestserver.User) (int, oauth.Test) {
	h.t.Helper()
	resp, err := c.Get(h.srv.URL + "/oauth/zitadel/test")
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		h.t.Fatalf("test login: %s", resp.Status)
	}
	auth, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		h.t.Fatal(err)
	}
	status, _, body := h.callback(c, h.authorize(c, auth, user))
	var rep oauth.Test
	if status == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			h.t.Fatalf("report %q: %v", body, err)
		}
	}
	return status, rep
}

// A test login runs the flow with the provider and reports what the
// sign-in would do; nobody is signed in or created, and the one event is
// connection.tested.
func TestFlowTestLoginWritesNothing(t *testing.T) {
	h := newHost(t)
	status, rep := h.testLogin(browser(t), alice)
	if status != http.StatusOK {
		t.Fatalf("callback of a test: %d\n%s", status, h.logs)
	}
	if rep.Reason != "" || rep.Resolved != identity.ResolvedNew || rep.User.Email != alice.Email || rep.Claims.Email != alice.Email {
		t.Errorf("report %+v", rep)
	}
	ctx := context.Background()
	if _, err := h.dir.Reader().UserByEmail(ctx, alice.Email); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("the test created the user: %v", err)
	}
	h.mu.Lock()
	if len(h.signedIn) != 0 {
		t.Errorf("signed in by a test: %+v", h.signedIn)
	}
	h.mu.Unlock()
	evs, err := h.dir.Events(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != identity.ConnectionTested || evs[0].Source != "oauth:zitadel" {
		t.Errorf("events %+v, want one connection.tested", evs)
	}
}

// A refusal is the report's, with its typed reason: here the domain filter.
func TestFlowTestLoginReportsRefusal(t *testing.T) {
	h := newHost(t)
	status, rep := h.testLogin(browser(t), bob)
	if status != http.StatusOK || rep.Reason != oauth.ReasonDomainNotAllowed || rep.Refusal == "" {
		t.Errorf("bob of other.org: %d %+v", status, rep)
	}
	if _, err := h.dir.Reader().UserByEmail(context.Background(), bob.Email); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("bob: %v", err)
	}
}

// A draft provider (Config.Draft) runs test logins only: a real login is
// refused with ErrDraft before the provider is asked, the test reports and
// writes nothing but connection.tested, and once activated (the same
// registration, Draft false) the real sign-in creates the user.
func TestDraftProviderTestsThenActivates(t *testing.T) {
	h := newHost(t, func(c *oauth.Config) { c.Draft = true })
	ctx := context.Background()
	if _, err := h.conn.Load().Begin(ctx, h.db.Keys("acme", nil), ""); !errors.Is(err, oauth.ErrDraft) || oauth.Reason(err) != oauth.ReasonDraft {
		t.Fatalf("Begin on a draft: %v, want ErrDraft", err)
	}
	resp, err := browser(t).Get(h.srv.URL + "/oauth/zitadel/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("login through a draft: %s, want 403", resp.Status)
	}

	status, rep := h.testLogin(browser(t), alice)
	if status != http.StatusOK || rep.Reason != "" || rep.Resolved != identity.ResolvedNew || rep.User.Email != alice.Email {
		t.Fatalf("test of the draft: %d %+v\n%s", status, rep, h.logs)
	}
	if _, err := h.dir.Reader().UserByEmail(ctx, alice.Email); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("the test created the user: %v", err)
	}
	evs, err := h.dir.Events(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != identity.ConnectionTested {
		t.Fatalf("events after the test %+v, want one connection.tested", evs)
	}

	cfg := h.cfg
	cfg.Draft = false
	live, err := oauth.New(cfg, h.deps)
	if err != nil {
		t.Fatal(err)
	}
	h.conn.Store(live)
	if status, loc, body := h.signIn(browser(t), alice, "/desk"); status != http.StatusSeeOther || loc != "/desk" {
		t.Fatalf("sign-in after activation: %d %q %q\n%s", status, loc, body, h.logs)
	}
	u, err := h.dir.Reader().UserByEmail(ctx, alice.Email)
	if err != nil || u.GivenName != alice.FirstName {
		t.Errorf("user after activation: %+v %v", u, err)
	}
}
