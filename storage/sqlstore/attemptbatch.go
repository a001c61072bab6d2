package sqlstore

import (
	"context"
	"sync"
	"time"

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
//
// An entry given to QueueAttempt (identity.AttemptQueue), on either
// dialect, joins the same queue but its caller does not wait: the next batch
// takes it, led by a caller that waits or, if none comes, by a timer
// queueWindow after it was queued. One client's requests, one after the
// other, then share a commit too, and the client does not wait for it. A
// read of the log first waits for what is queued (sync), at most readWait:
// a write transaction that holds the connection long (an import) delays a
// read by no more than that.

const (
	// queueWindow is how long a queued entry waits for others before the
	// batcher writes it without them.
	queueWindow = 5 * time.Millisecond
	// maxQueued bounds the entries queued and not yet written:
	// beyond it QueueAttempt records the entry before it returns, so a
	// writer that cannot keep up slows the callers instead of growing the
	// queue.
	maxQueued = 4096
	// readWait bounds how long a read of the log waits for the entries
	// queued before it; after it, the read reads what is written.
	readWait = time.Second
)

// pendingAttempt is an entry waiting for the batch that commits it.
type pendingAttempt struct {
	tenant string
	a      identity.Attempt
	// done receives nil once the entry is committed (a.Seq set), or an
	// error; or errLead when the caller is to lead the next batch. It is
	// nil for a queued entry, whose caller does not wait.
	done chan error
	// mark is a read's place in the queue (sync): nothing to insert; done
	// receives once the entries before it are written. A mark never leads:
	// its caller may have left.
	mark bool
}

// errLead tells a queued caller that it leads the next batch.
var errLead = &leadSignal{}

type leadSignal struct{}

func (*leadSignal) Error() string { return "sqlstore: lead the next batch" }

// attemptBatcher queues the entries of a DB's diagnostics logs.
type attemptBatcher struct {
	mu      sync.Mutex
	pending []*pendingAttempt
	// leading is true while a caller leads a batch: it has taken, or will
	// take, the entries pending.
	leading bool
	// queued counts the queued entries (done nil) not yet written: pending,
	// or in the batch being written.
	queued int
	// timer is set while a batch of the queued entries is scheduled.
	timer  *time.Timer
	closed bool
}

// record commits a of tenant with the entries recorded at the same time and
// returns it with its Seq.
func (b *attemptBatcher) record(ctx context.Context, db *DB, tenant string, a identity.Attempt) (identity.Attempt, error) {
	if err := ctx.Err(); err != nil {
		return identity.Attempt{}, err
	}
	p := &pendingAttempt{tenant: tenant, a: a, done: make(chan error, 1)}
	err := b.wait(ctx, db, p)
	return p.a, err
}

// wait queues p and returns once the batch that takes it has committed,
// leading that batch if no caller leads one.
func (b *attemptBatcher) wait(ctx context.Context, db *DB, p *pendingAttempt) error {
	b.mu.Lock()
	b.pending = append(b.pending, p)
	lead := !b.leading
	b.leading = true
	b.mu.Unlock()
	if !lead {
		// The batch that takes p is bounded by the write connection, as
		// a statement of p's own would be.
		if err := <-p.done; err != errLead {
			return err
		}
	}
	b.lead(ctx, db)
	return <-p.done
}

// queue adds a of tenant to the next batch and returns without waiting for
// it; see identity.AttemptQueue.
func (b *attemptBatcher) queue(db *DB, tenant string, a identity.Attempt) {
	b.mu.Lock()
	if b.closed || b.queued >= maxQueued {
		b.mu.Unlock()
		if _, err := b.record(context.Background(), db, tenant, a); err != nil {
			db.log.Warn("sqlstore: record diagnostics entry", "tenant", tenant, "err", err)
		}
		return
	}
	b.pending = append(b.pending, &pendingAttempt{tenant: tenant, a: a})
	b.queued++
	if !b.leading {
		b.schedule(db)
	}
	b.mu.Unlock()
}

// schedule starts the timer that writes the queued entries, unless it runs
// already. b.mu is held.
func (b *attemptBatcher) schedule(db *DB) {
	if b.timer != nil || b.closed {
		return // closed: close has written what was queued, and queue no longer queues
	}
	b.timer = time.AfterFunc(queueWindow, func() {
		b.mu.Lock()
		b.timer = nil
		if b.leading || len(b.pending) == 0 {
			// The batch led now takes them, or hands them on.
			b.mu.Unlock()
			return
		}
		b.leading = true
		b.mu.Unlock()
		b.lead(context.Background(), db)
	})
}

// busy reports whether entries are queued and not yet written.
func (b *attemptBatcher) busy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queued > 0
}

// sync returns once the entries queued before it are written, or once ctx
// is done (with its error), or after bound if bound > 0 (with nil: a read
// then reads what is written by then). With none queued it returns at
// once. It never leads a batch itself: a read waits for the write
// connection only as long as it chooses to.
func (b *attemptBatcher) sync(ctx context.Context, db *DB, bound time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !b.busy() {
		return nil
	}
	p := &pendingAttempt{mark: true, done: make(chan error, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, p)
	if !b.leading {
		b.leading = true
		go b.lead(context.Background(), db)
	}
	b.mu.Unlock()
	var timeout <-chan time.Time
	if bound > 0 {
		t := time.NewTimer(bound)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case err := <-p.done: // buffered: a batch that ends after we left does not block
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout:
		return nil
	}
}

// close writes what is queued; after it, QueueAttempt records each entry
// before it returns.
func (b *attemptBatcher) close(db *DB) {
	b.mu.Lock()
	b.closed = true
	if b.timer != nil && b.timer.Stop() {
		b.timer = nil
	}
	b.mu.Unlock()
	if err := b.sync(context.Background(), db, 0); err != nil {
		db.log.Warn("sqlstore: write the queued diagnostics entries", "err", err)
	}
}

// lead commits one batch, the entries pending, and hands the lead to the
// first caller queued meanwhile that waits, if any; else, if entries were
// queued meanwhile, it schedules their batch. One entry is one statement;
// more are one transaction, so as to be one commit.
func (b *attemptBatcher) lead(ctx context.Context, db *DB) {
	ctx = context.WithoutCancel(ctx) // the batch holds other callers' entries
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	var rows []*pendingAttempt
	written := 0
	for _, p := range batch {
		if p.done == nil {
			written++
		}
		if !p.mark {
			rows = append(rows, p)
		}
	}
	b.mu.Unlock()
	one := func(p *pendingAttempt) error {
		return db.retryStmt(ctx, func(c conn) error { return insertAttemptRow(ctx, c, p.tenant, &p.a) })
	}
	var err error
	switch len(rows) {
	case 0:
	case 1:
		err = one(rows[0])
	default:
		err = db.runTx(ctx, txWrite, func(c conn) error {
			for _, p := range rows {
				if err := insertAttemptRow(ctx, c, p.tenant, &p.a); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for _, p := range batch {
		perr := err
		if p.mark {
			perr = nil // the entries before it are written or have failed
		} else if err != nil && len(rows) > 1 {
			// One entry's failure is not the others': each on its own.
			perr = one(p)
		}
		if p.done == nil {
			if perr != nil {
				db.log.Warn("sqlstore: record diagnostics entry", "tenant", p.tenant, "err", perr)
			}
			continue
		}
		p.done <- perr
	}
	b.handOn(db, written)
}

// handOn ends a batch that wrote written queued entries: it hands the lead
// to the first caller pending that waits, or schedules the queued entries'
// batch.
func (b *attemptBatcher) handOn(db *DB, written int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queued -= written
	marks := false
	for _, p := range b.pending {
		switch {
		case p.mark:
			marks = true
		case p.done != nil:
			p.done <- errLead
			return
		}
	}
	if marks {
		// A read waits: the next batch now, not at the timer.
		go b.lead(context.Background(), db)
		return
	}
	b.leading = false
	if len(b.pending) > 0 {
		b.schedule(db)
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
