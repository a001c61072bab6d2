package scim_test

import (
	"strings"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/scim"
)

// fixture is what each client-quirk case starts from: a user X to change,
// users U1, U2, U3, and a SCIM group G whose only member is U1.
type fixture struct {
	e          *env
	x          string
	u1, u2, u3 string
	g          string
}

func newFixture(t *testing.T, opts ...envOpt) *fixture {
	e := newEnv(t, opts...)
	f := &fixture{e: e}
	f.x = e.do("POST", "/Users", `{"userName":"x@example.com","externalId":"x-ext","name":{"givenName":"Ex","familyName":"Ample"},"displayName":"Ex Ample","emails":[{"value":"x@example.com","type":"work","primary":true}],"active":true}`).must(t, 201).str("id")
	f.u1 = e.createUser(t, "u1@example.com")
	f.u2 = e.createUser(t, "u2@example.com")
	f.u3 = e.createUser(t, "u3@example.com")
	f.g = e.createGroup(t, "Group G", f.u1)
	return f
}

// fill replaces {{X}}, {{U1}}... in a literal body.
func (f *fixture) fill(s string) string {
	return strings.NewReplacer("{{X}}", f.x, "{{U1}}", f.u1, "{{U2}}", f.u2, "{{U3}}", f.u3, "{{G}}", f.g).Replace(s)
}

type quirk struct {
	name   string
	method string
	path   string
	body   string
	status int
	check  func(t *testing.T, f *fixture, r resp)
}

func runQuirks(t *testing.T, cases []quirk, opts ...envOpt) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, opts...)
			r := f.e.do(tc.method, f.fill(tc.path), f.fill(tc.body)).must(t, tc.status)
			if tc.check != nil {
				tc.check(t, f, r)
			}
		})
	}
}

// user reads X back over SCIM.
func (f *fixture) user(t *testing.T) resp {
	return f.e.do("GET", "/Users/"+f.x, "").must(t, 200)
}

func (f *fixture) members(t *testing.T) map[string]bool { return f.e.memberIDs(t, f.g) }

func wantMembers(t *testing.T, f *fixture, want ...string) {
	t.Helper()
	got := f.members(t)
	if len(got) != len(want) {
		t.Fatalf("members %v, want %v", got, want)
	}
	for _, id := range want {
		if !got[id] {
			t.Fatalf("members %v, want %v", got, want)
		}
	}
}

func wantField(t *testing.T, r resp, path string, want any) {
	t.Helper()
	if got := r.get(path); got != want {
		t.Errorf("%s = %#v, want %#v", path, got, want)
	}
}

const enterprise = "{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User}"

// Entra ID, from Microsoft's "Develop a SCIM endpoint" and "Known issues with
// SCIM 2.0 compliance" pages.
func TestEntraQuirks(t *testing.T) {
	runQuirks(t, []quirk{
		{"disable user with string boolean", "PATCH", "/Users/{{X}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, "active", false)
				wantField(t, f.user(t), "active", false)
			}},
		{"disable user with aadOptscim062020", "PATCH", "/Users/{{X}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`, 200,
			func(t *testing.T, f *fixture, r resp) { wantField(t, r, "active", false) }},
		{"string boolean only where the schema says boolean", "PATCH", "/Users/{{X}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"title","value":"False"}]}`, 200,
			func(t *testing.T, f *fixture, r resp) { wantField(t, r, "title", "False") }},
		{"replace attributes, one op each", "PATCH", "/Users/{{X}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"displayName","value":"Pvsvkivt"},{"op":"Replace","path":"emails[type eq \"work\"].value","value":"Wilfredo@example.com"},{"op":"Replace","path":"name.givenName","value":"Hyes"},{"op":"Replace","path":"name.familyName","value":"Ngeq"},{"op":"Replace","path":"externalId","value":"Vdoy"},{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Cgad"}]}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				r = f.user(t)
				wantField(t, r, "displayName", "Pvsvkivt")
				wantField(t, r, "emails.0.value", "Wilfredo@example.com")
				wantField(t, r, "name.givenName", "Hyes")
				wantField(t, r, "name.familyName", "Ngeq")
				wantField(t, r, "externalId", "Vdoy")
				wantField(t, r, enterprise+".employeeNumber", "Cgad")
			}},
		{"replace attributes without a path, dotted and URN keys", "PATCH", "/Users/{{X}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}]}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, "displayName", "Bjfe")
				wantField(t, r, "name.givenName", "Kkom")
				wantField(t, r, "name.familyName", "Unua")
				wantField(t, r, enterprise+".employeeNumber", "Aklq")
				wantField(t, r, "userName", "x@example.com")
			}},
		{"work email added where there is none", "PATCH", "/Users/{{U2}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"emails"},{"op":"Add","path":"emails[type eq \"work\"].value","value":"new@example.com"}]}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, "emails.0.value", "new@example.com")
				wantField(t, r, "emails.0.type", "work")
			}},
		{"remove a member, legacy form with a value list", "PATCH", "/Groups/{{G}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"{{U1}}"}]}]}`, 204,
			func(t *testing.T, f *fixture, r resp) { wantMembers(t, f) }},
		{"remove one member of two, legacy form", "PATCH", "/Groups/{{G}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"{{U2}}"}]},{"op":"Remove","path":"members","value":[{"value":"{{U1}}"}]}]}`, 204,
			func(t *testing.T, f *fixture, r resp) { wantMembers(t, f, f.u2) }},
		{"remove a member, filtered path", "PATCH", "/Groups/{{G}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"{{U1}}\"]"}]}`, 204,
			func(t *testing.T, f *fixture, r resp) { wantMembers(t, f) }},
		{"add a member with $ref null", "PATCH", "/Groups/{{G}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"{{U2}}"}]}]}`, 204,
			func(t *testing.T, f *fixture, r resp) { wantMembers(t, f, f.u1, f.u2) }},
		{"manager as a list on a single-valued attribute", "PATCH", "/Users/{{X}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"$ref":null,"value":"{{U1}}"}]}]}`, 200,
			func(t *testing.T, f *fixture, r resp) { wantField(t, f.user(t), enterprise+".manager.value", f.u1) }},
		{"manager as a bare id", "PATCH", "/Users/{{X}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"manager","value":"{{U2}}"}]}`, 200,
			func(t *testing.T, f *fixture, r resp) { wantField(t, f.user(t), enterprise+".manager.value", f.u2) }},
		{"remove manager with a value filter", "PATCH", "/Users/{{X}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"manager","value":"{{U2}}"},{"op":"Remove","path":"manager[value eq \"{{U2}}\"]"}]}`, 200,
			func(t *testing.T, f *fixture, r resp) { wantField(t, f.user(t), enterprise+".manager", nil) }},
		{"group lookup without members", "GET", `/Groups?excludedAttributes=members&filter=displayName+eq+%22Group+G%22`, "", 200,
			func(t *testing.T, f *fixture, r resp) {
				if r.total() != 1 || walk(r.resources()[0], "members") != nil || walk(r.resources()[0], "id") != f.g {
					t.Errorf("%s", r.Raw)
				}
			}},
		{"connection test with a random GUID", "GET", `/Users?filter=userName+eq+%22b7c4a4ea-fc5e-4b0c-9b7f-3c6f4a3f2b1d%22`, "", 200,
			func(t *testing.T, f *fixture, r resp) {
				if r.total() != 0 || r.resources() == nil {
					t.Errorf("%s", r.Raw)
				}
			}},
		{"connection test by id with a random GUID", "GET", `/Users?filter=id+eq+%22b7c4a4ea-fc5e-4b0c-9b7f-3c6f4a3f2b1d%22`, "", 200,
			func(t *testing.T, f *fixture, r resp) {
				if r.total() != 0 {
					t.Errorf("%s", r.Raw)
				}
			}},
		{"unquoted filter value", "GET", `/Users?filter=externalId+eq+x-ext`, "", 200,
			func(t *testing.T, f *fixture, r resp) {
				if r.total() != 1 {
					t.Errorf("%s", r.Raw)
				}
			}},
		{"uniqueness filter on the work email", "GET", `/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22X@example.com%22`, "", 200,
			func(t *testing.T, f *fixture, r resp) {
				if r.total() != 1 || walk(r.resources()[0], "id") != f.x {
					t.Errorf("%s", r.Raw)
				}
			}},
		{"create user with meta and roles", "POST", "/Users",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1","active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}`, 201,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, "userName", "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1")
				wantField(t, r, "name.formatted", "givenName familyName")
			}},
		{"create user, legacy body with nulls and a mistyped URN", "POST", "/Users",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],"externalId":"Test_User_1","userName":"Test_User_1@contoso.com","active":true,"addresses":null,"displayName":"Test User","emails":[{"primary":true,"type":"work","value":"Test_User_1@contoso.com"}],"meta":{"resourceType":"User"},"name":{"familyName":"User","givenName":"Test"},"phoneNumbers":null,"roles":[],"title":null,"urn:ietf:params:scim:schemas:extension:enterprise:2.0User":{"department":"Sales","manager":null}}`, 201,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, "title", nil)
				wantField(t, r, enterprise+".department", "Sales")
			}},
		{"create group with the ADSCIM schema", "POST", "/Groups",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}`, 201,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, "displayName", "displayName")
				wantField(t, r, "externalId", "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159")
			}},
		{"409 on a uniqueness conflict", "POST", "/Users", `{"userName":"X@example.com"}`, 409,
			func(t *testing.T, f *fixture, r resp) { wantField(t, r, "scimType", "uniqueness") }},
		{"inactive users are returned", "PATCH", "/Users/{{X}}",
			`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				l := f.e.do("GET", "/Users?filter=userName+eq+%22x@example.com%22", "").must(t, 200)
				if l.total() != 1 || walk(l.resources()[0], "active") != false {
					t.Errorf("%s", l.Raw)
				}
			}},
		{"lower-case endpoint", "GET", "/users?filter=userName+eq+%22x@example.com%22", "", 200,
			func(t *testing.T, f *fixture, r resp) {
				if r.total() != 1 {
					t.Errorf("%s", r.Raw)
				}
			}},
		{"trailing slash", "GET", "/Users/?filter=userName+eq+%22x@example.com%22", "", 200,
			func(t *testing.T, f *fixture, r resp) {
				if r.total() != 1 {
					t.Errorf("%s", r.Raw)
				}
			}},
		{"string boolean on create", "POST", "/Users", `{"userName":"t@example.com","active":"True"}`, 201,
			func(t *testing.T, f *fixture, r resp) { wantField(t, r, "active", true) }},
		{"member added as a bare id", "PATCH", "/Groups/{{G}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":["{{U3}}"]}]}`, 204,
			func(t *testing.T, f *fixture, r resp) { wantMembers(t, f, f.u1, f.u3) }},
	})
}

// Entra prefers 204 to PATCH.
func TestPatchNoContent(t *testing.T) {
	runQuirks(t, []quirk{
		{"group member add", "PATCH", "/Groups/{{G}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"{{U2}}"}]}]}`, 204,
			func(t *testing.T, f *fixture, r resp) {
				if r.Raw != "" {
					t.Errorf("body %q", r.Raw)
				}
				wantMembers(t, f, f.u1, f.u2)
			}},
		{"user", "PATCH", "/Users/{{X}}", `{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`, 204, nil},
	}, func(c *scim.Config, _ *identity.Config) { c.PatchNoContent = true })
}

// Okta, from its SCIM 2.0 reference.
func TestOktaQuirks(t *testing.T) {
	runQuirks(t, []quirk{
		{"existence check", "GET", "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100", "", 200,
			func(t *testing.T, f *fixture, r resp) {
				if r.total() != 0 || len(r.resources()) != 0 || r.get("startIndex") != float64(1) || r.get("itemsPerPage") != float64(0) {
					t.Errorf("%s", r.Raw)
				}
			}},
		{"create user with password and groups", "POST", "/Users",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`, 201,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, "userName", "test.user@okta.local")
				wantField(t, r, "locale", "en-US")
				wantField(t, r, "password", nil)
				again := f.e.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local","password":"1mz050nq","active":true}`).must(t, 409)
				wantField(t, again, "scimType", "uniqueness")
			}},
		{"create user with its groups", "POST", "/Users",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"g.user@okta.local","groups":[{"value":"{{G}}","display":"Group G"}],"active":true}`, 201,
			func(t *testing.T, f *fixture, r resp) {
				if !f.members(t)[r.str("id")] {
					t.Error("membership from the user body lost")
				}
				wantField(t, r, "groups.0.value", f.g)
			}},
		{"deactivate without a path", "PATCH", "/Users/{{X}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`, 200,
			func(t *testing.T, f *fixture, r resp) { wantField(t, r, "active", false) }},
		{"PUT with active false (AIW)", "PUT", "/Users/{{X}}",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"{{X}}","userName":"x@example.com","name":{"givenName":"Ex","familyName":"Ample"},"emails":[{"primary":true,"value":"x@example.com","type":"work"}],"active":false,"groups":[{"value":"{{G}}"}],"meta":{"resourceType":"User"}}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, "active", false)
				wantField(t, r, "displayName", nil)
			}},
		{"PUT reactivates", "PUT", "/Users/{{X}}",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x@example.com","active":true}`, 200,
			func(t *testing.T, f *fixture, r resp) { wantField(t, r, "active", true) }},
		{"group rename with its id", "PATCH", "/Groups/{{G}}?attributes=displayName",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"{{G}}","displayName":"Test SCIMv2"}}]}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, "displayName", "Test SCIMv2")
				wantMembers(t, f, f.u1)
			}},
		{"rename resent with membership changes", "PATCH", "/Groups/{{G}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"{{G}}","displayName":"Group G"}},{"op":"remove","path":"members[value eq \"{{U1}}\"]"},{"op":"add","path":"members","value":[{"value":"{{U2}}","display":"u2@example.com"}]}]}`, 204,
			func(t *testing.T, f *fixture, r resp) {
				wantMembers(t, f, f.u2)
				events := f.e.sink.Events()
				if len(events) == 0 {
					t.Error("no events")
				}
				for _, ev := range events {
					if ev.Source != "scim" {
						t.Errorf("event %+v: source %q", ev, ev.Source)
					}
				}
			}},
		{"replace members with the full list", "PATCH", "/Groups/{{G}}",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"members","value":[{"value":"{{U2}}"},{"value":"{{U3}}"}]}]}`, 204,
			func(t *testing.T, f *fixture, r resp) { wantMembers(t, f, f.u2, f.u3) }},
		{"group PUT with members", "PUT", "/Groups/{{G}}",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"{{G}}","displayName":"Renamed","members":[{"value":"{{U3}}","display":"u3@example.com"}]}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				wantMembers(t, f, f.u3)
				wantField(t, r, "displayName", "Renamed")
				wantField(t, r, "members.0.value", f.u3)
			}},
		{"group POST with members", "POST", "/Groups",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2 B","members":[{"value":"{{U2}}","display":"u2@example.com"},{"value":"{{U3}}","display":"u3@example.com"}]}`, 201,
			func(t *testing.T, f *fixture, r resp) {
				if m := f.e.memberIDs(t, r.str("id")); len(m) != 2 || !m[f.u2] || !m[f.u3] {
					t.Errorf("members %v", m)
				}
			}},
		{"remove all members", "PATCH", "/Groups/{{G}}",
			`{"Operations":[{"op":"remove","path":"members"}]}`, 204,
			func(t *testing.T, f *fixture, r resp) { wantMembers(t, f) }},
		{"unknown member", "PATCH", "/Groups/{{G}}",
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"nobody"}]}]}`, 400,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, "scimType", "invalidValue")
				wantMembers(t, f, f.u1)
			}},
		{"one PATCH is one transaction", "PATCH", "/Groups/{{G}}",
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"{{U2}}"}]},{"op":"add","path":"members","value":[{"value":"nobody"}]}]}`, 400,
			func(t *testing.T, f *fixture, r resp) { wantMembers(t, f, f.u1) }},
		{"group lookup by member", "GET", "/Groups?filter=members.value+eq+%22{{U1}}%22", "", 200,
			func(t *testing.T, f *fixture, r resp) {
				if r.total() != 1 {
					t.Errorf("%s", r.Raw)
				}
			}},
	})
}

// More PATCH forms on groups and users.
func TestPatchForms(t *testing.T) {
	runQuirks(t, []quirk{
		{"members in a path-less add", "PATCH", "/Groups/{{G}}?excludedAttributes=members",
			`{"Operations":[{"op":"add","value":{"members":[{"value":"{{U2}}"}],"externalId":"gx"}}]}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				wantMembers(t, f, f.u1, f.u2)
				wantField(t, r, "externalId", "gx")
			}},
		{"members in a path-less replace", "PATCH", "/Groups/{{G}}",
			`{"Operations":[{"op":"replace","value":{"members":[{"value":"{{U3}}"}]}}]}`, 204,
			func(t *testing.T, f *fixture, r resp) { wantMembers(t, f, f.u3) }},
		{"remove members by another filter", "PATCH", "/Groups/{{G}}",
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"{{U2}}"}]},{"op":"remove","path":"members[display eq \"u1@example.com\"]"}]}`, 204,
			func(t *testing.T, f *fixture, r resp) { wantMembers(t, f, f.u2) }},
		{"remove two members with or", "PATCH", "/Groups/{{G}}",
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"{{U2}}"},{"value":"{{U3}}"}]},{"op":"remove","path":"members[value eq \"{{U1}}\" or value eq \"{{U3}}\"]"}]}`, 204,
			func(t *testing.T, f *fixture, r resp) { wantMembers(t, f, f.u2) }},
		{"extension object without a path", "PATCH", "/Users/{{X}}",
			`{"Operations":[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops","costCenter":"42"}}}]}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, enterprise+".department", "Ops")
				wantField(t, r, enterprise+".costCenter", "42")
			}},
		{"primary email switched", "PATCH", "/Users/{{X}}",
			`{"Operations":[{"op":"add","path":"emails","value":[{"value":"x2@example.com","type":"home","primary":true}]}]}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				// Both kept; the new primary is the identity's email.
				wantField(t, r, "emails.0.value", "x@example.com")
				wantField(t, r, "emails.0.primary", false)
				wantField(t, r, "emails.1.value", "x2@example.com")
				wantField(t, r, "emails.1.primary", true)
				if u, _ := f.e.dir.Reader().User(t.Context(), f.x); u.Email != "x2@example.com" {
					t.Errorf("identity email %q", u.Email)
				}
			}},
		{"remove a sub-attribute", "PATCH", "/Users/{{X}}",
			`{"Operations":[{"op":"remove","path":"name.givenName"}]}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, "name.givenName", nil)
				wantField(t, r, "name.familyName", "Ample")
			}},
		{"Entra's work address", "PATCH", "/Users/{{X}}",
			`{"Operations":[{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main St"},{"op":"replace","path":"title","value":"T"}]}`, 200,
			func(t *testing.T, f *fixture, r resp) {
				wantField(t, r, "title", "T")
				wantField(t, r, "addresses.0.type", "work")
				wantField(t, r, "addresses.0.streetAddress", "1 Main St")
			}},
		{"Location survives attributes", "POST", "/Users?attributes=userName", `{"userName":"loc@example.com"}`, 201,
			func(t *testing.T, f *fixture, r resp) {
				if r.Header.Get("Location") == "" || r.get("meta") != nil {
					t.Errorf("Location %q, body %s", r.Header.Get("Location"), r.Raw)
				}
			}},
	})
}
