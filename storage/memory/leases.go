package memory

import (
	"context"

	"fmt"
	"sync"
	"time"

	"github.com/rollcall/rollcall/identity"
)

var _ identity.LeaseStore = (*LeaseStore)(nil)

// leaseTable holds the leases of a DB, by job.
type leaseTable struct {
	mu sync.Mutex
	m  map[string]identity.Lease
}

// LeaseStore implements identity.LeaseStore in memory; get one from
// DB.Leases. The LeaseStores of one DB share their leases, whatever their
// clocks. It is safe for concurrent use, and serves the goroutines of one
// process only.
type LeaseStore struct {
	t     *leaseTable
	clock identity.Clock
}

// Leases returns a LeaseStore over the DB's leases that judges expiry by
// clock (the system clock if nil).
func (db *DB) Leases(clock identity.Clock) *LeaseStore {
	if clock == nil {
		clock = systemClock{}
	}
	return &LeaseStore{t: &db.leases, clock: clock}
}

// held reports whether l is held at now.
func held(l identity.Lease, now time.Time) bool { return l.Owner != "" && now.Before(l.Expires) }

// Acquire implements identity.LeaseStore.
func (s *LeaseStore) Acquire(ctx context.Context, job, owner string, ttl time.Duration) (identity.Lease, bool, error) {
	if err := checkLease(ctx, job, owner, ttl); err != nil {
		return identity.Lease{}, false, err
	}
	now := s.clock.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	l := s.t.m[job]
	switch {
	case held(l, now) && l.Owner != owner:
		return l, false, nil
	case !held(l, now):
		l.Epoch++
	}
	l.Job, l.Owner, l.Expires = job, owner, now.Add(ttl)
	if s.t.m == nil {
		s.t.m = make(map[string]identity.Lease)
	}
	s.t.m[job] = l
	return l, true, nil
}

// Renew implements identity.LeaseStore.
func (s *LeaseStore) Renew(ctx context.Context, job, owner string, ttl time.Duration) (identity.Lease, error) {
	if err := checkLease(ctx, job, owner, ttl); err != nil {
		return identity.Lease{}, err
	}
	now := s.clock.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	l, ok := s.t.m[job]
	if !ok || l.Owner != owner || !held(l, now) {
		return identity.Lease{}, fmt.Errorf("memory: lease %q: %w", job, identity.ErrLeaseLost)
	}
	l.Expires = now.Add(ttl)
	s.t.m[job] = l
	return l, nil
}

// Release implements identity.LeaseStore. The job's epoch is kept.
func (s *LeaseStore) Release(ctx context.Context, job, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if l, ok := s.t.m[job]; ok && l.Owner == owner {
		l.Owner, l.Expires = "", time.Time{}
		s.t.m[job] = l
	}
	return nil
}

// Lease implements identity.LeaseStore.
func (s *LeaseStore) Lease(ctx context.Context, job string) (identity.Lease, error) {
	if err := ctx.Err(); err != nil {
		return identity.Lease{}, err
	}
	now := s.clock.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	l, ok := s.t.m[job]
	if !ok || !held(l, now) {
		return identity.Lease{}, fmt.Errorf("memory: lease %q: %w", job, identity.ErrNotFound)
	}
	return l, nil
}

// checkLease checks the arguments every store checks.
func checkLease(ctx context.Context, job, owner string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v := &identity.ValidationError{}
	if job == "" {
		v.Add("job", "is empty")
	}
	if owner == "" {
		v.Add("owner", "is empty")
	}
	if ttl <= 0 {
		v.Add("ttl", "must be positive")
	}
	return v.Err()
}
