package oauth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/oauth/internal/oidctestserver"
	"github.com/rollcall/rollcall/storage/memory"
)

// The users of the example OpenID provider in these tests.
var (
	alice = oidctestserver.User{ID: "id-alice", Username: "alice", Password: "pw-alice", FirstName: "Alice", LastName: "Liddell", Email: "alice@example.com", EmailVerified: true}
	carol = oidctestserver.User{ID: "id-carol", Username: "carol", Password: "pw-carol", FirstName: "Carol", LastName: "Unverified", Email: "carol@example.com", EmailVerified: false}
	bob   = oidctestserver.User{ID: "id-bob", Username: "bob", Password: "pw-bob", FirstName: "Bob", LastName: "Other", Email: "bob@other.org", EmailVerified: true}
	dave  = oidctestserver.User{ID: "id-dave", Username: "dave", Password: "pw-dave", FirstName: "Dave", LastName: "Known", Email: "dave@example.com", EmailVerified: true}
	eve   = oidctestserver.User{ID: "id-eve", Username: "eve", Password: "pw-eve", FirstName: "Eve", LastName: "Gone", Email: "eve@example.com", EmailVerified: true}
)

// host is a host application (the relying party) with one tenant, "acme",
// whose connection "zitadel" is the example provider found by discovery.
type host struct {
	t    *testing.T
	srv  *httptest.Server
	op   *oidctestserver.Server
	db   *memory.DB
	dir  *identity.Directory
	logs *syncBuffer
	// cfg is the connection's Config and conn the connection the handler
	// resolves: a test replaces it (a draft activated).
	cfg  oauth.Config
	deps identity.Deps
	conn atomic.Pointer[oauth.Connection]

	mu       sync.Mutex
	signedIn []oauth.Result
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHost(t *testing.T, opts ...func(*oauth.Config)) *host {
	t.Helper()
	h := &host{t: t, db: memory.New(), logs: &syncBuffer{}}
	h.srv = httptest.NewUnstartedServer(nil)
	redirect := "http://" + h.srv.Listener.Addr().String() + "/oauth/zitadel/callback"
	h.op = oidctestserver.Start(t, redirect, alice, carol, bob, dave, eve)

	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.cfg = oauth.Config{
		Provider:       oauth.Discover("zitadel", h.op.Issuer),
		ClientID:       oidctestserver.ClientID,
		ClientSecret:   oidctestserver.ClientSecret,
		RedirectURL:    redirect,
		AllowedDomains: []string{"Example.com"},
	}
	for _, o := range opts {
		o(&h.cfg)
	}
	h.deps = identity.Deps{Logger: logger}
	conn, err := oauth.New(h.cfg, h.deps)
	if err != nil {
		t.Fatal(err)
	}
	h.conn.Store(conn)
	h.dir, err = identity.New(h.db.Tenant("acme"), identity.Config{Tenant: "acme", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	handler, err := oauth.NewHandler(oauth.HandlerConfig{
		Resolve: identity.Fixed(identity.Tenant{Directory: h.dir, Keys: h.db.Keys("acme", nil)}),
		Connection: func(_ context.Context, _ identity.Tenant, name string) (*oauth.Connection, error) {
			conn := h.conn.Load()
			if name != conn.Provider().Name {
				return nil, fmt.Errorf("provider %q: %w", name, oauth.ErrNoConnection)
			}
			return conn, nil
		},
		SignedIn: func(w http.ResponseWriter, r *http.Request, res oauth.Result) {
			h.mu.Lock()
			h.signedIn = append(h.signedIn, res)
			h.mu.Unlock()
			http.Redirect(w, r, res.ReturnTo, http.StatusSeeOther)
		},
		Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /oauth/{provider}/login", handler.Login())
	mux.Handle("GET /oauth/{provider}/callback", handler.Callback())
	mux.Handle("GET /oauth/{provider}/test", handler.TestLogin())
	h.srv.Config.Handler = mux
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

// browser returns an HTTP client with a cookie jar that follows no redirect.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// start opens the login handler and returns the provider's authorization
// URL it redirects to.
func (h *host) start(c *http.Client, returnTo string) *url.URL {
	h.t.Helper()
	u := h.srv.URL + "/oauth/zitadel/login"
	if returnTo != "" {
		u += "?return_to=" + url.QueryEscape(returnTo)
	}
	resp, err := c.Get(u)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		h.t.Fatalf("login: %s, want 302", resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		h.t.Fatal(err)
	}
	return loc
}

// authorize signs user in at the provider and returns the callback URL.
func (h *host) authorize(c *http.Client, authURL *url.URL, user oidctestserver.User) *url.URL {
	h.t.Helper()
	cb, err := h.op.Login(c, authURL.String(), user.Username, user.Password)
	if err != nil {
		h.t.Fatal(err)
	}
	if !strings.HasPrefix(cb.String(), h.srv.URL+"/oauth/zitadel/callback?") {
		h.t.Fatalf("provider redirected to %s", cb)
	}
	return cb
}

// callback opens the callback URL and returns the status, Location and body.
func (h *host) callback(c *http.Client, cb *url.URL) (int, string, string) {
	h.t.Helper()
	resp, err := c.Get(cb.String())
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// signIn runs the whole flow for user and returns the callback's answer.
func (h *host) signIn(c *http.Client, user oidctestserver.User, returnTo string) (int, string, string) {
	h.t.Helper()
	return h.callback(c, h.authorize(c, h.start(c, returnTo), user))
}

// refused checks a refused callback: the status, a generic body that says
// nothing of the reason, and the reason in the log.
func (h *host) refused(status int, body string, wantStatus int, wantLog string) {
	h.t.Helper()
	h.t.Logf("log:\n%s", h.logs)
	if status != wantStatus {
		h.t.Errorf("status %d, want %d; body %q; log:\n%s", status, wantStatus, body, h.logs)
	}
	if !strings.HasPrefix(body, "Sign-in failed.") {
		h.t.Errorf("body %q is not the generic message", body)
	}
	if !strings.Contains(h.logs.String(), wantLog) {
		h.t.Errorf("log lacks %q:\n%s", wantLog, h.logs)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.signedIn) != 0 {
		h.t.Errorf("signed in: %+v", h.signedIn)
	}
}

func TestFlowVerifiedUserInDomainIsCreated(t *testing.T) {
	h := newHost(t)
	c := browser(t)
	status, loc, body := h.signIn(c, alice, "/desks?floor=2")
	if status != http.StatusSeeOther || loc != "/desks?floor=2" {
		t.Fatalf("callback: %d %q %q; log:\n%s", status, loc, body, h.logs)
	}
	if len(h.signedIn) != 1 {
		t.Fatalf("signed in %d times", len(h.signedIn))
	}
	res := h.signedIn[0]
	if !res.Created || res.Linked || res.Source != "oauth:zitadel" || res.Subject != h.op.Issuer+" id-alice" {
		t.Errorf("result %+v", res)
	}
	u, err := h.dir.Reader().UserByLink(context.Background(), "oauth:zitadel", h.op.Issuer+" id-alice")
	if err != nil {
		t.Fatal(err)
	}
	// email and names came from userinfo: the example provider's ID token
	// holds neither.
	if u.ID != res.User.ID || u.Email != "alice@example.com" || !u.EmailVerified || u.GivenName != "Alice" || u.FamilyName != "Liddell" || !u.Active {
		t.Errorf("user %+v", u)
	}

	// The next sign-in finds her by the link.
	status, loc, _ = h.signIn(c, alice, "")
	if status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("second callback: %d %q", status, loc)
	}
	if res := h.signedIn[1]; res.Created || res.Linked || res.User.ID != u.ID {
		t.Errorf("second sign-in %+v", res)
	}
}

func TestFlowExistingUserIsLinkedByVerifiedEmail(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	known, err := h.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "Dave@Example.com"}, identity.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := h.signIn(browser(t), dave, "")
	if status != http.StatusSeeOther {
		t.Fatalf("callback: %d %q; log:\n%s", status, body, h.logs)
	}
	if res := h.signedIn[0]; res.User.ID != known.ID || !res.Linked || res.Created {
		t.Errorf("result %+v", res)
	}
}

func TestFlowRefusesDeactivatedUser(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	gone, err := h.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "eve@example.com"}, identity.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.dir.Deactivate(ctx, identity.SourceManual, gone.ID); err != nil {
		t.Fatal(err)
	}
	status, _, body := h.signIn(browser(t), eve, "")
	h.refused(status, body, http.StatusForbidden, identity.ErrDeactivated.Error())
}

func TestFlowRefusesUnverifiedEmail(t *testing.T) {
	h := newHost(t)
	status, _, body := h.signIn(browser(t), carol, "")
	h.refused(status, body, http.StatusForbidden, "the domain filter needs a verified email")
	if _, err := h.dir.Reader().UserByEmail(context.Background(), carol.Email); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("carol was created: %v", err)
	}
}

func TestFlowRefusesOtherDomain(t *testing.T) {
	h := newHost(t)
	status, _, body := h.signIn(browser(t), bob, "")
	h.refused(status, body, http.StatusForbidden, `email domain \"other.org\" is not allowed`)
}

func TestFlowRefusesWrongVerifier(t *testing.T) {
	h := newHost(t)
	c := browser(t)
	auth := h.start(c, "")
	// The provider is given the challenge of another verifier: the host's
	// own verifier is then the wrong one at the token endpoint.
	q := auth.Query()
	sum := sha256.Sum256([]byte("another verifier, 43 characters or more......"))
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	auth.RawQuery = q.Encode()
	status, _, body := h.callback(c, h.authorize(c, auth, alice))
	h.refused(status, body, http.StatusBadRequest, "invalid_grant")
}

func TestFlowRefusesReplayedState(t *testing.T) {
	h := newHost(t)
	c := browser(t)
	auth := h.start(c, "")
	cb := h.authorize(c, auth, alice)
	if status, _, _ := h.callback(c, cb); status != http.StatusSeeOther {
		t.Fatalf("first callback: %d; log:\n%s", status, h.logs)
	}
	h.signedIn = nil
	// The same callback again, with the browser's cookie put back.
	cbURL, _ := url.Parse(h.srv.URL + "/oauth/zitadel/callback")
	c.Jar.SetCookies(cbURL, []*http.Cookie{{Name: "rollcall_oauth_state", Value: cb.Query().Get("state"), Path: "/oauth/zitadel/callback"}})
	status, _, body := h.callback(c, cb)
	h.refused(status, body, http.StatusBadRequest, "login state: not found")
}

func TestFlowRefusesNonceMismatch(t *testing.T) {
	h := newHost(t)
	c := browser(t)
	auth := h.start(c, "")
	q := auth.Query()
	q.Set("nonce", "a-nonce-the-host-never-issued")
	auth.RawQuery = q.Encode()
	status, _, body := h.callback(c, h.authorize(c, auth, alice))
	h.refused(status, body, http.StatusForbidden, "nonce mismatch")
}

func TestFlowRefusesCallbackInAnotherBrowser(t *testing.T) {
	h := newHost(t)
	// An attacker starts a login and signs in as himself, then lures the
	// victim's browser to the callback URL (login CSRF).
	attacker, victim := browser(t), browser(t)
	cb := h.authorize(attacker, h.start(attacker, ""), alice)
	status, _, body := h.callback(victim, cb)
	h.refused(status, body, http.StatusBadRequest, "not the state this browser started")
}

func TestFlowRefusesReturnURL(t *testing.T) {
	h := newHost(t)
	for _, bad := range []string{"//evil.example/", `/\evil.example`, "https://evil.example/", "javascript:alert(1)", "/\t/evil.example"} {
		resp, err := browser(t).Get(h.srv.URL + "/oauth/zitadel/login?return_to=" + url.QueryEscape(bad))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("return_to %q: %s, want 400", bad, resp.Status)
		}
	}
}

func TestFlowUnknownProvider(t *testing.T) {
	h := newHost(t)
	resp, err := browser(t).Get(h.srv.URL + "/oauth/nope/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("%s, want 404", resp.Status)
	}
}
