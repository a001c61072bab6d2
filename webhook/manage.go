package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/rollcall/rollcall/identity"
)

var zeroTime time.Time

// AddEndpoint checks e and stores it. Its cursor starts at the end of the
// log, so that it receives the events from now on, unless e.Cursor is set
// (Replay from 1 sends the whole log). Finding the end reads the log
// through once.
func (d *Deliverer) AddEndpoint(ctx context.Context, e identity.WebhookEndpoint) (identity.WebhookEndpoint, error) {
	if err := Check(e); err != nil {
		return identity.WebhookEndpoint{}, fmt.Errorf("webhook: %w", err)
	}
	if e.Cursor == 0 {
		tail, err := d.tail(ctx)
		if err != nil {
			return identity.WebhookEndpoint{}, err
		}
		e.Cursor = tail
	}
	now := d.clock.Now()
	e.Created, e.Updated = now, now
	e.Attempts, e.NextAttempt, e.FailingSince = 0, zeroTime, zeroTime
	ep, err := d.cfg.Endpoints.CreateEndpoint(ctx, e)
	if err != nil {
		return identity.WebhookEndpoint{}, fmt.Errorf("webhook: %w", err)
	}
	d.Notify()
	return ep, nil
}

// tail returns the Seq of the last event in the log, 0 if none.
func (d *Deliverer) tail(ctx context.Context) (int64, error) {
	var last int64
	for {
		events, err := d.cfg.Events.Events(ctx, last, 1000)
		if err != nil {
			return 0, fmt.Errorf("webhook: read the event log: %w", err)
		}
		if len(events) == 0 {
			return last, nil
		}
		last = events[len(events)-1].Seq
	}
}

// Replay sends the endpoint's events again from the event with Seq from on
// (from <= 0: from where it stopped), and enables it if it was disabled;
// its failures are forgotten.
func (d *Deliverer) Replay(ctx context.Context, endpointID string, from int64) (identity.WebhookEndpoint, error) {
	ep, err := d.cfg.Endpoints.UpdateEndpoint(ctx, endpointID, func(e *identity.WebhookEndpoint) error {
		if from > 0 {
			e.Cursor = from - 1
		}
		e.Disabled, e.DisabledReason = false, ""
		e.Attempts, e.NextAttempt, e.FailingSince = 0, zeroTime, zeroTime
		e.Updated = d.clock.Now()
		return nil
	})
	if err != nil {
		return identity.WebhookEndpoint{}, fmt.Errorf("webhook: replay: %w", err)
	}
	d.Notify()
	return ep, nil
}

// RotateSecret makes secret the endpoint's first secret and keeps the one
// before it, so that requests carry both signatures until DropOldSecret.
func (d *Deliverer) RotateSecret(ctx context.Context, endpointID, secret string) (identity.WebhookEndpoint, error) {
	if _, err := ParseSecret(secret); err != nil {
		return identity.WebhookEndpoint{}, fmt.Errorf("webhook: %w", err)
	}
	return d.cfg.Endpoints.UpdateEndpoint(ctx, endpointID, func(e *identity.WebhookEndpoint) error {
		e.Secrets = append([]string{secret}, e.Secrets[:min(len(e.Secrets), 1)]...)
		e.Updated = d.clock.Now()
		return nil
	})
}

// DropOldSecret keeps only the endpoint's first secret.
func (d *Deliverer) DropOldSecret(ctx context.Context, endpointID string) (identity.WebhookEndpoint, error) {
	return d.cfg.Endpoints.UpdateEndpoint(ctx, endpointID, func(e *identity.WebhookEndpoint) error {
		e.Secrets = e.Secrets[:min(len(e.Secrets), 1)]
		e.Updated = d.clock.Now()
		return nil
	})
}
