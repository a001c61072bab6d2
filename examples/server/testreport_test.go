package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/oauth"
)

// A test sign-in's report is a page for a browser and the JSON of the
// report for any other client; a refusal shows its typed reason.
func TestTestReportPageOrJSON(t *testing.T) {
	res := oauth.Result{Test: &oauth.Test{Reason: oauth.ReasonDomainNotAllowed, Refusal: "email domain not allowed <b>",
		SignInTest: identity.SignInTest{Claims: identity.Claims{Subject: "s1", Email: "bob@other.org"},
			Groups: groups.Plan{Create: []string{"Ops"}}}}}
	answer := func(accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/t/acme/oauth/google/callback", nil)
		r.SetPathValue("provider", "google")
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		w := httptest.NewRecorder()
		oauthTested(w, r, res)
		return w
	}
	w := answer("")
	var rep oauth.Test
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &rep), w.Body.String())
	assert.Equal(t, oauth.ReasonDomainNotAllowed, rep.Reason)
	assert.Equal(t, "bob@other.org", rep.Claims.Email)

	w = answer("text/html,application/xhtml+xml")
	page := w.Body.String()
	assert.True(t, strings.HasPrefix(w.Header().Get("Content-Type"), "text/html"), w.Header())
	assert.Contains(t, page, `<strong id="test-reason">domain_not_allowed</strong>`)
	assert.Contains(t, page, "Test sign-in of oauth:google")
	assert.Contains(t, page, "email domain not allowed &lt;b&gt;", "escaped")
	assert.Contains(t, page, "Ops")
}
