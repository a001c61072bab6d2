package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	csrfFieldRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	scimTokenRE = regexp.MustCompile(`rcscim_[A-Za-z0-9_-]+`)
	revokeRE    = regexp.MustCompile(`action="/portal/scim/tokens/([^/"]+)/revoke"`)
)

// portalPage GETs a portal page with the session's client, checks the 200,
// and returns the page and the CSRF token of its forms.
func portalPage(t *testing.T, client *http.Client, url string) (page, csrf string) {
	t.Helper()
	r, err := client.Get(url)
	require.NoError(t, err)
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.StatusCode, "%s", b)
	m := csrfFieldRE.FindStringSubmatch(string(b))
	require.NotNil(t, m, "no CSRF field in %s", url)
	return string(b), m[1]
}

// TestPortalSCIMTokens runs the server as main does and uses the portal's
// SCIM page without a browser: the configured tenant's settings are made by
// the first save, a token made there works at /t/<tenant>/scim/v2 and,
// revoked, gets 401.
func TestPortalSCIMTokens(t *testing.T) {
	base, setup := startPortal(t, nil)
	link, err := url.Parse(setup)
	require.NoError(t, err)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	send := func(method, path string, form url.Values) (int, string) {
		t.Helper()
		var res *http.Response
		var err error
		if method == http.MethodGet {
			res, err = c.Get(base + path)
		} else {
			res, err = c.PostForm(base+path, form)
		}
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	status, _ := send(http.MethodPost, "/portal/setup", url.Values{"token": {link.Query().Get("token")}})
	require.Equal(t, http.StatusOK, status)

	status, page := send(http.MethodGet, "/portal/scim", nil)
	require.Equal(t, http.StatusOK, status, page)
	assert.Contains(t, page, base+"/t/acme/scim/v2")
	csrf := csrfFieldRE.FindStringSubmatch(page)[1]
	status, page = send(http.MethodPost, "/portal/scim", url.Values{"csrf": {csrf}, "enabled": {"on"}})
	require.Equal(t, http.StatusOK, status, page)
	status, page = send(http.MethodPost, "/portal/scim/tokens", url.Values{"csrf": {csrf}, "name": {"Okta"}})
	require.Equal(t, http.StatusCreated, status, page)
	token := scimTokenRE.FindString(page)
	require.NotEmpty(t, token, page)
	status, body := get(t, base+"/t/acme/scim/v2/Users", token)
	require.Equal(t, http.StatusOK, status, body)

	status, page = send(http.MethodGet, "/portal/scim", nil)
	require.Equal(t, http.StatusOK, status)
	assert.NotContains(t, page, token)
	id := revokeRE.FindStringSubmatch(page)
	require.NotNil(t, id, page)
	status, _ = send(http.MethodPost, "/portal/scim/tokens/"+id[1]+"/revoke", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusOK, status)
	status, _ = get(t, base+"/t/acme/scim/v2/Users", token)
	assert.Equal(t, http.StatusUnauthorized, status)

	// The operator API sees the tenant's settings and the events, by the
	// portal's admin.
	status, body = get(t, base+"/api/v1/tenants/acme/events", testToken)
	require.Equal(t, http.StatusOK, status, body)
	assert.True(t, strings.Contains(body, "scim.token_revoked") && strings.Contains(body, "setup-link"), body)
}

// TestSetupLinkScopedThroughAPI mints a setup link for the SCIM section only
// through the admin API: it opens the SCIM page and nothing else.
func TestSetupLinkScopedThroughAPI(t *testing.T) {
	addr := freeAddr(t)
	base := "http://" + addr
	cfgPath := writeConfig(t, fmt.Sprintf(`{"tenant": "acme", "baseURL": %q}`, base))
	started(t, []string{"-addr", addr, "-config", cfgPath}, map[string]string{EnvAdminToken: testToken})

	status, _, body := do(t, http.MethodPost, base+"/api/v1/portal/setup-links", map[string]any{"sections": []string{"nope"}})
	require.Equal(t, http.StatusBadRequest, status, string(body))
	assert.Contains(t, string(body), "sections")
	status, _, body = do(t, http.MethodPost, base+"/api/v1/portal/setup-links", map[string]any{"admin": "ops@acme", "sections": []string{"scim"}})
	require.Equal(t, http.StatusCreated, status, string(body))
	var out struct {
		URL string `json:"url"`
	}
	require.NoError(t, json.Unmarshal(body, &out))
	link, err := url.Parse(out.URL)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out.URL, base+"/portal/setup?token="), out.URL)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	res, err := c.PostForm(base+"/portal/setup", url.Values{"token": {link.Query().Get("token")}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "/portal/scim", res.Request.URL.Path, "the first section allowed")
	for path, want := range map[string]int{"/portal/scim": 200, "/portal/sso": 403, "/portal/users": 403} {
		res, err := c.Get(base + path)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, want, res.StatusCode, path)
	}
	res, err = http.Post(base+"/api/v1/portal/setup-links", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "without the admin token")
}
