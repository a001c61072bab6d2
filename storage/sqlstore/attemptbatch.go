package sqlstore

import (
	"context"
	"slices"
	"sync"

	"github.com/rollcall/rollcall/identity"
)

// A SQLite database commits one write transaction at a time, and a commit
// is much of what a diagnostics entry costs: the WAL frames of the pages it
// changes, and the locks. A SCIM server records an entry after every request,
// so under concurrent clients the entries would take a good part of the
// single writer from the requests' own transactions. On SQLite, therefore,
// an entry is committed with others: the first caller leads, and inserts the
// entries queued by then (one statement, or one transaction for more); the
// entries queued while it does ride with the next write transaction of the
// DB to commit (tryTx inserts them before its COMMIT), or else with the next
// leader's batch. Each caller still returns once its entry is committed,
// with its Seq. A transaction that fails or rolls back commits no entry: its
// riders are queued again.

// pendingAttempt is an entry waiting for the batch that commits it.
type pendingAttempt struct {
	tenant string
	a      identity.Attempt
	// done receives nil once the entry is committed (a.Seq set), or an
	// error; and errLead when the caller is to lead the next batch, before
	// or after its entry rode another transaction. So it holds two.
	done chan error
}

// errLead tells a queued caller that it leads the next batch.
var errLead = &leadSignal{}

type leadSignal struct{}

func (*leadSignal) Error() string { return "sqlstore: lead the next batch" }

// attemptBatcher queues the entries of a SQLite DB's diagnostics logs.
type attemptBatcher struct {
	mu      sync.Mutex
	pending []*pendingAttempt
	// leading is true while a caller leads a batch: it has taken, or will
	// take, the entries pending.
	leading bool
}

// record commits a of tenant with the entries recorded at the same time and
// returns it with its Seq.
func (b *attemptBatcher) record(ctx context.Context, db *DB, tenant string, a identity.Attempt) (identity.Attempt, error) {
	if err := ctx.Err(); err != nil {
		return identity.Attempt{}, err
	}
	p := &pendingAttempt{tenant: tenant, a: a, done: make(chan error, 2)}
	b.mu.Lock()
	b.pending = append(b.pending, p)
	lead := !b.leading
	b.leading = true
	b.mu.Unlock()
	if !lead {
		// The batch that takes p is bounded by the write connection, as
		// a statement of p's own would be.
		if err := <-p.done; err != errLead {
			return p.a, err
		}
	}
	b.lead(ctx, db)
	err := <-p.done
	return p.a, err
}

// lead commits one batch, the entries pending, and hands the lead to the
// first caller queued meanwhile, if any. One entry is one statement; more
// are one transaction, so as to be one commit.
func (b *attemptBatcher) lead(ctx context.Context, db *DB) {
	ctx = context.WithoutCancel(ctx) // the batch holds other callers' entries
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	b.mu.Unlock()
	one := func(p *pendingAttempt) error {
		return db.retryStmt(ctx, func(c conn) error { return insertAttemptRow(ctx, c, p.tenant, &p.a) })
	}
	var err error
	switch len(batch) {
	case 0: // they rode a transaction while the lead was handed over
	case 1:
		err = one(batch[0])
	default:
		err = db.runTx(ctx, txWrite, func(c conn) error {
			for _, p := range batch {
				if err := insertAttemptRow(ctx, c, p.tenant, &p.a); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for _, p := range batch {
		if err != nil && len(batch) > 1 {
			// One entry's failure is not the others': each on its own.
			p.done <- one(p)
			continue
		}
		p.done <- err
	}
	b.mu.Lock()
	if len(b.pending) > 0 {
		b.pending[0].done <- errLead
	} else {
		b.leading = false
	}
	b.mu.Unlock()
}

// ride inserts the entries pending in c, a write transaction about to
// commit, and returns them, for settle once the transaction has ended. An
// entry that fails to insert goes back to the queue with those after it.
func (b *attemptBatcher) ride(ctx context.Context, c conn) []*pendingAttempt {
	b.mu.Lock()
	riders := b.pending
	b.pending = nil
	b.mu.Unlock()
	for i, p := range riders {
		if err := insertAttemptRow(ctx, c, p.tenant, &p.a); err != nil {
			b.requeue(riders[i:])
			return riders[:i]
		}
	}
	return riders
}

// settle tells riders that their transaction committed, or queues them
// again.
func (b *attemptBatcher) settle(riders []*pendingAttempt, committed bool) {
	if !committed {
		b.requeue(riders)
		return
	}
	for _, p := range riders {
		p.done <- nil
	}
}

// requeue puts ps back at the head of the queue, in their order, and makes
// one of them lead if no caller does.
func (b *attemptBatcher) requeue(ps []*pendingAttempt) {
	if len(ps) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(slices.Clip(ps), b.pending...)
	if !b.leading {
		b.leading = true
		b.pending[0].done <- errLead
	}
}

// insertAttemptRow inserts a, normalized, as tenant's and sets its Seq. On
// SQLite the Seq is the row's ID, read without a result set: a query in a
// transaction costs database/sql a goroutine that watches it.
func insertAttemptRow(ctx context.Context, c conn, tenant string, a *identity.Attempt) error {
	args := []any{tenant, micros(a.Time), a.Connection, a.Step, string(a.Outcome), a.Reason,
		a.Detail, a.Subject, a.Email, identity.NormalizeEmail(a.Email), a.UserID, a.Reference}
	if c.d == SQLite {
		res, err := c.exec(ctx, insertAttemptRowID, args...)
		if err == nil {
			a.Seq, err = res.LastInsertId()
		}
		return c.d.mapErr(err, "record attempt")
	}
	return c.d.mapErr(c.row(ctx, insertAttempt, args...).Scan(&a.Seq), "record attempt")
}
