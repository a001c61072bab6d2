package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs statements written with ? placeholders in the dialect's own, on
// a pool or in a transaction.
type conn struct {
	d Dialect
	q querier
	// tx is q when q is a transaction.
	tx *sql.Tx
	// stmts holds the statements prepared on the pool q draws from (SQLite
	// only; see prepare.go).
	stmts *stmtCache
	// events counts the events appended in the transaction tx.
	events *txEvents
	// detach runs statements under a context that is not cancelled (see
	// detached).
	detach bool
}

// on returns a conn on pool, or on tx if it is not nil (a transaction of
// pool).
func (db *DB) on(pool *sql.DB, tx *sql.Tx) conn {
	c := conn{d: db.dialect, q: pool, stmts: db.rstmts}
	if pool == db.wdb {
		c.stmts = db.wstmts
		c.detach = db.dialect == SQLite
	}
	if tx != nil {
		c.q, c.tx = tx, tx
	}
	return c
}

// stmt returns the prepared statement of query, or nil to run it
// unprepared.
func (c conn) stmt(ctx context.Context, query string) *sql.Stmt {
	st := c.stmts.get(ctx, query, c.tx == nil)
	if st != nil && c.tx != nil {
		return c.tx.StmtContext(ctx, st)
	}
	return st
}

// detached returns the context a statement of c runs under. A SQLite
// statement under a context that can be cancelled costs a goroutine that
// watches it (modernc.org/sqlite's interruptOnDone), which is a large part of
// a short statement's time; so on SQLite's write connection, whose
// statements are short, the store checks ctx before each statement and runs
// the statement itself under a context that is never cancelled. A long
// transaction still ends at its next statement once ctx is done. Reads on the
// read pool, which may scan, keep ctx.
func (c conn) detached(ctx context.Context) (context.Context, error) {
	if !c.detach {
		return ctx, nil
	}
	if err := ctx.Err(); err != nil {
		return ctx, err
	}
	return context.WithoutCancel(ctx), nil
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, err := c.detached(ctx)
	if err != nil {
		return nil, err
	}
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.q.ExecContext(ctx, c.d.rebind(query), args...)
}

func (c conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, err := c.detached(ctx)
	if err != nil {
		return nil, err
	}
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.q.QueryContext(ctx, c.d.rebind(query), args...)
}

func (c conn) row(ctx context.Context, query string, args ...any) *sql.Row {
	if c.detach && ctx.Err() == nil {
		ctx = context.WithoutCancel(ctx)
	}
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.q.QueryRowContext(ctx, c.d.rebind(query), args...)
}

// exists reports whether query returns a row.
func (c conn) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := c.row(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// rebind turns ? placeholders into PostgreSQL's $1, $2... The package's
// queries have no ? in literals or identifiers.
func (d Dialect) rebind(query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// forUpdate is the clause that locks the rows a SELECT reads until the end of
// the transaction. SQLite needs none: a write transaction there holds the
// database's only write lock from BEGIN IMMEDIATE on.
func (d Dialect) forUpdate() string {
	if d == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// txKind selects a transaction's isolation.
type txKind int

const (
	// txWrite is a store method's own transaction: READ COMMITTED in
	// PostgreSQL, with row locks where the method reads and writes.
	txWrite txKind = iota
	// txSerial is Store.Tx: SERIALIZABLE in PostgreSQL, so that what fn
	// decides from its reads still holds when it commits, as in SQLite where
	// writers run one at a time.
	txSerial
	// txRead is a read-only snapshot for a method that reads more than once.
	txRead
	// txSnapshot is a store method's own transaction whose reads must see
	// what its writes saw: REPEATABLE READ in PostgreSQL, where a concurrent
	// change of a row it reads or writes is a serialization failure.
	txSnapshot
)

// runTx runs fn in a transaction and commits it if fn returns nil; it runs
// it again, with a growing pause, after a serialization failure or deadlock.
// fn's own errors come back unchanged.
func (db *DB) runTx(ctx context.Context, kind txKind, fn func(c conn) error) error {
	for attempt := 1; ; attempt++ {
		err := db.tryTx(ctx, kind, fn)
		if err == nil || !db.dialect.retryable(err) {
			return err
		}
		if attempt > db.maxRetries {
			return fmt.Errorf("sqlstore: transaction failed %d times: %w", attempt, err)
		}
		wait := backoff(attempt)
		db.log.DebugContext(ctx, "sqlstore: retrying transaction", "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sqlstore: retrying transaction: %w (after %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// retryStmt runs fn, whose statements need no common transaction, outside
// any transaction, and again after a serialization failure or deadlock.
func (db *DB) retryStmt(ctx context.Context, fn func(c conn) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(db.on(db.wdb, nil))
		if err == nil || !db.dialect.retryable(err) {
			return err
		}
		if attempt > db.maxRetries {
			return fmt.Errorf("sqlstore: statement failed %d times: %w", attempt, err)
		}
		t := time.NewTimer(backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sqlstore: retrying statement: %w (after %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

func (db *DB) tryTx(ctx context.Context, kind txKind, fn func(c conn) error) (err error) {
	pool, opts := db.wdb, &sql.TxOptions{}
	switch kind {
	case txWrite:
		if db.dialect == Postgres {
			opts.Isolation = sql.LevelReadCommitted
		}
	case txRead:
		pool, opts.ReadOnly = db.rdb, true
		if db.dialect == Postgres {
			opts.Isolation = sql.LevelRepeatableRead
		}
	case txSnapshot:
		if db.dialect == Postgres {
			opts.Isolation = sql.LevelRepeatableRead
		}
	case txSerial:
		if db.dialect == Postgres {
			opts.Isolation = sql.LevelSerializable
		}
	}
	if pool == db.wdb && db.dialect == SQLite {
		// See conn.detached: BEGIN and COMMIT run detached too.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sqlstore: begin: %w", err)
		}
		ctx = context.WithoutCancel(ctx)
	}
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	committed := false
	defer func() {
		// Also when fn panics: the connection goes back clean.
		if !committed {
			tx.Rollback()
		}
	}()
	c := db.on(pool, tx)
	c.events = &txEvents{}
	if err := fn(c); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	if c.stmts.wanted() {
		c.stmts.prepareWanted(ctx)
	}
	return nil
}

// backoff returns the pause before attempt n+1: 2 ms doubling to at most
// 128 ms, half of it random so that the contenders spread out.
func backoff(n int) time.Duration {
	d := 2 * time.Millisecond << min(n-1, 6)
	return d/2 + rand.N(d/2+1)
}
