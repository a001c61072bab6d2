package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

func testTxCommit(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	var u identity.User
	var g identity.Group
	err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		var err error
		if u, err = tx.CreateUser(ctx, identity.User{Email: "tx@example.com", UserName: "tx"}); err != nil {
			return err
		}
		if g, err = tx.CreateGroup(ctx, identity.Group{Name: "Tx Group", Kind: groups.Internal}); err != nil {
			return err
		}
		if _, err := tx.AddMember(ctx, g.ID, u.ID); err != nil {
			return err
		}
		if err := tx.CreateLink(ctx, identity.Link{Source: "scim", Subject: "tx-sub", UserID: u.ID}); err != nil {
			return err
		}
		// The transaction reads its own writes.
		if got, err := tx.UserByEmail(ctx, "TX@example.com"); err != nil || got.ID != u.ID {
			t.Errorf("UserByEmail in the transaction = %s, %v; want %s", got.ID, err, u.ID)
		}
		if got, err := tx.UserByLink(ctx, "scim", "tx-sub"); err != nil || got.ID != u.ID {
			t.Errorf("UserByLink in the transaction = %s, %v; want %s", got.ID, err, u.ID)
		}
		wantUserGroups(t, tx, u.ID, g.ID)
		wantUsers(t, tx, identity.UserQuery{GroupID: g.ID}, 1, u.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	for _, st := range []identity.Store{s, open(tenantA)} {
		if got, err := st.UserByEmail(ctx, "tx@example.com"); err != nil {
			t.Errorf("UserByEmail after commit: %v", err)
		} else {
			checkUser(t, "UserByEmail after commit", got, u)
		}
		if got, err := st.GroupByName(ctx, "tx group"); err != nil || got.ID != g.ID {
			t.Errorf("GroupByName after commit = %s, %v; want %s", got.ID, err, g.ID)
		}
		if got, err := st.UserByLink(ctx, "scim", "tx-sub"); err != nil || got.ID != u.ID {
			t.Errorf("UserByLink after commit = %s, %v; want %s", got.ID, err, u.ID)
		}
		wantUserGroups(t, st, u.ID, g.ID)
	}
}

func testTxRollback(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	x := mustUser(t, s, identity.User{Email: "x@example.com", UserName: "x", ExternalID: "ext-x", DisplayName: "X"})
	y := mustUser(t, s, identity.User{Email: "y@example.com", UserName: "y", DisplayName: "Y",
		Attributes: map[string]string{identity.AttrDepartment: "Before"}})
	g1 := mustGroup(t, s, identity.Group{Name: "Group One", Kind: groups.Internal, ExternalID: "g1"})
	g2 := mustGroup(t, s, identity.Group{Name: "Group Two", Kind: groups.External, Source: "scim"})
	mustAdd(t, s, g1.ID, x.ID)
	mustAdd(t, s, g2.ID, y.ID)
	xLink := identity.Link{Source: "saml:corp", Subject: "x-sub", UserID: x.ID, Created: at(0)}
	mustLink(t, s, xLink)
	if err := s.CreateInvitation(ctx, identity.Invitation{Hash: hashOf("x-token"), UserID: x.ID, Expires: at(60)}); err != nil {
		t.Fatalf("CreateInvitation: %v", err)
	}

	var newID string
	err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		n, err := tx.CreateUser(ctx, identity.User{Email: "new@example.com", UserName: "new", ExternalID: "ext-new"})
		if err != nil {
			return err
		}
		newID = n.ID
		steps := []error{
			tx.CreateLink(ctx, identity.Link{Source: "scim", Subject: "new-sub", UserID: n.ID}),
			tx.CreateInvitation(ctx, identity.Invitation{Hash: hashOf("new-token"), UserID: n.ID, Expires: at(60)}),
		}
		_, err = tx.AddMember(ctx, g1.ID, n.ID)
		steps = append(steps, err)
		_, err = tx.UpdateGroup(ctx, g1.ID, func(g *identity.Group) error {
			g.Name, g.ExternalID = "Group Uno", "g-uno"
			return nil
		})
		steps = append(steps, err)
		_, err = tx.UpdateUser(ctx, y.ID, func(u *identity.User) error {
			u.Email, u.DisplayName = "y2@example.com", "changed"
			u.Attributes[identity.AttrDepartment] = "After"
			return nil
		})
		steps = append(steps, err)
		_, err = tx.CreateGroup(ctx, identity.Group{Name: "Group Three", Kind: groups.Internal})
		steps = append(steps, err,
			tx.DeleteUser(ctx, x.ID),
			tx.DeleteGroup(ctx, g2.ID))
		for i, err := range steps {
			if err != nil {
				t.Errorf("step %d in the transaction: %v", i, err)
			}
		}
		if _, err := tx.UserByEmail(ctx, "new@example.com"); err != nil {
			t.Errorf("UserByEmail of the user the transaction created: %v", err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Tx returned %v, want fn's error", err)
	}
	if newID == "" {
		t.Fatal("the transaction created no user")
	}

	// Nothing the transaction made is left.
	_, err = s.User(ctx, newID)
	wantNotFound(t, "User(rolled-back user)", err)
	_, err = s.UserByEmail(ctx, "new@example.com")
	wantNotFound(t, "UserByEmail(rolled-back user)", err)
	_, err = s.UserByUserName(ctx, "new")
	wantNotFound(t, "UserByUserName(rolled-back user)", err)
	_, err = s.UserByExternalID(ctx, "ext-new")
	wantNotFound(t, "UserByExternalID(rolled-back user)", err)
	_, err = s.UserByLink(ctx, "scim", "new-sub")
	wantNotFound(t, "UserByLink(rolled-back link)", err)
	_, err = s.TakeInvitation(ctx, hashOf("new-token"))
	wantNotFound(t, "TakeInvitation(rolled-back invitation)", err)
	_, err = s.GroupByName(ctx, "Group Three")
	wantNotFound(t, "GroupByName(rolled-back group)", err)
	wantUserGroups(t, s, newID)
	wantUsers(t, s, identity.UserQuery{}, 2, sorted(x.ID, y.ID)...)
	wantGroups(t, s, identity.GroupQuery{}, 2, sorted(g1.ID, g2.ID)...)

	checkRolledBack(t, s, x, y, g1, g2, xLink)
}

// checkRolledBack checks that what testTxRollback's transaction changed and
// deleted is as it was, and that the values it took are free again.
func checkRolledBack(t *testing.T, s identity.Store, x, y identity.User, g1, g2 identity.Group, xLink identity.Link) {
	t.Helper()
	ctx := t.Context()
	// What it changed is as it was.
	if got, err := s.Group(ctx, g1.ID); err != nil {
		t.Errorf("Group(g1): %v", err)
	} else {
		checkGroup(t, "Group after rolled-back update", got, g1)
	}
	if got, err := s.GroupByName(ctx, "group one"); err != nil || got.ID != g1.ID {
		t.Errorf("GroupByName(old name) = %s, %v; want %s", got.ID, err, g1.ID)
	}
	_, err := s.GroupByName(ctx, "Group Uno")
	wantNotFound(t, "GroupByName(rolled-back name)", err)
	_, err = s.GroupByExternalID(ctx, "g-uno")
	wantNotFound(t, "GroupByExternalID(rolled-back externalID)", err)
	if got, err := s.User(ctx, y.ID); err != nil {
		t.Errorf("User(y): %v", err)
	} else {
		checkUser(t, "User after rolled-back update", got, y)
	}
	if got, err := s.UserByEmail(ctx, "y@example.com"); err != nil || got.ID != y.ID {
		t.Errorf("UserByEmail(y's email) = %s, %v; want %s", got.ID, err, y.ID)
	}
	_, err = s.UserByEmail(ctx, "y2@example.com")
	wantNotFound(t, "UserByEmail(rolled-back email)", err)

	// What it deleted is back, with its links, memberships and invitations.
	if got, err := s.User(ctx, x.ID); err != nil {
		t.Errorf("User(x): %v", err)
	} else {
		checkUser(t, "User after rolled-back delete", got, x)
	}
	for what, get := range map[string]func() (identity.User, error){
		"UserByEmail":      func() (identity.User, error) { return s.UserByEmail(ctx, "x@example.com") },
		"UserByUserName":   func() (identity.User, error) { return s.UserByUserName(ctx, "x") },
		"UserByExternalID": func() (identity.User, error) { return s.UserByExternalID(ctx, "ext-x") },
		"UserByLink":       func() (identity.User, error) { return s.UserByLink(ctx, "saml:corp", "x-sub") },
	} {
		if got, err := get(); err != nil || got.ID != x.ID {
			t.Errorf("%s of a user whose delete was rolled back = %s, %v; want %s", what, got.ID, err, x.ID)
		}
	}
	wantLinks(t, s, x.ID, xLink)
	wantUserGroups(t, s, x.ID, g1.ID)
	wantUsers(t, s, identity.UserQuery{GroupID: g1.ID}, 1, x.ID)
	if got, err := s.Group(ctx, g2.ID); err != nil {
		t.Errorf("Group(g2): %v", err)
	} else {
		checkGroup(t, "Group after rolled-back delete", got, g2)
	}
	wantUserGroups(t, s, y.ID, g2.ID)
	wantUsers(t, s, identity.UserQuery{GroupID: g2.ID}, 1, y.ID)
	if _, err := s.TakeInvitation(ctx, hashOf("x-token")); err != nil {
		t.Errorf("TakeInvitation of an invitation whose user's delete was rolled back: %v", err)
	}

	// The values the transaction took are free again.
	mustUser(t, s, identity.User{Email: "new@example.com", UserName: "new", ExternalID: "ext-new"})
	mustGroup(t, s, identity.Group{Name: "Group Three", Kind: groups.Internal})
}

func testTxNested(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	for _, commit := range []bool{false, true} {
		outer := identity.User{Email: "outer@example.com", UserName: "outer"}
		inner := identity.User{Email: "inner@example.com", UserName: "inner"}
		err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
			a, err := tx.CreateUser(ctx, outer)
			if err != nil {
				return err
			}
			err = tx.Tx(ctx, func(ctx context.Context, tx2 identity.Store) error {
				if _, err := tx2.User(ctx, a.ID); err != nil {
					t.Errorf("the nested transaction does not see the outer one's user: %v", err)
				}
				_, err := tx2.CreateUser(ctx, inner)
				return err
			})
			if err != nil {
				return err
			}
			if _, err := tx.UserByEmail(ctx, inner.Email); err != nil {
				t.Errorf("the outer transaction does not see the nested one's user: %v", err)
			}
			if commit {
				return nil
			}
			return errRollback
		})
		if commit {
			if err != nil {
				t.Fatalf("Tx: %v", err)
			}
			for _, email := range []string{outer.Email, inner.Email} {
				if _, err := s.UserByEmail(ctx, email); err != nil {
					t.Errorf("UserByEmail(%s) after the outer transaction committed: %v", email, err)
				}
			}
			continue
		}
		if !errors.Is(err, errRollback) {
			t.Fatalf("Tx returned %v, want fn's error", err)
		}
		for _, email := range []string{outer.Email, inner.Email} {
			_, err := s.UserByEmail(ctx, email)
			wantNotFound(t, "UserByEmail("+email+") after the outer transaction rolled back", err)
		}
	}
}

func testTenantIsolation(t *testing.T, open Opener) {
	ctx := t.Context()
	a, b := open(tenantA), open(tenantB)
	u := mustUser(t, a, identity.User{Email: "same@example.com", UserName: "same", ExternalID: "ext-same"})
	g := mustGroup(t, a, identity.Group{Name: "Same", Kind: groups.External, Source: "scim", ExternalID: "g-same"})
	mustAdd(t, a, g.ID, u.ID)
	mustLink(t, a, identity.Link{Source: "scim", Subject: "same-sub", UserID: u.ID})
	if err := a.CreateInvitation(ctx, identity.Invitation{Hash: hashOf("a-token"), UserID: u.ID, Expires: at(60)}); err != nil {
		t.Fatalf("CreateInvitation: %v", err)
	}

	userLookups := map[string]func() (identity.User, error){
		"User":             func() (identity.User, error) { return b.User(ctx, u.ID) },
		"UserByEmail":      func() (identity.User, error) { return b.UserByEmail(ctx, "same@example.com") },
		"UserByUserName":   func() (identity.User, error) { return b.UserByUserName(ctx, "same") },
		"UserByExternalID": func() (identity.User, error) { return b.UserByExternalID(ctx, "ext-same") },
		"UserByLink":       func() (identity.User, error) { return b.UserByLink(ctx, "scim", "same-sub") },
		"UpdateUser": func() (identity.User, error) {
			return b.UpdateUser(ctx, u.ID, func(u *identity.User) error { u.DisplayName = "from b"; return nil })
		},
	}
	for what, get := range userLookups {
		_, err := get()
		wantNotFound(t, what+" of tenant a's user from tenant b", err)
	}
	groupLookups := map[string]func() (identity.Group, error){
		"Group":             func() (identity.Group, error) { return b.Group(ctx, g.ID) },
		"GroupByName":       func() (identity.Group, error) { return b.GroupByName(ctx, "same") },
		"GroupByExternalID": func() (identity.Group, error) { return b.GroupByExternalID(ctx, "g-same") },
		"UpdateGroup": func() (identity.Group, error) {
			return b.UpdateGroup(ctx, g.ID, func(g *identity.Group) error { g.Name = "from b"; return nil })
		},
	}
	for what, get := range groupLookups {
		_, err := get()
		wantNotFound(t, what+" of tenant a's group from tenant b", err)
	}
	wantUsers(t, b, identity.UserQuery{}, 0)
	wantUsers(t, b, identity.UserQuery{GroupID: g.ID}, 0)
	wantGroups(t, b, identity.GroupQuery{}, 0)
	wantUserGroups(t, b, u.ID)
	wantLinks(t, b, u.ID)
	_, err := b.TakeInvitation(ctx, hashOf("a-token"))
	wantNotFound(t, "TakeInvitation of tenant a's invitation from tenant b", err)
	wantNotFound(t, "CreateLink for tenant a's user from tenant b", b.CreateLink(ctx, identity.Link{Source: "google", Subject: "x", UserID: u.ID}))
	wantNotFound(t, "CreateInvitation for tenant a's user from tenant b", b.CreateInvitation(ctx, identity.Invitation{Hash: hashOf("b-token"), UserID: u.ID}))
	if removed, err := b.RemoveMember(ctx, g.ID, u.ID); err != nil || removed {
		t.Errorf("RemoveMember of tenant a's membership from tenant b = %v, %v; want false", removed, err)
	}
	if err := b.DeleteInvitations(ctx, u.ID); err != nil {
		t.Errorf("DeleteInvitations of tenant a's user from tenant b: %v", err)
	}
	wantNotFound(t, "DeleteLink of tenant a's link from tenant b", b.DeleteLink(ctx, "scim", "same-sub"))

	// Tenant b may hold the same values, and its records stay apart too.
	bu := mustUser(t, b, identity.User{Email: "SAME@example.com", UserName: "same", ExternalID: "ext-same"})
	bg := mustGroup(t, b, identity.Group{Name: "same", Kind: groups.Internal, ExternalID: "g-same"})
	mustLink(t, b, identity.Link{Source: "scim", Subject: "same-sub", UserID: bu.ID})
	_, err = b.AddMember(ctx, bg.ID, u.ID)
	wantNotFound(t, "AddMember of tenant a's user to tenant b's group", err)
	_, err = b.AddMember(ctx, g.ID, bu.ID)
	wantNotFound(t, "AddMember of tenant b's user to tenant a's group", err)
	_, err = a.AddMember(ctx, g.ID, bu.ID)
	wantNotFound(t, "AddMember of tenant b's user to tenant a's group, from a", err)
	wantNotFound(t, "DeleteUser of tenant a's user from tenant b", b.DeleteUser(ctx, u.ID))
	wantNotFound(t, "DeleteGroup of tenant a's group from tenant b", b.DeleteGroup(ctx, g.ID))
	if got, err := b.UserByLink(ctx, "scim", "same-sub"); err != nil || got.ID != bu.ID {
		t.Errorf("UserByLink in tenant b = %s, %v; want b's user %s", got.ID, err, bu.ID)
	}
	err = b.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		if _, err := tx.User(ctx, u.ID); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("User of tenant a's user in tenant b's transaction: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Errorf("Tx: %v", err)
	}

	// Tenant a is as it was.
	if got, err := a.User(ctx, u.ID); err != nil {
		t.Errorf("User in tenant a: %v", err)
	} else {
		checkUser(t, "User in tenant a", got, u)
	}
	if got, err := a.Group(ctx, g.ID); err != nil {
		t.Errorf("Group in tenant a: %v", err)
	} else {
		checkGroup(t, "Group in tenant a", got, g)
	}
	if got, err := a.UserByLink(ctx, "scim", "same-sub"); err != nil || got.ID != u.ID {
		t.Errorf("UserByLink in tenant a = %s, %v; want %s", got.ID, err, u.ID)
	}
	wantUsers(t, a, identity.UserQuery{}, 1, u.ID)
	wantUsers(t, a, identity.UserQuery{GroupID: g.ID}, 1, u.ID)
	wantGroups(t, a, identity.GroupQuery{}, 1, g.ID)
	if _, err := a.TakeInvitation(ctx, hashOf("a-token")); err != nil {
		t.Errorf("TakeInvitation in tenant a: %v", err)
	}
}
