package lease_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/lease"
	"github.com/rollcall/rollcall/storage/memory"
)

const (
	ttl   = 300 * time.Millisecond
	renew = 50 * time.Millisecond
)

func newRunner(t *testing.T, store identity.LeaseStore, owner string) *lease.Runner {
	t.Helper()
	r, err := lease.New(lease.Config{Store: store, Owner: owner, TTL: ttl, RenewEvery: renew, RetryEvery: renew})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewValidates(t *testing.T) {
	if _, err := lease.New(lease.Config{}); !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("New without a Store: %v, want ErrInvalid", err)
	}
	store := memory.New().Leases(nil)
	if _, err := lease.New(lease.Config{Store: store, TTL: time.Second, RenewEvery: time.Second}); !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("New with RenewEvery = TTL: %v, want ErrInvalid", err)
	}
	a, err := lease.New(lease.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := lease.New(lease.Config{Store: store})
	if a.Owner() == "" || a.Owner() == b.Owner() {
		t.Errorf("default owners %q and %q: want distinct, non-empty", a.Owner(), b.Owner())
	}
}

// TestRunRenewsAndReleases runs a job for several TTLs: the lease stays
// with its runner all along, and is free once the job returns.
func TestRunRenewsAndReleases(t *testing.T) {
	store := memory.New().Leases(nil)
	a, b := newRunner(t, store, "a"), newRunner(t, store, "b")
	err := a.Run(t.Context(), "job", func(ctx context.Context) error {
		for range 4 {
			time.Sleep(ttl / 2)
			if err := b.Run(ctx, "job", func(context.Context) error { return nil }); !errors.Is(err, lease.ErrHeld) {
				t.Errorf("Run by another owner while held: %v, want ErrHeld", err)
			}
		}
		return ctx.Err()
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := store.Lease(t.Context(), "job"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Lease after Run: %v, want ErrNotFound (released)", err)
	}
	ran := false
	if err := b.Run(t.Context(), "job", func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("Run after release = %v, ran %v; want nil, true", err, ran)
	}
}

// TestRunStopsWhenLost takes the lease away from a running job: its context
// is cancelled at the next renewal, and Run reports the loss.
func TestRunStopsWhenLost(t *testing.T) {
	store := memory.New().Leases(nil)
	a := newRunner(t, store, "a")
	var stolenAt time.Time
	err := a.Run(t.Context(), "job", func(ctx context.Context) error {
		store.Release(ctx, "job", "a")
		if _, ok, err := store.Acquire(ctx, "job", "thief", time.Hour); !ok || err != nil {
			t.Fatalf("steal: %v %v", ok, err)
		}
		stolenAt = time.Now()
		<-ctx.Done()
		if !errors.Is(context.Cause(ctx), identity.ErrLeaseLost) {
			t.Errorf("cause %v, want ErrLeaseLost", context.Cause(ctx))
		}
		return nil
	})
	if !errors.Is(err, identity.ErrLeaseLost) {
		t.Errorf("Run = %v, want ErrLeaseLost", err)
	}
	if d := time.Since(stolenAt); d > ttl {
		t.Errorf("work stopped %v after the lease was taken, want within one renewal (%v)", d, renew)
	}
	if l, err := store.Lease(t.Context(), "job"); err != nil || l.Owner != "thief" {
		t.Errorf("lease after the loss = %+v, %v; want the thief's, not released", l, err)
	}
}

// cutStore is a LeaseStore that fails every call while cut: a replica cut
// off from the database, or dead.
type cutStore struct {
	identity.LeaseStore
	cut atomic.Bool
}

var errCut = errors.New("connection refused")

func (s *cutStore) Acquire(ctx context.Context, job, owner string, ttl time.Duration) (identity.Lease, bool, error) {
	if s.cut.Load() {
		return identity.Lease{}, false, errCut
	}
	return s.LeaseStore.Acquire(ctx, job, owner, ttl)
}

func (s *cutStore) Renew(ctx context.Context, job, owner string, ttl time.Duration) (identity.Lease, error) {
	if s.cut.Load() {
		return identity.Lease{}, errCut
	}
	return s.LeaseStore.Renew(ctx, job, owner, ttl)
}

func (s *cutStore) Release(ctx context.Context, job, owner string) error {
	if s.cut.Load() {
		return errCut
	}
	return s.LeaseStore.Release(ctx, job, owner)
}

// TestTakeover cuts the holder off from the store: it stops its work before
// its lease expires, and a replica waiting in Keep takes the job over within
// TTL + RetryEvery, never while the first still works.
func TestTakeover(t *testing.T) {
	shared := memory.New().Leases(nil)
	cut := &cutStore{LeaseStore: shared}
	a, b := newRunner(t, cut, "a"), newRunner(t, shared, "b")
	var (
		mu       sync.Mutex
		working  = map[string]bool{}
		overlap  bool
		aStopped time.Time
	)
	job := func(name string, started chan<- time.Time) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			mu.Lock()
			working[name] = true
			overlap = overlap || len(working) > 1
			mu.Unlock()
			started <- time.Now()
			<-ctx.Done()
			mu.Lock()
			delete(working, name)
			if name == "a" {
				aStopped = time.Now()
			}
			mu.Unlock()
			return nil
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	aStarted, bStarted := make(chan time.Time, 4), make(chan time.Time, 4)
	var wg sync.WaitGroup
	wg.Go(func() { a.Keep(ctx, "job", job("a", aStarted)) })
	<-aStarted
	wg.Go(func() { b.Keep(ctx, "job", job("b", bStarted)) })
	time.Sleep(ttl) // b waits: a renews
	select {
	case <-bStarted:
		t.Fatal("b started while a held the lease")
	default:
	}
	cutAt := time.Now()
	cut.cut.Store(true)
	var took time.Duration
	select {
	case at := <-bStarted:
		took = at.Sub(cutAt)
	case <-time.After(10 * ttl):
		t.Fatal("b never took the job over")
	}
	cancel()
	wg.Wait()
	if overlap {
		t.Error("a and b worked at the same time")
	}
	if bound := ttl + 2*renew; took > bound+200*time.Millisecond {
		t.Errorf("takeover took %v, want within about TTL + RetryEvery (%v)", took, bound)
	}
	if aStopped.IsZero() || aStopped.Sub(cutAt) > ttl {
		t.Errorf("a stopped %v after it was cut off, want before its lease expired (%v)", aStopped.Sub(cutAt), ttl)
	}
	t.Logf("takeover %v after the holder was cut off (TTL %v, retry %v)", took, ttl, renew)
}

// TestKeepOneAtATime has four replicas keep one job whose runs are short:
// the job runs many times, never twice at once.
func TestKeepOneAtATime(t *testing.T) {
	store := memory.New().Leases(nil)
	ctx, cancel := context.WithTimeout(t.Context(), 6*ttl)
	defer cancel()
	var running, runs, overlaps atomic.Int64
	var wg sync.WaitGroup
	for _, owner := range []string{"a", "b", "c", "d"} {
		r := newRunner(t, store, owner)
		wg.Go(func() {
			r.Keep(ctx, "job", func(ctx context.Context) error {
				if running.Add(1) > 1 {
					overlaps.Add(1)
				}
				runs.Add(1)
				time.Sleep(10 * time.Millisecond)
				running.Add(-1)
				return nil
			})
		})
	}
	wg.Wait()
	if overlaps.Load() != 0 || runs.Load() < 5 {
		t.Errorf("%d runs, %d overlapping; want at least 5 and none", runs.Load(), overlaps.Load())
	}
}

// slowAnswers is a cutStore whose renewals answer late: the store renews
// the lease when it takes the call, the holder hears of it delay later.
type slowAnswers struct {
	*cutStore
	delay   time.Duration
	mu      sync.Mutex
	renewed time.Time // when the store last renewed
}

func (s *slowAnswers) Renew(ctx context.Context, job, owner string, ttl time.Duration) (identity.Lease, error) {
	l, err := s.cutStore.Renew(ctx, job, owner, ttl)
	if err == nil {
		s.mu.Lock()
		s.renewed = time.Now()
		s.mu.Unlock()
		time.Sleep(s.delay)
	}
	return l, err
}

// TestSlowRenewalStopsInTime: the holder counts its lease from when it sent
// the renewal, not from when the answer came, so with slow answers and the
// store then cut off it still stops before the lease the store holds expires.
func TestSlowRenewalStopsInTime(t *testing.T) {
	store := &slowAnswers{cutStore: &cutStore{LeaseStore: memory.New().Leases(nil)}, delay: renew / 2}
	a := newRunner(t, store, "a")
	started, stopped := make(chan struct{}), make(chan time.Time, 1)
	go a.Run(t.Context(), "job", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		stopped <- time.Now()
		return nil
	})
	<-started
	time.Sleep(2 * ttl) // several slow renewals
	store.cut.Store(true)
	select {
	case at := <-stopped:
		store.mu.Lock()
		expires := store.renewed.Add(ttl)
		store.mu.Unlock()
		if !at.Before(expires) {
			t.Errorf("a stopped %v after its lease expired in the store", at.Sub(expires))
		}
	case <-time.After(10 * ttl):
		t.Fatal("a never stopped")
	}
}
