package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// EnvRequireBrowser makes the browser tests fail, not skip, when Chromium is
// missing; .ci/run sets it after installing Chromium.
const envRequireBrowser = "ROLLCALL_REQUIRE_BROWSER"

// browser starts headless Chromium (Debian's package) and returns a context
// for its first tab. It skips the test when Chromium is not installed, unless
// ROLLCALL_REQUIRE_BROWSER=1.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv(envRequireBrowser) == "1" {
			t.Fatal("Chromium is not installed (apt-get install chromium), and " + envRequireBrowser + "=1")
		}
		t.Skip("Chromium is not installed: apt-get install chromium runs these tests")
	}
	// A fixed window and viewport, so that the screenshots (of the viewport)
	// have one size.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(shotWidth, shotHeight))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(shotWidth, shotHeight)))
	return ctx
}

// freeAddr returns a loopback address with a port free now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

var setupLinkRE = regexp.MustCompile(`http://\S+/portal/setup\?token=\S+`)

// startPortal runs the example server as main does, on SQLite, for the
// tenant acme at a free address, with the admin token and vars in its
// environment; it returns the server's base URL and the portal's setup link
// it printed.
func startPortal(t *testing.T, vars map[string]string) (base, link string) {
	t.Helper()
	addr := freeAddr(t)
	base = "http://" + addr
	cfgPath := writeConfig(t, fmt.Sprintf(`{"tenant": "acme", "baseURL": %q}`, base))
	env := map[string]string{EnvAdminToken: testToken}
	maps.Copy(env, vars)
	_, stderr, _ := started(t, []string{"-addr", addr, "-config", cfgPath}, env)
	link = setupLinkRE.FindString(stderr.String())
	require.NotEmpty(t, link, "no setup link printed:\n%s", stderr)
	return base, link
}

// TestPortalInBrowser runs the example server as main does, on SQLite, and
// drives its portal in Chromium: the setup link printed at start, adding a
// user with an invitation and accepting it, an import whose preview shows
// the errors and whose apply does what it showed, a POST without the CSRF
// token, and the setup link used a second time.
func TestPortalInBrowser(t *testing.T) {
	ctx := browser(t)
	base, link := startPortal(t, nil)

	// The setup link opens the portal.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("#continue")),
	))
	saveShot(t, ctx, "portal-setup.png")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#continue")),
		chromedp.WaitVisible(chromedp.CSS("#add-user")),
	))

	// Add a user with an invitation; the link is shown once.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#email"), "ada@acme.example"),
		chromedp.SendKeys(chromedp.CSS("#givenName"), "Ada"),
		chromedp.Click(chromedp.CSS("#invite")),
		chromedp.Click(chromedp.CSS("#add-user")),
		chromedp.WaitVisible(chromedp.CSS("#invite-link")),
	))
	invite, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#invite-link")))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(invite, base+"/invitations/accept?token="), invite)
	saveShot(t, ctx, "portal-user-added.png")

	// The invited user accepts: the email is verified.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(invite),
		chromedp.Click(chromedp.CSS("#accept")),
		chromedp.WaitVisible(chromedp.CSS("#accepted")),
	))
	users := apiUsers(t, base)
	require.Len(t, users, 1)
	assert.Equal(t, true, users[0]["emailVerified"])

	// Import: the preview shows the row with an error and changes nothing;
	// apply does what the preview showed.
	file := filepath.Join(t.TempDir(), "users.csv")
	require.NoError(t, os.WriteFile(file, []byte("email,first_name,last_name\n"+
		"bob@acme.example,Bob,Stone\nnot-an-address,Bad,Row\ncyd@acme.example,Cyd,Moor\n"), 0o600))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/portal/import"),
		chromedp.WaitVisible(chromedp.CSS("#preview")),
	))
	saveShot(t, ctx, "portal-import.png")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}),
		chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS("#apply")),
	))
	saveShot(t, ctx, "portal-import-preview.png")
	created := textOf(t, ctx, "#count-created")
	assert.Equal(t, "2", created)
	errRows := textOf(t, ctx, "#error-rows tbody")
	assert.Contains(t, errRows, "3", "the error table names spreadsheet row 3")
	assert.Len(t, apiUsers(t, base), 1, "the preview wrote users")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#apply")),
		chromedp.WaitVisible(chromedp.CSS("#applied")),
	))
	created = textOf(t, ctx, "#count-created")
	assert.Equal(t, "2", created)
	saveShot(t, ctx, "portal-import-applied.png")
	var emails []string
	ids := map[string]string{}
	for _, u := range apiUsers(t, base) {
		emails = append(emails, u["email"].(string))
		ids[u["email"].(string)] = u["id"].(string)
	}
	assert.ElementsMatch(t, []string{"ada@acme.example", "bob@acme.example", "cyd@acme.example"}, emails)

	browseUsersAndGroups(t, ctx, base, ids)

	// A form posted from the signed-in browser without the CSRF token is
	// refused. (The page's CSP forbids fetch altogether: connect-src falls
	// back to default-src 'none'.)
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const f = document.createElement("form");
		f.method = "post"; f.action = "/portal/users";
		const i = document.createElement("input");
		i.name = "email"; i.value = "eve@acme.example";
		f.appendChild(i); document.body.appendChild(f); f.submit();
		return true;
	})()`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(".error"))))
	msg := textOf(t, ctx, ".error")
	assert.Contains(t, msg, "did not come from this page")
	saveShot(t, ctx, "portal-error.png")
	assert.Len(t, apiUsers(t, base), 3)

	// The setup link works once.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.Click(chromedp.CSS("#continue")),
		chromedp.WaitVisible(chromedp.CSS(".error")),
	))
	msg = textOf(t, ctx, ".error")
	assert.Contains(t, msg, "not valid")
}

// browseUsersAndGroups makes two internal groups in the portal, adds
// members to one, and opens the users list, a user's page, the groups, a
// group's page and the events, each checked for what it shows.
func browseUsersAndGroups(t *testing.T, ctx context.Context, base string, ids map[string]string) {
	t.Helper()
	for _, name := range []string{"Engineering", "Support"} {
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(base+"/portal/groups"),
			chromedp.SendKeys(chromedp.CSS("#name"), name),
			chromedp.Click(chromedp.CSS("#create-group")),
			chromedp.WaitVisible(chromedp.CSS(".notice")),
		))
	}
	groups := apiJSON[struct {
		Groups []struct{ ID, Name string } `json:"groups"`
	}](t, base+"/api/v1/groups")
	require.Len(t, groups.Groups, 2)
	eng := groups.Groups[0].ID
	if groups.Groups[0].Name != "Engineering" {
		eng = groups.Groups[1].ID
	}
	for _, email := range []string{"ada@acme.example", "bob@acme.example"} {
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(base+"/portal/groups/"+eng),
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.Click(chromedp.CSS("#add-member")),
			chromedp.WaitVisible(chromedp.CSS(".notice")),
		))
	}
	members := textOf(t, ctx, "main table tbody")
	assert.Contains(t, members, "ada@acme.example")
	assert.Contains(t, members, "bob@acme.example")
	saveShot(t, ctx, "portal-group.png")

	for _, p := range []struct{ path, shows, shot string }{
		{"/portal/groups", "Support", "portal-groups.png"},
		{"/portal/users", "cyd@acme.example", "portal-users.png"},
		{"/portal/users/" + ids["ada@acme.example"], "Engineering", "portal-user.png"},
		{"/portal/events", "group.member_added", "portal-events.png"},
	} {
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(base+p.path),
			chromedp.WaitVisible(chromedp.CSS("main h1")),
		))
		text := textOf(t, ctx, "main")
		assert.Contains(t, text, p.shows, p.path)
		saveShot(t, ctx, p.shot)
	}
}

// apiUsers lists the tenant's users through the admin API.
func apiUsers(t *testing.T, base string) []map[string]any {
	t.Helper()
	status, body := get(t, base+"/api/v1/users", testToken)
	require.Equal(t, http.StatusOK, status, body)
	var page struct {
		Users []map[string]any `json:"users"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &page))
	return page.Users
}

// TestPortalSettingsInBrowser drives the portal's SCIM and SSO pages of the
// configured tenant in Chromium: a SCIM token made (shown once, accepted at
// the tenant's SCIM endpoint) and revoked (then refused with 401), and a
// SAML connection set up with the test IdP's metadata, activated, shown
// parsed, and served by the runtime. Then the SSO, Google and webhooks
// pages (an endpoint the operator added, with its deliveries), and signing
// out.
func TestPortalSettingsInBrowser(t *testing.T) {
	ctx := browser(t)
	base, link := startPortal(t, map[string]string{EnvWebhookAllow: "127.0.0.0/8"})
	// Every step below works with the page's JavaScript off.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.Click(chromedp.CSS("#continue")),
		chromedp.WaitVisible(chromedp.CSS("#add-user")),
	))

	// SCIM: turn it on, make a token; it works once shown, and only there.
	scimBase := base + "/t/acme/scim/v2"
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/portal/scim"),
		chromedp.WaitVisible(chromedp.CSS("#scim-base")),
		chromedp.Click(chromedp.CSS("#scim-enabled")),
		chromedp.Click(chromedp.CSS("#save-scim")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	))
	shown, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#scim-base")))
	require.NoError(t, err)
	assert.Equal(t, scimBase, shown)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#token-name"), "Entra provisioning"),
		chromedp.Click(chromedp.CSS("#create-token")),
		chromedp.WaitVisible(chromedp.CSS("#scim-token")),
	))
	token, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#scim-token")))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(token, "rcscim_"), token)
	status, body := get(t, scimBase+"/Users", token)
	require.Equal(t, http.StatusOK, status, body)
	saveShot(t, ctx, "portal-scim.png")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/portal/scim"),
		chromedp.WaitVisible(chromedp.CSS("#scim-tokens")),
	))
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	require.NoError(t, err)
	assert.NotContains(t, html, token, "the token is shown again")
	assert.Contains(t, html, "Entra provisioning")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("button.revoke")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	))
	status, _ = get(t, scimBase+"/Users", token)
	assert.Equal(t, http.StatusUnauthorized, status, "the revoked token")

	// SSO: a SAML connection with the test IdP's metadata, activated.
	metadata, err := filepath.Abs("../../saml/testdata/idp-metadata.xml")
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/portal/sso"),
		chromedp.SendKeys(chromedp.CSS("#saml-name"), "corp"),
		chromedp.SetValue(chromedp.CSS("#saml-idp"), "generic"),
		chromedp.Click(chromedp.CSS("#new-saml")),
		chromedp.WaitVisible(chromedp.CSS("#metadataFile")),
	))
	acs, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#sp-acs")))
	require.NoError(t, err)
	assert.Equal(t, base+"/t/acme/saml/corp/acs", acs)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.CSS("#metadataFile"), []string{metadata}),
		chromedp.Click(chromedp.CSS("#activate")),
		chromedp.WaitVisible(chromedp.CSS("#idp-entity")),
	))
	entity := textOf(t, ctx, "#idp-entity")
	assert.Equal(t, "https://idp.example.test/metadata", entity)
	cert := textOf(t, ctx, ".idp-cert")
	assert.Contains(t, cert, "idp.example.test")
	health := textOf(t, ctx, "#saml-health")
	assert.Contains(t, health, "IdP metadata loaded", "the live connection's health")
	saveShot(t, ctx, "portal-saml.png")

	status, body = get(t, base+"/api/v1/tenants/acme/settings", testToken)
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"name":"corp"`)
	status, body = get(t, base+"/t/acme/saml/corp/metadata", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, base+"/t/acme/saml/corp/acs")

	browseSettings(t, ctx, base)
}

// browseSettings opens the SSO page with the connection made, the Google
// page, and the webhooks page with an endpoint the operator API added and
// its deliveries; then signs out.
func browseSettings(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/portal/sso"),
		chromedp.WaitVisible(chromedp.CSS("#saml-connections")),
	))
	conns := textOf(t, ctx, "#saml-connections")
	assert.Contains(t, conns, "corp")
	saveShot(t, ctx, "portal-sso.png")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/portal/google"),
		chromedp.WaitVisible(chromedp.CSS("#save-google")),
	))
	key := textOf(t, ctx, "#key-state")
	assert.Contains(t, key, "No key yet")
	saveShot(t, ctx, "portal-google.png")

	rc := newReceiver(t)
	status, _, body := do(t, "POST", base+"/api/v1/tenants/acme/webhooks", map[string]any{"url": rc.srv.URL + "/hook", "from": 1})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var ep createdEndpoint
	require.NoError(t, json.Unmarshal(body, &ep))
	rc.setSecrets(ep.Secret)
	all := tenantEvents(t, base, "acme")
	require.NotEmpty(t, all)
	require.Eventually(t, func() bool { return len(rc.received()) >= len(all) }, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/portal/webhooks"),
		chromedp.WaitVisible(chromedp.CSS(".webhook")),
	))
	hook := textOf(t, ctx, ".webhook")
	assert.Contains(t, hook, rc.srv.URL+"/hook")
	assert.Contains(t, hook, "delivering")
	assert.NotContains(t, hook, "None yet", "no delivery listed")
	saveShot(t, ctx, "portal-webhooks.png")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("form.logout button")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	))
	out := textOf(t, ctx, ".notice")
	assert.Contains(t, out, "signed out")
	saveShot(t, ctx, "portal-signed-out.png")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/portal/users"),
		chromedp.WaitVisible(chromedp.CSS(".error")),
	))
	msg := textOf(t, ctx, ".error")
	assert.Contains(t, msg, "not signed in", "the session outlived signing out")
}

// textOf returns the text of the first element css selects in the page.
func textOf(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	require.NoError(t, err)
	return s
}

// The browser's window, and so the screenshots' size.
const shotWidth, shotHeight = 1200, 800

// saveShot takes a screenshot of the page's viewport; with
// ROLLCALL_SCREENSHOTS=<dir> it is kept there, under name (docs/portal.md
// shows the ones of docs/portal/).
func saveShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	assert.Greater(t, len(shot), 1000, "screenshot")
	if dir := os.Getenv("ROLLCALL_SCREENSHOTS"); dir != "" {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), shot, 0o600))
	}
}
