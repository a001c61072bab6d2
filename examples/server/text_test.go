package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBodyNotUTF8 checks that a JSON body whose text is not UTF-8 is a 400
// naming the field, and that nothing is stored (not "Jos\uFFFD").
func TestBodyNotUTF8(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range []struct{ name, body, field string }{
		{"Windows-1252", "{\"email\":\"jose@example.com\",\"givenName\":\"Jos\xe9\"}", "givenName"},
		{"in an attribute", "{\"email\":\"jose@example.com\",\"attributes\":{\"title\":\"\xff\"}}", "attributes.title"},
		{"a lone surrogate", `{"email":"jose@example.com","displayName":"\ud800"}`, "displayName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.call(t, "POST", "/api/v1/users", tc.body)
			require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
			assert.Equal(t, []string{tc.field}, decode[apiError](t, res).fieldNames())
		})
	}
	assert.Zero(t, decode[struct{ Total int }](t, ts.call(t, "GET", "/api/v1/users", nil)).Total)
}

// TestHiddenCharactersInNames checks that the admin API refuses a name with
// a right-to-left override or a zero-width space, naming the field.
func TestHiddenCharactersInNames(t *testing.T) {
	ts := newTestServer(t)
	for field, body := range map[string]string{
		"displayName": `{"email":"a@example.com","displayName":"Ada \u202Eecila"}`,
		"givenName":   `{"email":"a@example.com","givenName":"Ad\u200Ba"}`,
	} {
		res := ts.call(t, "POST", "/api/v1/users", body)
		assert.Equal(t, http.StatusUnprocessableEntity, res.status, "body: %s", res.body)
		assert.Equal(t, []string{field}, decode[apiError](t, res).fieldNames())
	}
}

// TestListQueryValidated checks q and after: a NUL in q, a malformed cursor
// and a cursor that names no record are 400s naming the parameter, not every
// user or a listing that starts again.
func TestListQueryValidated(t *testing.T) {
	ts := newTestServer(t)
	for _, email := range []string{"a@example.com", "b@example.com"} {
		require.Equal(t, http.StatusCreated, ts.call(t, "POST", "/api/v1/users", `{"email":"`+email+`"}`).status)
	}
	for _, path := range []string{
		"/api/v1/users?q=%00", "/api/v1/users?q=a%E2%80%AEb", "/api/v1/users?q=%FF",
		"/api/v1/groups?q=%00",
	} {
		res := ts.call(t, "GET", path, nil)
		assert.Equal(t, http.StatusBadRequest, res.status, "%s: %s", path, res.body)
		assert.Equal(t, []string{"q"}, decode[apiError](t, res).fieldNames(), path)
	}
	for _, path := range []string{
		"/api/v1/users?after=zzzz", "/api/v1/users?after=a%20b", "/api/v1/users?after=%00",
		"/api/v1/users?after=0190a0b0c0d0e0f0a0b0c0d0e0f0a0b0", "/api/v1/groups?after=zzzz",
	} {
		res := ts.call(t, "GET", path, nil)
		assert.Equal(t, http.StatusBadRequest, res.status, "%s: %s", path, res.body)
		assert.Equal(t, []string{"after"}, decode[apiError](t, res).fieldNames(), path)
	}
	// A real cursor pages on.
	type page struct {
		Users []struct{ ID string }
		Total int
	}
	first := decode[page](t, ts.call(t, "GET", "/api/v1/users?limit=1", nil))
	require.Len(t, first.Users, 1)
	next := decode[page](t, ts.call(t, "GET", "/api/v1/users?limit=1&after="+first.Users[0].ID, nil))
	require.Len(t, next.Users, 1)
	assert.NotEqual(t, first.Users[0].ID, next.Users[0].ID)
	assert.Equal(t, 2, decode[page](t, ts.call(t, "GET", "/api/v1/users?q=example", nil)).Total)
}

// TestCreateWithDeactivatedEmail checks the email rule through the admin
// API: a deactivated user's address may be given to a new user, one mailbox
// in another form (IDNA, width) may not go to a second active user, and the
// old user's restore is then a 409.
func TestCreateWithDeactivatedEmail(t *testing.T) {
	ts := newTestServer(t)
	type user struct{ ID string }
	old := decode[user](t, ts.call(t, "POST", "/api/v1/users", `{"email":"j@müller.de"}`))
	require.Equal(t, http.StatusOK, ts.call(t, "POST", "/api/v1/users/"+old.ID+"/deactivate", nil).status)
	res := ts.call(t, "POST", "/api/v1/users", `{"email":"J@xn--mller-kva.de","userName":"j2"}`)
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	assert.Equal(t, http.StatusConflict, ts.call(t, "POST", "/api/v1/users", `{"email":"j@ｍüller.de","userName":"j3"}`).status)
	assert.Equal(t, http.StatusConflict, ts.call(t, "POST", "/api/v1/users/"+old.ID+"/restore", nil).status)
}
