package identity

import (
	"context"
	"time"
)

// EventType names what changed.
type EventType string

const (
	UserCreated     EventType = "user.created"
	UserUpdated     EventType = "user.updated"
	UserDeactivated EventType = "user.deactivated"
	UserRestored    EventType = "user.restored"
	UserDeleted     EventType = "user.deleted"
	UserInvited     EventType = "user.invited"
	UserLinked      EventType = "user.linked"
	GroupCreated    EventType = "group.created"
	GroupUpdated    EventType = "group.updated"
	GroupConverted  EventType = "group.converted"
	GroupDeleted    EventType = "group.deleted"
	MemberAdded     EventType = "group.member_added"
	MemberRemoved   EventType = "group.member_removed"
)

// Event records one change the core made.
type Event struct {
	// Seq is the event's cursor in the store's EventLog; 0 where the store
	// keeps no log.
	Seq    int64
	Type   EventType
	Tenant string
	// Source is what asked for the change: "scim", "saml:<connection>",
	// "import", "manual"...
	Source string
	// Actor, when the host knows it, is who made the change through the
	// source: the admin behind a manual change, the API client of an
	// import. The host names it with WithActor on the context it gives Do.
	Actor   string
	UserID  string
	GroupID string
	// Fields names the fields a *.updated or converted event changed.
	Fields []string
	Time   time.Time
}

// EventSink receives the events of every change after it is committed: the
// host's audit log or webhook queue. Emit must not block for long; a host that
// must not lose an event reads the store's EventLog instead.
type EventSink interface {
	Emit(ctx context.Context, events []Event)
}

// EventSinkFunc adapts a function to EventSink.
type EventSinkFunc func(ctx context.Context, events []Event)

// Emit calls f.
func (f EventSinkFunc) Emit(ctx context.Context, events []Event) { f(ctx, events) }

type actorKey struct{}

// WithActor returns a context under which the changes a Directory makes are
// recorded with actor as their Event.Actor: an admin's user ID or email, an
// API client's name. An empty actor leaves it unknown.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor WithActor put in ctx, or "".
func ActorFrom(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}
