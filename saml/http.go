package saml

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/rollcall/rollcall/identity"
)

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// Resolve finds the tenant of a request (from its host name, say); its
	// Keys are required. An error wrapping identity.ErrNotFound answers
	// 404, any other 500. Required.
	Resolve identity.Resolver
	// Connection returns the tenant's connection of the given name, which
	// the Handler takes from r.PathValue("connection"). An error wrapping
	// identity.ErrNotFound answers 404, any other 500. Required.
	Connection func(ctx context.Context, t identity.Tenant, name string) (*Connection, error)
	// SignedIn is called after a successful sign-in: it sets the host's
	// session, to end at res.Expires, and sends the browser on. nil means a
	// 303 redirect to res.RelayState, or "/" (and no session: only for tests).
	SignedIn func(w http.ResponseWriter, r *http.Request, res Result)
	// Tested is called with the report of a test login (res.Test, see
	// TestLogin) instead of SignedIn: nobody was signed in. nil answers
	// the report as JSON.
	Tested func(w http.ResponseWriter, r *http.Request, res Result)
	// Logger receives the failures that happen before a connection is
	// known (else the Tenant's Logger); nil discards. A connection logs to
	// its own Deps.Logger.
	Logger *slog.Logger
}

// Handler adapts a tenant's connections to net/http. Build it with
// NewHandler; the host mounts its handlers on its own mux, on paths that
// name the connection, for instance:
//
//	mux.Handle("GET /saml/{connection}/metadata", h.Metadata())
//	mux.Handle("GET /saml/{connection}/login", h.Login())
//	mux.Handle("POST /saml/{connection}/acs", h.ACS())
type Handler struct {
	cfg    HandlerConfig
	logger *slog.Logger
}

// NewHandler validates cfg and returns the Handler.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Resolve == nil || cfg.Connection == nil {
		return nil, errors.New("saml: HandlerConfig needs Resolve and Connection")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, logger: logger}, nil
}

// target is what a request acts on: its tenant and the connection it names.
type target struct {
	identity.Tenant
	Connection *Connection
}

// ReturnParam is the query parameter of the login URL that names where to go
// after sign-in (a relative path).
const ReturnParam = "return_to"

// Metadata serves the connection's SP metadata.
func (h *Handler) Metadata() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := h.resolve(w, r)
		if !ok {
			return
		}
		md, err := t.Connection.Metadata()
		if err != nil {
			t.LoggerOr(h.logger).ErrorContext(r.Context(), "saml: metadata", "source", t.Connection.Source(), "error", err)
			fail(w, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		_, _ = w.Write(md)
	})
}

// Login redirects the browser to the IdP with an AuthnRequest; the query
// parameter return_to names where to go after sign-in. It sets a cookie,
// "saml_<connection>", sent only to the ACS path, that binds the login to
// this browser.
func (h *Handler) Login() http.Handler {
	return h.redirect("saml: login", func(r *http.Request, t target) (LoginRedirect, error) {
		return t.Connection.Login(r.Context(), t.Keys, r.URL.Query().Get(ReturnParam))
	})
}

// redirect serves a login's start: it sends the browser to the IdP with the
// request start makes, bound to the browser by a cookie.
func (h *Handler) redirect(what string, start func(r *http.Request, t target) (LoginRedirect, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := h.resolve(w, r)
		if !ok {
			return
		}
		lr, err := start(r, t)
		if err != nil {
			t.Connection.logger.WarnContext(r.Context(), what, "tenant", t.Directory.Tenant(), "error", err)
			fail(w, status(err))
			return
		}
		if lr.Binding != "" {
			http.SetCookie(w, t.Connection.bindingCookie(lr.Binding, int(t.Connection.cfg.RequestTTL.Seconds())))
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, lr.URL.String(), http.StatusFound)
	})
}

// ACS receives the IdP's response (HTTP-POST binding), signs the user in and
// calls SignedIn. A failure answers a generic page; the reason goes to the
// connection's log.
func (h *Handler) ACS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			fail(w, http.StatusMethodNotAllowed)
			return
		}
		t, ok := h.resolve(w, r)
		if !ok {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, t.Connection.cfg.MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			t.Connection.logger.WarnContext(r.Context(), "saml: response rejected", "tenant", t.Directory.Tenant(), "reason", ReasonMalformed, "error", err)
			fail(w, http.StatusBadRequest)
			return
		}
		p := Post{SAMLResponse: r.PostForm.Get("SAMLResponse"), RelayState: r.PostForm.Get("RelayState"), Reference: reference()}
		if ck, err := r.Cookie(t.Connection.bindingCookieName()); err == nil {
			p.Binding = ck.Value
			http.SetCookie(w, t.Connection.bindingCookie("", -1))
		}
		res, err := t.Connection.ACS(r.Context(), t.Directory, t.Keys, p)
		if err != nil {
			failRef(w, status(err), p.Reference)
			return
		}
		if res.Test != nil {
			h.tested(w, r, res)
			return
		}
		if h.cfg.SignedIn != nil {
			h.cfg.SignedIn(w, r, res)
			return
		}
		to := res.RelayState
		if to == "" {
			to = "/"
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
}

// bindingCookieName names the cookie that carries a login's browser binding
// from Login to ACS. One per connection: a second login in the same browser
// replaces the first.
func (c *Connection) bindingCookieName() string { return "saml_" + c.cfg.Name }

// bindingCookie is sent only to the ACS. The IdP posts to the ACS from its
// own site, so the cookie must be SameSite=None, which browsers accept only
// when Secure: over http (development), the browser's default applies.
func (c *Connection) bindingCookie(value string, maxAge int) *http.Cookie {
	ck := &http.Cookie{
		Name: c.bindingCookieName(), Value: value, Path: c.acsURL.Path,
		MaxAge: maxAge, HttpOnly: true,
	}
	if c.acsURL.Scheme == "https" {
		ck.Secure, ck.SameSite = true, http.SameSiteNoneMode
	}
	return ck
}

// resolve finds the request's tenant and connection, or answers 404 (or
// 500) and returns false.
func (h *Handler) resolve(w http.ResponseWriter, r *http.Request) (target, bool) {
	var t target
	var err error
	t.Tenant, err = h.cfg.Resolve(r)
	if err == nil && (t.Directory == nil || t.Keys == nil) {
		err = errors.New("saml: the resolver returned a Tenant without Directory or Keys")
	}
	if err == nil {
		t.Connection, err = h.cfg.Connection(r.Context(), t.Tenant, r.PathValue("connection"))
		if err == nil && t.Connection == nil {
			err = fmt.Errorf("saml: no connection %q: %w", r.PathValue("connection"), identity.ErrNotFound)
		}
	}
	if errors.Is(err, identity.ErrNotFound) {
		t.LoggerOr(h.logger).InfoContext(r.Context(), "saml: no connection for the request", "path", r.URL.Path, "error", err)
		fail(w, http.StatusNotFound)
		return t, false
	}
	if err != nil {
		t.LoggerOr(h.logger).ErrorContext(r.Context(), "saml: resolve the request's connection", "path", r.URL.Path, "error", err)
		fail(w, http.StatusInternalServerError)
		return t, false
	}
	return t, true
}

// status chooses the HTTP status of an error, from this table only.
func status(err error) int {
	var rej *RejectError
	switch {
	case errors.As(err, &rej) && rej.Reason == ReasonMalformed:
		return http.StatusBadRequest
	case errors.Is(err, ErrRelayState):
		return http.StatusBadRequest
	case errors.Is(err, ErrRejected),
		errors.Is(err, ErrDraft),
		errors.Is(err, identity.ErrDeactivated),
		errors.Is(err, identity.ErrNotAllowed),
		errors.Is(err, identity.ErrConflict),
		errors.Is(err, identity.ErrInvalid):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// reference returns a new reference for a failure page: what a user tells
// the admin, who finds the attempt by it in the log and the diagnostics log.
func reference() string { return rand.Text()[:10] }

// failRef writes the generic page of a failed sign-in with its reference.
func failRef(w http.ResponseWriter, code int, ref string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, "Sign-in failed. Please try again or contact your administrator (reference "+ref+").\n")
}

// fail writes the generic page of a failure: the browser learns nothing more.
func fail(w http.ResponseWriter, code int) {
	msg := "Sign-in failed. Please try again or contact your administrator."
	switch code {
	case http.StatusNotFound:
		msg = "Not found."
	case http.StatusMethodNotAllowed:
		msg = "Method not allowed."
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

// tested answers a test login's report: through Tested, else as JSON.
func (h *Handler) tested(w http.ResponseWriter, r *http.Request, res Result) {
	if h.cfg.Tested != nil {
		h.cfg.Tested(w, r, res)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(res.Test)
}
