package oauth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/rollcall/rollcall/identity"
)

// ErrNoConnection is what HandlerConfig.Connection returns, wrapped, when
// the tenant has no connection of that name; the handlers answer 404, as
// for any error of Resolve or Connection that matches identity.ErrNotFound.
var ErrNoConnection = errors.New("oauth: no such connection")

// HandlerConfig configures the login and callback handlers.
type HandlerConfig struct {
	// Resolve returns the tenant of a request (from the host name, say);
	// its Keys keep the pending logins, and must be shared by every
	// instance of the host. An error matching identity.ErrNotFound answers
	// 404, any other 500. Required.
	Resolve identity.Resolver
	// Connection returns the tenant's connection to the provider of the
	// given name, which the Handler takes from r.PathValue("provider"). An
	// error wrapping ErrNoConnection or identity.ErrNotFound answers 404,
	// any other 500. Required.
	Connection func(ctx context.Context, t identity.Tenant, name string) (*Connection, error)
	// SignedIn is called after a successful sign-in: it starts the host's
	// session for res.User and sends the browser to res.ReturnTo, with
	// http.Redirect(w, r, res.ReturnTo, http.StatusSeeOther) say. Required.
	SignedIn func(w http.ResponseWriter, r *http.Request, res Result)
	// Tested is called with the report of a test login (res.Test, see
	// Handler.TestLogin) instead of SignedIn: nobody was signed in. nil
	// answers the report as JSON.
	Tested func(w http.ResponseWriter, r *http.Request, res Result)
	// Logger receives each failure with its reason and a reference the
	// browser is shown, and each sign-in at Info (the Tenant's Logger
	// instead, when it has one). Nil discards.
	Logger *slog.Logger
}

// target is what the handlers act on for one request: its tenant and the
// connection it names.
type target struct {
	identity.Tenant
	Connection *Connection
}

// Handler serves the login and callback endpoints of every connection of
// every tenant its HandlerConfig finds. Build it with NewHandler.
type Handler struct {
	cfg    HandlerConfig
	logger *slog.Logger
}

// NewHandler validates cfg and returns the Handler.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Resolve == nil || cfg.Connection == nil {
		return nil, errors.New("oauth: HandlerConfig.Resolve and HandlerConfig.Connection are required")
	}
	if cfg.SignedIn == nil {
		return nil, errors.New("oauth: HandlerConfig.SignedIn is required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Handler{cfg: cfg, logger: logger}, nil
}

// cookieName is the cookie that binds a login's state to the browser.
const cookieName = "rollcall_oauth_state"

// Login returns the handler of GET /oauth/{provider}/login[?return_to=/path]:
// it starts a login, binds its state to the browser in an HttpOnly cookie
// scoped to the callback's path, and redirects to the provider.
func (h *Handler) Login() http.Handler {
	return h.start(func(r *http.Request, t target) (Login, error) {
		return t.Connection.Begin(r.Context(), t.Keys, r.URL.Query().Get("return_to"))
	})
}

// start serves a login's start: it binds the login begin makes to the
// browser in a cookie and redirects to the provider.
func (h *Handler) start(begin func(r *http.Request, t target) (Login, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		t, err := h.resolve(r)
		if err != nil {
			h.fail(w, r, target{}, err)
			return
		}
		c := t.Connection
		login, err := begin(r, t)
		if err != nil {
			h.fail(w, r, t, err)
			return
		}
		http.SetCookie(w, c.cookie(login.State, int(c.cfg.LoginTTL.Seconds())))
		http.Redirect(w, r, login.URL, http.StatusFound)
	})
}

// Callback returns the handler of GET /oauth/{provider}/callback: it finishes
// the login and calls HandlerConfig.SignedIn. A failure shows the browser a
// generic message with a reference, and logs the reason with that reference.
func (h *Handler) Callback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		t, err := h.resolve(r)
		if err != nil {
			h.fail(w, r, target{}, err)
			return
		}
		c := t.Connection
		q := r.URL.Query()
		cb := Callback{State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"), ErrorDescription: q.Get("error_description")}
		if ck, err := r.Cookie(cookieName); err == nil {
			cb.BrowserState = ck.Value
		}
		http.SetCookie(w, c.cookie("", -1))
		cb.Reference = reference()
		res, err := c.Finish(r.Context(), t.Directory, t.Keys, cb)
		if err != nil {
			h.failRef(w, r, t, err, cb.Reference)
			return
		}
		if res.Test != nil {
			h.tested(w, r, res)
			return
		}
		t.LoggerOr(h.logger).InfoContext(r.Context(), "oauth sign-in", "tenant", tenantOf(t), "source", c.source,
			"user", res.User.ID, "created", res.Created, "linked", res.Linked)
		h.cfg.SignedIn(w, r, res)
	})
}

// resolve returns the request's tenant and connection, complete. An error
// matching identity.ErrNotFound is made an ErrNoConnection (404).
func (h *Handler) resolve(r *http.Request) (target, error) {
	var t target
	var err error
	t.Tenant, err = h.cfg.Resolve(r)
	if err == nil && (t.Directory == nil || t.Keys == nil) {
		return target{}, errors.New("resolve: the resolver returned a Tenant without Directory or Keys")
	}
	if err == nil {
		t.Connection, err = h.cfg.Connection(r.Context(), t.Tenant, r.PathValue("provider"))
		if err == nil && t.Connection == nil {
			err = fmt.Errorf("provider %q: %w", r.PathValue("provider"), ErrNoConnection)
		}
	}
	if errors.Is(err, identity.ErrNotFound) && !errors.Is(err, ErrNoConnection) {
		err = fmt.Errorf("%w: %w", ErrNoConnection, err)
	}
	if err != nil {
		return target{}, fmt.Errorf("resolve: %w", err)
	}
	return t, nil
}

func tenantOf(t target) string {
	if t.Directory == nil {
		return ""
	}
	return t.Directory.Tenant()
}

// cookie returns the state cookie, or the one that deletes it (maxAge < 0).
func (c *Connection) cookie(state string, maxAge int) *http.Cookie {
	path, secure := "/", false
	if u, err := url.Parse(c.cfg.RedirectURL); err == nil {
		path, secure = u.EscapedPath(), u.Scheme == "https"
	}
	return &http.Cookie{
		Name: cookieName, Value: state, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: secure,
		// Lax: the callback is a top-level navigation from the provider.
		SameSite: http.SameSiteLaxMode,
	}
}

// statuses maps errors to the HTTP status a failure answers; the first match
// wins, and anything else is 500.
var statuses = []struct {
	err    error
	status int
}{
	{ErrNoConnection, http.StatusNotFound},
	{ErrReturnURL, http.StatusBadRequest},
	{ErrState, http.StatusBadRequest},
	{ErrExchange, http.StatusBadRequest},
	{ErrDenied, http.StatusForbidden},
	{ErrDraft, http.StatusForbidden},
	{ErrToken, http.StatusForbidden},
	{ErrRefused, http.StatusForbidden},
	{ErrGroups, http.StatusForbidden},
	{identity.ErrDeactivated, http.StatusForbidden},
	{identity.ErrNotAllowed, http.StatusForbidden},
	{identity.ErrConflict, http.StatusForbidden},
	{identity.ErrInvalid, http.StatusForbidden},
	{ErrProvider, http.StatusBadGateway},
}

// Status returns the HTTP status the handlers answer err with.
func Status(err error) int {
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	return http.StatusInternalServerError
}

// fail logs err with a reference and shows the browser only a generic
// message and the reference.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, t target, err error) {
	h.failRef(w, r, t, err, reference())
}

// reference returns a new reference for a failure page: what a user tells
// the admin, who finds the attempt by it in the log and the diagnostics log.
func reference() string { return rand.Text()[:10] }

// failRef is fail with the reference ref.
func (h *Handler) failRef(w http.ResponseWriter, r *http.Request, t target, err error, ref string) {
	status := Status(err)
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	source := ""
	if t.Connection != nil {
		source = t.Connection.source
	}
	t.LoggerOr(h.logger).Log(r.Context(), level, "oauth sign-in failed", "tenant", tenantOf(t), "source", source,
		"status", status, "reason", Reason(err), "reference", ref, "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	msg := "Sign-in failed. Please try again, or ask your administrator"
	if status == http.StatusNotFound {
		msg = "There is no such sign-in"
	}
	fmt.Fprintf(w, "%s (reference %s).\n", msg, ref)
}
