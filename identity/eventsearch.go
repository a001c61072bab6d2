package identity

import (
	"context"
	"errors"
	"fmt"
)

// EventFilter selects events: those of one user, group, type and source. An
// empty field selects every value.
type EventFilter struct {
	UserID  string
	GroupID string
	Type    EventType
	Source  string
}

// Match reports whether the filter keeps e.
func (f EventFilter) Match(e Event) bool {
	return (f.UserID == "" || e.UserID == f.UserID) && (f.GroupID == "" || e.GroupID == f.GroupID) &&
		(f.Type == "" || e.Type == f.Type) && (f.Source == "" || e.Source == f.Source)
}

// EventSearch is an optional ability of an EventLog: its events read
// backwards, newest first, through a filter, which a store may answer from an
// index (the events of one user, say).
type EventSearch interface {
	// SearchEvents returns up to limit events that f keeps, with Seq less
	// than before (any Seq when before is 0), newest first; limit <= 0 means
	// DefaultLimit. It shows only committed events.
	SearchEvents(ctx context.Context, f EventFilter, before int64, limit int) ([]Event, error)
}

// SearchEvents returns up to limit of the tenant's events that f keeps, with
// Seq less than before (0: the newest), newest first: the audit log of a
// user, a group or a kind of change. It uses the store's EventSearch where
// the store has one, else it reads the whole log. It returns an error
// matching errors.ErrUnsupported if the store keeps no event log.
func (d *Directory) SearchEvents(ctx context.Context, f EventFilter, before int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	if s, ok := d.store.(EventSearch); ok {
		return s.SearchEvents(ctx, f, before, limit)
	}
	log, ok := d.store.(EventLog)
	if !ok {
		return nil, fmt.Errorf("identity: the store keeps no event log: %w", errors.ErrUnsupported)
	}
	return searchLog(ctx, log, f, before, limit)
}

// searchLog reads the whole log forward and keeps the newest limit matches
// before the bound in a ring: the fallback for a store without EventSearch.
func searchLog(ctx context.Context, log EventLog, f EventFilter, before int64, limit int) ([]Event, error) {
	ring := make([]Event, 0, limit)
	next := 0 // where the ring's oldest is, once it is full
	var after int64
	for {
		page, err := log.Events(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			after = e.Seq
			if before != 0 && e.Seq >= before {
				return newestFirst(ring, next), nil
			}
			if !f.Match(e) {
				continue
			}
			if len(ring) < limit {
				ring = append(ring, e)
				continue
			}
			ring[next] = e
			next = (next + 1) % limit
		}
		if len(page) < 1000 {
			return newestFirst(ring, next), nil
		}
	}
}

// newestFirst returns the ring's events from the newest to the oldest.
func newestFirst(ring []Event, oldest int) []Event {
	out := make([]Event, 0, len(ring))
	for i := range ring {
		out = append(out, ring[(oldest+len(ring)-1-i)%len(ring)])
	}
	return out
}
