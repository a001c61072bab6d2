package sqlstore

import (
	"context"
	"errors"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// TestCancelledWrite checks that SQLite writes, whose statements run
// detached from the caller's cancellation, still stop once the context is
// done: before the transaction begins, and at the next statement of one
// under way, which is then rolled back.
func TestCancelledWrite(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, Options{}).Tenant("t")
			done, cancel := context.WithCancel(t.Context())
			cancel()
			if _, err := s.CreateUser(done, identity.User{UserName: "early"}); !errors.Is(err, context.Canceled) {
				t.Errorf("CreateUser under a cancelled context: %v, want context.Canceled", err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
				if _, err := tx.CreateUser(ctx, identity.User{UserName: "first"}); err != nil {
					return err
				}
				cancel()
				_, err := tx.CreateUser(ctx, identity.User{UserName: "second"})
				return err
			})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("a transaction cancelled between statements returned %v, want context.Canceled", err)
			}
			p, err := s.ListUsers(t.Context(), identity.UserQuery{Limit: 10})
			if err != nil || p.Total != 0 {
				t.Errorf("after the cancelled writes the store holds %d users (%v), want none", p.Total, err)
			}
		})
	}
}
