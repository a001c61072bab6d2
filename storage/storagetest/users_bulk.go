package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// bulkUser returns the user i of a list the CreateUsers cases make: every
// unique value set, and the times of minute i.
func bulkUser(prefix string, i int) identity.User {
	return identity.User{
		UserName:    fmt.Sprintf("%s%04d", prefix, i),
		Email:       fmt.Sprintf("%s%04d@Example.com", prefix, i),
		GivenName:   "Given",
		FamilyName:  fmt.Sprintf("Family %d", i),
		Active:      i%3 != 0,
		ExternalID:  fmt.Sprintf("ext-%s-%04d", prefix, i),
		Attributes:  map[string]string{identity.AttrDepartment: fmt.Sprintf("Dept %d", i%7)},
		Created:     at(i),
		Updated:     at(i + 1),
		Version:     3, // ignored: a new user has Version 1
		DisplayName: fmt.Sprintf("%s %d", prefix, i),
	}
}

// bulkUsers returns n users of bulkUser.
func bulkUsers(prefix string, n int) []identity.User {
	users := make([]identity.User, n)
	for i := range users {
		users[i] = bulkUser(prefix, i)
	}
	return users
}

// wantItemConflict fails the test unless err is an *identity.ItemError with
// the index, holding a *identity.ConflictError of a user with the field.
func wantItemConflict(t *testing.T, what string, err error, index int, field string) {
	t.Helper()
	wantConflict(t, what, err, "user", field)
	var ie *identity.ItemError
	switch {
	case err == nil:
	case !errors.As(err, &ie):
		t.Errorf("%s: error %v (%T) is not an *identity.ItemError", what, err, err)
	case ie.Index != index:
		t.Errorf("%s: ItemError.Index = %d, want %d", what, ie.Index, index)
	}
}

// wantNoUsers fails the test unless the tenant holds total users and none of
// the list's: it looks for the first and last few of the list, and every
// 50th, by ID, email, userName and externalID.
func wantNoUsers(t *testing.T, s identity.Store, what string, users []identity.User, total int) {
	t.Helper()
	ctx := t.Context()
	if p := listUsers(t, s, identity.UserQuery{Limit: 1}); p.Total != total {
		t.Errorf("%s: ListUsers: Total %d, want %d", what, p.Total, total)
	}
	for i, u := range users {
		if i >= 3 && i < len(users)-3 && i%50 != 0 {
			continue
		}
		lookups := []func() (identity.User, error){
			func() (identity.User, error) { return s.UserByEmail(ctx, u.Email) },
			func() (identity.User, error) { return s.UserByUserName(ctx, u.UserName) },
			func() (identity.User, error) { return s.UserByExternalID(ctx, u.ExternalID) },
		}
		if u.ID != "" {
			lookups = append(lookups, func() (identity.User, error) { return s.User(ctx, u.ID) })
		}
		for _, lookup := range lookups {
			got, err := lookup()
			if err != nil && !errors.Is(err, identity.ErrNotFound) {
				t.Errorf("%s: looking for user %d: %v", what, i, err)
				return
			}
			// Another user may hold one of its values: the one it
			// conflicts with.
			if err == nil && got.UserName == u.UserName && got.Email == u.Email &&
				got.ExternalID == u.ExternalID && got.DisplayName == u.DisplayName {
				t.Errorf("%s: user %d (%s) is stored", what, i, u.UserName)
				return
			}
		}
	}
}

func testCreateUsers(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	_ = bulkOf(t, s)
	in := bulkUsers("bulk", largeList)
	// One user brings an ID of its own, one has no email or externalID.
	in[5].ID = identity.NewID()
	in[700].Email, in[700].ExternalID = "", ""
	in[701].Attributes = nil
	input := make([]identity.User, len(in))
	for i, u := range in {
		input[i] = u.Clone()
	}
	got, err := bulkOf(t, s).CreateUsers(ctx, in)
	if err != nil {
		t.Fatalf("CreateUsers(%d users): %v", len(in), err)
	}
	if len(got) != len(in) {
		t.Fatalf("CreateUsers returned %d users for %d", len(got), len(in))
	}
	for i, u := range in {
		if d := diffUser(u, input[i]); d != "" {
			t.Fatalf("CreateUsers changed its argument %d:%s", i, d)
		}
	}
	seen := make(map[string]bool, len(got))
	for i, u := range got {
		if u.ID == "" || seen[u.ID] {
			t.Fatalf("CreateUsers: user %d has the ID %q, empty or given twice", i, u.ID)
		}
		seen[u.ID] = true
		want := in[i]
		want.ID, want.Version = u.ID, 1
		checkUser(t, fmt.Sprintf("CreateUsers: user %d", i), u, want)
	}
	if got[5].ID != in[5].ID {
		t.Errorf("CreateUsers: user 5 has the ID %s, want the one given, %s", got[5].ID, in[5].ID)
	}
	// The result shares no map with the store.
	got[1].Attributes[identity.AttrDepartment] = "changed in CreateUsers' result"

	if p := listUsers(t, s, identity.UserQuery{Limit: 1}); p.Total != largeList {
		t.Errorf("ListUsers after CreateUsers: Total %d, want %d", p.Total, largeList)
	}
	for _, i := range []int{0, 1, 5, 255, 256, 700, 701, 1023, 1024, 1151, 1152, 1199} {
		want := in[i]
		want.ID, want.Version = got[i].ID, 1
		u, err := s.User(ctx, want.ID)
		if err != nil {
			t.Errorf("User(user %d): %v", i, err)
			continue
		}
		checkUser(t, fmt.Sprintf("User(user %d)", i), u, want)
		if want.Email == "" {
			continue
		}
		for name, lookup := range map[string]func() (identity.User, error){
			"UserByEmail":      func() (identity.User, error) { return s.UserByEmail(ctx, want.Email) },
			"UserByUserName":   func() (identity.User, error) { return s.UserByUserName(ctx, want.UserName) },
			"UserByExternalID": func() (identity.User, error) { return s.UserByExternalID(ctx, want.ExternalID) },
		} {
			if u, err := lookup(); err != nil || u.ID != want.ID {
				t.Errorf("%s(user %d) = %s, %v; want %s", name, i, u.ID, err, want.ID)
			}
		}
	}

	// A list of one, and of none.
	one, err := bulkOf(t, s).CreateUsers(ctx, []identity.User{{UserName: "single"}})
	if err != nil || len(one) != 1 || one[0].ID == "" || one[0].Version != 1 {
		t.Errorf("CreateUsers of one user = %+v, %v", one, err)
	}
	for _, list := range [][]identity.User{nil, {}} {
		if got, err := bulkOf(t, s).CreateUsers(ctx, list); err != nil || len(got) != 0 {
			t.Errorf("CreateUsers(%#v) = %v, %v; want nothing", list, got, err)
		}
	}
	if p := listUsers(t, s, identity.UserQuery{Limit: 1}); p.Total != largeList+1 {
		t.Errorf("ListUsers: Total %d, want %d", p.Total, largeList+1)
	}
}

// testCreateUsersStoredConflicts checks that a list with a user whose value a
// stored user holds stores nobody.
func testCreateUsersStoredConflicts(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	_ = bulkOf(t, s)
	alice := mustUser(t, s, identity.User{Email: "Alice@Example.com", UserName: "alice", ExternalID: "ext-alice", Active: true})
	cases := []struct {
		name  string
		u     identity.User
		field string
	}{
		{"email", identity.User{Email: "  ALICE@example.COM ", UserName: "other1", Active: true}, "email"},
		{"canonical email", identity.User{Email: "ａｌｉｃｅ@ＥＸＡＭＰＬＥ.com", UserName: "other1", Active: true}, "email"},
		{"userName", identity.User{Email: "other2@example.com", UserName: " ALICE "}, "userName"},
		{"id", identity.User{ID: alice.ID, Email: "other4@example.com", UserName: "other4"}, "id"},
	}
	for _, c := range cases {
		// In a short list, and for some fields after more users than one
		// statement of an SQL store names.
		positions := []int{0, 3}
		if c.field == "email" || c.field == "id" {
			positions = append(positions, 300, largeList-1)
		}
		for _, pos := range positions {
			list := bulkUsers("c", largeList)
			if pos < 10 {
				list = list[:10]
			}
			list[pos] = c.u
			_, err := bulkOf(t, s).CreateUsers(ctx, list)
			what := fmt.Sprintf("CreateUsers of %d users with a taken %s at %d", len(list), c.name, pos)
			wantItemConflict(t, what, err, pos, c.field)
			wantNoUsers(t, s, "after "+what, list, 1)
		}
	}
	if u, err := s.User(ctx, alice.ID); err != nil {
		t.Errorf("User(alice): %v", err)
	} else {
		checkUser(t, "the stored user after the conflicts", u, alice)
	}

	// The first user that conflicts is reported, with its own conflict:
	// here user 2 holds the email of the stored user and of user 4, which
	// is not stored; user 3 has the stored user's ID.
	list := bulkUsers("d", 6)
	list[2].Email, list[2].Active = "alice@example.com", true
	list[3].ID = alice.ID
	list[4].Email, list[4].Active = list[2].Email, true
	list[5].UserName = "Alice"
	_, err := bulkOf(t, s).CreateUsers(ctx, list)
	wantItemConflict(t, "CreateUsers with four conflicts", err, 2, "email")
	wantNoUsers(t, s, "after CreateUsers with four conflicts", list, 1)
	list[2].Email = "d-other@example.com"
	_, err = bulkOf(t, s).CreateUsers(ctx, list)
	wantItemConflict(t, "CreateUsers with three conflicts", err, 3, "id")
	list[1].ID, list[3].ID = alice.ID, ""
	_, err = bulkOf(t, s).CreateUsers(ctx, list)
	wantItemConflict(t, "CreateUsers with a taken ID before a taken email", err, 1, "id")
	wantNoUsers(t, s, "after CreateUsers with a taken ID before a taken email", list, 1)

	// External IDs compare exactly, and the values of a user deleted are
	// free.
	if err := s.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	got, err := bulkOf(t, s).CreateUsers(ctx, []identity.User{
		{Email: "other@example.com", UserName: "other", ExternalID: "EXT-ALICE"},
		{Email: "alice@example.com", UserName: "Alice", ExternalID: "ext-alice"},
	})
	if err != nil {
		t.Fatalf("CreateUsers of the values a deleted user left: %v", err)
	}
	wantUsers(t, s, identity.UserQuery{}, 2, sorted(userIDs(got)...)...)
}

// testCreateUsersListConflicts checks that a list whose users conflict with
// each other stores nobody, and names the later user.
func testCreateUsersListConflicts(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	_ = bulkOf(t, s)
	stored := mustUser(t, s, identity.User{UserName: "stored"})
	id := identity.NewID()
	cases := []struct {
		name  string
		set   func(first, second *identity.User)
		field string
	}{
		{"email", func(a, b *identity.User) { b.Email, a.Active, b.Active = " "+a.Email+" ", true, true }, "email"},
		{"email in another case", func(a, b *identity.User) {
			a.Email, b.Email, a.Active, b.Active = "Same@Example.com", "same@EXAMPLE.com", true, true
		}, "email"},
		{"email in another width", func(a, b *identity.User) {
			a.Email, b.Email, a.Active, b.Active = "j@müller.de", "J@xn--mller-kva.de", true, true
		}, "email"},
		{"userName", func(a, b *identity.User) { b.UserName = a.UserName }, "userName"},
		{"id", func(a, b *identity.User) { a.ID, b.ID = id, id }, "id"},
	}
	for _, c := range cases {
		// In a short list, and for some fields in a large one: in one
		// statement of an SQL store that splits the list, in two next to
		// each other, and in the first and the last.
		pairs := [][2]int{{0, 1}, {3, 9}}
		if c.field == "email" || c.field == "id" {
			pairs = append(pairs, [2]int{10, largeList - 1}, [2]int{255, 256}, [2]int{1100, 1101})
		}
		for _, pair := range pairs {
			list := bulkUsers("l", largeList)
			if pair[1] < 100 {
				list = list[:10]
			}
			c.set(&list[pair[0]], &list[pair[1]])
			_, err := bulkOf(t, s).CreateUsers(ctx, list)
			what := fmt.Sprintf("CreateUsers of %d users, %d and %d with one %s", len(list), pair[0], pair[1], c.name)
			wantItemConflict(t, what, err, pair[1], c.field)
			wantNoUsers(t, s, "after "+what, list, 1)
		}
	}

	// Empty emails and externalIDs are no conflict.
	list := []identity.User{{UserName: "a"}, {UserName: "b"}, {UserName: "c", Email: "", ExternalID: ""}}
	got, err := bulkOf(t, s).CreateUsers(ctx, list)
	if err != nil {
		t.Fatalf("CreateUsers of users without email or externalID: %v", err)
	}
	wantUsers(t, s, identity.UserQuery{}, 4, sorted(append(userIDs(got), stored.ID)...)...)
}

// testCreateUsersTx checks that a call that fails inside a transaction
// stores nobody, and that the transaction goes on.
func testCreateUsersTx(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	_ = bulkOf(t, s)
	taken := mustUser(t, s, identity.User{Email: "taken@example.com", UserName: "taken", Active: true})
	var first, second []identity.User
	err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		first, second = nil, nil
		before, err := tx.CreateUser(ctx, identity.User{UserName: "before"})
		if err != nil {
			return err
		}
		first, err = bulkOf(t, tx).CreateUsers(ctx, bulkUsers("first", 20))
		if err != nil {
			return err
		}
		// Conflicts with a stored user, with a user stored in this
		// transaction, and within the list, at the end of a large list.
		for _, c := range []struct {
			name string
			set  func(list []identity.User)
		}{
			{"a user stored before", func(list []identity.User) {
				list[len(list)-1].Email, list[len(list)-1].Active = "TAKEN@example.com", true
			}},
			{"a user stored in this transaction", func(list []identity.User) { list[len(list)-1].UserName = "Before" }},
			{"a user created by CreateUsers in this transaction", func(list []identity.User) {
				list[len(list)-1].Email, list[len(list)-1].Active = "first0019@example.com", true
			}},
			{"another in the list", func(list []identity.User) {
				list[len(list)-1].Email, list[len(list)-1].Active, list[0].Active = list[0].Email, true, true
			}},
		} {
			list := bulkUsers("failed", largeList)
			c.set(list)
			_, err := bulkOf(t, tx).CreateUsers(ctx, list)
			what := "CreateUsers in a transaction, conflicting with " + c.name
			wantConflict(t, what, err, "user", "")
			var ie *identity.ItemError
			if errors.As(err, &ie) && ie.Index != len(list)-1 {
				t.Errorf("%s: ItemError.Index = %d, want %d", what, ie.Index, len(list)-1)
			}
			wantNoUsers(t, tx, "after "+what, list, 22)
		}
		if _, err := tx.User(ctx, before.ID); err != nil {
			t.Errorf("User(a user created before the failed calls): %v", err)
		}
		second, err = bulkOf(t, tx).CreateUsers(ctx, bulkUsers("failed", largeList))
		return err
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	want := append(append([]string{taken.ID}, userIDs(first)...), userIDs(second)...)
	if p := listUsers(t, s, identity.UserQuery{Limit: 1}); p.Total != len(want)+1 {
		t.Errorf("ListUsers after the commit: Total %d, want %d", p.Total, len(want)+1)
	}
	for _, id := range []string{first[0].ID, first[19].ID, second[0].ID, second[largeList-1].ID} {
		if _, err := s.User(ctx, id); err != nil {
			t.Errorf("User(a user CreateUsers stored in the committed transaction): %v", err)
		}
	}

	// A transaction rolled back takes its CreateUsers with it.
	list := bulkUsers("rolledback", largeList)
	err = s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		if _, err := bulkOf(t, tx).CreateUsers(ctx, list); err != nil {
			return err
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("Tx returned %v, want fn's error", err)
	}
	wantNoUsers(t, s, "after a rolled-back CreateUsers", list, len(want)+1)
}

func testCreateUsersTenants(t *testing.T, open Opener) {
	ctx := t.Context()
	a, b := open(tenantA), open(tenantB)
	_ = bulkOf(t, a)
	_ = bulkOf(t, b)
	inB, err := bulkOf(t, b).CreateUsers(ctx, bulkUsers("same", 300))
	if err != nil {
		t.Fatalf("CreateUsers in tenant B: %v", err)
	}
	// The same values in another tenant are no conflict, and the same IDs
	// are none either where the store keys users by tenant and ID: the suite
	// gives new IDs.
	inA, err := bulkOf(t, a).CreateUsers(ctx, bulkUsers("same", 300))
	if err != nil {
		t.Fatalf("CreateUsers of tenant B's values in tenant A: %v", err)
	}
	for _, c := range []struct {
		s     identity.Store
		users []identity.User
		other []identity.User
	}{{a, inA, inB}, {b, inB, inA}} {
		if p := listUsers(t, c.s, identity.UserQuery{Limit: 1}); p.Total != 300 {
			t.Errorf("ListUsers: Total %d, want 300", p.Total)
		}
		for _, i := range []int{0, 299} {
			if u, err := c.s.UserByEmail(ctx, c.users[i].Email); err != nil || u.ID != c.users[i].ID {
				t.Errorf("UserByEmail(user %d) = %s, %v; want the tenant's own %s", i, u.ID, err, c.users[i].ID)
			}
			_, err := c.s.User(ctx, c.other[i].ID)
			wantNotFound(t, "User(the other tenant's user)", err)
		}
	}
	// An email taken in one tenant is free in the other.
	mustUser(t, a, identity.User{Email: "only-a@example.com", Active: true})
	list := bulkUsers("more", 10)
	list[9].Email, list[9].Active = "only-a@example.com", true
	_, err = bulkOf(t, a).CreateUsers(ctx, list)
	wantItemConflict(t, "CreateUsers with an email taken in the tenant", err, 9, "email")
	wantNoUsers(t, a, "after the conflict", list, 301)
	if got, err := bulkOf(t, b).CreateUsers(ctx, list); err != nil || len(got) != 10 {
		t.Errorf("CreateUsers of the same list in the other tenant = %d users, %v; want 10", len(got), err)
	}
}

// testConcurrentCreateUsers has the workers create lists of their own users
// with one email in common: exactly one list must be stored, whole.
func testConcurrentCreateUsers(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	_ = bulkOf(t, s)
	const each = 40
	var stored atomic.Int64
	var mu sync.Mutex
	var winner []identity.User
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			list := bulkUsers(fmt.Sprintf("w%02d-", w), each)
			shared := w % each
			list[shared].Email, list[shared].Active = "shared@example.com", true
			got, err := bulkOf(t, s).CreateUsers(ctx, list)
			switch {
			case err == nil:
				stored.Add(1)
				mu.Lock()
				winner = got
				mu.Unlock()
			case errors.Is(err, identity.ErrConflict):
				var ie *identity.ItemError
				if !errors.As(err, &ie) || ie.Index != shared {
					t.Errorf("CreateUsers: %v, want the conflict of user %d", err, shared)
				}
			default:
				t.Errorf("CreateUsers: %v, want nil or ErrConflict", err)
			}
		})
	}
	wg.Wait()
	if stored.Load() != 1 {
		t.Fatalf("%d concurrent CreateUsers calls with one email in common stored %d lists, want 1", workers, stored.Load())
	}
	p := listUsers(t, s, identity.UserQuery{Limit: 1000})
	if got, want := userIDs(p.Users), sorted(userIDs(winner)...); !slices.Equal(got, want) {
		t.Errorf("ListUsers: %d users, want the %d of the one list stored", len(got), len(want))
	}
}
