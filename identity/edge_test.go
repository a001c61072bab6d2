package identity_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/storage/sqlstore"
)

// The readers the core hands out cannot write: a write through them would
// store a change with no event and no rule applied.
func TestReadersAreReadOnly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	_, isStore := f.dir.Reader().(identity.Store)
	assert.False(t, isStore, "Directory.Reader is a Store")
	_, isUserStore := f.dir.Reader().(identity.UserStore)
	assert.False(t, isUserStore, "Directory.Reader is a UserStore")
	require.NoError(t, f.dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		_, isStore := tx.Reader().(identity.Store)
		assert.False(t, isStore, "Tx.Reader is a Store")
		_, isGroupStore := tx.Reader().(identity.GroupStore)
		assert.False(t, isGroupStore, "Tx.Reader is a GroupStore")
		return nil
	}))
}

// stores opens the tenant "acme" of each kind of store the core runs on.
func stores(t *testing.T) map[string]identity.Store {
	t.Helper()
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "r.db"), sqlstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return map[string]identity.Store{"memory": memory.New().Tenant("acme"), "sqlite": db.Tenant("acme")}
}

// Reading through the Directory inside its own Do sees the transaction's
// changes and waits for nothing, on every store; a change through the
// Directory there joins the transaction.
func TestDirectoryInsideDo(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			sink := &identitytest.Sink{}
			dir, err := identity.New(store, identity.Config{Tenant: "acme", Clock: identitytest.NewClock(), Events: sink})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done := make(chan error, 1)
			var created, nested identity.User
			go func() {
				done <- dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
					var err error
					if created, err = tx.CreateUser(ctx, identity.User{Email: "ada@example.com"}, identity.CreateOptions{}); err != nil {
						return err
					}
					got, err := dir.Reader().UserByEmail(ctx, "ada@example.com")
					if err != nil {
						return err
					}
					if got.ID != created.ID {
						return errors.New("the Directory's reader does not see the transaction's user")
					}
					if _, err := dir.Events(ctx, 0, 10); err != nil {
						return err
					}
					nested, err = dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "bob@example.com"}, identity.CreateOptions{})
					if err != nil {
						return err
					}
					if err := dir.DryRun(ctx, identity.SourceManual, func(context.Context, *identity.Tx) error { return nil }); !errors.Is(err, identity.ErrInvalid) {
						return errors.New("a DryRun inside Do did not return ErrInvalid")
					}
					return nil
				})
			}()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-ctx.Done():
				t.Fatal("reading through the Directory inside its Do waits for ever")
			}
			// The nested change committed with the transaction, and its
			// event was emitted with the transaction's, once.
			_, err = dir.Reader().User(context.Background(), nested.ID)
			require.NoError(t, err)
			var createdIDs []string
			for _, e := range sink.Events() {
				if e.Type == identity.UserCreated {
					createdIDs = append(createdIDs, e.UserID)
				}
			}
			assert.Equal(t, []string{created.ID, nested.ID}, createdIDs)
			// Outside Do, the Directory reads the store.
			got, err := dir.Reader().UserByEmail(context.Background(), "bob@example.com")
			require.NoError(t, err)
			assert.Equal(t, nested.ID, got.ID)
		})
	}
}

// A nested Do whose function fails makes the running Do fail when it
// passes the error on: nothing of either is stored.
func TestNestedDoFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	boom := errors.New("boom")
	err := f.dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		if _, err := tx.CreateUser(ctx, identity.User{Email: "a@example.com"}, identity.CreateOptions{}); err != nil {
			return err
		}
		return f.dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
			if _, err := tx.CreateUser(ctx, identity.User{Email: "b@example.com"}, identity.CreateOptions{}); err != nil {
				return err
			}
			return boom
		})
	})
	require.ErrorIs(t, err, boom)
	for _, email := range []string{"a@example.com", "b@example.com"} {
		_, err := f.dir.Reader().UserByEmail(ctx, email)
		assert.ErrorIs(t, err, identity.ErrNotFound, email)
	}
	assert.Empty(t, f.sink.Events())
}

// The source policy covers deactivating and deleting: a source the
// defaults do not know, or an SSO source, may do neither.
func TestPolicyCoversDeactivateAndDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{Sources: map[string]identity.SourcePolicy{
		"host-sync": {Deactivate: true},
	}})
	u, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "a@example.com"}, identity.CreateOptions{})
	require.NoError(t, err)
	for _, c := range []struct {
		source             identity.Source
		deactivate, delete bool
	}{
		{"unknown", false, false},
		{entra, false, false},
		{"oauth:google", false, false},
		{identity.SourceGoogle, true, false},
		{identity.SourceImport, true, false},
		{"host-sync", true, false},
		{identity.SourceSCIM, true, true},
		{identity.SourceManual, true, true},
	} {
		t.Run(string(c.source), func(t *testing.T) {
			p := f.dir.Policy(c.source)
			assert.Equal(t, c.deactivate, p.Deactivate, "Policy.Deactivate")
			assert.Equal(t, c.delete, p.Delete, "Policy.Delete")
			err := f.dir.DryRun(ctx, c.source, func(ctx context.Context, tx *identity.Tx) error {
				_, err := tx.Deactivate(ctx, u.ID)
				if c.deactivate {
					assert.NoError(t, err, "Deactivate")
				} else {
					assert.ErrorIs(t, err, identity.ErrNotAllowed, "Deactivate")
				}
				_, err = tx.UpdateUser(ctx, u.ID, 0, func(u *identity.User) error { u.Active = false; return nil })
				if c.deactivate {
					assert.NoError(t, err, "UpdateUser(Active false)")
				} else {
					assert.ErrorIs(t, err, identity.ErrNotAllowed, "UpdateUser(Active false)")
				}
				err = tx.DeleteUser(ctx, u.ID)
				if c.delete {
					assert.NoError(t, err, "DeleteUser")
				} else {
					assert.ErrorIs(t, err, identity.ErrNotAllowed, "DeleteUser")
				}
				return nil
			})
			require.NoError(t, err)
		})
	}
	got, err := f.dir.Reader().User(ctx, u.ID)
	require.NoError(t, err)
	assert.True(t, got.Active)
}

// One rule for every source: a source that vouches for an email marks it
// verified on the user it finds by that email, whether it signs the user in
// or provisions them; a source that does not vouch (a file import) leaves it
// unverified.
func TestMatchedEmailVerifiedByOneRule(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		source   identity.Source
		upsert   bool
		verified bool
		want     bool
	}{
		{"saml sign-in", entra, false, false, true},
		{"oauth sign-in, verified", "oauth:google", false, true, true},
		{"google upsert", identity.SourceGoogle, true, false, true},
		{"scim upsert", identity.SourceSCIM, true, false, true},
		{"import upsert", identity.SourceImport, true, false, false},
		{"import upsert claiming verified", identity.SourceImport, true, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, identity.Config{})
			manual, err := f.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "ada@example.com"}, identity.CreateOptions{})
			require.NoError(t, err)
			require.False(t, manual.EmailVerified)
			var got identity.User
			if c.upsert {
				got, _, err = f.dir.Upsert(ctx, c.source, identity.User{Email: "ADA@example.com", EmailVerified: c.verified}, identity.UpsertOptions{Subject: "s1"})
			} else {
				var res identity.SignInResult
				res, err = f.dir.SignIn(ctx, c.source, identity.Claims{Subject: "s1", Email: "ADA@example.com", EmailVerified: c.verified})
				got = res.User
			}
			require.NoError(t, err)
			assert.Equal(t, manual.ID, got.ID, "found by email")
			assert.Equal(t, c.want, got.EmailVerified, "EmailVerified")
		})
	}
}
