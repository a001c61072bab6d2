package identity_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/identity"
)

// TestEmailUniqueAmongActiveUsers checks the rules of the core for an email
// that a deactivated user holds: an explicit create may reuse it, resolution
// by email still finds the deactivated user (so no sign-in or import makes a
// second account), and restoring the user while an active user holds the
// address is a conflict.
func TestEmailUniqueAmongActiveUsers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	old, err := f.dir.CreateUser(ctx, identity.SourceSCIM, identity.User{Email: "ada@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	_, err = f.dir.Deactivate(ctx, identity.SourceSCIM, old.ID)
	require.NoError(t, err)

	// Resolution by email finds the deactivated user: a trusted SSO source
	// gets ErrDeactivated, an untrusted one a conflict; neither creates.
	_, err = f.dir.SignIn(ctx, "saml:entra", identity.Claims{Subject: "s1", Email: "ADA@example.com"})
	require.ErrorIs(t, err, identity.ErrDeactivated)
	_, err = f.dir.SignIn(ctx, "oauth:google", identity.Claims{Subject: "s2", Email: "ａｄａ@example.com"})
	var ce *identity.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "email", ce.Field)
	// An import finds the deactivated user too, and leaves it deactivated.
	got, outcome, err := f.dir.Upsert(ctx, identity.SourceImport, identity.User{Email: "Ada@Example.com", GivenName: "Ada"}, identity.UpsertOptions{Update: true})
	require.NoError(t, err)
	assert.Equal(t, old.ID, got.ID)
	assert.Equal(t, identity.Updated, outcome)
	assert.False(t, got.Active)
	page, err := identity.ListUsers(ctx, f.store, identity.UserQuery{})
	require.NoError(t, err)
	require.Equal(t, 1, page.Total, "no new user for the deactivated user's address")

	// An explicit create (SCIM POST, the admin API) may reuse the address.
	rehire, err := f.dir.CreateUser(ctx, identity.SourceSCIM, identity.User{Email: "ada@EXAMPLE.com", UserName: "ada2"}, identity.CreateOptions{})
	require.NoError(t, err)
	assert.True(t, rehire.Active)
	// Now resolution finds the active holder.
	res, err := f.dir.SignIn(ctx, "saml:entra", identity.Claims{Subject: "s1", Email: "ada@example.com"})
	require.NoError(t, err)
	assert.Equal(t, rehire.ID, res.User.ID)
	// A second active user with the address is a conflict, in any form.
	_, err = f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "ＡＤＡ@example.com", UserName: "ada3"}, identity.CreateOptions{})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "email", ce.Field)

	// Restoring the old user while the rehire holds the address conflicts.
	_, err = f.dir.Restore(ctx, identity.SourceSCIM, old.ID)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "email", ce.Field)
	u, err := f.store.User(ctx, old.ID)
	require.NoError(t, err)
	assert.False(t, u.Active)
	// Once the rehire is deactivated, the old user may come back.
	_, err = f.dir.Deactivate(ctx, identity.SourceSCIM, rehire.ID)
	require.NoError(t, err)
	u, err = f.dir.Restore(ctx, identity.SourceSCIM, old.ID)
	require.NoError(t, err)
	assert.True(t, u.Active)
}

// TestOneMailboxOneUser checks that the forms of one address (IDNA, width,
// case) resolve to one user.
func TestOneMailboxOneUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	j, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "j@müller.de"}, identity.CreateOptions{})
	require.NoError(t, err)
	assert.Equal(t, "j@müller.de", j.Email, "the address is kept as given")
	_, err = f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "j@xn--mller-kva.de"}, identity.CreateOptions{})
	require.ErrorIs(t, err, identity.ErrConflict)
	res, err := f.dir.SignIn(ctx, "saml:entra", identity.Claims{Subject: "j", Email: "J@XN--MLLER-KVA.DE"})
	require.NoError(t, err)
	assert.Equal(t, j.ID, res.User.ID)
	assert.False(t, res.Created)
}
