package storagetest

import (
	"context"
	"slices"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// testExternalIDNotUnique checks that users may share an externalID (RFC
// 7643 §3.1), that UsersByExternalID finds all of them in ID order, compared
// exactly, and that UserByExternalID finds the one with the smallest ID.
func testExternalIDNotUnique(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	a := mustUser(t, s, identity.User{Email: "a@example.com", UserName: "a", ExternalID: "nick", Active: true})
	b := mustUser(t, s, identity.User{Email: "b@example.com", UserName: "b", ExternalID: "nick", Active: true})
	mustUser(t, s, identity.User{Email: "c@example.com", UserName: "c", ExternalID: "NICK", Active: true})
	d := mustUser(t, s, identity.User{Email: "d@example.com", UserName: "d", ExternalID: "other"})
	if _, err := s.UpdateUser(ctx, d.ID, func(u *identity.User) error { u.ExternalID = "nick"; return nil }); err != nil {
		t.Fatalf("UpdateUser to a shared externalID: %v", err)
	}
	list, err := bulkOf(t, s).CreateUsers(ctx, []identity.User{
		{Email: "e@example.com", UserName: "e", ExternalID: "nick"},
		{Email: "f@example.com", UserName: "f", ExternalID: "nick", Active: true},
	})
	if err != nil {
		t.Fatalf("CreateUsers of two users with a stored externalID: %v", err)
	}
	want := sorted(a.ID, b.ID, d.ID, list[0].ID, list[1].ID)
	got, err := s.UsersByExternalID(ctx, "nick")
	if err != nil {
		t.Fatalf("UsersByExternalID: %v", err)
	}
	if !slices.Equal(userIDs(got), want) {
		t.Errorf("UsersByExternalID(nick) = %v, want %v", userIDs(got), want)
	}
	if u, err := s.UserByExternalID(ctx, "nick"); err != nil || u.ID != want[0] {
		t.Errorf("UserByExternalID(nick) = %s, %v; want the smallest ID %s", u.ID, err, want[0])
	}
	for _, ext := range []string{"", "Nick", "nobody"} {
		if got, err := s.UsersByExternalID(ctx, ext); err != nil || len(got) != 0 {
			t.Errorf("UsersByExternalID(%q) = %v, %v; want none", ext, userIDs(got), err)
		}
	}
	// In a transaction too.
	err = s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		got, err := tx.UsersByExternalID(ctx, "nick")
		if err != nil || len(got) != len(want) {
			t.Errorf("UsersByExternalID in a transaction = %d users, %v; want %d", len(got), err, len(want))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

// testEmailActiveOnly checks that an email, in the canonical form of
// identity.NormalizeEmail, is unique among active users only: a deactivated
// user's address may be taken by a new user, UserByEmail prefers the active
// holder and else the deactivated one updated last, and making a user active
// (a restore) while an active user holds its address is a conflict.
func testEmailActiveOnly(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	setActive := func(id string, active bool, minute int) (identity.User, error) {
		return s.UpdateUser(ctx, id, func(u *identity.User) error {
			u.Active, u.Updated = active, at(minute)
			return nil
		})
	}
	old := mustUser(t, s, identity.User{Email: "ann@example.com", UserName: "ann", Active: true, Updated: at(1)})
	if _, err := setActive(old.ID, false, 2); err != nil {
		t.Fatalf("deactivating: %v", err)
	}
	if u, err := s.UserByEmail(ctx, "ANN@example.com"); err != nil || u.ID != old.ID {
		t.Errorf("UserByEmail(a deactivated user's email) = %s, %v; want %s", u.ID, err, old.ID)
	}
	// A new active user, and an inactive one, may hold the deactivated
	// user's address; a second active one may not, in any form of it.
	rehire := mustUser(t, s, identity.User{Email: " Ann@Example.COM", UserName: "ann2", Active: true, Updated: at(3)})
	parked := mustUser(t, s, identity.User{Email: "ann@example.com", UserName: "ann3", Updated: at(4)})
	for _, email := range []string{"ann@example.com", "ＡＮＮ@example.com", "ann@EXAMPLE.com "} {
		_, err := s.CreateUser(ctx, identity.User{Email: email, UserName: "ann4", Active: true})
		wantConflict(t, "CreateUser of a second active user with "+email, err, "user", "email")
	}
	if u, err := s.UserByEmail(ctx, "ann@example.com"); err != nil || u.ID != rehire.ID {
		t.Errorf("UserByEmail = %s, %v; want the active holder %s", u.ID, err, rehire.ID)
	}
	all, err := s.UsersByEmail(ctx, "ANN@EXAMPLE.COM")
	if want := sorted(old.ID, rehire.ID, parked.ID); err != nil || !slices.Equal(userIDs(all), want) {
		t.Errorf("UsersByEmail = %v, %v; want %v", userIDs(all), err, want)
	}

	// Restoring a user whose address an active user holds is a conflict,
	// and changes nothing.
	_, err = setActive(old.ID, true, 5)
	wantConflict(t, "restoring a user whose email an active user holds", err, "user", "email")
	_, err = setActive(parked.ID, true, 5)
	wantConflict(t, "activating an inactive user whose email an active user holds", err, "user", "email")
	if u, err := s.User(ctx, old.ID); err != nil || u.Active {
		t.Errorf("User(old) after the failed restore: active %v, %v; want inactive", u.Active, err)
	}
	// An inactive user may change to an active user's address, and change
	// anything else while keeping it.
	other := mustUser(t, s, identity.User{Email: "other@example.com", UserName: "other"})
	if _, err := s.UpdateUser(ctx, other.ID, func(u *identity.User) error { u.Email = "ann@example.com"; return nil }); err != nil {
		t.Errorf("UpdateUser of an inactive user to an active user's email: %v", err)
	}
	if _, err := s.UpdateUser(ctx, parked.ID, func(u *identity.User) error { u.DisplayName = "Parked"; return nil }); err != nil {
		t.Errorf("UpdateUser of an inactive user holding an active user's email: %v", err)
	}
	// An active user may not move to it.
	active := mustUser(t, s, identity.User{Email: "zed@example.com", UserName: "zed", Active: true})
	_, err = s.UpdateUser(ctx, active.ID, func(u *identity.User) error { u.Email = "ann@EXAMPLE.com"; return nil })
	wantConflict(t, "UpdateUser of an active user to another active user's email", err, "user", "email")

	// With no active holder, UserByEmail finds the deactivated user updated
	// last; then the restore goes through.
	if _, err := setActive(rehire.ID, false, 9); err != nil {
		t.Fatalf("deactivating the rehire: %v", err)
	}
	if u, err := s.UserByEmail(ctx, "ann@example.com"); err != nil || u.ID != rehire.ID {
		t.Errorf("UserByEmail with deactivated holders only = %s, %v; want the one updated last, %s", u.ID, err, rehire.ID)
	}
	if _, err := setActive(old.ID, true, 10); err != nil {
		t.Errorf("restoring once no active user holds the email: %v", err)
	}

	// CreateUsers: two active users with one address conflict, an active
	// and an inactive do not.
	_, err = bulkOf(t, s).CreateUsers(ctx, []identity.User{
		{Email: "pair@example.com", UserName: "p1", Active: true},
		{Email: "PAIR@example.com", UserName: "p2", Active: true},
	})
	wantItemConflict(t, "CreateUsers of two active users with one email", err, 1, "email")
	if _, err := bulkOf(t, s).CreateUsers(ctx, []identity.User{
		{Email: "pair@example.com", UserName: "p1", Active: true},
		{Email: "PAIR@example.com", UserName: "p2"},
	}); err != nil {
		t.Errorf("CreateUsers of an active and an inactive user with one email: %v", err)
	}
}

// testEmailCanonical checks that the stores compare emails in the canonical
// form: IDNA for the domain, width and case folded.
func testEmailCanonical(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	j := mustUser(t, s, identity.User{Email: "j@müller.de", UserName: "j", Active: true})
	ada := mustUser(t, s, identity.User{Email: "ada@example.com", UserName: "ada", Active: true})
	if j.Email != "j@müller.de" {
		t.Errorf("Email = %q, want it kept as given", j.Email)
	}
	for email, id := range map[string]string{
		"j@xn--mller-kva.de": j.ID, "J@MÜLLER.DE": j.ID, "j@ｍüller.de": j.ID,
		"ＡＤＡ@example.com": ada.ID, "ada@ｅｘａｍｐｌｅ.ｃｏｍ": ada.ID,
	} {
		if u, err := s.UserByEmail(ctx, email); err != nil || u.ID != id {
			t.Errorf("UserByEmail(%q) = %s, %v; want %s", email, u.ID, err, id)
		}
		_, err := s.CreateUser(ctx, identity.User{Email: email, UserName: "x-" + email, Active: true})
		wantConflict(t, "CreateUser with "+email, err, "user", "email")
	}
}
