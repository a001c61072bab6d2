package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/saml"
	"github.com/rollcall/rollcall/scim"
	"github.com/rollcall/rollcall/settings"
)

// scimCredentials is the Config.Credentials of a tenant's SCIM handler: it
// accepts a bearer token of the tenant's (settings.CheckToken: looked up by
// hash, compared in constant time, not expired, not revoked), and answers
// anything else as an unknown tenant (401).
func (r *Runtime) scimCredentials(id string) func(*http.Request, identity.Tenant) (scim.Credentials, error) {
	return func(req *http.Request, _ identity.Tenant) (scim.Credentials, error) {
		tok, ok := scim.BearerToken(req)
		if !ok {
			return scim.Credentials{}, scim.ErrUnknownTenant
		}
		t, err := settings.CheckToken(req.Context(), r.cfg.Settings, id, tok, r.clock.Now())
		if errors.Is(err, settings.ErrBadToken) {
			return scim.Credentials{}, scim.ErrUnknownTenant
		}
		if err != nil {
			return scim.Credentials{}, err
		}
		return scim.Credentials{TokenHashes: [][]byte{t.Hash}}, nil
	}
}

// SCIMHandler returns the handler of every tenant's SCIM endpoint: it
// resolves the request's tenant with tenantOf and serves it with the
// tenant's SCIM handler. A tenant that is unknown, disabled or without SCIM
// gets 401, as a bad token does, so that tenants cannot be probed. Mount it
// with http.StripPrefix, as scim.Handler.
func (r *Runtime) SCIMHandler(tenantOf func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		src, err := r.Resolve(req.Context(), tenantOf(req))
		if err == nil && src.SCIM != nil {
			src.SCIM.ServeHTTP(w, req)
			return
		}
		if err != nil && !errors.Is(err, ErrUnknown) {
			r.logger.WarnContext(req.Context(), "tenant: scim: resolve", "error", err)
			http.Error(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"internal error"}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"authentication required"}`)
	})
}

// Resolver returns the identity.Resolver of every tenant, for the SAML,
// OAuth and import handlers: the tenant named by tenantOf, with its
// Directory, key store and diagnostics log. An unknown or disabled tenant
// is an error matching identity.ErrNotFound (404).
func (r *Runtime) Resolver(tenantOf func(*http.Request) string) identity.Resolver {
	return func(req *http.Request) (identity.Tenant, error) {
		src, err := r.Resolve(req.Context(), tenantOf(req))
		if err != nil {
			return identity.Tenant{}, err
		}
		return r.tenant(src), nil
	}
}

// tenant returns the identity.Tenant of a tenant's Sources.
func (r *Runtime) tenant(src *Sources) identity.Tenant {
	return identity.Tenant{Directory: src.Directory, Keys: src.Keys, Diagnostics: r.diagnostics(src.Tenant)}
}

// SAMLConnection returns the tenant's SAML connection of that name, or an
// error matching identity.ErrNotFound: the saml.HandlerConfig Connection
// function.
func (r *Runtime) SAMLConnection(ctx context.Context, t identity.Tenant, name string) (*saml.Connection, error) {
	src, err := r.Resolve(ctx, t.Directory.Tenant())
	if err != nil {
		return nil, err
	}
	c := src.SAML[name]
	if c == nil {
		return nil, fmt.Errorf("tenant %s: no SAML connection %q: %w", src.Tenant, name, identity.ErrNotFound)
	}
	return c, nil
}

// OAuthConnection returns the tenant's OAuth connection to the provider of
// that name, or an error matching oauth.ErrNoConnection (and
// identity.ErrNotFound): the oauth.HandlerConfig Connection function.
func (r *Runtime) OAuthConnection(ctx context.Context, t identity.Tenant, name string) (*oauth.Connection, error) {
	src, err := r.Resolve(ctx, t.Directory.Tenant())
	if err != nil {
		return nil, err
	}
	c := src.OAuth[name]
	if c == nil {
		return nil, fmt.Errorf("tenant %s: provider %q: %w", src.Tenant, name, oauth.ErrNoConnection)
	}
	return c, nil
}
