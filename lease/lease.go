// Package lease runs background jobs under an identity.LeaseStore lease, so
// that each runs on one replica of a host at a time.
//
// A Runner takes the lease on a job, renews it while the job runs and
// releases it when the job returns; the job's context is cancelled as soon as
// the lease is lost. A replica that dies stops renewing, its lease expires
// after at most Config.TTL, and a replica waiting in Keep takes the job over
// at its next try: within TTL + RetryEvery of the last renewal.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// ErrHeld is returned by Runner.Run when another owner holds the job's lease.
var ErrHeld = errors.New("lease: held by another owner")

// Defaults of Config.
const (
	DefaultTTL = 30 * time.Second
)

// Config configures a Runner. Only Store is required.
type Config struct {
	// Store keeps the leases, shared by every replica.
	Store identity.LeaseStore
	// Owner names this replica in the leases it takes. Empty means the
	// host name, the process ID and random bytes: unique per Runner.
	Owner string
	// TTL is how long a lease lasts unless renewed: the bound on how long a
	// dead holder keeps a job. Zero means DefaultTTL (30 s).
	TTL time.Duration
	// RenewEvery is how often a holder renews. Zero means TTL/3. It must
	// be below TTL.
	RenewEvery time.Duration
	// RetryEvery is how often Keep tries to take a lease someone else holds.
	// Zero means TTL/3.
	RetryEvery time.Duration
	// Logger receives lease changes at Info and store errors at Warn. Nil
	// discards.
	Logger *slog.Logger
}

// Runner runs jobs under leases. It is safe for concurrent use.
type Runner struct {
	cfg Config
	log *slog.Logger
}

// New validates cfg and returns a Runner.
func New(cfg Config) (*Runner, error) {
	v := &identity.ValidationError{}
	if cfg.Store == nil {
		v.Add("Store", "is required")
	}
	if cfg.TTL < 0 || cfg.RenewEvery < 0 || cfg.RetryEvery < 0 {
		v.Add("TTL", "TTL, RenewEvery and RetryEvery may not be negative")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.RenewEvery == 0 {
		cfg.RenewEvery = cfg.TTL / 3
	}
	if cfg.RetryEvery == 0 {
		cfg.RetryEvery = cfg.TTL / 3
	}
	if cfg.RenewEvery >= cfg.TTL {
		v.Add("RenewEvery", "must be shorter than TTL")
	}
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	if cfg.Owner == "" {
		cfg.Owner = defaultOwner()
	}
	r := &Runner{cfg: cfg, log: cfg.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

func defaultOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Owner returns the name the Runner takes leases under.
func (r *Runner) Owner() string { return r.cfg.Owner }

// TTL returns how long the Runner's leases last unless renewed.
func (r *Runner) TTL() time.Duration { return r.cfg.TTL }

// RetryEvery returns how often Keep tries to take a lease held by another.
func (r *Runner) RetryEvery() time.Duration { return r.cfg.RetryEvery }

// Run takes the lease on job and runs fn under it, renewing the lease while
// fn runs and releasing it when fn returns. fn's context is cancelled, with
// a cause matching identity.ErrLeaseLost, when the lease is lost: a renewal
// finds it gone, or the store cannot be reached before the lease would
// expire. Run then returns fn's error joined with the loss. If another owner
// holds the lease, Run returns ErrHeld without calling fn.
func (r *Runner) Run(ctx context.Context, job string, fn func(ctx context.Context) error) error {
	// The lease runs from when the store took the call, which is after
	// this: counting from here, the holder never thinks it has more time
	// than the store gives it.
	acquired := time.Now()
	l, ok, err := r.cfg.Store.Acquire(ctx, job, r.cfg.Owner, r.cfg.TTL)
	if err != nil {
		return fmt.Errorf("lease: acquire %q: %w", job, err)
	}
	if !ok {
		return fmt.Errorf("lease: %q (holder %s): %w", job, l.Owner, ErrHeld)
	}
	r.log.InfoContext(ctx, "lease: acquired", "job", job, "owner", r.cfg.Owner, "epoch", l.Epoch)
	work, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		r.renew(work, job, acquired, cancel)
	}()
	err = fn(work)
	lost := context.Cause(work)
	cancel(context.Canceled)
	<-renewed
	if errors.Is(lost, identity.ErrLeaseLost) {
		r.log.WarnContext(ctx, "lease: lost", "job", job, "owner", r.cfg.Owner, "err", lost)
		return errors.Join(err, lost)
	}
	// Released with a context of its own: ctx may be done already.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.RenewEvery)
	defer rcancel()
	if rerr := r.cfg.Store.Release(rctx, job, r.cfg.Owner); rerr != nil {
		r.log.WarnContext(ctx, "lease: release", "job", job, "err", rerr)
	}
	return err
}

// renew renews the lease every RenewEvery until ctx is done; it cancels
// ctx with ErrLeaseLost when the lease is lost, or when it could not renew
// and the lease would expire before the next try.
func (r *Runner) renew(ctx context.Context, job string, last time.Time, cancel context.CancelCauseFunc) {
	t := time.NewTicker(r.cfg.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The renewal may take until shortly before the lease would
		// expire: a busy store is slow, not lost.
		rctx, rcancel := context.WithTimeout(ctx, max(r.cfg.TTL-time.Since(last)-r.cfg.RenewEvery/4, time.Millisecond))
		sent := time.Now() // the renewed lease runs from after this
		_, err := r.cfg.Store.Renew(rctx, job, r.cfg.Owner, r.cfg.TTL)
		rcancel()
		switch {
		case err == nil:
			last = sent
		case errors.Is(err, identity.ErrLeaseLost):
			cancel(fmt.Errorf("lease: %q: %w", job, err))
			return
		case ctx.Err() != nil:
			return
		default:
			r.log.WarnContext(ctx, "lease: renew", "job", job, "err", err)
			// Stop unless the next try, a tick away (half a tick more
			// for a late timer), still comes before the lease expires.
			if time.Since(last)+r.cfg.RenewEvery*3/2 >= r.cfg.TTL {
				cancel(fmt.Errorf("lease: %q: not renewed since %v (%v): %w", job, last.Format(time.RFC3339Nano), err, identity.ErrLeaseLost))
				return
			}
		}
	}
}

// Keep runs fn under the lease on job whenever this Runner can take it,
// until ctx is done: while another owner holds the lease it tries again
// every RetryEvery; when fn returns or the lease is lost it waits
// RetryEvery and takes it again. fn's errors are logged, not returned. Keep
// returns ctx's error.
func (r *Runner) Keep(ctx context.Context, job string, fn func(ctx context.Context) error) error {
	for {
		err := r.Run(ctx, job, fn)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ErrHeld):
		case err != nil:
			r.log.WarnContext(ctx, "lease: job", "job", job, "err", err)
		}
		t := time.NewTimer(r.cfg.RetryEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
