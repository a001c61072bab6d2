package portal

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/rollcall/rollcall/identity"
)

// call is one authenticated request: its tenant, its admin and the prefix
// the portal is mounted at.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	ctx    context.Context // names the admin as the actor of the changes
	tenant Tenant
	v      visitor
	base   string
	active Section
	// settingsOff hides the sections of the settings from the menu: the
	// host gave no Config.Settings.
	settingsOff bool
	// webhooksOff hides the webhooks section: the host keeps none.
	webhooksOff bool
}

func (c *call) dir() *identity.Directory { return c.tenant.Directory }

// page is what every template gets.
type page struct {
	Base     string
	Title    string
	Admin    Admin
	CSRF     string
	Sections []Section
	Active   Section
	Notice   string
	Error    string
	Fields   []identity.FieldError
	Data     any
	// Refresh, when set, sends the browser on to this URL at once (a meta
	// refresh: a navigation the page's form-action does not restrict).
	Refresh string
}

func (h *Handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static", h.static))
	mux.HandleFunc("GET /setup", h.setupForm)
	mux.HandleFunc("POST /setup", h.setupRedeem)
	mux.HandleFunc("POST /logout", h.logout)
	mux.Handle("GET /{$}", h.in("", func(c *call) error {
		for _, s := range AllSections {
			if c.v.Admin.may(s) {
				http.Redirect(c.w, c.r, c.base+"/"+string(s), http.StatusSeeOther)
				return nil
			}
		}
		return errForbidden
	}))

	mux.Handle("GET /users", h.in(SectionUsers, h.users))
	mux.Handle("POST /users", h.in(SectionUsers, h.createUser))
	mux.Handle("GET /users/{id}", h.in(SectionUsers, h.user))
	mux.Handle("POST /users/{id}", h.in(SectionUsers, h.editUser))
	mux.Handle("POST /users/{id}/{action}", h.in(SectionUsers, h.userAction))

	mux.Handle("GET /groups", h.in(SectionGroups, h.groups))
	mux.Handle("POST /groups", h.in(SectionGroups, h.createGroup))
	mux.Handle("GET /groups/{id}", h.in(SectionGroups, h.group))
	mux.Handle("POST /groups/{id}/rename", h.in(SectionGroups, h.renameGroup))
	mux.Handle("POST /groups/{id}/delete", h.in(SectionGroups, h.deleteGroup))
	mux.Handle("POST /groups/{id}/members", h.in(SectionGroups, h.addMember))
	mux.Handle("POST /groups/{id}/members/{user}/remove", h.in(SectionGroups, h.removeMember))

	mux.Handle("GET /events", h.in(SectionEvents, h.events))
	mux.Handle("GET /webhooks", h.in(SectionWebhooks, h.webhooks))

	mux.Handle("GET /sso", h.in(SectionSSO, h.sso))
	mux.Handle("POST /sso/password", limited(64<<10, h.in(SectionSSO, h.ssoOnly)))
	mux.Handle("POST /sso/test", limited(64<<10, h.in(SectionSSO, h.testSignIn)))
	mux.Handle("GET /sso/saml", h.in(SectionSSO, h.newSAML))
	mux.Handle("GET /sso/saml/{name}", h.in(SectionSSO, h.samlPage))
	mux.Handle("POST /sso/saml/{name}", limited(2<<20, h.in(SectionSSO, h.saveSAML)))
	mux.Handle("POST /sso/saml/{name}/delete", limited(64<<10, h.in(SectionSSO, h.deleteSAML)))
	mux.Handle("POST /sso/oauth", limited(64<<10, h.in(SectionSSO, h.saveOAuth)))
	mux.Handle("POST /sso/oauth/{name}/delete", limited(64<<10, h.in(SectionSSO, h.deleteOAuth)))

	mux.Handle("GET /scim", h.in(SectionSCIM, h.scim))
	mux.Handle("POST /scim", limited(64<<10, h.in(SectionSCIM, h.saveSCIM)))
	mux.Handle("POST /scim/tokens", limited(64<<10, h.in(SectionSCIM, h.createToken)))
	mux.Handle("POST /scim/tokens/{id}/revoke", limited(64<<10, h.in(SectionSCIM, h.revokeToken)))

	mux.Handle("GET /google", h.in(SectionGoogle, h.google))
	mux.Handle("POST /google", limited(256<<10, h.in(SectionGoogle, h.saveGoogle)))
	mux.Handle("POST /google/sync", limited(64<<10, h.in(SectionGoogle, h.syncGoogle)))

	mux.Handle("GET /import", h.in(SectionImport, h.importPage))
	mux.Handle("GET /import/template", h.in(SectionImport, h.template))
	mux.Handle("GET /import/export", h.in(SectionImport, h.export))
	mux.Handle("POST /import/preview", h.in(SectionImport, h.preview))
	mux.Handle("POST /import/apply", h.in(SectionImport, h.apply))
	mux.Handle("GET /import/result/{id}", h.in(SectionImport, h.result))
	return mux
}

// errForbidden answers 403: the admin may not use the section.
var errForbidden = errors.New("portal: section not allowed")

// in wraps a page of a section: the tenant is resolved (404 if unknown), the
// admin authenticated (401), the section allowed (403), the CSRF token of a
// POST checked (403), and the error fn returns answered.
func (h *Handler) in(s Section, fn func(c *call) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := h.cfg.Tenant(r)
		if err != nil || t.Directory == nil {
			h.fail(w, r, page{Base: basePath(r)}, http.StatusNotFound, "There is nothing here.")
			return
		}
		v, ok := h.who(w, r, t.Directory.Tenant())
		base := basePath(r)
		if !ok {
			h.fail(w, r, page{Base: base}, http.StatusUnauthorized,
				"You are not signed in. Sign in through your application, or open the setup link you were sent.")
			return
		}
		c := &call{w: w, r: r, tenant: t, v: v, base: base, active: s,
			ctx: identity.WithActor(r.Context(), v.Admin.Name), settingsOff: h.cfg.Settings == nil,
			webhooksOff: h.cfg.Webhooks == nil}
		if s != "" && !v.Admin.may(s) {
			h.fail(w, r, c.page("Not allowed", nil), http.StatusForbidden, "Your access does not include this section.")
			return
		}
		if r.Method == http.MethodPost && !checkCSRF(r, v) {
			h.fail(w, r, c.page("Not allowed", nil), http.StatusForbidden,
				"This form has expired or did not come from this page. Go back, reload the page and try again.")
			return
		}
		if err := fn(c); err != nil {
			h.answerError(c, err)
		}
	})
}

func (c *call) page(title string, data any) page {
	var allowed []Section
	for _, s := range AllSections {
		if c.v.Admin.may(s) && !(c.settingsOff && (s == SectionSSO || s == SectionSCIM || s == SectionGoogle)) &&
			!(s == SectionWebhooks && c.webhooksOff) {
			allowed = append(allowed, s)
		}
	}
	return page{Base: c.base, Title: title, Admin: c.v.Admin, CSRF: c.v.CSRF, Sections: allowed, Active: c.active, Data: data}
}

// answerError answers an error of a page from one table: the core's
// sentinels name what the admin did wrong; anything else is logged and
// answered 500 without detail.
func (h *Handler) answerError(c *call, err error) {
	p := c.page("Could not do that", nil)
	var ve *identity.ValidationError
	switch {
	case errors.Is(err, errForbidden):
		h.fail(c.w, c.r, p, http.StatusForbidden, "Your access does not include this section.")
	case errors.As(err, &ve):
		p.Fields = ve.Fields
		h.fail(c.w, c.r, p, http.StatusUnprocessableEntity, "Some values are not valid.")
	case errors.Is(err, identity.ErrNotFound):
		h.fail(c.w, c.r, p, http.StatusNotFound, "It does not exist, or no longer.")
	case errors.Is(err, identity.ErrConflict), errors.Is(err, identity.ErrVersionMismatch), errors.Is(err, identity.ErrDeactivated):
		h.fail(c.w, c.r, p, http.StatusConflict, message(err))
	case errors.Is(err, identity.ErrNotAllowed):
		h.fail(c.w, c.r, p, http.StatusForbidden, message(err))
	case errors.Is(err, errBadRequest):
		h.fail(c.w, c.r, p, http.StatusBadRequest, message(err))
	default:
		h.log.ErrorContext(c.r.Context(), "portal", "tenant", c.dir().Tenant(), "path", c.r.URL.Path, "err", err)
		h.fail(c.w, c.r, p, http.StatusInternalServerError, "Something went wrong on our side. Try again later.")
	}
}

// errBadRequest marks an error whose message is for the admin.
var errBadRequest = errors.New("bad request")

// message returns an error's text for the admin: the core's errors name
// fields, never values.
func message(err error) string {
	switch {
	case errors.Is(err, identity.ErrVersionMismatch):
		return "Someone else changed it in the meantime. Reload the page and try again."
	case errors.Is(err, identity.ErrDeactivated):
		return "The user is deactivated: restore them first."
	case errors.Is(err, errBadRequest):
		return strings.TrimPrefix(err.Error(), errBadRequest.Error()+": ")
	}
	return err.Error()
}

// fail renders the error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, p page, status int, msg string) {
	p.Error = msg
	if p.Title == "" {
		p.Title = http.StatusText(status)
	}
	h.render(w, r, status, "error", p)
}

// render executes a page's template into a buffer first, so that a
// template error is a clean 500 and not half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf bytes.Buffer
	if err := h.pages[name].Execute(&buf, p); err != nil {
		h.log.ErrorContext(r.Context(), "portal: template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// see redirects after a change (POST, then GET), with a notice code that the
// page turns into fixed text.
func (c *call) see(path, notice string) error {
	to := c.base + path
	if notice != "" {
		to += "?done=" + notice
	}
	http.Redirect(c.w, c.r, to, http.StatusSeeOther)
	return nil
}

// notices are the texts of the notice codes: fixed, so that a link cannot
// put words on the page.
var notices = map[string]string{
	"updated":     "Saved.",
	"deactivated": "The user is deactivated.",
	"restored":    "The user is active again.",
	"deleted":     "Deleted.",
	"created":     "Created.",
	"added":       "Added.",
	"removed":     "Removed.",
	"renamed":     "Renamed.",
	"draft":       "Saved as a draft: sign-ins do not use it until you activate it.",
	"activated":   "Activated: sign-ins use this connection now.",
	"revoked":     "The token is revoked: requests with it are refused from now on.",
}

func (c *call) notice() string { return notices[c.r.URL.Query().Get("done")] }

func (h *Handler) setupForm(w http.ResponseWriter, r *http.Request) {
	p := page{Base: basePath(r), Title: "Open the admin portal", Data: r.URL.Query().Get("token")}
	h.render(w, r, http.StatusOK, "setup", p)
}

// setupRedeem takes the setup link's token (posted by the setup page, so that
// a link preview fetching the URL does not use it up) and starts a session.
func (h *Handler) setupRedeem(w http.ResponseWriter, r *http.Request) {
	base := basePath(r)
	t, err := h.cfg.Tenant(r)
	if err != nil || t.Directory == nil || t.Keys == nil {
		h.fail(w, r, page{Base: base}, http.StatusNotFound, "There is nothing here.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	admin, err := redeemLink(r.Context(), t.Keys, r.PostFormValue("token"))
	if err != nil {
		if !errors.Is(err, errBadLink) {
			h.log.ErrorContext(r.Context(), "portal: setup link", "tenant", t.Directory.Tenant(), "err", err)
		}
		h.fail(w, r, page{Base: base}, http.StatusForbidden,
			"This setup link is not valid: it was used already, it expired, or it was copied incompletely. Ask for a new one.")
		return
	}
	if err := h.startSession(w, r, t.Directory.Tenant(), admin); err != nil {
		h.log.ErrorContext(r.Context(), "portal: session", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.log.InfoContext(r.Context(), "portal: setup link redeemed", "tenant", t.Directory.Tenant(), "admin", admin.Name)
	http.Redirect(w, r, base+"/", http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	base := basePath(r)
	t, err := h.cfg.Tenant(r)
	if err != nil || t.Directory == nil {
		h.fail(w, r, page{Base: base}, http.StatusNotFound, "There is nothing here.")
		return
	}
	if v, ok := h.who(w, r, t.Directory.Tenant()); ok && checkCSRF(r, v) {
		h.endSession(w, r)
	}
	h.render(w, r, http.StatusOK, "error", page{Base: base, Title: "Signed out", Notice: "You are signed out."})
}
