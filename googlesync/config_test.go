package googlesync

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/storage/memory"
)

func testDirectory(t *testing.T) *identity.Directory {
	t.Helper()
	dir, err := identity.New(memory.New().Tenant("acme"), identity.Config{Tenant: "acme", GroupSource: "google", Clock: identitytest.NewClock()})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestNewValidates(t *testing.T) {
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"})
	for _, tc := range []struct {
		name string
		cfg  Config
		deps identity.Deps
		want string
	}{
		{"no credentials", Config{}, identity.Deps{}, "no credentials"},
		{"two credentials", Config{TokenSource: ts, KeyJSON: []byte("{}"), Admin: "a@example.com"}, identity.Deps{}, "only one"},
		{"key without admin", Config{KeyJSON: []byte("{}")}, identity.Deps{}, "needs Admin"},
		{"bad key", Config{KeyJSON: []byte("{"), Admin: "a@example.com"}, identity.Deps{}, "service account key"},
		{"customer and domain", Config{TokenSource: ts, Customer: "C1", Domain: "example.com"}, identity.Deps{}, "not both"},
		{"bad filter", Config{TokenSource: ts, GroupFilter: "[a"}, identity.Deps{}, "GroupFilter"},
		{"bad policy", Config{TokenSource: ts, CustomerMembers: 7}, identity.Deps{}, "CustomerMembers"},
		{"bad suspended", Config{TokenSource: ts, Suspended: 3}, identity.Deps{}, "Suspended"},
		{"negative fuse", Config{TokenSource: ts, MaxRemove: -1}, identity.Deps{}, "MaxRemove"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, tc.deps)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one with %q", err, tc.want)
			}
		})
	}
	s, err := New(Config{TokenSource: ts}, identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Customer != "my_customer" || s.cfg.MaxRemove != 0.2 || s.cfg.Retries != 5 || s.cfg.Concurrency != 4 {
		t.Fatalf("defaults: %+v", s.cfg)
	}
}

// TestDomainWideDelegation checks the wiring of a service account key: the
// JWT grant sent to the key's token_uri impersonates the admin with the
// read-only scopes, and the API gets the token.
func TestDomainWideDelegation(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	api := fixture()
	var mu sync.Mutex
	var claims map[string]any
	var grants int
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			t.Errorf("grant_type %q", g)
		}
		parts := strings.Split(r.PostForm.Get("assertion"), ".")
		if len(parts) != 3 {
			t.Fatalf("assertion has %d parts", len(parts))
		}
		// The signature is the test key's.
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
			t.Errorf("assertion signature: %v", err)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		mu.Lock()
		grants++
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Error(err)
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"dwd-token","token_type":"Bearer","expires_in":3600}`))
	})
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer dwd-token" {
			writeError(w, http.StatusUnauthorized, "authError")
			return
		}
		api.ServeHTTP(w, r)
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()

	der := x509.MarshalPKCS1PrivateKey(key)
	keyJSON, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "rollcall-test",
		"private_key_id": "key-1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})),
		"client_email":   "sync@rollcall-test.iam.gserviceaccount.com",
		"client_id":      "1234567890",
		"token_uri":      ts.URL + "/token",
	})
	s, err := New(Config{KeyJSON: keyJSON, Admin: "admin@example.com", Endpoint: ts.URL, Nested: true}, identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Sync(context.Background(), testDirectory(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.UsersCreated != 7 {
		t.Fatalf("report %+v", rep)
	}
	mu.Lock()
	defer mu.Unlock()
	if grants != 1 {
		t.Fatalf("%d token requests, want 1 (the token is reused)", grants)
	}
	if claims["sub"] != "admin@example.com" || claims["iss"] != "sync@rollcall-test.iam.gserviceaccount.com" || claims["aud"] != ts.URL+"/token" {
		t.Fatalf("claims %v", claims)
	}
	scopes, _ := claims["scope"].(string)
	got := strings.Fields(scopes)
	slices.Sort(got)
	want := []string{
		"https://www.googleapis.com/auth/admin.directory.group.member.readonly",
		"https://www.googleapis.com/auth/admin.directory.group.readonly",
		"https://www.googleapis.com/auth/admin.directory.user.readonly",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("scope %q, want %q", got, want)
	}
}

func TestTokenSourceAndHTTPClient(t *testing.T) {
	api := fixture()
	var auth []string
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		api.ServeHTTP(w, r)
	}))
	defer ts.Close()
	var viaClient atomic.Int32
	client := &http.Client{Transport: countingTransport{&viaClient}}
	static := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "static"})
	for i, c := range []struct {
		cfg     Config
		deps    identity.Deps
		auth    string
		counted bool
	}{
		{Config{TokenSource: static, Endpoint: ts.URL}, identity.Deps{}, "Bearer static", false},
		// The token over the Deps' client.
		{Config{TokenSource: static, Endpoint: ts.URL}, identity.Deps{HTTPClient: client}, "Bearer static", true},
		// The Deps' client alone: it adds the credentials itself (here none).
		{Config{Endpoint: ts.URL + "/"}, identity.Deps{HTTPClient: client}, "", true},
	} {
		viaClient.Store(0)
		mu.Lock()
		auth = nil
		mu.Unlock()
		s, err := New(c.cfg, c.deps)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Sync(context.Background(), testDirectory(t)); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if len(auth) == 0 || auth[0] != c.auth || auth[len(auth)-1] != c.auth {
			t.Errorf("case %d: Authorization headers %q, want %q", i, auth, c.auth)
		}
		if n := int(viaClient.Load()); (n == len(auth)) != c.counted || c.counted && n == 0 {
			t.Errorf("case %d: %d of %d requests through Deps.HTTPClient, want all: %v", i, n, len(auth), c.counted)
		}
		mu.Unlock()
	}
}

// countingTransport counts the requests it sends.
type countingTransport struct{ n *atomic.Int32 }

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}
