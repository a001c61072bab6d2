package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
)

var _ settings.Store = (*SettingsStore)(nil)

// SettingsStore implements settings.Store in memory, over the tenants of a
// DB: it keeps each tenant's settings sealed, as sqlstore does, and records
// its events in the tenant's Store. Make one per DB with NewSettings and
// share it.
type SettingsStore struct {
	db      *DB
	keyring *settings.Keyring
	clock   identity.Clock
	d       *settingsData
}

// settingsData is what the SettingsStores of one DB share.
type settingsData struct {
	mu     sync.Mutex
	rows   map[string]*settingsRow
	tokens map[string]settings.Token // by tenant + "\x00" + id
	byHash map[string]string         // token hash -> key in tokens
}

type settingsRow struct {
	version  int64
	disabled bool
	data     []byte
	updated  time.Time
}

// NewSettings returns the settings store of db, sealing and opening secrets
// with keyring and stamping changes by clock (nil: the system clock).
func NewSettings(db *DB, keyring *settings.Keyring, clock identity.Clock) *SettingsStore {
	if clock == nil {
		clock = systemClock{}
	}
	return &SettingsStore{db: db, keyring: keyring, clock: clock, d: &settingsData{rows: make(map[string]*settingsRow),
		tokens: make(map[string]settings.Token), byHash: make(map[string]string)}}
}

// WithKeyring returns a SettingsStore of the same data that seals and opens
// with keyring: after a rotation, its Reencrypt seals again with the new key.
func (s *SettingsStore) WithKeyring(keyring *settings.Keyring) *SettingsStore {
	c := *s
	c.keyring = keyring
	return &c
}

func (s *SettingsStore) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

func (s *SettingsStore) open(tenant string, r *settingsRow) (settings.Settings, error) {
	st, err := settings.Open(s.keyring, tenant, r.data)
	if err != nil {
		return settings.Settings{}, fmt.Errorf("memory: tenant %s: %w", tenant, err)
	}
	st.Version, st.Disabled, st.Updated = r.version, r.disabled, r.updated
	return st, nil
}

func notFound(what string) error { return fmt.Errorf("memory: %s: %w", what, identity.ErrNotFound) }

// Settings implements settings.Store.
func (s *SettingsStore) Settings(ctx context.Context, tenant string) (settings.Settings, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	r := s.d.rows[tenant]
	if r == nil {
		return settings.Settings{}, notFound("settings")
	}
	return s.open(tenant, r)
}

// Version implements settings.Store.
func (s *SettingsStore) Version(ctx context.Context, tenant string) (int64, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if r := s.d.rows[tenant]; r != nil {
		return r.version, nil
	}
	return 0, notFound("settings")
}

// Tenants implements settings.Store.
func (s *SettingsStore) Tenants(ctx context.Context) ([]settings.Tenant, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	out := make([]settings.Tenant, 0, len(s.d.rows))
	for id, r := range s.d.rows {
		out = append(out, settings.Tenant{ID: id, Version: r.version, Disabled: r.disabled, Updated: r.updated})
	}
	slices.SortFunc(out, func(a, b settings.Tenant) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Create implements settings.Store.
func (s *SettingsStore) Create(ctx context.Context, tenant string, st settings.Settings) (settings.Settings, error) {
	if tenant == "" {
		return settings.Settings{}, &identity.ValidationError{Fields: []identity.FieldError{{Field: "tenant", Message: "required"}}}
	}
	st, changed, err := settings.Apply(settings.Settings{}, func(n *settings.Settings) error { *n = st; return nil })
	if err != nil {
		return settings.Settings{}, err
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if s.d.rows[tenant] != nil {
		return settings.Settings{}, &identity.ConflictError{Resource: "tenant", Field: "id"}
	}
	now := s.now()
	st.Version, st.Updated = 1, now
	data, err := settings.Seal(s.keyring, tenant, st)
	if err != nil {
		return settings.Settings{}, err
	}
	if err := s.event(ctx, settings.ChangeEvent(ctx, settings.TenantCreated, tenant, changed, now)); err != nil {
		return settings.Settings{}, err
	}
	s.d.rows[tenant] = &settingsRow{version: 1, disabled: st.Disabled, data: data, updated: now}
	return st, nil
}

func (s *SettingsStore) event(ctx context.Context, e identity.Event) error {
	return s.db.Tenant(e.Tenant).AppendEvents(ctx, []identity.Event{e})
}

// Update implements settings.Store.
func (s *SettingsStore) Update(ctx context.Context, tenant string, version int64, fn func(*settings.Settings) error) (settings.Settings, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	r := s.d.rows[tenant]
	if r == nil {
		return settings.Settings{}, notFound("settings")
	}
	if version != 0 && version != r.version {
		return settings.Settings{}, fmt.Errorf("memory: settings of %s: version %d, stored %d: %w", tenant, version, r.version, identity.ErrVersionMismatch)
	}
	old, err := s.open(tenant, r)
	if err != nil {
		return settings.Settings{}, err
	}
	st, changed, err := settings.Apply(old, fn)
	if err != nil {
		return settings.Settings{}, err
	}
	if len(changed) == 0 {
		return old, nil
	}
	now := s.now()
	st.Version, st.Updated = r.version+1, now
	data, err := settings.Seal(s.keyring, tenant, st)
	if err != nil {
		return settings.Settings{}, err
	}
	if err := s.event(ctx, settings.ChangeEvent(ctx, settings.SettingsChanged, tenant, changed, now)); err != nil {
		return settings.Settings{}, err
	}
	*r = settingsRow{version: st.Version, disabled: st.Disabled, data: data, updated: now}
	return st, nil
}

// DeleteTenant implements settings.Store: it empties the tenant's Store (its
// users, groups, links, invitations and events), its keys, tokens and
// settings. A *Store of the tenant taken before is empty afterwards.
func (s *SettingsStore) DeleteTenant(ctx context.Context, tenant string) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if s.d.rows[tenant] == nil {
		return notFound("tenant")
	}
	s.db.mu.Lock()
	st, ks := s.db.tenants[tenant], s.db.keys[tenant]
	delete(s.db.tenants, tenant)
	delete(s.db.keys, tenant)
	s.db.mu.Unlock()
	if st != nil {
		st.mu.Lock()
		st.d = newData()
		st.mu.Unlock()
	}
	if ks != nil {
		ks.mu.Lock()
		ks.m = make(map[string]keyEntry)
		ks.mu.Unlock()
	}
	for k, t := range s.d.tokens {
		if t.Tenant == tenant {
			delete(s.d.tokens, k)
			delete(s.d.byHash, string(t.Hash))
		}
	}
	delete(s.d.rows, tenant)
	return nil
}

// Reencrypt implements settings.Store.
func (s *SettingsStore) Reencrypt(ctx context.Context) (int, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	n := 0
	for tenant, r := range s.d.rows {
		out, changed, err := settings.Reseal(s.keyring, tenant, r.data)
		if err != nil {
			return n, fmt.Errorf("memory: reencrypt tenant %s: %w", tenant, err)
		}
		if changed {
			r.data = out
			n++
		}
	}
	return n, nil
}

func tokenKey(tenant, id string) string { return tenant + "\x00" + id }

// CreateToken implements settings.TokenStore.
func (s *SettingsStore) CreateToken(ctx context.Context, t settings.Token) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if s.d.rows[t.Tenant] == nil {
		return notFound("tenant")
	}
	if _, ok := s.d.tokens[tokenKey(t.Tenant, t.ID)]; ok {
		return &identity.ConflictError{Resource: "token", Field: "id"}
	}
	if _, ok := s.d.byHash[string(t.Hash)]; ok {
		return &identity.ConflictError{Resource: "token", Field: "hash"}
	}
	if err := s.event(ctx, settings.ChangeEvent(ctx, settings.TokenIssued, t.Tenant, []string{"id=" + t.ID, "name=" + t.Name}, s.now())); err != nil {
		return err
	}
	t.Hash = bytes.Clone(t.Hash)
	t.Created, t.LastUsed, t.Expires = utcMicro(t.Created), utcMicro(t.LastUsed), utcMicro(t.Expires)
	s.d.tokens[tokenKey(t.Tenant, t.ID)] = t
	s.d.byHash[string(t.Hash)] = tokenKey(t.Tenant, t.ID)
	return nil
}

func utcMicro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// Tokens implements settings.TokenStore.
func (s *SettingsStore) Tokens(ctx context.Context, tenant string) ([]settings.Token, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	var out []settings.Token
	for _, t := range s.d.tokens {
		if t.Tenant == tenant {
			t.Hash = bytes.Clone(t.Hash)
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b settings.Token) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// TokenByHash implements settings.TokenStore.
func (s *SettingsStore) TokenByHash(ctx context.Context, hash []byte) (settings.Token, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	t, ok := s.d.tokens[s.d.byHash[string(hash)]]
	if !ok {
		return settings.Token{}, notFound("token")
	}
	t.Hash = bytes.Clone(t.Hash)
	return t, nil
}

// TouchToken implements settings.TokenStore.
func (s *SettingsStore) TouchToken(ctx context.Context, tenant, id string, at time.Time) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	t, ok := s.d.tokens[tokenKey(tenant, id)]
	if !ok {
		return notFound("token")
	}
	t.LastUsed = utcMicro(at)
	s.d.tokens[tokenKey(tenant, id)] = t
	return nil
}

// DeleteToken implements settings.TokenStore.
func (s *SettingsStore) DeleteToken(ctx context.Context, tenant, id string) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	t, ok := s.d.tokens[tokenKey(tenant, id)]
	if !ok {
		return notFound("token")
	}
	delete(s.d.tokens, tokenKey(tenant, id))
	delete(s.d.byHash, string(t.Hash))
	return s.event(ctx, settings.ChangeEvent(ctx, settings.TokenRevoked, tenant, []string{"id=" + id}, s.now()))
}
