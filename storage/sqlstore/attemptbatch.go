package sqlstore

import (
	"context"
	"sync"

	"github.com/rollcall/rollcall/identity"
)

// A SQLite database commits one write transaction at a time, and a
// diagnostics entry's own commit costs far more than its row: the WAL frames
// of the pages it changes (the table's, sqlite_sequence's and those of the
// indexes that hold it) and the locks. A SCIM server records an entry after
// every request, so under concurrent clients the entries took a good part of
// the single writer from the requests' own transactions. On SQLite the
// entries recorded at the same time therefore share a commit: the first
// caller leads and inserts the entries queued by then (one statement for
// one, a transaction for more); the entries queued meanwhile wait, and the
// first of them leads the next batch. Each caller still returns once its
// entry is committed, with its Seq, and entries take their Seq in the order
// they were queued.

// pendingAttempt is an entry waiting for the batch that commits it.
type pendingAttempt struct {
	tenant string
	a      identity.Attempt
	// done receives nil once the entry is committed (a.Seq set), or an
	// error; or errLead when the caller is to lead the next batch.
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
	p := &pendingAttempt{tenant: tenant, a: a, done: make(chan error, 1)}
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
	if len(batch) == 1 {
		err = one(batch[0])
	} else {
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
