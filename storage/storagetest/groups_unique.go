package storagetest

import (
	"context"
	"slices"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// testGroupExternalIDNotUnique checks that groups may share an externalID
// (RFC 7643 §3.1), as users may: creating a second group with a stored
// externalID, or changing a group's to one, is no conflict; that
// GroupsByExternalID finds all of them in ID order, compared exactly, in
// and out of a transaction; that GroupByExternalID finds the one with the
// smallest ID; and that a group that changes or deletes its externalID
// leaves the others found.
func testGroupExternalIDNotUnique(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	a := mustGroup(t, s, identity.Group{Name: "Entra A", Kind: groups.External, Source: "scim", ExternalID: "dup"})
	b, err := s.CreateGroup(ctx, identity.Group{Name: "Entra B", Kind: groups.External, Source: "scim", ExternalID: "dup"})
	if err != nil {
		t.Fatalf("CreateGroup with a stored externalID: %v, want no conflict", err)
	}
	mustGroup(t, s, identity.Group{Name: "Other case", Kind: groups.External, Source: "scim", ExternalID: "DUP"})
	c := mustGroup(t, s, identity.Group{Name: "Was other", Kind: groups.Internal, ExternalID: "other"})
	if _, err := s.UpdateGroup(ctx, c.ID, func(g *identity.Group) error { g.ExternalID = "dup"; return nil }); err != nil {
		t.Fatalf("UpdateGroup to a shared externalID: %v, want no conflict", err)
	}
	// Another tenant's group of the externalID is not found.
	mustGroup(t, open(tenantB), identity.Group{Name: "Entra A", Kind: groups.External, Source: "scim", ExternalID: "dup"})

	want := sorted(a.ID, b.ID, c.ID)
	wantGroupsByExt(t, s, "dup", want...)
	if g, err := s.GroupByExternalID(ctx, "dup"); err != nil || g.ID != want[0] {
		t.Errorf("GroupByExternalID(dup) = %s, %v; want the smallest ID %s", g.ID, err, want[0])
	}
	for _, ext := range []string{"", "Dup", "nobody"} {
		if got, err := s.GroupsByExternalID(ctx, ext); err != nil || len(got) != 0 {
			t.Errorf("GroupsByExternalID(%q) = %v, %v; want none", ext, groupIDs(got), err)
		}
	}
	err = s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		got, err := tx.GroupsByExternalID(ctx, "dup")
		if err != nil || !slices.Equal(groupIDs(got), want) {
			t.Errorf("GroupsByExternalID in a transaction = %v, %v; want %v", groupIDs(got), err, want)
		}
		if g, err := tx.GroupByExternalID(ctx, "dup"); err != nil || g.ID != want[0] {
			t.Errorf("GroupByExternalID in a transaction = %s, %v; want %s", g.ID, err, want[0])
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}

	// The holders leave one by one; the others stay found.
	if _, err := s.UpdateGroup(ctx, want[0], func(g *identity.Group) error { g.ExternalID = "moved"; return nil }); err != nil {
		t.Fatalf("UpdateGroup away from a shared externalID: %v", err)
	}
	wantGroupsByExt(t, s, "dup", want[1:]...)
	wantGroupsByExt(t, s, "moved", want[0])
	if err := s.DeleteGroup(ctx, want[1]); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	wantGroupsByExt(t, s, "dup", want[2])
	if g, err := s.GroupByExternalID(ctx, "dup"); err != nil || g.ID != want[2] {
		t.Errorf("GroupByExternalID(dup) after the others left = %s, %v; want %s", g.ID, err, want[2])
	}
}

// wantGroupsByExt fails the test unless GroupsByExternalID(ext) returns the
// groups with ids, in that order.
func wantGroupsByExt(t *testing.T, s identity.Store, ext string, ids ...string) {
	t.Helper()
	got, err := s.GroupsByExternalID(t.Context(), ext)
	if err != nil {
		t.Errorf("GroupsByExternalID(%q): %v", ext, err)
		return
	}
	if !slices.Equal(groupIDs(got), ids) {
		t.Errorf("GroupsByExternalID(%q) = %v, want %v", ext, groupIDs(got), ids)
	}
	for _, g := range got {
		if g.ExternalID != ext {
			t.Errorf("GroupsByExternalID(%q) returned group %s with externalID %q", ext, g.ID, g.ExternalID)
		}
	}
}
