// Package oidctestserver runs zitadel/oidc's example OpenID provider on
// 127.0.0.1 for tests, and signs in through its login form headless. Only
// tests import it, so that zitadel's code stays out of the library's import
// graph.
package oidctestserver

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// ClientID and ClientSecret are the web client the provider knows. It
// authenticates at the token endpoint with HTTP Basic (client_secret_basic).
const (
	ClientID     = "web"
	ClientSecret = "secret"
)

// User is a user of the provider. The example provider puts email and
// email_verified only in userinfo, not in the ID token.
type User struct {
	ID            string
	Username      string
	Password      string
	FirstName     string
	LastName      string
	Email         string
	EmailVerified bool
}

// Server is a running provider.
type Server struct {
	// Issuer is the provider's issuer, "http://127.0.0.1:<port>/".
	Issuer string
	srv    *httptest.Server
}

// Start runs the provider on 127.0.0.1 until the test ends, with the users
// (written to a users file and read back by storage.StoreFromFile) and the
// web client ClientID whose only redirect URI is redirectURL. It fails the
// test on a setup error.
func Start(t testing.TB, redirectURL string, users ...User) *Server {
	t.Helper()
	byID := make(map[string]User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	data, err := json.Marshal(byID)
	if err != nil {
		t.Fatalf("oidctestserver: %v", err)
	}
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("oidctestserver: %v", err)
	}
	store, err := storage.StoreFromFile(path)
	if err != nil {
		t.Fatalf("oidctestserver: users file: %v", err)
	}
	clients := map[string]*storage.Client{ClientID: storage.WebClient(ClientID, ClientSecret, redirectURL)}

	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String() + "/"
	// A nil logger: SetupServer would otherwise replace slog's default.
	srv.Config.Handler = exampleop.SetupServer(issuer, storage.NewStorageWithClients(store, clients), nil, false)
	srv.Start()
	t.Cleanup(srv.Close)
	return &Server{Issuer: issuer, srv: srv}
}

var loginID = regexp.MustCompile(`name="id" value="([^"]*)"`)

// Login signs username in at the provider for the authorization URL,
// following the provider's redirects and posting its login form with client
// (which should have a cookie jar), and returns the URL the provider then
// redirects to (the redirect URI with code and state, or with an error). It
// does not follow that last redirect.
func (s *Server) Login(client *http.Client, authURL, username, password string) (*url.URL, error) {
	op, err := url.Parse(s.Issuer)
	if err != nil {
		return nil, err
	}
	c := *client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != op.Host || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := c.Get(authURL)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if loc, ok := away(resp, op.Host); ok {
		return loc, nil
	}
	m := loginID.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return nil, fmt.Errorf("oidctestserver: no login form at %s: %s: %.200s", resp.Request.URL, resp.Status, body)
	}
	form := url.Values{"id": {html.UnescapeString(string(m[1]))}, "username": {username}, "password": {password}}
	resp, err = c.PostForm(op.JoinPath("login", "username").String(), form)
	if err != nil {
		return nil, err
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if loc, ok := away(resp, op.Host); ok {
		return loc, nil
	}
	return nil, fmt.Errorf("oidctestserver: login of %q did not redirect away: %s: %.300s", username, resp.Status, body)
}

// away returns the Location of a redirect that leaves the provider.
func away(resp *http.Response, host string) (*url.URL, bool) {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil, false
	}
	loc, err := resp.Location()
	if err != nil || loc.Host == host {
		return nil, false
	}
	return loc, true
}
