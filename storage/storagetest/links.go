package storagetest

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

func hashOf(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// wantLinks fails the test unless the user's links are want, in order.
func wantLinks(t *testing.T, s identity.Store, userID string, want ...identity.Link) {
	t.Helper()
	got, err := s.Links(t.Context(), userID)
	if err != nil {
		t.Errorf("Links: %v", err)
		return
	}
	eq := func(a, b identity.Link) bool {
		return a.Source == b.Source && a.Subject == b.Subject && a.UserID == b.UserID && timesEqual(a.Created, b.Created)
	}
	if !slices.EqualFunc(got, want, eq) {
		t.Errorf("Links(%s) = %+v, want %+v", userID, got, want)
	}
}

func testLinks(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	u := mustUser(t, s, identity.User{Email: "u@example.com", UserName: "u"})
	v := mustUser(t, s, identity.User{Email: "v@example.com", UserName: "v"})

	saml := identity.Link{Source: "saml:corp", Subject: "AAA-sub", UserID: u.ID, Created: at(5)}
	google := identity.Link{Source: "google", Subject: "1234", UserID: u.ID, Created: at(6)}
	oauth := identity.Link{Source: "oauth:microsoft", Subject: "iss|sub", UserID: u.ID, Created: at(7)}
	for _, l := range []identity.Link{saml, google, oauth} {
		mustLink(t, s, l)
	}
	wantLinks(t, s, u.ID, google, oauth, saml)
	if got, err := s.UserByLink(ctx, "saml:corp", "AAA-sub"); err != nil {
		t.Errorf("UserByLink: %v", err)
	} else {
		checkUser(t, "UserByLink", got, u)
	}
	_, err := s.UserByLink(ctx, "saml:corp", "aaa-sub")
	wantNotFound(t, "UserByLink(subject in another case)", err)
	_, err = s.UserByLink(ctx, "google", "AAA-sub")
	wantNotFound(t, "UserByLink(another source's subject)", err)

	err = s.CreateLink(ctx, identity.Link{Source: "saml:corp", Subject: "AAA-sub", UserID: v.ID})
	wantConflict(t, "CreateLink of a pair linked to another user", err, "link", "subject")
	err = s.CreateLink(ctx, identity.Link{Source: "saml:corp", Subject: "AAA-sub", UserID: u.ID})
	wantConflict(t, "CreateLink of a pair linked already", err, "link", "")
	err = s.CreateLink(ctx, identity.Link{Source: "saml:corp", Subject: "BBB-sub", UserID: u.ID})
	wantConflict(t, "CreateLink of a second subject of one source for one user", err, "link", "")
	wantLinks(t, s, u.ID, google, oauth, saml)

	// Subjects compare exactly: another case is another subject.
	lower := identity.Link{Source: "saml:corp", Subject: "aaa-sub", UserID: v.ID, Created: at(8)}
	mustLink(t, s, lower)
	if got, err := s.UserByLink(ctx, "saml:corp", "aaa-sub"); err != nil || got.ID != v.ID {
		t.Errorf("UserByLink(lower-case subject) = %s, %v; want %s", got.ID, err, v.ID)
	}
	wantLinks(t, s, v.ID, lower)

	missing := identity.NewID()
	wantNotFound(t, "CreateLink for an unknown user", s.CreateLink(ctx, identity.Link{Source: "scim", Subject: "x", UserID: missing}))
	wantLinks(t, s, missing)

	if err := s.DeleteLink(ctx, "google", "1234"); err != nil {
		t.Fatalf("DeleteLink: %v", err)
	}
	_, err = s.UserByLink(ctx, "google", "1234")
	wantNotFound(t, "UserByLink after DeleteLink", err)
	wantLinks(t, s, u.ID, oauth, saml)
	wantNotFound(t, "DeleteLink twice", s.DeleteLink(ctx, "google", "1234"))
	wantNotFound(t, "DeleteLink(unknown)", s.DeleteLink(ctx, "scim", "nobody"))

	// The source is free for the user again, and the subject for anyone.
	google2 := identity.Link{Source: "google", Subject: "5678", UserID: u.ID, Created: at(9)}
	mustLink(t, s, google2)
	google3 := identity.Link{Source: "google", Subject: "1234", UserID: v.ID, Created: at(9)}
	mustLink(t, s, google3)
	wantLinks(t, s, u.ID, google2, oauth, saml)
	wantLinks(t, s, v.ID, google3, lower)
}

func checkInvitation(t *testing.T, what string, got, want identity.Invitation) {
	t.Helper()
	if !bytes.Equal(got.Hash, want.Hash) || got.UserID != want.UserID ||
		!timesEqual(got.Expires, want.Expires) || !timesEqual(got.Created, want.Created) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func testInvitations(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	u := mustUser(t, s, identity.User{Email: "u@example.com", UserName: "u"})
	v := mustUser(t, s, identity.User{Email: "v@example.com", UserName: "v"})

	inv1 := identity.Invitation{Hash: hashOf("token-1"), UserID: u.ID, Expires: at(7 * 24 * 60), Created: at(0)}
	inv2 := identity.Invitation{Hash: hashOf("token-2"), UserID: u.ID, Expires: at(60), Created: at(1)}
	inv3 := identity.Invitation{Hash: hashOf("token-3"), UserID: v.ID, Expires: at(60), Created: at(2)}
	buf := slices.Clone(inv1.Hash)
	for _, inv := range []identity.Invitation{{Hash: buf, UserID: u.ID, Expires: inv1.Expires, Created: inv1.Created}, inv2, inv3} {
		if err := s.CreateInvitation(ctx, inv); err != nil {
			t.Fatalf("CreateInvitation: %v", err)
		}
	}
	buf[0] ^= 0xff // the store keeps its own copy of the hash
	err := s.CreateInvitation(ctx, identity.Invitation{Hash: hashOf("token-4"), UserID: identity.NewID(), Expires: at(60)})
	wantNotFound(t, "CreateInvitation for an unknown user", err)

	got, err := s.TakeInvitation(ctx, hashOf("token-1"))
	if err != nil {
		t.Fatalf("TakeInvitation: %v", err)
	}
	checkInvitation(t, "TakeInvitation", got, inv1)
	_, err = s.TakeInvitation(ctx, hashOf("token-1"))
	wantNotFound(t, "TakeInvitation twice", err)
	_, err = s.TakeInvitation(ctx, hashOf("token-4"))
	wantNotFound(t, "TakeInvitation(unknown hash)", err)

	if err := s.DeleteInvitations(ctx, u.ID); err != nil {
		t.Fatalf("DeleteInvitations: %v", err)
	}
	_, err = s.TakeInvitation(ctx, hashOf("token-2"))
	wantNotFound(t, "TakeInvitation after DeleteInvitations", err)
	if err := s.DeleteInvitations(ctx, u.ID); err != nil {
		t.Errorf("DeleteInvitations of a user with none: %v", err)
	}
	got, err = s.TakeInvitation(ctx, hashOf("token-3"))
	if err != nil {
		t.Fatalf("TakeInvitation of another user's invitation after DeleteInvitations: %v", err)
	}
	checkInvitation(t, "TakeInvitation(token-3)", got, inv3)
}

func testDeleteUser(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	u := mustUser(t, s, identity.User{Email: "gone@example.com", UserName: "gone", ExternalID: "ext-gone"})
	v := mustUser(t, s, identity.User{Email: "stays@example.com", UserName: "stays"})
	g := mustGroup(t, s, identity.Group{Name: "One", Kind: groups.Internal})
	h := mustGroup(t, s, identity.Group{Name: "Two", Kind: groups.Internal})
	mustAdd(t, s, g.ID, u.ID)
	mustAdd(t, s, h.ID, u.ID)
	mustAdd(t, s, g.ID, v.ID)
	mustLink(t, s, identity.Link{Source: "saml:corp", Subject: "gone-sub", UserID: u.ID})
	mustLink(t, s, identity.Link{Source: "scim", Subject: "gone-scim", UserID: u.ID})
	mustLink(t, s, identity.Link{Source: "scim", Subject: "stays-scim", UserID: v.ID})
	if err := s.CreateInvitation(ctx, identity.Invitation{Hash: hashOf("gone-token"), UserID: u.ID, Expires: at(60)}); err != nil {
		t.Fatalf("CreateInvitation: %v", err)
	}

	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err := s.User(ctx, u.ID)
	wantNotFound(t, "User after DeleteUser", err)
	_, err = s.UserByEmail(ctx, "gone@example.com")
	wantNotFound(t, "UserByEmail after DeleteUser", err)
	_, err = s.UserByUserName(ctx, "gone")
	wantNotFound(t, "UserByUserName after DeleteUser", err)
	_, err = s.UserByExternalID(ctx, "ext-gone")
	wantNotFound(t, "UserByExternalID after DeleteUser", err)
	_, err = s.UserByLink(ctx, "saml:corp", "gone-sub")
	wantNotFound(t, "UserByLink after DeleteUser", err)
	wantLinks(t, s, u.ID)
	wantUserGroups(t, s, u.ID)
	wantUsers(t, s, identity.UserQuery{GroupID: g.ID}, 1, v.ID)
	wantUsers(t, s, identity.UserQuery{GroupID: h.ID}, 0)
	wantUsers(t, s, identity.UserQuery{}, 1, v.ID)
	_, err = s.TakeInvitation(ctx, hashOf("gone-token"))
	wantNotFound(t, "TakeInvitation after DeleteUser", err)
	wantNotFound(t, "DeleteUser twice", s.DeleteUser(ctx, u.ID))
	_, err = s.AddMember(ctx, g.ID, u.ID)
	wantNotFound(t, "AddMember of a deleted user", err)
	wantLinks(t, s, v.ID, identity.Link{Source: "scim", Subject: "stays-scim", UserID: v.ID})
	if got, err := s.Group(ctx, g.ID); err != nil || got.Version != 1 {
		t.Errorf("Group after DeleteUser of a member: Version %d, %v; want 1", got.Version, err)
	}

	// Every unique value of the deleted user is free.
	w := mustUser(t, s, identity.User{Email: "Gone@Example.com", UserName: "Gone", ExternalID: "ext-gone"})
	mustLink(t, s, identity.Link{Source: "saml:corp", Subject: "gone-sub", UserID: w.ID})
	if got, err := s.UserByLink(ctx, "saml:corp", "gone-sub"); err != nil || got.ID != w.ID {
		t.Errorf("UserByLink(the deleted user's link, linked again) = %s, %v; want %s", got.ID, err, w.ID)
	}
	wantUserGroups(t, s, w.ID)
}
