package storagetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// testListUsersMatch checks UserQuery.Match: each condition alone against
// the ids the suite expects, the same through UserCond.Holds, conditions
// combined, negated and in Any, paged, and the conditions a store refuses.
func testListUsersMatch(t *testing.T, open Opener) {
	s := open(tenantA)
	mk := func(u identity.User) string { return mustUser(t, s, u).ID }
	ann := mk(identity.User{UserName: "Ann.Lee", Email: "ann@x.example", GivenName: "Ann", FamilyName: "Lee", DisplayName: "Ann Lee",
		ExternalID: "E1", Active: true, Created: at(1), Updated: at(10),
		Attributes: map[string]string{"scim.emails": `[{"type":"work","value":"Ann@X.example"},{"type":"home","value":"ann@home.example"}]`}})
	bob := mk(identity.User{UserName: "bob", Email: "bob@y.example", GivenName: "Bob", FamilyName: "Annan", DisplayName: "Bob X",
		ExternalID: "e1", Created: at(2), Updated: at(20)})
	cid := mk(identity.User{UserName: "cid_%", Email: "cid@x.example", DisplayName: "Çid Ünal", Active: true, Created: at(3), Updated: at(30),
		Attributes: map[string]string{"scim.deleted": "true", "department": "Sales"}})
	dee := mk(identity.User{UserName: "dee", Created: at(4), Updated: at(40)})
	all := sorted(ann, bob, cid, dee)

	type cond = identity.UserCond
	cases := []struct {
		name string
		m    []cond
		want []string
	}{
		{"userName eq folds case", []cond{{Field: identity.FieldUserName, Op: identity.OpEq, Value: "ANN.LEE"}}, []string{ann}},
		{"userName sw", []cond{{Field: identity.FieldUserName, Op: identity.OpStartsWith, Value: "B"}}, []string{bob}},
		{"userName co with LIKE characters", []cond{{Field: identity.FieldUserName, Op: identity.OpContains, Value: "_%"}}, []string{cid}},
		{"email co", []cond{{Field: identity.FieldEmail, Op: identity.OpContains, Value: "@X."}}, sorted(ann, cid)},
		{"email pr", []cond{{Field: identity.FieldEmail, Op: identity.OpPresent}}, sorted(ann, bob, cid)},
		{"email not pr", []cond{{Field: identity.FieldEmail, Op: identity.OpPresent, Not: true}}, []string{dee}},
		{"displayName co stays in its field", []cond{{Field: identity.FieldDisplayName, Op: identity.OpContains, Value: "x"}}, []string{bob}},
		{"displayName eq", []cond{{Field: identity.FieldDisplayName, Op: identity.OpEq, Value: "ann lee"}}, []string{ann}},
		{"displayName eq is whole", []cond{{Field: identity.FieldDisplayName, Op: identity.OpEq, Value: "ann"}}, nil},
		{"displayName co non-ASCII folds", []cond{{Field: identity.FieldDisplayName, Op: identity.OpContains, Value: "çID"}}, []string{cid}},
		{"displayName pr", []cond{{Field: identity.FieldDisplayName, Op: identity.OpPresent}}, sorted(ann, bob, cid)},
		{"givenName sw", []cond{{Field: identity.FieldGivenName, Op: identity.OpStartsWith, Value: "an"}}, []string{ann}},
		{"familyName co", []cond{{Field: identity.FieldFamilyName, Op: identity.OpContains, Value: "ANN"}}, []string{bob}},
		{"externalId eq is exact", []cond{{Field: identity.FieldExternalID, Op: identity.OpEq, Value: "e1"}}, []string{bob}},
		{"externalId pr", []cond{{Field: identity.FieldExternalID, Op: identity.OpPresent}}, sorted(ann, bob)},
		{"updated ge", []cond{{Field: identity.FieldUpdated, Op: identity.OpNotBefore, Time: at(20)}}, sorted(bob, cid, dee)},
		{"updated lt", []cond{{Field: identity.FieldUpdated, Op: identity.OpBefore, Time: at(20)}}, []string{ann}},
		{"created range", []cond{{Field: identity.FieldCreated, Op: identity.OpNotBefore, Time: at(2)}, {Field: identity.FieldCreated, Op: identity.OpBefore, Time: at(4)}}, sorted(bob, cid)},
		{"attribute co folds ASCII", []cond{{Field: identity.FieldAttribute, Key: "scim.emails", Op: identity.OpContains, Value: "ann@x."}}, []string{ann}},
		{"attribute eq", []cond{{Field: identity.FieldAttribute, Key: "department", Op: identity.OpEq, Value: "sales"}}, []string{cid}},
		{"attribute pr", []cond{{Field: identity.FieldAttribute, Key: "scim.deleted", Op: identity.OpPresent}}, []string{cid}},
		{"attribute not pr", []cond{{Field: identity.FieldAttribute, Key: "scim.deleted", Op: identity.OpPresent, Not: true}}, sorted(ann, bob, dee)},
		{"any", []cond{{Any: []cond{{Field: identity.FieldEmail, Op: identity.OpContains, Value: "home"}, {Field: identity.FieldAttribute, Key: "scim.emails", Op: identity.OpContains, Value: "home"}}}}, []string{ann}},
		{"not any", []cond{{Not: true, Any: []cond{{Field: identity.FieldUserName, Op: identity.OpEq, Value: "bob"}, {Field: identity.FieldUserName, Op: identity.OpEq, Value: "dee"}}}}, sorted(ann, cid)},
		{"and", []cond{{Field: identity.FieldEmail, Op: identity.OpContains, Value: "@x."}, {Field: identity.FieldAttribute, Key: "scim.deleted", Op: identity.OpPresent, Not: true}}, []string{ann}},
	}
	users := listUsers(t, s, identity.UserQuery{Limit: 100}).Users
	if len(users) != len(all) {
		t.Fatalf("%d users, want %d", len(users), len(all))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantUsers(t, s, identity.UserQuery{Match: c.m}, len(c.want), c.want...)
			var ref []string
			for _, u := range users {
				ok := true
				for _, m := range c.m {
					ok = ok && m.Holds(u)
				}
				if ok {
					ref = append(ref, u.ID)
				}
			}
			if fmt.Sprint(sorted(ref...)) != fmt.Sprint(sorted(c.want...)) {
				t.Errorf("UserCond.Holds gives %v, want %v", ref, c.want)
			}
			if len(c.want) > 1 {
				wantUsers(t, s, identity.UserQuery{Match: c.m, Offset: 1, Limit: 1}, len(c.want), c.want[1])
			}
		})
	}
	// NoTotal: the same users, and a Total of 0 or the count.
	page := listUsers(t, s, identity.UserQuery{NoTotal: true, Limit: 2})
	if len(page.Users) != 2 || page.Users[0].ID != all[0] || page.Users[1].ID != all[1] || page.Total != 0 && page.Total != len(all) {
		t.Errorf("NoTotal: %d users, total %d", len(page.Users), page.Total)
	}
	// With Active and a sort.
	wantUsers(t, s, identity.UserQuery{Active: new(true), SortBy: identity.SortByUserName, Descending: true,
		Match: []identity.UserCond{{Field: identity.FieldEmail, Op: identity.OpContains, Value: "x."}}}, 2, cid, ann)
	for _, bad := range []identity.UserCond{
		{Field: identity.FieldExternalID, Op: identity.OpContains, Value: "e"},
		{Field: identity.FieldUpdated, Op: identity.OpEq},
		{Field: identity.FieldAttribute, Op: identity.OpPresent},
		{Field: identity.FieldAttribute, Key: `a"b`, Op: identity.OpPresent},
		{Field: "nope", Op: identity.OpEq},
	} {
		if _, err := identity.ListUsers(t.Context(), s, identity.UserQuery{Match: []identity.UserCond{bad}}); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("%+v: err %v, want ErrInvalid", bad, err)
		}
	}
}
