package scim_test

import (
	"net/url"
	"strconv"
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

// TestGroupExternalIDNotUnique checks RFC 7643 §3.1 for groups: a POST
// /Groups with another group's externalId is a 201, and a filter on the
// externalId returns every group with it. The bodies are the literal ones
// of Microsoft's reference collection (whose "${__UUID}", JMeter's syntax,
// newman sends as it is, so its groups share the externalId) and of Entra's
// provisioning.
func TestGroupExternalIDNotUnique(t *testing.T) {
	const entraExt = "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
	entra := func(name string) string {
		return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"` +
			entraExt + `","displayName":"` + name + `","meta":{"resourceType":"Group"}}`
	}
	for _, c := range []struct {
		name   string
		posts  []string
		ext    string
		params string // more of the listing's query
	}{
		{"reference collection, Group tests", []string{
			`{
  "externalId":"${__UUID}",
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "displayName": "Group1DisplayName",
  "members":[]
}`,
			`{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "externalId":"${__UUID}",
  "displayName": "GroupDisplayName3",
  "members":[]
}`}, "${__UUID}", ""},
		{"reference collection, garbage", []string{
			`{
    "displayName": "Group 1",
    "externalId": "015489ea-9410-4306-b583-9f002b2446f7",
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:Group"
    ]
}`,
			`{
    "displayName": "Group 2",
    "externalId": "015489ea-9410-4306-b583-9f002b2446f7",
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:Group"
    ]
}`}, "015489ea-9410-4306-b583-9f002b2446f7", ""},
		{"Entra", []string{entra("displayName"), entra("displayName2"), entra("displayName3")}, entraExt, "&excludedAttributes=members"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			want := map[string]string{} // id -> displayName
			for _, body := range c.posts {
				r := e.do("POST", "/Groups", body).must(t, 201)
				if r.str("externalId") != c.ext {
					t.Errorf("POST /Groups: externalId %q, want %q", r.str("externalId"), c.ext)
				}
				want[r.str("id")] = r.str("displayName")
			}
			r := e.do("GET", "/Groups?filter="+url.QueryEscape(`externalId eq "`+c.ext+`"`)+c.params, "").must(t, 200)
			if r.total() != len(want) || len(r.resources()) != len(want) {
				t.Fatalf("filter externalId eq: totalResults %d, %d resources; want %d: %s", r.total(), len(r.resources()), len(want), r.Raw)
			}
			for i := range len(want) {
				id := r.str("Resources." + strconv.Itoa(i) + ".id")
				if _, ok := want[id]; !ok {
					t.Errorf("filter externalId eq returned %q, not one of %v", id, want)
				}
				if got := r.str("Resources." + strconv.Itoa(i) + ".externalId"); got != c.ext {
					t.Errorf("resource %d: externalId %q, want %q", i, got, c.ext)
				}
			}
			// With a second condition, the one group of both.
			for id, name := range want {
				f := `externalId eq "` + c.ext + `" and displayName eq "` + name + `"`
				r := e.do("GET", "/Groups?filter="+url.QueryEscape(f), "").must(t, 200)
				if r.total() != 1 || r.str("Resources.0.id") != id {
					t.Errorf("filter %s: %s, want only %s", f, r.Raw, id)
				}
			}
			if up := strings.ToUpper(c.ext); up != c.ext {
				if n := e.do("GET", "/Groups?filter="+url.QueryEscape(`externalId eq "`+up+`"`), "").must(t, 200).total(); n != 0 {
					t.Errorf("filter externalId eq in upper case: totalResults %d, want 0 (compared exactly)", n)
				}
			}
		})
	}

	// A PATCH or PUT to another group's externalId is no conflict either.
	e := newEnv(t)
	a := e.do("POST", "/Groups", entra("A")).must(t, 201).str("id")
	b := e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"B","externalId":"b"}`).must(t, 201).str("id")
	c := e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"C","externalId":"c"}`).must(t, 201).str("id")
	e.do("PATCH", "/Groups/"+b, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"externalId","value":"`+entraExt+`"}]}`).must(t, 204)
	e.do("PUT", "/Groups/"+c, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"C","externalId":"`+entraExt+`"}`).must(t, 200)
	r := e.do("GET", "/Groups?filter="+url.QueryEscape(`externalId eq "`+entraExt+`"`), "").must(t, 200)
	got := map[string]bool{}
	for i := range r.resources() {
		got[r.str("Resources."+strconv.Itoa(i)+".id")] = true
	}
	if len(got) != 3 || !got[a] || !got[b] || !got[c] {
		t.Errorf("after PATCH and PUT, filter externalId eq returned %v, want %s, %s and %s", got, a, b, c)
	}
}
