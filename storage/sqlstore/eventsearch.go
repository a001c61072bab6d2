package sqlstore

import (
	"context"

	"github.com/rollcall/rollcall/identity"
)

var _ identity.EventSearch = (*Store)(nil)

// SearchEvents implements identity.EventSearch. The events of one user come
// from the index (tenant, user_id, seq), of one type from (tenant, type,
// seq); the other filters read the tenant's events backwards by seq.
func (s *Store) SearchEvents(ctx context.Context, f identity.EventFilter, before int64, limit int) ([]identity.Event, error) {
	if limit <= 0 {
		limit = identity.DefaultLimit
	}
	q := "SELECT seq, type, source, actor, user_id, group_id, fields, time FROM rollcall_events WHERE tenant = ?"
	args := []any{s.tenant}
	for _, c := range []struct{ col, v string }{
		{"user_id", f.UserID}, {"group_id", f.GroupID}, {"type", string(f.Type)}, {"source", f.Source},
	} {
		if c.v != "" {
			q += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	if f.UserID != "" {
		// Lets the planner use the partial index on user_id, which a
		// parameter alone does not.
		q += " AND user_id <> ''"
	}
	if before > 0 {
		q += " AND seq < ?"
		args = append(args, before)
	}
	q += " ORDER BY seq DESC LIMIT ?"
	args = append(args, limit)
	c := s.reader()
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, c.d.mapErr(err, "search events")
	}
	defer rows.Close()
	var events []identity.Event
	for rows.Next() {
		e, err := s.scanEvent(c, rows, "search events")
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, c.d.mapErr(err, "search events")
	}
	return events, nil
}
