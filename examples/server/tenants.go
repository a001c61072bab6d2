package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/portal"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/tenant"
)

// How a request names its tenant, chosen by -tenant-from.
const (
	// tenantFromPath: a path prefix /t/{tenant}/ names the tenant; a path
	// without it is the configured tenant's (the default).
	tenantFromPath = "path"
	// tenantFromHost: the host name's first label under the base domain
	// names it (acme.localhost:8080 is acme); any other host is the
	// configured tenant's. /t/{tenant}/ is not served.
	tenantFromHost = "host"
)

// checkTenantFrom checks the value of -tenant-from.
func checkTenantFrom(v string) error {
	if v != tenantFromPath && v != tenantFromHost {
		return fmt.Errorf("-tenant-from %q: want %s or %s", v, tenantFromPath, tenantFromHost)
	}
	return nil
}

// flowState is what the per-tenant flows share beside the server: how a
// request names its tenant and the key of the tenant admin tokens. The last
// Google sync of each tenant is an event of its log (lastSync).
type flowState struct {
	from     string
	tokenKey []byte
	// rt is the runtime of the operator's tenants; nil without the operator.
	rt       *tenant.Runtime
	settings settings.Store
}

// lastSync is a tenant's last Google sync, as its sync.completed event keeps
// it (or as it just ran).
type lastSync struct {
	report  googlesync.Report
	errText string // "" for a sync that succeeded
	at      time.Time
	// omitted counts the changes of a dry run the event left out
	// (googlesync.MaxEventChanges).
	omitted int
}

func newFlowState() *flowState {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	return &flowState{from: tenantFromPath, tokenKey: key}
}

// useKey derives the tenant admin tokens' key from the portal's session key,
// which every instance of a host shares.
func (f *flowState) useKey(portalKey []byte) {
	if len(portalKey) == 0 {
		return
	}
	m := hmac.New(sha256.New, portalKey)
	m.Write([]byte("rollcall tenant admin token"))
	f.tokenKey = m.Sum(nil)
}

// view is the tenant a request is for, when it is one of the operator's.
type view struct {
	name string
	src  *tenant.Sources
}

type viewKey struct{}

// viewOf returns the runtime tenant of the request, or nil for the
// configured one.
func viewOf(r *http.Request) *view {
	v, _ := r.Context().Value(viewKey{}).(*view)
	return v
}

// tenantName names the request's tenant: a runtime tenant's, else the
// configured one.
func (s *server) tenantName(r *http.Request) string {
	if v := viewOf(r); v != nil {
		return v.name
	}
	return s.cfg.Tenant
}

// googleOf returns the request tenant's Google syncer, nil when the sync is
// off.
func (s *server) googleOf(r *http.Request) *googlesync.Syncer {
	if v := viewOf(r); v != nil {
		return v.src.Google
	}
	return s.google
}

// The tenant admin tokens: "rcadm_" + base64url(expiry (8 bytes, Unix
// seconds) | nonce (16) | HMAC-SHA256(key, tenant | expiry | nonce)). They
// are not stored: a token is valid for its tenant until it expires, or
// until the tenant is disabled or deleted, or the portal key changes.
const (
	adminTokenPrefix  = "rcadm_"
	adminTokenMaxTTL  = 30 * 24 * time.Hour
	adminTokenDefault = 24 * time.Hour
)

func (f *flowState) tokenMAC(tenant string, body []byte) []byte {
	m := hmac.New(sha256.New, f.tokenKey)
	m.Write([]byte(tenant))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)
}

// mintAdminToken returns a token that opens the admin API of the tenant
// until expires.
func (f *flowState) mintAdminToken(tenant string, expires time.Time) string {
	body := make([]byte, 8+16)
	binary.BigEndian.PutUint64(body, uint64(expires.Unix()))
	_, _ = rand.Read(body[8:])
	return adminTokenPrefix + base64.RawURLEncoding.EncodeToString(append(body, f.tokenMAC(tenant, body)...))
}

// checkAdminToken reports whether token is a tenant admin token of the
// tenant, not expired at now. The MACs are compared in constant time.
func (f *flowState) checkAdminToken(tenant, token string, now time.Time) bool {
	rest, ok := strings.CutPrefix(token, adminTokenPrefix)
	if !ok {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) != 8+16+sha256.Size {
		return false
	}
	body, mac := b[:24], b[24:]
	if !hmac.Equal(mac, f.tokenMAC(tenant, body)) {
		return false
	}
	return now.Unix() < int64(binary.BigEndian.Uint64(body))
}

// tenantTokenOK reports whether token opens the admin API of the request's
// tenant.
func (s *server) tenantTokenOK(r *http.Request, token string) bool {
	return s.flows.checkAdminToken(s.tenantName(r), token, time.Now())
}

// tenantURL returns the public URL of a tenant's path (which starts with
// "/"): under /t/{tenant} with -tenant-from path, on the tenant's host name
// with -tenant-from host. The configured tenant's URLs are the base URL's.
func (s *server) tenantURL(id, path string) string {
	base := strings.TrimSuffix(s.cfg.BaseURL, "/")
	if id == s.cfg.Tenant {
		return base + path
	}
	if s.flows.from == tenantFromPath {
		return base + "/t/" + id + path
	}
	u, err := url.Parse(base)
	if err != nil {
		return base + "/t/" + id + path
	}
	host, port := u.Hostname(), u.Port()
	if net.ParseIP(host) != nil {
		host = "localhost" // browsers resolve *.localhost to loopback
	}
	u.Host = id + "." + host
	if port != "" {
		u.Host = net.JoinHostPort(u.Host, port)
	}
	return u.String() + path
}

// hostTenant returns the tenant a host name names: its first label when the
// rest is localhost or the base URL's host name; "" for any other host.
func (s *server) hostTenant(r *http.Request) string {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	label, rest, ok := strings.Cut(strings.TrimSuffix(host, "."), ".")
	if !ok || !validID(label) {
		return ""
	}
	if rest == "localhost" {
		return label
	}
	if u, err := url.Parse(s.cfg.BaseURL); err == nil && net.ParseIP(u.Hostname()) == nil && strings.EqualFold(rest, u.Hostname()) {
		return label
	}
	return ""
}

// dispatch serves a request of a named tenant: the configured tenant's
// handler for its own name, a runtime tenant's for the others. path is the
// request's path under the tenant's prefix.
func (o *operator) dispatch(w http.ResponseWriter, r *http.Request, id, path string) {
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = path, ""
	if id == o.s.cfg.Tenant {
		// The configured tenant is served from its configuration file,
		// except the connections its admin set up in the portal (kept as
		// settings): those are the runtime's, under /t/{tenant}/.
		if src, err := o.rt.Resolve(r.Context(), id); err == nil && connectionPath(path) {
			ctx := context.WithValue(r.Context(), viewKey{}, &view{name: id, src: src})
			o.tenantHandler.ServeHTTP(w, r2.WithContext(ctx))
			return
		}
		o.configured.ServeHTTP(w, r2)
		return
	}
	src, err := o.rt.Resolve(r.Context(), id)
	if err != nil && strings.HasPrefix(path, "/scim/v2/") {
		// SCIM answers an unknown or disabled tenant with its own 401.
		ctx := context.WithValue(r.Context(), viewKey{}, &view{name: id})
		o.scim.ServeHTTP(w, r2.WithContext(ctx))
		return
	}
	if err != nil {
		if !errors.Is(err, identity.ErrNotFound) {
			o.s.logger.ErrorContext(r.Context(), "resolve tenant", "tenant", id, "err", err)
		}
		writeJSON(w, http.StatusNotFound, errorJSON{Error: "not found"})
		return
	}
	ctx := context.WithValue(r.Context(), viewKey{}, &view{name: id, src: src})
	o.tenantHandler.ServeHTTP(w, r2.WithContext(ctx))
}

// byPath serves /t/{tenant}/...
func (o *operator) byPath(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("tenant")
	o.dispatch(w, r, id, strings.TrimPrefix(r.URL.Path, "/t/"+id))
}

// byHost serves a request whose host names a tenant, and the others with
// next.
func (o *operator) byHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := o.s.hostTenant(r)
		if id == "" || id == o.s.cfg.Tenant {
			next.ServeHTTP(w, r)
			return
		}
		o.dispatch(w, r, id, r.URL.Path)
	})
}

// buildTenantMux builds the routes of a runtime tenant, the tenant taken
// from the request's view: the admin API, import, SCIM, SAML, OAuth, the
// portal and the acceptance of invitations.
func (o *operator) buildTenantMux() error {
	mux := http.NewServeMux()
	o.s.mountAdmin(mux)
	o.imports = newTenantImports(o.s)
	o.s.mountImport(mux, o.imports)
	o.s.mountDiagnostics(mux)
	viewName := func(r *http.Request) string { return o.s.tenantName(r) }
	o.scim = http.StripPrefix("/scim/v2", o.rt.SCIMHandler(viewName))
	mux.Handle("/scim/v2/", o.scim)
	o.mountSSO(mux, "", viewName)
	p, err := portal.New(portal.Config{
		Tenant: func(r *http.Request) (portal.Tenant, error) {
			v := viewOf(r)
			if v == nil {
				return portal.Tenant{}, identity.ErrNotFound
			}
			return portal.Tenant{Directory: v.src.Directory, Keys: v.src.Keys, Importer: v.src.Importer,
				Attempts: o.s.diagnostics(v.name)}, nil
		},
		SessionKey: o.portalKey,
		Settings:   portal.NewSettingsStore(o.rt, o.store),
		Endpoints:  tenantEndpoints{base: strings.TrimSuffix(o.s.cfg.BaseURL, "/")},
		GoogleSync: o.googleSync,
		SAMLHealth: o.samlHealth,
		Webhooks:   o.webhookStores(),
		TestSignIn: func(w http.ResponseWriter, r *http.Request, _, source string) {
			testSignIn(w, r, o.ssoSAML, o.ssoOAuth, source)
		},
		InviteURL: func(r *http.Request, token string) string {
			return o.s.tenantURL(o.s.tenantName(r), "/invitations/accept?token="+url.QueryEscape(token))
		},
		Logger: o.s.logger,
	})
	if err != nil {
		return err
	}
	o.portal = p
	mux.Handle("/portal/", http.StripPrefix("/portal", p))
	mux.HandleFunc("GET /invitations/accept", o.s.acceptPage)
	mux.HandleFunc("POST /invitations/accept", o.s.acceptPage)
	mux.HandleFunc("POST /api/v1/invitations/accept", o.s.acceptJSON)
	o.tenantHandler = o.s.logRequests(mux)
	return nil
}

// POST /api/v1/tenants/{tenant}/admin-tokens {"expires"}: a token that opens
// the admin API of this tenant only (and not the operator API), shown once.
func (o *operator) mintAdminToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Expires time.Time `json:"expires"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &in); err != nil {
			return err
		}
	}
	id, err := o.tenantExists(r)
	if err != nil {
		return err
	}
	now := time.Now()
	switch {
	case in.Expires.IsZero():
		in.Expires = now.Add(adminTokenDefault)
	case !in.Expires.After(now) || in.Expires.After(now.Add(adminTokenMaxTTL)):
		return &identity.ValidationError{Fields: []identity.FieldError{{Field: "expires", Message: "must be in the future, within 30 days"}}}
	}
	in.Expires = in.Expires.Truncate(time.Second)
	writeJSON(w, http.StatusCreated, map[string]any{
		"token": o.s.flows.mintAdminToken(id, in.Expires), "tenant": id, "expires": in.Expires,
		"api": o.s.tenantURL(id, "/api/v1/"),
	})
	return nil
}

// POST /api/v1/tenants/{tenant}/portal-links: a setup link to the tenant's
// portal, valid once for 24 hours.
func (o *operator) mintPortalLink(w http.ResponseWriter, r *http.Request) error {
	id, err := o.tenantExists(r)
	if err != nil {
		return err
	}
	link, err := o.setupLink(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"tenant": id, "link": link})
	return nil
}

// setupLink mints a portal setup link of any tenant, the configured one
// included.
func (o *operator) setupLink(ctx context.Context, id string) (string, error) {
	if id == o.s.cfg.Tenant {
		return o.s.setupLink(ctx, id)
	}
	src, err := o.rt.Resolve(ctx, id)
	if err != nil {
		return "", err
	}
	token, _, err := o.portal.NewSetupLink(ctx, portal.Tenant{Directory: src.Directory, Keys: src.Keys},
		portal.Admin{Name: "setup-link", Sections: portal.AllSections})
	if err != nil {
		return "", err
	}
	return o.s.tenantURL(id, "/portal/setup?token="+url.QueryEscape(token)), nil
}

// tenantExists returns the {tenant} of the route if it is the configured
// tenant or a runtime tenant that is not disabled, else ErrNotFound.
func (o *operator) tenantExists(r *http.Request) (string, error) {
	id := pathTenant(r)
	if id == o.s.cfg.Tenant {
		return id, nil
	}
	if _, err := o.rt.Resolve(r.Context(), id); err != nil {
		return "", err
	}
	return id, nil
}

// connectionPath reports whether path is a route of a connection: SCIM,
// SAML or OAuth.
func connectionPath(path string) bool {
	for _, p := range []string{"/scim/v2/", "/saml/", "/oauth/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// webhookStores returns the tenants' webhook stores for the portal, or nil
// where the server keeps no webhooks.
func (o *operator) webhookStores() func(tenant string) identity.WebhookStore {
	if o.hooks == nil {
		return nil
	}
	return o.hooks.store
}
