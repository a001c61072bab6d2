package scim

import (
	"fmt"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
)

var fuzzSeeds = []string{
	`userName eq "alice@example.com"`,
	`externalId eq jyoung`,
	`emails[type eq "work"].value eq "x@example.com"`,
	`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp"]`,
	`name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`,
	`meta.Created gt 2015-10-10T14:38:21.8617979-07:00`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`,
	`not (title pr) and active eq "False"`,
	`members[value eq "7f4b"]`,
	`emails[type eq "work"].value`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`,
	`name.givenName`,
	`userName eq "a\"b"`,
	`x[y[z eq 1]].w eq`,
	`"`,
	`]].`,
}

func fuzzUser() identity.User {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return identity.User{ID: "u1", UserName: "alice@example.com", Email: "alice@example.com", GivenName: "Alice", Active: true,
		Attributes: map[string]string{"department": "R&D", "manager": "u2", "phone": "1"}, Created: t, Updated: t, Version: 1}
}

// FuzzFilter parses any filter and evaluates it against a user and a group:
// no panic, and an error is always a 400 invalidFilter.
func FuzzFilter(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	ud := userDoc(fuzzUser(), "http://x", nil)
	gd := groupDoc(identity.Group{ID: "g1", Name: "G"}, "http://x", []identity.User{fuzzUser()})
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseFilter(s)
		if err != nil {
			if se, ok := err.(*Error); !ok || se.Status != 400 || se.ScimType != ScimInvalidFilter {
				t.Fatalf("error %v", err)
			}
			return
		}
		var c filterCache
		for range 2 { // a miss, then a hit
			ce, err := c.parse(s)
			if err != nil || fmt.Sprint(ce) != fmt.Sprint(e) {
				t.Fatalf("cached parse: %v, %v; want %v", ce, err, e)
			}
		}
		if len(c.m) != 1 {
			t.Fatalf("%d cached shapes", len(c.m))
		}
		match(userType, ud, e)
		match(groupType, gd, e)
		sortDocs(userType, []doc{ud, userDoc(fuzzUser(), "", nil)}, s, false)
		project(userType, userDoc(fuzzUser(), "", nil), []string{s}, nil)
		project(userType, userDoc(fuzzUser(), "", nil), nil, []string{s})
	})
}

// FuzzPatchPath parses any PATCH path and applies add, replace and remove
// with it to a user: no panic, errors are SCIM errors, and the result maps
// back to a user.
func FuzzPatchPath(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, `"v"`)
		f.Add(s, `[{"value":"x","type":"work"}]`)
	}
	f.Fuzz(func(t *testing.T, path, value string) {
		p, err := parsePath(path)
		var c filterCache
		if cp, cerr := c.path(path); err == nil && (cerr != nil || fmt.Sprint(cp) != fmt.Sprint(p)) {
			t.Fatalf("cached path: %v, %v; want %v, %v", cp, cerr, p, err)
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v", err)
			}
			return
		}
		var v any
		if err := decodeJSON([]byte(value), &v); err != nil {
			v = value
		}
		for _, op := range []string{"add", "replace", "remove"} {
			d := userDoc(fuzzUser(), "", nil)
			if err := applyOp(userType, d, patchOp{op: op, path: &p, value: v}, &c); err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("%s: error %v", op, err)
				}
				continue
			}
			u := fuzzUser()
			applyUserDoc(d, &u)
		}
	})
}
