// Package portal is an embeddable admin UI for one tenant's IT admin: users
// and invitations, groups, the import with its preview, the audit log, and
// the tenant's SSO, SCIM and Google settings (through Config.Settings),
// served as plain HTML from html/template and embed.FS.
//
// A host mounts the Handler under any prefix with http.StripPrefix and says
// how a request finds its tenant:
//
//	h, err := portal.New(portal.Config{Tenant: resolve, SessionKey: key, Importer: im})
//	mux.Handle("/portal/", http.StripPrefix("/portal", h))
//
// Admins reach it through the host's own sign-in (Config.Authenticate) or
// through a setup link the host mints with NewSetupLink: single use, kept
// only as its SHA-256, expiring. Redeeming a link starts a session held in a
// signed, HttpOnly, SameSite=Strict cookie with idle and absolute timeouts.
// Every state-changing request carries a CSRF token; every page is served
// with a Content-Security-Policy that allows no inline script and no framing.
package portal

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/saml"
)

// Section names a part of the portal an admin may use.
type Section string

// The sections of the portal.
const (
	SectionUsers  Section = "users"
	SectionGroups Section = "groups"
	SectionImport Section = "import"
	SectionEvents Section = "events"
	SectionSSO    Section = "sso"
	SectionSCIM   Section = "scim"
	SectionGoogle Section = "google"
	// SectionWebhooks shows the tenant's webhook endpoints and their
	// deliveries, read only: the operator manages them.
	SectionWebhooks Section = "webhooks"
)

// AllSections lists every section, in menu order.
var AllSections = []Section{SectionUsers, SectionGroups, SectionImport, SectionEvents, SectionSSO, SectionSCIM, SectionGoogle, SectionWebhooks}

// Tenant is what a request is for: the tenant's Directory and the KeyStore
// that keeps its setup links (shared by every instance of the host).
type Tenant struct {
	Directory *identity.Directory
	Keys      identity.KeyStore
	// Attempts, when set, is the tenant's diagnostics log: the SSO and SCIM
	// pages list the recent sign-in attempts and SCIM requests from it.
	Attempts identity.DiagnosticsLog
	// Importer, when set, is the tenant's own importer (its import
	// settings: size limits, threshold): the import section uses it instead
	// of Config.Importer, and is on for this tenant.
	Importer *importer.Importer
}

// Admin is who uses the portal: a name for the events of their changes
// (identity.WithActor) and the sections they may use.
type Admin struct {
	Name     string
	Sections []Section
}

func (a Admin) may(s Section) bool { return slices.Contains(a.Sections, s) }

// Config configures a Handler. Tenant and SessionKey are required; the zero
// value of every other field is the documented default.
type Config struct {
	// Tenant returns the tenant of a request (from its host name, say). An
	// error answers 404, so that tenants cannot be probed.
	Tenant func(r *http.Request) (Tenant, error)
	// Authenticate, when set, returns the admin the host has signed in for
	// this request's tenant. When it reports false the portal looks for a
	// session started from a setup link.
	Authenticate func(r *http.Request) (Admin, bool)
	// SessionKey signs the session cookies and the CSRF tokens: at least 32
	// random bytes, the same on every instance of the host. Changing it ends
	// every session.
	SessionKey []byte
	// Importer, when set, turns the import section on for every tenant
	// whose Tenant.Importer is nil.
	Importer *importer.Importer
	// InviteURL returns the link an invited user follows to accept the
	// invitation with its token. Nil shows the token itself.
	InviteURL func(r *http.Request, token string) string
	// LinkTTL is how long a setup link is valid; zero means 24 hours.
	LinkTTL time.Duration
	// IdleTimeout ends a session unused that long; zero means 30 minutes.
	IdleTimeout time.Duration
	// MaxAge ends a session that old, used or not; zero means 12 hours.
	MaxAge time.Duration
	// MaxPending caps the bytes of the uploaded files kept between an
	// import's preview and its apply (in memory, for 15 minutes at most);
	// zero means 128 MiB. Past it the oldest previews are forgotten.
	MaxPending int64
	// Settings, when set, reads and changes the tenant's settings and SCIM
	// tokens: the sso, scim and google sections. Without it those pages say
	// that this host does not offer them.
	Settings SettingsStore
	// Endpoints returns the addresses an IdP is given (entity ID, ACS URL,
	// metadata URL, SCIM base URL, OAuth redirect URL). Nil shows none.
	Endpoints Endpoints
	// SAMLHealth, when set, returns the state of a tenant's live SAML
	// connection (false: not built) for its page: the IdP metadata loaded
	// (from a URL too), a failed refresh, every certificate's expiry.
	SAMLHealth func(ctx context.Context, tenant, connection string) (saml.Health, bool)
	// GoogleSync, when set, runs the tenant's Google sync now for the google
	// section's buttons: with DryRun it only lists the changes; with Force it
	// applies a sync the safety fuse stopped (googlesync.WithForce).
	GoogleSync func(ctx context.Context, tenant string, opts GoogleSyncOptions) (googlesync.Report, error)
	// Webhooks, when set, returns the tenant's webhook store: the webhooks
	// section lists its endpoints, their state and recent deliveries (read
	// only; never a secret). Nil hides the section.
	Webhooks func(tenant string) identity.WebhookStore
	// TestSignIn, when set, starts a test sign-in of a live connection of
	// the tenant (source "saml:<name>" or "oauth:<name>"): it answers the
	// browser with the redirect to the IdP (saml.Handler.TestLogin,
	// oauth.Handler.TestLogin), and the IdP's answer shows what the sign-in
	// would do, writing nothing. Nil hides the button.
	TestSignIn func(w http.ResponseWriter, r *http.Request, tenant, source string)
	// Clock tells the time; nil means the system clock.
	Clock identity.Clock
	// Logger receives the failures; nil discards. Tokens are never logged.
	Logger *slog.Logger
}

// Handler serves the portal. Build it with New.
type Handler struct {
	cfg     Config
	clock   identity.Clock
	log     *slog.Logger
	pages   map[string]*template.Template
	static  http.Handler
	mux     *http.ServeMux
	pending *pendingImports
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns a Handler, or an error naming the first invalid field.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Tenant == nil:
		return nil, errors.New("portal: Config.Tenant is required")
	case len(cfg.SessionKey) < 32:
		return nil, fmt.Errorf("portal: Config.SessionKey has %d bytes, want at least 32", len(cfg.SessionKey))
	case cfg.LinkTTL < 0 || cfg.IdleTimeout < 0 || cfg.MaxAge < 0 || cfg.MaxPending < 0:
		return nil, errors.New("portal: negative LinkTTL, IdleTimeout, MaxAge or MaxPending")
	}
	cfg.SessionKey = slices.Clone(cfg.SessionKey)
	if cfg.LinkTTL == 0 {
		cfg.LinkTTL = 24 * time.Hour
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 12 * time.Hour
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = 128 << 20
	}
	h := &Handler{cfg: cfg, clock: cfg.Clock, log: cfg.Logger}
	if h.clock == nil {
		h.clock = identity.SystemClock
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	h.pages = pages
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	h.static = http.FileServerFS(sub)
	h.pending = newPendingImports(cfg.MaxPending, h.clock)
	h.mux = h.routes()
	return h, nil
}

// parseTemplates parses each page with the shared layout.
func parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"time": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"join":  strings.Join,
		"label": sectionLabel,
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("portal: template %s: %w", name, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// NewSetupLink mints a setup link's token for an admin of the tenant: the
// host hands it out as <portal>/setup?token=<token>. The token is single use
// and valid for Config.LinkTTL; only its SHA-256 is kept, in the tenant's
// KeyStore. It returns the token and when it expires.
func (h *Handler) NewSetupLink(ctx context.Context, t Tenant, admin Admin) (token string, expires time.Time, err error) {
	if t.Directory == nil || t.Keys == nil {
		return "", time.Time{}, errors.New("portal: NewSetupLink needs the tenant's Directory and Keys")
	}
	if len(admin.Sections) == 0 {
		return "", time.Time{}, errors.New("portal: a setup link needs at least one section")
	}
	for _, s := range admin.Sections {
		if !slices.Contains(AllSections, s) {
			return "", time.Time{}, fmt.Errorf("portal: unknown section %q", s)
		}
	}
	return newLink(ctx, t.Keys, admin, h.clock.Now().Add(h.cfg.LinkTTL))
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}
