package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/portal"
	"github.com/rollcall/rollcall/saml"
)

// attachPortal gives the portal of the configured tenant its SSO, SCIM and
// Google pages: the tenant's settings are read from the operator's settings
// store and changed through its runtime (created on the first save), so that
// the connections, the SCIM endpoint and the Google sync made there are
// served under /t/<tenant>/ like an operator's tenants'. The portal is built
// again with them; it does nothing when o is nil (no settings keyring).
func (o *operator) attachPortal() error {
	if o == nil || o.s.portal == nil {
		return nil
	}
	cfg := o.s.portal.Config()
	cfg.Settings = portal.NewSettingsStore(o.rt, o.store)
	cfg.Endpoints = tenantEndpoints{base: strings.TrimSuffix(o.s.cfg.BaseURL, "/")}
	cfg.GoogleSync = o.googleSync
	cfg.SAMLHealth = o.samlHealth
	cfg.Webhooks = o.webhookStores()
	cfg.TestSignIn = func(w http.ResponseWriter, r *http.Request, _, source string) {
		testSignIn(w, r, o.ssoSAML, o.ssoOAuth, source)
	}
	p, err := portal.New(cfg)
	if err != nil {
		return err
	}
	o.s.portal = p
	return nil
}

// googleSync runs a tenant's Google sync now, or its dry run, or forced.
func (o *operator) googleSync(ctx context.Context, tenant string, run portal.GoogleSyncOptions) (googlesync.Report, error) {
	src, err := o.rt.Resolve(ctx, tenant)
	if err != nil {
		return googlesync.Report{}, err
	}
	if src.Google == nil {
		if err := src.Errors["google"]; err != nil {
			return googlesync.Report{}, err
		}
		return googlesync.Report{}, errGoogleOff
	}
	var opts []googlesync.Option
	if run.DryRun {
		opts = append(opts, googlesync.WithDryRun())
	}
	if run.Force {
		opts = append(opts, googlesync.WithForce())
	}
	rep, err := src.Google.Sync(ctx, src.Directory, opts...)
	o.s.recordSync(ctx, src.Directory, rep, err)
	return rep, err
}

// samlHealth returns the state of a tenant's live SAML connection.
func (o *operator) samlHealth(ctx context.Context, tenant, connection string) (saml.Health, bool) {
	src, err := o.rt.Resolve(ctx, tenant)
	if err != nil || src.SAML[connection] == nil {
		return saml.Health{}, false
	}
	return src.SAML[connection].Health(), true
}

// tenantEndpoints are the addresses of a runtime tenant's sources, as
// operator.go mounts them.
type tenantEndpoints struct{ base string }

func (e tenantEndpoints) SAML(tenant, connection string) portal.SAMLEndpoints {
	u := e.base + "/t/" + url.PathEscape(tenant) + "/saml/" + url.PathEscape(connection)
	return portal.SAMLEndpoints{EntityID: u + "/metadata", ACSURL: u + "/acs", MetadataURL: u + "/metadata"}
}

func (e tenantEndpoints) SCIM(tenant string) string {
	return e.base + "/t/" + url.PathEscape(tenant) + "/scim/v2"
}

func (e tenantEndpoints) OAuthRedirect(tenant, provider string) string {
	return e.base + "/t/" + url.PathEscape(tenant) + "/oauth/" + url.PathEscape(provider) + "/callback"
}

// errGoogleOff answers "Sync now" of a tenant whose Google sync is off.
var errGoogleOff = errors.New("the Google sync is off: turn it on and save first")

// POST /api/v1/portal/setup-links {"admin": "...", "sections": ["scim"]}:
// a setup link to the configured tenant's portal for an admin, scoped to the
// sections (all when none is named), answered once with its expiry.
func (s *server) mintSetupLink(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Admin    string           `json:"admin"`
		Sections []portal.Section `json:"sections"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if in.Admin == "" {
		in.Admin = "setup-link"
	}
	if len(in.Sections) == 0 {
		in.Sections = portal.AllSections
	}
	for _, sec := range in.Sections {
		if !slices.Contains(portal.AllSections, sec) {
			writeError(w, r, s.logger, &requestError{status: http.StatusBadRequest, message: "unknown section",
				fields: []fieldJSON{{Field: "sections", Message: fmt.Sprintf("%q is not one of %v", sec, portal.AllSections)}}})
			return
		}
	}
	dir, err := s.directoryOf(s.cfg.Tenant)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	token, expires, err := s.portal.NewSetupLink(r.Context(), portal.Tenant{Directory: dir, Keys: s.stores.keys(s.cfg.Tenant)},
		portal.Admin{Name: in.Admin, Sections: in.Sections})
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]any{
		"url": s.cfg.BaseURL + "/portal/setup?token=" + url.QueryEscape(token), "expires": expires, "sections": in.Sections,
	})
}
