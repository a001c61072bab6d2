package googlesync

import (
	"context"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/storage/memory"
)

// A suspended user is still a member in Google: with Suspended Ignore and
// DeactivateLeavers, their account is left alone, not deactivated as a
// leaver.
func TestSyncSuspendedIgnoredIsNoLeaver(t *testing.T) {
	ctx := context.Background()
	api := fixture()
	e := newEnv(t, api, Config{Nested: true, Suspended: Ignore, DeactivateLeavers: true, MaxRemove: 1})
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	api.setMembers("g4", "s:u7", "u:u8")
	rep, err := e.syncer.Sync(ctx, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	gus, _ := e.dir.Reader().UserByLink(ctx, "google", "u7")
	if !gus.Active || rep.UsersDeactivated != 0 {
		t.Fatalf("Ignore + DeactivateLeavers deactivated the suspended gus: %+v, report %+v", gus, rep)
	}
	// A real leaver is still deactivated.
	api.setMembers("g4", "s:u7")
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	hal, _ := e.dir.Reader().UserByLink(ctx, "google", "u8")
	if hal.Active {
		t.Fatal("the leaver hal was not deactivated")
	}
}

// The core's policy for the source "google" decides whether its emails are
// verified and whether an email finds an unlinked user.
func TestSyncFollowsEmailPolicy(t *testing.T) {
	ctx := context.Background()
	newDir := func(t *testing.T, e *env, p identity.SourcePolicy) *identity.Directory {
		dir, err := identity.New(memory.New().Tenant("acme"), identity.Config{
			Tenant: "acme", GroupSource: identity.SourceGoogle, Clock: identitytest.NewClock(),
			Sources: map[string]identity.SourcePolicy{identity.SourceGoogle: p},
		})
		if err != nil {
			t.Fatal(err)
		}
		e.dir = dir
		e.syncer = e.newSyncer(t, Config{Nested: true})
		return dir
	}
	t.Run("not verified", func(t *testing.T) {
		e := newEnv(t, fixture(), Config{})
		dir := newDir(t, e, identity.SourcePolicy{Create: true, Email: identity.EmailTrusted, Restore: true})
		if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
			t.Fatal(err)
		}
		ann, err := dir.Reader().UserByLink(ctx, "google", "u1")
		if err != nil {
			t.Fatal(err)
		}
		if ann.EmailVerified {
			t.Fatal("email verified though the policy does not verify Google's emails")
		}
	})
	t.Run("email never", func(t *testing.T) {
		e := newEnv(t, fixture(), Config{})
		dir := newDir(t, e, identity.SourcePolicy{Create: true, Email: identity.EmailNever, Restore: true})
		if _, err := dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "bob@example.com"}, identity.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		rep, err := e.syncer.Sync(ctx, e.dir)
		if err != nil {
			t.Fatalf("sync failed on a user the policy does not let Google claim: %v", err)
		}
		if rep.Skipped.Conflicts != 1 {
			t.Fatalf("report %+v", rep)
		}
		if _, err := dir.Reader().UserByLink(ctx, "google", "u2"); err == nil {
			t.Fatal("Google claimed the manual user by email though its policy is EmailNever")
		}
	})
}

// Renames among the directory's Google groups apply in any order Google
// lists them: a chain (All becomes "All Old" while Sales, listed first,
// takes the name "All") and a swap of two names.
func TestSyncRenameChainAndSwap(t *testing.T) {
	ctx := context.Background()
	api := fixture()
	e := newEnv(t, api, Config{Nested: true})
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	rename := func(names map[string]string) {
		api.mu.Lock()
		defer api.mu.Unlock()
		for i, g := range api.groups {
			if n, ok := names[g.ID]; ok {
				api.groups[i].Name = n
			}
		}
	}
	check := func(want map[string]string) {
		t.Helper()
		for gid, name := range want {
			g, err := e.dir.Reader().GroupByExternalID(ctx, gid)
			if err != nil || g.Name != name {
				t.Fatalf("group %s: %+v, %v; want the name %q", gid, g, err, name)
			}
		}
	}
	// g4 (Sales) is listed before g5 (All): Sales takes All's name while
	// All becomes "All Old".
	rename(map[string]string{"g4": "All", "g5": "All Old"})
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatalf("chained rename: %v", err)
	}
	check(map[string]string{"g4": "All", "g5": "All Old"})
	// Engineering and Backend swap names.
	rename(map[string]string{"g1": "Backend", "g2": "Engineering"})
	rep, err := e.syncer.Sync(ctx, e.dir)
	if err != nil {
		t.Fatalf("swap: %v", err)
	}
	check(map[string]string{"g1": "Backend", "g2": "Engineering"})
	if rep.GroupsUpdated != 2 || rep.MembersAdded+rep.MembersRemoved != 0 {
		t.Fatalf("swap report %+v", rep)
	}
}

// A group deleted in Google stays in the directory, emptied. When another
// Google group is renamed to its name, the leftover gives the name up
// instead of failing every sync after.
func TestSyncRenameOntoRemovedGroup(t *testing.T) {
	ctx := context.Background()
	api := fixture()
	e := newEnv(t, api, Config{Nested: true})
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	api.removeGroup("g5") // All: deleted in Google
	rep, err := e.syncer.Sync(ctx, e.dir)
	if err != nil || rep.GroupsEmptied != 1 {
		t.Fatalf("after the delete: %+v, %v", rep, err)
	}
	api.renameGroup("g4", "All") // Sales takes the name All
	for range 2 {                // and the next sync finds nothing to do
		if rep, err = e.syncer.Sync(ctx, e.dir); err != nil {
			t.Fatalf("rename onto the removed group's name: %v", err)
		}
	}
	if rep.GroupsUpdated != 0 {
		t.Errorf("second sync after the rename: %+v", rep)
	}
	sales, err := e.dir.Reader().GroupByExternalID(ctx, "g4")
	if err != nil || sales.Name != "All" {
		t.Fatalf("g4: %+v, %v", sales, err)
	}
	old, err := e.dir.Reader().GroupByExternalID(ctx, "g5")
	if err != nil || old.Name != "All (removed from Google)" {
		t.Fatalf("the removed group: %+v, %v", old, err)
	}
}

// Converting an internal group of Google's name removes its members that
// Google does not list, but they are no leavers: they never were in a
// Google group.
func TestSyncConvertedGroupMakesNoLeavers(t *testing.T) {
	ctx := context.Background()
	api := fixture()
	e := newEnv(t, api, Config{Nested: true, DeactivateLeavers: true})
	zed, err := e.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "zed@example.com"}, identity.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sales, err := e.dir.CreateGroup(ctx, identity.SourceManual, "Sales", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.AddMember(ctx, identity.SourceManual, sales.ID, zed.ID); err != nil {
		t.Fatal(err)
	}
	// The fuse would stop a sync that ends every membership it found:
	// force it, so that only the leaver rule stands between zed and
	// deactivation.
	rep, err := e.syncer.Sync(ctx, e.dir, WithForce())
	if err != nil {
		t.Fatal(err)
	}
	if rep.GroupsConverted != 1 || rep.UsersDeactivated != 0 {
		t.Fatalf("report %+v", rep)
	}
	got, err := e.dir.Reader().User(ctx, zed.ID)
	if err != nil || !got.Active {
		t.Fatalf("zed: %+v, %v; want active", got, err)
	}
	gs, err := e.dir.Reader().UserGroups(ctx, zed.ID)
	if err != nil || len(gs) != 0 {
		t.Fatalf("zed's groups: %v, %v; want none (Sales is Google's now)", gs, err)
	}
}

// The name a removed group would take is one a Google group takes in the
// same sync: the removed group takes one made of its ID instead.
func TestSyncFreedNameTakenInSameSync(t *testing.T) {
	ctx := context.Background()
	api := fixture()
	e := newEnv(t, api, Config{Nested: true})
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	api.removeGroup("g5")
	api.renameGroup("g4", "All")
	api.addGroup("g6", "all-old@example.com", "All (removed from Google)", "u:u1")
	for range 2 {
		if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}
	old, err := e.dir.Reader().GroupByExternalID(ctx, "g5")
	if err != nil || old.Name != "googlesync-removed-"+old.ID {
		t.Fatalf("the removed group: %+v, %v", old, err)
	}
	if g6, err := e.dir.Reader().GroupByExternalID(ctx, "g6"); err != nil || g6.Name != "All (removed from Google)" {
		t.Fatalf("g6: %+v, %v", g6, err)
	}
}

// renameGroup gives a group of the fake a new name.
func (f *fakeAPI) renameGroup(id, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, g := range f.groups {
		if g.ID == id {
			f.groups[i].Name = name
		}
	}
}

// The group that already holds a name keeps it, whatever the order Google
// lists the groups in: a new group of the same name listed first takes its
// email, and the old group is not renamed.
func TestSyncHolderKeepsItsName(t *testing.T) {
	ctx := context.Background()
	api := fixture()
	e := newEnv(t, api, Config{Nested: true})
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	eng, err := e.dir.Reader().GroupByExternalID(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	api.mu.Lock()
	api.groups = append([]fakeGroup{{ID: "g0", Email: "eng-new@example.com", Name: "Engineering"}}, api.groups...)
	api.members["g0"] = nil
	api.setMembersLocked("g0", "u:u7")
	api.mu.Unlock()
	rep, err := e.syncer.Sync(ctx, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.dir.Reader().GroupByExternalID(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != eng.ID || got.Name != "Engineering" {
		t.Errorf("the group holding the name: %+v, want %s named Engineering", got, eng.ID)
	}
	fresh, err := e.dir.Reader().GroupByExternalID(ctx, "g0")
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Name != "eng-new@example.com" {
		t.Errorf("the new group of a held name is named %q, want its email", fresh.Name)
	}
	if rep.GroupsUpdated != 0 || rep.GroupsCreated != 1 {
		t.Errorf("report: %d groups updated, %d created; want 0 and 1", rep.GroupsUpdated, rep.GroupsCreated)
	}
}
