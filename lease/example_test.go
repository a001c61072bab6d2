package lease_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rollcall/rollcall/lease"
	"github.com/rollcall/rollcall/storage/memory"
)

// Two replicas share one lease store: while one runs the tenant's sync, the
// other is told the job is held, and runs it once the first is done.
func ExampleRunner_Run() {
	leases := memory.New().Leases(nil) // sqlstore.DB.Leases() across processes
	a, _ := lease.New(lease.Config{Store: leases, Owner: "replica-a"})
	b, _ := lease.New(lease.Config{Store: leases, Owner: "replica-b"})
	ctx := context.Background()

	_ = a.Run(ctx, "googlesync:acme", func(ctx context.Context) error {
		err := b.Run(ctx, "googlesync:acme", func(context.Context) error { return nil })
		fmt.Println("b while a runs:", errors.Is(err, lease.ErrHeld))
		return nil
	})
	err := b.Run(ctx, "googlesync:acme", func(context.Context) error {
		fmt.Println("b runs the sync")
		return nil
	})
	fmt.Println("b after a:", err)
	// Output:
	// b while a runs: true
	// b runs the sync
	// b after a: <nil>
}
