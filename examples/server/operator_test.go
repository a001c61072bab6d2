package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/sqlstore/sqlstoretest"
	"github.com/rollcall/rollcall/tenant"
)

// newOperatorServer serves the configured tenant and the operator API, as
// run does, on a private in-memory SQLite database.
func newOperatorServer(t *testing.T) *testServer {
	t.Helper()
	return newOperatorServerEnv(t, nil)
}

// newOperatorServerEnv is newOperatorServer with the environment vars.
func newOperatorServerEnv(t *testing.T, vars map[string]string) *testServer {
	t.Helper()
	cfg, err := loadConfig("", env(map[string]string{EnvAdminToken: testToken}))
	require.NoError(t, err)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	where := storeFlags{sqlite: ":memory:"}
	stores, closeStore, err := openStore(context.Background(), where, logger)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, closeStore()) })
	s, err := newServer(cfg, stores, logger)
	require.NoError(t, err)
	op, err := openOperator(s, stores.db, where, env(vars))
	require.NoError(t, err)
	require.NotNil(t, op)
	ts := httptest.NewServer(op.wrap(s.handler()))
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, logs: logs}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../saml/testdata/" + name)
	require.NoError(t, err)
	return string(b)
}

// TestOperatorTwoTenantsSCIM sets two tenants up through the operator API
// only: each tenant's SCIM token reads and writes only its own users.
func TestOperatorTwoTenantsSCIM(t *testing.T) {
	ts := newOperatorServer(t)
	tokens := map[string]string{}
	for _, id := range []string{"acme", "beta"} {
		res := ts.call(t, "POST", "/api/v1/tenants", map[string]any{"id": id, "settings": map[string]any{"scim": map[string]any{"enabled": true}}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		assert.Equal(t, `"1"`, res.header.Get("ETag"))
		res = ts.call(t, "POST", "/api/v1/tenants/"+id+"/scim-tokens", map[string]any{"name": "Entra"})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		tokens[id] = decode[map[string]any](t, res)["token"].(string)
		user := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "ada@" + id + ".example", "active": true}
		res = ts.callAs(t, tokens[id], "POST", "/t/"+id+"/scim/v2/Users", user, "Content-Type", "application/scim+json")
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	}
	res := ts.callAs(t, tokens["acme"], "GET", "/t/acme/scim/v2/Users", nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, string(res.body), "ada@acme.example")
	assert.NotContains(t, string(res.body), "beta")
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, tokens["beta"], "GET", "/t/acme/scim/v2/Users", nil).status)
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, tokens["acme"], "GET", "/t/nobody/scim/v2/Users", nil).status)

	// The tokens are listed without themselves; a revoked one is refused.
	res = ts.call(t, "GET", "/api/v1/tenants/acme/scim-tokens", nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.NotContains(t, string(res.body), tokens["acme"])
	list := decode[struct {
		Tokens []struct{ ID, Name string }
	}](t, res)
	require.Len(t, list.Tokens, 1)
	assert.Equal(t, http.StatusNoContent, ts.call(t, "DELETE", "/api/v1/tenants/acme/scim-tokens/"+list.Tokens[0].ID, nil).status)
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, tokens["acme"], "GET", "/t/acme/scim/v2/Users", nil).status)

	// Disabled, beta answers as if it did not exist; enabled, it serves again.
	assert.Equal(t, http.StatusNoContent, ts.call(t, "POST", "/api/v1/tenants/beta/disable", nil).status)
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, tokens["beta"], "GET", "/t/beta/scim/v2/Users", nil).status)
	assert.Equal(t, http.StatusNoContent, ts.call(t, "POST", "/api/v1/tenants/beta/enable", nil).status)
	assert.Equal(t, http.StatusOK, ts.callAs(t, tokens["beta"], "GET", "/t/beta/scim/v2/Users", nil).status)

	res = ts.call(t, "GET", "/api/v1/tenants", nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.Len(t, decode[map[string][]tenantJSON](t, res)["tenants"], 2)

	// Deleted, beta is gone with its data.
	assert.Equal(t, http.StatusNoContent, ts.call(t, "DELETE", "/api/v1/tenants/beta", nil).status)
	assert.Equal(t, http.StatusNotFound, ts.call(t, "GET", "/api/v1/tenants/beta/settings", nil).status)
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, tokens["beta"], "GET", "/t/beta/scim/v2/Users", nil).status)
	assert.Equal(t, http.StatusNotFound, ts.call(t, "DELETE", "/api/v1/tenants/beta", nil).status)

	// The operator API needs the admin token; the configured tenant is not
	// the operator's.
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, "", "GET", "/api/v1/tenants", nil).status)
	assert.Equal(t, http.StatusConflict, ts.call(t, "POST", "/api/v1/tenants", map[string]any{"id": "default"}).status)
	assert.Equal(t, http.StatusUnprocessableEntity, ts.call(t, "POST", "/api/v1/tenants", map[string]any{"id": "Bad ID"}).status)
}

// loginLocation starts an SP-initiated login and returns where it sends the
// browser.
func loginLocation(t *testing.T, ts *testServer, path string) string {
	t.Helper()
	client := *ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Get(ts.URL + path)
	require.NoError(t, err)
	res.Body.Close()
	require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, res.StatusCode)
	return res.Header.Get("Location")
}

// TestOperatorSettingsAtRuntime: a SAML connection's metadata replaced
// through the API is in force at the next login, without a restart; secrets
// are write-only; If-Match guards the replacement; key rotation publishes
// the next certificate.
func TestOperatorSettingsAtRuntime(t *testing.T) {
	ts := newOperatorServer(t)
	conn := map[string]any{
		"name": "okta", "idpMetadata": readTestdata(t, "idp-metadata.xml"), "entityID": ts.URL + "/t/acme/saml/okta/metadata",
		"acsURL": ts.URL + "/t/acme/saml/okta/acs",
	}
	provider := map[string]any{"name": "google", "kind": "google", "clientID": "cid", "clientSecret": "very-secret-value", "redirectURL": ts.URL + "/t/acme/oauth/google/callback"}
	res := ts.call(t, "POST", "/api/v1/tenants", map[string]any{"id": "acme", "settings": map[string]any{"saml": []any{conn}, "oauth": []any{provider}}})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	assert.True(t, strings.HasPrefix(loginLocation(t, ts, "/t/acme/saml/okta/login"), "https://idp.example.test/sso?"))

	res = ts.call(t, "GET", "/api/v1/tenants/acme/settings", nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, `"1"`, res.header.Get("ETag"))
	assert.NotContains(t, string(res.body), "very-secret-value")
	assert.NotContains(t, string(res.body), "PRIVATE KEY")
	var cur map[string]any
	require.NoError(t, json.Unmarshal(res.body, &cur))
	delete(cur, "version")
	delete(cur, "updated")
	saml := cur["saml"].([]any)[0].(map[string]any)
	saml["idpMetadata"] = strings.ReplaceAll(readTestdata(t, "idp-metadata.xml"), "https://idp.example.test/sso", "https://idp2.example.test/sso")

	res = ts.call(t, "PUT", "/api/v1/tenants/acme/settings", cur, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, `"2"`, res.header.Get("ETag"))
	assert.True(t, strings.HasPrefix(loginLocation(t, ts, "/t/acme/saml/okta/login"), "https://idp2.example.test/sso?"))
	res = ts.call(t, "PUT", "/api/v1/tenants/acme/settings", cur, "If-Match", `"1"`)
	assert.Equal(t, http.StatusPreconditionFailed, res.status, "%s", res.body)

	// The secrets sent back as {"set": true} were kept: the OAuth login
	// still works, and so does SAML (its key).
	oauthLogin := loginLocation(t, ts, "/t/acme/oauth/google/login")
	assert.Contains(t, oauthLogin, "client_id=cid")

	// Metadata that does not parse is refused, naming the connection; the
	// stored settings stay in force.
	saml["idpMetadata"] = "<EntityDescriptor/>"
	res = ts.call(t, "PUT", "/api/v1/tenants/acme/settings", cur)
	require.Equal(t, http.StatusUnprocessableEntity, res.status, "%s", res.body)
	assert.Contains(t, string(res.body), `"saml[0]"`)
	assert.True(t, strings.HasPrefix(loginLocation(t, ts, "/t/acme/saml/okta/login"), "https://idp2.example.test/sso?"))

	// A bad field is named.
	bad := map[string]any{"saml": []any{map[string]any{"name": "okta", "entityID": "x", "acsURL": "nope", "idpMetadataURL": "https://idp/md"}}}
	res = ts.call(t, "PUT", "/api/v1/tenants/acme/settings", bad)
	require.Equal(t, http.StatusUnprocessableEntity, res.status)
	assert.Contains(t, string(res.body), `"saml[0].acsURL"`)

	// The changes are events that name the fields, never a secret.
	res = ts.call(t, "GET", "/api/v1/tenants/acme/events", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Contains(t, string(res.body), `"settings.changed"`)
	assert.Contains(t, string(res.body), `"saml[okta].idpMetadata"`)
	assert.NotContains(t, string(res.body), "very-secret-value")

	// Rotation: the next certificate is published beside the active one.
	res = ts.call(t, "POST", "/api/v1/tenants/acme/saml/okta/keys/rotate", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	md := ts.call(t, "GET", "/t/acme/saml/okta/metadata", nil)
	require.Equal(t, http.StatusOK, md.status)
	assert.Equal(t, 3, strings.Count(string(md.body), "</X509Certificate>"), "the active certificate twice (signing, encryption) and the next one")
	res = ts.call(t, "POST", "/api/v1/tenants/acme/saml/okta/keys/promote", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, http.StatusUnprocessableEntity, ts.call(t, "POST", "/api/v1/tenants/acme/saml/okta/keys/promote", nil).status)
	assert.Equal(t, http.StatusNotFound, ts.call(t, "POST", "/api/v1/tenants/acme/saml/nope/keys/rotate", nil).status)
}

func TestSettingsKeyring(t *testing.T) {
	keys := "k2:%s,k1:%s"
	keys = fmt.Sprintf(keys, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("A"), 32)), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("B"), 32)))
	k, err := settingsKeyring(storeFlags{postgres: "x"}, env(map[string]string{EnvSettingsKeys: keys}))
	require.NoError(t, err)
	assert.Equal(t, "k2", k.Primary())
	for _, bad := range []string{"k1", "k1:not base64!", "k1:QUFB"} {
		_, err := settingsKeyring(storeFlags{}, env(map[string]string{EnvSettingsKeys: bad}))
		assert.Error(t, err, bad)
	}
	k, err = settingsKeyring(storeFlags{postgres: "x"}, env(nil))
	assert.NoError(t, err)
	assert.Nil(t, k, "PostgreSQL without keys: no operator API")

	path := t.TempDir() + "/rollcall.db"
	first, err := settingsKeyring(storeFlags{sqlite: path}, env(nil))
	require.NoError(t, err)
	info, err := os.Stat(path + "-settings-keys")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	again, err := settingsKeyring(storeFlags{sqlite: path}, env(nil))
	require.NoError(t, err)
	assert.Equal(t, first.Primary(), again.Primary())
}

func TestOperatorSweepsKeys(t *testing.T) {
	cfg, err := loadConfig("", env(map[string]string{EnvAdminToken: testToken}))
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	where := storeFlags{sqlite: ":memory:"}
	stores, closeStore, err := openStore(t.Context(), where, logger)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, closeStore()) })
	s, err := newServer(cfg, stores, logger)
	require.NoError(t, err)
	op, err := openOperator(s, stores.db, where, env(nil))
	require.NoError(t, err)
	_, err = op.rt.Create(t.Context(), "acme", settings.Settings{})
	require.NoError(t, err)
	_, err = stores.keys("acme").SetIfAbsent(t.Context(), "oauth:state:x", []byte("x"), time.Now().Add(-time.Minute))
	require.NoError(t, err)
	op.sweepKeys(t.Context())
	n, err := stores.keys("acme").DeleteExpired(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n, "the sweep left an expired key")
}

// do sends a JSON request with the admin token to a running server.
func do(t *testing.T, method, url string, body any, header ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, b
}

// TestTwoServersOnePostgres runs two servers on one PostgreSQL database: a
// settings change made through one is in force on the other within the
// runtime's bound (2 seconds).
func TestTwoServersOnePostgres(t *testing.T) {
	dsn := sqlstoretest.DSN(t)
	vars := map[string]string{
		EnvAdminToken:   testToken,
		EnvSettingsKeys: "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k"), 32)),
	}
	addrA, _, _ := started(t, []string{"-addr", "127.0.0.1:0", "-postgres", dsn}, vars)
	addrB, _, _ := started(t, []string{"-addr", "127.0.0.1:0", "-postgres", dsn}, vars)
	a, b := "http://"+addrA, "http://"+addrB

	status, _, body := do(t, "POST", a+"/api/v1/tenants", map[string]any{"id": "acme", "settings": map[string]any{"scim": map[string]any{"enabled": true}}})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	status, _, body = do(t, "POST", a+"/api/v1/tenants/acme/scim-tokens", map[string]any{"name": "entra"})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var tok struct{ Token string }
	require.NoError(t, json.Unmarshal(body, &tok))
	scimStatus := func(base string) int {
		code, _ := get(t, base+"/t/acme/scim/v2/Users", tok.Token)
		return code
	}
	// B knows the tenant made through A at its first request.
	require.Equal(t, http.StatusOK, scimStatus(b))

	// SCIM turned off through A: B refuses within the bound.
	status, _, body = do(t, "PUT", a+"/api/v1/tenants/acme/settings", map[string]any{"scim": map[string]any{"enabled": false}}, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, status, "%s", body)
	changed := time.Now()
	assert.Equal(t, http.StatusUnauthorized, scimStatus(a), "A at once")
	for scimStatus(b) != http.StatusUnauthorized {
		require.Less(t, time.Since(changed), tenant.DefaultPollInterval+time.Second, "B still serves SCIM after the bound")
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("in force on B after %v", time.Since(changed).Round(time.Millisecond))
}
