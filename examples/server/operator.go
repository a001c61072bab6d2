package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/netguard"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/portal"
	"github.com/rollcall/rollcall/saml"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/sqlstore"
	"github.com/rollcall/rollcall/tenant"
	"github.com/rollcall/rollcall/webhook"
)

// EnvSettingsKeys holds the keys that seal the tenants' secrets at rest:
// "id:base64,id:base64", each key 32 bytes, the first one sealing. Without
// it, a SQLite file's key is kept in "<file>-settings-keys", made on first start; an
// in-memory database gets a key that lives as long as the process; with
// PostgreSQL the operator API is off.
const EnvSettingsKeys = "ROLLCALL_SETTINGS_KEYS"

// operator serves the tenants an operator makes at runtime, beside the
// configured one: the operator API under /api/v1/tenants (behind the admin
// token) and each tenant's SCIM, SAML and OAuth under /t/{tenant}/, built
// from its settings by a tenant.Runtime.
type operator struct {
	s     *server
	rt    *tenant.Runtime
	store settings.Store
	hooks *hooks      // the tenants' webhooks (webhooks.go)
	tasks *background // the background work (tasks.go)

	// configured serves the configured tenant (set by wrap); tenantHandler
	// the runtime tenants, the tenant taken from the request's view.
	configured    http.Handler
	tenantHandler http.Handler
	scim          http.Handler // the runtime tenants' SCIM, under /scim/v2
	// ssoSAML and ssoOAuth are the runtime tenants' SSO handlers, for the
	// portal's test sign-in.
	ssoSAML  *saml.Handler
	ssoOAuth *oauth.Handler
	// imports serves the runtime tenants' import API, each with its own
	// import settings.
	imports *tenantImports
	// portal is the runtime tenants' portal, signed with portalKey.
	portal    *portal.Handler
	portalKey []byte
}

// openOperator returns the operator API over the database, or nil (and no
// error) when no keyring can be had: PostgreSQL without EnvSettingsKeys.
// EnvConnectionAllow names the environment variable that lists the address
// ranges (CIDR, comma-separated) that runtime tenants' connections may fetch
// from although special (loopback, private, link-local): an IdP inside the
// host's network, say. By default such addresses are refused.
const EnvConnectionAllow = "ROLLCALL_CONNECTION_ALLOW"

func openOperator(s *server, db *sqlstore.DB, where storeFlags, getenv func(string) string) (*operator, error) {
	if db == nil {
		return nil, nil
	}
	k, err := settingsKeyring(where, getenv)
	if err != nil || k == nil {
		return nil, err
	}
	store := db.Settings(k)
	h, err := newHooks(db, k, getenv, webhook.Config{Logger: s.logger})
	if err != nil {
		return nil, err
	}
	s.events = h
	// A tenant's admin enters the SAML metadata URLs and OpenID issuers of
	// its connections, and its Google API endpoint and key (token_uri):
	// they are reached through a client that refuses internal addresses,
	// unless EnvConnectionAllow lists them.
	allow, err := allowList(getenv, EnvConnectionAllow)
	if err != nil {
		return nil, err
	}
	rt, err := tenant.New(tenant.Config{
		HTTPClient: netguard.New(netguard.Config{Allow: allow}).Client(),
		Events:     h,
		Settings:   store,
		Stores:     s.stores.store,
		Keys:       s.stores.keys,
		SCIMBaseURL: func(id string) string {
			return s.tenantURL(id, "/scim/v2")
		},
		Diagnostics: s.diagnostics,
		Logger:      s.logger,
	})
	if err != nil {
		return nil, err
	}
	s.flows.rt, s.flows.settings = rt, store
	s.flows.useKey(s.cfg.portalKey)
	o := &operator{s: s, rt: rt, store: store, hooks: h, portalKey: s.cfg.portalKey}
	if len(o.portalKey) == 0 {
		if o.portalKey, err = portalKey(func(string) string { return "" }); err != nil {
			return nil, err
		}
	}
	if err := o.buildTenantMux(); err != nil {
		return nil, err
	}
	return o, nil
}

// settingsKeyring reads EnvSettingsKeys, or the key file of a SQLite
// database (made if absent), or makes a key for an in-memory database.
func settingsKeyring(where storeFlags, getenv func(string) string) (*settings.Keyring, error) {
	if v := getenv(EnvSettingsKeys); v != "" {
		return parseKeyring(v)
	}
	switch {
	case where.postgres != "":
		return nil, nil
	case where.sqlite == ":memory:":
		key := make([]byte, 32)
		rand.Read(key)
		return settings.NewKeyring("mem", map[string][]byte{"mem": key})
	}
	path := where.sqlite + "-settings-keys"
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		rand.Read(key)
		b = []byte("k1:" + base64.StdEncoding.EncodeToString(key) + "\n")
		err = os.WriteFile(path, b, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("settings keys: %w", err)
	}
	return parseKeyring(strings.TrimSpace(string(b)))
}

// parseKeyring reads "id:base64,id:base64"; the first key seals.
func parseKeyring(v string) (*settings.Keyring, error) {
	keys := map[string][]byte{}
	primary := ""
	for i, part := range strings.Split(v, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		key, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil {
			return nil, fmt.Errorf("%s: key %d: want id:base64", EnvSettingsKeys, i+1)
		}
		if i == 0 {
			primary = id
		}
		keys[id] = key
	}
	k, err := settings.NewKeyring(primary, keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvSettingsKeys, err)
	}
	return k, nil
}

// wrap returns next with the operator's routes beside it; next alone when o
// is nil.
func (o *operator) wrap(next http.Handler) http.Handler {
	if o == nil {
		return next
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/tenants", o.api(o.listTenants))
	mux.Handle("POST /api/v1/tenants", o.api(o.createTenant))
	mux.Handle("DELETE /api/v1/tenants/{tenant}", o.api(o.deleteTenant))
	mux.Handle("POST /api/v1/tenants/{tenant}/disable", o.api(o.setDisabled(true)))
	mux.Handle("POST /api/v1/tenants/{tenant}/enable", o.api(o.setDisabled(false)))
	mux.Handle("GET /api/v1/tenants/{tenant}/settings", o.api(o.getSettings))
	mux.Handle("PUT /api/v1/tenants/{tenant}/settings", o.api(o.putSettings))
	mux.Handle("GET /api/v1/tenants/{tenant}/scim-tokens", o.api(o.listTokens))
	mux.Handle("POST /api/v1/tenants/{tenant}/scim-tokens", o.api(o.issueToken))
	mux.Handle("DELETE /api/v1/tenants/{tenant}/scim-tokens/{id}", o.api(o.revokeToken))
	mux.Handle("GET /api/v1/tenants/{tenant}/events", o.api(o.listEvents))
	mux.Handle("POST /api/v1/tenants/{tenant}/saml/{connection}/keys/rotate", o.api(o.rotateKey))
	mux.Handle("POST /api/v1/tenants/{tenant}/saml/{connection}/keys/promote", o.api(o.promoteKey))
	o.mountWebhooks(mux)
	mux.Handle("POST /api/v1/tenants/{tenant}/admin-tokens", o.api(o.mintAdminToken))
	mux.Handle("POST /api/v1/tenants/{tenant}/portal-links", o.api(o.mintPortalLink))
	o.configured = next
	mux.Handle("/", next)
	if o.s.flows.from == tenantFromHost {
		return o.byHost(mux)
	}
	mux.HandleFunc("/t/{tenant}/", o.byPath)
	return mux
}

// pathTenant names the tenant of a /t/{tenant}/ route.
func pathTenant(r *http.Request) string { return r.PathValue("tenant") }

// mountSSO mounts a runtime tenant's SAML and OAuth routes, the tenant
// named by tenantOf.
func (o *operator) mountSSO(mux *http.ServeMux, prefix string, tenantOf func(*http.Request) string) {
	sh, err := saml.NewHandler(saml.HandlerConfig{
		Resolve:    o.rt.Resolver(tenantOf),
		Connection: o.rt.SAMLConnection,
		SignedIn: func(w http.ResponseWriter, r *http.Request, res saml.Result) {
			expires := res.Expires
			writeSignedIn(w, signedInJSON{
				Source: "saml:" + r.PathValue("connection"), UserID: res.User.ID, Email: res.User.Email,
				Created: res.Created, Linked: res.Linked, Expires: &expires, RelayState: res.RelayState,
			})
		},
		Tested: samlTested,
		Logger: o.s.logger,
	})
	if err != nil { // it fails only without Resolve or Connection
		panic(err)
	}
	if prefix == "" {
		o.ssoSAML = sh
	}
	mux.Handle("GET "+prefix+"/saml/{connection}/metadata", sh.Metadata())
	mux.Handle("GET "+prefix+"/saml/{connection}/login", sh.Login())
	mux.Handle("POST "+prefix+"/saml/{connection}/acs", sh.ACS())
	oh, err := oauth.NewHandler(oauth.HandlerConfig{
		Resolve:    o.rt.Resolver(tenantOf),
		Connection: o.rt.OAuthConnection,
		SignedIn: func(w http.ResponseWriter, r *http.Request, res oauth.Result) {
			writeSignedIn(w, signedInJSON{Source: res.Source, UserID: res.User.ID, Email: res.User.Email,
				Created: res.Created, Linked: res.Linked, ReturnTo: res.ReturnTo})
		},
		Tested: oauthTested,
		Logger: o.s.logger,
	})
	if err == nil { // it fails only without Resolve, Connection or SignedIn
		if prefix == "" {
			o.ssoOAuth = oh
		}
		mux.Handle("GET "+prefix+"/oauth/{provider}/login", oh.Login())
		mux.Handle("GET "+prefix+"/oauth/{provider}/callback", oh.Callback())
	}
}

// operatorFunc is a route of the operator API.
type operatorFunc func(w http.ResponseWriter, r *http.Request) error

// api wraps an operatorFunc: the admin token is required, errors are
// answered from the server's one table.
func (o *operator) api(f operatorFunc) http.Handler {
	return o.s.requireToken(false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := f(w, r); err != nil {
			if errors.Is(err, identity.ErrVersionMismatch) {
				err = &requestError{status: http.StatusPreconditionFailed, message: "the settings have changed: read them again"}
			}
			writeError(w, r, o.s.logger, err)
		}
	}))
}

// tenantJSON is a tenant as the operator API lists it.
type tenantJSON struct {
	ID       string    `json:"id"`
	Version  int64     `json:"version"`
	Disabled bool      `json:"disabled"`
	Updated  time.Time `json:"updated"`
}

// GET /api/v1/tenants
func (o *operator) listTenants(w http.ResponseWriter, r *http.Request) error {
	ts, err := o.store.Tenants(r.Context())
	if err != nil {
		return err
	}
	out := make([]tenantJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, tenantJSON(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": out})
	return nil
}

// POST /api/v1/tenants {"id", "settings"}
func (o *operator) createTenant(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ID       string            `json:"id"`
		Settings settings.Settings `json:"settings"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.ID == o.s.cfg.Tenant {
		return &requestError{status: http.StatusConflict, message: "the configured tenant is served from the configuration file",
			fields: []fieldJSON{{Field: "id", Message: "is the configured tenant"}}}
	}
	st, err := o.rt.Create(r.Context(), in.ID, in.Settings)
	if err != nil {
		return err
	}
	setSettingsETag(w, st)
	writeJSON(w, http.StatusCreated, map[string]any{"id": in.ID, "settings": st})
	return nil
}

// DELETE /api/v1/tenants/{tenant}
func (o *operator) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	if err := o.rt.Delete(r.Context(), pathTenant(r)); err != nil {
		return err
	}
	o.imports.forget(pathTenant(r))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// POST /api/v1/tenants/{tenant}/disable and /enable
func (o *operator) setDisabled(disabled bool) operatorFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := o.rt.SetDisabled(r.Context(), pathTenant(r), disabled); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func setSettingsETag(w http.ResponseWriter, st settings.Settings) {
	w.Header().Set("ETag", `"`+strconv.FormatInt(st.Version, 10)+`"`)
}

// GET /api/v1/tenants/{tenant}/settings: secrets show as {"set": true}.
func (o *operator) getSettings(w http.ResponseWriter, r *http.Request) error {
	st, err := o.store.Settings(r.Context(), pathTenant(r))
	if err != nil {
		return err
	}
	setSettingsETag(w, st)
	writeJSON(w, http.StatusOK, st)
	return nil
}

// PUT /api/v1/tenants/{tenant}/settings, with If-Match: "<version>".
func (o *operator) putSettings(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in settings.Settings
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	st, err := o.rt.Replace(r.Context(), pathTenant(r), version, in)
	if err != nil {
		return err
	}
	setSettingsETag(w, st)
	writeJSON(w, http.StatusOK, st)
	return nil
}

// GET /api/v1/tenants/{tenant}/scim-tokens: never the tokens themselves.
func (o *operator) listTokens(w http.ResponseWriter, r *http.Request) error {
	if _, err := o.store.Version(r.Context(), pathTenant(r)); err != nil {
		return err
	}
	ts, err := o.store.Tokens(r.Context(), pathTenant(r))
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []settings.Token{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
	return nil
}

// POST /api/v1/tenants/{tenant}/scim-tokens {"name", "expires"}: the token
// is in the answer, and only there.
func (o *operator) issueToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name    string    `json:"name"`
		Expires time.Time `json:"expires"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	tok, rec, err := o.rt.IssueToken(r.Context(), pathTenant(r), in.Name, in.Expires)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"token": tok, "id": rec.ID, "name": rec.Name, "created": rec.Created, "expires": rec.Expires,
	})
	return nil
}

// DELETE /api/v1/tenants/{tenant}/scim-tokens/{id}
func (o *operator) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := o.rt.RevokeToken(r.Context(), pathTenant(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GET /api/v1/tenants/{tenant}/events?after=&limit=: the tenant's events, its
// settings changes among them, as GET /api/v1/events shows them.
func (o *operator) listEvents(w http.ResponseWriter, r *http.Request) error {
	src, err := o.rt.Resolve(r.Context(), pathTenant(r))
	if err != nil {
		return err
	}
	return listEvents(w, r, src.Directory)
}

// POST /api/v1/tenants/{tenant}/saml/{connection}/keys/rotate: a new next
// key, published in the metadata beside the active one.
func (o *operator) rotateKey(w http.ResponseWriter, r *http.Request) error {
	st, err := o.rt.StartKeyRollover(r.Context(), pathTenant(r), r.PathValue("connection"), nil)
	if err != nil {
		return err
	}
	setSettingsETag(w, st)
	writeJSON(w, http.StatusOK, st)
	return nil
}

// POST /api/v1/tenants/{tenant}/saml/{connection}/keys/promote: the next key
// signs, the active one is retired.
func (o *operator) promoteKey(w http.ResponseWriter, r *http.Request) error {
	st, err := o.rt.CompleteKeyRollover(r.Context(), pathTenant(r), r.PathValue("connection"))
	if err != nil {
		return err
	}
	setSettingsETag(w, st)
	writeJSON(w, http.StatusOK, st)
	return nil
}

// certSweepInterval is how often the certificates of the runtime tenants'
// and of the configured tenant's SAML connections are checked for expiry.
const certSweepInterval = 24 * time.Hour

// sweepCertificates records a certificate.expiring event for each
// certificate that expires soon: those of the runtime tenants (their
// settings and IdP metadata) and those of the configured tenant's SAML
// connections of the configuration file (the IdP's and the SP's own).
func (o *operator) sweepCertificates(ctx context.Context) {
	n, err := o.rt.SweepCertificates(ctx)
	if err != nil && ctx.Err() == nil {
		o.s.logger.WarnContext(ctx, "certificate sweep", "err", err)
	}
	conns := make([]*saml.Connection, 0, len(o.s.saml))
	for _, name := range slices.Sorted(maps.Keys(o.s.saml)) {
		conns = append(conns, o.s.saml[name])
	}
	m, err := o.rt.SweepConnections(ctx, o.s.cfg.Tenant, conns)
	if err != nil && ctx.Err() == nil {
		o.s.logger.WarnContext(ctx, "certificate sweep", "tenant", o.s.cfg.Tenant, "err", err)
	}
	n += m
	if n > 0 {
		o.s.logger.WarnContext(ctx, "certificates expire soon: see the tenants' certificate.expiring events", "warnings", n)
	}
}

func (o *operator) sweepKeys(ctx context.Context) {
	ts, err := o.store.Tenants(ctx)
	if err != nil {
		if ctx.Err() == nil {
			o.s.logger.WarnContext(ctx, "list tenants", "err", err)
		}
		return
	}
	for _, t := range ts {
		if _, err := o.s.stores.keys(t.ID).DeleteExpired(ctx); err != nil && ctx.Err() == nil {
			o.s.logger.WarnContext(ctx, "delete expired keys", "tenant", t.ID, "err", err)
		}
	}
}
