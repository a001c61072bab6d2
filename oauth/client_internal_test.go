package oauth

import (
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// TestDefaultClientTimesOut: without Deps.HTTPClient a connection's
// requests to the provider are bounded, so a hung provider cannot hold
// logins forever.
func TestDefaultClientTimesOut(t *testing.T) {
	c, err := New(Config{
		Provider:       Google,
		ClientID:       "1234.apps.googleusercontent.com",
		ClientSecret:   "secret",
		RedirectURL:    "https://desks.example/oauth/google/callback",
		AllowedDomains: []string{"desks.example"},
	}, identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if c.client.Timeout != DefaultHTTPTimeout {
		t.Errorf("default client timeout = %s, want %s", c.client.Timeout, DefaultHTTPTimeout)
	}
}
