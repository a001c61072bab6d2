package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/scim"
	"github.com/rollcall/rollcall/storage/sqlstore/sqlstoretest"
)

const testSCIMToken = "test-scim-token-0123456789"

// samlTestdata is the saml package's fixtures: an IdP's metadata and this
// SP's key pair.
const samlTestdata = "../../saml/testdata"

// samlConfig returns a configuration with one SAML connection, "entra", whose
// IdP metadata is inline, and the extra JSON fields in more.
func samlConfig(t *testing.T, more string) string {
	t.Helper()
	md, err := os.ReadFile(filepath.Join(samlTestdata, "idp-metadata.xml"))
	require.NoError(t, err)
	mdJSON, err := json.Marshal(string(md))
	require.NoError(t, err)
	certFile, err := filepath.Abs(filepath.Join(samlTestdata, "keys", "sp.crt"))
	require.NoError(t, err)
	keyFile, err := filepath.Abs(filepath.Join(samlTestdata, "keys", "sp.key"))
	require.NoError(t, err)
	return fmt.Sprintf(`{"baseURL": "https://desks.example", "saml": {"entra": {
		"idpMetadata": %s, "certFile": %q, "keyFile": %q, "preset": "entra"%s}}}`, mdJSON, certFile, keyFile, more)
}

// scimCall sends a SCIM request with token (none if empty).
func (ts *testServer) scimCall(t *testing.T, token, method, path string, body any) response {
	t.Helper()
	var hdr []string
	if body != nil {
		hdr = []string{"Content-Type", "application/scim+json"}
	}
	return ts.callAs(t, token, method, "/scim/v2"+path, body, hdr...)
}

func TestSCIMNotMountedWithoutToken(t *testing.T) {
	ts := newTestServer(t)
	for _, token := range []string{"", testToken, testSCIMToken} {
		res := ts.scimCall(t, token, "GET", "/Users", nil)
		assert.Equal(t, http.StatusNotFound, res.status)
	}
}

func TestSCIMProvisionsUsersAndGroups(t *testing.T) {
	ts := newTestServerWith(t, "", map[string]string{EnvSCIMToken: testSCIMToken})

	// Without the token, or with the admin's, SCIM answers 401 and creates
	// nothing.
	user := map[string]any{
		"schemas":  []string{scim.URIUser},
		"userName": "ada@acme.example",
		"name":     map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
		"emails":   []map[string]any{{"value": "ada@acme.example", "type": "work", "primary": true}},
		"active":   true,
	}
	for _, token := range []string{"", testToken, testSCIMToken + "x"} {
		res := ts.scimCall(t, token, "POST", "/Users", user)
		assert.Equal(t, http.StatusUnauthorized, res.status, "token %q: %s", token, res.body)
	}
	assert.Zero(t, decode[struct{ Total int }](t, ts.call(t, "GET", "/api/v1/users", nil)).Total)

	res := ts.scimCall(t, testSCIMToken, "POST", "/Users", user)
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	id := decode[struct{ ID string }](t, res).ID
	require.NotEmpty(t, id)

	// The admin API lists the user SCIM created.
	users := decode[struct {
		Users []userJSON `json:"users"`
		Total int        `json:"total"`
	}](t, ts.call(t, "GET", "/api/v1/users", nil))
	require.Equal(t, 1, users.Total)
	assert.Equal(t, id, users.Users[0].ID)
	assert.Equal(t, "ada@acme.example", users.Users[0].Email)
	assert.True(t, users.Users[0].EmailVerified, "SCIM is trusted for email")

	// SCIM is the group source: its group is external, with its member.
	res = ts.scimCall(t, testSCIMToken, "POST", "/Groups", map[string]any{
		"schemas": []string{scim.URIGroup}, "displayName": "Engineering",
		"members": []map[string]any{{"value": id}},
	})
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	page := decode[struct {
		Groups []groupJSON `json:"groups"`
		Total  int         `json:"total"`
	}](t, ts.call(t, "GET", "/api/v1/groups?kind=external", nil))
	require.Equal(t, 1, page.Total)
	assert.Equal(t, "Engineering", page.Groups[0].Name)
	assert.Equal(t, groups.External, page.Groups[0].Kind)
	assert.Equal(t, groups.SourceSCIM, page.Groups[0].Source)
	withGroups := decode[struct {
		Groups []groupRefJSON `json:"groups"`
	}](t, ts.call(t, "GET", "/api/v1/users/"+id, nil))
	require.Len(t, withGroups.Groups, 1)
	assert.Equal(t, "Engineering", withGroups.Groups[0].Name)

	assert.NotContains(t, ts.logs.String(), testSCIMToken)
}

func TestSCIMTokenFromFile(t *testing.T) {
	ts := newTestServerWith(t, `{"scim": {"token": "`+testSCIMToken+`", "patchNoContent": true}}`, nil)
	res := ts.scimCall(t, testSCIMToken, "GET", "/ServiceProviderConfig", nil)
	assert.Equal(t, http.StatusOK, res.status, "body: %s", res.body)

	// The environment wins over the file.
	ts = newTestServerWith(t, `{"scim": {"token": "`+testSCIMToken+`"}}`, map[string]string{EnvSCIMToken: "from-the-environment-0123"})
	assert.Equal(t, http.StatusUnauthorized, ts.scimCall(t, testSCIMToken, "GET", "/Users", nil).status)
	assert.Equal(t, http.StatusOK, ts.scimCall(t, "from-the-environment-0123", "GET", "/Users", nil).status)
}

func TestSAMLMetadata(t *testing.T) {
	ts := newTestServerWith(t, samlConfig(t, ""), nil)

	res := ts.callAs(t, "", "GET", "/saml/entra/metadata", nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Contains(t, res.header.Get("Content-Type"), "xml")
	assert.Contains(t, string(res.body), `entityID="https://desks.example/saml/entra/metadata"`, "the default entity ID is under baseURL")
	assert.Contains(t, string(res.body), `Location="https://desks.example/saml/entra/acs"`, "the default ACS URL is under baseURL")

	assert.Equal(t, http.StatusNotFound, ts.callAs(t, "", "GET", "/saml/okta/metadata", nil).status, "an unknown connection")
	assert.Equal(t, http.StatusMethodNotAllowed, ts.callAs(t, "", "POST", "/saml/entra/metadata", nil).status)

	// The login redirects to the IdP's SSO endpoint with an AuthnRequest.
	client := noRedirects(ts)
	loc := redirect(t, client, ts.URL+"/saml/entra/login?return_to=/desks")
	assert.Equal(t, "idp.example.test", loc.Host)
	assert.NotEmpty(t, loc.Query().Get("SAMLRequest"))
	assert.Equal(t, http.StatusNotFound, ts.callAs(t, "", "GET", "/saml/okta/login", nil).status)

	// A post that is no SAML response is refused, and signs nobody in.
	res = ts.callAs(t, "", "POST", "/saml/entra/acs", "SAMLResponse=bm90IHhtbA", "Content-Type", "application/x-www-form-urlencoded")
	assert.GreaterOrEqual(t, res.status, 400)
	assert.Zero(t, decode[struct{ Total int }](t, ts.call(t, "GET", "/api/v1/users", nil)).Total)
}

func TestSAMLNotMountedWithoutConnections(t *testing.T) {
	ts := newTestServer(t)
	assert.Equal(t, http.StatusNotFound, ts.callAs(t, "", "GET", "/saml/entra/metadata", nil).status)
}

func noRedirects(ts *testServer) *http.Client {
	c := *ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// redirect gets u and returns where it redirects with a 302 or 303.
func redirect(t *testing.T, c *http.Client, u string) *url.URL {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", u, nil)
	require.NoError(t, err)
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, res.StatusCode, "body: %s", body)
	loc, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	return loc
}

func TestOAuthLoginRedirects(t *testing.T) {
	ts := newTestServerWith(t, `{"baseURL": "https://desks.example", "oauth": {
		"google": {"clientID": "client-1.apps.googleusercontent.com", "allowedDomains": ["acme.example"]}}}`,
		map[string]string{"ROLLCALL_OAUTH_GOOGLE_SECRET": "google-secret"})

	req, err := http.NewRequestWithContext(t.Context(), "GET", ts.URL+"/oauth/google/login?return_to=/desks", nil)
	require.NoError(t, err)
	res, err := noRedirects(ts).Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusFound, res.StatusCode)
	loc, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "https://accounts.google.com/o/oauth2/v2/auth", loc.Scheme+"://"+loc.Host+loc.Path)
	q := loc.Query()
	assert.Equal(t, "client-1.apps.googleusercontent.com", q.Get("client_id"))
	assert.Equal(t, "https://desks.example/oauth/google/callback", q.Get("redirect_uri"), "the default redirect URL is under baseURL")
	assert.Equal(t, "code", q.Get("response_type"))
	assert.NotEmpty(t, q.Get("state"))
	assert.NotEmpty(t, q.Get("nonce"))
	assert.NotEmpty(t, q.Get("code_challenge"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Equal(t, "acme.example", q.Get("hd"))
	assert.NotContains(t, loc.String(), "google-secret")
	assert.NotEmpty(t, res.Cookies(), "the state is bound to the browser")

	assert.Equal(t, http.StatusNotFound, ts.callAs(t, "", "GET", "/oauth/microsoft/login", nil).status, "an unknown provider")
	// A callback with a state this browser never got is refused.
	res2 := ts.callAs(t, "", "GET", "/oauth/google/callback?state=forged&code=x", nil)
	assert.Equal(t, http.StatusBadRequest, res2.status)
	assert.Zero(t, decode[struct{ Total int }](t, ts.call(t, "GET", "/api/v1/users", nil)).Total)
}

func TestOAuthNotMountedWithoutProviders(t *testing.T) {
	ts := newTestServer(t)
	assert.Equal(t, http.StatusNotFound, ts.callAs(t, "", "GET", "/oauth/google/login", nil).status)
}

// upload posts a file to the import with the reference's form fields.
func (ts *testServer) upload(t *testing.T, token, name, content string, fields map[string]string) response {
	t.Helper()
	return ts.uploadTo(t, token, "/api/v1/users/import", name, content, fields)
}

func TestImportExportAndTemplate(t *testing.T) {
	ts := newTestServer(t)
	for _, email := range []string{"old@acme.example", "carol@acme.example", "dan@acme.example"} {
		ts.create(t, map[string]any{"email": email})
	}
	csv := "email,firstName,lastName\nada@acme.example,Ada,Lovelace\nbob@acme.example,Bob,\n" +
		"carol@acme.example,Carol,\ndan@acme.example,,\nnot-an-email,Erin,\n"
	reference := map[string]string{"update": "1", "deactivate": "1", "restore": "1", "dry_run": "0"}

	// The import needs the admin token.
	assert.Equal(t, http.StatusUnauthorized, ts.upload(t, "", "users.csv", csv, reference).status)
	assert.Equal(t, http.StatusUnauthorized, ts.upload(t, testSCIMToken, "users.csv", csv, reference).status)

	// The reference's curl example: -F file=@users.csv -F update=1 -F
	// deactivate=1 -F restore=1 -F dry_run=0.
	res := ts.upload(t, testToken, "users.csv", csv, reference)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var result struct {
		DryRun        bool                           `json:"dryRun"`
		Created       []int                          `json:"created"`
		Updated       []int                          `json:"updated"`
		Deleted       int                            `json:"deleted"`
		Skipped       []int                          `json:"skipped"`
		Errors        []int                          `json:"errors"`
		ErrorMessages map[string]map[string][]string `json:"errorMessages"`
		Rows          int                            `json:"rows"`
		Filename      string                         `json:"filename"`
	}
	require.NoError(t, json.Unmarshal(res.body, &result))
	assert.False(t, result.DryRun)
	assert.Equal(t, []int{2, 3}, result.Created)
	assert.Equal(t, []int{4}, result.Updated)
	assert.Equal(t, []int{5}, result.Skipped)
	assert.Equal(t, []int{6}, result.Errors)
	assert.Contains(t, result.ErrorMessages["6"], "email")
	assert.Equal(t, 1, result.Deleted, "old@ is not in the file")
	assert.Equal(t, 5, result.Rows)
	assert.Equal(t, "users.csv", result.Filename)
	assert.Equal(t, 4, decode[struct{ Total int }](t, ts.call(t, "GET", "/api/v1/users?active=true", nil)).Total)

	// An unknown format is a 415.
	res = ts.upload(t, testToken, "users.xlsx", csv, nil)
	assert.Equal(t, http.StatusUnsupportedMediaType, res.status, "body: %s", res.body)

	// Export and template.
	res = ts.call(t, "GET", "/api/v1/users/export?format=csv", nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Contains(t, string(res.body), "ada@acme.example")
	assert.Contains(t, string(res.body), "old@acme.example", "deactivated users are exported too")
	res = ts.call(t, "GET", "/api/v1/users/import/template?format=csv", nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, string(res.body), "email")
	for _, path := range []string{"/api/v1/users/export?format=csv", "/api/v1/users/import/template?format=xlsx"} {
		assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, "", "GET", path, nil).status, path)
	}
	// GET on the import is a wrong method, not a user named "import".
	res = ts.call(t, "GET", "/api/v1/users/import", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, res.status, "body: %s", res.body)
	assert.Equal(t, "POST", res.header.Get("Allow"))
}

func TestImportFileTooLarge(t *testing.T) {
	ts := newTestServerWith(t, `{"import": {"maxFileSize": 64}}`, nil)
	res := ts.upload(t, testToken, "users.csv", "email\n"+strings.Repeat("someone@acme.example\n", 10), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.status, "body: %s", res.body)
}

func TestTwoGroupSourcesAreAnError(t *testing.T) {
	path := writeConfig(t, samlConfig(t, `, "syncGroups": true`))
	_, err := loadConfig(path, env(map[string]string{EnvSCIMToken: testSCIMToken}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"saml:entra"`)
	assert.Contains(t, err.Error(), `"scim"`)

	// run refuses to start.
	err = run(t.Context(), []string{"-config", path, "-db", ":memory:"}, env(map[string]string{EnvSCIMToken: testSCIMToken}), io.Discard, nil)
	assert.ErrorContains(t, err, `"saml:entra"`)

	// One of them alone is the group source.
	cfg, err := loadConfig(path, env(nil))
	require.NoError(t, err)
	assert.Equal(t, []string{"saml:entra"}, cfg.groupSources())
	cfg, err = loadConfig("", env(map[string]string{EnvSCIMToken: testSCIMToken}))
	require.NoError(t, err)
	source, err := cfg.groupSource()
	require.NoError(t, err)
	assert.Equal(t, groups.SourceSCIM, source, "with only a SCIM token, SCIM is the group source")
}

func TestSAMLStartupErrors(t *testing.T) {
	// A key file that is not there, or a certificate that is not one, stops
	// the server at start, naming the field.
	content := strings.Replace(samlConfig(t, ""), "sp.key", "missing.key", 1)
	err := run(t.Context(), []string{"-config", writeConfig(t, content), "-db", ":memory:"}, env(nil), io.Discard, nil)
	assert.ErrorContains(t, err, `field "saml.entra": keyFile`)
	content = strings.Replace(samlConfig(t, ""), "sp.crt", "../idp-metadata.xml", 1)
	err = run(t.Context(), []string{"-config", writeConfig(t, content), "-db", ":memory:"}, env(nil), io.Discard, nil)
	assert.ErrorContains(t, err, `field "saml.entra"`)
}

func TestRestartKeepsData(t *testing.T) {
	db := filepath.Join(t.TempDir(), "rollcall.db")
	stderr := restartKeepsData(t, []string{"-db", db})
	assert.Contains(t, stderr, "store=sqlite:"+db)
}

// TestRestartKeepsDataPostgres runs the server on PostgreSQL, in a schema of
// its own (see storage/sqlstore/sqlstoretest).
func TestRestartKeepsDataPostgres(t *testing.T) {
	dsn := sqlstoretest.DSN(t)
	stderr := restartKeepsData(t, []string{"-postgres", dsn})
	assert.Contains(t, stderr, "store=postgres")
	assert.NotContains(t, stderr, dsn, "the DSN is never logged")
}

// restartKeepsData runs the server with the store flags, creates a user,
// stops it, runs it again on the same data and finds the user and the events
// there. It returns the second run's stderr.
func restartKeepsData(t *testing.T, storeFlags []string) string {
	t.Helper()
	args := append([]string{"-addr", "127.0.0.1:0"}, storeFlags...)
	vars := map[string]string{EnvAdminToken: testToken}

	addr, _, stop := started(t, args, vars)
	req, err := http.NewRequestWithContext(t.Context(), "POST", "http://"+addr+"/api/v1/users",
		strings.NewReader(`{"email": "ada@acme.example", "invite": true}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	require.NoError(t, stop())

	addr, stderr, stop := started(t, args, vars)
	status, body := get(t, "http://"+addr+"/api/v1/users", testToken)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "ada@acme.example", "the user is still there")
	status, body = get(t, "http://"+addr+"/api/v1/events", testToken)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "user.invited", "and so are the events")
	require.NoError(t, stop())
	return stderr.String()
}

func TestDBAndPostgresExclusive(t *testing.T) {
	err := run(t.Context(), []string{"-db", "x.db", "-postgres", "postgres://localhost/x"}, env(nil), io.Discard, nil)
	assert.ErrorContains(t, err, "not both")
}
