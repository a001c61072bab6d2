package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/saml/samltest"
)

// apiJSON gets a path of the admin API and decodes its answer.
func apiJSON[T any](t *testing.T, url string) T {
	t.Helper()
	status, body := get(t, url, testToken)
	require.Equal(t, http.StatusOK, status, body)
	var v T
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	return v
}

type apiEvent struct {
	Seq    int64  `json:"seq"`
	Type   string `json:"type"`
	Source string `json:"source"`
}

// TestSAMLSignInInBrowser sets up a SAML connection in the portal of the
// example server against samltest's IdP on loopback, in Chromium: the setup
// link, the connection saved as a draft with the IdP's metadata (uploaded),
// a test sign-in (the browser goes to the IdP, signs in there, and comes
// back to the report: a new user and the groups of memberOf, as AD FS DNs;
// nothing written but one connection.tested event), the activation, and a
// real sign-in in a fresh browser context that creates the user with those
// groups. The IdP fetched the SP's metadata once, during the test: the
// activated connection works with it unchanged.
func TestSAMLSignInInBrowser(t *testing.T) {
	ctx := browser(t)
	alice := samltest.User{Name: "alice", Password: "pw-alice", NameID: "id-alice", Email: "alice@acme.example",
		GivenName: "Alice", FamilyName: "Liddell", Groups: []string{"Desk Admins", "Berlin, Mitte"}}
	idp := samltest.Start(t, samltest.Config{Users: []samltest.User{alice}, DNGroups: true})
	metadata := idp.WriteMetadata(t, t.TempDir())

	base, link := startPortal(t, nil)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.Click(chromedp.CSS("#continue")),
		chromedp.WaitVisible(chromedp.CSS("#add-user")),
	))

	// A new connection with the IdP's metadata, group sync from memberOf as
	// LDAP DNs, saved as a draft.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/portal/sso"),
		chromedp.SendKeys(chromedp.CSS("#saml-name"), "corp"),
		chromedp.SetValue(chromedp.CSS("#saml-idp"), "generic"),
		chromedp.Click(chromedp.CSS("#new-saml")),
		chromedp.WaitVisible(chromedp.CSS("#metadataFile")),
		chromedp.SetUploadFiles(chromedp.CSS("#metadataFile"), []string{metadata}),
		chromedp.Click(chromedp.CSS("#syncGroups")),
		chromedp.SetValue(chromedp.CSS("#groupFormat"), "dn"),
		chromedp.Click(chromedp.CSS("#save-draft")),
		chromedp.WaitVisible(chromedp.CSS("#draft-note")),
	))
	entity := textOf(t, ctx, "#idp-entity")
	assert.Equal(t, idp.MetadataURL, entity)
	saveShot(t, ctx, "portal-saml-draft.png")
	// A real sign-in through the draft is refused.
	status, _ := get(t, base+"/t/acme/saml/corp/login", "")
	assert.Equal(t, http.StatusForbidden, status, "a login through a draft")
	before := apiJSON[struct {
		Events []apiEvent `json:"events"`
		Next   int64      `json:"next"`
	}](t, base+"/api/v1/events?limit=500")
	require.Empty(t, apiUsers(t, base))

	// Test sign-in: to the IdP, signed in there, back to the report.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#test-signin")),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), alice.Name),
		chromedp.SendKeys(chromedp.CSS("#password"), alice.Password),
		chromedp.Click(chromedp.CSS("#idp-signin")),
		chromedp.WaitVisible(chromedp.CSS("#test-report")),
	))
	report := textOf(t, ctx, "#test-report")
	assert.Contains(t, report, "The sign-in would succeed")
	resolved := textOf(t, ctx, "#test-resolved")
	assert.Contains(t, resolved, "A new user would be created")
	assert.Contains(t, resolved, alice.Email)
	plan := textOf(t, ctx, "#test-groups")
	assert.Contains(t, plan, "Created and joined")
	assert.Contains(t, plan, "Desk Admins")
	assert.Contains(t, plan, "Berlin, Mitte")
	assert.Contains(t, report, "CN=Berlin\\, Mitte,OU=Groups,DC=example,DC=test", "the memberOf received")
	saveShot(t, ctx, "portal-sso-test.png")

	// Nothing written but one connection.tested event.
	assert.Empty(t, apiUsers(t, base), "the test created a user")
	after := apiJSON[struct {
		Events []apiEvent `json:"events"`
	}](t, fmt.Sprintf("%s/api/v1/events?after=%d&limit=500", base, before.Next))
	require.Len(t, after.Events, 1, "events of the test: %+v", after.Events)
	assert.Equal(t, "connection.tested", after.Events[0].Type)
	assert.Equal(t, "saml:corp", after.Events[0].Source)
	assert.Equal(t, 1, idp.Logins())

	// Activate: the form keeps the stored metadata and choices.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/portal/sso/saml/corp"),
		chromedp.WaitVisible(chromedp.CSS("#activate")),
		chromedp.Click(chromedp.CSS("#activate")),
		chromedp.WaitVisible(chromedp.CSS(`.notice[role="status"]`)),
	))
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.notice[role="status"]`)))
	require.NoError(t, err)
	assert.Contains(t, notice, "Activated")

	// A real sign-in, in a fresh browser context (no cookie of the admin's).
	user, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	require.NoError(t, chromedp.Do(user,
		chromedp.Navigate(base+"/t/acme/saml/corp/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), alice.Name),
		chromedp.SendKeys(chromedp.CSS("#password"), alice.Password),
		chromedp.Click(chromedp.CSS("#idp-signin")),
		chromedp.WaitReady(chromedp.CSS("body")),
	))
	require.Eventually(t, func() bool { return len(apiUsers(t, base)) == 1 }, 10e9, 100e6, "no user after the sign-in")
	users := apiUsers(t, base)
	assert.Equal(t, alice.Email, users[0]["email"])
	assert.Equal(t, "Alice", users[0]["givenName"])
	groups := apiJSON[struct {
		Groups []struct {
			ID, Name, Source string
		} `json:"groups"`
	}](t, base+"/api/v1/groups")
	var names []string
	for _, g := range groups.Groups {
		assert.Equal(t, "saml:corp", g.Source, g.Name)
		members := apiJSON[struct {
			Users []map[string]any `json:"users"`
		}](t, base+"/api/v1/groups/"+g.ID+"/members")
		if len(members.Users) == 1 && members.Users[0]["id"] == users[0]["id"] {
			names = append(names, g.Name)
		}
	}
	slices.Sort(names)
	assert.Equal(t, []string{"Berlin, Mitte", "Desk Admins"}, names)
	assert.Equal(t, 2, idp.Logins())
	body, err := chromedp.Run(user, chromedp.Text(chromedp.CSS("body")))
	require.NoError(t, err)
	assert.True(t, strings.Contains(body, `"created":true`) || strings.Contains(body, `"created": true`), body)
}
