package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/rollcall/rollcall/identity"
)

var _ identity.WebhookStore = (*WebhookStore)(nil)

// webhookTables holds the webhook endpoints of every tenant of a DB.
type webhookTables struct {
	mu sync.Mutex
	m  map[string]*webhookTable
}

// webhookTable is one tenant's endpoints and delivery log.
type webhookTable struct {
	mu         sync.Mutex
	endpoints  map[string]identity.WebhookEndpoint
	deliveries []identity.WebhookDelivery // in ID order
	nextID     int64
}

// WebhookStore implements identity.WebhookStore in memory for one tenant;
// get one from DB.Webhooks. It is safe for concurrent use.
type WebhookStore struct {
	t *webhookTable
}

// Webhooks returns the WebhookStore of the tenant with the id; those of one
// tenant share their data.
func (db *DB) Webhooks(tenant string) *WebhookStore {
	db.hooks.mu.Lock()
	defer db.hooks.mu.Unlock()
	if db.hooks.m == nil {
		db.hooks.m = make(map[string]*webhookTable)
	}
	t := db.hooks.m[tenant]
	if t == nil {
		t = &webhookTable{endpoints: make(map[string]identity.WebhookEndpoint)}
		db.hooks.m[tenant] = t
	}
	return &WebhookStore{t: t}
}

func cloneEndpoint(e identity.WebhookEndpoint) identity.WebhookEndpoint {
	e.Secrets = slices.Clone(e.Secrets)
	e.EventTypes = slices.Clone(e.EventTypes)
	return e
}

// CreateEndpoint implements identity.WebhookStore.
func (s *WebhookStore) CreateEndpoint(ctx context.Context, e identity.WebhookEndpoint) (identity.WebhookEndpoint, error) {
	if err := ctx.Err(); err != nil {
		return identity.WebhookEndpoint{}, err
	}
	if e.ID == "" {
		e.ID = identity.NewID()
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if _, ok := s.t.endpoints[e.ID]; ok {
		return identity.WebhookEndpoint{}, &identity.ConflictError{Resource: "webhook", Field: "id"}
	}
	e.Version = 1
	e = cloneEndpoint(e)
	s.t.endpoints[e.ID] = e
	return cloneEndpoint(e), nil
}

// Endpoint implements identity.WebhookStore.
func (s *WebhookStore) Endpoint(ctx context.Context, id string) (identity.WebhookEndpoint, error) {
	if err := ctx.Err(); err != nil {
		return identity.WebhookEndpoint{}, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	e, ok := s.t.endpoints[id]
	if !ok {
		return identity.WebhookEndpoint{}, fmt.Errorf("memory: webhook %q: %w", id, identity.ErrNotFound)
	}
	return cloneEndpoint(e), nil
}

// Endpoints implements identity.WebhookStore.
func (s *WebhookStore) Endpoints(ctx context.Context) ([]identity.WebhookEndpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	out := make([]identity.WebhookEndpoint, 0, len(s.t.endpoints))
	for _, e := range s.t.endpoints {
		out = append(out, cloneEndpoint(e))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// UpdateEndpoint implements identity.WebhookStore.
func (s *WebhookStore) UpdateEndpoint(ctx context.Context, id string, fn func(*identity.WebhookEndpoint) error) (identity.WebhookEndpoint, error) {
	if err := ctx.Err(); err != nil {
		return identity.WebhookEndpoint{}, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	old, ok := s.t.endpoints[id]
	if !ok {
		return identity.WebhookEndpoint{}, fmt.Errorf("memory: webhook %q: %w", id, identity.ErrNotFound)
	}
	e := cloneEndpoint(old)
	if err := fn(&e); err != nil {
		return identity.WebhookEndpoint{}, err
	}
	e.ID, e.Created, e.Version = old.ID, old.Created, old.Version+1
	e = cloneEndpoint(e)
	s.t.endpoints[id] = e
	return cloneEndpoint(e), nil
}

// DeleteEndpoint implements identity.WebhookStore.
func (s *WebhookStore) DeleteEndpoint(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if _, ok := s.t.endpoints[id]; !ok {
		return fmt.Errorf("memory: webhook %q: %w", id, identity.ErrNotFound)
	}
	delete(s.t.endpoints, id)
	s.t.deliveries = slices.DeleteFunc(s.t.deliveries, func(d identity.WebhookDelivery) bool { return d.EndpointID == id })
	return nil
}

// RecordDeliveries implements identity.WebhookStore.
func (s *WebhookStore) RecordDeliveries(ctx context.Context, endpointID string, ds []identity.WebhookDelivery, fn func(*identity.WebhookEndpoint) error) (identity.WebhookEndpoint, error) {
	if err := ctx.Err(); err != nil {
		return identity.WebhookEndpoint{}, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	old, ok := s.t.endpoints[endpointID]
	if !ok {
		return identity.WebhookEndpoint{}, fmt.Errorf("memory: webhook %q: %w", endpointID, identity.ErrNotFound)
	}
	e := cloneEndpoint(old)
	if fn != nil {
		if err := fn(&e); err != nil {
			return identity.WebhookEndpoint{}, err
		}
		e.ID, e.Created, e.Version = old.ID, old.Created, old.Version+1
		e = cloneEndpoint(e)
		s.t.endpoints[endpointID] = e
	}
	for _, d := range ds {
		s.t.nextID++
		d.ID, d.EndpointID, d.Answer = s.t.nextID, endpointID, slices.Clone(d.Answer)
		s.t.deliveries = append(s.t.deliveries, d)
	}
	return cloneEndpoint(e), nil
}

// Deliveries implements identity.WebhookStore. It looks at the tenant's
// whole log.
func (s *WebhookStore) Deliveries(ctx context.Context, endpointID string, before int64, limit int) ([]identity.WebhookDelivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = identity.DefaultLimit
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	var out []identity.WebhookDelivery
	for i := len(s.t.deliveries) - 1; i >= 0 && len(out) < limit; i-- {
		d := s.t.deliveries[i]
		if d.EndpointID == endpointID && (before <= 0 || d.ID < before) {
			d.Answer = slices.Clone(d.Answer)
			out = append(out, d)
		}
	}
	return out, nil
}

// DeleteDeliveries implements identity.WebhookStore.
func (s *WebhookStore) DeleteDeliveries(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	n := len(s.t.deliveries)
	s.t.deliveries = slices.DeleteFunc(s.t.deliveries, func(d identity.WebhookDelivery) bool { return d.Time.Before(before) })
	return n - len(s.t.deliveries), nil
}
