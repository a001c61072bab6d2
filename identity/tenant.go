package identity

import (
	"log/slog"
	"net/http"
)

// Tenant is what a request is for: one tenant's Directory and the services
// its sources use with it. The SCIM, SAML, OAuth and import handlers each
// find it with a Resolver.
type Tenant struct {
	// Directory is the tenant's core. Required.
	Directory *Directory
	// Keys is the tenant's key store: the state of SSO logins and the
	// assertions used, shared by every instance of the host. Required by
	// the SAML and OAuth handlers.
	Keys KeyStore
	// Diagnostics, when set, is the tenant's diagnostics log: the SCIM
	// handler records each request there (a SAML or OAuth connection,
	// which belongs to one tenant, records to its Deps.Diagnostics). nil
	// means the handler's Deps.Diagnostics.
	Diagnostics DiagnosticsLog
	// Logger, when set, receives the SAML, OAuth and SCIM handlers' lines
	// about the tenant's requests (with the tenant's own attributes, say);
	// nil means the handler's logger. A connection logs to its
	// Deps.Logger.
	Logger *slog.Logger
}

// Resolver returns the Tenant of a request: from its host name, a path
// value the host's mux extracted, or its session. An error wrapping
// ErrNotFound answers 404 (SCIM answers 401, as for a bad token, so that
// tenants cannot be probed); any other error answers 500.
type Resolver func(r *http.Request) (Tenant, error)

// Fixed returns a Resolver that answers every request with t: for a host
// with one tenant, and for tests.
func Fixed(t Tenant) Resolver {
	return func(*http.Request) (Tenant, error) { return t, nil }
}

// Deps are the services a source (a SAML or OAuth connection, a SCIM
// handler, an importer, a Google syncer) is built with, as New(cfg, deps).
// The zero Deps is usable.
type Deps struct {
	// Clock tells the time; nil means the system clock.
	Clock Clock
	// Logger receives the source's log lines; nil discards. A source never
	// logs a secret, a token or a whole assertion at Info level.
	Logger *slog.Logger
	// HTTPClient makes the source's outgoing requests (IdP metadata, OAuth
	// providers, the Google API); nil means the source's default. A host
	// that lets tenants enter URLs should give a client whose dialer
	// refuses internal addresses: netguard.New(netguard.Config{}).Client().
	HTTPClient *http.Client
	// Diagnostics, when set, is the diagnostics log of the tenant the
	// source is built for: its sign-in attempts (or SCIM requests) are
	// recorded there.
	Diagnostics DiagnosticsLog
}

// LoggerOr returns t.Logger, or fallback when t has none.
func (t Tenant) LoggerOr(fallback *slog.Logger) *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return fallback
}

// Defaults returns d with its zero fields given their defaults: the system
// clock, a logger that discards, and client() as the HTTP client (each
// source has its own default client). Diagnostics stays nil.
func (d Deps) Defaults(client func() *http.Client) Deps {
	if d.Clock == nil {
		d.Clock = SystemClock
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.HTTPClient == nil && client != nil {
		d.HTTPClient = client()
	}
	return d
}
