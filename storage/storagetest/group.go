package storagetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

func fullGroup() identity.Group {
	return identity.Group{
		Name:       "Engineering Team",
		Kind:       groups.External,
		Source:     "saml:corp",
		ExternalID: "grp-Ext-1",
		Created:    at(0),
		Updated:    at(1),
		Version:    5, // ignored: a new group has Version 1
	}
}

func testGroupRoundTrip(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	in := fullGroup()
	got, err := s.CreateGroup(ctx, in)
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if got.ID == "" {
		t.Fatal("CreateGroup assigned no ID")
	}
	want := in
	want.ID, want.Version = got.ID, 1
	checkGroup(t, "CreateGroup", got, want)

	lookups := []struct {
		name string
		get  func() (identity.Group, error)
	}{
		{"Group", func() (identity.Group, error) { return s.Group(ctx, want.ID) }},
		{"GroupByName(as given)", func() (identity.Group, error) { return s.GroupByName(ctx, "Engineering Team") }},
		{"GroupByName(other case, spaces)", func() (identity.Group, error) { return s.GroupByName(ctx, "  engineering TEAM ") }},
		{"GroupByExternalID", func() (identity.Group, error) { return s.GroupByExternalID(ctx, "grp-Ext-1") }},
	}
	for _, l := range lookups {
		g, err := l.get()
		if err != nil {
			t.Errorf("%s: %v", l.name, err)
			continue
		}
		checkGroup(t, l.name, g, want)
	}

	internal := identity.Group{ID: identity.NewID(), Name: "Desk Booking", Kind: groups.Internal, Source: "manual", Created: at(2), Updated: at(3)}
	got2, err := s.CreateGroup(ctx, internal)
	if err != nil {
		t.Fatalf("CreateGroup(internal): %v", err)
	}
	want2 := internal
	want2.Version = 1
	checkGroup(t, "CreateGroup(internal)", got2, want2)
	if g, err := s.Group(ctx, internal.ID); err != nil {
		t.Errorf("Group(internal): %v", err)
	} else {
		checkGroup(t, "Group(internal)", g, want2)
	}

	missing := identity.NewID()
	_, err = s.Group(ctx, missing)
	wantNotFound(t, "Group(unknown id)", err)
	_, err = s.GroupByName(ctx, "Nobody's Group")
	wantNotFound(t, "GroupByName(unknown)", err)
	_, err = s.GroupByExternalID(ctx, "grp-ext-1")
	wantNotFound(t, "GroupByExternalID(other case)", err)
	_, err = s.GroupByExternalID(ctx, "")
	wantNotFound(t, `GroupByExternalID("")`, err)
	_, err = s.UpdateGroup(ctx, missing, func(*identity.Group) error {
		t.Error("UpdateGroup called fn for an unknown id")
		return nil
	})
	wantNotFound(t, "UpdateGroup(unknown id)", err)
	wantNotFound(t, "DeleteGroup(unknown id)", s.DeleteGroup(ctx, missing))
}

func testUpdateGroup(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	g := mustGroup(t, s, fullGroup())
	got, err := s.UpdateGroup(ctx, g.ID, func(p *identity.Group) error {
		checkGroup(t, "UpdateGroup's fn argument", *p, g)
		p.Name = "Engineering"
		p.Kind = groups.Internal
		p.Source = "manual"
		p.ExternalID = ""
		p.Updated = at(9)
		// Ignored:
		p.ID = identity.NewID()
		p.Created = at(99)
		p.Version = 42
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateGroup: %v", err)
	}
	want := g
	want.Name, want.Kind, want.Source, want.ExternalID, want.Updated, want.Version = "Engineering", groups.Internal, "manual", "", at(9), 2
	checkGroup(t, "UpdateGroup", got, want)
	if stored, err := s.Group(ctx, g.ID); err != nil {
		t.Errorf("Group after UpdateGroup: %v", err)
	} else {
		checkGroup(t, "Group after UpdateGroup", stored, want)
	}
	if byName, err := s.GroupByName(ctx, "ENGINEERING"); err != nil || byName.ID != g.ID {
		t.Errorf("GroupByName(new name) = %s, %v; want %s", byName.ID, err, g.ID)
	}
	_, err = s.GroupByName(ctx, "Engineering Team")
	wantNotFound(t, "GroupByName(old name)", err)
	_, err = s.GroupByExternalID(ctx, "grp-Ext-1")
	wantNotFound(t, "GroupByExternalID(cleared)", err)

	got, err = s.UpdateGroup(ctx, g.ID, func(p *identity.Group) error {
		if p.Version != 2 {
			t.Errorf("fn saw Version %d, want 2", p.Version)
		}
		p.Source = "import"
		return nil
	})
	if err != nil || got.Version != 3 {
		t.Errorf("second UpdateGroup: Version %d, %v; want 3", got.Version, err)
	}
	want.Source, want.Version = "import", 3

	errFn := errors.New("storagetest: fn refuses")
	_, err = s.UpdateGroup(ctx, g.ID, func(p *identity.Group) error {
		p.Name = "Renamed"
		return errFn
	})
	if !errors.Is(err, errFn) {
		t.Errorf("UpdateGroup: error %v, want fn's error", err)
	}
	if stored, err := s.Group(ctx, g.ID); err != nil {
		t.Errorf("Group: %v", err)
	} else {
		checkGroup(t, "Group after UpdateGroup's fn failed", stored, want)
	}
	_, err = s.GroupByName(ctx, "Renamed")
	wantNotFound(t, "GroupByName(the name fn set before failing)", err)
}

func testGroupConflicts(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	sales := mustGroup(t, s, identity.Group{Name: "Sales", Kind: groups.External, Source: "scim", ExternalID: "g-sales"})

	_, err := s.CreateGroup(ctx, identity.Group{Name: "  SALES ", Kind: groups.Internal})
	wantConflict(t, "CreateGroup with a taken name", err, "group", "name")
	_, err = s.CreateGroup(ctx, identity.Group{ID: sales.ID, Name: "Other", Kind: groups.Internal})
	wantConflict(t, "CreateGroup with a taken ID", err, "group", "")
	wantGroups(t, s, identity.GroupQuery{}, 1, sales.ID)

	ids := []string{sales.ID}
	ids = append(ids, mustGroup(t, s, identity.Group{Name: "Other", Kind: groups.External, ExternalID: "G-SALES"}).ID)
	ids = append(ids, mustGroup(t, s, identity.Group{Name: "No external ID 1", Kind: groups.Internal}).ID)
	ids = append(ids, mustGroup(t, s, identity.Group{Name: "No external ID 2", Kind: groups.Internal}).ID)
	mkt := mustGroup(t, s, identity.Group{Name: "Marketing", Kind: groups.External, ExternalID: "g-mkt"})
	ids = append(ids, mkt.ID)
	wantGroups(t, s, identity.GroupQuery{}, 5, sorted(ids...)...)

	_, err = s.UpdateGroup(ctx, mkt.ID, func(g *identity.Group) error { g.Name = "sales "; return nil })
	wantConflict(t, "UpdateGroup to a taken name", err, "group", "name")
	if got, err := s.Group(ctx, mkt.ID); err != nil {
		t.Errorf("Group: %v", err)
	} else {
		checkGroup(t, "Group after conflicting updates", got, mkt)
	}
	if _, err := s.UpdateGroup(ctx, sales.ID, func(g *identity.Group) error { g.Name = "SALES"; return nil }); err != nil {
		t.Errorf("UpdateGroup to the group's own name in another case: %v", err)
	}
}

func testMemberships(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	u := mustUser(t, s, identity.User{Email: "u@example.com", UserName: "u"})
	v := mustUser(t, s, identity.User{Email: "v@example.com", UserName: "v"})

	// Five groups whose names sort the other way from their IDs.
	ids := sorted(identity.NewID(), identity.NewID(), identity.NewID(), identity.NewID(), identity.NewID())
	gs := make([]identity.Group, len(ids))
	for i, id := range ids {
		gs[i] = mustGroup(t, s, identity.Group{ID: id, Name: fmt.Sprintf("group %d", len(ids)-i), Kind: groups.Internal, Source: "manual"})
	}
	g := gs[0]
	for _, i := range []int{3, 0, 4, 1} {
		added, err := s.AddMember(ctx, gs[i].ID, u.ID)
		if err != nil || !added {
			t.Errorf("AddMember(%d, u) = %v, %v; want true", i, added, err)
		}
	}
	added, err := s.AddMember(ctx, g.ID, u.ID)
	if err != nil || added {
		t.Errorf("AddMember of a member = %v, %v; want false", added, err)
	}
	if added, err := s.AddMember(ctx, g.ID, v.ID); err != nil || !added {
		t.Errorf("AddMember(g, v) = %v, %v; want true", added, err)
	}
	_, err = s.AddMember(ctx, identity.NewID(), u.ID)
	wantNotFound(t, "AddMember to an unknown group", err)
	_, err = s.AddMember(ctx, g.ID, identity.NewID())
	wantNotFound(t, "AddMember of an unknown user", err)

	wantUserGroups(t, s, u.ID, gs[0].ID, gs[1].ID, gs[3].ID, gs[4].ID)
	if got, err := s.UserGroups(ctx, v.ID); err != nil || len(got) != 1 {
		t.Errorf("UserGroups(v) = %v, %v; want one group", got, err)
	} else {
		checkGroup(t, "UserGroups(v)", got[0], g)
	}
	wantUsers(t, s, identity.UserQuery{GroupID: g.ID}, 2, sorted(u.ID, v.ID)...)
	wantUsers(t, s, identity.UserQuery{GroupID: gs[2].ID}, 0)
	wantUsers(t, s, identity.UserQuery{GroupID: identity.NewID()}, 0)
	wantUserGroups(t, s, identity.NewID())

	removed, err := s.RemoveMember(ctx, g.ID, u.ID)
	if err != nil || !removed {
		t.Errorf("RemoveMember = %v, %v; want true", removed, err)
	}
	removed, err = s.RemoveMember(ctx, g.ID, u.ID)
	if err != nil || removed {
		t.Errorf("RemoveMember twice = %v, %v; want false", removed, err)
	}
	removed, err = s.RemoveMember(ctx, identity.NewID(), u.ID)
	if err != nil || removed {
		t.Errorf("RemoveMember from an unknown group = %v, %v; want false, nil", removed, err)
	}
	wantUserGroups(t, s, u.ID, gs[1].ID, gs[3].ID, gs[4].ID)
	wantUsers(t, s, identity.UserQuery{GroupID: g.ID}, 1, v.ID)

	// A membership is no change of the group.
	for _, gr := range gs {
		if got, err := s.Group(ctx, gr.ID); err != nil || got.Version != 1 {
			t.Errorf("Group after membership changes: Version %d, %v; want 1", got.Version, err)
		}
	}
}

func testDeleteGroup(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	u := mustUser(t, s, identity.User{Email: "u@example.com", UserName: "u"})
	g := mustGroup(t, s, identity.Group{Name: "Doomed", Kind: groups.External, Source: "scim", ExternalID: "g-doomed"})
	h := mustGroup(t, s, identity.Group{Name: "Stays", Kind: groups.Internal})
	mustAdd(t, s, g.ID, u.ID)
	mustAdd(t, s, h.ID, u.ID)

	if err := s.DeleteGroup(ctx, g.ID); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	_, err := s.Group(ctx, g.ID)
	wantNotFound(t, "Group after DeleteGroup", err)
	_, err = s.GroupByName(ctx, "doomed")
	wantNotFound(t, "GroupByName after DeleteGroup", err)
	_, err = s.GroupByExternalID(ctx, "g-doomed")
	wantNotFound(t, "GroupByExternalID after DeleteGroup", err)
	wantUserGroups(t, s, u.ID, h.ID)
	wantUsers(t, s, identity.UserQuery{GroupID: g.ID}, 0)
	wantGroups(t, s, identity.GroupQuery{}, 1, h.ID)
	_, err = s.AddMember(ctx, g.ID, u.ID)
	wantNotFound(t, "AddMember to a deleted group", err)
	wantNotFound(t, "DeleteGroup twice", s.DeleteGroup(ctx, g.ID))
	if got, err := s.User(ctx, u.ID); err != nil {
		t.Errorf("User after DeleteGroup: %v", err)
	} else {
		checkUser(t, "User after DeleteGroup", got, u)
	}

	again := mustGroup(t, s, identity.Group{Name: "DOOMED", Kind: groups.External, Source: "scim", ExternalID: "g-doomed"})
	wantUsers(t, s, identity.UserQuery{GroupID: again.ID}, 0)
	wantUserGroups(t, s, u.ID, h.ID)
}
