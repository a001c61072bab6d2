package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/scim"
)

// The tenant's SCIM requests reach its diagnostics log, which the admin API
// lists with filters.
func TestDiagnosticsAPI(t *testing.T) {
	ts := newTestServerWith(t, `{"scim": {"token": "`+testSCIMToken+`"}}`, nil)
	user := map[string]any{"schemas": []string{scim.URIUser}, "userName": "ada@example.com"}
	require.Equal(t, http.StatusCreated, ts.scimCall(t, testSCIMToken, "POST", "/Users", user).status)
	require.Equal(t, http.StatusConflict, ts.scimCall(t, testSCIMToken, "POST", "/Users", user).status)

	type attempt struct {
		Seq        int64  `json:"seq"`
		Connection string `json:"connection"`
		Outcome    string `json:"outcome"`
		Reason     string `json:"reason"`
		Detail     string `json:"detail"`
	}
	list := func(query string) []attempt {
		res := ts.call(t, "GET", "/api/v1/diagnostics"+query, nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		return decode[struct {
			Attempts []attempt `json:"attempts"`
		}](t, res).Attempts
	}
	all := list("")
	require.Len(t, all, 2)
	assert.Equal(t, "failure", all[0].Outcome)
	assert.Equal(t, "uniqueness", all[0].Reason)
	assert.Equal(t, "scim", all[0].Connection)
	assert.Equal(t, "success", all[1].Outcome)
	assert.Len(t, list("?outcome=failure"), 1)
	assert.Len(t, list("?connection=saml:entra"), 0)
	older := list("?before=" + strconv.FormatInt(all[0].Seq, 10))
	require.Len(t, older, 1)
	assert.Equal(t, all[1].Seq, older[0].Seq)
	assert.Equal(t, http.StatusBadRequest, ts.call(t, "GET", "/api/v1/diagnostics?outcome=maybe", nil).status)
	assert.Equal(t, http.StatusBadRequest, ts.call(t, "GET", "/api/v1/diagnostics?limit=0", nil).status)
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, "", "GET", "/api/v1/diagnostics", nil).status)

}

// A runtime tenant's SCIM requests go to its own diagnostics log, read
// through its admin API; another tenant's log does not hold them.
func TestDiagnosticsOfRuntimeTenants(t *testing.T) {
	ts := newOperatorServer(t)
	for _, id := range []string{"acme", "beta"} {
		res := ts.call(t, "POST", "/api/v1/tenants", map[string]any{"id": id, "settings": map[string]any{"scim": map[string]any{"enabled": true}}})
		require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	}
	res := ts.call(t, "POST", "/api/v1/tenants/acme/scim-tokens", map[string]any{"name": "Entra"})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	token := decode[map[string]any](t, res)["token"].(string)
	require.Equal(t, http.StatusOK, ts.callAs(t, token, "GET", "/t/acme/scim/v2/Users", nil).status)
	require.Equal(t, http.StatusNotFound, ts.callAs(t, token, "GET", "/t/acme/scim/v2/Users/nobody", nil).status)

	count := func(tenant string) int {
		res := ts.call(t, "GET", "/t/"+tenant+"/api/v1/diagnostics", nil)
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		return len(decode[struct {
			Attempts []map[string]any `json:"attempts"`
		}](t, res).Attempts)
	}
	assert.Equal(t, 2, count("acme"))
	assert.Equal(t, 0, count("beta"))

	// The tenant's portal lists them on its SCIM page; the other's lists none.
	page := func(tenant string) string {
		r, err := portalSession(t, ts, tenant).Get(ts.URL + "/t/" + tenant + "/portal/scim")
		require.NoError(t, err)
		defer r.Body.Close()
		require.Equal(t, http.StatusOK, r.StatusCode)
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		return string(b)
	}
	acme := page("acme")
	assert.Contains(t, acme, `id="attempts-h"`)
	rows := func(page string) int {
		_, table, _ := strings.Cut(page, `id="attempts"`)
		table, _, _ = strings.Cut(table, "</table>")
		return strings.Count(table, "<tr><td>")
	}
	assert.Equal(t, 2, rows(acme), "the SCIM page lists the tenant's two requests")
	assert.Contains(t, acme, "not_found")
	assert.Equal(t, 0, rows(page("beta")), "another tenant's requests are not listed")
}

// A runtime tenant's admin starts a test sign-in of a live SAML connection
// from the portal: the browser is sent to the IdP with a test request, bound
// by the connection's cookie. Nothing is written until the IdP answers.
func TestPortalTestSignIn(t *testing.T) {
	ts := newOperatorServer(t)
	conn := map[string]any{
		"name": "okta", "idpMetadata": readTestdata(t, "idp-metadata.xml"), "entityID": ts.URL + "/t/acme/saml/okta/metadata",
		"acsURL": ts.URL + "/t/acme/saml/okta/acs",
	}
	res := ts.call(t, "POST", "/api/v1/tenants", map[string]any{"id": "acme", "settings": map[string]any{"saml": []any{conn}}})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	client := portalSession(t, ts, "acme")

	page, csrf := portalPage(t, client, ts.URL+"/t/acme/portal/sso/saml/okta")
	require.Contains(t, page, `<button type="submit" id="test-signin"`)

	r, err := client.PostForm(ts.URL+"/t/acme/portal/sso/test", url.Values{"csrf": {csrf}, "source": {"saml:okta"}})
	require.NoError(t, err)
	cont, _ := io.ReadAll(r.Body)
	r.Body.Close()
	// The portal answers the redirect as a page that goes on to the IdP.
	require.Equal(t, http.StatusOK, r.StatusCode, "%s", cont)
	assert.Contains(t, string(cont), `id="continue-idp" href="https://idp.example.test/sso?SAMLRequest=`)
	var bound bool
	for _, c := range r.Cookies() {
		bound = bound || c.Name == "saml_okta" && c.Value != ""
	}
	assert.True(t, bound, "no binding cookie: %v", r.Cookies())
	// Without the CSRF token, nothing starts.
	r, err = client.PostForm(ts.URL+"/t/acme/portal/sso/test", url.Values{"source": {"saml:okta"}})
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, http.StatusForbidden, r.StatusCode)
}

// A runtime tenant's webhook endpoints, added through the operator API, are
// listed in its portal, without their secrets.
func TestPortalWebhooks(t *testing.T) {
	ts := newOperatorServer(t)
	ts.newTenant(t, "acme", map[string]any{})
	res := ts.call(t, "POST", "/api/v1/tenants/acme/webhooks", map[string]any{"url": "https://hooks.acme.example/in"})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	secret := decode[map[string]any](t, res)["secret"].(string)
	client := portalSession(t, ts, "acme")
	r, err := client.Get(ts.URL + "/t/acme/portal/webhooks")
	require.NoError(t, err)
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	require.Equal(t, http.StatusOK, r.StatusCode, "%s", page)
	assert.Contains(t, string(page), "https://hooks.acme.example/in")
	assert.NotContains(t, string(page), strings.TrimPrefix(secret, "whsec_"))
}

// portalSession mints a setup link of the tenant's portal through the
// operator API and redeems it: the client that returns holds the session,
// and follows no redirect.
func portalSession(t *testing.T, ts *testServer, tenant string) *http.Client {
	t.Helper()
	res := ts.call(t, "POST", "/api/v1/tenants/"+tenant+"/portal-links", nil)
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	link, err := url.Parse(decode[map[string]any](t, res)["link"].(string))
	require.NoError(t, err)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := client.PostForm(ts.URL+"/t/"+tenant+"/portal/setup", url.Values{"token": {link.Query().Get("token")}})
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	return client
}
