package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rollcall/rollcall/identity"
)

var _ identity.LeaseStore = (*LeaseStore)(nil)

var (
	// acquireLease inserts the lease, or takes over the row when the owner
	// holds it already or its holder's lease has expired (or was released:
	// owner ''); it returns a row only when it did either. The epoch grows
	// unless the owner renews a lease it still holds.
	acquireLease = prep("INSERT INTO rollcall_leases (job, owner, expires, epoch) VALUES (?, ?, ?, 1) " +
		"ON CONFLICT (job) DO UPDATE SET owner = excluded.owner, expires = excluded.expires, " +
		"epoch = CASE WHEN rollcall_leases.owner = excluded.owner AND rollcall_leases.expires > ? " +
		"THEN rollcall_leases.epoch ELSE rollcall_leases.epoch + 1 END " +
		"WHERE rollcall_leases.owner = excluded.owner OR rollcall_leases.expires <= ? OR rollcall_leases.owner = '' " +
		"RETURNING epoch")
	renewLease = prep("UPDATE rollcall_leases SET expires = ? WHERE job = ? AND owner = ? AND expires > ? RETURNING epoch")
	// releaseLease keeps the row, so that the epoch keeps growing.
	releaseLease = prep("UPDATE rollcall_leases SET owner = '', expires = 0 WHERE job = ? AND owner = ?")
	selectLease  = prep("SELECT owner, expires, epoch FROM rollcall_leases WHERE job = ? AND owner <> '' AND expires > ?")
)

// LeaseStore is the identity.LeaseStore of a DB, from DB.Leases: one row per
// job in rollcall_leases, shared by every process on the database. Each
// method is one statement, atomic on its own, with no lock held between
// statements and none tied to a session, so it works behind PgBouncer's
// transaction pooling. Expiry is judged by the DB's Clock; replicas whose
// clocks disagree by d see a lease end up to d early or late.
type LeaseStore struct {
	db *DB
}

// Leases returns the DB's lease store.
func (db *DB) Leases() *LeaseStore { return &LeaseStore{db: db} }

// Acquire implements identity.LeaseStore.
func (s *LeaseStore) Acquire(ctx context.Context, job, owner string, ttl time.Duration) (identity.Lease, bool, error) {
	if err := checkLease(job, owner, ttl); err != nil {
		return identity.Lease{}, false, err
	}
	now := s.db.now()
	l := identity.Lease{Job: job, Owner: owner, Expires: now.Add(ttl)}
	var won bool
	err := s.db.retryStmt(ctx, func(c conn) error {
		err := c.row(ctx, acquireLease, job, owner, micros(l.Expires), micros(now), micros(now)).Scan(&l.Epoch)
		if errors.Is(err, sql.ErrNoRows) {
			won = false
			return nil
		}
		won = err == nil
		return c.d.mapErr(err, "acquire lease")
	})
	if err != nil {
		return identity.Lease{}, false, err
	}
	if won {
		return l, true, nil
	}
	held, err := s.Lease(ctx, job)
	if errors.Is(err, identity.ErrNotFound) {
		// It expired or was released in between: the caller may try again.
		return identity.Lease{Job: job}, false, nil
	}
	return held, false, err
}

// Renew implements identity.LeaseStore.
func (s *LeaseStore) Renew(ctx context.Context, job, owner string, ttl time.Duration) (identity.Lease, error) {
	if err := checkLease(job, owner, ttl); err != nil {
		return identity.Lease{}, err
	}
	now := s.db.now()
	l := identity.Lease{Job: job, Owner: owner, Expires: now.Add(ttl)}
	err := s.db.retryStmt(ctx, func(c conn) error {
		err := c.row(ctx, renewLease, micros(l.Expires), job, owner, micros(now)).Scan(&l.Epoch)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: lease %q: %w", job, identity.ErrLeaseLost)
		}
		return c.d.mapErr(err, "renew lease")
	})
	if err != nil {
		return identity.Lease{}, err
	}
	return l, nil
}

// Release implements identity.LeaseStore.
func (s *LeaseStore) Release(ctx context.Context, job, owner string) error {
	return s.db.retryStmt(ctx, func(c conn) error {
		_, err := c.exec(ctx, releaseLease, job, owner)
		return c.d.mapErr(err, "release lease")
	})
}

// Lease implements identity.LeaseStore.
func (s *LeaseStore) Lease(ctx context.Context, job string) (identity.Lease, error) {
	c := s.db.on(s.db.rdb, nil)
	l := identity.Lease{Job: job}
	var expires int64
	err := c.row(ctx, selectLease, job, micros(s.db.now())).Scan(&l.Owner, &expires, &l.Epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return identity.Lease{}, notFound("lease")
	}
	if err != nil {
		return identity.Lease{}, c.d.mapErr(err, "lease")
	}
	l.Expires = fromMicros(expires)
	return l, nil
}

// checkLease checks a LeaseStore call's arguments.
func checkLease(job, owner string, ttl time.Duration) error {
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
