package identity_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/storage/memory"
)

// memberEvents returns the user IDs of the MemberAdded events of the group,
// in order.
func memberEvents(events []identity.Event, groupID string) []string {
	var ids []string
	for _, e := range events {
		if e.Type == identity.MemberAdded && e.GroupID == groupID {
			ids = append(ids, e.UserID)
		}
	}
	return ids
}

func TestTxAddMembers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{GroupSource: identity.SourceSCIM})
	var ids []string
	for i := range 4 {
		u, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: fmt.Sprintf("bulk%d@example.com", i)}, identity.CreateOptions{})
		require.NoError(t, err)
		ids = append(ids, u.ID)
	}
	a, b, c, d := ids[0], ids[1], ids[2], ids[3]
	external, err := f.dir.CreateGroup(ctx, identity.SourceSCIM, "Engineering", "ext-1")
	require.NoError(t, err)
	internal, err := f.dir.CreateGroup(ctx, identity.SourceManual, "Floor 3", "")
	require.NoError(t, err)
	_, err = f.dir.AddMember(ctx, identity.SourceSCIM, external.ID, c)
	require.NoError(t, err)
	f.sink.Reset()

	var added []string
	require.NoError(t, f.dir.Do(ctx, identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		added, err = tx.AddMembers(ctx, external.ID, []string{b, c, a, b})
		return err
	}))
	assert.Equal(t, []string{b, a}, added, "the new members, in the order given, each once")
	assert.Equal(t, []string{b, a}, memberEvents(f.sink.Events(), external.ID), "one MemberAdded per new membership")
	for _, e := range f.sink.Events() {
		assert.Equal(t, identity.SourceSCIM, e.Source)
		assert.Equal(t, "acme", e.Tenant)
	}
	assert.Equal(t, []string{"Engineering(external)"}, f.groupNames(t, a))

	// The same rules as AddMember.
	err = f.dir.Do(ctx, identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
		_, err := tx.AddMembers(ctx, internal.ID, []string{a})
		return err
	})
	require.ErrorIs(t, err, identity.ErrNotAllowed, "SCIM may not touch internal groups")
	err = f.dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		_, err := tx.AddMembers(ctx, external.ID, []string{d})
		return err
	})
	require.ErrorIs(t, err, identity.ErrNotAllowed, "the host may not touch external groups")
	err = f.dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		_, err := tx.AddMembers(ctx, "no-such-group", nil)
		return err
	})
	require.ErrorIs(t, err, identity.ErrNotFound)
	assert.Empty(t, f.groupNames(t, d))

	// A missing user: nobody is added and no event recorded, even when fn
	// goes on and commits.
	f.sink.Reset()
	require.NoError(t, f.dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		added, err := tx.AddMembers(ctx, internal.ID, []string{d, "no-such-user", a})
		require.ErrorIs(t, err, identity.ErrNotFound)
		require.ErrorContains(t, err, "identity: add members")
		require.ErrorContains(t, err, "no-such-user")
		assert.Empty(t, added)
		added, err = tx.AddMembers(ctx, internal.ID, nil)
		require.NoError(t, err)
		assert.Empty(t, added)
		return nil
	}))
	assert.Empty(t, f.sink.Events())
	page, err := identity.ListUsers(ctx, f.store, identity.UserQuery{GroupID: internal.ID})
	require.NoError(t, err)
	assert.Zero(t, page.Total)

	require.NoError(t, f.dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		added, err = tx.AddMembers(ctx, internal.ID, []string{d, a})
		return err
	}))
	assert.Equal(t, []string{d, a}, added)
	assert.Equal(t, []string{d, a}, memberEvents(f.sink.Events(), internal.ID))
}

// countingStore counts the membership writes of the store and of its
// transactions.
type countingStore struct {
	identity.Store
	adds, bulkAdds *atomic.Int64
}

func (s countingStore) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		return fn(ctx, countingStore{Store: tx, adds: s.adds, bulkAdds: s.bulkAdds})
	})
}

func (s countingStore) AddMember(ctx context.Context, groupID, userID string) (bool, error) {
	s.adds.Add(1)
	return s.Store.AddMember(ctx, groupID, userID)
}

func (s countingStore) AddMembers(ctx context.Context, groupID string, userIDs []string) ([]string, error) {
	s.bulkAdds.Add(1)
	return s.Store.(identity.BulkMemberAdder).AddMembers(ctx, groupID, userIDs)
}

func TestSetMembersAddsInBulk(t *testing.T) {
	ctx := context.Background()
	store := countingStore{Store: memory.New().Tenant("acme"), adds: new(atomic.Int64), bulkAdds: new(atomic.Int64)}
	sink := &identitytest.Sink{}
	dir, err := identity.New(store, identity.Config{Tenant: "acme", GroupSource: identity.SourceGoogle, Events: sink})
	require.NoError(t, err)
	var ids []string
	require.NoError(t, dir.Do(ctx, identity.SourceGoogle, func(ctx context.Context, tx *identity.Tx) error {
		for i := range 300 {
			u, err := tx.CreateUser(ctx, identity.User{Email: fmt.Sprintf("m%03d@example.com", i)}, identity.CreateOptions{})
			if err != nil {
				return err
			}
			ids = append(ids, u.ID)
		}
		return nil
	}))
	g, err := dir.CreateGroup(ctx, identity.SourceGoogle, "All", "")
	require.NoError(t, err)
	_, err = dir.AddMember(ctx, identity.SourceGoogle, g.ID, ids[0])
	require.NoError(t, err)
	store.adds.Store(0)
	sink.Reset()

	// In reverse order, one user twice and a member already.
	var list []string
	for i := len(ids) - 1; i >= 0; i-- {
		list = append(list, ids[i])
	}
	list = append(list, ids[7])
	var added, removed int
	require.NoError(t, dir.Do(ctx, identity.SourceGoogle, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		added, removed, err = tx.SetMembers(ctx, g.ID, list)
		return err
	}))
	assert.Equal(t, [2]int{299, 0}, [2]int{added, removed})
	assert.Equal(t, int64(0), store.adds.Load(), "no membership added one by one")
	assert.Equal(t, int64(1), store.bulkAdds.Load(), "the additions are one AddMembers")
	assert.Equal(t, list[:299], memberEvents(sink.Events(), g.ID), "one MemberAdded per new member, in the order given")

	// Nothing to add: no write.
	store.bulkAdds.Store(0)
	require.NoError(t, dir.Do(ctx, identity.SourceGoogle, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		added, removed, err = tx.SetMembers(ctx, g.ID, ids[:100])
		return err
	}))
	assert.Equal(t, [2]int{0, 200}, [2]int{added, removed})
	assert.Equal(t, int64(0), store.bulkAdds.Load()+store.adds.Load())
}

// The actor the host puts in the context is on every event of the change.
func TestEventsCarryTheActor(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	u, err := f.dir.CreateUser(identity.WithActor(ctx, "admin@example.com"), identity.SourceManual, identity.User{Email: "a@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	_, err = f.dir.Deactivate(ctx, identity.SourceManual, u.ID)
	require.NoError(t, err)
	events := f.sink.Events()
	require.Len(t, events, 2)
	assert.Equal(t, "admin@example.com", events[0].Actor)
	assert.Equal(t, "", events[1].Actor, "no actor in the context")
	assert.Equal(t, "admin@example.com", identity.ActorFrom(identity.WithActor(ctx, "admin@example.com")))
}

// Deleting a user records leaving each group before the deletion itself,
// so that a host following the events keeps its memberships right.
func TestDeleteUserRecordsLeavingGroups(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	u, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "gone@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	var gids []string
	for _, name := range []string{"Office", "Lab"} {
		g, err := f.dir.CreateGroup(ctx, identity.SourceManual, name, "")
		require.NoError(t, err)
		_, err = f.dir.AddMember(ctx, identity.SourceManual, g.ID, u.ID)
		require.NoError(t, err)
		gids = append(gids, g.ID)
	}
	f.sink.Reset()
	require.NoError(t, f.dir.DeleteUser(ctx, identity.SourceManual, u.ID))
	var got []string
	for _, e := range f.sink.Events() {
		assert.Equal(t, u.ID, e.UserID)
		got = append(got, string(e.Type)+" "+e.GroupID)
	}
	assert.ElementsMatch(t, []string{"group.member_removed " + gids[0], "group.member_removed " + gids[1], "user.deleted "}, got)
	assert.Equal(t, "user.deleted ", got[len(got)-1], "the deletion comes last")
}
