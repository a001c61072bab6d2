package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// ScanOnly returns s without its optional abilities (identity.UserSearcher
// among them), its transactions likewise: a host's first store, whose user
// listings the core answers from UsersAfter. A store's tests may run the
// suite through it to check the core's answers on their data.
func ScanOnly(s identity.Store) identity.Store { return scanOnly{s} }

type scanOnly struct{ identity.Store }

func (s scanOnly) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, tx identity.Store) error { return fn(ctx, scanOnly{tx}) })
}

// searchUsers makes the users the search cases look for, in tenant A, and
// one in tenant B that every search would match; it returns tenant A's
// users by name, and the group that holds some of them.
func searchUsers(t *testing.T, open Opener) (map[string]identity.User, identity.Group) {
	t.Helper()
	s := open(tenantA)
	users := map[string]identity.User{}
	for name, u := range map[string]identity.User{
		"ann":      {UserName: "Ann.Lee", Email: "Ann@Example.COM", GivenName: "Ann", FamilyName: "Lee", DisplayName: "Ann Lee", Active: true},
		"emile":    {UserName: "emile", Email: "emile@bücher.example", GivenName: "ÉMILE", FamilyName: "Zoë", Active: true},
		"strasse":  {UserName: "strasse", GivenName: "Jörg", FamilyName: "STRAẞE", DisplayName: "Jörg Straße"},
		"istanbul": {UserName: "İstanbul", Email: "i@example.org", DisplayName: "ΣΟΦΙΑ Σ", Active: true},
		"percent":  {UserName: "100%_off", DisplayName: `back\slash "quoted" NEAR(x) *^`, Active: true},
		"plain":    {UserName: "1000_ off", DisplayName: "backxslash quoted near x", Email: "plain@example.net"},
		"fields":   {UserName: "abc", GivenName: "def", FamilyName: "ghi", Email: "jkl@example.com", Active: true},
		"apart":    {UserName: "zz-cde", DisplayName: "c d e", Active: true},
		"dup":      {UserName: "Dup.Same@Example.org", Email: "Dup.Same@Example.org", GivenName: "Ünïcode", Active: true},
	} {
		users[name] = mustUser(t, s, u)
	}
	// Another tenant's user matches every search below: none may show.
	mustUser(t, open(tenantB), identity.User{UserName: "other-ann-emile-strasse-100%_off", Email: "ann@example.com",
		DisplayName: `Ann ÉMILE STRAẞE İstanbul ΣΟΦΙΑ back\slash "quoted" abc def cde xn--bcher`, Active: true})
	g := mustGroup(t, s, identity.Group{Name: "Searched", Kind: groups.Internal})
	for _, name := range []string{"ann", "strasse", "percent", "fields"} {
		mustAdd(t, s, g.ID, users[name].ID)
	}
	return users, g
}

// testListUsersSearch checks Search against the users the suite expects:
// case folded as strings.ToLower folds it (non-ASCII too), literal LIKE and
// full-text characters, the fields searched and no others, never across two
// fields, short and long terms, after an update and a delete, with a group,
// and the same answers as UserQuery.Holds.
func testListUsersSearch(t *testing.T, open Opener) {
	s := open(tenantA)
	users, g := searchUsers(t, open)
	ids := func(names ...string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = users[n].ID
		}
		return sorted(out...)
	}
	cases := []struct {
		search string
		want   []string
	}{
		{"ann", ids("ann")},
		{"ANN@EXAMPLE.com", ids("ann")},
		{"an", ids("ann", "istanbul")}, // i̇stanbul
		{"a", ids("ann", "emile", "strasse", "istanbul", "percent", "plain", "fields", "dup")},
		{"ÉMI", ids("emile")},
		{"émile", ids("emile")},
		{"zoë", ids("emile")},
		{"ë", ids("emile")},
		{"bücher", ids("emile")},
		{"xn--bcher", nil}, // the address as given is searched, not its canonical form
		{"straße", ids("strasse")},
		{"strasse", ids("strasse")}, // userName; not the family name STRAẞE
		{"ẞ", ids("strasse")},
		{"jörg", ids("strasse")},
		{"İst", ids("istanbul")},
		{"ist", ids("istanbul")}, // strings.ToLower("İ") is "i"
		{"σοφια σ", ids("istanbul")},
		{"ΣΟΦ", ids("istanbul")},
		{"%", ids("percent")},
		{"_", ids("percent", "plain")},
		{"0%_", ids("percent")},
		{"%_o", ids("percent")},
		{"0_ ", ids("plain")},
		{`\`, ids("percent")},
		{`k\s`, ids("percent")},
		{`"quoted"`, ids("percent")},
		{`"`, ids("percent")},
		{`near(x)`, ids("percent")},
		{"*^", ids("percent")},
		{"quoted near", ids("plain")},
		{"cde", ids("apart")}, // not "abc" + "def" of the other user
		{"c d", ids("apart")},
		{"example.com", ids("ann", "fields")},
		{"@", ids("ann", "emile", "istanbul", "plain", "fields", "dup")},
		{"dup.same@", ids("dup")},
		{"e.o", ids("istanbul", "dup")},
		{"rg", ids("strasse", "istanbul", "dup")}, // at the end of a field
		{"g", ids("strasse", "istanbul", "fields", "dup")},
		{"üNÏ", ids("dup")},
		{"nobody", nil},
		{"qz", nil},
		{"ß", ids("strasse")},
		{"\x1f", nil},
	}
	all := listUsers(t, s, identity.UserQuery{Limit: 1000}).Users
	for _, c := range cases {
		wantUsers(t, s, identity.UserQuery{Search: c.search}, len(c.want), c.want...)
		var holds []string
		for _, u := range all {
			if (identity.UserQuery{Search: c.search}).Holds(u) {
				holds = append(holds, u.ID)
			}
		}
		if !slices.Equal(holds, c.want) {
			t.Errorf("UserQuery{Search: %q}.Holds: %v, want %v", c.search, holds, c.want)
		}
	}
	wantUsers(t, s, identity.UserQuery{Search: "a", GroupID: g.ID}, 4, ids("ann", "strasse", "percent", "fields")...)
	wantUsers(t, s, identity.UserQuery{Search: "lee", GroupID: g.ID, Active: new(true)}, 1, ids("ann")...)
	wantUsers(t, s, identity.UserQuery{Search: "example", Offset: 1, Limit: 2}, 6, ids("ann", "emile", "istanbul", "plain", "fields", "dup")[1:3]...)

	// The search follows an update and a delete.
	if _, err := s.UpdateUser(t.Context(), users["ann"].ID, func(u *identity.User) error {
		u.FamilyName, u.DisplayName = "Quinn", "Ann Quinn"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantUsers(t, s, identity.UserQuery{Search: "lee"}, 1, ids("ann")...) // still Ann.Lee
	wantUsers(t, s, identity.UserQuery{Search: "quinn"}, 1, ids("ann")...)
	wantUsers(t, s, identity.UserQuery{Search: "ann q"}, 1, ids("ann")...)
	if err := s.DeleteUser(t.Context(), users["emile"].ID); err != nil {
		t.Fatal(err)
	}
	wantUsers(t, s, identity.UserQuery{Search: "émile"}, 0)
	wantUsers(t, open(tenantB), identity.UserQuery{Search: "émile"}, 1, listUsers(t, open(tenantB), identity.UserQuery{}).Users[0].ID)
}

// testSearchFallback checks that the core's ListUsers over UsersAfter (a
// store without identity.UserSearcher) and the store's own answer the same
// for every kind of query: filters, Search, Match, orders, pages and
// NoTotal; and both the same as the suite's reference, UserQuery.Holds over
// every user, sorted.
func testSearchFallback(t *testing.T, open Opener) {
	s := open(tenantA)
	users, g := searchUsers(t, open)
	for i := range 30 {
		users[fmt.Sprint("n", i)] = mustUser(t, s, identity.User{UserName: fmt.Sprintf("user%02d", i),
			Email: fmt.Sprintf("u%02d@example.com", i), FamilyName: fmt.Sprint("F", i%4), Active: i%3 > 0, Created: at(i % 5), Updated: at(i)})
	}
	var all []identity.User
	for after := ""; ; {
		page, err := s.UsersAfter(t.Context(), "", after, 7)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 7 {
			break
		}
		after = page[len(page)-1].ID
	}
	if len(all) != len(users) {
		t.Fatalf("UsersAfter pages: %d users, want %d", len(all), len(users))
	}
	members, err := s.UsersAfter(t.Context(), g.ID, "", 0)
	if err != nil || len(members) != 4 {
		t.Fatalf("UsersAfter(group): %d users, %v; want 4", len(members), err)
	}
	if none, err := s.UsersAfter(t.Context(), "no-such-group", "", 0); err != nil || len(none) != 0 {
		t.Errorf("UsersAfter(no group): %v, %v", none, err)
	}
	plain := scanOnly{s}
	for _, q := range fallbackQueries(g.ID, all) {
		want := reference(t, all, members, q)
		for _, c := range []struct {
			name string
			s    identity.Store
		}{{"store", s}, {"core over UsersAfter", plain}} {
			got, err := identity.ListUsers(t.Context(), c.s, q)
			if err != nil {
				t.Errorf("%s: ListUsers(%+v): %v", c.name, q, err)
				continue
			}
			if !slices.Equal(userIDs(got.Users), userIDs(want.Users)) {
				t.Errorf("%s: ListUsers(%+v): %v, want %v", c.name, q, userIDs(got.Users), userIDs(want.Users))
			}
			if !q.NoTotal && got.Total != want.Total {
				t.Errorf("%s: ListUsers(%+v): Total %d, want %d", c.name, q, got.Total, want.Total)
			}
		}
	}
	for _, bad := range []identity.UserQuery{{SortBy: "nope"}, {After: "x", SortBy: identity.SortByEmail}, {After: "x", Descending: true},
		{Match: []identity.UserCond{{Field: identity.FieldCreated, Op: identity.OpEq}}}} {
		if _, err := identity.ListUsers(t.Context(), plain, bad); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("core: ListUsers(%+v): %v, want ErrInvalid", bad, err)
		}
	}
	// A NUL in a search is refused alike by the store and the core, whatever
	// its length (a database may read a string only up to its NUL).
	for _, term := range []string{"\x00", "a\x00", "a\x00b", "user\x00", "\x00user"} {
		q := identity.UserQuery{Search: term}
		if _, err := identity.ListUsers(t.Context(), plain, q); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("core: Search %q: %v, want ErrInvalid", term, err)
		}
		if _, err := identity.ListUsers(t.Context(), s, q); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("store: Search %q: %v, want ErrInvalid", term, err)
		}
	}
}

// fallbackQueries are the queries testSearchFallback compares.
func fallbackQueries(groupID string, all []identity.User) []identity.UserQuery {
	mid := all[len(all)/2].ID
	var qs []identity.UserQuery
	for _, search := range []string{"", "a", "EXAMPLE", "user1", "_", "%_o", "zz"} {
		for _, active := range []*bool{nil, new(true), new(false)} {
			for _, gid := range []string{"", groupID} {
				qs = append(qs, identity.UserQuery{Search: search, Active: active, GroupID: gid})
			}
		}
		for _, by := range []identity.UserSort{identity.SortByUserName, identity.SortByEmail, identity.SortByFamilyName, identity.SortByCreated, identity.SortByUpdated} {
			qs = append(qs, identity.UserQuery{Search: search, SortBy: by, Offset: 2, Limit: 5},
				identity.UserQuery{Search: search, SortBy: by, Descending: true, Limit: 4, NoTotal: true})
		}
		qs = append(qs,
			identity.UserQuery{Search: search, Descending: true, Offset: 1, Limit: 3},
			identity.UserQuery{Search: search, After: mid, Limit: 4},
			identity.UserQuery{Search: search, After: mid, Offset: 2, Limit: 2, NoTotal: true},
			identity.UserQuery{Search: search, Offset: 3, Limit: 3, NoTotal: true},
			identity.UserQuery{Search: search, Offset: 1000},
			identity.UserQuery{Search: search, Match: []identity.UserCond{{Field: identity.FieldEmail, Op: identity.OpContains, Value: "u0"}}},
			identity.UserQuery{Search: search, Match: []identity.UserCond{{Field: identity.FieldUpdated, Op: identity.OpBefore, Time: at(12)}}, SortBy: identity.SortByUpdated},
		)
	}
	return qs
}

// reference answers q as the contract says: Holds over every user (or the
// group's members), sorted, then paged.
func reference(t *testing.T, all, members []identity.User, q identity.UserQuery) identity.UserPage {
	t.Helper()
	from := all
	if q.GroupID != "" {
		from = members
	}
	var match []identity.User
	for _, u := range from {
		if q.Holds(u) {
			match = append(match, u)
		}
	}
	by := userSorts[slices.IndexFunc(userSorts, func(s struct {
		by  identity.UserSort
		cmp func(a, b identity.User) int
	}) bool {
		return s.by == q.SortBy
	})].cmp
	order := expectOrder(match, by, q.Descending)
	byID := make(map[string]identity.User, len(match))
	for _, u := range match {
		byID[u.ID] = u
	}
	if q.After != "" {
		i := slices.IndexFunc(order, func(id string) bool { return id > q.After })
		if i < 0 {
			i = len(order)
		}
		order = order[i:]
	}
	limit := q.Limit
	if limit <= 0 {
		limit = identity.DefaultLimit
	}
	order = order[min(q.Offset, len(order)):]
	order = order[:min(limit, len(order))]
	page := identity.UserPage{Total: len(match)}
	for _, id := range order {
		page.Users = append(page.Users, byID[id])
	}
	return page
}
