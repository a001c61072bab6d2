package main

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/netguard"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/sqlstore"
	"github.com/rollcall/rollcall/webhook"
)

// EnvWebhookAllow lists the address ranges ("127.0.0.0/8,10.1.0.0/16") that
// webhook endpoints may be on although they are loopback, private or
// link-local. Default: none; such endpoints are refused (SSRF).
const EnvWebhookAllow = "ROLLCALL_WEBHOOK_ALLOW"

// hooks keeps the webhook Deliverer of each tenant (the configured one and
// the runtime ones), over the database's webhook stores with the endpoints'
// secrets sealed by the settings keyring.
type hooks struct {
	db     *sqlstore.DB
	keys   *settings.Keyring
	client *http.Client
	cfg    webhook.Config // the options every tenant's Deliverer shares
	mu     sync.Mutex
	byID   map[string]*webhook.Deliverer
	// started is called with a tenant when an endpoint is created, so
	// that the tasks start its delivery at once; nil for none.
	started func(tenant string)
}

// newHooks returns the webhooks of the database, or nil when there is no
// keyring to seal the endpoints' secrets with.
func newHooks(db *sqlstore.DB, keys *settings.Keyring, getenv func(string) string, cfg webhook.Config) (*hooks, error) {
	if db == nil || keys == nil {
		return nil, nil
	}
	allow, err := allowList(getenv, EnvWebhookAllow)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = webhook.DefaultTimeout
	}
	return &hooks{
		db: db, keys: keys, cfg: cfg, byID: map[string]*webhook.Deliverer{},
		client: netguard.New(netguard.Config{Allow: allow, Timeout: timeout}).Client(),
	}, nil
}

// of returns the tenant's Deliverer, made at first use.
func (h *hooks) of(tenant string) (*webhook.Deliverer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d := h.byID[tenant]; d != nil {
		return d, nil
	}
	cfg := h.cfg
	cfg.Tenant = tenant
	cfg.Events = h.db.Tenant(tenant)
	cfg.Endpoints = h.store(tenant)
	cfg.Client = h.client
	d, err := webhook.New(cfg)
	if err != nil {
		return nil, err
	}
	h.byID[tenant] = d
	return d, nil
}

// retain drops the Deliverers of the tenants not in keep (deleted since).
func (h *hooks) retain(keep map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := range h.byID {
		if !keep[id] {
			delete(h.byID, id)
		}
	}
}

// store returns the tenant's webhook store, secrets sealed.
func (h *hooks) store(tenant string) identity.WebhookStore {
	return &sealedWebhooks{WebhookStore: h.db.Webhooks(tenant), keys: h.keys, aad: "webhook:" + tenant}
}

// Emit wakes the Deliverer of each tenant named by the events: the sink of
// the Directories and of the tenant runtime.
func (h *hooks) Emit(ctx context.Context, events []identity.Event) {
	if h == nil {
		return
	}
	seen := ""
	for _, e := range events {
		if e.Tenant == seen {
			continue
		}
		seen = e.Tenant
		h.mu.Lock()
		d := h.byID[e.Tenant]
		h.mu.Unlock()
		if d != nil {
			d.Notify()
		}
	}
}

// sealedWebhooks is a tenant's WebhookStore that keeps the endpoints'
// secrets sealed with the settings keyring (AES-256-GCM, the tenant as
// additional data): its callers see them open, the database never does.
type sealedWebhooks struct {
	identity.WebhookStore
	keys *settings.Keyring
	aad  string
}

func (s *sealedWebhooks) seal(e *identity.WebhookEndpoint) error {
	for i, v := range e.Secrets {
		sealed, err := s.keys.SealValue(s.aad, []byte(v))
		if err != nil {
			return err
		}
		e.Secrets[i] = sealed
	}
	return nil
}

func (s *sealedWebhooks) open(e *identity.WebhookEndpoint) error {
	for i, v := range e.Secrets {
		plain, err := s.keys.OpenValue(s.aad, v)
		if err != nil {
			return fmt.Errorf("webhook endpoint %s: secrets[%d]: %w", e.ID, i, err)
		}
		e.Secrets[i] = string(plain)
	}
	return nil
}

// change wraps fn: it opens the secrets for fn and seals what fn leaves,
// keeping the sealed values of the secrets fn did not change.
func (s *sealedWebhooks) change(fn func(*identity.WebhookEndpoint) error) func(*identity.WebhookEndpoint) error {
	if fn == nil {
		return nil
	}
	return func(e *identity.WebhookEndpoint) error {
		sealed := slices.Clone(e.Secrets)
		e.Secrets = slices.Clone(e.Secrets)
		if err := s.open(e); err != nil {
			return err
		}
		opened := slices.Clone(e.Secrets)
		if err := fn(e); err != nil {
			return err
		}
		if slices.Equal(opened, e.Secrets) {
			e.Secrets = sealed
			return nil
		}
		e.Secrets = slices.Clone(e.Secrets)
		return s.seal(e)
	}
}

func (s *sealedWebhooks) opened(e identity.WebhookEndpoint, err error) (identity.WebhookEndpoint, error) {
	if err != nil {
		return e, err
	}
	e.Secrets = slices.Clone(e.Secrets)
	return e, s.open(&e)
}

func (s *sealedWebhooks) CreateEndpoint(ctx context.Context, e identity.WebhookEndpoint) (identity.WebhookEndpoint, error) {
	e.Secrets = slices.Clone(e.Secrets)
	if err := s.seal(&e); err != nil {
		return identity.WebhookEndpoint{}, err
	}
	return s.opened(s.WebhookStore.CreateEndpoint(ctx, e))
}

func (s *sealedWebhooks) Endpoint(ctx context.Context, id string) (identity.WebhookEndpoint, error) {
	return s.opened(s.WebhookStore.Endpoint(ctx, id))
}

func (s *sealedWebhooks) Endpoints(ctx context.Context) ([]identity.WebhookEndpoint, error) {
	eps, err := s.WebhookStore.Endpoints(ctx)
	if err != nil {
		return nil, err
	}
	for i := range eps {
		if err := s.open(&eps[i]); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

func (s *sealedWebhooks) UpdateEndpoint(ctx context.Context, id string, fn func(*identity.WebhookEndpoint) error) (identity.WebhookEndpoint, error) {
	return s.opened(s.WebhookStore.UpdateEndpoint(ctx, id, s.change(fn)))
}

func (s *sealedWebhooks) RecordDeliveries(ctx context.Context, id string, ds []identity.WebhookDelivery, fn func(*identity.WebhookEndpoint) error) (identity.WebhookEndpoint, error) {
	return s.opened(s.WebhookStore.RecordDeliveries(ctx, id, ds, s.change(fn)))
}

// endpointJSON is an endpoint as the operator API shows it: never its
// secrets, only how many there are.
type endpointJSON struct {
	ID             string               `json:"id"`
	URL            string               `json:"url"`
	EventTypes     []identity.EventType `json:"eventTypes"`
	Secrets        int                  `json:"secrets"`
	Disabled       bool                 `json:"disabled"`
	DisabledReason string               `json:"disabledReason,omitempty"`
	Cursor         int64                `json:"cursor"`
	Attempts       int                  `json:"attempts"`
	NextAttempt    *time.Time           `json:"nextAttempt,omitempty"`
	FailingSince   *time.Time           `json:"failingSince,omitempty"`
	Created        time.Time            `json:"created"`
	Updated        time.Time            `json:"updated"`
	Version        int64                `json:"version"`
}

func toEndpointJSON(e identity.WebhookEndpoint) endpointJSON {
	out := endpointJSON{
		ID: e.ID, URL: e.URL, EventTypes: e.EventTypes, Secrets: len(e.Secrets),
		Disabled: e.Disabled, DisabledReason: e.DisabledReason, Cursor: e.Cursor, Attempts: e.Attempts,
		Created: e.Created, Updated: e.Updated, Version: e.Version,
	}
	if out.EventTypes == nil {
		out.EventTypes = []identity.EventType{}
	}
	if !e.NextAttempt.IsZero() {
		out.NextAttempt = &e.NextAttempt
	}
	if !e.FailingSince.IsZero() {
		out.FailingSince = &e.FailingSince
	}
	return out
}

// deliveryJSON is one attempt of the delivery log.
type deliveryJSON struct {
	ID        int64     `json:"id"`
	Seq       int64     `json:"seq"`
	Attempt   int       `json:"attempt"`
	Time      time.Time `json:"time"`
	Status    int       `json:"status"`
	Error     string    `json:"error,omitempty"`
	LatencyMS float64   `json:"latencyMs"`
	Answer    string    `json:"answer,omitempty"`
}

// mountWebhooks mounts the webhook routes of the operator API. Their
// {tenant} is the configured tenant or a runtime one.
func (o *operator) mountWebhooks(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/tenants/{tenant}/google/sync", o.api(o.syncNow))
	if o.hooks == nil {
		return
	}
	const base = "/api/v1/tenants/{tenant}/webhooks"
	mux.Handle("GET "+base, o.api(o.hookFunc(o.listEndpoints)))
	mux.Handle("POST "+base, o.api(o.hookFunc(o.createEndpoint)))
	mux.Handle("GET "+base+"/{id}", o.api(o.hookFunc(o.getEndpoint)))
	mux.Handle("PATCH "+base+"/{id}", o.api(o.hookFunc(o.patchEndpoint)))
	mux.Handle("DELETE "+base+"/{id}", o.api(o.hookFunc(o.deleteEndpoint)))
	mux.Handle("POST "+base+"/{id}/disable", o.api(o.hookFunc(o.disableEndpoint)))
	mux.Handle("POST "+base+"/{id}/enable", o.api(o.hookFunc(o.replayEndpoint(false))))
	mux.Handle("POST "+base+"/{id}/replay", o.api(o.hookFunc(o.replayEndpoint(true))))
	mux.Handle("POST "+base+"/{id}/secrets/rotate", o.api(o.hookFunc(o.rotateSecret)))
	mux.Handle("POST "+base+"/{id}/secrets/drop-old", o.api(o.hookFunc(o.dropOldSecret)))
	mux.Handle("GET "+base+"/{id}/deliveries", o.api(o.hookFunc(o.listDeliveries)))
}

// hookFunc is a webhook route: it gets the tenant's Deliverer and store.
type hookFunc func(w http.ResponseWriter, r *http.Request, d *webhook.Deliverer, st identity.WebhookStore) error

// hookFunc checks that the tenant exists and hands f its Deliverer.
func (o *operator) hookFunc(f hookFunc) operatorFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := pathTenant(r)
		if id != o.s.cfg.Tenant {
			if _, err := o.store.Version(r.Context(), id); err != nil {
				return err
			}
		}
		d, err := o.hooks.of(id)
		if err != nil {
			return err
		}
		return f(w, r, d, o.hooks.store(id))
	}
}

func writeEndpoint(w http.ResponseWriter, status int, e identity.WebhookEndpoint) {
	w.Header().Set("ETag", `"`+strconv.FormatInt(e.Version, 10)+`"`)
	writeJSON(w, status, toEndpointJSON(e))
}

// GET .../webhooks
func (o *operator) listEndpoints(w http.ResponseWriter, r *http.Request, _ *webhook.Deliverer, st identity.WebhookStore) error {
	eps, err := st.Endpoints(r.Context())
	if err != nil {
		return err
	}
	out := make([]endpointJSON, 0, len(eps))
	for _, e := range eps {
		out = append(out, toEndpointJSON(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
	return nil
}

// POST .../webhooks {"url", "eventTypes", "secret", "from"}: the secret
// (given, or made) is in this answer only.
func (o *operator) createEndpoint(w http.ResponseWriter, r *http.Request, d *webhook.Deliverer, _ identity.WebhookStore) error {
	var in struct {
		URL        string               `json:"url"`
		EventTypes []identity.EventType `json:"eventTypes"`
		Secret     string               `json:"secret"`
		From       int64                `json:"from"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Secret == "" {
		in.Secret = webhook.NewSecret()
	}
	e := identity.WebhookEndpoint{URL: in.URL, EventTypes: in.EventTypes, Secrets: []string{in.Secret}}
	ep, err := d.AddEndpoint(r.Context(), e)
	if err != nil {
		return err
	}
	if in.From > 0 { // from that event on, instead of the events from now on
		if ep, err = d.Replay(r.Context(), ep.ID, in.From); err != nil {
			return err
		}
	}
	if o.hooks.started != nil {
		o.hooks.started(pathTenant(r))
	}
	w.Header().Set("Location", r.URL.Path+"/"+ep.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"webhook": toEndpointJSON(ep), "secret": in.Secret})
	return nil
}

// GET .../webhooks/{id}
func (o *operator) getEndpoint(w http.ResponseWriter, r *http.Request, _ *webhook.Deliverer, st identity.WebhookStore) error {
	ep, err := st.Endpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeEndpoint(w, http.StatusOK, ep)
	return nil
}

// PATCH .../webhooks/{id} {"url", "eventTypes"}, If-Match optional.
func (o *operator) patchEndpoint(w http.ResponseWriter, r *http.Request, _ *webhook.Deliverer, st identity.WebhookStore) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in struct {
		URL        *string               `json:"url"`
		EventTypes *[]identity.EventType `json:"eventTypes"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	ep, err := st.UpdateEndpoint(r.Context(), r.PathValue("id"), func(e *identity.WebhookEndpoint) error {
		if version != 0 && e.Version != version {
			return &requestError{status: http.StatusPreconditionFailed, message: "the webhook has changed: read it again"}
		}
		if in.URL != nil {
			e.URL = *in.URL
		}
		if in.EventTypes != nil {
			e.EventTypes = *in.EventTypes
		}
		e.Updated = time.Now()
		return webhook.Check(*e)
	})
	if err != nil {
		return err
	}
	writeEndpoint(w, http.StatusOK, ep)
	return nil
}

// DELETE .../webhooks/{id}: the endpoint and its delivery log.
func (o *operator) deleteEndpoint(w http.ResponseWriter, r *http.Request, _ *webhook.Deliverer, st identity.WebhookStore) error {
	if err := st.DeleteEndpoint(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// POST .../webhooks/{id}/disable {"reason"}
func (o *operator) disableEndpoint(w http.ResponseWriter, r *http.Request, _ *webhook.Deliverer, st identity.WebhookStore) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &in); err != nil {
			return err
		}
	}
	if in.Reason == "" {
		in.Reason = "disabled by the operator"
	}
	ep, err := st.UpdateEndpoint(r.Context(), r.PathValue("id"), func(e *identity.WebhookEndpoint) error {
		e.Disabled, e.DisabledReason, e.Updated = true, in.Reason, time.Now()
		return nil
	})
	if err != nil {
		return err
	}
	writeEndpoint(w, http.StatusOK, ep)
	return nil
}

// POST .../webhooks/{id}/enable (from where it stopped) and
// .../replay?from=<seq> (from that event on).
func (o *operator) replayEndpoint(replay bool) hookFunc {
	return func(w http.ResponseWriter, r *http.Request, d *webhook.Deliverer, _ identity.WebhookStore) error {
		var from int64
		if replay {
			v, err := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
			if err != nil || v < 1 {
				return &requestError{status: http.StatusBadRequest, message: "from: want the sequence number of an event, 1 or more",
					fields: []fieldJSON{{Field: "from", Message: "want an integer of 1 or more"}}}
			}
			from = v
		}
		ep, err := d.Replay(r.Context(), r.PathValue("id"), from)
		if err != nil {
			return err
		}
		if o.hooks.started != nil {
			o.hooks.started(pathTenant(r))
		}
		writeEndpoint(w, http.StatusOK, ep)
		return nil
	}
}

// POST .../webhooks/{id}/secrets/rotate {"secret"}: the new secret (given or
// made) signs first and the previous one still signs, until drop-old. The
// new secret is in this answer only.
func (o *operator) rotateSecret(w http.ResponseWriter, r *http.Request, d *webhook.Deliverer, _ identity.WebhookStore) error {
	var in struct {
		Secret string `json:"secret"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &in); err != nil {
			return err
		}
	}
	if in.Secret == "" {
		in.Secret = webhook.NewSecret()
	}
	ep, err := d.RotateSecret(r.Context(), r.PathValue("id"), in.Secret)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhook": toEndpointJSON(ep), "secret": in.Secret})
	return nil
}

// POST .../webhooks/{id}/secrets/drop-old: only the newest secret signs.
func (o *operator) dropOldSecret(w http.ResponseWriter, r *http.Request, d *webhook.Deliverer, _ identity.WebhookStore) error {
	ep, err := d.DropOldSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeEndpoint(w, http.StatusOK, ep)
	return nil
}

// GET .../webhooks/{id}/deliveries?before=&limit=: newest first; pass
// "next" as before to read on.
func (o *operator) listDeliveries(w http.ResponseWriter, r *http.Request, _ *webhook.Deliverer, st identity.WebhookStore) error {
	q := r.URL.Query()
	before, limit := int64(0), 100
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return &requestError{status: http.StatusBadRequest, message: "before: want a delivery ID",
				fields: []fieldJSON{{Field: "before", Message: "want an integer of 1 or more"}}}
		}
		before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return &requestError{status: http.StatusBadRequest, message: "limit: want 1 to 1000",
				fields: []fieldJSON{{Field: "limit", Message: "want an integer from 1 to 1000"}}}
		}
		limit = n
	}
	if _, err := st.Endpoint(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	ds, err := st.Deliveries(r.Context(), r.PathValue("id"), before, limit)
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, deliveryJSON{ID: d.ID, Seq: d.Seq, Attempt: d.Attempt, Time: d.Time, Status: d.Status,
			Error: d.Error, LatencyMS: float64(d.Latency) / float64(time.Millisecond), Answer: string(d.Answer)})
	}
	var next int64
	if len(ds) == limit {
		next = ds[len(ds)-1].ID
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out, "next": next})
	return nil
}

// eventSink is the Directories' identity.EventSink: the webhooks, or none.
func (s *server) eventSink() identity.EventSink {
	if s.events == nil {
		return nil
	}
	return s.events
}

// allowList reads a comma-separated list of CIDR ranges from the
// environment variable name: the special addresses (loopback, private...)
// that outbound requests may reach all the same.
func allowList(getenv func(string) string, name string) ([]netip.Prefix, error) {
	var allow []netip.Prefix
	if v := strings.TrimSpace(getenv(name)); v != "" {
		for part := range strings.SplitSeq(v, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(part))
			if err != nil {
				return nil, fmt.Errorf("%s: %q: want a CIDR range like 10.0.0.0/8", name, part)
			}
			allow = append(allow, p)
		}
	}
	return allow, nil
}
