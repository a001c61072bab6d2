package googlesync

import (
	"context"
	"errors"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// Runner repeats a Syncer's sync of one Directory on an interval until its
// context ends. Its zero Interval and Jitter have defaults; Syncer and
// Directory are required.
type Runner struct {
	Syncer *Syncer
	// Directory is the tenant's core the syncs apply to.
	Directory *identity.Directory
	// Interval is the time from the end of one sync to the start of the next.
	// Default 15 minutes.
	Interval time.Duration
	// Jitter spreads the syncs of many tenants: each wait is Interval plus
	// or minus up to this fraction of it. Default 0.1; negative means none.
	Jitter float64
	// Options apply to every sync (WithDryRun, say).
	Options []Option
	// OnReport, when set, receives every sync's Report and error (the host's
	// metrics or audit). It runs on the Runner's goroutine.
	OnReport func(Report, error)
}

// Run syncs at once, then every Interval with jitter, until ctx ends; it
// returns ctx's error. A failed sync is logged and reported, and the next
// one runs as planned. A sync that finds another running (ErrBusy) is
// skipped: two syncs of one Syncer never overlap.
func (r *Runner) Run(ctx context.Context) error {
	if r.Syncer == nil || r.Directory == nil {
		return errors.New("googlesync: Runner without a Syncer or a Directory")
	}
	s := r.Syncer
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rep, err := s.Sync(ctx, r.Directory, r.Options...)
		if errors.Is(err, ErrBusy) {
			s.logger.Info("googlesync: a sync is running; this one is skipped", "tenant", r.Directory.Tenant())
		}
		if r.OnReport != nil && ctx.Err() == nil {
			r.OnReport(rep, err)
		}
		if err := sleepCtx(ctx, r.wait(s.jitter())); err != nil {
			return err
		}
	}
}

// wait returns the time to wait before the next sync, for u uniform in
// [0, 1): Interval plus or minus up to Jitter of it.
func (r *Runner) wait(u float64) time.Duration {
	interval := r.Interval
	if interval <= 0 {
		interval = 15 * time.Minute
	}
	jitter := r.Jitter
	if jitter == 0 {
		jitter = 0.1
	}
	jitter = min(max(jitter, 0), 1)
	return interval + time.Duration((2*u-1)*jitter*float64(interval))
}
