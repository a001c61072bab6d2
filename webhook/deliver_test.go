package webhook_test

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/webhook"
)

func addEndpoint(t *testing.T, s *setup, url string, types ...identity.EventType) identity.WebhookEndpoint {
	t.Helper()
	ep, err := s.d.AddEndpoint(t.Context(), identity.WebhookEndpoint{URL: url, Secrets: []string{secret}, EventTypes: types})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// TestDeliverInOrder delivers what was logged after the endpoint was added,
// in Seq order, each request signed and carrying its Seq.
func TestDeliverInOrder(t *testing.T) {
	s := newSetup(t, nil)
	rc := newReceiver(t)
	appendEvents(t, s.log, s.clock, 3, identity.UserCreated) // before the endpoint: not sent
	ep := addEndpoint(t, s, rc.URL+"/hook")
	want := appendEvents(t, s.log, s.clock, 150, identity.UserCreated)
	if due, err := s.d.Step(t.Context()); err != nil || !due.IsZero() {
		t.Fatalf("Step = %v, %v", due, err)
	}
	if got := rc.seqs(); !slices.Equal(got, want) {
		t.Fatalf("received seqs %v, want %v", got, want)
	}
	r := rc.requests()[0]
	verify(t, r, secret)
	if id := r.header.Get("webhook-id"); id != "evt_"+strconv.FormatInt(want[0], 10) {
		t.Errorf("webhook-id %q", id)
	}
	if r.payload.Type != identity.UserCreated || r.payload.Tenant != "acme" || r.payload.Data.Source != "scim" || !r.payload.Timestamp.Equal(s.clock.Now()) {
		t.Errorf("payload %+v", r.payload)
	}
	got, _ := s.hooks.Endpoint(t.Context(), ep.ID)
	if got.Cursor != want[len(want)-1] || got.Attempts != 0 {
		t.Errorf("endpoint after delivery: cursor %d, attempts %d; want %d, 0", got.Cursor, got.Attempts, want[len(want)-1])
	}
	log, _ := s.hooks.Deliveries(t.Context(), ep.ID, 0, 1)
	if len(log) != 1 || log[0].Seq != want[len(want)-1] || log[0].Status != http.StatusNoContent || log[0].Error != "" || log[0].Attempt != 1 {
		t.Errorf("last delivery log entry %+v", log)
	}
	// Nothing new: nothing sent.
	s.d.Step(t.Context())
	if n := len(rc.requests()); n != len(want) {
		t.Errorf("%d requests after a step with nothing new, want %d", n, len(want))
	}
}

// TestEventTypes sends an endpoint only the types it asked for; the others
// move its cursor all the same.
func TestEventTypes(t *testing.T) {
	s := newSetup(t, nil)
	rc := newReceiver(t)
	ep := addEndpoint(t, s, rc.URL, identity.MemberAdded)
	appendEvents(t, s.log, s.clock, 2, identity.UserCreated)
	want := appendEvents(t, s.log, s.clock, 2, identity.MemberAdded)
	last := appendEvents(t, s.log, s.clock, 2, identity.UserUpdated)
	if _, err := s.d.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := rc.seqs(); !slices.Equal(got, want) {
		t.Errorf("received %v, want only the member_added events %v", got, want)
	}
	if got, _ := s.hooks.Endpoint(t.Context(), ep.ID); got.Cursor != last[1] {
		t.Errorf("cursor %d, want %d (past the events not sent)", got.Cursor, last[1])
	}
}

// TestRetryDeadLetterReplay scripts a receiver that answers 500, then 429
// with Retry-After, then hangs; with a fake clock it checks the retry
// schedule, the dead letter after DeadAfter (endpoint disabled, an event
// saying so, the delivery log), and the replay from a Seq.
func TestRetryDeadLetterReplay(t *testing.T) {
	const deadAfter = 30 * time.Minute
	s := newSetup(t, func(c *webhook.Config) {
		c.RetryMin, c.RetryMax, c.DeadAfter = 10*time.Second, 5*time.Minute, deadAfter
		c.Timeout = 150 * time.Millisecond
		c.Rand = func() float64 { return 0.5 } // each wait is 3/4 of the backoff
		c.AnswerBytes = 8
	})
	rc := newReceiver(t, status(500, "internal error, long body"), status(429, "slow down", "Retry-After", "120"), hang)
	ep := addEndpoint(t, s, rc.URL)
	seqs := appendEvents(t, s.log, s.clock, 3, identity.UserCreated)
	start := s.clock.Now()
	ctx := t.Context()

	step := func() time.Time {
		t.Helper()
		due, err := s.d.Step(ctx)
		if err != nil {
			t.Fatalf("Step: %v", err)
		}
		return due
	}
	// Waits after each failure: 500 → 10s·¾; 429 → its Retry-After (120s);
	// the hangs → 40s·¾, 80s·¾, 160s·¾, then the 5m cap ·¾ = 225s, and the
	// last try at the dead-letter deadline.
	waits := []time.Duration{7500 * time.Millisecond, 120 * time.Second, 30 * time.Second, 60 * time.Second, 120 * time.Second}
	for i := 0; ; i++ {
		now := s.clock.Now()
		due := step()
		if got := len(rc.requests()); got != i+1 {
			t.Fatalf("attempt %d: the receiver has %d requests", i+1, got)
		}
		if due.IsZero() {
			break // dead
		}
		want := 225 * time.Second
		if i < len(waits) {
			want = waits[i]
		}
		if deadline := start.Add(deadAfter); now.Add(want).After(deadline) {
			want = deadline.Sub(now)
		}
		if due.Sub(now) != want {
			t.Fatalf("after attempt %d: next try in %v, want %v", i+1, due.Sub(now), want)
		}
		// Not before it is due.
		s.clock.Set(due.Add(-time.Second))
		if step(); len(rc.requests()) != i+1 {
			t.Fatalf("attempt %d: sent a second before it was due", i+2)
		}
		s.clock.Set(due)
	}
	if s.clock.Now().Sub(start) != deadAfter {
		t.Errorf("dead letter at %v after the first failure, want %v", s.clock.Now().Sub(start), deadAfter)
	}
	for _, r := range rc.requests() {
		if r.payload.Seq != seqs[0] {
			t.Fatalf("an attempt carried seq %d before seq %d was delivered", r.payload.Seq, seqs[0])
		}
	}
	attempts := len(rc.requests())

	// The endpoint is disabled, and the log says so.
	got, _ := s.hooks.Endpoint(ctx, ep.ID)
	if !got.Disabled || !strings.Contains(got.DisabledReason, "dead letter: event "+strconv.FormatInt(seqs[0], 10)) || got.Cursor != ep.Cursor {
		t.Errorf("endpoint after the dead letter: disabled %v %q, cursor %d", got.Disabled, got.DisabledReason, got.Cursor)
	}
	events, _ := s.log.Events(ctx, seqs[2], 0)
	if len(events) != 1 || events[0].Type != webhook.EndpointDisabled || !slices.Equal(events[0].Fields, []string{"endpoint:" + ep.ID, "seq:" + strconv.FormatInt(seqs[0], 10)}) {
		t.Errorf("events after the dead letter: %+v, want one %s", events, webhook.EndpointDisabled)
	}
	deliveries, _ := s.hooks.Deliveries(ctx, ep.ID, 0, 0)
	slices.Reverse(deliveries)
	if len(deliveries) != attempts {
		t.Fatalf("%d deliveries logged, want %d", len(deliveries), attempts)
	}
	d0, d1, d2 := deliveries[0], deliveries[1], deliveries[2]
	if d0.Status != 500 || string(d0.Answer) != "internal" || d0.Attempt != 1 || d0.Error != "status 500" || !d0.Time.Equal(start) {
		t.Errorf("first delivery %+v", d0)
	}
	if d1.Status != 429 || string(d1.Answer) != "slow dow" || d1.Attempt != 2 {
		t.Errorf("second delivery %+v", d1)
	}
	if d2.Status != 0 || !strings.Contains(d2.Error, "timeout") || d2.Latency < 150*time.Millisecond || d2.Attempt != 3 {
		t.Errorf("third delivery (a hang) %+v", d2)
	}
	// Disabled: nothing is sent, however late.
	s.clock.Advance(24 * time.Hour)
	if due := step(); !due.IsZero() || len(rc.requests()) != attempts {
		t.Errorf("a disabled endpoint was tried again")
	}

	// Replay from the second event: enabled, and sent in order from there,
	// the dead-letter event included.
	rc.script(ok)
	if _, err := s.d.Replay(ctx, ep.ID, seqs[1]); err != nil {
		t.Fatal(err)
	}
	step()
	want := []int64{seqs[1], seqs[2], events[0].Seq}
	if got := rc.seqs()[attempts:]; !slices.Equal(got, want) {
		t.Errorf("after Replay from %d, received %v, want %v", seqs[1], got, want)
	}
	got, _ = s.hooks.Endpoint(ctx, ep.ID)
	if got.Disabled || got.Attempts != 0 || got.Cursor != events[0].Seq {
		t.Errorf("endpoint after the replay: disabled %v, attempts %d, cursor %d", got.Disabled, got.Attempts, got.Cursor)
	}
}

// TestRetryAfterDate honours Retry-After given as an HTTP date.
func TestRetryAfterDate(t *testing.T) {
	s := newSetup(t, func(c *webhook.Config) { c.RetryMin = time.Second; c.Rand = func() float64 { return 0 } })
	at := s.clock.Now().Add(10 * time.Minute).UTC().Format(http.TimeFormat)
	rc := newReceiver(t, status(503, "", "Retry-After", at), ok)
	addEndpoint(t, s, rc.URL)
	appendEvents(t, s.log, s.clock, 1, identity.UserCreated)
	due, _ := s.d.Step(t.Context())
	if d := due.Sub(s.clock.Now()); d != 10*time.Minute {
		t.Errorf("retry in %v, want the 10 minutes the date says", d)
	}
}

// TestRotation signs with both secrets while a secret is rotated: a
// receiver holding either accepts, by the standard-webhooks library (with
// its timestamp check, on the real clock) and by Verify.
func TestRotation(t *testing.T) {
	s := newSetup(t, func(c *webhook.Config) { c.Clock = identity.SystemClock })
	rc := newReceiver(t)
	ep := addEndpoint(t, s, rc.URL)
	next := webhook.NewSecret()
	if _, err := s.d.RotateSecret(t.Context(), ep.ID, next); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, s.log, s.clock, 1, identity.UserCreated)
	s.d.Step(t.Context())
	if _, err := s.d.DropOldSecret(t.Context(), ep.ID); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, s.log, s.clock, 1, identity.UserCreated)
	s.d.Step(t.Context())
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		for j, sec := range []string{next, secret} {
			wh, _ := standardwebhooks.NewWebhook(sec)
			libErr := wh.Verify(r.body, r.header)
			ownErr := webhook.Verify(sec, r.header, r.body, time.Now(), 0)
			wantOK := i == 0 || j == 0 // after the drop, only the new secret signs
			if (libErr == nil) != wantOK || (ownErr == nil) != wantOK {
				t.Errorf("request %d, secret %d: library %v, Verify %v; want accepted %v", i, j, libErr, ownErr, wantOK)
			}
		}
		// Tampered: refused by both.
		bad := append([]byte(nil), r.body...)
		bad[len(bad)-2] ^= 1
		wh, _ := standardwebhooks.NewWebhook(next)
		if wh.Verify(bad, r.header) == nil || !errors.Is(webhook.Verify(next, r.header, bad, time.Now(), 0), webhook.ErrNoSignature) {
			t.Errorf("request %d: a changed body was accepted", i)
		}
	}
}

// TestSSRFGuardByDefault: with no Client given, the Deliverer refuses the
// loopback receiver, and the delivery log says why.
func TestSSRFGuardByDefault(t *testing.T) {
	s := newSetup(t, func(c *webhook.Config) { c.Client = nil })
	rc := newReceiver(t)
	ep := addEndpoint(t, s, rc.URL+"/hook?token=receiver-secret")
	appendEvents(t, s.log, s.clock, 1, identity.UserCreated)
	s.d.Step(t.Context())
	if n := len(rc.requests()); n != 0 {
		t.Errorf("the loopback receiver got %d requests", n)
	}
	log, _ := s.hooks.Deliveries(t.Context(), ep.ID, 0, 0)
	if len(log) != 1 || !strings.Contains(log[0].Error, "loopback") {
		t.Errorf("delivery log %+v, want the loopback address refused", log)
	}
	if len(log) == 1 && strings.Contains(log[0].Error, "receiver-secret") {
		t.Errorf("the delivery log repeats the endpoint's URL: %q", log[0].Error)
	}
}

func TestCheck(t *testing.T) {
	good := identity.WebhookEndpoint{URL: "https://hooks.example.com/x", Secrets: []string{secret}, EventTypes: []identity.EventType{identity.UserCreated}}
	if err := webhook.Check(good); err != nil {
		t.Errorf("Check of a good endpoint: %v", err)
	}
	for name, c := range map[string]struct {
		edit  func(*identity.WebhookEndpoint)
		field string
	}{
		"relative URL":   {func(e *identity.WebhookEndpoint) { e.URL = "/hook" }, "url"},
		"ftp URL":        {func(e *identity.WebhookEndpoint) { e.URL = "ftp://x.example/" }, "url"},
		"user in URL":    {func(e *identity.WebhookEndpoint) { e.URL = "https://u:p@x.example/" }, "url"},
		"no secret":      {func(e *identity.WebhookEndpoint) { e.Secrets = nil }, "secrets"},
		"three secrets":  {func(e *identity.WebhookEndpoint) { e.Secrets = []string{secret, secret, secret} }, "secrets"},
		"bad prefix":     {func(e *identity.WebhookEndpoint) { e.Secrets = []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} }, "secrets[0]"},
		"short key":      {func(e *identity.WebhookEndpoint) { e.Secrets = []string{secret, "whsec_c2hvcnQ="} }, "secrets[1]"},
		"bad event type": {func(e *identity.WebhookEndpoint) { e.EventTypes = []identity.EventType{"User Created"} }, "eventTypes[0]"},
	} {
		e := good
		c.edit(&e)
		err := webhook.Check(e)
		var v *identity.ValidationError
		if !errors.As(err, &v) || v.Fields[0].Field != c.field {
			t.Errorf("%s: Check = %v, want a ValidationError on %s", name, err, c.field)
		}
		if strings.Contains(err.Error(), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
			t.Errorf("%s: the error shows the secret: %v", name, err)
		}
	}
}

// TestTrim keeps the delivery log for KeepDeliveries.
func TestTrim(t *testing.T) {
	s := newSetup(t, func(c *webhook.Config) { c.KeepDeliveries = 48 * time.Hour })
	rc := newReceiver(t)
	ep := addEndpoint(t, s, rc.URL)
	appendEvents(t, s.log, s.clock, 3, identity.UserCreated)
	s.d.Step(t.Context())
	s.clock.Advance(24 * time.Hour)
	appendEvents(t, s.log, s.clock, 2, identity.UserCreated)
	s.d.Step(t.Context())
	if n, err := s.d.Trim(t.Context()); err != nil || n != 0 {
		t.Errorf("Trim after a day = %d, %v; want 0", n, err)
	}
	s.clock.Advance(25 * time.Hour)
	if n, err := s.d.Trim(t.Context()); err != nil || n != 3 {
		t.Errorf("Trim after 49 hours = %d, %v; want the 3 attempts of the first day", n, err)
	}
	if log, _ := s.hooks.Deliveries(t.Context(), ep.ID, 0, 0); len(log) != 2 {
		t.Errorf("%d attempts left, want 2", len(log))
	}
}
