package portal

import (
	"net/http"
	"strconv"

	"github.com/rollcall/rollcall/identity"
)

// eventFilter keeps the events of one type, source or user; empty fields
// keep all.
type eventFilter struct {
	typ, source, user string
}

func (f eventFilter) keep(e identity.Event) bool {
	return (f.typ == "" || string(e.Type) == f.typ) && (f.source == "" || e.Source == f.source) &&
		(f.user == "" || e.UserID == f.user)
}

// scanLimit caps the events one page reads to find its matches, so that a
// filter that matches little costs a bounded read; the page then offers to
// read on from where it stopped.
const scanLimit = 5000

// findEvents reads the event log after the cursor and returns up to want
// events that f keeps, and the cursor to read on from (0 at the end).
func (h *Handler) findEvents(c *call, after int64, f eventFilter, want int) ([]identity.Event, int64, error) {
	var out []identity.Event
	for scanned := 0; scanned < scanLimit; {
		evs, err := c.dir().Events(c.ctx, after, 500)
		if err != nil {
			return nil, 0, err
		}
		for _, e := range evs {
			after = e.Seq
			scanned++
			if f.keep(e) {
				out = append(out, e)
				if len(out) == want {
					return out, after, nil
				}
			}
		}
		if len(evs) < 500 {
			return out, 0, nil
		}
	}
	return out, after, nil
}

type eventsData struct {
	Events             []identity.Event
	Type, Source, User string
	Next               int64
	Types              []identity.EventType
}

var eventTypes = []identity.EventType{
	identity.UserCreated, identity.UserUpdated, identity.UserDeactivated, identity.UserRestored, identity.UserDeleted,
	identity.UserInvited, identity.UserLinked, identity.GroupCreated, identity.GroupUpdated, identity.GroupConverted,
	identity.GroupDeleted, identity.MemberAdded, identity.MemberRemoved,
}

func (h *Handler) events(c *call) error {
	var f eventFilter
	var err error
	for name, dst := range map[string]*string{"type": &f.typ, "source": &f.source, "user": &f.user} {
		if *dst, err = query(c.r, name); err != nil {
			return err
		}
	}
	var after int64
	if s := c.r.URL.Query().Get("after"); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			return errBadRequestf("the cursor %q is not valid", s)
		}
	}
	evs, next, err := h.findEvents(c, after, f, pageSize)
	if err != nil {
		return err
	}
	d := &eventsData{Events: evs, Type: f.typ, Source: f.source, User: f.user, Next: next, Types: eventTypes}
	h.render(c.w, c.r, http.StatusOK, "events", c.page("Events", d))
	return nil
}
