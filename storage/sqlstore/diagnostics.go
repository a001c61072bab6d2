package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
)

var _ identity.AttemptQueue = (*DiagnosticsLog)(nil)

var (
	insertAttempt = prep("INSERT INTO rollcall_attempts (tenant, time, connection, step, outcome, reason, detail, " +
		"subject, email, email_key, user_id, reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq")
	// insertAttemptRowID is insertAttempt for SQLite, whose seq is the
	// row's ID.
	insertAttemptRowID = prep(strings.TrimSuffix(insertAttempt, " RETURNING seq"))
	pruneAttemptsAge   = prep("DELETE FROM rollcall_attempts WHERE tenant = ? AND time < ?")
	// pruneAttemptsCount deletes every entry at or below the seq of the
	// (keep+1)th newest; with fewer entries the subquery is NULL and nothing
	// goes.
	pruneAttemptsCount = prep("DELETE FROM rollcall_attempts WHERE tenant = ? AND seq <= " +
		"(SELECT seq FROM rollcall_attempts WHERE tenant = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)")
)

// attemptColumns are the columns Attempts reads, in Scan order.
const attemptColumns = "seq, time, connection, step, outcome, reason, detail, subject, email, user_id, reference"

// DiagnosticsLog is the identity.DiagnosticsLog and identity.AttemptQueue
// of one tenant, from DB.Diagnostics. No method joins a Store's transaction:
// a failed sign-in records its attempt too. On SQLite, entries recorded at
// the same time share a transaction, and on either dialect the entries
// queued (QueueAttempt) do; a read first waits, up to a second, for the
// entries queued before it (see attemptBatcher).
type DiagnosticsLog struct {
	db     *DB
	tenant string
}

// Diagnostics returns the diagnostics log of the tenant with the id. Its
// entries are timed by the DB's Clock when recorded without a Time.
func (db *DB) Diagnostics(tenant string) *DiagnosticsLog {
	return &DiagnosticsLog{db: db, tenant: tenant}
}

// RecordAttempt appends a, normalized, and returns it as stored: with its
// Seq, and Time in UTC to the microsecond.
func (l *DiagnosticsLog) RecordAttempt(ctx context.Context, a identity.Attempt) (identity.Attempt, error) {
	a = identity.NormalizeAttempt(a, l.db.now())
	a.Time = stamp(a.Time)
	// On PostgreSQL too, an entry recorded while others are queued goes
	// after them, so that Seq follows the order of the calls.
	if l.db.dialect == SQLite || l.db.attempts.busy() {
		var err error
		if a, err = l.db.attempts.record(ctx, l.db, l.tenant, a); err != nil {
			return identity.Attempt{}, err
		}
		return a, nil
	}
	err := l.db.retryStmt(ctx, func(c conn) error { return insertAttemptRow(ctx, c, l.tenant, &a) })
	if err != nil {
		return identity.Attempt{}, err
	}
	return a, nil
}

// QueueAttempt implements identity.AttemptQueue: a, normalized and timed
// now, is written within a few milliseconds in one commit with the entries
// queued or recorded meanwhile. Close writes what is queued. An entry that
// cannot be written is logged at Warn to Options.Logger.
func (l *DiagnosticsLog) QueueAttempt(a identity.Attempt) {
	a = identity.NormalizeAttempt(a, l.db.now())
	a.Time = stamp(a.Time)
	l.db.attempts.queue(l.db, l.tenant, a)
}

// Attempts returns the entries q selects, newest first, those queued
// before it included unless they could not be written within a second (the
// write connection held by a long transaction): then they show in a later
// read.
func (l *DiagnosticsLog) Attempts(ctx context.Context, q identity.AttemptQuery) ([]identity.Attempt, error) {
	if err := l.db.attempts.sync(ctx, l.db, readWait); err != nil {
		return nil, err
	}
	query, args := attemptsQuery(l.tenant, q)
	c := l.db.on(l.db.rdb, nil)
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, c.d.mapErr(err, "attempts")
	}
	defer rows.Close()
	var out []identity.Attempt
	for rows.Next() {
		var (
			a       identity.Attempt
			t       int64
			outcome string
		)
		if err := rows.Scan(&a.Seq, &t, &a.Connection, &a.Step, &outcome, &a.Reason, &a.Detail, &a.Subject, &a.Email, &a.UserID, &a.Reference); err != nil {
			return nil, c.d.mapErr(err, "attempts")
		}
		a.Time, a.Outcome = fromMicros(t), identity.AttemptOutcome(outcome)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, c.d.mapErr(err, "attempts")
	}
	return out, nil
}

// PruneAttempts deletes the entries before before, then the oldest beyond
// the newest keep (keep <= 0: no cap), and returns how many.
func (l *DiagnosticsLog) PruneAttempts(ctx context.Context, before time.Time, keep int) (int, error) {
	if err := l.db.attempts.sync(ctx, l.db, readWait); err != nil {
		return 0, err
	}
	var n int64
	exec := func(query string, args ...any) error {
		return l.db.retryStmt(ctx, func(c conn) error {
			res, err := c.exec(ctx, query, args...)
			if err != nil {
				return c.d.mapErr(err, "prune attempts")
			}
			k, err := res.RowsAffected()
			n += k
			return c.d.mapErr(err, "prune attempts")
		})
	}
	if err := exec(pruneAttemptsAge, l.tenant, micros(before)); err != nil {
		return int(n), err
	}
	if keep > 0 {
		if err := exec(pruneAttemptsCount, l.tenant, l.tenant, keep); err != nil {
			return int(n), err
		}
	}
	return int(n), nil
}

// attemptsQuery returns the query of Attempts and its arguments.
func attemptsQuery(tenant string, q identity.AttemptQuery) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT " + attemptColumns + " FROM rollcall_attempts WHERE tenant = ?")
	args := []any{tenant}
	for _, f := range []struct {
		cond string
		v    string
	}{{" AND connection = ?", q.Connection}, {" AND outcome = ?", string(q.Outcome)}, {" AND reference = ? AND reference <> ''", q.Reference}} {
		if f.v != "" {
			b.WriteString(f.cond)
			args = append(args, f.v)
		}
	}
	if q.User != "" {
		// A union of three index lookups: as one OR, SQLite scans the
		// tenant's entries instead. Each names its partial index's
		// condition (col <> ''), which the value given implies.
		b.WriteString(" AND seq IN (SELECT seq FROM rollcall_attempts WHERE tenant = ? AND user_id = ? AND user_id <> ''" +
			" UNION ALL SELECT seq FROM rollcall_attempts WHERE tenant = ? AND subject = ? AND subject <> ''")
		args = append(args, tenant, q.User, tenant, q.User)
		if key := identity.NormalizeEmail(q.User); key != "" {
			b.WriteString(" UNION ALL SELECT seq FROM rollcall_attempts WHERE tenant = ? AND email_key = ? AND email_key <> ''")
			args = append(args, tenant, key)
		}
		b.WriteString(")")
	}
	if q.Before > 0 {
		b.WriteString(" AND seq < ?")
		args = append(args, q.Before)
	}
	b.WriteString(" ORDER BY seq DESC LIMIT ?")
	args = append(args, identity.AttemptLimit(q))

	return b.String(), args
}
