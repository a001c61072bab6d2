package main

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUpdateUser(t *testing.T) {
	ts := newTestServer(t)
	u := ts.create(t, map[string]any{"email": "ada@acme.example", "givenName": "Ada"})
	id := u["id"].(string)

	res := ts.call(t, "PATCH", "/api/v1/users/"+id, map[string]any{"familyName": "Lovelace", "attributes": map[string]string{"team": "eng"}}, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	got := decode[userJSON](t, res)
	assert.Equal(t, "Ada", got.GivenName, "a field left out keeps its value")
	assert.Equal(t, "Lovelace", got.FamilyName)
	assert.Equal(t, map[string]string{"team": "eng"}, got.Attributes)
	assert.Equal(t, `"2"`, res.header.Get("ETag"))

	// A stale version, an unknown user, a bad email, an unknown field.
	res = ts.call(t, "PATCH", "/api/v1/users/"+id, map[string]any{"givenName": "A"}, "If-Match", `"1"`)
	assert.Equal(t, http.StatusPreconditionFailed, res.status)
	assert.Equal(t, http.StatusNotFound, ts.call(t, "PATCH", "/api/v1/users/nobody", map[string]any{"givenName": "A"}).status)
	res = ts.call(t, "PATCH", "/api/v1/users/"+id, map[string]any{"email": "not an email"})
	require.Equal(t, http.StatusUnprocessableEntity, res.status, "%s", res.body)
	assert.Contains(t, decode[apiError](t, res).fieldNames(), "email")
	res = ts.call(t, "PATCH", "/api/v1/users/"+id, map[string]any{"active": false})
	require.Equal(t, http.StatusBadRequest, res.status)
	assert.Contains(t, decode[apiError](t, res).fieldNames(), "active")
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, "", "PATCH", "/api/v1/users/"+id, map[string]any{}).status)

	// A taken email is a conflict naming the field.
	ts.create(t, map[string]any{"email": "grace@acme.example"})
	res = ts.call(t, "PATCH", "/api/v1/users/"+id, map[string]any{"email": "grace@acme.example"})
	require.Equal(t, http.StatusConflict, res.status, "%s", res.body)
	assert.Contains(t, decode[apiError](t, res).fieldNames(), "email")
}

func TestDeleteUser(t *testing.T) {
	ts := newTestServer(t)
	id := ts.create(t, map[string]any{"email": "ada@acme.example"})["id"].(string)
	assert.Equal(t, http.StatusPreconditionFailed, ts.call(t, "DELETE", "/api/v1/users/"+id, nil, "If-Match", `"7"`).status)
	assert.Equal(t, http.StatusNoContent, ts.call(t, "DELETE", "/api/v1/users/"+id, nil, "If-Match", `"1"`).status)
	assert.Equal(t, http.StatusNotFound, ts.call(t, "GET", "/api/v1/users/"+id, nil).status)
	assert.Equal(t, http.StatusNotFound, ts.call(t, "DELETE", "/api/v1/users/"+id, nil).status)
	res := ts.call(t, "GET", "/api/v1/events", nil)
	assert.Contains(t, string(res.body), `"user.deleted"`)
}

func TestInviteAgainAndAccept(t *testing.T) {
	ts := newTestServer(t)
	first := ts.create(t, map[string]any{"email": "ada@acme.example", "invite": true})
	id := first["id"].(string)

	res := ts.call(t, "POST", "/api/v1/users/"+id+"/invite", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	again := decode[map[string]any](t, res)
	token := again["invitationToken"].(string)
	assert.NotEqual(t, first["invitationToken"], token)
	assert.NotEmpty(t, again["invitationExpires"])
	assert.Equal(t, http.StatusNotFound, ts.call(t, "POST", "/api/v1/users/nobody/invite", nil).status)

	// Accepting verifies the email, once.
	res = ts.callAs(t, "", "POST", "/api/v1/invitations/accept", map[string]any{"token": token})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.True(t, decode[userJSON](t, res).EmailVerified)
	res = ts.callAs(t, "", "POST", "/api/v1/invitations/accept", map[string]any{"token": token})
	assert.Equal(t, http.StatusGone, res.status)
	assert.NotEmpty(t, decode[apiError](t, res).Error)

	// A deactivated user is not invited.
	require.Equal(t, http.StatusOK, ts.call(t, "POST", "/api/v1/users/"+id+"/deactivate", nil).status)
	assert.Equal(t, http.StatusConflict, ts.call(t, "POST", "/api/v1/users/"+id+"/invite", nil).status)
}

func TestInternalGroups(t *testing.T) {
	ts := newTestServer(t)
	uid := ts.create(t, map[string]any{"email": "ada@acme.example"})["id"].(string)

	res := ts.call(t, "POST", "/api/v1/groups", map[string]any{"name": "Engineering"})
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	g := decode[groupJSON](t, res)
	assert.Equal(t, "internal", string(g.Kind))
	assert.Equal(t, "/api/v1/groups/"+g.ID, res.header.Get("Location"))
	assert.Equal(t, http.StatusConflict, ts.call(t, "POST", "/api/v1/groups", map[string]any{"name": "engineering"}).status)
	res = ts.call(t, "POST", "/api/v1/groups", map[string]any{"name": " "})
	require.Equal(t, http.StatusUnprocessableEntity, res.status, "%s", res.body)
	assert.NotEmpty(t, decode[apiError](t, res).fieldNames())

	res = ts.call(t, "PATCH", "/api/v1/groups/"+g.ID, map[string]any{"name": "R&D"}, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, "R&D", decode[groupJSON](t, res).Name)
	assert.Equal(t, http.StatusPreconditionFailed, ts.call(t, "PATCH", "/api/v1/groups/"+g.ID, map[string]any{"name": "X"}, "If-Match", `"1"`).status)
	assert.Equal(t, http.StatusNotFound, ts.call(t, "PATCH", "/api/v1/groups/nope", map[string]any{"name": "X"}).status)
	res = ts.call(t, "GET", "/api/v1/groups/"+g.ID, nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, `"2"`, res.header.Get("ETag"))

	// Members: added and removed, idempotently.
	for range 2 {
		assert.Equal(t, http.StatusNoContent, ts.call(t, "PUT", "/api/v1/groups/"+g.ID+"/members/"+uid, nil).status)
	}
	assert.Equal(t, http.StatusNotFound, ts.call(t, "PUT", "/api/v1/groups/"+g.ID+"/members/nobody", nil).status)
	res = ts.call(t, "GET", "/api/v1/groups/"+g.ID+"/members", nil)
	require.Equal(t, http.StatusOK, res.status)
	page := decode[struct {
		Users []userJSON `json:"users"`
		Total int        `json:"total"`
	}](t, res)
	require.Equal(t, 1, page.Total)
	assert.Equal(t, uid, page.Users[0].ID)
	res = ts.call(t, "GET", "/api/v1/users/"+uid, nil)
	assert.Contains(t, string(res.body), `"R&D"`)
	assert.Equal(t, http.StatusNoContent, ts.call(t, "DELETE", "/api/v1/groups/"+g.ID+"/members/"+uid, nil).status)
	res = ts.call(t, "GET", "/api/v1/groups/"+g.ID+"/members", nil)
	assert.Contains(t, string(res.body), `"total":0`)

	assert.Equal(t, http.StatusNoContent, ts.call(t, "DELETE", "/api/v1/groups/"+g.ID, nil).status)
	assert.Equal(t, http.StatusNotFound, ts.call(t, "GET", "/api/v1/groups/"+g.ID, nil).status)
	assert.Equal(t, http.StatusNotFound, ts.call(t, "DELETE", "/api/v1/groups/"+g.ID, nil).status)
}

// TestGoogleSyncNow runs a dry run, then a sync, on demand; the external
// group it makes refuses changes from the admin API, naming its source.
func TestGoogleSyncNow(t *testing.T) {
	api, _ := fakeGoogle(t)
	ts := newTestServerWith(t, fmt.Sprintf(`{"google": {"keyFile": %q, "admin": "admin@acme.example", "endpoint": %q}}`,
		googleKeyFile(t, api.URL+"/token"), api.URL), nil)

	res := ts.call(t, "GET", "/api/v1/google/sync", nil)
	assert.Equal(t, http.StatusNotFound, res.status, "no sync yet")
	res = ts.call(t, "POST", "/api/v1/google/sync", map[string]any{"dryRun": true})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	dry := decode[syncJSON](t, res)
	assert.True(t, dry.DryRun)
	assert.NotEmpty(t, dry.Changes, "a dry run lists its plan")
	assert.Contains(t, string(ts.call(t, "GET", "/api/v1/groups", nil).body), `"total":0`, "a dry run changes nothing")

	res = ts.call(t, "POST", "/api/v1/google/sync", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	done := decode[syncJSON](t, res)
	assert.False(t, done.DryRun)
	assert.Equal(t, 1, done.GroupsCreated)
	assert.Equal(t, 1, done.MembersAdded)
	res = ts.call(t, "GET", "/api/v1/google/sync", nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, 1, decode[syncJSON](t, res).MembersAdded, "the last report")

	res = ts.call(t, "GET", "/api/v1/groups?kind=external", nil)
	g := decode[struct {
		Groups []groupJSON `json:"groups"`
	}](t, res).Groups[0]
	uid := ts.create(t, map[string]any{"email": "grace@acme.example"})["id"].(string)
	for _, c := range []struct{ method, path string }{
		{"PUT", "/members/" + uid}, {"DELETE", "/members/" + uid}, {"DELETE", ""},
	} {
		res = ts.call(t, c.method, "/api/v1/groups/"+g.ID+c.path, nil)
		require.Equal(t, http.StatusForbidden, res.status, "%s %s", c.method, c.path)
		assert.Contains(t, decode[apiError](t, res).Error, "managed by google")
	}
	res = ts.call(t, "PATCH", "/api/v1/groups/"+g.ID, map[string]any{"name": "X"})
	assert.Equal(t, http.StatusForbidden, res.status)

	res = ts.call(t, "GET", "/api/v1/settings/health", nil)
	require.Equal(t, http.StatusOK, res.status)
	h := decode[healthJSON](t, res)
	assert.True(t, h.Google.Enabled)
	assert.False(t, h.Google.LastSync.IsZero())
	assert.Equal(t, "google", h.GroupSource)
}

func TestGoogleSyncOff(t *testing.T) {
	ts := newTestServer(t)
	for _, m := range []string{"GET", "POST"} {
		res := ts.call(t, m, "/api/v1/google/sync", nil)
		require.Equal(t, http.StatusNotFound, res.status)
		assert.Contains(t, decode[apiError](t, res).Error, "not configured")
	}
}

func TestHealthConfiguredTenant(t *testing.T) {
	ts := newTestServerWith(t, samlConfig(t, ""), map[string]string{EnvSCIMToken: testSCIMToken})
	res := ts.call(t, "GET", "/api/v1/settings/health", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	h := decode[healthJSON](t, res)
	assert.Equal(t, "default", h.Tenant)
	assert.True(t, h.SCIM.Enabled)
	require.NotEmpty(t, h.SAML)
	assert.NotEmpty(t, h.SAML[0].Certificates, "the SP's and IdP's certificates with their expiry")
	for _, c := range h.SAML[0].Certificates {
		assert.False(t, c.NotAfter.IsZero())
	}
	assert.Equal(t, http.StatusUnauthorized, ts.callAs(t, "", "GET", "/api/v1/settings/health", nil).status)
}

// TestHealthLastFailure: a refused SAML response is the connection's last
// failure in the health, with its reason.
func TestHealthLastFailure(t *testing.T) {
	ts := newTestServerWith(t, samlConfig(t, ""), nil)
	res := ts.callAs(t, "", "POST", "/saml/entra/acs", "SAMLResponse=bm90IHhtbA%3D%3D", "Content-Type", "application/x-www-form-urlencoded")
	require.NotEqual(t, http.StatusOK, res.status)
	res = ts.call(t, "GET", "/api/v1/settings/health", nil)
	require.Equal(t, http.StatusOK, res.status)
	h := decode[healthJSON](t, res)
	require.Len(t, h.SAML, 1)
	require.NotNil(t, h.SAML[0].Last.LastFailure, "%s", res.body)
	assert.Nil(t, h.SAML[0].Last.LastSuccess)
	assert.NotEmpty(t, h.SAML[0].Last.LastFailure.Reason)
}
