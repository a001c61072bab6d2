package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
)

var _ identity.WebhookStore = (*WebhookStore)(nil)

const endpointColumns = "id, url, secrets, event_types, disabled, disabled_reason, event_cursor, attempts, " +
	"next_attempt, failing_since, created, updated, version"

var (
	insertEndpoint = prep("INSERT INTO rollcall_webhooks (tenant, " + endpointColumns + ") " +
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO NOTHING")
	selectEndpoint  = prep("SELECT " + endpointColumns + " FROM rollcall_webhooks WHERE tenant = ? AND id = ?")
	selectEndpoints = prep("SELECT " + endpointColumns + " FROM rollcall_webhooks WHERE tenant = ? ORDER BY id")
	updateEndpoint  = prep("UPDATE rollcall_webhooks SET url = ?, secrets = ?, event_types = ?, disabled = ?, disabled_reason = ?, " +
		"event_cursor = ?, attempts = ?, next_attempt = ?, failing_since = ?, updated = ?, version = ? WHERE tenant = ? AND id = ?")
	deleteEndpoint   = prep("DELETE FROM rollcall_webhooks WHERE tenant = ? AND id = ?")
	deleteDeliveries = prep("DELETE FROM rollcall_webhook_deliveries WHERE tenant = ? AND endpoint_id = ?")
	selectDeliveries = prep("SELECT id, seq, attempt, time, status, error, latency, answer FROM rollcall_webhook_deliveries " +
		"WHERE tenant = ? AND endpoint_id = ? AND id < ? ORDER BY id DESC LIMIT ?")
	deleteOldDeliveries = prep("DELETE FROM rollcall_webhook_deliveries WHERE tenant = ? AND time < ?")
)

// WebhookStore is the identity.WebhookStore of one tenant, from DB.Webhooks.
// Secrets are stored as given: a host that must not keep them in clear
// encrypts them before it stores an endpoint.
type WebhookStore struct {
	db     *DB
	tenant string
}

// Webhooks returns the webhook store of one tenant.
func (db *DB) Webhooks(tenant string) *WebhookStore { return &WebhookStore{db: db, tenant: tenant} }

// zmicros is the stored form of a time that may be zero: 0.
func zmicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

func fromZMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMicros(v)
}

func endpointValues(e identity.WebhookEndpoint) []any {
	secrets, _ := json.Marshal(e.Secrets) // a []string always marshals
	types, _ := json.Marshal(e.EventTypes)
	return []any{e.URL, string(secrets), string(types), e.Disabled, e.DisabledReason, e.Cursor, e.Attempts,
		zmicros(e.NextAttempt), zmicros(e.FailingSince)}
}

func scanEndpoint(row interface{ Scan(...any) error }) (identity.WebhookEndpoint, error) {
	var (
		e                                         identity.WebhookEndpoint
		secrets, types                            string
		next, failing, created, updated, attempts int64
	)
	err := row.Scan(&e.ID, &e.URL, &secrets, &types, &e.Disabled, &e.DisabledReason, &e.Cursor, &attempts,
		&next, &failing, &created, &updated, &e.Version)
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(secrets), &e.Secrets); err != nil {
		return e, fmt.Errorf("sqlstore: webhook %s: secrets: %w", e.ID, err)
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return e, fmt.Errorf("sqlstore: webhook %s: event types: %w", e.ID, err)
	}
	e.Attempts = int(attempts)
	e.NextAttempt, e.FailingSince = fromZMicros(next), fromZMicros(failing)
	e.Created, e.Updated = fromZMicros(created), fromZMicros(updated)
	return e, nil
}

func cloneEndpoint(e identity.WebhookEndpoint) identity.WebhookEndpoint {
	e.Secrets = slices.Clone(e.Secrets)
	e.EventTypes = slices.Clone(e.EventTypes)
	return e
}

// CreateEndpoint implements identity.WebhookStore.
func (s *WebhookStore) CreateEndpoint(ctx context.Context, e identity.WebhookEndpoint) (identity.WebhookEndpoint, error) {
	if e.ID == "" {
		e.ID = identity.NewID()
	}
	e = cloneEndpoint(e)
	e.Version = 1
	e.NextAttempt, e.FailingSince, e.Created, e.Updated = stamp(e.NextAttempt), stamp(e.FailingSince), stamp(e.Created), stamp(e.Updated)
	err := s.db.retryStmt(ctx, func(c conn) error {
		args := append([]any{s.tenant, e.ID}, endpointValues(e)...)
		args = append(args, zmicros(e.Created), zmicros(e.Updated), e.Version)
		res, err := c.exec(ctx, insertEndpoint, args...)
		if err != nil {
			return c.d.mapErr(err, "create webhook")
		}
		if n, err := res.RowsAffected(); err != nil {
			return c.d.mapErr(err, "create webhook")
		} else if n == 0 {
			return &identity.ConflictError{Resource: "webhook", Field: "id"}
		}
		return nil
	})
	if err != nil {
		return identity.WebhookEndpoint{}, err
	}
	return cloneEndpoint(e), nil
}

// Endpoint implements identity.WebhookStore.
func (s *WebhookStore) Endpoint(ctx context.Context, id string) (identity.WebhookEndpoint, error) {
	c := s.db.on(s.db.rdb, nil)
	e, err := scanEndpoint(c.row(ctx, selectEndpoint, s.tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return identity.WebhookEndpoint{}, notFound("webhook " + id)
	}
	if err != nil {
		return identity.WebhookEndpoint{}, c.d.mapErr(err, "webhook")
	}
	return e, nil
}

// Endpoints implements identity.WebhookStore.
func (s *WebhookStore) Endpoints(ctx context.Context) ([]identity.WebhookEndpoint, error) {
	c := s.db.on(s.db.rdb, nil)
	rows, err := c.query(ctx, selectEndpoints, s.tenant)
	if err != nil {
		return nil, c.d.mapErr(err, "webhooks")
	}
	defer rows.Close()
	out := []identity.WebhookEndpoint{}
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, c.d.mapErr(err, "webhooks")
		}
		out = append(out, e)
	}
	return out, c.d.mapErr(rows.Err(), "webhooks")
}

// UpdateEndpoint implements identity.WebhookStore: the row is locked (FOR
// UPDATE in PostgreSQL) from the read to the write.
func (s *WebhookStore) UpdateEndpoint(ctx context.Context, id string, fn func(*identity.WebhookEndpoint) error) (identity.WebhookEndpoint, error) {
	var out identity.WebhookEndpoint
	err := s.db.runTx(ctx, txWrite, func(c conn) error {
		old, err := scanEndpoint(c.row(ctx, selectEndpoint+c.d.forUpdate(), s.tenant, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("webhook " + id)
		}
		if err != nil {
			return c.d.mapErr(err, "update webhook")
		}
		out, err = s.change(ctx, c, old, fn)
		return err
	})
	if err != nil {
		return identity.WebhookEndpoint{}, err
	}
	return cloneEndpoint(out), nil
}

// change calls fn on a copy of old, the endpoint's row locked in c's
// transaction, and stores the result.
func (s *WebhookStore) change(ctx context.Context, c conn, old identity.WebhookEndpoint, fn func(*identity.WebhookEndpoint) error) (identity.WebhookEndpoint, error) {
	e := cloneEndpoint(old)
	if err := fn(&e); err != nil {
		return identity.WebhookEndpoint{}, err
	}
	e = cloneEndpoint(e)
	e.ID, e.Created, e.Version = old.ID, old.Created, old.Version+1
	e.NextAttempt, e.FailingSince, e.Updated = stamp(e.NextAttempt), stamp(e.FailingSince), stamp(e.Updated)
	args := append(endpointValues(e), zmicros(e.Updated), e.Version, s.tenant, old.ID)
	if _, err := c.exec(ctx, updateEndpoint, args...); err != nil {
		return identity.WebhookEndpoint{}, c.d.mapErr(err, "update webhook")
	}
	return e, nil
}

// DeleteEndpoint implements identity.WebhookStore.
func (s *WebhookStore) DeleteEndpoint(ctx context.Context, id string) error {
	return s.db.runTx(ctx, txWrite, func(c conn) error {
		if _, err := c.exec(ctx, deleteDeliveries, s.tenant, id); err != nil {
			return c.d.mapErr(err, "delete webhook")
		}
		res, err := c.exec(ctx, deleteEndpoint, s.tenant, id)
		if err != nil {
			return c.d.mapErr(err, "delete webhook")
		}
		if n, err := res.RowsAffected(); err != nil {
			return c.d.mapErr(err, "delete webhook")
		} else if n == 0 {
			return notFound("webhook " + id)
		}
		return nil
	})
}

// RecordDeliveries implements identity.WebhookStore: one transaction that
// locks the endpoint's row (FOR UPDATE in PostgreSQL), changes it and
// inserts the deliveries, many a statement.
func (s *WebhookStore) RecordDeliveries(ctx context.Context, endpointID string, ds []identity.WebhookDelivery, fn func(*identity.WebhookEndpoint) error) (identity.WebhookEndpoint, error) {
	var out identity.WebhookEndpoint
	err := s.db.runTx(ctx, txWrite, func(c conn) error {
		old, err := scanEndpoint(c.row(ctx, selectEndpoint+c.d.forUpdate(), s.tenant, endpointID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("webhook " + endpointID)
		}
		if err != nil {
			return c.d.mapErr(err, "record webhook deliveries")
		}
		out = old
		if fn != nil {
			if out, err = s.change(ctx, c, old, fn); err != nil {
				return err
			}
		}
		return s.insertDeliveries(ctx, c, endpointID, ds)
	})
	if err != nil {
		return identity.WebhookEndpoint{}, err
	}
	return cloneEndpoint(out), nil
}

// deliveryBatch is how many deliveries one INSERT writes.
const deliveryBatch = 64

func (s *WebhookStore) insertDeliveries(ctx context.Context, c conn, endpointID string, ds []identity.WebhookDelivery) error {
	for start := 0; start < len(ds); start += deliveryBatch {
		chunk := ds[start:min(start+deliveryBatch, len(ds))]
		var b strings.Builder
		b.WriteString("INSERT INTO rollcall_webhook_deliveries (tenant, endpoint_id, seq, attempt, time, status, error, latency, answer) VALUES ")
		args := make([]any, 0, 9*len(chunk))
		for i, d := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			answer := d.Answer
			if answer == nil {
				answer = []byte{}
			}
			args = append(args, s.tenant, endpointID, d.Seq, d.Attempt, micros(stamp(d.Time)), d.Status, d.Error, d.Latency.Microseconds(), answer)
		}
		if _, err := c.exec(ctx, b.String(), args...); err != nil {
			return c.d.mapErr(err, "record webhook deliveries")
		}
	}
	return nil
}

// Deliveries implements identity.WebhookStore.
func (s *WebhookStore) Deliveries(ctx context.Context, endpointID string, before int64, limit int) ([]identity.WebhookDelivery, error) {
	if limit <= 0 {
		limit = identity.DefaultLimit
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	c := s.db.on(s.db.rdb, nil)
	rows, err := c.query(ctx, selectDeliveries, s.tenant, endpointID, before, limit)
	if err != nil {
		return nil, c.d.mapErr(err, "webhook deliveries")
	}
	defer rows.Close()
	var out []identity.WebhookDelivery
	for rows.Next() {
		d := identity.WebhookDelivery{EndpointID: endpointID}
		var at, latency, attempt, status int64
		if err := rows.Scan(&d.ID, &d.Seq, &attempt, &at, &status, &d.Error, &latency, &d.Answer); err != nil {
			return nil, c.d.mapErr(err, "webhook deliveries")
		}
		d.Attempt, d.Status = int(attempt), int(status)
		d.Time, d.Latency = fromMicros(at), time.Duration(latency)*time.Microsecond
		out = append(out, d)
	}
	return out, c.d.mapErr(rows.Err(), "webhook deliveries")
}

// DeleteDeliveries implements identity.WebhookStore.
func (s *WebhookStore) DeleteDeliveries(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.db.retryStmt(ctx, func(c conn) error {
		res, err := c.exec(ctx, deleteOldDeliveries, s.tenant, micros(before))
		if err != nil {
			return c.d.mapErr(err, "delete webhook deliveries")
		}
		n, err = res.RowsAffected()
		return c.d.mapErr(err, "delete webhook deliveries")
	})
	return int(n), err
}
