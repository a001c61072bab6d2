package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/groups"
)

// fakeGoogle is Google's token endpoint and as much of the Directory API as
// one sync of one group with one member reads.
func fakeGoogle(t *testing.T) (srv *httptest.Server, tokens *atomic.Int32) {
	t.Helper()
	tokens = new(atomic.Int32)
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	authorized := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != "Bearer fake-access-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return false
		}
		return true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || r.PostForm.Get("assertion") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		tokens.Add(1)
		writeJSON(w, map[string]any{"access_token": "fake-access-token", "token_type": "Bearer", "expires_in": 3600})
	})
	mux.HandleFunc("GET /admin/directory/v1/groups", func(w http.ResponseWriter, r *http.Request) {
		if authorized(w, r) {
			writeJSON(w, map[string]any{"groups": []map[string]any{{"id": "g1", "email": "eng@acme.example", "name": "Engineering"}}})
		}
	})
	mux.HandleFunc("GET /admin/directory/v1/groups/{key}/members", func(w http.ResponseWriter, r *http.Request) {
		if authorized(w, r) {
			writeJSON(w, map[string]any{"members": []map[string]any{{"id": "u1", "email": "ada@acme.example", "type": "USER", "status": "ACTIVE"}}})
		}
	})
	user := map[string]any{"id": "u1", "primaryEmail": "ada@acme.example", "name": map[string]any{"givenName": "Ada", "familyName": "Lovelace"}}
	mux.HandleFunc("GET /admin/directory/v1/users/{key}", func(w http.ResponseWriter, r *http.Request) {
		if authorized(w, r) {
			writeJSON(w, user)
		}
	})
	mux.HandleFunc("GET /admin/directory/v1/users", func(w http.ResponseWriter, r *http.Request) {
		if authorized(w, r) {
			writeJSON(w, map[string]any{"users": []any{user}})
		}
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, tokens
}

// googleKeyFile writes a service account key whose token_uri is the fake's.
func googleKeyFile(t *testing.T, tokenURI string) string {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(samlTestdata, "keys", "sp.key"))
	require.NoError(t, err)
	key, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "acme", "private_key_id": "k1", "private_key": string(pem),
		"client_email": "rollcall@acme.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenURI,
	})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "google-key.json")
	require.NoError(t, os.WriteFile(path, key, 0o600))
	return path
}

func TestGoogleSyncRunsAtStart(t *testing.T) {
	api, tokens := fakeGoogle(t)
	config := writeConfig(t, fmt.Sprintf(`{"google": {"keyFile": %q, "admin": "admin@acme.example", "endpoint": %q, "interval": "1h"}}`,
		googleKeyFile(t, api.URL+"/token"), api.URL))
	addr, stderr, stop := started(t, []string{"-addr", "127.0.0.1:0", "-config", config}, map[string]string{EnvAdminToken: testToken})

	// The first sync runs at start: the group becomes an external group of
	// the source google, with its member.
	type groupsPage struct {
		Groups []groupJSON `json:"groups"`
		Total  int         `json:"total"`
	}
	var page groupsPage
	require.Eventually(t, func() bool {
		_, body := get(t, "http://"+addr+"/api/v1/groups?kind=external", testToken)
		page = groupsPage{}
		return json.Unmarshal([]byte(body), &page) == nil && page.Total == 1
	}, 15*time.Second, 50*time.Millisecond, "stderr: %s", stderr)
	assert.Equal(t, "Engineering", page.Groups[0].Name)
	assert.Equal(t, groups.SourceGoogle, page.Groups[0].Source)
	assert.Equal(t, groups.External, page.Groups[0].Kind)
	_, body := get(t, "http://"+addr+"/api/v1/users", testToken)
	assert.Contains(t, body, "ada@acme.example")
	assert.Equal(t, int32(1), tokens.Load(), "one access token, by the service account's JWT")

	require.NoError(t, stop(), "the sync stops with the server")
	assert.Contains(t, stderr.String(), "google=true")
	assert.Contains(t, stderr.String(), "groupSource=google")
}

func TestGoogleConfigErrors(t *testing.T) {
	// Google and SCIM both sync groups: the server does not start.
	config := writeConfig(t, `{"google": {"keyFile": "key.json", "admin": "admin@acme.example"}}`)
	err := run(t.Context(), []string{"-config", config, "-db", ":memory:"}, env(map[string]string{EnvSCIMToken: testSCIMToken}), io.Discard, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"scim"`)
	assert.Contains(t, err.Error(), `"google"`)

	// A key file that is not there, or not a key, stops it at start.
	err = run(t.Context(), []string{"-config", config, "-db", ":memory:"}, env(nil), io.Discard, nil)
	assert.ErrorContains(t, err, `field "google.keyFile"`)
	notAKey := filepath.Join(t.TempDir(), "key.json")
	require.NoError(t, os.WriteFile(notAKey, []byte(`{"type": "authorized_user"}`), 0o600))
	config = writeConfig(t, `{"google": {"keyFile": "`+notAKey+`", "admin": "admin@acme.example"}}`)
	err = run(t.Context(), []string{"-config", config, "-db", ":memory:"}, env(nil), io.Discard, nil)
	assert.ErrorContains(t, err, `field "google"`)

	for _, tc := range []struct{ content, want string }{
		{`{"google": {"admin": "admin@acme.example"}}`, `field "google.keyFile": required`},
		{`{"google": {"keyFile": "k.json"}}`, `field "google.admin": required`},
		{`{"google": {"keyFile": "k.json", "admin": "a@acme.example", "customer": "C01", "domain": "acme.example"}}`, `not both`},
		{`{"google": {"keyFile": "k.json", "admin": "a@acme.example", "interval": "10s"}}`, `field "google.interval"`},
		{`{"google": {"keyFile": "k.json", "admin": "a@acme.example", "maxRemove": -1}}`, `field "google.maxRemove"`},
		{`{"google": {"keyFile": "k.json", "admin": "a@acme.example", "groupFilter": "team-[*"}}`, `field "google.groupFilter"`},
		{`{"google": {"keyFile": "k.json", "admin": "a@acme.example", "endpoint": "admin.googleapis.com"}}`, `field "google.endpoint"`},
		{`{"google": {"keyfile": "k.json"}}`, `unknown field "google.keyfile" (did you mean "keyFile"?)`},
	} {
		_, err := loadConfig(writeConfig(t, tc.content), env(nil))
		if assert.Error(t, err, tc.content) {
			assert.Contains(t, err.Error(), tc.want)
			assert.False(t, strings.Contains(err.Error(), "panic"))
		}
	}
}
