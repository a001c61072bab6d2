// Package webhook delivers a tenant's events to the host's webhook
// endpoints, reading the tenant's identity.EventLog as an outbox.
//
// Each event is a POST of a JSON body signed as the Standard Webhooks
// specification says (webhook-id, webhook-timestamp, webhook-signature). A
// Deliverer sends each endpoint the events after its cursor, one at a time
// and in Seq order, at least once: the cursor moves only after a 2xx answer,
// so an event may come again after a crash, and the body's "seq" lets the
// receiver drop what it has seen. A failed attempt is retried with
// exponential backoff and jitter, or after the answer's Retry-After; an
// event that still fails DeadAfter after its first failure disables the
// endpoint (a dead letter), recorded as a webhook.endpoint_disabled event
// in the log, until Replay. Every attempt is written to the delivery log.
//
// On several replicas, one Deliverer per tenant runs at a time under a
// lease (RunLeased).
package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/lease"
	"github.com/rollcall/rollcall/netguard"
)

// EndpointDisabled is the type of the event a Deliverer records when it
// disables an endpoint whose event could not be delivered for DeadAfter.
// Its Source is "webhook" and its Fields are "endpoint:<id>" and
// "seq:<the event's Seq>".
const EndpointDisabled identity.EventType = "webhook.endpoint_disabled"

// Defaults of Config.
const (
	DefaultTimeout      = 15 * time.Second
	DefaultRetryMin     = 5 * time.Second
	DefaultRetryMax     = time.Hour
	DefaultDeadAfter    = 72 * time.Hour
	DefaultPollInterval = time.Second
	DefaultAnswerBytes  = 256
	DefaultPage         = 100
	DefaultCheckpoint   = 64
	// DefaultKeepDeliveries is Config.KeepDeliveries's default.
	DefaultKeepDeliveries = 30 * 24 * time.Hour
)

// Config configures the Deliverer of one tenant. Tenant, Events and
// Endpoints are required; the other fields have the defaults documented.
type Config struct {
	// Tenant names the tenant in the payloads and the lease.
	Tenant string
	// Events is the tenant's event log: what is delivered, and where the
	// EndpointDisabled events are recorded.
	Events identity.EventLog
	// Endpoints keeps the tenant's endpoints and delivery log.
	Endpoints identity.WebhookStore
	// Client sends the requests. Nil means a netguard client (no loopback,
	// private or link-local addresses, no redirect to another host) with
	// the Timeout. A client of the host's own should refuse internal
	// addresses likewise.
	Client *http.Client
	// Clock dates the attempts and judges the schedule. Nil means the
	// system clock.
	Clock identity.Clock
	// Logger receives failed attempts at Info and dead letters at Warn,
	// with the tenant, endpoint and seq; never a secret. Nil discards.
	Logger *slog.Logger
	// Timeout bounds one request. Zero means DefaultTimeout (15 s).
	Timeout time.Duration
	// RetryMin is the wait after a first failure; each failure doubles it,
	// up to RetryMax; the wait is then between half of that and all of it
	// (jitter). Zero means DefaultRetryMin (5 s) and DefaultRetryMax (1 h).
	RetryMin, RetryMax time.Duration
	// DeadAfter is how long an event may fail before its endpoint is
	// disabled. Zero means DefaultDeadAfter (3 days).
	DeadAfter time.Duration
	// PollInterval is how often Run looks for new events when Notify (or
	// Emit) did not wake it: it bounds the delay of events committed by
	// another replica. Zero means DefaultPollInterval (1 s).
	PollInterval time.Duration
	// AnswerBytes is how much of each answer's body the delivery log
	// keeps. Zero means DefaultAnswerBytes (256).
	AnswerBytes int
	// Page is how many events are read from the log at a time. Zero means
	// DefaultPage (100).
	Page int
	// Checkpoint is how many delivered events may go unrecorded: the
	// cursor and the delivery log are stored after that many (or a
	// second), at the end of each pass and with each failure, in one
	// transaction. After a crash at most that many events are sent again.
	// Zero means DefaultCheckpoint (64); 1 stores after every event.
	Checkpoint int
	// KeepDeliveries is how long the delivery log keeps an attempt: Run
	// trims older ones hourly. Zero means DefaultKeepDeliveries (30 days);
	// negative keeps them for ever.
	KeepDeliveries time.Duration
	// Rand returns the jitter, in [0, 1). Nil means math/rand/v2.
	Rand func() float64
}

// Deliverer delivers one tenant's events to its endpoints. Step and Run
// must not run at the same time; the other methods may run any time.
type Deliverer struct {
	cfg    Config
	client *http.Client
	clock  identity.Clock
	log    *slog.Logger
	rand   func() float64
	wake   chan struct{}
}

// New checks cfg and returns the tenant's Deliverer.
func New(cfg Config) (*Deliverer, error) {
	v := &identity.ValidationError{}
	if cfg.Tenant == "" {
		v.Add("Tenant", "is required")
	}
	if cfg.Events == nil {
		v.Add("Events", "is required")
	}
	if cfg.Endpoints == nil {
		v.Add("Endpoints", "is required")
	}
	if cfg.Timeout < 0 || cfg.RetryMin < 0 || cfg.RetryMax < 0 || cfg.DeadAfter < 0 || cfg.PollInterval < 0 || cfg.AnswerBytes < 0 || cfg.Page < 0 || cfg.Checkpoint < 0 {
		v.Add("Config", "durations and sizes may not be negative")
	}
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	setDefaults(&cfg)
	d := &Deliverer{cfg: cfg, client: cfg.Client, clock: cfg.Clock, log: cfg.Logger, rand: cfg.Rand, wake: make(chan struct{}, 1)}
	if d.client == nil {
		d.client = netguard.New(netguard.Config{Timeout: cfg.Timeout}).Client()
	}
	if d.clock == nil {
		d.clock = identity.SystemClock
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.log = d.log.With("tenant", cfg.Tenant)
	if d.rand == nil {
		d.rand = rand.Float64
	}
	return d, nil
}

func setDefaults(cfg *Config) {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.RetryMin, DefaultRetryMin)
	def(&cfg.RetryMax, DefaultRetryMax)
	def(&cfg.DeadAfter, DefaultDeadAfter)
	def(&cfg.PollInterval, DefaultPollInterval)
	def(&cfg.KeepDeliveries, DefaultKeepDeliveries)
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = cfg.RetryMin
	}
	if cfg.AnswerBytes == 0 {
		cfg.AnswerBytes = DefaultAnswerBytes
	}
	if cfg.Page == 0 {
		cfg.Page = DefaultPage
	}
	if cfg.Checkpoint == 0 {
		cfg.Checkpoint = DefaultCheckpoint
	}
}

var eventType = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// Check validates an endpoint as a host would enter it: an absolute http or
// https URL without user information, one or two secrets (two while a
// secret is rotated), and event types of the form "user.created". It
// returns an *identity.ValidationError naming each bad field.
func Check(e identity.WebhookEndpoint) error {
	v := &identity.ValidationError{}
	u, err := url.Parse(e.URL)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		v.Add("url", "want an absolute http or https URL")
	case u.Scheme != "https" && u.Scheme != "http":
		v.Add("url", "want an http or https URL")
	case u.User != nil:
		v.Add("url", "may not hold a user name or password")
	}
	switch {
	case len(e.Secrets) == 0:
		v.Add("secrets", "want one secret (two while rotating)")
	case len(e.Secrets) > 2:
		v.Add("secrets", "want at most two secrets (the new and the old while rotating)")
	}
	for i, s := range e.Secrets {
		if _, err := ParseSecret(s); err != nil {
			v.Add(fmt.Sprintf("secrets[%d]", i), err.(*SecretError).Reason)
		}
	}
	for i, t := range e.EventTypes {
		if !eventType.MatchString(string(t)) {
			v.Add(fmt.Sprintf("eventTypes[%d]", i), fmt.Sprintf("%q is not an event type like user.created", t))
		}
	}
	return v.Err()
}

// Job is the name of the tenant's delivery job in a LeaseStore.
func (d *Deliverer) Job() string { return "webhook:" + d.cfg.Tenant }

// Notify wakes Run to look for new events now.
func (d *Deliverer) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Emit implements identity.EventSink: the Directory that makes the changes
// wakes the Deliverer after each commit, so that its events go out at once.
func (d *Deliverer) Emit(context.Context, []identity.Event) { d.Notify() }

var _ identity.EventSink = (*Deliverer)(nil)

// Run delivers until ctx is done: it runs Step, then waits until the next
// retry is due, Notify is called or PollInterval passes. It returns ctx's
// error.
func (d *Deliverer) Run(ctx context.Context) error {
	var trimmed time.Time
	for {
		if now := d.clock.Now(); now.Sub(trimmed) >= time.Hour {
			if _, err := d.Trim(ctx); err != nil {
				d.log.WarnContext(ctx, "webhook: trim the delivery log", "err", err)
			}
			trimmed = now
		}
		due, err := d.Step(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			d.log.WarnContext(ctx, "webhook: step", "err", err)
		}
		wait := d.cfg.PollInterval
		if !due.IsZero() {
			wait = min(wait, max(due.Sub(d.clock.Now()), 0))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-d.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// Trim removes the attempts older than KeepDeliveries from the delivery
// log and returns how many. Run calls it hourly.
func (d *Deliverer) Trim(ctx context.Context) (int, error) {
	if d.cfg.KeepDeliveries < 0 {
		return 0, nil
	}
	n, err := d.cfg.Endpoints.DeleteDeliveries(ctx, d.clock.Now().Add(-d.cfg.KeepDeliveries))
	if err != nil {
		return 0, fmt.Errorf("webhook: trim: %w", err)
	}
	return n, nil
}

// RunLeased runs Run under the lease Job of r's store, so that on several
// replicas one delivers the tenant's events at a time; another takes over
// within the lease's bound when it dies. It returns ctx's error.
func (d *Deliverer) RunLeased(ctx context.Context, r *lease.Runner) error {
	return r.Keep(ctx, d.Job(), d.Run)
}
