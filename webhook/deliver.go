package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
// attempt, for every endpoint of the tenant.
func MessageID(seq int64) string {
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

// progress is an endpoint's pass: what was delivered since the last
// checkpoint.
type progress struct {
	ep identity.WebhookEndpoint // as last stored
	// cursor is the Seq of the last event delivered or passed over, not
	// yet stored unless it equals ep.Cursor.
	cursor  int64
	pending []identity.WebhookDelivery
	saved   time.Time // of the last checkpoint, by the real clock
}

// failures returns the failed attempts and their start for the event
// after p.cursor: none if the cursor moved since ep was stored.
func (p *progress) failures() (int, time.Time) {
	if p.cursor != p.ep.Cursor {
		return 0, time.Time{}
	}
	return p.ep.Attempts, p.ep.FailingSince
}

// pass delivers ep's pending events until one fails (it returns when to
// retry) or none is left (it returns zero). The cursor and the delivery log
// are stored together every Checkpoint events, at the end of the pass and
// with each failure.
func (d *Deliverer) pass(ctx context.Context, ep identity.WebhookEndpoint) (time.Time, error) {
	p := &progress{ep: ep, cursor: ep.Cursor, saved: time.Now()}
	for {
		events, err := d.cfg.Events.Events(ctx, p.cursor, d.cfg.Page)
		if err != nil || len(events) == 0 {
			return time.Time{}, errors.Join(err, d.checkpoint(ctx, p, nil))
		}
		for _, e := range events {
			if !wants(p.ep, e.Type) {
				p.cursor = e.Seq
				continue
			}
			due, done, err := d.attempt(ctx, p, e)
			if done {
				return due, err
			}
			if len(p.pending) >= d.cfg.Checkpoint || time.Since(p.saved) >= time.Second {
				if err := d.checkpoint(ctx, p, nil); err != nil {
					return time.Time{}, err
				}
			}
		}
		if len(events) < d.cfg.Page {
			return time.Time{}, d.checkpoint(ctx, p, nil)
		}
	}
}

// checkpoint stores p's pending deliveries and cursor, with change, if
// no one else changed the endpoint since it was read; else it keeps only
// the deliveries and returns errStale.
func (d *Deliverer) checkpoint(ctx context.Context, p *progress, change func(*identity.WebhookEndpoint)) error {
	if len(p.pending) == 0 && p.cursor == p.ep.Cursor && change == nil {
		return nil
	}
	if ctx.Err() != nil {
		// Stopped: save the progress all the same.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}
	ep, err := d.cfg.Endpoints.RecordDeliveries(ctx, p.ep.ID, p.pending, func(e *identity.WebhookEndpoint) error {
		if e.Version != p.ep.Version || e.Disabled {
			return errStale
		}
		if p.cursor > e.Cursor {
			e.Cursor, e.Attempts, e.NextAttempt, e.FailingSince = p.cursor, 0, time.Time{}, time.Time{}
		}
		if change != nil {
			change(e)
		}
		e.Updated = d.clock.Now()
		return nil
	})
	if errors.Is(err, errStale) && len(p.pending) > 0 {
		_, err2 := d.cfg.Endpoints.RecordDeliveries(ctx, p.ep.ID, p.pending, nil)
		err = errors.Join(err, err2)
	}
	p.pending, p.saved = p.pending[:0], time.Now()
	if err != nil {
		return err
	}
	p.ep, p.cursor = ep, ep.Cursor
	return nil
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
	id := MessageID(e.Seq)
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

// attempt sends e and records the attempt in p. On success it moves p's
// cursor; on failure it stores the retry's time (or the dead letter) with
// the pending deliveries and reports done, with when to retry. It is done
// too when ctx ends or the store fails.
func (d *Deliverer) attempt(ctx context.Context, p *progress, e identity.Event) (due time.Time, done bool, err error) {
	a := d.send(ctx, p.ep, e)
	if ctx.Err() != nil {
		// Stopped (the lease was lost, the host shuts down): not a failure
		// of the endpoint; the event goes again later.
		return time.Time{}, true, errors.Join(ctx.Err(), d.checkpoint(ctx, p, nil))
	}
	now := d.clock.Now()
	attempts, since := p.failures()
	rec := identity.WebhookDelivery{EndpointID: p.ep.ID, Seq: e.Seq, Attempt: attempts + 1, Time: now,
		Status: a.status, Latency: a.latency, Answer: a.body}
	ok := a.err == nil && a.status >= 200 && a.status < 300
	switch {
	case a.err != nil && errors.Is(a.err, context.DeadlineExceeded):
		rec.Error = "timeout after " + d.cfg.Timeout.String()
	case a.err != nil:
		rec.Error = errorText(a.err)
	case !ok:
		rec.Error = "status " + strconv.Itoa(a.status)
	}
	p.pending = append(p.pending, rec)
	if ok {
		p.cursor = e.Seq
		return time.Time{}, false, nil
	}
	d.log.InfoContext(ctx, "webhook: attempt failed", "endpoint", p.ep.ID, "seq", e.Seq, "attempt", rec.Attempt, "err", rec.Error)
	if since.IsZero() {
		since = now
	}
	deadline := since.Add(d.cfg.DeadAfter)
	if !now.Before(deadline) {
		return time.Time{}, true, d.deadLetter(ctx, p, e, attempts+1, since)
	}
	wait := backoff(attempts+1, d.cfg.RetryMin, d.cfg.RetryMax, d.rand())
	if ra, ok := parseRetryAfter(a.retryAfter, now); ok && (a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable) {
		wait = max(ra, d.cfg.RetryMin)
	}
	due = now.Add(wait)
	if due.After(deadline) {
		due = deadline // the last try comes at the deadline
	}
	err = d.checkpoint(ctx, p, func(x *identity.WebhookEndpoint) {
		x.Attempts, x.NextAttempt, x.FailingSince = attempts+1, due, since
	})
	return due, true, err
}

// deadLetter disables the endpoint and records an EndpointDisabled event.
func (d *Deliverer) deadLetter(ctx context.Context, p *progress, e identity.Event, attempts int, since time.Time) error {
	now := d.clock.Now()
	reason := fmt.Sprintf("dead letter: event %d failed %d times since %s", e.Seq, attempts, since.UTC().Format(time.RFC3339))
	err := d.checkpoint(ctx, p, func(x *identity.WebhookEndpoint) {
		x.Disabled, x.DisabledReason = true, reason
		x.Attempts, x.NextAttempt, x.FailingSince = attempts, time.Time{}, since
	})
	if err != nil {
		return err
	}
	d.log.WarnContext(ctx, "webhook: endpoint disabled", "endpoint", p.ep.ID, "seq", e.Seq, "reason", reason)
	ev := []identity.Event{{Type: EndpointDisabled, Tenant: d.cfg.Tenant, Source: "webhook", Time: now,
		Fields: []string{"endpoint:" + p.ep.ID, "seq:" + strconv.FormatInt(e.Seq, 10)}}}
	if err := d.cfg.Events.AppendEvents(ctx, ev); err != nil {
		return fmt.Errorf("record %s: %w", EndpointDisabled, err)
	}
	return errDead
}

// errorText is err without the URL a *url.Error repeats: an endpoint's URL
// may hold a token of the receiver's, and the log and the delivery log
// should not.
func errorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
