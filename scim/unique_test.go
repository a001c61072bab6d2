package scim_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestExternalIDNotUnique checks RFC 7643 §3.1: the server does not enforce
// an externalId's uniqueness, and a filter on it returns every user with it.
func TestExternalIDNotUnique(t *testing.T) {
	e := newEnv(t)
	a := e.do("POST", "/Users", `{"userName":"a@one.example","externalId":"jdoe"}`).must(t, 201).str("id")
	b := e.do("POST", "/Users", `{"userName":"a@two.example","externalId":"jdoe"}`).must(t, 201).str("id")
	r := e.do("GET", `/Users?filter=externalId+eq+%22jdoe%22`, "").must(t, 200)
	if r.total() != 2 {
		t.Fatalf("filter externalId eq: totalResults %d, want 2", r.total())
	}
	got := map[string]bool{}
	for i := range 2 {
		got[r.str("Resources."+string(rune('0'+i))+".id")] = true
	}
	if !got[a] || !got[b] {
		t.Errorf("filter externalId eq returned %v, want %s and %s", got, a, b)
	}
}

// TestEmailOfDeactivatedUser checks that a deactivated user's address may be
// given to a new user by POST, that a filter on the email finds both, and
// that reactivating the old user is then a 409.
func TestEmailOfDeactivatedUser(t *testing.T) {
	e := newEnv(t)
	old := e.do("POST", "/Users", `{"userName":"old","emails":[{"value":"ann@example.com","primary":true}]}`).must(t, 201).str("id")
	e.do("PATCH", "/Users/"+old, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`).must(t, 200)
	e.do("POST", "/Users", `{"userName":"new","emails":[{"value":"Ann@Example.com","primary":true}]}`).must(t, 201)
	if n := e.do("GET", `/Users?filter=emails+eq+%22ann@example.com%22`, "").must(t, 200).total(); n != 2 {
		t.Errorf("filter emails eq: totalResults %d, want 2", n)
	}
	r := e.do("PATCH", "/Users/"+old, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":true}]}`)
	r.must(t, 409)
	if r.str("scimType") != "uniqueness" {
		t.Errorf("restoring: scimType %q, want uniqueness", r.str("scimType"))
	}
	// A second active user with the address, in another form, is a 409.
	e.do("POST", "/Users", `{"userName":"third","emails":[{"value":"ＡＮＮ@example.com"}]}`).must(t, 409)
}

// TestBodyNotUTF8 checks that a body whose text is not UTF-8 is a 400
// naming the attribute, not a user named "Jos\uFFFD".
func TestBodyNotUTF8(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/Users", "{\"userName\":\"jose\",\"name\":{\"givenName\":\"Jos\xe9\"}}")
	r.must(t, 400)
	if r.str("scimType") != "invalidValue" || !strings.Contains(r.str("detail"), "name.givenName") {
		t.Errorf("scimType %q detail %q, want invalidValue naming name.givenName", r.str("scimType"), r.str("detail"))
	}
	if n := e.do("GET", "/Users", "").must(t, 200).total(); n != 0 {
		t.Errorf("%d users stored, want none", n)
	}
}

// TestEmailFilterCanonical: an email filter compares addresses in the core's
// canonical form, so a full-width or IDNA spelling finds the user, as the
// stores would.
func TestEmailFilterCanonical(t *testing.T) {
	e := newEnv(t)
	id := e.do("POST", "/Users", `{"userName":"ann","emails":[{"value":"ann@müller.example","primary":true}]}`).must(t, 201).str("id")
	for _, f := range []string{
		`emails.value eq "ＡＮＮ@müller.example"`,
		`emails.value eq "ann@xn--mller-kva.example"`,
		`emails[value eq "ANN@MÜLLER.EXAMPLE"]`,
	} {
		r := e.do("GET", "/Users?filter="+url.QueryEscape(f), "").must(t, 200)
		if r.total() != 1 || r.str("Resources.0.id") != id {
			t.Errorf("filter %s: %s", f, r.Raw)
		}
	}
	if r := e.do("GET", "/Users?filter="+url.QueryEscape(`emails.value eq "bob@müller.example"`), "").must(t, 200); r.total() != 0 {
		t.Errorf("another address matched: %s", r.Raw)
	}
}
