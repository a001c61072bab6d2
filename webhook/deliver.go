package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// Payload is the JSON body of each request.
type Payload struct {
	Type identity.EventType `json:"type"`
	// Timestamp is the event's time, RFC 3339.
	Timestamp time.Time `json:"timestamp"`
	// Seq is the event's cursor in the tenant's log: it grows with each
	// event, so a receiver keeps the largest it handled and drops the rest.
	Seq    int64       `json:"seq"`
	Tenant string      `json:"tenant"`
	Data   PayloadData `json:"data"`
}

// PayloadData is what the event says.
type PayloadData struct {
	Source  string   `json:"source"`
	Actor   string   `json:"actor,omitempty"`
	UserID  string   `json:"user_id,omitempty"`
	GroupID string   `json:"group_id,omitempty"`
	Fields  []string `json:"fields,omitempty"`
}

// MessageID is the webhook-id of an event's requests: the same on every
// attempt, for every endpoint.
func MessageID(tenant string, seq int64) string {
	return "evt_" + strconv.FormatInt(seq, 10)
}

func body(tenant string, e identity.Event) []byte {
	b, _ := json.Marshal(Payload{ // plain strings and ints always marshal
		Type: e.Type, Timestamp: e.Time.UTC(), Seq: e.Seq, Tenant: tenant,
		Data: PayloadData{Source: e.Source, Actor: e.Actor, UserID: e.UserID, GroupID: e.GroupID, Fields: e.Fields},
	})
	return b
}

func wants(ep identity.WebhookEndpoint, t identity.EventType) bool {
	return len(ep.EventTypes) == 0 || slices.Contains(ep.EventTypes, t)
}

// errStale stops an endpoint's pass when someone else changed it (a Replay,
// a new secret): the next Step reads it again.
var errStale = errors.New("webhook: endpoint changed meanwhile")

// errDead stops an endpoint's pass when its event became a dead letter.
var errDead = errors.New("webhook: endpoint disabled")

// Step makes one pass over the tenant's endpoints, each in a goroutine of
// its own: every enabled endpoint that is due receives its pending events in
// order until one fails or none is left. It returns the earliest time a
// retry is due (zero if none), and the errors of the stores.
func (d *Deliverer) Step(ctx context.Context) (time.Time, error) {
	eps, err := d.cfg.Endpoints.Endpoints(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("webhook: endpoints: %w", err)
	}
	now := d.clock.Now()
	var (
		mu   sync.Mutex
		next time.Time
		errs []error
		wg   sync.WaitGroup
	)
	for _, ep := range eps {
		if ep.Disabled {
			continue
		}
		wg.Go(func() {
			due, err := ep.NextAttempt, error(nil)
			if !ep.NextAttempt.After(now) {
				due, err = d.pass(ctx, ep)
			}
			mu.Lock()
			defer mu.Unlock()
			if !due.IsZero() && (next.IsZero() || due.Before(next)) {
				next = due
			}
			if err != nil && !errors.Is(err, errStale) && !errors.Is(err, errDead) {
				errs = append(errs, fmt.Errorf("webhook: endpoint %s: %w", ep.ID, err))
			}
		})
	}
	wg.Wait()
	return next, errors.Join(errs...)
}

// pass delivers ep's pending events until one fails (it returns when to
// retry) or none is left (it returns zero).
func (d *Deliverer) pass(ctx context.Context, ep identity.WebhookEndpoint) (time.Time, error) {
	for {
		events, err := d.cfg.Events.Events(ctx, ep.Cursor, d.cfg.Page)
		if err != nil || len(events) == 0 {
			return time.Time{}, err
		}
		skipped := ep.Cursor
		for _, e := range events {
			if !wants(ep, e.Type) {
				skipped = e.Seq
				continue
			}
			if skipped != ep.Cursor {
				if ep, err = d.advance(ctx, ep, skipped); err != nil {
					return time.Time{}, err
				}
			}
			var due time.Time
			ep, due, err = d.attempt(ctx, ep, e)
			if err != nil || !due.IsZero() {
				return due, err
			}
			skipped = ep.Cursor
		}
		if skipped != ep.Cursor {
			if ep, err = d.advance(ctx, ep, skipped); err != nil {
				return time.Time{}, err
			}
		}
		if len(events) < d.cfg.Page {
			return time.Time{}, nil
		}
	}
}

// update changes ep in the store if no one else changed it since it was
// read, else returns errStale.
func (d *Deliverer) update(ctx context.Context, ep identity.WebhookEndpoint, fn func(*identity.WebhookEndpoint)) (identity.WebhookEndpoint, error) {
	return d.cfg.Endpoints.UpdateEndpoint(ctx, ep.ID, func(e *identity.WebhookEndpoint) error {
		if e.Version != ep.Version || e.Disabled {
			return errStale
		}
		fn(e)
		e.Updated = d.clock.Now()
		return nil
	})
}

// advance moves ep's cursor to seq and clears its failures.
func (d *Deliverer) advance(ctx context.Context, ep identity.WebhookEndpoint, seq int64) (identity.WebhookEndpoint, error) {
	return d.update(ctx, ep, func(e *identity.WebhookEndpoint) {
		e.Cursor, e.Attempts, e.NextAttempt, e.FailingSince = max(e.Cursor, seq), 0, time.Time{}, time.Time{}
	})
}

// answer is what came back from one request.
type answer struct {
	status     int
	retryAfter string
	body       []byte
	err        error
	latency    time.Duration
}

// send makes one request and reads the first bytes of its answer.
func (d *Deliverer) send(ctx context.Context, ep identity.WebhookEndpoint, e identity.Event) answer {
	b := body(d.cfg.Tenant, e)
	id := MessageID(d.cfg.Tenant, e.Seq)
	now := d.clock.Now()
	sig, err := Sign(ep.Secrets, id, now, b)
	if err != nil {
		return answer{err: fmt.Errorf("sign: %w", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(b))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rollcall-webhook")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		return answer{err: err, latency: time.Since(start)}
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	a.body, _ = io.ReadAll(io.LimitReader(resp.Body, int64(d.cfg.AnswerBytes)))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so that the connection is reused
	a.latency = time.Since(start)
	return a
}

// attempt sends e to ep and records the attempt. On success it moves the
// cursor and returns a zero due time; on failure it schedules the retry,
// or disables the endpoint once the event has failed for DeadAfter, and
// returns when to retry.
func (d *Deliverer) attempt(ctx context.Context, ep identity.WebhookEndpoint, e identity.Event) (identity.WebhookEndpoint, time.Time, error) {
	a := d.send(ctx, ep, e)
	now := d.clock.Now()
	rec := identity.WebhookDelivery{EndpointID: ep.ID, Seq: e.Seq, Attempt: ep.Attempts + 1, Time: now,
		Status: a.status, Latency: a.latency, Answer: a.body}
	ok := a.err == nil && a.status >= 200 && a.status < 300
	switch {
	case a.err != nil && errors.Is(a.err, context.DeadlineExceeded) && ctx.Err() == nil:
		rec.Error = "timeout after " + d.cfg.Timeout.String()
	case a.err != nil:
		rec.Error = a.err.Error()
	case !ok:
		rec.Error = "status " + strconv.Itoa(a.status)
	}
	if ctx.Err() != nil {
		// Stopped (the lease was lost, the host shuts down): not a failure
		// of the endpoint; the event goes again later.
		return ep, time.Time{}, ctx.Err()
	}
	if _, err := d.cfg.Endpoints.AddDelivery(ctx, rec); err != nil {
		d.log.WarnContext(ctx, "webhook: delivery log", "endpoint", ep.ID, "err", err)
	}
	if ok {
		ep, err := d.advance(ctx, ep, e.Seq)
		return ep, time.Time{}, err
	}
	d.log.InfoContext(ctx, "webhook: attempt failed", "endpoint", ep.ID, "seq", e.Seq, "attempt", rec.Attempt, "err", rec.Error)
	return d.fail(ctx, ep, e, now, a)
}

// fail records a failed attempt: the retry's time, or the dead letter.
func (d *Deliverer) fail(ctx context.Context, ep identity.WebhookEndpoint, e identity.Event, now time.Time, a answer) (identity.WebhookEndpoint, time.Time, error) {
	since := ep.FailingSince
	if since.IsZero() {
		since = now
	}
	deadline := since.Add(d.cfg.DeadAfter)
	if !now.Before(deadline) {
		return d.deadLetter(ctx, ep, e, since)
	}
	wait := backoff(ep.Attempts+1, d.cfg.RetryMin, d.cfg.RetryMax, d.rand())
	if ra, ok := parseRetryAfter(a.retryAfter, now); ok && (a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable) {
		wait = max(ra, d.cfg.RetryMin)
	}
	due := now.Add(wait)
	if due.After(deadline) {
		due = deadline // the last try comes at the deadline
	}
	ep, err := d.update(ctx, ep, func(x *identity.WebhookEndpoint) {
		x.Attempts, x.NextAttempt, x.FailingSince = ep.Attempts+1, due, since
	})
	return ep, due, err
}

// deadLetter disables ep and records an EndpointDisabled event.
func (d *Deliverer) deadLetter(ctx context.Context, ep identity.WebhookEndpoint, e identity.Event, since time.Time) (identity.WebhookEndpoint, time.Time, error) {
	now := d.clock.Now()
	reason := fmt.Sprintf("dead letter: event %d failed %d times since %s", e.Seq, ep.Attempts+1, since.UTC().Format(time.RFC3339))
	ep, err := d.update(ctx, ep, func(x *identity.WebhookEndpoint) {
		x.Disabled, x.DisabledReason = true, reason
		x.Attempts, x.NextAttempt, x.FailingSince = ep.Attempts+1, time.Time{}, since
	})
	if err != nil {
		return ep, time.Time{}, err
	}
	d.log.WarnContext(ctx, "webhook: endpoint disabled", "endpoint", ep.ID, "seq", e.Seq, "reason", reason)
	ev := []identity.Event{{Type: EndpointDisabled, Tenant: d.cfg.Tenant, Source: "webhook", Time: now,
		Fields: []string{"endpoint:" + ep.ID, "seq:" + strconv.FormatInt(e.Seq, 10)}}}
	if err := d.cfg.Events.AppendEvents(ctx, ev); err != nil {
		return ep, time.Time{}, fmt.Errorf("record %s: %w", EndpointDisabled, err)
	}
	return ep, time.Time{}, errDead
}
