package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// eventBatch is how many events one INSERT writes: a change of many rows (an
// import, a sync) records its events in few statements, not one per event.
const eventBatch = 64

// PostgreSQL event cursors. A sequence value is drawn at insert, not at
// commit, so with a plain sequence a transaction that drew a lower value
// could commit after one that drew a higher, and a reader paging by cursor
// would pass the first before it became visible. So in PostgreSQL an event's
// Seq is its transaction's ID (xid8) shifted left by txSeqBits, plus the
// event's index among the transaction's events; and a reader returns only the
// events of transactions older than the oldest one still open (the xmin of
// its snapshot), which have all ended and can add no event below the cursor
// any more. Transactions that append events run side by side; an event
// becomes readable when every transaction older than its own has ended.
const (
	// txSeqBits are the bits of Seq that number the events of one
	// transaction: at most 2^20-1 of them, and Seq stays below 2^63 for
	// 2^43 transaction IDs.
	txSeqBits = 20
	// maxTxEvents is the most events one PostgreSQL transaction appends.
	maxTxEvents = 1<<txSeqBits - 1
)

// insertEventsQuery returns the INSERT of n events in the dialect: in
// PostgreSQL it sets and returns their cursors (see insertEvents), from a
// ninth argument per event, its index in the transaction.
func insertEventsQuery(d Dialect, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO rollcall_events (tenant, type, source, actor, user_id, group_id, fields, time")
	row := "(?, ?, ?, ?, ?, ?, ?, ?)"
	if d == Postgres {
		// seq is an identity column, which the rows made before this
		// scheme numbered.
		b.WriteString(", seq) OVERRIDING SYSTEM VALUE VALUES ")
		row = "(?, ?, ?, ?, ?, ?, ?, ?, (pg_current_xact_id()::text::bigint << " + strconv.Itoa(txSeqBits) + ") + ?)"
	} else {
		b.WriteString(") VALUES ")
	}
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	if d == Postgres {
		b.WriteString(" RETURNING seq")
	}
	return b.String()
}

var (
	// insertEventFull writes a whole batch, and insertEventOne one event (a
	// single change); SQLite prepares them once.
	insertEventFull = map[Dialect]string{
		SQLite:   prep(insertEventsQuery(SQLite, eventBatch)),
		Postgres: insertEventsQuery(Postgres, eventBatch),
	}
	insertEventOne = map[Dialect]string{
		SQLite:   prep(insertEventsQuery(SQLite, 1)),
		Postgres: insertEventsQuery(Postgres, 1),
	}
	selectEvents = prep("SELECT seq, type, source, actor, user_id, group_id, fields, time FROM rollcall_events " +
		"WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?")
	// selectEventsPostgres is selectEvents with the horizon of the snapshot
	// (see txSeqBits) as a last column, computed once: the events at or
	// above it are not yet safe to return.
	selectEventsPostgres = "SELECT seq, type, source, actor, user_id, group_id, fields, time, " + eventHorizon +
		" FROM rollcall_events WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?"
	// selectEventsPostgresTx is selectEventsPostgres in a transaction, which
	// also reads its own events: for them, the horizon is past them.
	selectEventsPostgresTx = "SELECT seq, type, source, actor, user_id, group_id, fields, time, " +
		"CASE WHEN seq >> " + strconv.Itoa(txSeqBits) + " = (SELECT pg_current_xact_id_if_assigned()::text::bigint) " +
		"THEN seq + 1 ELSE " + eventHorizon + " END " +
		"FROM rollcall_events WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?"
	// eventHorizon is the lowest Seq that a transaction still open may hold:
	// that of the oldest transaction ID the snapshot sees as running.
	eventHorizon = "(SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint << " + strconv.Itoa(txSeqBits) + ")"
)

// AppendEvents records events in s's transaction, or in one of its own, and
// sets each one's Seq, Tenant and Time as stored (Time in UTC, to the
// microsecond). An event of another tenant is refused with
// identity.ErrInvalid; an empty Tenant means s's.
//
// Seq is one global cursor for every tenant. In SQLite the one writer at a
// time assigns it in commit order. In PostgreSQL it is the transaction's ID
// and the event's place in it (see txSeqBits): appends do not wait for each
// other, and Events returns an event only once every transaction that could
// still add one below it has ended.
func (s *Store) AppendEvents(ctx context.Context, events []identity.Event) error {
	if len(events) == 0 {
		return nil
	}
	for i, e := range events {
		if e.Tenant != "" && e.Tenant != s.tenant {
			return invalid(fmt.Sprintf("events[%d].tenant", i), "the event belongs to another tenant")
		}
	}
	seqs := make([]int64, len(events))
	err := s.update(ctx, func(c conn) error {
		var next int64 // in PostgreSQL, the index in the transaction of the first event
		if c.d == Postgres {
			next = c.events.reserve(len(events))
			if next+int64(len(events)) > maxTxEvents {
				return fmt.Errorf("sqlstore: append events: more than %d events in one transaction", maxTxEvents)
			}
		}
		width := 8
		if c.d == Postgres {
			width = 9
		}
		for start := 0; start < len(events); start += eventBatch {
			chunk := events[start:min(start+eventBatch, len(events))]
			query := insertEventFull[c.d]
			switch {
			case len(chunk) == 1:
				query = insertEventOne[c.d]
			case len(chunk) < eventBatch:
				query = insertEventsQuery(c.d, len(chunk))
			}
			args := make([]any, 0, width*len(chunk))
			for i, e := range chunk {
				fields, _ := json.Marshal(e.Fields) // a []string always marshals
				args = append(args, s.tenant, string(e.Type), e.Source, e.Actor, e.UserID, e.GroupID, string(fields), micros(stamp(e.Time)))
				if c.d == Postgres {
					args = append(args, next+int64(start+i))
				}
			}
			if err := s.insertEvents(ctx, c, query, args, seqs[start:start+len(chunk)]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range events {
		events[i].Seq, events[i].Tenant, events[i].Time = seqs[i], s.tenant, stamp(events[i].Time)
	}
	return nil
}

// txEvents counts the events a transaction has appended (PostgreSQL: see
// txSeqBits). It is nil outside a transaction.
type txEvents struct{ n int64 }

// reserve returns the index of the first of n more events, and counts them.
func (t *txEvents) reserve(n int) int64 {
	if t == nil {
		return 0
	}
	first := t.n
	t.n += int64(n)
	return first
}

// insertEvents runs one INSERT of events and fills seqs with the cursors it
// assigned, in the order of the rows. Both databases number the rows of one
// VALUES list in order. In SQLite the numbers of one INSERT are consecutive:
// AUTOINCREMENT gives each row one more than the largest seq the table has
// ever held, and the one writer inserts the rows one after another; so the
// last row's number, which the INSERT reports, tells them all. In
// PostgreSQL, where another tenant's events may take numbers from the
// sequence at the same time, the INSERT returns each row's cursor; RETURNING
// need not list them in order, so they are sorted.
func (s *Store) insertEvents(ctx context.Context, c conn, query string, args []any, seqs []int64) error {
	if c.d == SQLite {
		res, err := c.exec(ctx, query, args...)
		if err != nil {
			return c.d.mapErr(err, "append events")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return c.d.mapErr(err, "append events")
		}
		last, err := res.LastInsertId()
		if err != nil {
			return c.d.mapErr(err, "append events")
		}
		if n != int64(len(seqs)) {
			return fmt.Errorf("sqlstore: append events: %d rows inserted for %d events", n, len(seqs))
		}
		for i := range seqs {
			seqs[i] = last - int64(len(seqs)-1-i)
		}
		return nil
	}
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return c.d.mapErr(err, "append events")
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if n == len(seqs) {
			return fmt.Errorf("sqlstore: append events: more cursors than events")
		}
		if err := rows.Scan(&seqs[n]); err != nil {
			return c.d.mapErr(err, "append events")
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return c.d.mapErr(err, "append events")
	}
	if n != len(seqs) {
		return fmt.Errorf("sqlstore: append events: %d cursors for %d events", n, len(seqs))
	}
	slices.Sort(seqs)
	return nil
}

// Events returns up to limit events of s's tenant with Seq greater than
// after, in Seq order; a limit of 0 or less is identity.DefaultLimit.
//
// In PostgreSQL it returns no event above one that a transaction still open
// could yet add (see txSeqBits). When the page would hold events that are not
// yet safe, it waits for the transactions older than theirs to end, up to
// eventWait, and then returns what is safe: so a reader sees the events
// committed before it asked, unless a transaction older than theirs stays
// open longer than that.
func (s *Store) Events(ctx context.Context, after int64, limit int) ([]identity.Event, error) {
	if limit <= 0 {
		limit = identity.DefaultLimit
	}
	c := s.reader()
	if c.d != Postgres {
		events, _, err := s.readEvents(ctx, c, selectEvents, false, after, limit)
		return events, err
	}
	query := selectEventsPostgres
	if c.tx != nil {
		query = selectEventsPostgresTx
	}
	deadline := time.Now().Add(eventWait)
	for pause := time.Millisecond; ; pause = min(2*pause, 32*time.Millisecond) {
		events, cut, err := s.readEvents(ctx, c, query, true, after, limit)
		if err != nil || !cut || c.tx != nil || time.Now().Add(pause).After(deadline) {
			return events, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return events, nil
		case <-t.C:
		}
	}
}

// eventWait is how long Events waits in PostgreSQL for the transactions that
// keep committed events from being read.
const eventWait = 5 * time.Second

// readEvents runs query, selectEvents or (withHorizon) one of its PostgreSQL
// forms, and returns its events: with a horizon, only those below it, and
// whether it left some out.
func (s *Store) readEvents(ctx context.Context, c conn, query string, withHorizon bool, after int64, limit int) (events []identity.Event, cut bool, err error) {
	rows, err := c.query(ctx, query, s.tenant, after, limit)
	if err != nil {
		return nil, false, c.d.mapErr(err, "events")
	}
	defer rows.Close()
	for rows.Next() {
		var horizon int64
		var extra []any
		if withHorizon {
			extra = append(extra, &horizon)
		}
		e, err := s.scanEvent(c, rows, "events", extra...)
		if err != nil {
			return nil, false, err
		}
		if withHorizon && e.Seq >= horizon {
			cut = true
			break
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, c.d.mapErr(err, "events")
	}
	return events, cut, nil
}

// scanEvent reads an event of s's tenant from the columns seq, type,
// source, actor, user_id, group_id, fields and time, then into extra.
func (s *Store) scanEvent(c conn, rows *sql.Rows, what string, extra ...any) (identity.Event, error) {
	var (
		e            identity.Event
		typ, fields  string
		microseconds int64
	)
	dest := append([]any{&e.Seq, &typ, &e.Source, &e.Actor, &e.UserID, &e.GroupID, &fields, &microseconds}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return e, c.d.mapErr(err, what)
	}
	if err := json.Unmarshal([]byte(fields), &e.Fields); err != nil {
		return e, fmt.Errorf("sqlstore: event %d: fields: %w", e.Seq, err)
	}
	e.Type, e.Tenant, e.Time = identity.EventType(typ), s.tenant, fromMicros(microseconds)
	return e, nil
}
