package identity

import (
	"context"
	"time"
)

// WebhookEndpoint is where a tenant's events are sent, with the state of
// their delivery. Package webhook validates, signs and delivers; a store only
// keeps it.
type WebhookEndpoint struct {
	ID string
	// URL receives a POST per event.
	URL string
	// Secrets sign each request, in the Standard Webhooks form "whsec_" +
	// base64 of the key. Every secret listed signs, so that a receiver
	// rotating its secret accepts either while both are listed.
	Secrets []string
	// EventTypes are the types sent; none means every type.
	EventTypes []EventType
	// Disabled stops delivery; DisabledReason says why ("dead letter: ...",
	// or the host's words).
	Disabled       bool
	DisabledReason string

	// Cursor is the Seq of the last event delivered or passed over: the
	// next request carries the first event after it.
	Cursor int64
	// Attempts counts the failed attempts at the event after Cursor.
	Attempts int
	// NextAttempt is when to try again after a failure; zero means now.
	NextAttempt time.Time
	// FailingSince is the time of the first failed attempt at the event
	// after Cursor; zero while nothing fails.
	FailingSince time.Time

	Created time.Time
	Updated time.Time
	// Version counts the changes: 1 when created, one more each update.
	Version int64
}

// WebhookDelivery is one attempt to deliver one event to one endpoint: the
// delivery log.
type WebhookDelivery struct {
	// ID is assigned by the store, growing with each delivery.
	ID         int64
	EndpointID string
	// Seq is the event's cursor in the tenant's EventLog.
	Seq int64
	// Attempt is 1 for the first try of the event, then 2, 3...
	Attempt int
	Time    time.Time
	// Status is the HTTP status of the answer; 0 if there was none.
	Status int
	// Error says why there was no answer or why it failed ("timeout"...);
	// empty on success.
	Error   string
	Latency time.Duration
	// Answer holds the first bytes of the answer's body.
	Answer []byte
}

// WebhookStore keeps the webhook endpoints of one tenant and their
// delivery log. A host opens one per tenant, like a Store.
type WebhookStore interface {
	// CreateEndpoint stores a new endpoint and returns it as stored: with an
	// ID (NewID if e.ID is empty) and Version 1. It returns a
	// *ConflictError (Resource "webhook", Field "id") if the ID is taken.
	CreateEndpoint(ctx context.Context, e WebhookEndpoint) (WebhookEndpoint, error)
	// Endpoint returns the endpoint with the id, or ErrNotFound.
	Endpoint(ctx context.Context, id string) (WebhookEndpoint, error)
	// Endpoints returns every endpoint of the tenant, ordered by ID.
	Endpoints(ctx context.Context) ([]WebhookEndpoint, error)
	// UpdateEndpoint changes an endpoint atomically: it reads it, calls fn
	// with a copy and stores what fn leaves, with Version one higher. fn
	// must not use the store. If fn returns an error nothing is stored and
	// UpdateEndpoint returns it. Changes to ID, Created or Version are
	// ignored. It returns ErrNotFound if there is no such endpoint.
	UpdateEndpoint(ctx context.Context, id string, fn func(*WebhookEndpoint) error) (WebhookEndpoint, error)
	// DeleteEndpoint removes the endpoint and its delivery log, or returns
	// ErrNotFound.
	DeleteEndpoint(ctx context.Context, id string) error
	// RecordDeliveries stores attempts in the delivery log and, when fn is
	// not nil, changes the endpoint as UpdateEndpoint does, in one
	// transaction: all of it or nothing. It returns the endpoint as
	// stored, ErrNotFound if there is no such endpoint, or fn's error (and
	// then stores nothing). The store assigns each delivery's ID.
	RecordDeliveries(ctx context.Context, endpointID string, ds []WebhookDelivery, fn func(*WebhookEndpoint) error) (WebhookEndpoint, error)
	// Deliveries returns up to limit attempts of the endpoint with an ID
	// below before (0: no bound), newest first; limit <= 0 means
	// DefaultLimit. None if the endpoint has none or does not exist.
	Deliveries(ctx context.Context, endpointID string, before int64, limit int) ([]WebhookDelivery, error)
	// DeleteDeliveries removes the tenant's attempts made before the time
	// and returns how many.
	DeleteDeliveries(ctx context.Context, before time.Time) (int, error)
}
