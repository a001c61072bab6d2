package portal

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
)

// Runtime is what NewSettingsStore changes settings through: a host's tenant
// runtime (*tenant.Runtime has these methods), which generates a new SAML
// connection's keys, checks that each source builds, and puts a change in
// force at once.
type Runtime interface {
	Create(ctx context.Context, id string, st settings.Settings) (settings.Settings, error)
	Update(ctx context.Context, id string, version int64, fn func(*settings.Settings) error) (settings.Settings, error)
	IssueToken(ctx context.Context, id, name string, expires time.Time) (string, settings.Token, error)
	RevokeToken(ctx context.Context, id, tokenID string) error
}

// NewSettingsStore returns the SettingsStore of Config.Settings over a
// runtime and the settings.Store it writes to: reads from the store, changes
// through the runtime. A tenant without settings gets them on its first
// change (Runtime.Create of the zero Settings changed by fn).
func NewSettingsStore(rt Runtime, store settings.Store) SettingsStore {
	return &runtimeSettings{rt: rt, store: store}
}

type runtimeSettings struct {
	rt    Runtime
	store settings.Store
}

func (s *runtimeSettings) Settings(ctx context.Context, tenant string) (settings.Settings, error) {
	return s.store.Settings(ctx, tenant)
}

func (s *runtimeSettings) UpdateSettings(ctx context.Context, tenant string, version int64, fn func(*settings.Settings) error) (settings.Settings, error) {
	if _, err := s.store.Version(ctx, tenant); !errors.Is(err, identity.ErrNotFound) {
		if err != nil {
			return settings.Settings{}, err
		}
		return s.rt.Update(ctx, tenant, version, fn)
	}
	if version != 0 {
		return settings.Settings{}, identity.ErrVersionMismatch
	}
	var st settings.Settings
	if err := fn(&st); err != nil {
		return settings.Settings{}, err
	}
	out, err := s.rt.Create(ctx, tenant, st)
	if isConflict(err) { // made by another request meanwhile
		return s.rt.Update(ctx, tenant, 0, fn)
	}
	return out, err
}

func (s *runtimeSettings) IssueToken(ctx context.Context, tenant, name string, expires time.Time) (string, settings.Token, error) {
	return s.rt.IssueToken(ctx, tenant, name, expires)
}

func (s *runtimeSettings) Tokens(ctx context.Context, tenant string) ([]settings.Token, error) {
	return s.store.Tokens(ctx, tenant)
}

func (s *runtimeSettings) RevokeToken(ctx context.Context, tenant, id string) error {
	return s.rt.RevokeToken(ctx, tenant, id)
}

// Config returns the handler's configuration, defaults filled in: a host
// that learns of its settings store after New builds a second Handler from
// it (setup links and sessions of one are good on the other).
func (h *Handler) Config() Config {
	c := h.cfg
	c.SessionKey = slices.Clone(c.SessionKey)
	return c
}
