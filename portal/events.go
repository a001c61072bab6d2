package portal

import (
	"net/http"
	"strconv"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
)

type eventsData struct {
	Events             []identity.Event
	Type, Source, User string
	Older              int64 // the cursor of the next, older page; 0 on the last
	Types              []identity.EventType
}

var eventTypes = []identity.EventType{
	identity.UserCreated, identity.UserUpdated, identity.UserDeactivated, identity.UserRestored, identity.UserDeleted,
	identity.UserInvited, identity.UserLinked, identity.GroupCreated, identity.GroupUpdated, identity.GroupConverted,
	identity.GroupDeleted, identity.MemberAdded, identity.MemberRemoved, identity.ConnectionTested, identity.SyncCompleted,
	settings.TenantCreated, settings.SettingsChanged, settings.TokenIssued, settings.TokenRevoked, settings.CertificateExpiring,
}

// events shows the audit log, newest first, filtered by type, source and
// user, a page at a time: "before" is the cursor.
func (h *Handler) events(c *call) error {
	var f identity.EventFilter
	var typ string
	var err error
	for name, dst := range map[string]*string{"type": &typ, "source": &f.Source, "user": &f.UserID} {
		if *dst, err = query(c.r, name); err != nil {
			return err
		}
	}
	f.Type = identity.EventType(typ)
	var before int64
	if s := c.r.URL.Query().Get("before"); s != "" {
		if before, err = strconv.ParseInt(s, 10, 64); err != nil || before <= 0 {
			return errBadRequestf("the cursor %q is not valid", s)
		}
	}
	evs, err := c.dir().SearchEvents(c.ctx, f, before, pageSize+1)
	if err != nil {
		return err
	}
	d := &eventsData{Events: evs, Type: typ, Source: f.Source, User: f.UserID, Types: eventTypes}
	if len(evs) > pageSize {
		d.Events = evs[:pageSize]
		d.Older = evs[pageSize-1].Seq
	}
	h.render(c.w, c.r, http.StatusOK, "events", c.page("Events", d))
	return nil
}
