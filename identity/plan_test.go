package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

func TestResolve(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	ada, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "ada@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	bob, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "bob@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	_, err = f.dir.SignIn(ctx, entra, identity.Claims{Subject: "bob-1", Email: "bob@example.com"})
	require.NoError(t, err)
	trusted := identity.DefaultPolicy(entra)
	oauth := identity.DefaultPolicy("oauth:google")
	for _, c := range []struct {
		name     string
		source   identity.Source
		policy   identity.SourcePolicy
		subject  string
		email    string
		verified bool
		want     string
		found    identity.Found
		conflict bool
	}{
		{"link first", entra, trusted, "bob-1", "ada@example.com", false, bob.ID, identity.FoundByLink, false},
		{"email where trusted", entra, trusted, "ada-1", " ADA@example.com ", false, ada.ID, identity.FoundByEmail, false},
		{"email never", "unknown", identity.SourcePolicy{}, "ada-1", "ada@example.com", true, "", identity.FoundNone, false},
		{"oauth unverified", "oauth:google", oauth, "ada-1", "ada@example.com", false, "", identity.FoundNone, false},
		{"oauth verified", "oauth:google", oauth, "ada-1", "ada@example.com", true, ada.ID, identity.FoundByEmail, false},
		{"second subject refused", entra, trusted, "bob-2", "bob@example.com", false, "", identity.FoundNone, true},
		{"no user", entra, trusted, "cy-1", "cy@example.com", false, "", identity.FoundNone, false},
		{"no subject, by email", entra, trusted, "", "bob@example.com", false, bob.ID, identity.FoundByEmail, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, found, err := identity.Resolve(ctx, f.dir.Reader(), c.source, c.policy, c.subject, c.email, c.verified)
			if c.conflict {
				var ce *identity.ConflictError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, "link", ce.Resource)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.found, found)
			assert.Equal(t, c.want, u.ID)
		})
	}
}

func TestMayManage(t *testing.T) {
	ext := identity.Group{ID: "g1", Kind: groups.External, Source: "google"}
	in := identity.Group{ID: "g2", Kind: groups.Internal}
	for _, c := range []struct {
		source      identity.Source
		groupSource string
		g           identity.Group
		ok          bool
	}{
		{"google", "google", ext, true},
		{"google", "scim", ext, false},      // no longer the group source
		{"scim", "scim", ext, false},        // another source's group
		{"manual", "google", ext, false},    // external groups belong to the IdP
		{"manual", "google", in, true},      // internal groups are the host's
		{"import", "google", in, true},      //
		{"google", "google", in, false},     // an IdP never changes internal groups
		{"saml:entra", "google", in, false}, //
		{"oauth:google", "", in, false},     //
	} {
		err := identity.MayManage(c.source, c.groupSource, c.g)
		if c.ok {
			assert.NoError(t, err, "%s on %s (group source %q)", c.source, c.g.Kind, c.groupSource)
		} else {
			assert.ErrorIs(t, err, identity.ErrNotAllowed, "%s on %s (group source %q)", c.source, c.g.Kind, c.groupSource)
		}
	}
}

func TestDiffMembers(t *testing.T) {
	for _, c := range []struct {
		current, want, add, remove []string
	}{
		{nil, nil, nil, nil},
		{[]string{"a", "b"}, []string{"a", "b"}, nil, nil},
		{[]string{"a", "b"}, []string{"b", "c", "c", "d"}, []string{"c", "d"}, []string{"a"}},
		{[]string{"a"}, nil, nil, []string{"a"}},
		{nil, []string{"x", "x"}, []string{"x"}, nil},
	} {
		add, remove := identity.DiffMembers(c.current, c.want)
		assert.Equal(t, c.add, add, "add from %v to %v", c.current, c.want)
		assert.Equal(t, c.remove, remove, "remove from %v to %v", c.current, c.want)
	}
}

func TestLeavers(t *testing.T) {
	before := map[string]bool{"a": true, "b": true, "c": true, "d": true}
	after := map[string]bool{"a": true}
	active := func(id string) bool { return id != "c" }
	got := identity.Leavers(before, after, active, map[string]bool{"d": true})
	assert.Equal(t, []string{"b"}, got, "a stays, c is inactive, d is kept (suspended)")
}

func TestGroupNames(t *testing.T) {
	for _, c := range []struct {
		name             string
		ids, names, alts []string
		held             map[string]string
		want             []string
	}{
		{"distinct", []string{"1", "2"}, []string{"A", "B"}, []string{"a@x", "b@x"}, nil, []string{"A", "B"}},
		{"second of a name", []string{"1", "2"}, []string{"A", "a"}, []string{"a@x", "a2@x"}, nil, []string{"A", "a2@x"}},
		{"empty name", []string{"1"}, []string{""}, []string{"a@x"}, nil, []string{"a@x"}},
		{"holder listed last keeps it", []string{"new", "old"}, []string{"A", "A"}, []string{"new@x", "old@x"},
			map[string]string{groups.Key("A"): "old"}, []string{"new@x", "A"}},
		{"holder listed first keeps it", []string{"old", "new"}, []string{"A", "A"}, []string{"old@x", "new@x"},
			map[string]string{groups.Key("A"): "old"}, []string{"A", "new@x"}},
	} {
		assert.Equal(t, c.want, identity.GroupNames(c.ids, c.names, c.alts, c.held), c.name)
	}
}

func TestFuseCheck(t *testing.T) {
	plan := func(removals, memberships, deactivate, synced int, empty bool) *identity.BatchPlan {
		return &identity.BatchPlan{Removals: removals, Memberships: memberships, Deactivate: make([]identity.User, deactivate), Synced: synced, Empty: empty}
	}
	for _, c := range []struct {
		name string
		p    *identity.BatchPlan
		f    identity.Fuse
		what string // "" for no error, "empty" for ErrEmptyBatch
	}{
		{"within", plan(2, 10, 1, 10, false), identity.Fuse{MaxRemove: 0.2, MaxDeactivate: 0.1}, ""},
		{"memberships over", plan(3, 10, 0, 10, false), identity.Fuse{MaxRemove: 0.2}, "memberships"},
		{"users over", plan(0, 10, 2, 10, false), identity.Fuse{MaxRemove: 0.2, MaxDeactivate: 0.1}, "users"},
		{"off", plan(10, 10, 10, 10, false), identity.Fuse{MaxRemove: 1, MaxDeactivate: 1}, ""},
		{"zero refuses any", plan(0, 10, 1, 10, false), identity.Fuse{MaxRemove: 1}, "users"},
		{"empty refused", plan(0, 0, 0, 0, true), identity.Fuse{MaxRemove: 1, MaxDeactivate: 1}, "empty"},
		{"empty allowed", plan(0, 0, 0, 0, true), identity.Fuse{MaxRemove: 1, MaxDeactivate: 1, AllowEmpty: true}, ""},
	} {
		err := c.p.Check(c.f)
		switch c.what {
		case "":
			assert.NoError(t, err, c.name)
		case "empty":
			assert.ErrorIs(t, err, identity.ErrEmptyBatch, c.name)
		default:
			var fe *identity.FuseError
			if assert.ErrorAs(t, err, &fe, c.name) {
				assert.Equal(t, c.what, fe.What, c.name)
				assert.ErrorIs(t, err, identity.ErrFuse, c.name)
			}
		}
	}
}

// batchFixture is a tenant whose group source is "google", with a manual
// user, an internal group and a first batch applied.
func batchFixture(t *testing.T) (*fixture, identity.Batch) {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, identity.Config{GroupSource: identity.SourceGoogle})
	_, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "cy@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	_, err = f.dir.CreateGroup(ctx, identity.SourceManual, "Sales", "")
	require.NoError(t, err)
	b := identity.Batch{
		Update: true, Restore: true, DeactivateLeavers: true,
		Users: []identity.BatchUser{
			{Subject: "u1", User: identity.User{Email: "ada@example.com", GivenName: "Ada"}},
			{Subject: "u2", User: identity.User{Email: "bob@example.com"}},
			{Subject: "u3", User: identity.User{Email: "CY@example.com"}},
		},
		Groups: []identity.BatchGroup{
			{ExternalID: "g1", Name: "Eng", AltName: "eng@x", Members: []string{"u1", "u2"}},
			{ExternalID: "g2", Name: "Sales", AltName: "sales@x", Members: []string{"u3"}},
		},
	}
	plan, counts, err := f.dir.Reconcile(ctx, identity.SourceGoogle, b, identity.ReconcileOptions{Fuse: identity.Fuse{MaxRemove: 1, MaxDeactivate: 1}})
	require.NoError(t, err)
	assert.Equal(t, identity.BatchCounts{UsersCreated: 2, UsersUpdated: 1, GroupsCreated: 1, GroupsConverted: 1, MembersAdded: 3}, counts)
	assert.Equal(t, plan.Counts(), counts, "the plan's counts and the events' agree")
	return f, b
}

func TestPlanBatch(t *testing.T) {
	ctx := context.Background()
	f, b := batchFixture(t)
	plan, err := f.dir.PlanBatch(ctx, f.dir.Reader(), identity.SourceGoogle, b)
	require.NoError(t, err)
	assert.Equal(t, identity.BatchCounts{}, plan.Counts(), "the same batch again changes nothing")
	assert.Equal(t, 3, plan.Memberships)
	assert.Equal(t, 3, plan.Synced)

	// bob leaves, ada's email changes to cy's (taken: kept), Eng is renamed,
	// a new group takes the name "Sales" that g2 holds, and one who is
	// linked to another subject is refused.
	b.Groups[0].Members = []string{"u1"}
	b.Groups[0].Name = "Engineering"
	b.Users[0].User.Email = "cy@example.com"
	b.Users = append(b.Users, identity.BatchUser{Subject: "u9", User: identity.User{Email: "bob@example.com"}})
	b.Groups = append([]identity.BatchGroup{{ExternalID: "g3", Name: "Sales", AltName: "sales-new@x", Members: []string{"u1"}}}, b.Groups...)
	plan, err = f.dir.PlanBatch(ctx, f.dir.Reader(), identity.SourceGoogle, b)
	require.NoError(t, err)
	require.Len(t, plan.Users, 4)
	assert.Equal(t, identity.UserKeep, plan.Users[0].Action)
	assert.True(t, plan.Users[0].KeepEmail, "a taken email is kept out")
	assert.Equal(t, identity.UserRefuse, plan.Users[3].Action)
	var ce *identity.ConflictError
	assert.ErrorAs(t, plan.Users[3].Err, &ce, "a second subject for bob's email")
	require.Len(t, plan.Groups, 3)
	assert.Equal(t, identity.GroupCreate, plan.Groups[0].Action)
	assert.Equal(t, "sales-new@x", plan.Groups[0].Name, "the holder of a name keeps it")
	assert.Equal(t, identity.GroupRename, plan.Groups[1].Action)
	assert.Equal(t, identity.GroupKeep, plan.Groups[2].Action)
	require.Len(t, plan.Deactivate, 1)
	assert.Equal(t, "bob@example.com", plan.Deactivate[0].Email)
	assert.Equal(t, 1, plan.Removals)

	// The fuse refuses it at the default limits, and nothing changes.
	_, _, err = f.dir.Reconcile(ctx, identity.SourceGoogle, b, identity.ReconcileOptions{Fuse: identity.Fuse{MaxRemove: 0.2, MaxDeactivate: 0.2}})
	var fe *identity.FuseError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "memberships", fe.What)

	// A dry run is the plan; the real run does what it says.
	f.sink.Reset()
	opts := identity.ReconcileOptions{Fuse: identity.Fuse{MaxRemove: 1, MaxDeactivate: 1}}
	opts.DryRun = true
	_, dry, err := f.dir.Reconcile(ctx, identity.SourceGoogle, b, opts)
	require.NoError(t, err)
	assert.Empty(t, f.sink.Events(), "a dry run emits nothing")
	opts.DryRun = false
	_, real, err := f.dir.Reconcile(ctx, identity.SourceGoogle, b, opts)
	require.NoError(t, err)
	dry.UsersRefused, real.UsersRefused = 0, 0
	assert.Equal(t, dry, real)
	assert.Equal(t, identity.BatchCounts{UsersDeactivated: 1, GroupsCreated: 1, GroupsUpdated: 1, MembersAdded: 1, MembersRemoved: 1, UsersRefused: 0}, real)
}

// A batch from a source that is not the group source may not carry groups;
// a plan applied by another source is refused.
func TestBatchRefusals(t *testing.T) {
	ctx := context.Background()
	f, b := batchFixture(t)
	_, err := f.dir.PlanBatch(ctx, f.dir.Reader(), identity.SourceSCIM, b)
	assert.ErrorIs(t, err, identity.ErrNotAllowed)
	plan, err := f.dir.PlanBatch(ctx, f.dir.Reader(), identity.SourceGoogle, b)
	require.NoError(t, err)
	err = f.dir.Do(ctx, identity.SourceImport, func(ctx context.Context, tx *identity.Tx) error { return tx.ApplyBatch(ctx, plan) })
	assert.ErrorIs(t, err, identity.ErrInvalid)
	_, _, err = f.dir.Reconcile(ctx, identity.SourceGoogle, identity.Batch{}, identity.ReconcileOptions{Fuse: identity.Fuse{MaxRemove: 1, MaxDeactivate: 1}})
	assert.True(t, errors.Is(err, identity.ErrEmptyBatch), "an empty batch: %v", err)
}

func TestSource(t *testing.T) {
	for _, c := range []struct {
		s          identity.Source
		text, kind string
		name       string
	}{
		{identity.SAML("entra"), "saml:entra", "saml", "entra"},
		{identity.OAuth("google"), "oauth:google", "oauth", "google"},
		{identity.SCIM, "scim", "scim", ""},
		{identity.Google, "google", "google", ""},
		{identity.Import, "import", "import", ""},
		{identity.Manual, "manual", "manual", ""},
		{"host-sync", "host-sync", "", ""},
	} {
		assert.Equal(t, c.text, c.s.String())
		assert.Equal(t, c.kind, c.s.Kind(), c.text)
		assert.Equal(t, c.name, c.s.Name(), c.text)
	}
	// The policy follows the kind: a SAML connection of any name.
	assert.Equal(t, identity.DefaultPolicy("saml:other"), identity.DefaultPolicy(identity.SAML("entra")))
}

func TestPlanUserGroups(t *testing.T) {
	eng := identity.Group{ID: "g1", Name: "Eng", Kind: groups.Internal}
	ops := identity.Group{ID: "g2", Name: "Ops", Kind: groups.Internal}
	idp := identity.Group{ID: "g3", Name: "Staff", Kind: groups.External, Source: "google"}
	current := []identity.Group{eng, ops, idp}
	for _, c := range []struct {
		name       string
		names, ids []string
		join       []string
		leave      []identity.Group
	}{
		{"same", []string{"eng", "Ops"}, []string{"g1", "g2"}, nil, nil},
		{"join a new and an existing group, leave one", []string{"Eng", "New", "Sales"}, []string{"g1", "", "g9"},
			[]string{"New", "Sales"}, []identity.Group{ops}},
		{"none named: leave the internal ones, never the IdP's", nil, nil, nil, []identity.Group{eng, ops}},
	} {
		join, leave := identity.PlanUserGroups(identity.Import, "google", current, c.names, c.ids)
		assert.Equal(t, c.join, join, c.name)
		assert.Equal(t, c.leave, leave, c.name)
	}
}

// plainStore is a store without the optional BulkReader, as a host's first
// store may be.
type plainStore struct{ identity.Store }

func (s plainStore) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, tx identity.Store) error { return fn(ctx, plainStore{tx}) })
}

// A store without BulkReader gets the same plans, through the one-row reads.
func TestBatchWithoutBulkReader(t *testing.T) {
	ctx := context.Background()
	bulk, b := batchFixture(t)
	f := newFixture(t, identity.Config{GroupSource: identity.SourceGoogle})
	plain, err := identity.New(plainStore{memory.New().Tenant("acme")}, identity.Config{Tenant: "acme", GroupSource: identity.SourceGoogle, Clock: f.clock})
	require.NoError(t, err)
	_, err = plain.CreateUser(ctx, identity.Manual, identity.User{Email: "cy@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	_, err = plain.CreateGroup(ctx, identity.Manual, "Sales", "")
	require.NoError(t, err)
	opts := identity.ReconcileOptions{Fuse: identity.Fuse{MaxRemove: 1, MaxDeactivate: 1}}
	_, counts, err := plain.Reconcile(ctx, identity.Google, b, opts)
	require.NoError(t, err)
	assert.Equal(t, identity.BatchCounts{UsersCreated: 2, UsersUpdated: 1, GroupsCreated: 1, GroupsConverted: 1, MembersAdded: 3}, counts)
	b.Groups[0].Members = []string{"u1"}
	b.DeactivateLeavers = true
	want, err := bulk.dir.PlanBatch(ctx, bulk.dir.Reader(), identity.Google, b)
	require.NoError(t, err)
	got, err := plain.PlanBatch(ctx, plain.Reader(), identity.Google, b)
	require.NoError(t, err)
	assert.Equal(t, want.Counts(), got.Counts())
	assert.Equal(t, want.Memberships, got.Memberships)
	assert.Equal(t, want.Synced, got.Synced)
	require.Len(t, got.Deactivate, 1)
	assert.Equal(t, "bob@example.com", got.Deactivate[0].Email)
}

// The bulk writes are optional: on a store without them the core creates
// and adds one by one, all or none as the bulk paths do.
func TestBulkWritesFallBack(t *testing.T) {
	ctx := context.Background()
	dir, err := identity.New(plainStore{memory.New().Tenant("acme")}, identity.Config{Tenant: "acme"})
	require.NoError(t, err)
	taken, err := dir.CreateUser(ctx, identity.Manual, identity.User{Email: "taken@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	err = dir.Do(ctx, identity.Manual, func(ctx context.Context, tx *identity.Tx) error {
		_, err := tx.CreateUsers(ctx, []identity.NewUser{
			{User: identity.User{Email: "a@example.com"}}, {User: identity.User{Email: "b@example.com"}}, {User: identity.User{Email: "a@example.com"}},
		})
		var ie *identity.ItemError
		if !errors.As(err, &ie) || ie.Index != 2 || !errors.Is(err, identity.ErrConflict) {
			t.Errorf("CreateUsers with a conflict in the list: %v, want the conflict of user 2", err)
		}
		if _, err := tx.Reader().UserByEmail(ctx, "a@example.com"); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("a user of a refused CreateUsers is stored: %v", err)
		}
		created, err := tx.CreateUsers(ctx, []identity.NewUser{{User: identity.User{Email: "a@example.com"}}, {User: identity.User{Email: "b@example.com"}}})
		if err != nil {
			return err
		}
		g, err := tx.CreateGroup(ctx, "Staff", "")
		if err != nil {
			return err
		}
		_, err = tx.AddMembers(ctx, g.ID, []string{created[0].ID, "no-such-user"})
		if !errors.Is(err, identity.ErrNotFound) || !strings.Contains(err.Error(), "no-such-user") {
			t.Errorf("AddMembers with a missing user: %v, want ErrNotFound naming it", err)
		}
		added, err := tx.AddMembers(ctx, g.ID, []string{created[0].ID, taken.ID, created[0].ID, created[1].ID})
		if err != nil {
			return err
		}
		assert.Equal(t, []string{created[0].ID, taken.ID, created[1].ID}, added)
		page, err := tx.Reader().ListUsers(ctx, identity.UserQuery{GroupID: g.ID})
		assert.Equal(t, 3, page.Total, "members")
		return err
	})
	require.NoError(t, err)
}
