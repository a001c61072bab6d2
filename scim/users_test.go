package scim_test

import (
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/scim"
)

const fullUser = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "externalId": "ext-1",
  "userName": "Barbara.Jensen@example.com",
  "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "J"},
  "displayName": "Babs Jensen",
  "title": "Tour Guide",
  "active": true,
  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
  "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
  "password": "t1meMa$heen",
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
    "division": "Theme Park", "department": "Tour Operations", "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
  }
}`

func TestUserCRUD(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/Users", fullUser).must(t, 201)
	id := r.str("id")
	if r.Header.Get("Content-Type") != "application/scim+json" {
		t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	if r.Header.Get("ETag") != `W/"1"` || r.str("meta.version") != `W/"1"` {
		t.Errorf("ETag %q, meta.version %q", r.Header.Get("ETag"), r.str("meta.version"))
	}
	if loc := r.Header.Get("Location"); loc != "http://example.test/scim/v2/Users/"+id || r.str("meta.location") != loc {
		t.Errorf("Location %q, meta.location %q", loc, r.str("meta.location"))
	}
	for path, want := range map[string]any{
		"userName":             "Barbara.Jensen@example.com",
		"externalId":           "ext-1",
		"name.givenName":       "Barbara",
		"name.familyName":      "Jensen",
		"name.middleName":      "J",
		"displayName":          "Babs Jensen",
		"title":                "Tour Guide",
		"active":               true,
		"emails.0.value":       "bjensen@example.com",
		"emails.0.primary":     true,
		"phoneNumbers.0.value": "+1 555 0100",
		"meta.resourceType":    "User",
		"meta.created":         "2026-01-02T03:04:05Z",
		"{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User}.employeeNumber": "701984",
		"{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User}.costCenter":     "4130",
		"{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User}.organization":   "Universal Studios",
		"{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User}.division":       "Theme Park",
		"{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User}.department":     "Tour Operations",
		"{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User}.manager.value":  "26118915-6090-4610-87e4-49d8ca9f808d",
	} {
		if got := r.get(path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if r.get("password") != nil {
		t.Error("password returned")
	}
	// The core holds the enterprise attributes under its keys.
	u, err := e.dir.Reader().User(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if u.Attributes["employeeNumber"] != "701984" || u.Attributes["department"] != "Tour Operations" || u.Attributes["phone"] != "+1 555 0100" || u.Attributes["manager"] == "" || u.Email != "bjensen@example.com" || !u.EmailVerified {
		t.Errorf("core user %+v", u)
	}

	g := e.do("GET", "/Users/"+id, "").must(t, 200)
	if g.str("userName") != "Barbara.Jensen@example.com" || g.Header.Get("ETag") != `W/"1"` {
		t.Errorf("GET: %s", g.Raw)
	}
	if _, ok := g.Body["groups"]; !ok {
		t.Error("GET: no groups attribute")
	}

	// PUT replaces: absent attributes are cleared, active kept.
	put := e.do("PUT", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen","name":{"givenName":"Barb"},"emails":[{"value":"barb@example.com","type":"work"}]}`).must(t, 200)
	if put.str("userName") != "bjensen" || put.str("name.givenName") != "Barb" || put.get("name.familyName") != nil || put.get("title") != nil || put.get("active") != true || put.str("meta.version") != `W/"2"` {
		t.Errorf("PUT: %s", put.Raw)
	}
	if put.get("{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User}") != nil {
		t.Errorf("PUT kept the extension: %s", put.Raw)
	}

	// If-Match.
	e.do("PUT", "/Users/"+id, `{"userName":"x"}`, "If-Match", `W/"1"`).must(t, 412)
	e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"title","value":"Boss"}]}`, "If-Match", `W/"1"`).must(t, 412)
	e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"title","value":"Boss"}]}`, "If-Match", `W/"2"`).must(t, 200)
	e.do("DELETE", "/Users/"+id, "", "If-Match", `W/"2"`).must(t, 412)

	// Deactivated with active false, restored with active true.
	e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"active","value":false}]}`).must(t, 200)
	e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"active","value":true}]}`).must(t, 200)

	e.do("GET", "/Users/nope", "").must(t, 404)
}

// DELETE follows RFC 7644, section 3.6 by default: a GET is a 404, lists
// and filters leave the user out, and the userName is free again.
func TestUserDelete(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepDeleted=%v", keep), func(t *testing.T) {
			e := newEnv(t, func(c *scim.Config, _ *identity.Config) { c.KeepDeleted = keep })
			id := e.do("POST", "/Users", `{"userName":"gone@example.com","externalId":"ext-1","emails":[{"value":"gone@example.com","primary":true}]}`).must(t, 201).str("id")
			other := e.createUser(t, "stay@example.com")
			g := e.createGroup(t, "Team", id, other)
			e.do("DELETE", "/Users/"+id, "").must(t, 204)
			e.do("GET", "/Users/"+id, "").must(t, 404)
			e.do("DELETE", "/Users/"+id, "").must(t, 404)
			e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"title","value":"x"}]}`).must(t, 404)
			e.do("PUT", "/Users/"+id, `{"userName":"gone@example.com"}`).must(t, 404)
			for _, f := range []string{`userName eq "gone@example.com"`, `externalId eq "ext-1"`, `userName sw "gone"`, `active eq false`} {
				if r := e.do("GET", "/Users?filter="+url.QueryEscape(f), "").must(t, 200); r.total() != 0 {
					t.Errorf("%s after DELETE: %s", f, r.Raw)
				}
			}
			if r := e.do("GET", "/Users", "").must(t, 200); r.total() != 1 {
				t.Errorf("list after DELETE: %s", r.Raw)
			}
			if got := e.memberIDs(t, g); len(got) != 1 || !got[other] {
				t.Errorf("members after DELETE: %v", got)
			}
			e.do("PATCH", "/Groups/"+g, `{"Operations":[{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]}`).must(t, 400)
			// The userName (and externalId) can be created again.
			body := `{"userName":"gone@example.com","externalId":"ext-1","emails":[{"value":"back@example.com","primary":true}]}`
			if !keep {
				body = `{"userName":"gone@example.com","externalId":"ext-1","emails":[{"value":"gone@example.com","primary":true}]}`
			}
			again := e.do("POST", "/Users", body).must(t, 201).str("id")
			if again == id {
				t.Fatal("the same id again")
			}
			u, err := e.dir.Reader().User(t.Context(), id)
			if !keep {
				if !errors.Is(err, identity.ErrNotFound) {
					t.Errorf("store still has the user: %v %+v", err, u)
				}
				return
			}
			if err != nil || u.Active || u.Attributes["scim.deleted"] != "true" || u.Attributes["scim.deleted.userName"] != "gone@example.com" || u.Attributes["scim.deleted.externalId"] != "ext-1" {
				t.Errorf("tombstone: %v %+v", err, u)
			}
		})
	}
}

func TestUserErrors(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "a@example.com")
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		scimType                 string
	}{
		{"duplicate userName", "POST", "/Users", `{"userName":"A@example.com"}`, 409, "uniqueness"},
		{"duplicate email", "POST", "/Users", `{"userName":"b","emails":[{"value":"a@example.com"}]}`, 409, "uniqueness"},
		{"no userName", "POST", "/Users", `{"displayName":"x"}`, 400, "invalidValue"},
		{"bad email", "POST", "/Users", `{"userName":"c","emails":[{"value":"not an email"}]}`, 400, "invalidValue"},
		{"bad JSON", "POST", "/Users", `{"userName":`, 400, "invalidSyntax"},
		{"bad boolean", "POST", "/Users", `{"userName":"d","active":"maybe"}`, 400, "invalidValue"},
		{"bad filter", "GET", "/Users?filter=" + url.QueryEscape(`userName eq "x" and`), "", 400, "invalidFilter"},
		{"bad path", "PATCH", "/Users/x", `{"Operations":[{"op":"replace","path":"emails[type eq","value":"x"}]}`, 400, "invalidPath"},
		{"bad op", "PATCH", "/Users/x", `{"Operations":[{"op":"move","path":"title","value":"x"}]}`, 400, "invalidValue"},
		{"remove without path", "PATCH", "/Users/x", `{"Operations":[{"op":"remove"}]}`, 400, "noTarget"},
		{"missing user", "PATCH", "/Users/x", `{"Operations":[{"op":"replace","path":"title","value":"x"}]}`, 404, ""},
		{"unknown endpoint", "GET", "/Widgets", "", 404, ""},
		{"Me", "GET", "/Me", "", 501, ""},
		{"Bulk", "POST", "/Bulk", "{}", 501, ""},
		{"method", "DELETE", "/Users", "", 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body).must(t, tc.status)
			if r.str("scimType") != tc.scimType {
				t.Errorf("scimType %q, want %q", r.str("scimType"), tc.scimType)
			}
			if r.str("status") == "" || r.get("schemas.0") != "urn:ietf:params:scim:api:messages:2.0:Error" {
				t.Errorf("not a SCIM error: %s", r.Raw)
			}
		})
	}
}

func TestUserPatchErrors(t *testing.T) {
	e := newEnv(t)
	id := e.createUser(t, "a@example.com")
	for _, tc := range []struct {
		name, body, scimType string
		status               int
	}{
		{"read-only id", `{"Operations":[{"op":"replace","path":"id","value":"other"}]}`, "mutability", 400},
		{"read-only meta", `{"Operations":[{"op":"replace","path":"meta.created","value":"2020-01-01T00:00:00Z"}]}`, "mutability", 400},
		{"read-only groups", `{"Operations":[{"op":"add","path":"groups","value":[{"value":"g"}]}]}`, "mutability", 400},
		{"no target", `{"Operations":[{"op":"replace","path":"emails[type eq \"home\" or type eq \"other\"].value","value":"h@example.com"}]}`, "noTarget", 400},
		{"bad sub-attribute", `{"Operations":[{"op":"replace","path":"name.nickName","value":"x"}]}`, "invalidPath", 400},
		{"remove userName", `{"Operations":[{"op":"remove","path":"userName"}]}`, "invalidValue", 400},
		{"taken userName", `{"Operations":[{"op":"replace","path":"userName","value":"b@example.com"}]}`, "uniqueness", 409},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.scimType == "uniqueness" {
				e.createUser(t, "b@example.com")
			}
			r := e.do("PATCH", "/Users/"+id, tc.body).must(t, tc.status)
			if r.str("scimType") != tc.scimType {
				t.Errorf("scimType %q, want %q: %s", r.str("scimType"), tc.scimType, r.Raw)
			}
		})
	}
}
