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
			if err := applyUserDoc(d, &u); err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("%s: apply: error %v", op, err)
				}
			}
		}
	})
}

// pushdownUsers are users the pushdown fuzz target checks filters against:
// several addresses kept as JSON, non-ASCII names, times with fractions of
// a second, an inactive user, one with no email.
func pushdownUsers() []identity.User {
	t := time.Date(2026, 1, 2, 3, 4, 5, 500_000_000, time.UTC)
	return []identity.User{
		fuzzUser(),
		{ID: "u2", UserName: "Bob.Young", Email: "bob@example.org", DisplayName: "Bob Young", GivenName: "Bob", FamilyName: "Young",
			ExternalID: "B2", Created: t, Updated: t.Add(time.Hour), Version: 2,
			Attributes: map[string]string{attrEmails: `[{"value":"bob@example.org","type":"work","primary":true},{"value":"Bob@Home.example","type":"home"}]`}},
		{ID: "u3", UserName: "çid", DisplayName: "Çid Ünal", FamilyName: "Ünal", Active: true, Created: t.Add(-time.Hour), Updated: t, Version: 1},
	}
}

// FuzzFilterPushdown checks the split of a filter between the store and
// Go (planUsers): a user that fails a condition pushed to the store fails
// the filter (the store's answer is a superset), and with nothing left for
// Go, a user that passes the store's conditions passes the filter. The
// store's conditions are decided by UserCond.Holds, which storagetest holds
// every store to.
func FuzzFilterPushdown(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, s := range []string{
		`displayName co "x"`, `meta.lastModified gt "2026-01-02T03:04:05Z"`, `meta.lastModified le "2026-01-02T03:04:05.2Z"`,
		`meta.lastModified eq "2026-01-02T04:04:05Z"`, `meta.created lt "2026-01-02T02:04:05.7Z"`,
		`emails[type eq "work" and value co "@x"]`, `emails.value eq "bob@home.example"`, `emails pr and not (externalId pr)`,
		`userName sw "ÇI" or displayName eq "bob young"`, `not (name.familyName co "ün")`, `active eq true and active eq false`,
		`userName ne "bob.young" and externalId eq "B2"`, `displayName pr`, `emails co "HOME"`,
	} {
		f.Add(s)
	}
	users := pushdownUsers()
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseFilter(s)
		if err != nil {
			return
		}
		p := planUsers(e)
		for _, u := range users {
			d := userDoc(u, "http://x", nil)
			want := match(userType, d, e)
			store := p.active == nil || *p.active == u.Active
			for _, c := range p.match {
				if err := c.Check(); err != nil {
					t.Fatalf("%s: pushed %+v: %v", s, c, err)
				}
				store = store && c.Holds(u)
			}
			if want && !store {
				t.Fatalf("%s: user %s matches, but the store's conditions %+v drop it", s, u.ID, p.match)
			}
			if len(p.rest) == 0 && store && !want {
				t.Fatalf("%s: user %s does not match, but the store's conditions %+v keep it with nothing left", s, u.ID, p.match)
			}
		}
	})
}
