package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newOperatorServerFrom is newOperatorServer with the tenant named by from
// (tenantFromPath or tenantFromHost).
func newOperatorServerFrom(t *testing.T, from string) (*testServer, *server) {
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
	s.flows.from = from
	op, err := openOperator(s, stores.db, where, env(nil))
	require.NoError(t, err)
	ts := httptest.NewServer(op.wrap(s.handler()))
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, logs: logs}, s
}

// newTenant creates a runtime tenant through the operator API and returns
// an admin token of it.
func (ts *testServer) newTenant(t *testing.T, id string, st map[string]any) string {
	t.Helper()
	res := ts.call(t, "POST", "/api/v1/tenants", map[string]any{"id": id, "settings": st})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	res = ts.call(t, "POST", "/api/v1/tenants/"+id+"/admin-tokens", nil)
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	tok := decode[map[string]any](t, res)["token"].(string)
	require.True(t, strings.HasPrefix(tok, adminTokenPrefix))
	return tok
}

// TestTenantsIsolated sets two tenants up through the operator API, each
// with its own admin token: each reads and writes only its own users and
// groups through the admin API under /t/{tenant}/.
func TestTenantsIsolated(t *testing.T) {
	ts := newOperatorServer(t)
	tokens := map[string]string{}
	ids := map[string]string{}
	for _, id := range []string{"acme", "beta"} {
		tokens[id] = ts.newTenant(t, id, map[string]any{"scim": map[string]any{"enabled": true}})
		res := ts.callAs(t, tokens[id], "POST", "/t/"+id+"/api/v1/users", map[string]any{"email": "ada@" + id + ".example"})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		ids[id] = decode[userJSON](t, res).ID
	}
	res := ts.callAs(t, tokens["acme"], "GET", "/t/acme/api/v1/users", nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, string(res.body), "ada@acme.example")
	assert.NotContains(t, string(res.body), "beta")
	assert.Equal(t, http.StatusNotFound, ts.callAs(t, tokens["acme"], "GET", "/t/acme/api/v1/users/"+ids["beta"], nil).status,
		"another tenant's user is not found")

	// A tenant's token opens its own API only: not another tenant's, not the
	// configured tenant's, not the operator API.
	for _, path := range []string{"/t/beta/api/v1/users", "/api/v1/users", "/t/default/api/v1/users", "/api/v1/tenants"} {
		res := ts.callAs(t, tokens["acme"], "GET", path, nil)
		assert.Equal(t, http.StatusUnauthorized, res.status, path)
		assert.NotEmpty(t, decode[apiError](t, res).Error, path)
	}
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, tokens["acme"], "POST", "/api/v1/tenants/acme/admin-tokens", nil).status)
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, tokens["acme"]+"x", "GET", "/t/acme/api/v1/users", nil).status)
	// The operator token opens every tenant's.
	res = ts.call(t, "GET", "/t/beta/api/v1/users", nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, string(res.body), "ada@beta.example")

	// The flows of a runtime tenant: groups, members, invitations.
	res = ts.callAs(t, tokens["acme"], "POST", "/t/acme/api/v1/groups", map[string]any{"name": "Engineering"})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	gid := decode[groupJSON](t, res).ID
	assert.Equal(t, http.StatusNoContent, ts.callAs(t, tokens["acme"], "PUT", "/t/acme/api/v1/groups/"+gid+"/members/"+ids["acme"], nil).status)
	assert.Equal(t, http.StatusNotFound, ts.callAs(t, tokens["acme"], "PUT", "/t/acme/api/v1/groups/"+gid+"/members/"+ids["beta"], nil).status)
	assert.Equal(t, http.StatusNotFound, ts.call(t, "GET", "/t/beta/api/v1/groups/"+gid, nil).status)
	res = ts.callAs(t, tokens["acme"], "POST", "/t/acme/api/v1/users/"+ids["acme"]+"/invite", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	invitation := decode[map[string]any](t, res)["invitationToken"].(string)
	assert.Equal(t, http.StatusGone, ts.callAs(t, "", "POST", "/t/beta/api/v1/invitations/accept", map[string]any{"token": invitation}).status)
	assert.Equal(t, http.StatusGone, ts.callAs(t, "", "POST", "/api/v1/invitations/accept", map[string]any{"token": invitation}).status)
	res = ts.callAs(t, "", "POST", "/t/acme/api/v1/invitations/accept", map[string]any{"token": invitation})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.True(t, decode[userJSON](t, res).EmailVerified)
	res = ts.callAs(t, tokens["acme"], "PATCH", "/t/acme/api/v1/users/"+ids["acme"], map[string]any{"givenName": "Ada"}, "If-Match", `"1"`)
	assert.Equal(t, http.StatusPreconditionFailed, res.status, "accepting changed the user")
	assert.Equal(t, http.StatusNoContent, ts.callAs(t, tokens["beta"], "DELETE", "/t/beta/api/v1/users/"+ids["beta"], nil).status)
	assert.Contains(t, string(ts.call(t, "GET", "/t/acme/api/v1/users", nil).body), `"total":1`)

	// The changes made with a tenant's token say so in its events.
	res = ts.callAs(t, tokens["acme"], "GET", "/t/acme/api/v1/events", nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, string(res.body), `"actor":"tenant-admin"`)

	// The health: settings version, SCIM on, its tokens.
	res = ts.callAs(t, tokens["acme"], "GET", "/t/acme/api/v1/settings/health", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	h := decode[healthJSON](t, res)
	assert.Equal(t, "acme", h.Tenant)
	assert.Equal(t, int64(1), h.Version)
	assert.True(t, h.SCIM.Enabled)
	assert.Equal(t, 0, h.SCIM.Tokens)
	assert.False(t, h.Google.Enabled)

	// A disabled tenant answers as if it did not exist, its token included;
	// a deleted one too.
	require.Equal(t, http.StatusNoContent, ts.call(t, "POST", "/api/v1/tenants/acme/disable", nil).status)
	res = ts.callAs(t, tokens["acme"], "GET", "/t/acme/api/v1/users", nil)
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, "not found", decode[apiError](t, res).Error)
	assert.Equal(t, http.StatusNotFound, ts.call(t, "POST", "/api/v1/tenants/acme/admin-tokens", nil).status)
	require.Equal(t, http.StatusNoContent, ts.call(t, "POST", "/api/v1/tenants/acme/enable", nil).status)
	assert.Equal(t, http.StatusOK, ts.callAs(t, tokens["acme"], "GET", "/t/acme/api/v1/users", nil).status)
	require.Equal(t, http.StatusNoContent, ts.call(t, "DELETE", "/api/v1/tenants/beta", nil).status)
	assert.Equal(t, http.StatusNotFound, ts.callAs(t, tokens["beta"], "GET", "/t/beta/api/v1/users", nil).status)
}

// TestTenantExternalGroupRefused: a group made by a runtime tenant's SCIM
// client belongs to SCIM; the admin API refuses to change its members.
func TestTenantExternalGroupRefused(t *testing.T) {
	ts := newOperatorServer(t)
	admin := ts.newTenant(t, "acme", map[string]any{"scim": map[string]any{"enabled": true, "syncGroups": true}})
	res := ts.call(t, "POST", "/api/v1/tenants/acme/scim-tokens", map[string]any{"name": "Entra"})
	require.Equal(t, http.StatusCreated, res.status)
	scimToken := decode[map[string]any](t, res)["token"].(string)
	res = ts.callAs(t, scimToken, "POST", "/t/acme/scim/v2/Groups",
		map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Sales"},
		"Content-Type", "application/scim+json")
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	gid := decode[map[string]any](t, res)["id"].(string)
	uid := decode[userJSON](t, ts.callAs(t, admin, "POST", "/t/acme/api/v1/users", map[string]any{"email": "ada@acme.example"})).ID

	res = ts.callAs(t, admin, "PUT", "/t/acme/api/v1/groups/"+gid+"/members/"+uid, nil)
	require.Equal(t, http.StatusForbidden, res.status, "%s", res.body)
	assert.Contains(t, decode[apiError](t, res).Error, "managed by scim")
	res = ts.callAs(t, admin, "DELETE", "/t/acme/api/v1/groups/"+gid, nil)
	assert.Equal(t, http.StatusForbidden, res.status)
	assert.Equal(t, http.StatusOK, ts.callAs(t, admin, "GET", "/t/acme/api/v1/groups/"+gid, nil).status)
}

func TestAdminTokenRefusals(t *testing.T) {
	ts := newOperatorServer(t)
	ts.newTenant(t, "acme", map[string]any{})
	res := ts.call(t, "POST", "/api/v1/tenants/nobody/admin-tokens", nil)
	assert.Equal(t, http.StatusNotFound, res.status)
	res = ts.call(t, "POST", "/api/v1/tenants/acme/admin-tokens", map[string]any{"expires": time.Now().Add(-time.Hour)})
	require.Equal(t, http.StatusUnprocessableEntity, res.status)
	assert.Equal(t, []string{"expires"}, decode[apiError](t, res).fieldNames())
	res = ts.call(t, "POST", "/api/v1/tenants/acme/admin-tokens", map[string]any{"expires": time.Now().Add(90 * 24 * time.Hour)})
	assert.Equal(t, http.StatusUnprocessableEntity, res.status)
	res = ts.call(t, "POST", "/api/v1/tenants/acme/admin-tokens", `{"expires": 3}`)
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, "", "POST", "/api/v1/tenants/acme/admin-tokens", nil).status)

	// A token of the configured tenant opens its API at / and at /t/default/.
	res = ts.call(t, "POST", "/api/v1/tenants/default/admin-tokens", map[string]any{"expires": time.Now().Add(time.Hour)})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	tok := decode[map[string]any](t, res)["token"].(string)
	assert.Equal(t, http.StatusOK, ts.callAs(t, tok, "GET", "/api/v1/users", nil).status)
	assert.Equal(t, http.StatusOK, ts.callAs(t, tok, "GET", "/t/default/api/v1/users", nil).status)
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, tok, "GET", "/t/acme/api/v1/users", nil).status)
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, tok, "GET", "/api/v1/tenants", nil).status)

	// An expired token is refused.
	f := newFlowState()
	old := f.mintAdminToken("acme", time.Now().Add(-time.Second))
	assert.False(t, f.checkAdminToken("acme", old, time.Now()))
	fresh := f.mintAdminToken("acme", time.Now().Add(time.Minute))
	assert.True(t, f.checkAdminToken("acme", fresh, time.Now()))
	assert.False(t, f.checkAdminToken("acm", fresh, time.Now()))
	assert.False(t, newFlowState().checkAdminToken("acme", fresh, time.Now()), "another key")
}

// TestTenantPortal mints a setup link of a runtime tenant through the
// operator API and opens the tenant's portal with it, under /t/{tenant}/.
func TestTenantPortal(t *testing.T) {
	ts := newOperatorServer(t)
	ts.newTenant(t, "acme", map[string]any{})
	ts.newTenant(t, "beta", map[string]any{})
	res := ts.call(t, "POST", "/api/v1/tenants/acme/portal-links", nil)
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	link := decode[map[string]any](t, res)["link"].(string)
	require.Contains(t, link, "/t/acme/portal/setup?token=")
	u, err := url.Parse(link)
	require.NoError(t, err)
	token := u.Query().Get("token")

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		res, err := client.Get(ts.URL + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	status, _ := get("/t/acme/portal/setup?token=" + url.QueryEscape(token))
	require.Equal(t, http.StatusOK, status)
	redeem := func(tenant string) int {
		res, err := client.PostForm(ts.URL+"/t/"+tenant+"/portal/setup", url.Values{"token": {token}})
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	assert.Equal(t, http.StatusForbidden, redeem("beta"), "another tenant's link")
	require.Equal(t, http.StatusOK, redeem("acme"), "redeemed, then the portal's home")
	status, body := get("/t/acme/portal/")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "/t/acme/portal/", "the portal's links stay under the tenant's prefix")
	status, _ = get("/t/beta/portal/users")
	assert.NotEqual(t, http.StatusOK, status, "the session is acme's")
	assert.Equal(t, http.StatusForbidden, redeem("acme"), "a link works once")

	// The configured tenant's link, and refusals.
	res = ts.call(t, "POST", "/api/v1/tenants/default/portal-links", nil)
	require.Equal(t, http.StatusCreated, res.status)
	assert.Contains(t, decode[map[string]any](t, res)["link"], "/portal/setup?token=")
	assert.Equal(t, http.StatusNotFound, ts.call(t, "POST", "/api/v1/tenants/nobody/portal-links", nil).status)
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, "", "POST", "/api/v1/tenants/acme/portal-links", nil).status)
}

// hostCall sends a request to ts with the Host header set to host.
func (ts *testServer) hostCall(t *testing.T, host, token, method, path string, body ...string) response {
	t.Helper()
	var rd io.Reader
	if len(body) > 0 {
		rd = strings.NewReader(body[0])
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, rd)
	require.NoError(t, err)
	req.Host = host
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// TestTenantFromHost serves the tenants by host name: acme.localhost is acme,
// any other host the configured tenant; /t/{tenant}/ is not served.
func TestTenantFromHost(t *testing.T) {
	ts, _ := newOperatorServerFrom(t, tenantFromHost)
	tokens := map[string]string{}
	for _, id := range []string{"acme", "beta"} {
		tokens[id] = ts.newTenant(t, id, map[string]any{})
		res := ts.hostCall(t, id+".localhost", tokens[id], "POST", "/api/v1/users", `{"email": "ada@`+id+`.example"}`)
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	}
	res := ts.hostCall(t, "acme.localhost:8080", tokens["acme"], "GET", "/api/v1/users")
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Contains(t, string(res.body), "ada@acme.example")
	assert.NotContains(t, string(res.body), "beta")
	assert.Equal(t, http.StatusUnauthorized, ts.hostCall(t, "beta.localhost:8080", tokens["acme"], "GET", "/api/v1/users").status)
	assert.Equal(t, http.StatusNotFound, ts.hostCall(t, "nobody.localhost", testToken, "GET", "/api/v1/users").status)
	res = ts.hostCall(t, "localhost", testToken, "GET", "/api/v1/users")
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, string(res.body), `"total":0`, "the configured tenant")
	assert.Equal(t, http.StatusNotFound, ts.hostCall(t, "127.0.0.1", testToken, "GET", "/t/acme/api/v1/users").status)
	assert.Equal(t, http.StatusNotFound, ts.hostCall(t, "acme.localhost", testToken, "GET", "/api/v1/tenants").status,
		"the operator API is not a tenant's")

	// The links name the tenant's host.
	res = ts.call(t, "POST", "/api/v1/tenants/acme/portal-links", nil)
	require.Equal(t, http.StatusCreated, res.status)
	assert.True(t, strings.HasPrefix(decode[map[string]any](t, res)["link"].(string), "http://acme.localhost:8080/portal/setup?token="))
	res = ts.call(t, "POST", "/api/v1/tenants/acme/admin-tokens", nil)
	assert.Equal(t, "http://acme.localhost:8080/api/v1/", decode[map[string]any](t, res)["api"])
}

func TestTenantFromFlag(t *testing.T) {
	err := run(t.Context(), []string{"-db", ":memory:", "-tenant-from", "cookie"}, env(map[string]string{EnvAdminToken: testToken}), io.Discard, nil)
	assert.ErrorContains(t, err, "-tenant-from")
}

// routeRE finds the routes README's tables list: a method and a path.
var routeRE = regexp.MustCompile("`(GET|POST|PUT|PATCH|DELETE) (/[^`?\\s]*)")

// TestREADMERoutes serves every admin and operator route README's tables
// list, for the configured tenant and under /t/{tenant}/: each is mounted
// (no ServeMux 404 or 405), and an error answers the one JSON shape.
func TestREADMERoutes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "## Example server")
	require.True(t, ok)
	section, _, _ = strings.Cut(section, "## Benchmarks")
	ts := newOperatorServer(t)
	ts.newTenant(t, "acme", map[string]any{})
	seen := 0
	for _, m := range routeRE.FindAllStringSubmatch(section, -1) {
		method, path := m[1], m[2]
		if !strings.HasPrefix(path, "/api/v1/") || strings.Contains(path, "/tenants/{tenant}") && method == "DELETE" {
			continue
		}
		path = strings.NewReplacer("{tenant}", "acme", "{connection}", "okta", "{id}", "x1", "{userId}", "u1").Replace(path)
		for _, p := range []string{path, "/t/acme" + path} {
			if strings.HasPrefix(path, "/api/v1/tenants") && p != path {
				continue
			}
			res := ts.call(t, method, p, nil)
			assert.NotEqual(t, http.StatusMethodNotAllowed, res.status, "%s %s", method, p)
			if res.status >= 400 && !strings.HasPrefix(path, "/api/v1/users/import") {
				assert.Equal(t, "application/json; charset=utf-8", res.header.Get("Content-Type"), "%s %s: %s", method, p, res.body)
				assert.NotEmpty(t, decode[apiError](t, res).Error, "%s %s", method, p)
			}
			seen++
		}
	}
	assert.Greater(t, seen, 40, "README lists the routes")
}

// BenchmarkTenantDispatch reads one user of a runtime tenant under
// /t/{tenant}/ with its admin token, beside the same read of the
// configured tenant: the cost of naming the tenant in the path.
func BenchmarkTenantDispatch(b *testing.B) {
	cfg, err := loadConfig("", env(map[string]string{EnvAdminToken: testToken}))
	require.NoError(b, err)
	logger := slog.New(slog.DiscardHandler)
	where := storeFlags{sqlite: ":memory:"}
	stores, closeStore, err := openStore(context.Background(), where, logger)
	require.NoError(b, err)
	b.Cleanup(func() { _ = closeStore() })
	s, err := newServer(cfg, stores, logger)
	require.NoError(b, err)
	op, err := openOperator(s, stores.db, where, env(nil))
	require.NoError(b, err)
	h := op.wrap(s.handler())
	serve := func(method, path, token, body string) *httptest.ResponseRecorder {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req := httptest.NewRequest(method, path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	require.Equal(b, http.StatusCreated, serve("POST", "/api/v1/tenants", testToken, `{"id":"acme","settings":{}}`).Code)
	tok := s.flows.mintAdminToken("acme", time.Now().Add(time.Hour))
	for _, c := range []struct{ name, prefix, token string }{{"configured", "", testToken}, {"runtime", "/t/acme", tok}} {
		rec := serve("POST", c.prefix+"/api/v1/users", c.token, `{"email":"ada@acme.example"}`)
		require.Equal(b, http.StatusCreated, rec.Code, rec.Body.String())
		path := c.prefix + rec.Header().Get("Location")
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if rec := serve("GET", path, c.token, ""); rec.Code != http.StatusOK {
					b.Fatal(rec.Code, rec.Body.String())
				}
			}
		})
	}
}

// TestTenantHealthSAML: a runtime tenant's health lists its SAML
// connection with the IdP's and the generated SP key's certificates.
func TestTenantHealthSAML(t *testing.T) {
	ts := newOperatorServer(t)
	conn := map[string]any{
		"name": "okta", "idpMetadata": readTestdata(t, "idp-metadata.xml"), "entityID": ts.URL + "/t/acme/saml/okta/metadata",
		"acsURL": ts.URL + "/t/acme/saml/okta/acs",
	}
	admin := ts.newTenant(t, "acme", map[string]any{"saml": []any{conn}})
	res := ts.callAs(t, admin, "GET", "/t/acme/api/v1/settings/health", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	h := decode[healthJSON](t, res)
	require.Len(t, h.SAML, 1)
	assert.Equal(t, "okta", h.SAML[0].Name)
	owners := map[string]bool{}
	for _, c := range h.SAML[0].Certificates {
		owners[c.Owner] = true
		assert.False(t, c.NotAfter.IsZero())
	}
	assert.Len(t, owners, 2, "the IdP's and the SP's: %+v", h.SAML[0].Certificates)
	assert.Empty(t, h.Errors)
	assert.Equal(t, http.StatusOK, ts.call(t, "GET", "/t/acme/saml/okta/metadata", nil).status, "SAML under the tenant's prefix")
}
