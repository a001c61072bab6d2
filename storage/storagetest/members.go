package storagetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// largeList is the length of the lists the AddMembers cases call large: more
// than one statement's worth in an SQL store that splits a list.
const largeList = 1200

// mustAddMembers adds the users to the group or stops the test, and returns
// the IDs AddMembers reports new.
func mustAddMembers(t *testing.T, s identity.Store, groupID string, userIDs []string) []string {
	t.Helper()
	added, err := bulkOf(t, s).AddMembers(t.Context(), groupID, userIDs)
	if err != nil {
		t.Fatalf("AddMembers(%d users): %v", len(userIDs), err)
	}
	return added
}

// wantAdded fails the test unless AddMembers returned want and no error.
func wantAdded(t *testing.T, what string, added []string, err error, want ...string) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if !slices.Equal(added, want) {
		t.Errorf("%s = %v, want %v", what, added, want)
	}
}

// wantMissing fails the test unless err matches identity.ErrNotFound and
// names id.
func wantMissing(t *testing.T, what string, err error, id string) {
	t.Helper()
	wantNotFound(t, what, err)
	if err != nil && !strings.Contains(err.Error(), id) {
		t.Errorf("%s: error %q does not name %s", what, err, id)
	}
}

// members returns the IDs of the group's members in ID order, listed page
// by page.
func members(t *testing.T, s identity.Store, groupID string) []string {
	t.Helper()
	var ids []string
	q := identity.UserQuery{GroupID: groupID, Limit: 500}
	for {
		p := listUsers(t, s, q)
		ids = append(ids, userIDs(p.Users)...)
		if len(p.Users) < q.Limit {
			return ids
		}
		q.After = p.Users[len(p.Users)-1].ID
	}
}

// manyUsers creates n users in one transaction and returns their IDs, in
// the order made.
func manyUsers(t *testing.T, s identity.Store, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	err := s.Tx(t.Context(), func(ctx context.Context, tx identity.Store) error {
		for i := range ids {
			u, err := tx.CreateUser(ctx, identity.User{UserName: fmt.Sprintf("%s%04d", prefix, i)})
			if err != nil {
				return err
			}
			ids[i] = u.ID
		}
		return nil
	})
	if err != nil {
		t.Fatalf("creating %d users: %v", n, err)
	}
	return ids
}

func testAddMembers(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	_ = bulkOf(t, s)
	var u [5]string
	for i := range u {
		u[i] = mustUser(t, s, identity.User{UserName: fmt.Sprintf("u%d", i)}).ID
	}
	g := mustGroup(t, s, identity.Group{Name: "Bulk", Kind: groups.Internal, Source: "import"})
	h := mustGroup(t, s, identity.Group{Name: "Other", Kind: groups.Internal, Source: "import"})
	mustAdd(t, s, g.ID, u[1])

	added, err := bulkOf(t, s).AddMembers(ctx, g.ID, []string{u[2], u[1], u[0], u[2], u[3]})
	wantAdded(t, "AddMembers of new users, a member and a repeat", added, err, u[2], u[0], u[3])
	wantUsers(t, s, identity.UserQuery{GroupID: g.ID}, 4, sorted(u[0], u[1], u[2], u[3])...)
	for _, id := range u[:4] {
		wantUserGroups(t, s, id, g.ID)
	}
	wantUserGroups(t, s, u[4])

	added, err = bulkOf(t, s).AddMembers(ctx, g.ID, []string{u[3], u[0], u[3]})
	wantAdded(t, "AddMembers of members only", added, err)
	added, err = bulkOf(t, s).AddMembers(ctx, g.ID, []string{u[4]})
	wantAdded(t, "AddMembers of one user", added, err, u[4])
	added, err = bulkOf(t, s).AddMembers(ctx, h.ID, []string{u[4], u[4]})
	wantAdded(t, "AddMembers of one user twice", added, err, u[4])
	wantUserGroups(t, s, u[4], sorted(g.ID, h.ID)...)
	for _, list := range [][]string{nil, {}} {
		added, err = bulkOf(t, s).AddMembers(ctx, g.ID, list)
		wantAdded(t, fmt.Sprintf("AddMembers(%#v)", list), added, err)
	}
	wantUsers(t, s, identity.UserQuery{GroupID: g.ID}, 5, sorted(u[:]...)...)

	// A membership is no change of the group.
	for _, gr := range []identity.Group{g, h} {
		if got, err := s.Group(ctx, gr.ID); err != nil || got.Version != 1 {
			t.Errorf("Group after AddMembers: Version %d, %v; want 1", got.Version, err)
		}
	}
}

func testAddMembersNotFound(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	_ = bulkOf(t, s)
	var u [3]string
	for i := range u {
		u[i] = mustUser(t, s, identity.User{UserName: fmt.Sprintf("u%d", i)}).ID
	}
	g := mustGroup(t, s, identity.Group{Name: "Target", Kind: groups.Internal, Source: "import"})
	mustAdd(t, s, g.ID, u[0])

	missingGroup := identity.NewID()
	_, err := bulkOf(t, s).AddMembers(ctx, missingGroup, []string{u[1], u[2]})
	wantMissing(t, "AddMembers to an unknown group", err, missingGroup)
	_, err = bulkOf(t, s).AddMembers(ctx, missingGroup, nil)
	wantMissing(t, "AddMembers of nobody to an unknown group", err, missingGroup)
	_, err = bulkOf(t, s).AddMembers(ctx, missingGroup, []string{identity.NewID()})
	wantNotFound(t, "AddMembers of an unknown user to an unknown group", err)

	first, second := identity.NewID(), identity.NewID()
	_, err = bulkOf(t, s).AddMembers(ctx, g.ID, []string{u[1], first, u[0], second, u[2]})
	wantMissing(t, "AddMembers with unknown users", err, first)
	_, err = bulkOf(t, s).AddMembers(ctx, g.ID, []string{u[0], u[1], second})
	wantMissing(t, "AddMembers with an unknown user last", err, second)
	_, err = bulkOf(t, s).AddMembers(ctx, g.ID, []string{second})
	wantMissing(t, "AddMembers of an unknown user only", err, second)
	wantUsers(t, s, identity.UserQuery{GroupID: g.ID}, 1, u[0])
	wantUserGroups(t, s, u[1])
	wantUserGroups(t, s, u[2])

	// A user deleted is missing.
	if err := s.DeleteUser(ctx, u[2]); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err = bulkOf(t, s).AddMembers(ctx, g.ID, []string{u[1], u[2]})
	wantMissing(t, "AddMembers of a deleted user", err, u[2])
	wantUsers(t, s, identity.UserQuery{GroupID: g.ID}, 1, u[0])

	// In a large list, the missing user comes after more users than one
	// statement of an SQL store names: those must not stay either.
	many := manyUsers(t, s, "many", largeList)
	_, err = bulkOf(t, s).AddMembers(ctx, g.ID, append(slices.Clone(many), first))
	wantMissing(t, "AddMembers of a large list with an unknown user last", err, first)
	wantUsers(t, s, identity.UserQuery{GroupID: g.ID}, 1, u[0])
	wantUserGroups(t, s, many[0])
	wantUserGroups(t, s, many[largeList-1])
}

// testAddMembersTx checks that a call that fails inside a transaction adds
// nobody, and that the transaction goes on.
func testAddMembersTx(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	_ = bulkOf(t, s)
	a := mustUser(t, s, identity.User{UserName: "a"})
	b := mustUser(t, s, identity.User{UserName: "b"})
	many := manyUsers(t, s, "many", largeList)
	g := mustGroup(t, s, identity.Group{Name: "Tx Bulk", Kind: groups.Internal, Source: "import"})
	missing := identity.NewID()
	err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		added, err := bulkOf(t, tx).AddMembers(ctx, g.ID, []string{a.ID})
		if err != nil {
			return err
		}
		wantAdded(t, "AddMembers in a transaction", added, nil, a.ID)
		_, err = bulkOf(t, tx).AddMembers(ctx, g.ID, []string{b.ID, missing})
		wantMissing(t, "AddMembers with an unknown user in a transaction", err, missing)
		_, err = bulkOf(t, tx).AddMembers(ctx, g.ID, append(append([]string{b.ID}, many...), missing))
		wantMissing(t, "AddMembers of a large list with an unknown user in a transaction", err, missing)
		wantUsers(t, tx, identity.UserQuery{GroupID: g.ID}, 1, a.ID)
		wantUserGroups(t, tx, b.ID)
		wantUserGroups(t, tx, many[largeList-1])
		added, err = bulkOf(t, tx).AddMembers(ctx, g.ID, []string{a.ID, b.ID})
		if err != nil {
			return err
		}
		wantAdded(t, "AddMembers after a failed one in the same transaction", added, nil, b.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	wantUsers(t, s, identity.UserQuery{GroupID: g.ID}, 2, sorted(a.ID, b.ID)...)

	err = s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		if _, err := bulkOf(t, tx).AddMembers(ctx, g.ID, many); err != nil {
			return err
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("Tx returned %v, want fn's error", err)
	}
	wantUsers(t, s, identity.UserQuery{GroupID: g.ID}, 2, sorted(a.ID, b.ID)...)
}

func testAddMembersLarge(t *testing.T, open Opener) {
	s := open(tenantA)
	ids := manyUsers(t, s, "user", largeList)
	g := mustGroup(t, s, identity.Group{Name: "Everyone", Kind: groups.External, Source: "scim"})
	h := mustGroup(t, s, identity.Group{Name: "Some", Kind: groups.Internal, Source: "import"})
	// Some are members already; the list names a few twice, and runs in
	// another order than the IDs.
	before := []string{ids[0], ids[511], ids[512], ids[1023], ids[1199]}
	for _, id := range before {
		mustAdd(t, s, g.ID, id)
	}
	list := slices.Clone(ids)
	slices.Reverse(list)
	list = append(list, ids[5], ids[700], ids[5])
	var want []string
	for _, id := range list {
		if !slices.Contains(before, id) && !slices.Contains(want, id) {
			want = append(want, id)
		}
	}
	added := mustAddMembers(t, s, g.ID, list)
	if !slices.Equal(added, want) {
		t.Errorf("AddMembers of %d users returned %d as new; want the %d that were not members, in the order given", len(list), len(added), len(want))
	}
	if got := members(t, s, g.ID); !slices.Equal(got, sorted(ids...)) {
		t.Errorf("the group has %d members listed; want all %d users", len(got), largeList)
	}
	if p := listUsers(t, s, identity.UserQuery{GroupID: g.ID, Limit: 1}); p.Total != largeList {
		t.Errorf("ListUsers of the group: Total %d, want %d", p.Total, largeList)
	}
	for _, i := range []int{0, 1, 255, 256, 511, 512, 513, 1023, 1024, largeList - 1} {
		wantUserGroups(t, s, ids[i], g.ID)
	}
	if added := mustAddMembers(t, s, g.ID, ids); len(added) != 0 {
		t.Errorf("AddMembers of members only returned %d as new, want none", len(added))
	}
	added = mustAddMembers(t, s, h.ID, ids[100:700])
	if !slices.Equal(added, ids[100:700]) {
		t.Errorf("AddMembers of 600 users to an empty group returned %d as new, want all in order", len(added))
	}
	wantUserGroups(t, s, ids[100], sorted(g.ID, h.ID)...)
	wantUserGroups(t, s, ids[700], g.ID)
}

func testAddMembersTenants(t *testing.T, open Opener) {
	ctx := t.Context()
	a, b := open(tenantA), open(tenantB)
	_ = bulkOf(t, a)
	_ = bulkOf(t, b)
	ua := mustUser(t, a, identity.User{UserName: "same"})
	ub := mustUser(t, b, identity.User{UserName: "same"})
	ga := mustGroup(t, a, identity.Group{Name: "Same", Kind: groups.Internal})
	gb := mustGroup(t, b, identity.Group{Name: "Same", Kind: groups.Internal})

	_, err := bulkOf(t, a).AddMembers(ctx, ga.ID, []string{ua.ID, ub.ID})
	wantMissing(t, "AddMembers of another tenant's user", err, ub.ID)
	_, err = bulkOf(t, a).AddMembers(ctx, gb.ID, []string{ua.ID})
	wantMissing(t, "AddMembers to another tenant's group", err, gb.ID)
	wantUsers(t, a, identity.UserQuery{GroupID: ga.ID}, 0)
	wantUsers(t, b, identity.UserQuery{GroupID: gb.ID}, 0)

	added, err := bulkOf(t, b).AddMembers(ctx, gb.ID, []string{ub.ID})
	wantAdded(t, "AddMembers in the other tenant", added, err, ub.ID)
	added, err = bulkOf(t, a).AddMembers(ctx, ga.ID, []string{ua.ID})
	wantAdded(t, "AddMembers after the other tenant's", added, err, ua.ID)
	wantUserGroups(t, a, ua.ID, ga.ID)
	wantUserGroups(t, b, ub.ID, gb.ID)
	wantUserGroups(t, a, ub.ID)
}

// testConcurrentAddMembers has the workers add overlapping lists of users to
// one group: each user must be reported new exactly once.
func testConcurrentAddMembers(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	_ = bulkOf(t, s)
	g := mustGroup(t, s, identity.Group{Name: "Crowded", Kind: groups.External, Source: "scim"})
	ids := manyUsers(t, s, "c", 64)
	var total atomic.Int64
	var mu sync.Mutex
	seen := make(map[string]int)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			// Each worker names half of the users, from its own start.
			list := make([]string, 0, len(ids)/2)
			for i := range len(ids) / 2 {
				list = append(list, ids[(w*4+i)%len(ids)])
			}
			added, err := bulkOf(t, s).AddMembers(ctx, g.ID, list)
			if err != nil {
				t.Errorf("AddMembers: %v", err)
				return
			}
			total.Add(int64(len(added)))
			mu.Lock()
			for _, id := range added {
				seen[id]++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("user %s was reported new %d times", id, n)
		}
	}
	got := members(t, s, g.ID)
	if int(total.Load()) != len(got) {
		t.Errorf("%d memberships reported new, %d stored", total.Load(), len(got))
	}
	if !slices.Equal(got, sorted(ids...)) {
		t.Errorf("the group has %d members, want all %d users", len(got), len(ids))
	}
}
