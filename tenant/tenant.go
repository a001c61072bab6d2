// Package tenant resolves a request's tenant to its live sources (its
// identity.Directory, SAML and OAuth connections, SCIM handler, Google
// syncer, importer), built from the tenant's settings with each source's own
// constructor, cached, and built again when the settings' version changes, in
// this process or in another one on the same database.
//
// A Runtime checks the stored version of a cached tenant at most once per
// Config.PollInterval (2 seconds by default), on the first request after the
// interval: a change made by another process is in force at most
// PollInterval after it committed. A change made through this Runtime is in
// force at once. Between checks a request costs a map lookup and a clock
// read.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/netguard"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/saml"
	"github.com/rollcall/rollcall/scim"
	"github.com/rollcall/rollcall/settings"
)

// DefaultPollInterval is Config.PollInterval's default.
const DefaultPollInterval = 2 * time.Second

// ErrUnknown is returned, wrapped, for a tenant that does not exist or is
// disabled: the host answers both alike, as if there were no such tenant.
// It matches identity.ErrNotFound.
var ErrUnknown = fmt.Errorf("tenant: unknown tenant: %w", identity.ErrNotFound)

// Config configures a Runtime. Settings, Stores and Keys are required.
type Config struct {
	// Settings keeps the tenants' settings and SCIM tokens.
	Settings settings.Store
	// Stores returns a tenant's directory store; Keys its key store (SSO
	// state, replay keys, the certificate warnings sent).
	Stores func(tenant string) identity.Store
	Keys   func(tenant string) identity.KeyStore
	// PollInterval is how often a cached tenant's version is checked: the
	// bound on how long another process's change takes to be in force.
	// Zero means DefaultPollInterval.
	PollInterval time.Duration
	// SCIMBaseURL returns the absolute URL a tenant's SCIM handler is
	// mounted at, for meta.location; nil (or "") derives it from requests.
	SCIMBaseURL func(tenant string) string
	// HTTPClient fetches SAML metadata, talks to OAuth providers and sends
	// the Google API's requests (to the tenant's endpoint and its key's
	// token_uri): every URL a tenant's admin enters. Nil means a client that
	// refuses internal addresses, netguard.New(netguard.Config{}).Client();
	// a host whose IdPs run on its own network gives one with Allow.
	HTTPClient *http.Client
	// Clock tells the time; nil means the system clock.
	Clock identity.Clock
	// Events receives the events of every tenant's changes; nil discards.
	Events identity.EventSink
	// Logger receives build failures and warnings; nil discards.
	Logger *slog.Logger
	// Diagnostics, when set, returns a tenant's diagnostics log: its SAML
	// and OAuth sign-in attempts and SCIM requests are recorded there.
	Diagnostics func(tenant string) identity.DiagnosticsLog
}

// Sources are one tenant's live sources, built from one version of its
// settings. Treat them as read-only: they are shared by every request until
// the settings change.
type Sources struct {
	Tenant  string
	Version int64
	// Settings are the settings the sources were built from, secrets
	// included: never show them as they are (their JSON hides the secrets).
	Settings  settings.Settings
	Store     identity.Store
	Keys      identity.KeyStore
	Directory *identity.Directory
	// SAML and OAuth hold the connections by name, drafts included: a
	// draft's connection (settings' Draft) runs test sign-ins only, so the
	// IdP set up while testing it needs no change when it is activated.
	SAML  map[string]*saml.Connection
	OAuth map[string]*oauth.Connection
	// SCIM is the tenant's SCIM handler, nil when SCIM is off. It accepts
	// the tenant's SCIM tokens (see Runtime.IssueToken).
	SCIM *scim.Handler
	// Google is the tenant's Google syncer, nil when the sync is off.
	Google   *googlesync.Syncer
	Importer *importer.Importer
	// Errors holds, by source ("saml:okta", "google"...), why a configured
	// source could not be built; it is then absent above.
	Errors map[string]error
}

// Runtime resolves tenants to their Sources. It is safe for concurrent use.
type Runtime struct {
	cfg    Config
	logger *slog.Logger
	clock  identity.Clock
	poll   int64 // PollInterval in nanoseconds

	cache    cache
	building sync.Mutex // one build at a time: builds are rare and may be slow
}

// cache maps tenant IDs to entries: a map per shard, each under its own
// lock, so that readers on many cores do not share one lock's cache line.
type cache struct {
	seed   maphash.Seed
	shards [64]struct {
		mu sync.RWMutex
		m  map[string]*entry
		_  [64]byte // keeps the shards' locks on separate cache lines
	}
}

func (c *cache) shard(id string) int { return int(maphash.String(c.seed, id) % 64) }

func (c *cache) load(id string) (*entry, bool) {
	s := &c.shards[c.shard(id)]
	s.mu.RLock()
	e, ok := s.m[id]
	s.mu.RUnlock()
	return e, ok
}

func (c *cache) store(id string, e *entry) {
	s := &c.shards[c.shard(id)]
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[string]*entry)
	}
	s.m[id] = e
	s.mu.Unlock()
}

// remove deletes id's entry; if e is not nil, only while it is e.
func (c *cache) remove(id string, e *entry) {
	s := &c.shards[c.shard(id)]
	s.mu.Lock()
	if cur, ok := s.m[id]; ok && (e == nil || cur == e) {
		delete(s.m, id)
	}
	s.mu.Unlock()
}

// entry is a cached tenant.
type entry struct {
	src      *Sources // nil for a disabled tenant
	version  int64
	checked  atomic.Int64 // when the version was last checked, UnixNano
	checking atomic.Bool
}

// New returns a Runtime, or an error naming a missing field.
func New(cfg Config) (*Runtime, error) {
	switch {
	case cfg.Settings == nil:
		return nil, errors.New("tenant: Config.Settings is required")
	case cfg.Stores == nil || cfg.Keys == nil:
		return nil, errors.New("tenant: Config.Stores and Config.Keys are required")
	case cfg.PollInterval < 0:
		return nil, errors.New("tenant: negative PollInterval")
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.SCIMBaseURL == nil {
		cfg.SCIMBaseURL = func(string) string { return "" }
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = netguard.New(netguard.Config{}).Client()
	}
	r := &Runtime{cfg: cfg, logger: cfg.Logger, clock: cfg.Clock, poll: int64(cfg.PollInterval)}
	r.cache.seed = maphash.MakeSeed()
	if r.logger == nil {
		r.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.clock == nil {
		r.clock = identity.SystemClock
	}
	return r, nil
}

// Resolve returns the tenant's Sources: cached, or built from its settings.
// It returns an error matching ErrUnknown (and identity.ErrNotFound) if the
// tenant does not exist or is disabled.
func (r *Runtime) Resolve(ctx context.Context, id string) (*Sources, error) {
	if e, ok := r.cache.load(id); ok {
		now := r.clock.Now().UnixNano()
		if now-e.checked.Load() < r.poll || !e.checking.CompareAndSwap(false, true) {
			return e.result()
		}
		defer e.checking.Store(false)
		version, err := r.cfg.Settings.Version(ctx, id)
		switch {
		case errors.Is(err, identity.ErrNotFound):
			r.cache.remove(id, e)
			return nil, ErrUnknown
		case err != nil:
			// The database is away: serve what is cached, and check again
			// at the next request.
			r.logger.WarnContext(ctx, "tenant: version check", "tenant", id, "error", err)
			return e.result()
		case version == e.version:
			e.checked.Store(now)
			return e.result()
		}
	}
	return r.load(ctx, id)
}

func (e *entry) result() (*Sources, error) {
	if e.src == nil {
		return nil, ErrUnknown
	}
	return e.src, nil
}

// load reads the tenant's settings, builds its sources and caches them.
func (r *Runtime) load(ctx context.Context, id string) (*Sources, error) {
	r.building.Lock()
	defer r.building.Unlock()
	now := r.clock.Now().UnixNano()
	st, err := r.cfg.Settings.Settings(ctx, id)
	if errors.Is(err, identity.ErrNotFound) {
		r.cache.remove(id, nil)
		return nil, ErrUnknown
	}
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	if e, ok := r.cache.load(id); ok && e.version == st.Version {
		// built meanwhile by another request
		e.checked.Store(now)
		return e.result()
	}
	e := &entry{version: st.Version}
	if !st.Disabled {
		if e.src, err = r.build(id, st); err != nil {
			return nil, err
		}
		for source, err := range e.src.Errors {
			r.logger.WarnContext(ctx, "tenant: source not built", "tenant", id, "source", source, "error", err)
		}
	}
	e.checked.Store(now)
	r.cache.store(id, e)
	return e.result()
}

// Invalidate drops a tenant's cached sources: the next Resolve builds them
// again. The Runtime calls it after each change it makes.
func (r *Runtime) Invalidate(id string) { r.cache.remove(id, nil) }

var validID = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidID reports whether id may name a tenant: lower-case letters, digits
// and inner '-', at most 63, so that it fits a DNS label ("acme.example.com")
// and a path segment alike.
func ValidID(id string) bool { return validID.MatchString(id) }
