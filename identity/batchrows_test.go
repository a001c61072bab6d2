package identity_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/identity"
)

// rowsFixture is a tenant as a file import finds it: users with and without
// email, a deactivated one, internal groups and a SCIM group.
func rowsFixture(t *testing.T, cfg identity.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	cfg.GroupSource = string(identity.SourceSCIM)
	f := newFixture(t, cfg)
	mk := func(u identity.User, active bool) identity.User {
		got, err := f.dir.CreateUser(ctx, identity.SourceManual, u, identity.CreateOptions{Inactive: !active})
		require.NoError(t, err)
		return got
	}
	ada := mk(identity.User{Email: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace", DisplayName: "Ada L."}, true)
	mk(identity.User{Email: "bob@example.com"}, false)
	mk(identity.User{Email: "cy@example.com"}, true)
	mk(identity.User{Email: "other@example.com", UserName: "taken@example.com"}, true)
	mk(identity.User{UserName: "no-email"}, true)
	eng, err := f.dir.CreateGroup(ctx, identity.SourceManual, "Eng", "")
	require.NoError(t, err)
	_, err = f.dir.CreateGroup(ctx, identity.SourceManual, "Sales", "")
	require.NoError(t, err)
	_, err = f.dir.CreateGroup(ctx, identity.SourceSCIM, "Staff", "")
	require.NoError(t, err)
	_, err = f.dir.AddMember(ctx, identity.SourceManual, eng.ID, ada.ID)
	require.NoError(t, err)
	f.sink.Reset()
	return f
}

// TestBatchWithoutSubjects pins what a batch of users without subjects
// (a file's rows) plans, row by row.
func TestBatchWithoutSubjects(t *testing.T) {
	ctx := context.Background()
	row := func(email string) identity.BatchUser { return identity.BatchUser{User: identity.User{Email: email}} }
	cases := []struct {
		name   string
		cfg    identity.Config
		batch  identity.Batch
		user   identity.BatchUser
		action identity.UserAction
		check  func(t *testing.T, st identity.UserStep)
	}{
		{name: "found by email, not linked", user: row("ADA@example.com"), action: identity.UserKeep,
			check: func(t *testing.T, st identity.UserStep) { assert.False(t, st.Link) }},
		{name: "KeepEmails keeps the stored email", batch: identity.Batch{Update: true, KeepEmails: true},
			user: row("ADA@example.com"), action: identity.UserKeep},
		{name: "without KeepEmails the email's case changes", batch: identity.Batch{Update: true},
			user: row("ADA@example.com"), action: identity.UserUpdate},
		{name: "Clear clears an empty name", batch: identity.Batch{Update: true, KeepEmails: true},
			user: identity.BatchUser{User: identity.User{Email: "ada@example.com", GivenName: "Ada"}, Clear: []string{"familyName"}}, action: identity.UserUpdate,
			check: func(t *testing.T, st identity.UserStep) {
				assert.Equal(t, "", st.Want.FamilyName)
				assert.Equal(t, "Ada L.", st.Want.DisplayName, "a field not in Clear stays")
			}},
		{name: "an empty attribute removes it", batch: identity.Batch{Update: true},
			user: identity.BatchUser{User: identity.User{Email: "new@example.com", Attributes: map[string]string{"department": "", "phone": "1"}}}, action: identity.UserCreate,
			check: func(t *testing.T, st identity.UserStep) {
				assert.Equal(t, map[string]string{"phone": "1"}, st.Want.Attributes)
			}},
		{name: "Inactive with Update deactivates", batch: identity.Batch{Update: true},
			user: identity.BatchUser{User: identity.User{Email: "cy@example.com"}, Inactive: true}, action: identity.UserUpdate,
			check: func(t *testing.T, st identity.UserStep) { assert.False(t, st.Want.Active) }},
		{name: "Inactive without Update stays", user: identity.BatchUser{User: identity.User{Email: "cy@example.com"}, Inactive: true}, action: identity.UserKeep},
		{name: "Restore", batch: identity.Batch{Restore: true}, user: row("bob@example.com"), action: identity.UserUpdate,
			check: func(t *testing.T, st identity.UserStep) { assert.True(t, st.Restore) }},
		{name: "Restore, listed Inactive", batch: identity.Batch{Restore: true}, user: identity.BatchUser{User: identity.User{Email: "bob@example.com"}, Inactive: true}, action: identity.UserKeep},
		{name: "Restore the policy forbids", batch: identity.Batch{Restore: true}, user: row("bob@example.com"), action: identity.UserRefuse,
			cfg:   identity.Config{Sources: map[string]identity.SourcePolicy{"import": {Create: true, Email: identity.EmailTrusted}}},
			check: func(t *testing.T, st identity.UserStep) { wantPolicy(t, st.Err, identity.ActionRestore) }},
		{name: "create the policy forbids", user: row("new@example.com"), action: identity.UserRefuse,
			cfg:   identity.Config{Sources: map[string]identity.SourcePolicy{"import": {Email: identity.EmailTrusted}}},
			check: func(t *testing.T, st identity.UserStep) { wantPolicy(t, st.Err, identity.ActionCreate) }},
		{name: "the email is another user's userName", user: row("taken@example.com"), action: identity.UserRefuse,
			check: func(t *testing.T, st identity.UserStep) {
				var ce *identity.ConflictError
				require.ErrorAs(t, st.Err, &ce)
				assert.Equal(t, "userName", ce.Field)
			}},
		{name: "Err refuses first", user: identity.BatchUser{User: identity.User{Email: "ada@example.com"}, Err: errors.New("bad row")}, action: identity.UserRefuse,
			check: func(t *testing.T, st identity.UserStep) { assert.EqualError(t, st.Err, "bad row") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := rowsFixture(t, tc.cfg)
			b := tc.batch
			b.Users = []identity.BatchUser{row("first@example.com"), tc.user}
			plan, err := f.dir.PlanBatch(ctx, f.dir.Reader(), identity.SourceImport, b)
			require.NoError(t, err)
			require.Len(t, plan.Users, 2)
			st := plan.Users[1]
			assert.Equal(t, 1, st.Index)
			assert.Equal(t, tc.action, st.Action, "%v", st.Err)
			if tc.check != nil {
				tc.check(t, st)
			}
		})
	}
}

func wantPolicy(t *testing.T, err error, action string) {
	t.Helper()
	var pe *identity.PolicyError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, action, pe.Action)
	assert.ErrorIs(t, err, identity.ErrNotAllowed)
}

// TestBatchUserGroups: SetGroups joins and leaves internal groups, creates
// the missing ones that get members, and refuses a user naming a group of
// another source; the dry run's counts are the real run's.
func TestBatchUserGroups(t *testing.T) {
	ctx := context.Background()
	f := rowsFixture(t, identity.Config{})
	b := identity.Batch{Update: true, Users: []identity.BatchUser{
		{User: identity.User{Email: "ada@example.com"}, SetGroups: true, Groups: []string{"sales", "New"}},
		{User: identity.User{Email: "new@example.com"}, SetGroups: true, Groups: []string{"New", "Eng"}},
		{User: identity.User{Email: "x@example.com"}, SetGroups: true, Groups: []string{"Staff", "Unused"}},
		{User: identity.User{Email: "cy@example.com"}, Groups: []string{"Eng"}},
	}}
	plan, err := f.dir.PlanBatch(ctx, f.dir.Reader(), identity.SourceImport, b)
	require.NoError(t, err)
	ada, created, x, cy := plan.Users[0], plan.Users[1], plan.Users[2], plan.Users[3]
	assert.Equal(t, []string{"sales", "New"}, ada.Join)
	require.Len(t, ada.Leave, 1)
	assert.Equal(t, "Eng", ada.Leave[0].Name)
	assert.True(t, ada.Changes())
	assert.Equal(t, []string{"New", "Eng"}, created.Join)
	assert.Equal(t, identity.UserRefuse, x.Action)
	wantPolicy(t, x.Err, identity.ActionManageGroup)
	assert.Empty(t, cy.Join, "without SetGroups the groups stay")
	var named []string
	for _, g := range plan.Named {
		named = append(named, g.Name)
	}
	assert.Equal(t, []string{"Sales", "New", "Eng"}, named, "a group keeps its name; Unused gets no member, so it is not created")
	assert.Equal(t, identity.GroupCreate, plan.Named[1].Action)

	opts := identity.ReconcileOptions{Fuse: identity.Fuse{MaxDeactivate: 1, MaxRemove: 1}, DryRun: true}
	_, dry, err := f.dir.Reconcile(ctx, identity.SourceImport, b, opts)
	require.NoError(t, err)
	opts.DryRun = false
	_, real, err := f.dir.Reconcile(ctx, identity.SourceImport, b, opts)
	require.NoError(t, err)
	assert.Equal(t, dry, real)
	assert.Equal(t, identity.BatchCounts{UsersCreated: 1, UsersRefused: 1, GroupsCreated: 1, MembersAdded: 4, MembersRemoved: 1}, real)
	assert.Equal(t, []string{"New(internal)", "Sales(internal)"}, f.groupNames(t, f.user(t, "ada@example.com").ID))
	assert.Equal(t, []string{"Eng(internal)", "New(internal)"}, f.groupNames(t, f.user(t, "new@example.com").ID))
}

// TestBatchMissing: DeactivateMissing hits the active users with an email
// the batch does not name; a refused row names its user, a userName names
// its user where no user has it as email, Protect keeps a user, and the
// fuse counts every active user.
func TestBatchMissing(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		users   []string
		protect string
		missing []string
	}{
		{name: "all listed", users: []string{"ada@example.com", "cy@example.com", "other@example.com"}},
		{name: "none listed", missing: []string{"ada@example.com", "cy@example.com", "other@example.com"}},
		{name: "by userName", users: []string{"taken@example.com"}, missing: []string{"ada@example.com", "cy@example.com"}},
		{name: "protected", users: []string{"ada@example.com"}, protect: "cy@example.com", missing: []string{"other@example.com"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := rowsFixture(t, identity.Config{})
			b := identity.Batch{DeactivateMissing: true, Protect: func(_ context.Context, _ identity.Reader, u identity.User) bool { return u.Email == tc.protect }}
			for i, email := range tc.users {
				bu := identity.BatchUser{User: identity.User{Email: email}}
				if i == 0 {
					bu.Err = errors.New("bad row") // a refused row still names its user
				}
				b.Users = append(b.Users, bu)
			}
			plan, err := f.dir.PlanBatch(ctx, f.dir.Reader(), identity.SourceImport, b)
			require.NoError(t, err)
			var got []string
			for _, u := range plan.Deactivate {
				got = append(got, u.Email)
			}
			assert.ElementsMatch(t, tc.missing, got, "the user without email is never missing")
			assert.Equal(t, 4, plan.Synced, "every active user")
			err = plan.Check(identity.Fuse{MaxDeactivate: 0.5, MaxRemove: 1, AllowEmpty: true})
			if len(tc.missing) > 2 {
				var fe *identity.FuseError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, identity.FuseError{What: "users", Remove: 3, Of: 4, Limit: 0.5}, *fe)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

// TestApplySkipRefused: a plan made before another write conflicts with
// it; with SkipRefused the user is refused and the batch goes on, without
// it the transaction fails and nothing is written.
func TestApplySkipRefused(t *testing.T) {
	ctx := context.Background()
	for _, skip := range []bool{true, false} {
		f := rowsFixture(t, identity.Config{})
		b := identity.Batch{SkipRefused: skip, Users: []identity.BatchUser{
			{User: identity.User{Email: "late@example.com"}, SetGroups: true, Groups: []string{"Eng"}},
			{User: identity.User{Email: "fine@example.com"}, SetGroups: true, Groups: []string{"Eng"}},
		}}
		plan, err := f.dir.PlanBatch(ctx, f.dir.Reader(), identity.SourceImport, b)
		require.NoError(t, err)
		_, err = f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "late@example.com"}, identity.CreateOptions{})
		require.NoError(t, err)
		var counts identity.BatchCounts
		err = f.dir.Do(ctx, identity.SourceImport, func(ctx context.Context, tx *identity.Tx) error {
			if err := tx.ApplyBatch(ctx, plan); err != nil {
				return err
			}
			counts = identity.CountEvents(tx.Events(), plan)
			return nil
		})
		if !skip {
			assert.ErrorIs(t, err, identity.ErrConflict)
			_, err = f.store.UserByEmail(ctx, "fine@example.com")
			assert.ErrorIs(t, err, identity.ErrNotFound)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, identity.UserRefuse, plan.Users[0].Action)
		assert.ErrorIs(t, plan.Users[0].Err, identity.ErrConflict)
		assert.Equal(t, identity.BatchCounts{UsersCreated: 1, UsersRefused: 1, MembersAdded: 1}, counts)
		assert.Equal(t, []string{"Eng(internal)"}, f.groupNames(t, f.user(t, "fine@example.com").ID))
	}
}

// TestPlanLeavesBatchAlone: the plan shares the attribute maps of the
// listed users where it can, and so must never change them: not when it
// drops an empty value or trims one, not when it merges them into a found
// user (found through the index of every user), not when the plan is
// applied.
func TestPlanLeavesBatchAlone(t *testing.T) {
	ctx := context.Background()
	f := rowsFixture(t, identity.Config{})
	_, err := f.dir.UpdateUser(ctx, identity.SourceManual, f.user(t, "ada@example.com").ID, 0, func(u *identity.User) error {
		u.Attributes = map[string]string{"department": "Ops", "zip": "01234"}
		return nil
	})
	require.NoError(t, err)
	users := []identity.BatchUser{
		{User: identity.User{Email: "new@example.com", Attributes: map[string]string{"department": " Sales ", "phone": ""}}},
		{User: identity.User{Email: "ada@example.com", Attributes: map[string]string{"department": "HR", "zip": ""}}},
		{User: identity.User{Email: "cy@example.com", Attributes: map[string]string{"department": "Ops"}}},
	}
	want := make([]map[string]string, len(users))
	for i, bu := range users {
		want[i] = maps.Clone(bu.User.Attributes)
	}
	b := identity.Batch{Users: users, Update: true, KeepEmails: true, DeactivateMissing: true}
	opts := identity.ReconcileOptions{Fuse: identity.Fuse{MaxDeactivate: 1, MaxRemove: 1}}
	for _, dry := range []bool{true, false} {
		opts.DryRun = dry
		plan, _, err := f.dir.Reconcile(ctx, identity.SourceImport, b, opts)
		require.NoError(t, err)
		require.Len(t, plan.Users, 3)
		assert.Equal(t, map[string]string{"department": "Sales"}, plan.Users[0].Want.Attributes, "dry run %v", dry)
		if dry {
			assert.Equal(t, map[string]string{"department": "HR"}, plan.Users[1].Want.Attributes)
			assert.Equal(t, map[string]string{"department": "Ops", "zip": "01234"}, plan.Users[1].Current.Attributes)
		}
		for i := range users {
			assert.Equal(t, want[i], users[i].User.Attributes, "dry run %v: listed user %d", dry, i)
		}
	}
	assert.Equal(t, map[string]string{"department": "Sales"}, f.user(t, "new@example.com").Attributes)
	assert.Equal(t, map[string]string{"department": "HR"}, f.user(t, "ada@example.com").Attributes)
	assert.Equal(t, map[string]string{"department": "Ops"}, f.user(t, "cy@example.com").Attributes)
}
