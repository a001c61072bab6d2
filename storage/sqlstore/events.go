package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/rollcall/rollcall/identity"
)

// eventBatch is how many events one INSERT writes: a change of many rows (an
// import, a sync) records its events in few statements, not one per event.
const eventBatch = 64

// insertEventsQuery returns the INSERT of n events in the dialect: in
// PostgreSQL it returns their cursors (see insertEvents).
func insertEventsQuery(d Dialect, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO rollcall_events (tenant, type, source, actor, user_id, group_id, fields, time) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
	}
	if d == Postgres {
		b.WriteString(" RETURNING seq")
	}
	return b.String()
}

var (
	// insertEventFull writes a whole batch; SQLite prepares it once.
	insertEventFull = map[Dialect]string{
		SQLite:   prep(insertEventsQuery(SQLite, eventBatch)),
		Postgres: insertEventsQuery(Postgres, eventBatch),
	}
	selectEvents = prep("SELECT seq, type, source, actor, user_id, group_id, fields, time FROM rollcall_events " +
		"WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?")
)

// AppendEvents records events in s's transaction, or in one of its own, and
// sets each one's Seq, Tenant and Time as stored (Time in UTC, to the
// microsecond). An event of another tenant is refused with
// identity.ErrInvalid; an empty Tenant means s's.
//
// Seq is one global cursor for every tenant. In SQLite the one writer at a
// time assigns it in commit order. In PostgreSQL a sequence value is taken at
// insert, not at commit, so a transaction that took a lower value could
// commit after one that took a higher, and a reader paging by cursor would
// skip it; AppendEvents therefore first takes a transaction advisory lock on
// the tenant, so that the appends of one tenant run one at a time and each
// tenant's events become visible in Seq order. Appends of different tenants
// do not wait for each other (but for a hash collision).
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
		if c.d == Postgres {
			if _, err := c.exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", "rollcall.events:"+s.tenant); err != nil {
				return c.d.mapErr(err, "append events: lock")
			}
		}
		for start := 0; start < len(events); start += eventBatch {
			chunk := events[start:min(start+eventBatch, len(events))]
			query := insertEventFull[c.d]
			if len(chunk) < eventBatch {
				query = insertEventsQuery(c.d, len(chunk))
			}
			args := make([]any, 0, 8*len(chunk))
			for _, e := range chunk {
				fields, _ := json.Marshal(e.Fields) // a []string always marshals
				args = append(args, s.tenant, string(e.Type), e.Source, e.Actor, e.UserID, e.GroupID, string(fields), micros(stamp(e.Time)))
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
func (s *Store) Events(ctx context.Context, after int64, limit int) ([]identity.Event, error) {
	if limit <= 0 {
		limit = identity.DefaultLimit
	}
	c := s.reader()
	rows, err := c.query(ctx, selectEvents, s.tenant, after, limit)
	if err != nil {
		return nil, c.d.mapErr(err, "events")
	}
	defer rows.Close()
	var events []identity.Event
	for rows.Next() {
		var (
			e            identity.Event
			typ, fields  string
			microseconds int64
		)
		if err := rows.Scan(&e.Seq, &typ, &e.Source, &e.Actor, &e.UserID, &e.GroupID, &fields, &microseconds); err != nil {
			return nil, c.d.mapErr(err, "events")
		}
		if err := json.Unmarshal([]byte(fields), &e.Fields); err != nil {
			return nil, fmt.Errorf("sqlstore: event %d: fields: %w", e.Seq, err)
		}
		e.Type, e.Tenant, e.Time = identity.EventType(typ), s.tenant, fromMicros(microseconds)
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, c.d.mapErr(err, "events")
	}
	return events, nil
}
