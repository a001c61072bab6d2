package tenant_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rollcall/rollcall/settings"
)

// A tenant's admin enters the Google API's endpoint and the key (whose
// token_uri the token is asked at): with no HTTPClient given, the runtime
// reaches them through a client that refuses internal addresses, so a
// tenant cannot make the server call its own network.
func TestGoogleRefusesInternalAddresses(t *testing.T) {
	var calls atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token": "t", "token_type": "Bearer", "expires_in": 3600, "groups": []}`))
	}))
	defer internal.Close()
	pem, err := os.ReadFile("../saml/testdata/keys/sp.key")
	if err != nil {
		t.Fatal(err)
	}
	key, err := json.Marshal(map[string]string{
		"type": "service_account", "private_key_id": "k1", "private_key": string(pem),
		"client_email": "sync@acme.iam.gserviceaccount.com", "token_uri": internal.URL + "/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.rt.Create(ctx, "acme", settings.Settings{Google: &settings.Google{
		Enabled: true, KeyJSON: settings.NewSecret(key), Admin: "admin@acme.example", Endpoint: internal.URL,
	}}); err != nil {
		t.Fatal(err)
	}
	src, err := e.rt.Resolve(ctx, "acme")
	if err != nil || src.Google == nil {
		t.Fatalf("Google not built: %v, %v", err, src.Errors)
	}
	_, err = src.Google.Sync(ctx, src.Directory)
	if err == nil || !strings.Contains(err.Error(), "netguard") {
		t.Errorf("Sync against a loopback endpoint = %v, want netguard's refusal", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the internal server got %d requests, want none", n)
	}
}
