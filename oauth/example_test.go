package oauth_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/storage/memory"
)

// A host mounts the login and callback handlers on its own mux. Its resolver
// names the tenant of the request, and its Connection function picks that
// tenant's connection by the {provider} path segment; the tenant's
// connections are built once with New and kept.
func Example() {
	db := memory.New()
	google, err := oauth.New(oauth.Config{
		Provider:       oauth.Google,
		ClientID:       "1234.apps.googleusercontent.com",
		ClientSecret:   "from-the-environment",
		RedirectURL:    "https://desks.example/oauth/google/callback",
		AllowedDomains: []string{"flexopus.com"},
	}, identity.Deps{})
	if err != nil {
		panic(err)
	}
	connections := map[string]*oauth.Connection{"google": google}

	handler, err := oauth.NewHandler(oauth.HandlerConfig{
		Resolve: func(r *http.Request) (identity.Tenant, error) {
			tenant := "acme" // from the host name, say
			dir, err := identity.New(db.Tenant(tenant), identity.Config{Tenant: tenant})
			return identity.Tenant{Directory: dir, Keys: db.Keys(tenant, nil)}, err
		},
		Connection: func(_ context.Context, _ identity.Tenant, name string) (*oauth.Connection, error) {
			conn, ok := connections[name] // the tenant's connections
			if !ok {
				return nil, oauth.ErrNoConnection
			}
			return conn, nil
		},
		SignedIn: func(w http.ResponseWriter, r *http.Request, res oauth.Result) {
			// Start the host's own session for res.User here.
			http.Redirect(w, r, res.ReturnTo, http.StatusSeeOther)
		},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /oauth/{provider}/login", handler.Login())
	mux.Handle("GET /oauth/{provider}/callback", handler.Callback())

	// What the login handler does: keep state, nonce and PKCE verifier, and
	// send the browser to Google.
	login, err := google.Begin(context.Background(), db.Keys("acme", nil), "/desks")
	if err != nil {
		panic(err)
	}
	u, _ := url.Parse(login.URL)
	params := slices.Sorted(maps.Keys(u.Query()))
	fmt.Println(u.Host + u.Path)
	fmt.Println(params)
	fmt.Println(u.Query().Get("code_challenge_method"), u.Query().Get("scope"), u.Query().Get("hd"))
	// Output:
	// accounts.google.com/o/oauth2/v2/auth
	// [client_id code_challenge code_challenge_method hd nonce redirect_uri response_type scope state]
	// S256 openid email profile flexopus.com
}
