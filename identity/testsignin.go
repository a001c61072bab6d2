package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rollcall/rollcall/groups"
)

// ConnectionTested is the event of a test sign-in (TestSignIn): the one
// thing a test writes.
const ConnectionTested EventType = "connection.tested"

// How a test sign-in found its user (SignInTest.Resolved).
const (
	ResolvedByLink  = "link"  // the link (source, subject) was known
	ResolvedByEmail = "email" // the email found a user, who would be linked
	ResolvedNew     = "new"   // a user would be created just in time
)

// SignInTest is what a sign-in would do, found by running it in a
// transaction that is rolled back.
type SignInTest struct {
	// Claims are what the source asserted, as the core received them.
	Claims Claims
	// Resolved is ResolvedByLink, ResolvedByEmail or ResolvedNew; empty
	// when the sign-in would be refused before a user is found.
	Resolved string
	// User is the user as the sign-in would leave them.
	User User
	// Changed names the user's fields the sign-in would change.
	Changed []string
	// Groups is the group plan: attach, detach, create, convert.
	Groups groups.Plan
	// Err is why the sign-in would be refused (ErrDeactivated, ErrNotAllowed,
	// a *ConflictError, a *ValidationError...); nil if it would succeed.
	Err error `json:"-"`
}

// TestSignIn runs SignIn for c as source would, in a transaction that is
// rolled back: no user, link, membership or event is written. Then it
// records one ConnectionTested event of the source, naming the user found,
// if any. Refusals of the sign-in are reported in the SignInTest; the error
// is for a failure of the store.
func (d *Directory) TestSignIn(ctx context.Context, source Source, c Claims) (SignInTest, error) {
	test := SignInTest{Claims: c}
	err := d.DryRun(ctx, source, func(ctx context.Context, tx *Tx) error {
		test = SignInTest{Claims: c}
		res, err := tx.SignIn(ctx, c)
		if err != nil {
			if !refusal(err) {
				return err
			}
			test.Err = err
			return nil
		}
		test.User, test.Groups = res.User, res.Groups
		switch {
		case res.Created:
			test.Resolved = ResolvedNew
		case res.Linked:
			test.Resolved = ResolvedByEmail
		default:
			test.Resolved = ResolvedByLink
		}
		for _, e := range tx.Events() {
			if e.Type == UserUpdated && e.UserID == res.User.ID {
				test.Changed = append(test.Changed, e.Fields...)
			}
		}
		slices.Sort(test.Changed)
		test.Changed = slices.Compact(test.Changed)
		return nil
	})
	if err != nil {
		return SignInTest{}, fmt.Errorf("identity: test sign-in: %w", err)
	}
	err = d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		tx.emit(ConnectionTested, test.User.ID, "")
		return nil
	})
	if err != nil {
		return SignInTest{}, fmt.Errorf("identity: test sign-in: %w", err)
	}
	return test, nil
}

// refusal reports whether err is the core refusing a sign-in, as opposed to
// a failure of the store.
func refusal(err error) bool {
	for _, e := range []error{ErrDeactivated, ErrNotAllowed, ErrConflict, ErrInvalid, ErrNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
