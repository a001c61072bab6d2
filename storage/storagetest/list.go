package storagetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

func testListUsersFilters(t *testing.T, open Opener) {
	s := open(tenantA)
	mk := func(u identity.User) string { return mustUser(t, s, u).ID }
	// Each of the first five matches "ali" through another field; frank's
	// externalID and attribute contain it, which Search does not look at.
	alice := mk(identity.User{UserName: "alice", Email: "alice@example.com", GivenName: "Alice", FamilyName: "Smith", Active: true})
	bob := mk(identity.User{UserName: "bob", Email: "bob@example.com", GivenName: "Bob", FamilyName: "Malik"})
	carol := mk(identity.User{UserName: "carol", Email: "Kalina@example.com", Active: true})
	dave := mk(identity.User{UserName: "dave", Email: "dave@example.com", DisplayName: "KHALID D.", Active: true})
	eve := mk(identity.User{UserName: "SaLiNa", Email: "eve@example.com"})
	frank := mk(identity.User{UserName: "frank", Email: "frank@example.com", GivenName: "Frank", Active: true,
		ExternalID: "ali-ext", Attributes: map[string]string{identity.AttrDepartment: "Bali"}})
	under := mk(identity.User{UserName: "a_b", DisplayName: "100% sure", Active: true})
	plain := mk(identity.User{UserName: "axb", DisplayName: "1000 sure", Active: true})
	all := sorted(alice, bob, carol, dave, eve, frank, under, plain)

	g := mustGroup(t, s, identity.Group{Name: "Filtered", Kind: groups.Internal})
	for _, id := range []string{alice, bob, frank} {
		mustAdd(t, s, g.ID, id)
	}

	cases := []struct {
		q    identity.UserQuery
		want []string
	}{
		{identity.UserQuery{}, all},
		{identity.UserQuery{Search: "ALI"}, sorted(alice, bob, carol, dave, eve)},
		{identity.UserQuery{Search: "ali", Active: new(true)}, sorted(alice, carol, dave)},
		{identity.UserQuery{Active: new(false)}, sorted(bob, eve)},
		{identity.UserQuery{Active: new(true)}, sorted(alice, carol, dave, frank, under, plain)},
		{identity.UserQuery{Search: "a_b"}, []string{under}},
		{identity.UserQuery{Search: "0%"}, []string{under}},
		{identity.UserQuery{Search: "zzz"}, nil},
		{identity.UserQuery{GroupID: g.ID}, sorted(alice, bob, frank)},
		{identity.UserQuery{GroupID: g.ID, Active: new(true)}, sorted(alice, frank)},
		{identity.UserQuery{GroupID: g.ID, Search: "ali"}, sorted(alice, bob)},
		{identity.UserQuery{GroupID: g.ID, Search: "ali", Active: new(false)}, []string{bob}},
	}
	for _, c := range cases {
		wantUsers(t, s, c.q, len(c.want), c.want...)
		// The second page of the same query: Total stays, the users move on.
		if len(c.want) > 1 {
			q := c.q
			q.Offset, q.Limit = 1, 1
			wantUsers(t, s, q, len(c.want), c.want[1])
		}
	}
}

// userSorts are the orders of ListUsers, and how the suite computes them.
var userSorts = []struct {
	by  identity.UserSort
	cmp func(a, b identity.User) int
}{
	{identity.SortByID, func(a, b identity.User) int { return 0 }},
	{identity.SortByUserName, func(a, b identity.User) int { return strings.Compare(a.UserName, b.UserName) }},
	{identity.SortByEmail, func(a, b identity.User) int { return strings.Compare(a.Email, b.Email) }},
	{identity.SortByDisplayName, func(a, b identity.User) int { return strings.Compare(a.DisplayName, b.DisplayName) }},
	{identity.SortByFamilyName, func(a, b identity.User) int { return strings.Compare(a.FamilyName, b.FamilyName) }},
	{identity.SortByCreated, func(a, b identity.User) int { return a.Created.Compare(b.Created) }},
	{identity.SortByUpdated, func(a, b identity.User) int { return a.Updated.Compare(b.Updated) }},
}

// expectOrder returns the IDs of users in the order of by, ties broken by
// ID, reversed if desc.
func expectOrder(users []identity.User, by func(a, b identity.User) int, desc bool) []string {
	users = slices.Clone(users)
	slices.SortFunc(users, func(a, b identity.User) int {
		return cmp.Or(by(a, b), strings.Compare(a.ID, b.ID))
	})
	ids := userIDs(users)
	if desc {
		slices.Reverse(ids)
	}
	return ids
}

// walkUsers pages through q, by keyset if q.After is set and else by
// Offset, calls between before each page but the first, and returns the IDs
// in the order seen. Every page must report total.
func walkUsers(t *testing.T, s identity.Store, q identity.UserQuery, total int, between func(page int)) []string {
	t.Helper()
	var ids []string
	for page := 0; page <= total/max(q.Limit, 1)+1; page++ {
		if page > 0 && between != nil {
			between(page)
		}
		p := listUsers(t, s, q)
		if p.Total != total {
			t.Fatalf("ListUsers(%+v): Total %d, want %d", q, p.Total, total)
		}
		if len(p.Users) > q.Limit {
			t.Fatalf("ListUsers(%+v): %d users, more than Limit", q, len(p.Users))
		}
		ids = append(ids, userIDs(p.Users)...)
		if len(p.Users) < q.Limit {
			return ids
		}
		if q.After != "" {
			q.After = p.Users[len(p.Users)-1].ID
		} else {
			q.Offset += len(p.Users)
		}
	}
	t.Fatalf("ListUsers(%+v): more pages than %d users fill", q, total)
	return nil
}

func testListUsersSort(t *testing.T, open Opener) {
	s := open(tenantA)
	rows := []struct {
		userName, email, family, display string
		created, updated                 int
	}{
		{"mike", "m07@x.test", "baker", "pat", 1, 5},
		{"alpha", "", "adams", "", 0, 5},
		{"zulu", "a01@x.test", "baker", "lee", 1, 2},
		{"kilo", "z99@x.test", "", "pat", 3, 1},
		{"bravo", "", "clark", "kim", 0, 9},
		{"echo", "c11@x.test", "baker", "", 2, 2},
		{"golf", "b22@x.test", "adams", "lee", 3, 7},
		{"hotel", "q00@x.test", "", "pat", 1, 5},
		{"india", "d05@x.test", "zimmer", "amy", 2, 0},
		{"juliet", "e40@x.test", "clark", "kim", 0, 3},
		{"lima", "f12@x.test", "baker", "lee", 3, 7},
		{"oscar", "g33@x.test", "young", "zed", 2, 1},
	}
	var users []identity.User
	for _, r := range rows {
		users = append(users, mustUser(t, s, identity.User{
			UserName: r.userName, Email: r.email, FamilyName: r.family, DisplayName: r.display,
			Created: at(r.created), Updated: at(r.updated), Active: true,
		}))
	}
	for _, by := range userSorts {
		for _, desc := range []bool{false, true} {
			want := expectOrder(users, by.cmp, desc)
			q := identity.UserQuery{SortBy: by.by, Descending: desc}
			wantUsers(t, s, q, len(users), want...)
			q.Limit = 5
			if got := walkUsers(t, s, q, len(users), nil); !slices.Equal(got, want) {
				t.Errorf("pages of ListUsers(%+v) = %v, want %v", q, got, want)
			}
		}
	}
}

func testListUsersPaging(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	const n = 250
	displays := []string{"delta", "alpha", "echo", "bravo", "charlie"}
	users := make([]identity.User, n)
	for i := range users {
		users[i] = mustUser(t, s, identity.User{
			UserName: fmt.Sprintf("user%03d", i), Email: fmt.Sprintf("user%03d@example.com", i),
			DisplayName: displays[i%len(displays)], Active: true, Created: at(i), Updated: at(i),
		})
	}
	ids := sorted(userIDs(users)...)
	rev := slices.Clone(ids)
	slices.Reverse(rev)

	wantUsers(t, s, identity.UserQuery{}, n, ids[:identity.DefaultLimit]...)
	wantUsers(t, s, identity.UserQuery{Offset: 240}, n, ids[240:]...)
	wantUsers(t, s, identity.UserQuery{Offset: 300}, n)
	wantUsers(t, s, identity.UserQuery{Offset: 3, Limit: 7}, n, ids[3:10]...)
	wantUsers(t, s, identity.UserQuery{After: ids[99], Limit: 5}, n, ids[100:105]...)
	wantUsers(t, s, identity.UserQuery{After: ids[99], Offset: 2, Limit: 5}, n, ids[102:107]...)
	wantUsers(t, s, identity.UserQuery{After: ids[n-1]}, n)
	wantUsers(t, s, identity.UserQuery{After: strings.Repeat("0", 32)}, n, ids[:identity.DefaultLimit]...)
	wantUsers(t, s, identity.UserQuery{Descending: true, Limit: 5}, n, rev[:5]...)
	wantUsers(t, s, identity.UserQuery{Descending: true, Offset: 5, Limit: 3}, n, rev[5:8]...)

	// With many ties, the ID keeps pages apart.
	for _, desc := range []bool{false, true} {
		want := expectOrder(users, userSorts[3].cmp, desc)
		q := identity.UserQuery{SortBy: identity.SortByDisplayName, Descending: desc, Limit: 7}
		if got := walkUsers(t, s, q, n, nil); !slices.Equal(got, want) {
			t.Errorf("pages of ListUsers(%+v) = %v, want %v", q, got, want)
		}
	}

	// Updates between pages move no user in ID order: every user is seen
	// once, by keyset and by offset.
	updates := 0
	between := func(page int) {
		for _, k := range []int{page * 37, page*53 + 11, n - 1 - page} {
			updates++
			_, err := s.UpdateUser(ctx, ids[k%n], func(u *identity.User) error {
				u.DisplayName = fmt.Sprintf("updated %d", updates)
				u.Updated = at(1000 + updates)
				u.Active = updates%2 == 0
				return nil
			})
			if err != nil {
				t.Fatalf("UpdateUser between pages: %v", err)
			}
		}
	}
	q := identity.UserQuery{After: strings.Repeat("0", 32), Limit: 7}
	if got := walkUsers(t, s, q, n, between); !slices.Equal(got, ids) {
		t.Errorf("keyset pages while users change: %d users %v, want %d %v", len(got), got, n, ids)
	}
	q = identity.UserQuery{Limit: 7}
	if got := walkUsers(t, s, q, n, between); !slices.Equal(got, ids) {
		t.Errorf("offset pages while users change: %d users %v, want %d %v", len(got), got, n, ids)
	}
	// A filtered walk: "user1" is in the names of users 100 to 199.
	q = identity.UserQuery{Search: "USER1", After: strings.Repeat("0", 32), Limit: 9}
	want := sorted(userIDs(users[100:200])...)
	if got := walkUsers(t, s, q, 100, nil); !slices.Equal(got, want) {
		t.Errorf("pages of ListUsers(%+v) = %v, want %v", q, got, want)
	}

	// Keyset paging goes on after a user that was deleted.
	if err := s.DeleteUser(ctx, ids[120]); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	wantUsers(t, s, identity.UserQuery{After: ids[120], Limit: 3}, n-1, ids[121:124]...)
}

func testListGroups(t *testing.T, open Opener) {
	s := open(tenantA)
	var all []identity.Group
	add := func(g identity.Group) { all = append(all, mustGroup(t, s, g)) }
	for i := range 103 {
		kind, source := groups.Internal, "manual"
		if i%3 == 0 {
			kind = groups.External
		}
		if i%2 == 0 {
			source = "scim"
		}
		add(identity.Group{Name: fmt.Sprintf("group %03d", i), Kind: kind, Source: source, Created: at(i), Updated: at(i)})
	}
	add(identity.Group{Name: "Team Alpha", Kind: groups.Internal, Source: "manual"})
	add(identity.Group{Name: "alpha squad", Kind: groups.External, Source: "google"})
	add(identity.Group{Name: "a_b", Kind: groups.Internal, Source: "manual"})
	add(identity.Group{Name: "axb", Kind: groups.Internal, Source: "manual"})
	slices.SortFunc(all, func(a, b identity.Group) int { return strings.Compare(a.ID, b.ID) })
	ids := groupIDs(all)
	n := len(all)
	where := func(keep func(g identity.Group) bool) []string {
		var out []string
		for _, g := range all {
			if keep(g) {
				out = append(out, g.ID)
			}
		}
		return out
	}

	wantGroups(t, s, identity.GroupQuery{}, n, ids[:identity.DefaultLimit]...)
	wantGroups(t, s, identity.GroupQuery{Offset: 105}, n, ids[105:]...)
	wantGroups(t, s, identity.GroupQuery{After: ids[50], Limit: 4}, n, ids[51:55]...)
	wantGroups(t, s, identity.GroupQuery{After: ids[50], Offset: 1, Limit: 4}, n, ids[52:56]...)
	wantGroups(t, s, identity.GroupQuery{After: ids[n-1]}, n)

	filters := []struct {
		q    identity.GroupQuery
		keep func(g identity.Group) bool
	}{
		{identity.GroupQuery{Kind: groups.External}, func(g identity.Group) bool { return g.Kind == groups.External }},
		{identity.GroupQuery{Source: "scim"}, func(g identity.Group) bool { return g.Source == "scim" }},
		{identity.GroupQuery{Kind: groups.External, Source: "scim"}, func(g identity.Group) bool {
			return g.Kind == groups.External && g.Source == "scim"
		}},
		{identity.GroupQuery{Search: "ALPHA"}, func(g identity.Group) bool { return strings.Contains(strings.ToLower(g.Name), "alpha") }},
		{identity.GroupQuery{Search: "a_b"}, func(g identity.Group) bool { return g.Name == "a_b" }},
		{identity.GroupQuery{Search: "group 10", Kind: groups.Internal}, func(g identity.Group) bool {
			return strings.HasPrefix(g.Name, "group 10") && g.Kind == groups.Internal
		}},
	}
	for _, f := range filters {
		want := where(f.keep)
		if len(want) == 0 || len(want) == n {
			t.Fatalf("the suite's filter %+v keeps %d of %d groups", f.q, len(want), n)
		}
		wantGroups(t, s, f.q, len(want), want...)
	}

	// Keyset and offset walks see every group once; so does a filtered walk.
	for _, q := range []identity.GroupQuery{
		{After: strings.Repeat("0", 32), Limit: 7},
		{Limit: 7},
		{Kind: groups.External, After: strings.Repeat("0", 32), Limit: 5},
	} {
		want := ids
		if q.Kind != "" {
			want = where(filters[0].keep)
		}
		var got []string
		for range n {
			p := listGroups(t, s, q)
			if p.Total != len(want) {
				t.Fatalf("ListGroups(%+v): Total %d, want %d", q, p.Total, len(want))
			}
			got = append(got, groupIDs(p.Groups)...)
			if len(p.Groups) < q.Limit {
				break
			}
			if q.After != "" {
				q.After = p.Groups[len(p.Groups)-1].ID
			} else {
				q.Offset += len(p.Groups)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of ListGroups: %v, want %v", got, want)
		}
	}
}
