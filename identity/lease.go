package identity

import (
	"context"
	"errors"
	"time"
)

// ErrLeaseLost: the caller no longer holds the lease it names: it expired
// (and may have been taken by another owner) or was released.
var ErrLeaseLost = errors.New("lease lost")

// Lease is the hold of one owner on a named job until Expires.
type Lease struct {
	// Job names the work: "googlesync:<tenant>", "webhook:<tenant>",
	// "sweep:keys"...
	Job string
	// Owner names the holder: a replica's own random name.
	Owner string
	// Expires is when the lease ends unless renewed, by the store's clock.
	Expires time.Time
	// Epoch counts the times the lease changed hands (or was taken again
	// after it expired or was released): a fencing token that only grows.
	// Renewals keep it.
	Epoch int64
}

// LeaseStore keeps leases on named jobs, shared by every replica of a host,
// so that a background job runs on one replica at a time. Leases are not
// per tenant: a job's name says which tenant it serves. Expiry is judged by
// the store's own Clock, and a lease has expired once the clock reaches
// Expires. A store keeps no session state: a lease is a row, never a lock
// held by a connection.
type LeaseStore interface {
	// Acquire gives owner the lease on job for ttl from now and reports true
	// if nobody holds it, its lease has expired or was released, or owner
	// holds it already (which renews it). Otherwise it reports false and the
	// current holder's lease, and changes nothing. ttl must be positive.
	Acquire(ctx context.Context, job, owner string, ttl time.Duration) (Lease, bool, error)
	// Renew extends owner's lease on job to ttl from now. It returns
	// ErrLeaseLost if owner does not hold an unexpired lease on job.
	Renew(ctx context.Context, job, owner string, ttl time.Duration) (Lease, error)
	// Release ends owner's lease on job at once, so another owner may take
	// it. Releasing a lease owner does not hold does nothing.
	Release(ctx context.Context, job, owner string) error
	// Lease returns the current, unexpired lease on job, or ErrNotFound.
	Lease(ctx context.Context, job string) (Lease, error)
}
