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

// createdEvents returns the user IDs of the UserCreated events, in order.
func createdEvents(events []identity.Event) []string {
	var ids []string
	for _, e := range events {
		if e.Type == identity.UserCreated {
			ids = append(ids, e.UserID)
		}
	}
	return ids
}

func userIDs(users []identity.User) []string {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

func TestTxCreateUsers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	now := f.clock.Now()
	in := []identity.NewUser{
		{User: identity.User{Email: " Alice@Example.com ", GivenName: " Alice ", Attributes: map[string]string{identity.AttrDepartment: " R&D "}}},
		{User: identity.User{UserName: "kiosk", ID: "ignored", Version: 9, Active: false}},
		{User: identity.User{Email: "bob@example.com", EmailVerified: true}, Options: identity.CreateOptions{Inactive: true}},
		{User: identity.User{Email: "carol@example.com"}, Options: identity.CreateOptions{Subject: "sub-carol"}},
	}
	var created []identity.User
	require.NoError(t, f.dir.Do(ctx, identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		created, err = tx.CreateUsers(ctx, in)
		return err
	}))
	require.Len(t, created, 4)
	alice, kiosk, bob, carol := created[0], created[1], created[2], created[3]
	assert.Equal(t, "Alice@Example.com", alice.Email, "trimmed as CreateUser trims")
	assert.Equal(t, "Alice@Example.com", alice.UserName, "userName defaults to the email")
	assert.Equal(t, "Alice", alice.GivenName)
	assert.Equal(t, map[string]string{identity.AttrDepartment: "R&D"}, alice.Attributes)
	assert.True(t, alice.EmailVerified, "SCIM verifies the emails it sets")
	assert.False(t, kiosk.EmailVerified, "no email to verify")
	assert.True(t, bob.EmailVerified)
	assert.Equal(t, []bool{true, true, false, true}, []bool{alice.Active, kiosk.Active, bob.Active, carol.Active})
	assert.NotEqual(t, "ignored", kiosk.ID)
	for i, u := range created {
		assert.NotEmpty(t, u.ID)
		assert.Equal(t, int64(1), u.Version, "user %d", i)
		assert.True(t, u.Created.Equal(now) && u.Updated.Equal(now), "user %d: the transaction's time", i)
		stored, err := f.store.User(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u.Email, stored.Email)
	}
	linked, err := f.store.UserByLink(ctx, identity.SourceSCIM, "sub-carol")
	require.NoError(t, err)
	assert.Equal(t, carol.ID, linked.ID)
	assert.Equal(t, userIDs(created), createdEvents(f.sink.Events()), "one UserCreated per user, in order")
	for _, e := range f.sink.Events() {
		assert.Equal(t, identity.SourceSCIM, e.Source)
		assert.Equal(t, "acme", e.Tenant)
	}
	assert.Len(t, f.sink.Events(), 4, "no other event")

	// The manual source does not vouch for emails.
	f.sink.Reset()
	require.NoError(t, f.dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		created, err = tx.CreateUsers(ctx, []identity.NewUser{{User: identity.User{Email: "dave@example.com"}}})
		return err
	}))
	require.Len(t, created, 1)
	assert.False(t, created[0].EmailVerified)

	// Nobody to create: nothing happens.
	f.sink.Reset()
	require.NoError(t, f.dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		created, err = tx.CreateUsers(ctx, nil)
		return err
	}))
	assert.Empty(t, created)
	assert.Empty(t, f.sink.Events())

	// A source that may not create.
	f2 := newFixture(t, identity.Config{Sources: map[string]identity.SourcePolicy{identity.SourceImport: {}}})
	err = f2.dir.Do(ctx, identity.SourceImport, func(ctx context.Context, tx *identity.Tx) error {
		_, err := tx.CreateUsers(ctx, []identity.NewUser{{User: identity.User{Email: "erin@example.com"}}})
		return err
	})
	require.ErrorIs(t, err, identity.ErrNotAllowed)
}

func TestTxCreateUsersAllOrNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, identity.Config{})
	taken, err := f.dir.CreateUser(ctx, identity.SourceGoogle, identity.User{Email: "taken@example.com", UserName: "taken"}, identity.CreateOptions{Subject: "g-taken"})
	require.NoError(t, err)
	f.sink.Reset()

	many := func(n int) []identity.NewUser {
		users := make([]identity.NewUser, n)
		for i := range users {
			users[i] = identity.NewUser{
				User:    identity.User{Email: fmt.Sprintf("u%03d@example.com", i), ExternalID: fmt.Sprintf("ext-%03d", i)},
				Options: identity.CreateOptions{Subject: fmt.Sprintf("g-%03d", i)},
			}
		}
		return users
	}
	cases := []struct {
		name  string
		set   func(users []identity.NewUser)
		index int
		check func(t *testing.T, err error)
	}{
		{"a bad email", func(u []identity.NewUser) { u[2].User.Email = "not an address" }, 2, func(t *testing.T, err error) {
			var ve *identity.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "email", ve.Fields[0].Field)
			assert.ErrorContains(t, err, "item 2")
		}},
		{"two bad users", func(u []identity.NewUser) { u[7].User.GivenName = "\x00"; u[3].User.Email, u[3].User.UserName = "", "" }, 3, func(t *testing.T, err error) {
			var ve *identity.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "userName", ve.Fields[0].Field)
		}},
		{"an email taken", func(u []identity.NewUser) { u[5].User.Email = " TAKEN@example.com" }, 5, conflictOf("user", "email")},
		{"a userName taken", func(u []identity.NewUser) { u[149].User.UserName = "Taken" }, 149, conflictOf("user", "userName")},
		{"an email twice", func(u []identity.NewUser) { u[140].User.Email = u[4].User.Email }, 140, conflictOf("user", "email")},
		{"one mailbox twice", func(u []identity.NewUser) { u[0].User.Email, u[1].User.Email = "j@müller.de", "J@xn--mller-kva.de" }, 1, conflictOf("user", "email")},
		{"a subject linked", func(u []identity.NewUser) { u[99].Options.Subject = "g-taken" }, 99, conflictOf("link", "subject")},
		{"a subject twice", func(u []identity.NewUser) { u[120].Options.Subject = u[6].Options.Subject }, 120, conflictOf("link", "subject")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.sink.Reset()
			users := many(150)
			c.set(users)
			var after identity.User
			require.NoError(t, f.dir.Do(ctx, identity.SourceGoogle, func(ctx context.Context, tx *identity.Tx) error {
				created, err := tx.CreateUsers(ctx, users)
				require.Error(t, err)
				assert.Empty(t, created)
				assert.ErrorContains(t, err, "identity: ")
				var ie *identity.ItemError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, c.index, ie.Index)
				c.check(t, err)
				// The transaction goes on.
				after, err = tx.CreateUser(ctx, identity.User{Email: "after@example.com"}, identity.CreateOptions{Subject: "g-000"})
				return err
			}))
			page, err := identity.ListUsers(ctx, f.store, identity.UserQuery{Limit: 1})
			require.NoError(t, err)
			assert.Equal(t, 2, page.Total, "the user stored before and the one created after the failed call")
			for _, i := range []int{0, c.index, 149} {
				_, err := f.store.UserByEmail(ctx, users[i].User.Email)
				if users[i].User.Email != "" && users[i].User.Email != " TAKEN@example.com" {
					require.ErrorIs(t, err, identity.ErrNotFound, "user %d", i)
				}
			}
			linked, err := f.store.UserByLink(ctx, identity.SourceGoogle, "g-000")
			require.NoError(t, err)
			assert.Equal(t, after.ID, linked.ID, "the failed call left no link")
			assert.Equal(t, []string{after.ID}, createdEvents(f.sink.Events()), "no event of the failed call")
			require.NoError(t, f.dir.DeleteUser(ctx, identity.SourceManual, after.ID))
		})
	}
	_, err = f.store.User(ctx, taken.ID)
	require.NoError(t, err)
}

// conflictOf checks that err holds a *ConflictError of the resource and
// field.
func conflictOf(resource, field string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var ce *identity.ConflictError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, identity.ConflictError{Resource: resource, Field: field}, *ce)
	}
}

// bulkStore counts the user writes of the store and of its transactions.
type bulkStore struct {
	identity.Store
	creates, bulkCreates *atomic.Int64
}

func (s bulkStore) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		return fn(ctx, bulkStore{Store: tx, creates: s.creates, bulkCreates: s.bulkCreates})
	})
}

func (s bulkStore) CreateUser(ctx context.Context, u identity.User) (identity.User, error) {
	s.creates.Add(1)
	return s.Store.CreateUser(ctx, u)
}

func (s bulkStore) CreateUsers(ctx context.Context, users []identity.User) ([]identity.User, error) {
	s.bulkCreates.Add(1)
	return s.Store.(identity.BulkUserCreator).CreateUsers(ctx, users)
}

func TestCreateUsersInBulk(t *testing.T) {
	ctx := context.Background()
	store := bulkStore{Store: memory.New().Tenant("acme"), creates: new(atomic.Int64), bulkCreates: new(atomic.Int64)}
	sink := &identitytest.Sink{}
	dir, err := identity.New(store, identity.Config{Tenant: "acme", Events: sink})
	require.NoError(t, err)
	users := make([]identity.NewUser, 500)
	for i := range users {
		users[i].User.Email = fmt.Sprintf("m%03d@example.com", i)
	}
	var created []identity.User
	require.NoError(t, dir.Do(ctx, identity.SourceImport, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		created, err = tx.CreateUsers(ctx, users)
		return err
	}))
	assert.Equal(t, int64(0), store.creates.Load(), "no user created one by one")
	assert.Equal(t, int64(1), store.bulkCreates.Load(), "the users are one CreateUsers")
	require.Len(t, created, len(users))
	for i, u := range created {
		assert.Equal(t, users[i].User.Email, u.Email, "in the order given")
	}
	assert.Equal(t, userIDs(created), createdEvents(sink.Events()))
}
