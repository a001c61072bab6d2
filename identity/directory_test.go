package identity_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/storage/memory"
)

const entra = "saml:entra"

type fixture struct {
	dir   *identity.Directory
	store identity.Store
	clock *identitytest.Clock
	sink  *identitytest.Sink
}

func newFixture(t *testing.T, cfg identity.Config) *fixture {
	t.Helper()
	f := &fixture{store: memory.New().Tenant("acme"), clock: identitytest.NewClock(), sink: &identitytest.Sink{}}
	cfg.Tenant, cfg.Clock, cfg.Events = "acme", f.clock, f.sink
	dir, err := identity.New(f.store, cfg)
	require.NoError(t, err)
	f.dir = dir
	return f
}

func (f *fixture) user(t *testing.T, email string) identity.User {
	t.Helper()
	u, err := f.store.UserByEmail(context.Background(), email)
	require.NoError(t, err)
	return u
}

func (f *fixture) groupNames(t *testing.T, userID string) []string {
	t.Helper()
	gs, err := f.store.UserGroups(context.Background(), userID)
	require.NoError(t, err)
	var names []string
	for _, g := range gs {
		names = append(names, fmt.Sprintf("%s(%s)", g.Name, g.Kind))
	}
	slices.Sort(names)
	return names
}

func TestNewValidatesConfig(t *testing.T) {
	_, err := identity.New(memory.New().Tenant("t"), identity.Config{GroupSource: "oauth:"})
	require.ErrorContains(t, err, "GroupSource")
	_, err = identity.New(memory.New().Tenant("t"), identity.Config{GroupSource: "oauth:google"})
	require.NoError(t, err, "an OAuth provider may be the group source")
	_, err = identity.New(nil, identity.Config{})
	require.Error(t, err)
	_, err = identity.New(memory.New().Tenant("t"), identity.Config{GroupLimit: -1})
	require.Error(t, err)
}

func TestSignInCreatesJustInTime(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	res, err := f.dir.SignIn(ctx, entra, identity.Claims{
		Subject: "nameid-1", Email: " Alice@Example.com ", GivenName: "Alice", FamilyName: "Liddell",
		Attributes: map[string]string{identity.AttrDepartment: "R&D"},
	})
	require.NoError(t, err)
	assert.True(t, res.Created)
	assert.False(t, res.Linked)
	u := res.User
	assert.Equal(t, "Alice@Example.com", u.Email, "the address as given is kept for display")
	assert.Equal(t, "Alice@Example.com", u.UserName, "userName defaults to the email")
	assert.True(t, u.EmailVerified, "a configured SAML IdP is trusted for email")
	assert.True(t, u.Active)
	assert.Equal(t, "R&D", u.Attributes[identity.AttrDepartment])
	assert.Equal(t, identitytest.Epoch, u.Created)
	assert.Equal(t, []identity.EventType{identity.UserCreated}, f.sink.Types())

	byLink, err := f.store.UserByLink(ctx, entra, "nameid-1")
	require.NoError(t, err)
	assert.Equal(t, u.ID, byLink.ID)

	// The second sign-in finds the user by link and refreshes the profile.
	f.sink.Reset()
	f.clock.Advance(time.Hour)
	res, err = f.dir.SignIn(ctx, entra, identity.Claims{Subject: "nameid-1", Email: "alice@example.com", GivenName: "Alicia", FamilyName: "Liddell"})
	require.NoError(t, err)
	assert.False(t, res.Created)
	assert.Equal(t, u.ID, res.User.ID)
	assert.Equal(t, "Alicia", res.User.GivenName)
	assert.Equal(t, "R&D", res.User.Attributes[identity.AttrDepartment], "attributes not in the claims stay")
	assert.Equal(t, identitytest.Epoch.Add(time.Hour), res.User.Updated)
	events := f.sink.Events()
	require.Len(t, events, 1)
	assert.Equal(t, identity.UserUpdated, events[0].Type)
	assert.Equal(t, []string{"givenName"}, events[0].Fields, "the address as given first is kept when only its case differs")
	assert.Equal(t, "Alice@Example.com", res.User.Email)
	assert.Equal(t, entra, events[0].Source)
	assert.Equal(t, "acme", events[0].Tenant)

	// A third sign-in with the same claims changes nothing and writes nothing.
	f.sink.Reset()
	again, err := f.dir.SignIn(ctx, entra, identity.Claims{Subject: "nameid-1", Email: "alice@example.com", GivenName: "Alicia", FamilyName: "Liddell"})
	require.NoError(t, err)
	assert.Equal(t, res.User.Version, again.User.Version)
	assert.Empty(t, f.sink.Events())
}

func TestSignInLinksByEmailOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	manual, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "bob@example.com", GivenName: "Bob"}, identity.CreateOptions{})
	require.NoError(t, err)
	assert.False(t, manual.EmailVerified, "a manually created user's email stays unverified")

	res, err := f.dir.SignIn(ctx, entra, identity.Claims{Subject: "bob-persistent", Email: "BOB@example.com"})
	require.NoError(t, err)
	assert.True(t, res.Linked)
	assert.False(t, res.Created)
	assert.Equal(t, manual.ID, res.User.ID)
	assert.True(t, res.User.EmailVerified, "the IdP vouches for the address")

	// A re-created IdP account (new subject, same email) must not take over.
	_, err = f.dir.SignIn(ctx, entra, identity.Claims{Subject: "bob-recreated", Email: "bob@example.com"})
	require.ErrorIs(t, err, identity.ErrConflict)
	var ce *identity.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "link", ce.Resource)

	// Another source may still link its own subject.
	res, err = f.dir.SignIn(ctx, "saml:okta", identity.Claims{Subject: "okta-1", Email: "bob@example.com"})
	require.NoError(t, err)
	assert.Equal(t, manual.ID, res.User.ID)
	links, err := f.store.Links(ctx, manual.ID)
	require.NoError(t, err)
	assert.Len(t, links, 2)
}

func TestSignInOAuthNeedsVerifiedEmailToLink(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	existing, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "carol@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)

	// nOAuth: an unverified email never links to an existing user, and the
	// new user it would create collides with the address.
	_, err = f.dir.SignIn(ctx, "oauth:microsoft", identity.Claims{Subject: "tid/oid-1", Email: "carol@example.com"})
	require.ErrorIs(t, err, identity.ErrConflict)
	_, err = f.store.UserByLink(ctx, "oauth:microsoft", "tid/oid-1")
	require.ErrorIs(t, err, identity.ErrNotFound, "nothing was linked")

	res, err := f.dir.SignIn(ctx, "oauth:microsoft", identity.Claims{Subject: "tid/oid-1", Email: "carol@example.com", EmailVerified: true})
	require.NoError(t, err)
	assert.True(t, res.Linked)
	assert.Equal(t, existing.ID, res.User.ID)

	// An unverified email of a new person creates an unverified user.
	res, err = f.dir.SignIn(ctx, "oauth:microsoft", identity.Claims{Subject: "tid/oid-2", Email: "dave@example.com"})
	require.NoError(t, err)
	assert.True(t, res.Created)
	assert.False(t, res.User.EmailVerified)
}

func TestSignInRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{Sources: map[string]identity.SourcePolicy{
		"saml:strict": {Email: identity.EmailTrusted}, // may not create
	}})
	u, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "erin@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	_, err = f.dir.SignIn(ctx, entra, identity.Claims{Subject: "erin", Email: "erin@example.com"})
	require.NoError(t, err)
	_, err = f.dir.Deactivate(ctx, identity.SourceManual, u.ID)
	require.NoError(t, err)

	_, err = f.dir.SignIn(ctx, entra, identity.Claims{Subject: "erin", Email: "erin@example.com"})
	require.ErrorIs(t, err, identity.ErrDeactivated, "by link")
	_, err = f.dir.SignIn(ctx, "saml:okta", identity.Claims{Subject: "erin-okta", Email: "erin@example.com"})
	require.ErrorIs(t, err, identity.ErrDeactivated, "by email")

	_, err = f.dir.SignIn(ctx, "saml:strict", identity.Claims{Subject: "new", Email: "new@example.com"})
	require.ErrorIs(t, err, identity.ErrNotAllowed)
	_, err = f.store.UserByEmail(ctx, "new@example.com")
	require.ErrorIs(t, err, identity.ErrNotFound)

	_, err = f.dir.SignIn(ctx, entra, identity.Claims{Email: "x@example.com"})
	require.ErrorIs(t, err, identity.ErrInvalid, "no subject")
	_, err = f.dir.SignIn(ctx, entra, identity.Claims{Subject: "s", Email: "not an email"})
	var ve *identity.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "email", ve.Fields[0].Field)
}

func TestRestoreNeedsPolicy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	u, err := f.dir.CreateUser(ctx, identity.SourceSCIM, identity.User{Email: "fay@example.com"}, identity.CreateOptions{Inactive: true})
	require.NoError(t, err)
	assert.False(t, u.Active)

	_, err = f.dir.Restore(ctx, entra, u.ID)
	require.ErrorIs(t, err, identity.ErrNotAllowed, "SSO does not bring a user back")
	_, err = f.dir.UpdateUser(ctx, entra, u.ID, 0, func(u *identity.User) error { u.Active = true; return nil })
	require.ErrorIs(t, err, identity.ErrNotAllowed)

	f.sink.Reset()
	restored, err := f.dir.Restore(ctx, identity.SourceSCIM, u.ID)
	require.NoError(t, err)
	assert.True(t, restored.Active)
	assert.Equal(t, []identity.EventType{identity.UserRestored}, f.sink.Types())

	f.sink.Reset()
	deact, err := f.dir.UpdateUser(ctx, identity.SourceSCIM, u.ID, 0, func(u *identity.User) error {
		u.Active = false
		u.GivenName = "Fay"
		return nil
	})
	require.NoError(t, err)
	assert.False(t, deact.Active)
	assert.Equal(t, []identity.EventType{identity.UserUpdated, identity.UserDeactivated}, f.sink.Types())
}

func TestUpdateUserVersionAndNoChange(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	u, err := f.dir.CreateUser(ctx, identity.SourceSCIM, identity.User{Email: "gil@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	require.EqualValues(t, 1, u.Version)
	require.True(t, u.EmailVerified, "SCIM vouches for the addresses it sets")

	_, err = f.dir.UpdateUser(ctx, identity.SourceSCIM, u.ID, 7, func(u *identity.User) error { u.GivenName = "x"; return nil })
	require.ErrorIs(t, err, identity.ErrVersionMismatch)

	same, err := f.dir.UpdateUser(ctx, identity.SourceSCIM, u.ID, 1, func(u *identity.User) error { u.GivenName = " "; return nil })
	require.NoError(t, err)
	assert.EqualValues(t, 1, same.Version, "a change to nothing is not stored")

	changed, err := f.dir.UpdateUser(ctx, identity.SourceSCIM, u.ID, 1, func(u *identity.User) error {
		u.Email = "gil.new@example.com"
		return nil
	})
	require.NoError(t, err)
	assert.EqualValues(t, 2, changed.Version)
	assert.True(t, changed.EmailVerified, "SCIM vouches for the addresses it sets")
	changed, err = f.dir.UpdateUser(ctx, identity.SourceImport, u.ID, 0, func(u *identity.User) error {
		u.Email = "gil.typed@example.com"
		return nil
	})
	require.NoError(t, err)
	assert.False(t, changed.EmailVerified, "an address from a file is not verified")
	assert.Equal(t, "gil@example.com", changed.UserName, "an explicit update does not touch userName")

	_, err = f.dir.UpdateUser(ctx, identity.SourceSCIM, u.ID, 0, func(u *identity.User) error { u.Email = "bad@"; return nil })
	require.ErrorIs(t, err, identity.ErrInvalid)
	_, err = f.dir.UpdateUser(ctx, identity.SourceSCIM, "missing", 0, func(u *identity.User) error { return nil })
	require.ErrorIs(t, err, identity.ErrNotFound)
}

func TestCreateUserValidation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	for _, tc := range []struct {
		name  string
		user  identity.User
		field string
	}{
		{"bad email", identity.User{Email: "a@b"}, "email"},
		{"display name in email", identity.User{Email: "Al <al@example.com>"}, "email"},
		{"no email and no userName", identity.User{GivenName: "x"}, "userName"},
		{"control character", identity.User{Email: "h@example.com", GivenName: "a\x00b"}, "givenName"},
		{"long name", identity.User{Email: "h@example.com", FamilyName: string(make([]byte, 300))}, "familyName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.dir.CreateUser(ctx, identity.SourceManual, tc.user, identity.CreateOptions{})
			var ve *identity.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.field, ve.Fields[0].Field)
		})
	}
	_, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{UserName: "svc-account"}, identity.CreateOptions{})
	require.NoError(t, err, "a user without email but with a userName is fine")

	_, err = f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "ivy@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	_, err = f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "IVY@example.com"}, identity.CreateOptions{})
	var ce *identity.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "email", ce.Field)

	_, err = f.dir.CreateUser(ctx, "saml:strict", identity.User{Email: "jo@example.com"}, identity.CreateOptions{})
	require.NoError(t, err, "saml:* may create by default")
	_, err = f.dir.CreateUser(ctx, "host-sync", identity.User{Email: "kim@example.com"}, identity.CreateOptions{})
	require.ErrorIs(t, err, identity.ErrNotAllowed, "an unknown source may do nothing by default")
}

func TestSignInGroupsFollowTheReference(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{GroupSource: entra})
	// An internal group "Sales" and an internal membership in "Office".
	var office, sales identity.Group
	require.NoError(t, f.dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		if office, err = tx.CreateGroup(ctx, "Office", ""); err != nil {
			return err
		}
		sales, err = tx.CreateGroup(ctx, "Sales", "")
		return err
	}))
	assert.Equal(t, groups.Internal, sales.Kind)

	res, err := f.dir.SignIn(ctx, entra, identity.Claims{Subject: "h1", Email: "hank@example.com"})
	require.NoError(t, err)
	hank := res.User
	_, err = f.dir.AddMember(ctx, identity.SourceManual, office.ID, hank.ID)
	require.NoError(t, err)

	// Received: "sales" (an internal group's name, other case) and "Ops" (new).
	f.sink.Reset()
	res, err = f.dir.SignIn(ctx, entra, identity.Claims{Subject: "h1", Email: "hank@example.com", Groups: groups.Received(" sales ", "Ops")})
	require.NoError(t, err)
	assert.Equal(t, []string{"Ops"}, res.Groups.Create)
	assert.Equal(t, []string{"Sales"}, res.Groups.Convert)
	assert.Equal(t, []string{"Office(internal)", "Ops(external)", "Sales(external)"}, f.groupNames(t, hank.ID))
	converted, err := f.store.Group(ctx, sales.ID)
	require.NoError(t, err)
	assert.Equal(t, "Sales", converted.Name, "the name as first received is kept")
	assert.Equal(t, entra, converted.Source)
	assert.ElementsMatch(t, []identity.EventType{identity.GroupCreated, identity.MemberAdded, identity.GroupConverted, identity.MemberAdded}, f.sink.Types())

	// An absent claim leaves groups alone.
	_, err = f.dir.SignIn(ctx, entra, identity.Claims{Subject: "h1", Email: "hank@example.com"})
	require.NoError(t, err)
	assert.Equal(t, []string{"Office(internal)", "Ops(external)", "Sales(external)"}, f.groupNames(t, hank.ID))

	// External groups not received are detached; internal ones stay.
	res, err = f.dir.SignIn(ctx, entra, identity.Claims{Subject: "h1", Email: "hank@example.com", Groups: groups.Received("Ops")})
	require.NoError(t, err)
	assert.Equal(t, []string{"Sales"}, res.Groups.Detach)
	assert.Equal(t, []string{"Office(internal)", "Ops(external)"}, f.groupNames(t, hank.ID))

	// A present but empty claim detaches every external group.
	_, err = f.dir.SignIn(ctx, entra, identity.Claims{Subject: "h1", Email: "hank@example.com", Groups: groups.Received()})
	require.NoError(t, err)
	assert.Equal(t, []string{"Office(internal)"}, f.groupNames(t, hank.ID))

	// Claims of a source that is not the group source leave groups alone.
	_, err = f.dir.SignIn(ctx, "saml:okta", identity.Claims{Subject: "h-okta", Email: "hank@example.com", Groups: groups.Received("Intruders")})
	require.NoError(t, err)
	assert.Equal(t, []string{"Office(internal)"}, f.groupNames(t, hank.ID))
	_, err = f.store.GroupByName(ctx, "Intruders")
	require.ErrorIs(t, err, identity.ErrNotFound)
}

func TestGroupLimitAppliesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{GroupSource: entra, GroupLimit: 3})
	claim := groups.Received("a", "b", "c", "d")
	_, err := f.dir.SignIn(ctx, entra, identity.Claims{Subject: "s", Email: "lim@example.com", Groups: claim})
	var le *groups.LimitError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, 4, le.Count)
	assert.Equal(t, 3, le.Limit)
	_, err = f.store.UserByEmail(ctx, "lim@example.com")
	require.ErrorIs(t, err, identity.ErrNotFound, "the sign-in changed nothing")

	res, err := f.dir.SignIn(ctx, entra, identity.Claims{Subject: "s", Email: "lim@example.com", Groups: groups.Received("a", "A", "b", "c")})
	require.NoError(t, err, "duplicates count once")
	assert.Len(t, res.Groups.Create, 3)

	_, err = f.dir.SetUserGroups(ctx, entra, res.User.ID, claim)
	require.ErrorAs(t, err, &le)
	assert.Len(t, f.groupNames(t, res.User.ID), 3)
}

func TestGroupPermissions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{GroupSource: identity.SourceSCIM})
	u, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "perm@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	internal, err := f.dir.CreateGroup(ctx, identity.SourceImport, "Floor 3", "")
	require.NoError(t, err)
	assert.Equal(t, groups.Internal, internal.Kind)
	external, err := f.dir.CreateGroup(ctx, identity.SourceSCIM, "Engineering", "ext-1")
	require.NoError(t, err)
	assert.Equal(t, groups.External, external.Kind)

	_, err = f.dir.CreateGroup(ctx, identity.SourceSCIM, "engineering", "")
	require.ErrorIs(t, err, identity.ErrConflict)
	_, err = f.dir.CreateGroup(ctx, identity.SourceManual, "ENGINEERING", "")
	require.ErrorIs(t, err, identity.ErrConflict)
	_, err = f.dir.CreateGroup(ctx, identity.SourceGoogle, "Anything", "")
	require.ErrorIs(t, err, identity.ErrNotAllowed, "google is not the group source")

	_, err = f.dir.AddMember(ctx, identity.SourceSCIM, internal.ID, u.ID)
	require.ErrorIs(t, err, identity.ErrNotAllowed, "SCIM may not touch internal groups")
	_, err = f.dir.AddMember(ctx, identity.SourceManual, external.ID, u.ID)
	require.ErrorIs(t, err, identity.ErrNotAllowed, "the host may not touch external groups")
	added, err := f.dir.AddMember(ctx, identity.SourceSCIM, external.ID, u.ID)
	require.NoError(t, err)
	assert.True(t, added)
	added, err = f.dir.AddMember(ctx, identity.SourceSCIM, external.ID, u.ID)
	require.NoError(t, err)
	assert.False(t, added)

	// The group source creating an internal group's name takes it over.
	took, err := f.dir.CreateGroup(ctx, identity.SourceSCIM, "floor 3", "ext-2")
	require.NoError(t, err)
	assert.Equal(t, internal.ID, took.ID)
	assert.Equal(t, groups.External, took.Kind)
	assert.Equal(t, "ext-2", took.ExternalID)
}

func TestSetMembersWritesOnlyDifferences(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{GroupSource: identity.SourceGoogle})
	var ids []string
	for i := range 5 {
		u, err := f.dir.CreateUser(ctx, identity.SourceGoogle, identity.User{Email: fmt.Sprintf("m%d@example.com", i)}, identity.CreateOptions{})
		require.NoError(t, err)
		ids = append(ids, u.ID)
	}
	g, err := f.dir.CreateGroup(ctx, identity.SourceGoogle, "All", "")
	require.NoError(t, err)
	set := func(members ...string) (int, int) {
		var a, r int
		require.NoError(t, f.dir.Do(ctx, identity.SourceGoogle, func(ctx context.Context, tx *identity.Tx) error {
			var err error
			a, r, err = tx.SetMembers(ctx, g.ID, members)
			return err
		}))
		return a, r
	}
	a, r := set(ids[0], ids[1], ids[2])
	assert.Equal(t, [2]int{3, 0}, [2]int{a, r})
	f.sink.Reset()
	a, r = set(ids[1], ids[2], ids[3], ids[3])
	assert.Equal(t, [2]int{1, 1}, [2]int{a, r})
	assert.ElementsMatch(t, []identity.EventType{identity.MemberAdded, identity.MemberRemoved}, f.sink.Types())
	page, err := identity.ListUsers(ctx, f.store, identity.UserQuery{GroupID: g.ID})
	require.NoError(t, err)
	assert.Equal(t, 3, page.Total)

	err = f.dir.Do(ctx, identity.SourceGoogle, func(ctx context.Context, tx *identity.Tx) error {
		_, _, err := tx.SetMembers(ctx, g.ID, []string{ids[4], "no-such-user"})
		return err
	})
	require.ErrorIs(t, err, identity.ErrNotFound)
	page, err = identity.ListUsers(ctx, f.store, identity.UserQuery{GroupID: g.ID})
	require.NoError(t, err)
	assert.Equal(t, 3, page.Total, "a failed SetMembers changes nothing")
}

func TestUpsertOutcomes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	in := identity.User{Email: "uma@example.com", GivenName: "Uma", Attributes: map[string]string{identity.AttrPhone: "0123"}}
	u, out, err := f.dir.Upsert(ctx, identity.SourceImport, in, identity.UpsertOptions{Update: true})
	require.NoError(t, err)
	assert.Equal(t, identity.Created, out)

	_, out, err = f.dir.Upsert(ctx, identity.SourceImport, in, identity.UpsertOptions{Update: true})
	require.NoError(t, err)
	assert.Equal(t, identity.Skipped, out, "the same data changes nothing")

	in.GivenName = "Uma-Lee"
	_, out, err = f.dir.Upsert(ctx, identity.SourceImport, in, identity.UpsertOptions{})
	require.NoError(t, err)
	assert.Equal(t, identity.Skipped, out, "without Update an existing user is left alone")
	assert.Equal(t, "Uma", f.user(t, "uma@example.com").GivenName)

	got, out, err := f.dir.Upsert(ctx, identity.SourceImport, in, identity.UpsertOptions{Update: true})
	require.NoError(t, err)
	assert.Equal(t, identity.Updated, out)
	assert.Equal(t, "Uma-Lee", got.GivenName)
	assert.Equal(t, "0123", got.Attributes[identity.AttrPhone], "leading zeros are text")

	_, err = f.dir.Deactivate(ctx, identity.SourceImport, u.ID)
	require.NoError(t, err)
	_, out, err = f.dir.Upsert(ctx, identity.SourceImport, in, identity.UpsertOptions{Update: true})
	require.NoError(t, err)
	assert.Equal(t, identity.Skipped, out)
	assert.False(t, f.user(t, "uma@example.com").Active, "without Restore a deactivated user stays so")
	_, out, err = f.dir.Upsert(ctx, identity.SourceImport, in, identity.UpsertOptions{Restore: true})
	require.NoError(t, err)
	assert.Equal(t, identity.Updated, out)
	assert.True(t, f.user(t, "uma@example.com").Active)

	// With a subject the user is linked, and found by it after an email change.
	_, _, err = f.dir.Upsert(ctx, identity.SourceGoogle, in, identity.UpsertOptions{Subject: "g-1"})
	require.NoError(t, err)
	in.Email = "uma.lee@example.com"
	got, out, err = f.dir.Upsert(ctx, identity.SourceGoogle, in, identity.UpsertOptions{Subject: "g-1", Update: true})
	require.NoError(t, err)
	assert.Equal(t, identity.Updated, out)
	assert.Equal(t, u.ID, got.ID)
	assert.Equal(t, "uma.lee@example.com", got.Email)
	assert.Equal(t, "uma.lee@example.com", got.UserName, "a userName that repeated the email follows it")
}

func TestDoIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	boom := errors.New("boom")
	err := f.dir.Do(ctx, identity.SourceImport, func(ctx context.Context, tx *identity.Tx) error {
		if _, err := tx.CreateUser(ctx, identity.User{Email: "one@example.com"}, identity.CreateOptions{}); err != nil {
			return err
		}
		if _, err := tx.CreateGroup(ctx, "G", ""); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = f.store.UserByEmail(ctx, "one@example.com")
	require.ErrorIs(t, err, identity.ErrNotFound)
	_, err = f.store.GroupByName(ctx, "G")
	require.ErrorIs(t, err, identity.ErrNotFound)
	assert.Empty(t, f.sink.Events(), "no event for a change that was not stored")
	events, err := f.dir.Events(ctx, 0, 10)
	require.NoError(t, err)
	assert.Empty(t, events)
}

func TestDryRunStoresNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	var created identity.User
	var seen bool
	err := f.dir.DryRun(ctx, identity.SourceImport, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		if created, err = tx.CreateUser(ctx, identity.User{Email: "dry@example.com"}, identity.CreateOptions{}); err != nil {
			return err
		}
		_, err = tx.Reader().UserByEmail(ctx, "dry@example.com")
		seen = err == nil
		return nil
	})
	require.NoError(t, err)
	assert.NotEmpty(t, created.ID)
	assert.True(t, seen, "the dry run sees its own changes")
	_, err = f.store.UserByEmail(ctx, "dry@example.com")
	require.ErrorIs(t, err, identity.ErrNotFound)
	assert.Empty(t, f.sink.Events())
}

func TestEventsAreLoggedWithTheChange(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	u, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "log@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	_, err = f.dir.Deactivate(ctx, identity.SourceManual, u.ID)
	require.NoError(t, err)
	events, err := f.dir.Events(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, events, 2)
	assert.Equal(t, identity.UserCreated, events[0].Type)
	assert.Equal(t, identity.UserDeactivated, events[1].Type)
	assert.Less(t, events[0].Seq, events[1].Seq)
	assert.Equal(t, u.ID, events[1].UserID)
	sunk := f.sink.Events()
	require.Len(t, sunk, 2)
	assert.Equal(t, events[1].Seq, sunk[1].Seq, "the sink sees the logged cursor")
	after, err := f.dir.Events(ctx, events[0].Seq, 10)
	require.NoError(t, err)
	assert.Len(t, after, 1)
}

func TestInvitation(t *testing.T) {
	ctx := context.Background()
	rec := &recordingStore{Store: memory.New().Tenant("acme")}
	clock := identitytest.NewClock()
	dir, err := identity.New(rec, identity.Config{Clock: clock, SSOOnly: true})
	require.NoError(t, err)
	assert.False(t, dir.PasswordLogin())

	var u identity.User
	var token string
	var expires time.Time
	require.NoError(t, dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		if u, err = tx.CreateUser(ctx, identity.User{Email: "inv@example.com", GivenName: "Ina"}, identity.CreateOptions{}); err != nil {
			return err
		}
		token, expires, err = tx.Invite(ctx, u.ID)
		return err
	}))
	assert.Equal(t, identitytest.Epoch.Add(7*24*time.Hour), expires, "7 days by default")
	assert.GreaterOrEqual(t, len(token), 43, "32 random bytes")
	require.Len(t, rec.invitations, 1)
	assert.NotContains(t, string(rec.invitations[0].Hash), token, "only a hash is stored")
	assert.Len(t, rec.invitations[0].Hash, 32)

	_, err = dir.AcceptInvitation(ctx, token+"x")
	require.ErrorIs(t, err, identity.ErrInvitation)
	accepted, err := dir.AcceptInvitation(ctx, token)
	require.NoError(t, err)
	assert.True(t, accepted.EmailVerified)
	_, err = dir.AcceptInvitation(ctx, token)
	require.ErrorIs(t, err, identity.ErrNotFound, "single use")

	second, _, err := dir.Invite(ctx, identity.SourceManual, u.ID)
	require.NoError(t, err)
	clock.Advance(7*24*time.Hour + time.Second)
	_, err = dir.AcceptInvitation(ctx, second)
	require.ErrorIs(t, err, identity.ErrInvitation, "expired")

	_, err = dir.Deactivate(ctx, identity.SourceManual, u.ID)
	require.NoError(t, err)
	_, _, err = dir.Invite(ctx, identity.SourceManual, u.ID)
	require.ErrorIs(t, err, identity.ErrDeactivated)

	noMail, err := dir.CreateUser(ctx, identity.SourceManual, identity.User{UserName: "kiosk"}, identity.CreateOptions{})
	require.NoError(t, err)
	_, _, err = dir.Invite(ctx, identity.SourceManual, noMail.ID)
	var ve *identity.ValidationError
	require.ErrorAs(t, err, &ve, "an invitation needs somewhere to go")
	assert.Equal(t, "email", ve.Fields[0].Field)
}

// recordingStore remembers the invitations handed to the store.
type recordingStore struct {
	identity.Store
	parent      *recordingStore
	invitations []identity.Invitation
}

func (r *recordingStore) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	return r.Store.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		return fn(ctx, &recordingStore{Store: tx, parent: r})
	})
}

func (r *recordingStore) CreateInvitation(ctx context.Context, inv identity.Invitation) error {
	target := r
	if r.parent != nil {
		target = r.parent
	}
	target.invitations = append(target.invitations, inv)
	return r.Store.CreateInvitation(ctx, inv)
}

func TestUpsertInactiveCreatesDeactivated(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	u, out, err := f.dir.Upsert(ctx, identity.SourceGoogle, identity.User{Email: "sus@example.com"}, identity.UpsertOptions{Subject: "g-9", Inactive: true})
	require.NoError(t, err)
	assert.Equal(t, identity.Created, out)
	assert.False(t, u.Active)
	assert.True(t, u.EmailVerified, "Google vouches for its addresses")

	restored, out, err := f.dir.Upsert(ctx, identity.SourceGoogle, identity.User{Email: "sus@example.com"}, identity.UpsertOptions{Subject: "g-9", Inactive: true, Restore: true})
	require.NoError(t, err)
	assert.Equal(t, identity.Updated, out, "Inactive does not change an existing user; Restore does")
	assert.True(t, restored.Active)
}

// TestGroupReadOnceStaysCurrent checks that a transaction that has read a
// group sees its own later change of it: here SCIM is refused an internal
// group, takes it over by name, and may then add a member, all in one
// transaction.
func TestGroupReadOnceStaysCurrent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{GroupSource: identity.SourceSCIM})
	u, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "cache@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	floor, err := f.dir.CreateGroup(ctx, identity.SourceManual, "Floor", "")
	require.NoError(t, err)
	require.NoError(t, f.dir.Do(ctx, identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
		if _, err := tx.AddMember(ctx, floor.ID, u.ID); !errors.Is(err, identity.ErrNotAllowed) {
			return fmt.Errorf("AddMember to an internal group: %v, want ErrNotAllowed", err)
		}
		if _, err := tx.CreateGroup(ctx, "floor", "ext-floor"); err != nil {
			return err
		}
		added, err := tx.AddMember(ctx, floor.ID, u.ID)
		if !added {
			return fmt.Errorf("AddMember after the takeover: added=%v, %v", added, err)
		}
		if err := tx.DeleteGroup(ctx, floor.ID); err != nil {
			return err
		}
		_, err = tx.AddMember(ctx, floor.ID, u.ID)
		if !errors.Is(err, identity.ErrNotFound) {
			return fmt.Errorf("AddMember to a deleted group: %v, want ErrNotFound", err)
		}
		return nil
	}))
}
