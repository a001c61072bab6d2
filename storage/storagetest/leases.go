package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// RunLeaseStore runs the conformance suite of identity.LeaseStore, one
// subtest per case. newLeaseStore is called once per subtest: it returns a
// LeaseStore with no leases that judges expiry by clock (a fake the suite
// steps), with its cleanup registered on t. The suite steps the clock well
// past each expiry, never onto it. The concurrency case is meant for -race.
func RunLeaseStore(t *testing.T, newLeaseStore func(t *testing.T, clock identity.Clock) identity.LeaseStore) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, ls identity.LeaseStore, clock *stepClock)
	}{
		{"Acquire", testLeaseAcquire},
		{"Renew", testLeaseRenew},
		{"Expiry", testLeaseExpiry},
		{"Release", testLeaseRelease},
		{"Jobs", testLeaseJobs},
		{"ConcurrentAcquire", testLeaseConcurrentAcquire},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := &stepClock{now: base}
			c.run(t, newLeaseStore(t, clock), clock)
		})
	}
}

func acquire(t *testing.T, ls identity.LeaseStore, job, owner string, ttl time.Duration, want bool) identity.Lease {
	t.Helper()
	l, ok, err := ls.Acquire(t.Context(), job, owner, ttl)
	if err != nil {
		t.Fatalf("Acquire(%q, %q): %v", job, owner, err)
	}
	if ok != want {
		t.Fatalf("Acquire(%q, %q) = %v (lease %+v), want %v", job, owner, ok, l, want)
	}
	return l
}

func wantLease(t *testing.T, what string, got identity.Lease, job, owner string, expires time.Time) {
	t.Helper()
	if got.Job != job || got.Owner != owner || !timesEqual(got.Expires, expires) {
		t.Errorf("%s = {%q %q %v}, want {%q %q %v}", what, got.Job, got.Owner, normTime(got.Expires), job, owner, normTime(expires))
	}
}

func testLeaseAcquire(t *testing.T, ls identity.LeaseStore, clock *stepClock) {
	ctx := t.Context()
	if _, err := ls.Lease(ctx, "sync:acme"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Lease of a job never leased: %v, want ErrNotFound", err)
	}
	l := acquire(t, ls, "sync:acme", "replica-1", time.Minute, true)
	wantLease(t, "Acquire", l, "sync:acme", "replica-1", clock.Now().Add(time.Minute))
	if l.Epoch <= 0 {
		t.Errorf("Acquire: epoch %d, want > 0", l.Epoch)
	}
	held := acquire(t, ls, "sync:acme", "replica-2", time.Minute, false)
	wantLease(t, "Acquire of a held lease", held, "sync:acme", "replica-1", clock.Now().Add(time.Minute))
	got, err := ls.Lease(ctx, "sync:acme")
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	wantLease(t, "Lease", got, "sync:acme", "replica-1", clock.Now().Add(time.Minute))
	// The holder acquiring again renews, keeping the epoch.
	clock.step(20 * time.Second)
	again := acquire(t, ls, "sync:acme", "replica-1", time.Minute, true)
	wantLease(t, "Acquire by the holder", again, "sync:acme", "replica-1", clock.Now().Add(time.Minute))
	if again.Epoch != l.Epoch {
		t.Errorf("Acquire by the holder: epoch %d, want %d", again.Epoch, l.Epoch)
	}
}

func testLeaseRenew(t *testing.T, ls identity.LeaseStore, clock *stepClock) {
	ctx := t.Context()
	first := acquire(t, ls, "job", "a", time.Minute, true)
	for range 3 {
		clock.step(50 * time.Second)
		l, err := ls.Renew(ctx, "job", "a", time.Minute)
		if err != nil {
			t.Fatalf("Renew before expiry: %v", err)
		}
		wantLease(t, "Renew", l, "job", "a", clock.Now().Add(time.Minute))
		if l.Epoch != first.Epoch {
			t.Errorf("Renew changed the epoch: %d, want %d", l.Epoch, first.Epoch)
		}
		acquire(t, ls, "job", "b", time.Minute, false)
	}
	if _, err := ls.Renew(ctx, "job", "b", time.Minute); !errors.Is(err, identity.ErrLeaseLost) {
		t.Errorf("Renew by a non-holder: %v, want ErrLeaseLost", err)
	}
	if _, err := ls.Renew(ctx, "other-job", "a", time.Minute); !errors.Is(err, identity.ErrLeaseLost) {
		t.Errorf("Renew of a job never leased: %v, want ErrLeaseLost", err)
	}
	clock.step(61 * time.Second)
	if _, err := ls.Renew(ctx, "job", "a", time.Minute); !errors.Is(err, identity.ErrLeaseLost) {
		t.Errorf("Renew after expiry: %v, want ErrLeaseLost", err)
	}
}

func testLeaseExpiry(t *testing.T, ls identity.LeaseStore, clock *stepClock) {
	ctx := t.Context()
	first := acquire(t, ls, "job", "a", time.Minute, true)
	clock.step(59 * time.Second)
	acquire(t, ls, "job", "b", time.Minute, false)
	clock.step(2 * time.Second)
	if _, err := ls.Lease(ctx, "job"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Lease after expiry: %v, want ErrNotFound", err)
	}
	taken := acquire(t, ls, "job", "b", time.Minute, true)
	wantLease(t, "Acquire of an expired lease", taken, "job", "b", clock.Now().Add(time.Minute))
	if taken.Epoch <= first.Epoch {
		t.Errorf("epoch after takeover %d, want > %d", taken.Epoch, first.Epoch)
	}
	if _, err := ls.Renew(ctx, "job", "a", time.Minute); !errors.Is(err, identity.ErrLeaseLost) {
		t.Errorf("Renew by the former holder: %v, want ErrLeaseLost", err)
	}
	// The former holder's release does not end the new holder's lease.
	if err := ls.Release(ctx, "job", "a"); err != nil {
		t.Fatalf("Release by a non-holder: %v", err)
	}
	got, err := ls.Lease(ctx, "job")
	if err != nil || got.Owner != "b" {
		t.Errorf("Lease after a non-holder's Release = %+v, %v; want b's", got, err)
	}
	// Taken again by the same owner after its own expiry: a new epoch.
	clock.step(2 * time.Minute)
	again := acquire(t, ls, "job", "b", time.Minute, true)
	if again.Epoch <= taken.Epoch {
		t.Errorf("epoch after taking an expired lease again %d, want > %d", again.Epoch, taken.Epoch)
	}
}

func testLeaseRelease(t *testing.T, ls identity.LeaseStore, clock *stepClock) {
	ctx := t.Context()
	first := acquire(t, ls, "job", "a", time.Hour, true)
	if err := ls.Release(ctx, "job", "a"); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := ls.Lease(ctx, "job"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Lease after Release: %v, want ErrNotFound", err)
	}
	if _, err := ls.Renew(ctx, "job", "a", time.Hour); !errors.Is(err, identity.ErrLeaseLost) {
		t.Errorf("Renew after Release: %v, want ErrLeaseLost", err)
	}
	l := acquire(t, ls, "job", "b", time.Hour, true)
	if l.Epoch <= first.Epoch {
		t.Errorf("epoch after a release %d, want > %d", l.Epoch, first.Epoch)
	}
	if err := ls.Release(ctx, "never-leased", "a"); err != nil {
		t.Errorf("Release of a job never leased: %v", err)
	}
	if _, _, err := ls.Acquire(ctx, "job2", "a", 0); err == nil {
		t.Error("Acquire with ttl 0: no error")
	}
}

func testLeaseJobs(t *testing.T, ls identity.LeaseStore, clock *stepClock) {
	acquire(t, ls, "sync:acme", "a", time.Minute, true)
	acquire(t, ls, "sync:globex", "b", time.Minute, true)
	acquire(t, ls, "sync:acme", "b", time.Minute, false)
	acquire(t, ls, "sync:globex", "a", time.Minute, false)
}

// testLeaseConcurrentAcquire has many owners race for one lease, round after
// round: in each round exactly one wins, and it alone renews.
func testLeaseConcurrentAcquire(t *testing.T, ls identity.LeaseStore, clock *stepClock) {
	ctx := t.Context()
	for round := range 3 {
		var won atomic.Int64
		var winner atomic.Value
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				owner := fmt.Sprintf("replica-%d", w)
				_, ok, err := ls.Acquire(ctx, "contended", owner, time.Minute)
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				if ok {
					won.Add(1)
					winner.Store(owner)
				}
				if _, err := ls.Renew(ctx, "contended", owner, time.Minute); ok != (err == nil) {
					t.Errorf("round %d: %s won %v but Renew gave %v", round, owner, ok, err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("round %d: %d of %d concurrent Acquire calls won, want 1", round, won.Load(), workers)
		}
		l, err := ls.Lease(ctx, "contended")
		if err != nil || l.Owner != winner.Load() {
			t.Errorf("round %d: Lease = %+v, %v; want the winner %v", round, l, err, winner.Load())
		}
		clock.step(2 * time.Minute)
	}
}
