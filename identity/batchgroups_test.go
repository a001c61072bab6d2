package identity_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// A batch source matches its groups by ExternalID among its own groups
// only: an externalID is not unique in the directory (RFC 7643 §3.1), so
// another source's group, or an internal one, with a listed ExternalID is
// neither matched nor in the way.
func TestBatchGroupsOtherHolderOfExternalID(t *testing.T) {
	ctx := context.Background()
	f, b := batchFixture(t)
	scim, err := f.store.CreateGroup(ctx, identity.Group{Name: "Entra Eng", Kind: groups.External, Source: "scim", ExternalID: "g1"})
	require.NoError(t, err)
	internal, err := f.dir.CreateGroup(ctx, identity.SourceManual, "Ops internal", "g3")
	require.NoError(t, err)
	b.Groups = append(b.Groups, identity.BatchGroup{ExternalID: "g3", Name: "Ops", Members: []string{"u2"}})

	plan, err := f.dir.PlanBatch(ctx, f.dir.Reader(), identity.SourceGoogle, b)
	require.NoError(t, err)
	require.Len(t, plan.Groups, 3)
	assert.Equal(t, identity.GroupKeep, plan.Groups[0].Action, "g1 is the source's Eng")
	assert.Equal(t, "Eng", plan.Groups[0].Current.Name)
	assert.Equal(t, identity.GroupCreate, plan.Groups[2].Action, "g3 is only an internal group's externalID")

	_, counts, err := f.dir.Reconcile(ctx, identity.SourceGoogle, b, identity.ReconcileOptions{Fuse: identity.Fuse{MaxRemove: 1, MaxDeactivate: 1}})
	require.NoError(t, err)
	assert.Equal(t, identity.BatchCounts{GroupsCreated: 1, MembersAdded: 1}, counts)
	both, err := f.dir.Reader().GroupsByExternalID(ctx, "g3")
	require.NoError(t, err)
	require.Len(t, both, 2)
	for _, g := range both {
		if g.ID == internal.ID {
			assert.Equal(t, groups.Internal, g.Kind, "the internal group is left alone")
			assert.Equal(t, "Ops internal", g.Name)
		} else {
			assert.Equal(t, "Ops", g.Name)
			assert.Equal(t, groups.External, g.Kind)
			assert.Equal(t, string(identity.SourceGoogle), g.Source)
		}
	}
	got, err := f.store.Group(ctx, scim.ID)
	require.NoError(t, err)
	assert.Equal(t, scim, got, "the SCIM group of g1 is unchanged")
}

// A listed ExternalID that cannot name one group without a guess refuses
// the batch with an *ItemError naming the listed group's index.
func TestBatchGroupsAmbiguousExternalID(t *testing.T) {
	ctx := context.Background()
	wantItem := func(t *testing.T, err error, index int) {
		t.Helper()
		var ie *identity.ItemError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, index, ie.Index)
		var ce *identity.ConflictError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, identity.ConflictError{Resource: "group", Field: "externalID"}, *ce)
		assert.ErrorIs(t, err, identity.ErrConflict)
	}

	t.Run("listed twice", func(t *testing.T) {
		f, b := batchFixture(t)
		b.Groups = append(b.Groups, identity.BatchGroup{ExternalID: "g9", Name: "New"}, identity.BatchGroup{ExternalID: "g1", Name: "Eng again"})
		_, err := f.dir.PlanBatch(ctx, f.dir.Reader(), identity.SourceGoogle, b)
		wantItem(t, err, 3)
		assert.ErrorContains(t, err, `"Eng again"`)
		assert.ErrorContains(t, err, "group 0 of the batch")
		_, _, err = f.dir.Reconcile(ctx, identity.SourceGoogle, b, identity.ReconcileOptions{Fuse: identity.Fuse{MaxRemove: 1, MaxDeactivate: 1}})
		wantItem(t, err, 3)
		gs, err := f.dir.Reader().GroupsByExternalID(ctx, "g9")
		require.NoError(t, err)
		assert.Empty(t, gs, "nothing is applied")
	})

	t.Run("two of the source's groups hold it", func(t *testing.T) {
		f, b := batchFixture(t)
		sales, err := f.dir.Reader().GroupByName(ctx, "Sales")
		require.NoError(t, err)
		eng, err := f.dir.Reader().GroupByName(ctx, "Eng")
		require.NoError(t, err)
		// A store written to around the core: both of google's groups are g1.
		_, err = f.store.UpdateGroup(ctx, sales.ID, func(g *identity.Group) error { g.ExternalID = "g1"; return nil })
		require.NoError(t, err)
		_, err = f.dir.PlanBatch(ctx, f.dir.Reader(), identity.SourceGoogle, b)
		wantItem(t, err, 0)
		assert.ErrorContains(t, err, eng.ID)
		assert.ErrorContains(t, err, sales.ID)

		// Unlisted, the shared ExternalID matches nothing and is no error.
		b.Groups = []identity.BatchGroup{{ExternalID: "g7", Name: "Seven"}}
		plan, err := f.dir.PlanBatch(ctx, f.dir.Reader(), identity.SourceGoogle, b)
		require.NoError(t, err)
		require.Len(t, plan.Groups, 3)
		assert.Equal(t, identity.GroupCreate, plan.Groups[0].Action)
		assert.Equal(t, identity.GroupRemoved, plan.Groups[1].Action)
		assert.Equal(t, identity.GroupRemoved, plan.Groups[2].Action)
	})
}
