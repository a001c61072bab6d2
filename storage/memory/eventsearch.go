package memory

import (
	"context"

	"github.com/rollcall/rollcall/identity"
)

var _ identity.EventSearch = (*Store)(nil)

// SearchEvents implements identity.EventSearch: it reads the tenant's events
// backwards from before.
func (s *Store) SearchEvents(ctx context.Context, f identity.EventFilter, before int64, limit int) ([]identity.Event, error) {
	if limit <= 0 {
		limit = identity.DefaultLimit
	}
	return read(ctx, s, func(d *data) ([]identity.Event, error) {
		var out []identity.Event
		for i := len(d.events) - 1; i >= 0 && len(out) < limit; i-- {
			e := d.events[i]
			if (before == 0 || e.Seq < before) && f.Match(e) {
				out = append(out, cloneEvent(e))
			}
		}
		return out, nil
	})
}
