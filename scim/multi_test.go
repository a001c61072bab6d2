package scim_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

const multiUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
"userName":"mv@example.com",
"emails":[{"value":"mv@example.com","type":"work","primary":true},{"value":"mv@home.example","type":"home"},{"value":"mv.alias@example.com","type":"other","display":"alias"}],
"phoneNumbers":[{"value":"+1 555 0100","type":"work"},{"value":"+1 555 0199","type":"mobile","primary":true}],
"addresses":[{"type":"work","streetAddress":"1 Main St","locality":"Springfield","region":"IL","postalCode":"62701","country":"US","formatted":"1 Main St, Springfield"}],
"ims":[{"value":"mv@xmpp.example","type":"xmpp"}],
"photos":[{"value":"https://photos.example/mv.jpg","type":"photo"}],
"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7","department":"Ops","manager":{"value":"boss-id"}}}`

// Every multi-valued attribute is kept, returned and filterable; the
// primary email is the identity's.
func TestMultiValuedKept(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/Users", multiUser).must(t, 201)
	id := r.str("id")
	g := e.do("GET", "/Users/"+id, "").must(t, 200)
	for path, want := range map[string]any{
		"emails.1.value": "mv@home.example", "emails.1.type": "home", "emails.2.display": "alias", "emails.0.primary": true,
		"phoneNumbers.1.value": "+1 555 0199", "phoneNumbers.1.primary": true,
		"addresses.0.locality": "Springfield", "addresses.0.country": "US", "addresses.0.formatted": "1 Main St, Springfield",
		"ims.0.type": "xmpp", "photos.0.value": "https://photos.example/mv.jpg",
		"{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User}.manager.value": "boss-id",
		"{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User}.department":    "Ops",
	} {
		wantField(t, g, path, want)
	}
	u, err := e.dir.Reader().User(t.Context(), id)
	if err != nil || u.Email != "mv@example.com" || u.Attributes[identity.AttrPhone] != "+1 555 0199" {
		t.Errorf("identity: %v %+v", err, u)
	}

	// Entra's default mappings, as PATCH paths.
	e.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Add","path":"emails[type eq \"other\"].value","value":"mv.other@example.org"},
		{"op":"Replace","path":"addresses[type eq \"work\"].postalCode","value":"62702"},
		{"op":"Add","path":"phoneNumbers[type eq \"fax\"].value","value":"+1 555 0111"}]}`).must(t, 200)
	g = e.do("GET", "/Users/"+id, "").must(t, 200)
	wantField(t, g, "emails.2.value", "mv.other@example.org") // the other email took the new value
	wantField(t, g, "addresses.0.postalCode", "62702")
	wantField(t, g, "phoneNumbers.2.value", "+1 555 0111")
	wantField(t, g, "phoneNumbers.2.type", "fax")

	other := e.createUser(t, "plain@example.com")
	for _, tc := range []struct {
		filter string
		want   string
	}{
		{`emails.value eq "mv@home.example"`, id},
		{`emails[type eq "home" and value co "@HOME."]`, id},
		{`emails[type eq "work"].value eq "mv@home.example"`, ""},
		{`emails.value co "plain@"`, other},
		{`emails[type eq "other"].value eq "mv.other@example.org"`, id},
		{`phoneNumbers[type eq "mobile"].value eq "+1 555 0199"`, id},
		{`addresses[type eq "work"].locality eq "springfield"`, id},
		{`addresses.country eq "US" and userName sw "mv"`, id},
		{`ims.value eq "mv@xmpp.example"`, id},
		{`photos pr`, id},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "boss-id"`, id},
	} {
		r := e.do("GET", "/Users?filter="+url.QueryEscape(tc.filter), "").must(t, 200)
		n := 0
		if tc.want != "" {
			n = 1
		}
		if r.total() != n || n == 1 && walk(r.resources()[0], "id") != tc.want {
			t.Errorf("%s: %s", tc.filter, r.Raw)
		}
	}

	// Another source changes the email: SCIM shows it as the primary one.
	if _, err := e.dir.UpdateUser(t.Context(), identity.SourceManual, id, 0, func(u *identity.User) error {
		u.Email = "mv.new@example.com"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	g = e.do("GET", "/Users/"+id, "").must(t, 200)
	wantField(t, g, "emails.0.value", "mv.new@example.com")
	wantField(t, g, "emails.1.value", "mv@home.example")

	// Removing all but one keeps the one, in the identity alone.
	e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"emails","value":[{"value":"solo@example.com","type":"home"}]}]}`).must(t, 200)
	u, _ = e.dir.Reader().User(t.Context(), id)
	if u.Email != "solo@example.com" || u.Attributes["scim.emails"] != "" || u.Attributes["emailType"] != "home" {
		t.Errorf("one email: %+v", u)
	}
}

// What rollcall does not keep is refused, naming the attribute, never
// accepted and lost.
func TestNotKeptRefused(t *testing.T) {
	e := newEnv(t)
	id := e.createUser(t, "nk@example.com")
	for _, tc := range []struct{ name, method, path, body, names string }{
		{"roles", "POST", "/Users", `{"userName":"r@example.com","roles":[{"value":"admin"}]}`, "roles"},
		{"x509Certificates", "POST", "/Users", `{"userName":"r@example.com","x509Certificates":[{"value":"MIIB"}]}`, "x509Certificates"},
		{"entitlements", "PUT", "/Users/" + id, `{"userName":"nk@example.com","entitlements":[{"value":"e"}]}`, "entitlements"},
		{"unknown extension", "POST", "/Users", `{"userName":"r@example.com","urn:ietf:params:scim:schemas:extension:ADSCIM:2.0:User":{"x":"y"}}`, "ADSCIM"},
		{"unknown sub-attribute", "POST", "/Users", `{"userName":"r@example.com","name":{"givenName":"R","nickname":"x"}}`, "name.nickname"},
		{"unknown sub-attribute of an element", "POST", "/Users", `{"userName":"r@example.com","emails":[{"value":"r@example.com","label":"x"}]}`, "emails.label"},
		{"PATCH path", "PATCH", "/Users/" + id, `{"Operations":[{"op":"add","path":"roles","value":[{"value":"admin"}]}]}`, "roles"},
		{"PATCH without path", "PATCH", "/Users/" + id, `{"Operations":[{"op":"replace","value":{"costCentre":"1"}}]}`, "costCentre"},
		{"too long to keep", "POST", "/Users", `{"userName":"r@example.com","addresses":[{"formatted":"` + strings.Repeat("x", 1100) + `"}]}`, "addresses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body).must(t, 400)
			if r.str("scimType") != "invalidValue" || !strings.Contains(r.str("detail"), tc.names) {
				t.Errorf("%s", r.Raw)
			}
		})
	}
	// Null and empty values keep nothing and are accepted (Entra's literal
	// body sends "roles":[] and "addresses":null).
	e.do("POST", "/Users", `{"userName":"ok@example.com","roles":[],"x509Certificates":null}`).must(t, 201)
	e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"remove","path":"roles"}]}`).must(t, 200)
	if u, _ := e.dir.Reader().User(t.Context(), id); u.Version != 1 {
		t.Errorf("a refused request changed the user: %+v", u)
	}
}
