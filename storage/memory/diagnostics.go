package memory

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/rollcall/rollcall/identity"
)

var _ identity.DiagnosticsLog = (*DiagnosticsLog)(nil)

// DiagnosticsLog implements identity.DiagnosticsLog in memory for one
// tenant: a host keeps one per tenant. It is safe for concurrent use. Its
// entries stay until PruneAttempts removes them.
type DiagnosticsLog struct {
	clock identity.Clock
	mu    sync.Mutex
	seq   int64
	log   []identity.Attempt // in Seq order
}

// NewDiagnostics returns an empty log whose clock (the system clock if nil)
// times the attempts recorded without a Time.
func NewDiagnostics(clock identity.Clock) *DiagnosticsLog {
	if clock == nil {
		clock = systemClock{}
	}
	return &DiagnosticsLog{clock: clock}
}

// RecordAttempt appends a, normalized, with the next Seq.
func (l *DiagnosticsLog) RecordAttempt(ctx context.Context, a identity.Attempt) (identity.Attempt, error) {
	if err := ctx.Err(); err != nil {
		return identity.Attempt{}, err
	}
	a = identity.NormalizeAttempt(a, l.clock.Now())
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	a.Seq = l.seq
	l.log = append(l.log, a)
	return a, nil
}

// Attempts returns the entries q selects, newest first.
func (l *DiagnosticsLog) Attempts(ctx context.Context, q identity.AttemptQuery) ([]identity.Attempt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit := identity.AttemptLimit(q)
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []identity.Attempt
	for i := len(l.log) - 1; i >= 0 && len(out) < limit; i-- {
		if identity.MatchAttempt(l.log[i], q) {
			out = append(out, l.log[i])
		}
	}
	return out, nil
}

// PruneAttempts deletes the entries before before, then the oldest beyond
// keep.
func (l *DiagnosticsLog) PruneAttempts(ctx context.Context, before time.Time, keep int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.log)
	l.log = slices.DeleteFunc(l.log, func(a identity.Attempt) bool { return a.Time.Before(before) })
	if keep > 0 && len(l.log) > keep {
		l.log = slices.Delete(l.log, 0, len(l.log)-keep)
	}
	l.log = slices.Clip(l.log)
	return n - len(l.log), nil
}
