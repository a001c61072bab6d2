package tenant

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/oauth2"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/saml"
	"github.com/rollcall/rollcall/scim"
	"github.com/rollcall/rollcall/settings"
)

// build makes a tenant's live sources from its settings, with each source's
// own constructor. A source that cannot be built (metadata that does not
// parse, say) is left out and its error kept in Sources.Errors; the
// Directory is required.
func (r *Runtime) build(id string, st settings.Settings) (*Sources, error) {
	store := r.cfg.Stores(id)
	dir, err := identity.New(store, identity.Config{
		Tenant: id, GroupSource: st.GroupSource(), GroupLimit: st.Directory.GroupLimit,
		InvitationTTL: st.Directory.InvitationTTL.D(), SSOOnly: st.Directory.SSOOnly,
		Clock: r.cfg.Clock, Events: r.cfg.Events, Logger: r.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("tenant %s: directory: %w", id, err)
	}
	src := &Sources{
		Tenant: id, Version: st.Version, Settings: st, Store: store, Directory: dir, Keys: r.cfg.Keys(id),
		SAML: map[string]*saml.Connection{}, OAuth: map[string]*oauth.Connection{}, Errors: map[string]error{},
	}
	for _, c := range st.SAML {
		conn, err := r.buildSAML(id, c)
		if err != nil {
			src.Errors[groups.SAMLSource(c.Name)] = err
			continue
		}
		src.SAML[c.Name] = conn
	}
	for _, o := range st.OAuth {
		conn, err := r.buildOAuth(id, o)
		if err != nil {
			src.Errors["oauth:"+o.Name] = err
			continue
		}
		src.OAuth[o.Name] = conn
	}
	if c := st.SCIM; c != nil && c.Enabled {
		h, err := scim.New(scim.Config{
			Resolve: identity.Fixed(r.tenant(src)), Credentials: r.scimCredentials(src.Tenant),
			HardDelete: c.HardDelete, PatchNoContent: c.PatchNoContent,
			MaxBodyBytes: c.MaxBodyBytes, MaxResults: c.MaxResults, BaseURL: r.cfg.SCIMBaseURL(id),
		}, r.deps(id))
		if err != nil {
			src.Errors[groups.SourceSCIM] = err
		} else {
			src.SCIM = h
		}
	}
	if g := st.Google; g != nil && g.Enabled {
		if src.Google, err = r.buildGoogle(g); err != nil {
			src.Errors[groups.SourceGoogle] = err
		}
	}
	im := st.Import
	if src.Importer, err = importer.New(importer.Config{
		MaxFileSize: im.MaxFileSize, MaxRows: im.MaxRows, MaxUncompressed: im.MaxUncompressed,
		KeepUnknownColumns: im.KeepUnknownColumns, Threshold: im.Threshold,
	}, r.deps(id)); err != nil {
		src.Errors[identity.SourceImport] = err
	}
	return src, nil
}

// check builds the sources of cand that differ from old, and returns a
// *identity.ValidationError naming each one that does not build (IdP
// metadata that does not parse, a Google key that does not read): a change
// that would leave a source out is refused, while a source left as it was
// is not built again. Metadata from a URL is fetched at first use, not here.
func (r *Runtime) check(id string, old, cand settings.Settings) error {
	changed := settings.Diff(old, cand)
	touched := func(prefix string) bool {
		for _, p := range changed {
			if p == prefix || strings.HasPrefix(p, prefix+".") {
				return true
			}
		}
		return false
	}
	var v identity.ValidationError
	for i, c := range cand.SAML {
		if touched("saml[" + c.Name + "]") {
			if _, err := r.buildSAML(id, c); err != nil {
				v.Add(fmt.Sprintf("saml[%d]", i), err.Error())
			}
		}
	}
	for i, o := range cand.OAuth {
		if touched("oauth[" + o.Name + "]") {
			if _, err := r.buildOAuth(id, o); err != nil {
				v.Add(fmt.Sprintf("oauth[%d]", i), err.Error())
			}
		}
	}
	if g := cand.Google; g != nil && g.Enabled && touched("google") {
		if _, err := r.buildGoogle(g); err != nil {
			v.Add("google", err.Error())
		}
	}
	return v.Err()
}

func (r *Runtime) buildSAML(id string, c settings.SAML) (*saml.Connection, error) {
	active := c.Key(settings.KeyActive)
	if active == nil {
		return nil, errors.New("no active SP key")
	}
	key, cert, err := saml.LoadKeyPair([]byte(active.Certificate), active.Key.Value())
	if err != nil {
		return nil, err
	}
	cfg := saml.Config{
		Name: c.Name, IdPMetadata: []byte(c.IdPMetadata), IdPMetadataURL: c.IdPMetadataURL,
		MetadataTimeout: c.MetadataTimeout.D(), MetadataMaxBytes: c.MetadataMaxBytes, MetadataRefresh: c.MetadataRefresh.D(),
		IdPEntityID: c.IdPEntityID, EntityID: c.EntityID, ACSURL: c.ACSURL, Key: key, Certificate: cert,
		UnsignedRequests: c.UnsignedRequests, UnboundRequests: c.UnboundRequests, Preset: saml.Preset(c.Preset),
		NameIDFormat: c.NameIDFormat, SubjectAttribute: c.SubjectAttribute, GroupFormat: groups.Format(c.GroupFormat),
		GroupLimit: c.GroupLimit, AllowIDPInitiated: c.AllowIDPInitiated, AllowSHA1: c.AllowSHA1, AllowRSA15: c.AllowRSA15,
		SessionLifetime: c.SessionLifetime.D(), RequestTTL: c.RequestTTL.D(), MaxBodyBytes: c.MaxBodyBytes,
		Draft: c.Draft,
	}
	if len(c.IdPMetadata) == 0 {
		cfg.IdPMetadata = nil
	}
	if next := c.Key(settings.KeyNext); next != nil {
		if _, nextCert, err := saml.LoadKeyPair([]byte(next.Certificate), next.Key.Value()); err == nil {
			cfg.NextCertificate = nextCert
		}
	}
	if m := c.Mapping; m != nil {
		cfg.Mapping = saml.Mapping{
			UserName: m.UserName, Email: m.Email, GivenName: m.GivenName, FamilyName: m.FamilyName,
			DisplayName: m.DisplayName, Groups: m.Groups, GroupsOverage: m.GroupsOverage, Attributes: m.Attributes,
		}
	}
	return saml.New(cfg, r.deps(id))
}

// provider returns the oauth.Provider of o: the kind's own, with o's
// overrides.
func provider(o settings.OAuth) (oauth.Provider, error) {
	var p oauth.Provider
	switch o.Kind {
	case settings.KindGoogle:
		p = oauth.Google
	case settings.KindWebex:
		p = oauth.Webex
	case settings.KindMicrosoft:
		p = oauth.Microsoft(o.Tenant)
	default:
		p = oauth.Discover(o.Name, o.Issuer)
	}
	p.Name = o.Name
	if o.Issuer != "" {
		p.Issuer = o.Issuer
	}
	if o.IssuerPattern != "" {
		re, err := regexp.Compile(o.IssuerPattern)
		if err != nil {
			return oauth.Provider{}, err
		}
		p.IssuerPattern = re
	}
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&p.AuthURL, o.AuthURL}, {&p.TokenURL, o.TokenURL}, {&p.UserInfoURL, o.UserInfoURL}, {&p.JWKSURL, o.JWKSURL},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	switch o.AuthStyle {
	case "header":
		p.AuthStyle = oauth2.AuthStyleInHeader
	case "params":
		p.AuthStyle = oauth2.AuthStyleInParams
	}
	if o.Scopes != nil {
		p.Scopes = o.Scopes
	}
	return p, nil
}

func (r *Runtime) buildOAuth(id string, o settings.OAuth) (*oauth.Connection, error) {
	p, err := provider(o)
	if err != nil {
		return nil, err
	}
	return oauth.New(oauth.Config{
		Provider: p, ClientID: o.ClientID, ClientSecret: string(o.ClientSecret.Value()), RedirectURL: o.RedirectURL,
		AllowedDomains: o.AllowedDomains, AllowedTenants: o.AllowedTenants, AllowUnverifiedEmail: o.AllowUnverifiedEmail,
		ReturnURLs: o.ReturnURLs, DefaultReturnURL: o.DefaultReturnURL, LoginTTL: o.LoginTTL.D(),
		GroupsClaim: o.GroupsClaim, GroupFormat: groups.Format(o.GroupFormat), Draft: o.Draft,
	}, r.deps(id))
}

func (r *Runtime) buildGoogle(g *settings.Google) (*googlesync.Syncer, error) {
	member := map[string]googlesync.MemberPolicy{"": googlesync.Skip, settings.PolicySkip: googlesync.Skip,
		settings.PolicyInclude: googlesync.Include, settings.PolicyRefuse: googlesync.Refuse}
	suspended := googlesync.Deactivate
	if g.Suspended == settings.PolicyIgnore {
		suspended = googlesync.Ignore
	}
	return googlesync.New(googlesync.Config{
		KeyJSON: g.KeyJSON.Value(), Admin: g.Admin, Endpoint: g.Endpoint, Customer: g.Customer, Domain: g.Domain,
		GroupFilter: g.GroupFilter, Nested: g.Nested, CustomerMembers: member[g.CustomerMembers],
		ExternalMembers: member[g.ExternalMembers], Suspended: suspended, DeactivateLeavers: g.DeactivateLeavers,
		KeepDeactivated: g.KeepDeactivated, MaxRemove: g.MaxRemove, Force: g.Force, DryRun: g.DryRun,
		Concurrency: g.Concurrency, Retries: g.Retries, MinBackoff: g.MinBackoff.D(), MaxBackoff: g.MaxBackoff.D(),
	}, identity.Deps{Clock: r.cfg.Clock, Logger: r.logger, HTTPClient: r.cfg.HTTPClient})
}

// deps are the services of a tenant's sources.
func (r *Runtime) deps(id string) identity.Deps {
	return identity.Deps{Clock: r.cfg.Clock, Logger: r.logger, HTTPClient: r.cfg.HTTPClient, Diagnostics: r.diagnostics(id)}
}

// diagnostics returns the tenant's diagnostics log, or nil if the host keeps
// none.
func (r *Runtime) diagnostics(id string) identity.DiagnosticsLog {
	if r.cfg.Diagnostics == nil {
		return nil
	}
	return r.cfg.Diagnostics(id)
}
