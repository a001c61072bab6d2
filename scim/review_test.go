package scim_test

import (
	"net/url"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/scim"
)

// A filter on groups must hold whatever the projection returns: with
// attributes=userName the indexed lookup used to render the user without
// groups and so never matched.
func TestFilterOnGroupsWithProjection(t *testing.T) {
	e := newEnv(t)
	a := e.createUser(t, "a@x.test")
	e.createUser(t, "b@x.test")
	g := e.createGroup(t, "G1", a)
	f := url.QueryEscape(`userName eq "a@x.test" and groups.value eq "` + g + `"`)
	for _, proj := range []string{"", "&attributes=userName", "&excludedAttributes=groups"} {
		r := e.do("GET", "/Users?filter="+f+proj, "").must(t, 200)
		if r.total() != 1 || len(r.resources()) != 1 {
			t.Errorf("projection %q: totalResults %d, %d resources; want 1", proj, r.total(), len(r.resources()))
		}
		if proj != "" && len(r.resources()) == 1 && walk(r.resources()[0], "groups") != nil {
			t.Errorf("projection %q returned groups", proj)
		}
	}
}

// Whether SCIM's emails are verified is the core's policy (VerifiesEmail),
// not whether SCIM is trusted for email.
func TestEmailVerifiedFollowsPolicy(t *testing.T) {
	noVerify := func(_ *scim.Config, c *identity.Config) {
		c.Sources = map[string]identity.SourcePolicy{
			identity.SourceSCIM: {Create: true, Email: identity.EmailTrusted, Restore: true},
		}
	}
	verified := func(e *env, id string) bool {
		t.Helper()
		u, err := e.dir.Reader().User(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return u.EmailVerified
	}
	e := newEnv(t, noVerify)
	id := e.createUser(t, "a@x.test")
	if verified(e, id) {
		t.Error("POST: email verified though the policy does not verify SCIM's emails")
	}
	e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"a2@x.test"}]}`).must(t, 200)
	if verified(e, id) {
		t.Error("PATCH: new email verified though the policy does not verify SCIM's emails")
	}
	e.do("PUT", "/Users/"+id, `{"userName":"a@x.test","emails":[{"value":"a3@x.test"}]}`).must(t, 200)
	if verified(e, id) {
		t.Error("PUT: new email verified though the policy does not verify SCIM's emails")
	}

	d := newEnv(t) // the default policy verifies SCIM's emails
	id = d.createUser(t, "b@x.test")
	if !verified(d, id) {
		t.Error("default policy: POST email not verified")
	}
	d.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"b2@x.test"}]}`).must(t, 200)
	if !verified(d, id) {
		t.Error("default policy: PATCH email not verified")
	}
}

// The one email and phone number a user keeps come back with the type they
// were sent with, so that a PATCH of a path filtered on that type (Entra's
// phoneNumbers[type eq "mobile"].value) finds them instead of being lost.
func TestPatchKeepsValueType(t *testing.T) {
	e := newEnv(t)
	id := e.do("POST", "/Users", `{"userName":"m@x.test","emails":[{"type":"home","value":"m@home.test"}],"phoneNumbers":[{"type":"mobile","value":"+1 111"}]}`).must(t, 201).str("id")
	r := e.do("PATCH", "/Users/"+id, `{"Operations":[`+
		`{"op":"Replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 222"},`+
		`{"op":"Replace","path":"emails[type eq \"home\"].value","value":"m2@home.test"}]}`).must(t, 200)
	if got := r.str("phoneNumbers.0.value"); got != "+1 222" {
		t.Errorf("mobile number %q after PATCH, want +1 222 (%v)", got, r.get("phoneNumbers"))
	}
	if got := r.str("phoneNumbers.0.type"); got != "mobile" {
		t.Errorf("phone type %q, want mobile", got)
	}
	if got := r.str("emails.0.value"); got != "m2@home.test" {
		t.Errorf("email %q after PATCH, want m2@home.test (%v)", got, r.get("emails"))
	}
	// A work value is returned as work, as before.
	r = e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"emails","value":[{"type":"work","value":"m@x.test"}]}]}`).must(t, 200)
	if got := r.str("emails.0.type"); got != "work" {
		t.Errorf("email type %q, want work", got)
	}
	u, err := e.dir.Reader().User(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := u.Attributes["emailType"]; ok {
		t.Errorf("emailType kept for a work email: %v", u.Attributes)
	}
}
