package identity_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/identity"
)

// TestIndexedReaderAgreesWithStore: the users a large batch reads up front
// find the same user by email and userName as the store does, deactivated
// holders of an email included; a small batch reads nothing up front.
func TestIndexedReaderAgreesWithStore(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	for i := range 5 {
		email := fmt.Sprintf("u%d@example.com", i)
		for j := range i % 3 { // up to two deactivated holders before the last
			u, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: email, UserName: fmt.Sprintf("old%d-%d", i, j)}, identity.CreateOptions{})
			require.NoError(t, err)
			f.clock.Advance(1)
			_, err = f.dir.Deactivate(ctx, identity.SourceManual, u.ID)
			require.NoError(t, err)
		}
		if i != 2 {
			_, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: email}, identity.CreateOptions{})
			require.NoError(t, err)
		}
	}
	_, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{UserName: "no-email"}, identity.CreateOptions{})
	require.NoError(t, err)

	small, err := identity.IndexUsers(ctx, f.dir.Reader(), identity.Batch{})
	require.NoError(t, err)
	assert.Equal(t, f.dir.Reader(), small, "a small batch reads no user up front")
	ix, err := identity.IndexUsers(ctx, f.dir.Reader(), identity.Batch{DeactivateMissing: true})
	require.NoError(t, err)
	assert.NotEqual(t, f.dir.Reader(), ix)
	for _, key := range []string{"u0@example.com", "U1@example.com", "u2@example.com", "u3@example.com", "u4@example.com", "none@example.com", "", "no-email", "old2-1", "u0@example.com"} {
		want, wantErr := f.store.UserByEmail(ctx, key)
		got, gotErr := ix.UserByEmail(ctx, key)
		assert.Equal(t, want.ID, got.ID, "UserByEmail(%q)", key)
		assert.Equal(t, wantErr == nil, gotErr == nil, "UserByEmail(%q): %v, %v", key, wantErr, gotErr)
		want, wantErr = f.store.UserByUserName(ctx, key)
		got, gotErr = ix.UserByUserName(ctx, key)
		assert.Equal(t, want.ID, got.ID, "UserByUserName(%q)", key)
		assert.Equal(t, wantErr == nil, gotErr == nil, "UserByUserName(%q): %v, %v", key, wantErr, gotErr)
	}
	for _, u := range []string{"u0@example.com", "u3@example.com"} {
		want := f.user(t, u)
		got, err := ix.User(ctx, want.ID)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err = ix.User(ctx, "nobody")
	assert.ErrorIs(t, err, identity.ErrNotFound)
	_, bulk := ix.(identity.BulkReader)
	assert.True(t, bulk, "the bulk path stays")
	u2, err := ix.UserByEmail(ctx, "u2@example.com")
	require.NoError(t, err)
	assert.False(t, u2.Active, "a deactivated holder is found when no active user holds the email")
	assert.Equal(t, "old2-1", u2.UserName, "the one deactivated last")
}
