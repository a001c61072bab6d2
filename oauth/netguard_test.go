package oauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/netguard"
	"github.com/rollcall/rollcall/storage/memory"
)

// TestDiscoveryGuarded runs OIDC discovery through a netguard client given
// as Deps.HTTPClient: refused on loopback by default, done once the host
// allows loopback.
func TestDiscoveryGuarded(t *testing.T) {
	var srv *httptest.Server
	hits := 0
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                srv.URL,
			"authorization_endpoint":                srv.URL + "/auth",
			"token_endpoint":                        srv.URL + "/token",
			"jwks_uri":                              srv.URL + "/jwks",
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	}))
	defer srv.Close()
	keys := memory.New().Keys("t", nil)

	c := mustConnection(t, Config{Provider: Discover("idp", srv.URL)}, identity.Deps{HTTPClient: netguard.New(netguard.Config{}).Client()})
	if _, err := c.Begin(t.Context(), keys, ""); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Begin with a loopback issuer through the guard: %v, want the address refused", err)
	}
	if hits != 0 {
		t.Errorf("the issuer was reached %d times", hits)
	}

	allow := netguard.New(netguard.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	c = mustConnection(t, Config{Provider: Discover("idp", srv.URL)}, identity.Deps{HTTPClient: allow.Client()})
	login, err := c.Begin(t.Context(), keys, "")
	if err != nil {
		t.Fatalf("Begin with loopback allowed: %v", err)
	}
	if !strings.HasPrefix(login.URL, srv.URL+"/auth?") {
		t.Errorf("login URL %q, want the discovered authorization endpoint", login.URL)
	}
}
