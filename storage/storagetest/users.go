package storagetest

import (
	"errors"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// fullUser returns a user with every field set.
func fullUser() identity.User {
	return identity.User{
		UserName:      "ADA",
		Email:         "Ada.Lovelace@Example.COM",
		EmailVerified: true,
		GivenName:     "Ada",
		FamilyName:    "Lovelace",
		DisplayName:   "Ada, Countess of Lovelace",
		Active:        true,
		ExternalID:    "ext-Ada-1",
		Attributes: map[string]string{
			identity.AttrDepartment: "Analytical Engines",
			identity.AttrPhone:      "+44 20 7946 0000",
			"urn:custom:motto":      "Zählen ✓",
		},
		Created: at(0),
		Updated: at(1),
		Version: 7, // ignored: a new user has Version 1
	}
}

func testUserRoundTrip(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)

	in := fullUser()
	got, err := s.CreateUser(ctx, in)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if got.ID == "" {
		t.Fatal("CreateUser assigned no ID")
	}
	want := in
	want.ID, want.Version = got.ID, 1
	checkUser(t, "CreateUser", got, want)

	lookups := []struct {
		name string
		get  func() (identity.User, error)
	}{
		{"User", func() (identity.User, error) { return s.User(ctx, want.ID) }},
		{"UserByEmail", func() (identity.User, error) { return s.UserByEmail(ctx, in.Email) }},
		{"UserByUserName", func() (identity.User, error) { return s.UserByUserName(ctx, in.UserName) }},
		{"UserByExternalID", func() (identity.User, error) { return s.UserByExternalID(ctx, in.ExternalID) }},
	}
	for _, l := range lookups {
		u, err := l.get()
		if err != nil {
			t.Errorf("%s: %v", l.name, err)
			continue
		}
		checkUser(t, l.name, u, want)
	}

	// A sparse user with an ID of its own: false and empty values are stored
	// as such, and the ID is kept.
	sparse := identity.User{ID: identity.NewID(), UserName: "sparse", Created: at(2), Updated: at(2)}
	got2, err := s.CreateUser(ctx, sparse)
	if err != nil {
		t.Fatalf("CreateUser(sparse): %v", err)
	}
	want2 := sparse
	want2.Version = 1
	checkUser(t, "CreateUser(sparse)", got2, want2)
	if u, err := s.User(ctx, sparse.ID); err != nil {
		t.Errorf("User(sparse): %v", err)
	} else {
		checkUser(t, "User(sparse)", u, want2)
	}
	if got.ID == got2.ID {
		t.Errorf("two users have the ID %s", got.ID)
	}

	// Opening the tenant again shows the same data.
	if u, err := open(tenantA).User(ctx, want.ID); err != nil {
		t.Errorf("User through a second Opener call: %v", err)
	} else {
		checkUser(t, "User through a second Opener call", u, want)
	}
}

func testUserCopies(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	in := fullUser()
	attrs := in.Attributes
	u := mustUser(t, s, in)
	want := fullUser()
	want.ID, want.Version = u.ID, 1

	attrs[identity.AttrDepartment] = "changed after CreateUser"
	u.Attributes[identity.AttrPhone] = "changed in CreateUser's result"
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	checkUser(t, "User after changing CreateUser's maps", got, want)

	got.Attributes[identity.AttrTitle] = "changed in User's result"
	var kept map[string]string
	upd, err := s.UpdateUser(ctx, u.ID, func(p *identity.User) error {
		kept = p.Attributes
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	kept[identity.AttrManager] = "changed after UpdateUser"
	upd.Attributes[identity.AttrCostCenter] = "changed in UpdateUser's result"
	want.Version = 2
	got, err = s.User(ctx, u.ID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	checkUser(t, "User after changing the maps of User and UpdateUser", got, want)
}

func testUpdateUser(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	u := mustUser(t, s, fullUser())

	calls := 0
	got, err := s.UpdateUser(ctx, u.ID, func(p *identity.User) error {
		calls++
		checkUser(t, "UpdateUser's fn argument", *p, u)
		p.DisplayName = "The Enchantress of Numbers"
		p.Active = false
		p.EmailVerified = false
		p.Attributes[identity.AttrTitle] = "Countess"
		delete(p.Attributes, identity.AttrPhone)
		p.Updated = at(10)
		// Ignored:
		p.ID = identity.NewID()
		p.Created = at(99)
		p.Version = 42
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if calls == 0 {
		t.Error("UpdateUser did not call fn")
	}
	want := u
	want.DisplayName = "The Enchantress of Numbers"
	want.Active = false
	want.EmailVerified = false
	want.Attributes = map[string]string{
		identity.AttrDepartment: "Analytical Engines",
		identity.AttrTitle:      "Countess",
		"urn:custom:motto":      "Zählen ✓",
	}
	want.Updated = at(10)
	want.Version = 2
	checkUser(t, "UpdateUser", got, want)
	if stored, err := s.User(ctx, u.ID); err != nil {
		t.Errorf("User after UpdateUser: %v", err)
	} else {
		checkUser(t, "User after UpdateUser", stored, want)
	}

	// Every update adds one to Version, and clearing the map clears it.
	got, err = s.UpdateUser(ctx, u.ID, func(p *identity.User) error {
		if p.Version != 2 {
			t.Errorf("fn saw Version %d, want 2", p.Version)
		}
		p.Attributes = nil
		return nil
	})
	if err != nil {
		t.Fatalf("second UpdateUser: %v", err)
	}
	want.Attributes, want.Version = nil, 3
	checkUser(t, "second UpdateUser", got, want)
	if stored, err := s.User(ctx, u.ID); err != nil {
		t.Errorf("User: %v", err)
	} else {
		checkUser(t, "User after second UpdateUser", stored, want)
	}
}

func testUpdateUserFnError(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	u := mustUser(t, s, fullUser())
	errFn := errors.New("storagetest: fn refuses")
	_, err := s.UpdateUser(ctx, u.ID, func(p *identity.User) error {
		p.DisplayName = "changed"
		p.Email = "changed@example.com"
		p.Attributes[identity.AttrDepartment] = "changed"
		return errFn
	})
	if !errors.Is(err, errFn) {
		t.Errorf("UpdateUser: error %v, want fn's error", err)
	}
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	checkUser(t, "User after UpdateUser's fn failed", got, u)
	_, err = s.UserByEmail(ctx, "changed@example.com")
	wantNotFound(t, "UserByEmail(the email fn set before failing)", err)
}

func testUserConflicts(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	alice := mustUser(t, s, identity.User{Email: "Alice@Example.com", UserName: "alice", ExternalID: "ext-alice", Active: true})

	creates := []struct {
		name  string
		u     identity.User
		field string
	}{
		{"email", identity.User{Email: "  ALICE@example.COM ", UserName: "other1", Active: true}, "email"},
		{"userName", identity.User{Email: "other2@example.com", UserName: " ALICE "}, "userName"},
		{"id", identity.User{ID: alice.ID, Email: "other4@example.com", UserName: "other4"}, ""},
	}
	for _, c := range creates {
		_, err := s.CreateUser(ctx, c.u)
		wantConflict(t, "CreateUser with a taken "+c.name, err, "user", c.field)
	}
	wantUsers(t, s, identity.UserQuery{}, 1, alice.ID)

	bob := mustUser(t, s, identity.User{Email: "bob@example.com", UserName: "bob", ExternalID: "ext-bob", Active: true})
	updates := []struct {
		name  string
		fn    func(*identity.User)
		field string
	}{
		{"email", func(u *identity.User) { u.Email = " alice@EXAMPLE.com" }, "email"},
		{"userName", func(u *identity.User) { u.UserName = "Alice" }, "userName"},
	}
	for _, c := range updates {
		_, err := s.UpdateUser(ctx, bob.ID, func(u *identity.User) error {
			c.fn(u)
			u.DisplayName = "changed"
			return nil
		})
		wantConflict(t, "UpdateUser to a taken "+c.name, err, "user", c.field)
	}
	if got, err := s.User(ctx, bob.ID); err != nil {
		t.Errorf("User(bob): %v", err)
	} else {
		checkUser(t, "User after conflicting updates", got, bob)
	}

	// A user's own values, in another case, are not a conflict.
	got, err := s.UpdateUser(ctx, alice.ID, func(u *identity.User) error {
		u.Email = "ALICE@example.com"
		u.UserName = "Alice"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser to the user's own email in another case: %v", err)
	}
	if got.Email != "ALICE@example.com" || got.Version != 2 {
		t.Errorf("UpdateUser: Email %q Version %d, want %q 2", got.Email, got.Version, "ALICE@example.com")
	}

	// Values a user leaves are free for another.
	_, err = s.UpdateUser(ctx, alice.ID, func(u *identity.User) error {
		u.Email, u.UserName, u.ExternalID = "alice2@example.com", "alice2", "ext-alice2"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser to new unique values: %v", err)
	}
	_, err = s.UserByEmail(ctx, "alice@example.com")
	wantNotFound(t, "UserByEmail(the email alice left)", err)
	_, err = s.UserByUserName(ctx, "alice")
	wantNotFound(t, "UserByUserName(the userName alice left)", err)
	_, err = s.UserByExternalID(ctx, "ext-alice")
	wantNotFound(t, "UserByExternalID(the externalID alice left)", err)
	carol := mustUser(t, s, identity.User{Email: "alice@example.com", UserName: "alice", ExternalID: "ext-alice", Active: true})
	if u, err := s.UserByEmail(ctx, "Alice@Example.com"); err != nil || u.ID != carol.ID {
		t.Errorf("UserByEmail(the email alice left) = %s, %v; want the new user %s", u.ID, err, carol.ID)
	}
	if u, err := s.UserByEmail(ctx, "alice2@example.com"); err != nil || u.ID != alice.ID {
		t.Errorf("UserByEmail(alice's new email) = %s, %v; want %s", u.ID, err, alice.ID)
	}
}

func testUserEmptyUniqueValues(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	var ids []string
	for _, name := range []string{"noemail1", "noemail2", "noemail3"} {
		ids = append(ids, mustUser(t, s, identity.User{UserName: name}).ID)
	}
	// Clearing an email and an externalID is no conflict either.
	u := mustUser(t, s, identity.User{UserName: "hasemail", Email: "has@example.com", ExternalID: "ext-has"})
	ids = append(ids, u.ID)
	_, err := s.UpdateUser(ctx, u.ID, func(u *identity.User) error {
		u.Email, u.ExternalID = "", ""
		return nil
	})
	if err != nil {
		t.Errorf("UpdateUser clearing email and externalID: %v", err)
	}
	wantUsers(t, s, identity.UserQuery{}, 4, sorted(ids...)...)
	_, err = s.UserByEmail(ctx, "")
	wantNotFound(t, `UserByEmail("")`, err)
	_, err = s.UserByEmail(ctx, "  ")
	wantNotFound(t, `UserByEmail("  ")`, err)
	_, err = s.UserByExternalID(ctx, "")
	wantNotFound(t, `UserByExternalID("")`, err)
	_, err = s.UserByEmail(ctx, "has@example.com")
	wantNotFound(t, "UserByEmail(a cleared email)", err)
}

func testUserLookups(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	u := mustUser(t, s, identity.User{Email: "Grace.Hopper@Navy.MIL", UserName: "GHopper", ExternalID: "Ext-G"})
	mustUser(t, s, identity.User{UserName: "other"})

	found := []struct {
		name string
		get  func() (identity.User, error)
	}{
		{"UserByEmail(lower case)", func() (identity.User, error) { return s.UserByEmail(ctx, "grace.hopper@navy.mil") }},
		{"UserByEmail(spaces, upper case)", func() (identity.User, error) { return s.UserByEmail(ctx, " GRACE.HOPPER@NAVY.MIL\t") }},
		{"UserByUserName(lower case, spaces)", func() (identity.User, error) { return s.UserByUserName(ctx, " ghopper ") }},
		{"UserByExternalID(exact)", func() (identity.User, error) { return s.UserByExternalID(ctx, "Ext-G") }},
	}
	for _, f := range found {
		got, err := f.get()
		if err != nil {
			t.Errorf("%s: %v", f.name, err)
			continue
		}
		checkUser(t, f.name, got, u)
	}

	missing := identity.NewID()
	notFound := []struct {
		name string
		get  func() (identity.User, error)
	}{
		{"User(unknown id)", func() (identity.User, error) { return s.User(ctx, missing) }},
		{"UserByEmail(unknown)", func() (identity.User, error) { return s.UserByEmail(ctx, "nobody@navy.mil") }},
		{"UserByUserName(unknown)", func() (identity.User, error) { return s.UserByUserName(ctx, "nobody") }},
		{"UserByExternalID(other case)", func() (identity.User, error) { return s.UserByExternalID(ctx, "ext-g") }},
		{"UserByExternalID(unknown)", func() (identity.User, error) { return s.UserByExternalID(ctx, "ext-nobody") }},
		{"UserByLink(unknown)", func() (identity.User, error) { return s.UserByLink(ctx, "scim", "nobody") }},
		{"UpdateUser(unknown id)", func() (identity.User, error) {
			return s.UpdateUser(ctx, missing, func(*identity.User) error {
				t.Error("UpdateUser called fn for an unknown id")
				return nil
			})
		}},
	}
	for _, n := range notFound {
		_, err := n.get()
		wantNotFound(t, n.name, err)
	}
	wantNotFound(t, "DeleteUser(unknown id)", s.DeleteUser(ctx, missing))
}
