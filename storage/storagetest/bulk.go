package storagetest

import (
	"context"
	"slices"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// testBulkReader checks identity.BulkReader, for a store that has it: the
// users of many links and the members of many groups in one call, inside
// a transaction too, and nothing of another tenant.
func testBulkReader(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	if _, ok := s.(identity.BulkReader); !ok {
		t.Skip("the store has no identity.BulkReader")
	}
	a := mustUser(t, s, identity.User{Email: "a@example.com", UserName: "a"})
	b := mustUser(t, s, identity.User{Email: "b@example.com", UserName: "b"})
	mustLink(t, s, identity.Link{Source: "scim", Subject: "s-a", UserID: a.ID, Created: at(0)})
	mustLink(t, s, identity.Link{Source: "scim", Subject: "s-b", UserID: b.ID, Created: at(0)})
	mustLink(t, s, identity.Link{Source: "saml:corp", Subject: "s-c", UserID: a.ID, Created: at(0)})
	g := mustGroup(t, s, identity.Group{Name: "G", Kind: groups.Internal})
	h := mustGroup(t, s, identity.Group{Name: "H", Kind: groups.Internal})
	mustAdd(t, s, g.ID, b.ID)
	mustAdd(t, s, g.ID, a.ID)
	other := open(tenantB)
	o := mustUser(t, other, identity.User{Email: "o@example.com", UserName: "o"})
	mustLink(t, other, identity.Link{Source: "scim", Subject: "s-o", UserID: o.ID, Created: at(0)})

	check := func(what string, r identity.BulkReader, wantB string) {
		t.Helper()
		users, err := r.UsersByLinks(ctx, "scim", []string{"s-a", "s-b", "s-c", "s-o", "none"})
		if err != nil {
			t.Fatalf("%s: UsersByLinks: %v", what, err)
		}
		if len(users) != 2 || users["s-a"].ID != a.ID || users["s-b"].ID != wantB {
			t.Errorf("%s: UsersByLinks = %v; want s-a -> %s, s-b -> %s and no other", what, users, a.ID, wantB)
		}
		if got := users["s-a"]; got.Email != "a@example.com" {
			t.Errorf("%s: UsersByLinks gave the user %+v, want a's fields", what, got)
		}
		members, err := r.MemberIDs(ctx, []string{g.ID, h.ID, "no-such-group"})
		if err != nil {
			t.Fatalf("%s: MemberIDs: %v", what, err)
		}
		if want := sorted(a.ID, b.ID); !slices.Equal(members[g.ID], want) || len(members[h.ID]) != 0 || len(members["no-such-group"]) != 0 {
			t.Errorf("%s: MemberIDs = %v; want %s: %v and no other", what, members, g.ID, want)
		}
	}
	check("outside a transaction", s.(identity.BulkReader), b.ID)
	err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		r, ok := tx.(identity.BulkReader)
		if !ok {
			t.Fatal("the transaction's Store has no identity.BulkReader")
		}
		if err := tx.DeleteLink(ctx, "scim", "s-b"); err != nil {
			return err
		}
		c, err := tx.CreateUser(ctx, identity.User{Email: "c@example.com", UserName: "c"})
		if err != nil {
			return err
		}
		if err := tx.CreateLink(ctx, identity.Link{Source: "scim", Subject: "s-b", UserID: c.ID, Created: at(1)}); err != nil {
			return err
		}
		check("inside a transaction that moved a link", r, c.ID)
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("Tx: %v", err)
	}
}
