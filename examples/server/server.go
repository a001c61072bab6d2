package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"time"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/portal"
	"github.com/rollcall/rollcall/saml"
	"github.com/rollcall/rollcall/scim"
	"github.com/rollcall/rollcall/storage/sqlstore"
)

// tenantStores opens a tenant's data by the tenant's name (see openStore):
// its Store (users, groups, links, events) and its KeyStore (pending SSO
// logins, SAML assertion IDs seen).
type tenantStores struct {
	name  string // for the log: "sqlite:<file>" or "postgres"
	store func(tenant string) identity.Store
	keys  func(tenant string) identity.KeyStore
	// optimize refreshes the database's planner statistics; nil for none.
	optimize func(ctx context.Context) error
	// db is the database, for the operator API's settings (operator.go).
	db *sqlstore.DB
}

// tenantResolver names the tenant a request is for. This server serves one,
// named by the configuration. A multi-tenant host resolves it from the host
// name, a path segment or the signed-in admin's organisation instead; the rest
// of the chain (tenant -> store -> identity.New) stays the same.
type tenantResolver func(r *http.Request) (string, error)

// singleTenant resolves every request to the tenant name.
func singleTenant(name string) tenantResolver {
	return func(*http.Request) (string, error) { return name, nil }
}

// server holds what the handlers share. Build it with newServer.
type server struct {
	cfg         Config
	logger      *slog.Logger
	tenant      tenantResolver
	stores      tenantStores
	groupSource string
	// adminDigest is the SHA-256 of the admin token: comparing digests of
	// equal length leaks nothing of the token's length.
	adminDigest [sha256.Size]byte

	// The sources, built once from the configuration; nil or empty when not
	// configured. A SAML or OAuth connection caches the IdP's metadata or
	// keys, so it lives as long as the server.
	scim         http.Handler                 // at /scim/v2
	saml         map[string]*saml.Connection  // by name
	oauth        map[string]*oauth.Connection // by provider name
	oauthHandler *oauth.Handler               // their login and callback
	importer     *importer.Handler            // import, export, templates
	google       *googlesync.Syncer           // runs in the background work (tasks.go)
	portal       *portal.Handler              // at /portal/
	// events wakes the webhook delivery after each change (webhooks.go);
	// nil for none.
	events *hooks
	// flows holds the tenant resolution, tenant admin tokens and last
	// Google syncs (tenants.go).
	flows *flowState
}

// newServer checks a validated configuration with its admin token set and
// builds the sources it configures. It reads the files the configuration
// names: the SAML keys, certificates and IdP metadata, the Google key.
func newServer(cfg Config, stores tenantStores, logger *slog.Logger) (*server, error) {
	if cfg.AdminToken == "" {
		return nil, errors.New("newServer: no admin token")
	}
	source, err := cfg.groupSource()
	if err != nil {
		return nil, err
	}
	s := &server{
		cfg:         cfg,
		logger:      logger,
		tenant:      singleTenant(cfg.Tenant),
		stores:      stores,
		groupSource: source,
		adminDigest: sha256.Sum256([]byte(cfg.AdminToken)),
		flows:       newFlowState(),
	}
	s.cfg.AdminToken = "" // only the digest is kept
	s.cfg.SAML, s.cfg.OAuth = maps.Clone(cfg.SAML), maps.Clone(cfg.OAuth)
	if err := s.buildSources(); err != nil {
		return nil, err
	}
	return s, nil
}

// handler returns the server's whole HTTP handler: what run serves, and what
// the tests serve.
func (s *server) handler() http.Handler { return s.logRequests(s.routes()) }

// routes mounts every handler on one ServeMux: the admin API, and each source
// that its section of Config turns on (see sources.go).
func (s *server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	s.mountAdmin(mux)
	s.mountImport(mux, s.importer)
	s.mountSCIM(mux)
	s.mountSAML(mux)
	s.mountOAuth(mux)
	s.mountPortal(mux)
	s.mountDiagnostics(mux)
	return mux
}

// directory returns the core of the request's tenant: request -> tenant ->
// store -> Directory.
func (s *server) directory(r *http.Request) (*identity.Directory, error) {
	if v := viewOf(r); v != nil { // a runtime tenant's (tenants.go)
		return v.src.Directory, nil
	}
	tenant, err := s.tenant(r)
	if err != nil {
		return nil, err
	}
	return s.directoryOf(tenant)
}

// directoryOf returns the core of a tenant. A Directory is cheap, so it is
// built per request.
func (s *server) directoryOf(tenant string) (*identity.Directory, error) {
	return identity.New(s.stores.store(tenant), identity.Config{
		Tenant:        tenant,
		GroupSource:   s.groupSource,
		GroupLimit:    s.cfg.Directory.GroupLimit,
		InvitationTTL: s.cfg.Directory.InvitationTTL.D(),
		SSOOnly:       s.cfg.Directory.SSOOnly,
		Events:        s.eventSink(),
		Logger:        s.logger,
	})
}

// apiFunc is a handler of the admin API: it gets the tenant's Directory and
// returns an error for writeError to answer.
type apiFunc func(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error

// admin wraps an apiFunc: the admin token is required, and an error is
// answered from the table of errorStatuses.
func (s *server) admin(f apiFunc) http.Handler {
	return s.requireAdmin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		dir, err := s.directory(r)
		if err == nil {
			err = f(w, r, dir)
		}
		if err != nil {
			writeError(w, r, s.logger, err)
		}
	}))
}

// requireAdmin answers 401 unless the request carries the admin token, or an
// admin token of the request's tenant (tenants.go), as a bearer token.
func (s *server) requireAdmin(next http.Handler) http.Handler { return s.requireToken(true, next) }

// requireToken is requireAdmin; tenantTokens false accepts the admin token
// only (the operator API).
func (s *server) requireToken(tenantTokens bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := scim.BearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rollcall"`)
			writeJSON(w, http.StatusUnauthorized, errorJSON{Error: "a bearer token is required"})
			return
		}
		digest := sha256.Sum256([]byte(token))
		actor := "admin"
		if subtle.ConstantTimeCompare(digest[:], s.adminDigest[:]) != 1 {
			actor = "tenant-admin" // an admin token of the request's tenant (tenants.go)
			if !tenantTokens || !s.tenantTokenOK(r, token) {
				actor = ""
			}
		}
		if actor == "" {
			s.logger.WarnContext(r.Context(), "admin API: wrong bearer token", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="rollcall", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, errorJSON{Error: "the bearer token is not valid"})
			return
		}
		// The admin token names nobody in particular: the events of its
		// changes say "admin" ("tenant-admin" for a tenant's token). A host
		// with users of its own names the signed-in admin here.
		next.ServeHTTP(w, r.WithContext(identity.WithActor(r.Context(), actor)))
	})
}

// logRequests logs each request at Info: method, path (never the query, which
// may hold an email), status and duration. It never logs a header.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.logger.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration", time.Since(start).Round(time.Microsecond))
	})
}

// statusRecorder remembers the status a handler writes.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
