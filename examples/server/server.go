package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// tenantStores returns the store of a tenant by its name (see openStore).
type tenantStores func(tenant string) identity.Store

// tenantResolver names the tenant a request is for. This server serves one,
// named by the configuration. A multi-tenant host resolves it from the host
// name, a path segment or the signed-in admin's organisation instead; the rest
// of the chain (tenant -> store -> identity.New) stays the same.
type tenantResolver func(r *http.Request) (string, error)

// singleTenant resolves every request to the tenant name.
func singleTenant(name string) tenantResolver {
	return func(*http.Request) (string, error) { return name, nil }
}

// server holds what the handlers share. Build it with newHandler.
type server struct {
	cfg         Config
	logger      *slog.Logger
	tenant      tenantResolver
	stores      tenantStores
	groupSource string
	// adminDigest is the SHA-256 of the admin token: comparing digests of
	// equal length leaks nothing of the token's length.
	adminDigest [sha256.Size]byte
}

// newHandler returns the server's whole HTTP handler for a validated
// configuration with its admin token set: what run serves, and what the tests
// serve.
func newHandler(cfg Config, stores tenantStores, logger *slog.Logger) (http.Handler, error) {
	if cfg.AdminToken == "" {
		return nil, errors.New("newHandler: no admin token")
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
	}
	return s.logRequests(s.routes()), nil
}

// routes mounts every handler on one ServeMux. A source added later mounts
// its handler here behind its section of Config, for example:
//
//	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", scimHandler))
//	mux.Handle("/saml/{connection}/", samlHandler)
//	mux.Handle("/oauth/{provider}/", oauthHandler)
//	mux.Handle("POST /api/v1/users/import", s.admin(importHandler))
func (s *server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	s.mountAdmin(mux)
	return mux
}

// directory returns the core of the request's tenant: request -> tenant ->
// store -> Directory. A Directory is cheap, so it is built per request.
func (s *server) directory(r *http.Request) (*identity.Directory, error) {
	tenant, err := s.tenant(r)
	if err != nil {
		return nil, err
	}
	return identity.New(s.stores(tenant), identity.Config{
		Tenant:        tenant,
		GroupSource:   s.groupSource,
		GroupLimit:    s.cfg.Directory.GroupLimit,
		InvitationTTL: s.cfg.Directory.InvitationTTL.D(),
		SSOOnly:       s.cfg.Directory.SSOOnly,
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

// requireAdmin answers 401 unless the request carries the admin token as a
// bearer token.
func (s *server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rollcall"`)
			writeJSON(w, http.StatusUnauthorized, errorJSON{Error: "a bearer token is required"})
			return
		}
		digest := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(digest[:], s.adminDigest[:]) != 1 {
			s.logger.WarnContext(r.Context(), "admin API: wrong bearer token", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="rollcall", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, errorJSON{Error: "the bearer token is not valid"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
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
