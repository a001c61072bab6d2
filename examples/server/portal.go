package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/saml"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/portal"
)

// EnvPortalKey names the environment variable that holds the portal's
// session key: at least 32 bytes, base64 (standard or URL alphabet). Every
// instance of a host must share it; without it each start makes a new key,
// which ends the sessions of the last run.
const EnvPortalKey = "ROLLCALL_PORTAL_KEY"

// portalKey returns the session key from the environment, or a new random one.
func portalKey(getenv func(string) string) ([]byte, error) {
	if v := getenv(EnvPortalKey); v != "" {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(v); err == nil {
				if len(b) < 32 {
					return nil, fmt.Errorf("%s: %d bytes, want at least 32", EnvPortalKey, len(b))
				}
				return b, nil
			}
		}
		return nil, fmt.Errorf("%s: not base64", EnvPortalKey)
	}
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return b, err
}

// buildPortal builds the admin portal of the server's tenant, mounted at
// /portal/; an invited user accepts at /invitations/accept.
func (s *server) buildPortal(key []byte, im *importer.Importer) error {
	p, err := portal.New(portal.Config{
		Tenant:     s.portalTenant,
		SessionKey: key,
		Importer:   im,
		InviteURL: func(_ *http.Request, token string) string {
			return s.cfg.BaseURL + "/invitations/accept?token=" + url.QueryEscape(token)
		},
		Logger: s.logger,
	})
	if err != nil {
		return err
	}
	s.portal = p
	return nil
}

// portalTenant resolves a portal request to its tenant: request -> tenant ->
// Directory, KeyStore and diagnostics log.
func (s *server) portalTenant(r *http.Request) (portal.Tenant, error) {
	name, err := s.tenant(r)
	if err != nil {
		return portal.Tenant{}, err
	}
	dir, err := s.directoryOf(name)
	if err != nil {
		return portal.Tenant{}, err
	}
	return portal.Tenant{Directory: dir, Keys: s.stores.keys(name), Attempts: s.diagnostics(name)}, nil
}

// setupLink mints a setup link to the portal for the tenant's admin, with
// every section.
func (s *server) setupLink(ctx context.Context, tenant string) (string, error) {
	dir, err := s.directoryOf(tenant)
	if err != nil {
		return "", err
	}
	token, _, err := s.portal.NewSetupLink(ctx, portal.Tenant{Directory: dir, Keys: s.stores.keys(tenant)},
		portal.Admin{Name: "setup-link", Sections: portal.AllSections})
	if err != nil {
		return "", err
	}
	return s.cfg.BaseURL + "/portal/setup?token=" + url.QueryEscape(token), nil
}

// mountPortal mounts the portal and the acceptance of invitations: a page an
// invited user opens from their link, and the same as JSON for a host's own
// front end.
func (s *server) mountPortal(mux *http.ServeMux) {
	mux.Handle("/portal/", http.StripPrefix("/portal", s.portal))
	mux.Handle("POST /api/v1/portal/setup-links", s.requireAdmin(http.HandlerFunc(s.mintSetupLink))) // portal_settings.go
	mux.HandleFunc("GET /invitations/accept", s.acceptPage)
	mux.HandleFunc("POST /invitations/accept", s.acceptPage)
	mux.HandleFunc("POST /api/v1/invitations/accept", s.acceptJSON)
}

var acceptTmpl = template.Must(template.New("accept").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Accept your invitation</title></head><body><main>
<h1>Accept your invitation</h1>
{{if .Done}}<p role="status" id="accepted">Welcome{{if .Name}}, {{.Name}}{{end}}: your email address is confirmed.</p>
{{else if .Failed}}<p role="alert" id="refused">This invitation is not valid: it was used already, it expired, or the link was copied incompletely.</p>
{{else}}<form method="post" action="/invitations/accept"><input type="hidden" name="token" value="{{.Token}}">
<button type="submit" id="accept">Accept the invitation</button></form>{{end}}
</main></body></html>`))

// acceptPage shows the invitation's form (GET) and accepts it (POST): the
// token is used by the POST only, so that a link preview does not use it up.
func (s *server) acceptPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	data := struct {
		Token, Name  string
		Done, Failed bool
	}{Token: r.URL.Query().Get("token")}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		u, err := s.accept(r, r.PostFormValue("token"))
		switch {
		case err == nil:
			data.Done, data.Name = true, u.Name()
		case errors.Is(err, identity.ErrNotFound), errors.Is(err, identity.ErrDeactivated):
			data.Failed, status = true, http.StatusGone
		default:
			s.logger.ErrorContext(r.Context(), "accept invitation", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(status)
	_ = acceptTmpl.Execute(w, data)
}

// acceptJSON accepts an invitation: POST {"token": "..."} answers the user,
// 410 for a token unknown, used or expired.
func (s *server) acceptJSON(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"token"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Token == "" {
		writeJSON(w, http.StatusBadRequest, errorJSON{Error: `want {"token": "..."}`})
		return
	}
	u, err := s.accept(r, body.Token)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, toUserJSON(u))
	case errors.Is(err, identity.ErrNotFound), errors.Is(err, identity.ErrDeactivated):
		writeJSON(w, http.StatusGone, errorJSON{Error: "the invitation is unknown, used or expired"})
	default:
		writeError(w, r, s.logger, err)
	}
}

func (s *server) accept(r *http.Request, token string) (identity.User, error) {
	dir, err := s.directory(r)
	if err != nil {
		return identity.User{}, err
	}
	return dir.AcceptInvitation(r.Context(), token)
}

// testSignIn starts a test sign-in of the connection source names
// ("saml:<name>", "oauth:<name>") through the tenant's SSO handlers: the
// browser goes to the IdP, and the ACS or callback answers the report as
// JSON. The portal calls it for its admin, after checking the session and
// the CSRF token.
func testSignIn(w http.ResponseWriter, r *http.Request, sh *saml.Handler, oh *oauth.Handler, source string) {
	kind, name, _ := strings.Cut(source, ":")
	start := r.Clone(r.Context())
	start.Method = http.MethodGet
	switch {
	case kind == "saml" && sh != nil:
		start.SetPathValue("connection", name)
		sh.TestLogin().ServeHTTP(w, start)
	case kind == "oauth" && oh != nil:
		start.SetPathValue("provider", name)
		oh.TestLogin().ServeHTTP(w, start)
	default:
		http.NotFound(w, r)
	}
}
