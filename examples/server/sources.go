package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/saml"
	"github.com/rollcall/rollcall/scim"
)

// buildSources builds each source its section of the configuration turns on.
// Its errors name the field.
func (s *server) buildSources() error {
	var err error
	im, err := importer.New(importer.Config{
		MaxFileSize: s.cfg.Import.MaxFileSize,
		Threshold:   s.cfg.Import.Threshold,
	}, s.deps())
	if err != nil {
		return fmt.Errorf("field \"import\": %w", err)
	}
	if s.importer, err = importer.NewHandler(importer.HandlerConfig{
		Importer: im,
		Resolve:  s.resolve,
		Logger:   s.logger,
	}); err != nil {
		return err
	}
	key := s.cfg.portalKey
	if len(key) == 0 {
		if key, err = portalKey(func(string) string { return "" }); err != nil {
			return err
		}
	}
	if err := s.buildPortal(key, im); err != nil {
		return err
	}

	if s.cfg.SCIM.Token != "" {
		hash := scim.TokenHash(s.cfg.SCIM.Token)
		s.cfg.SCIM.Token = "" // only the hash is kept
		if s.scim, err = scim.New(scim.Config{
			Resolve:        s.resolve,
			Credentials:    scim.Tokens(hash),
			HardDelete:     s.cfg.SCIM.HardDelete,
			PatchNoContent: s.cfg.SCIM.PatchNoContent,
		}, s.deps()); err != nil {
			return fmt.Errorf("field \"scim\": %w", err)
		}
	}

	s.saml = make(map[string]*saml.Connection, len(s.cfg.SAML))
	for _, name := range slices.Sorted(maps.Keys(s.cfg.SAML)) {
		conn, err := s.newSAMLConnection(name, s.cfg.SAML[name])
		if err != nil {
			return fmt.Errorf("field \"saml.%s\": %w", name, err)
		}
		s.saml[name] = conn
	}

	s.oauth = make(map[string]*oauth.Connection, len(s.cfg.OAuth))
	for _, name := range slices.Sorted(maps.Keys(s.cfg.OAuth)) {
		p := s.cfg.OAuth[name]
		conn, err := oauth.New(oauth.Config{
			Provider:             oauthProvider(name, p),
			ClientID:             p.ClientID,
			ClientSecret:         p.ClientSecret,
			RedirectURL:          p.RedirectURL,
			AllowedDomains:       p.AllowedDomains,
			AllowedTenants:       p.AllowedTenants,
			AllowUnverifiedEmail: p.AllowUnverifiedEmail,
			GroupsClaim:          p.GroupsClaim,
			GroupFormat:          groups.Format(p.GroupFormat),
			GroupLimit:           s.cfg.Directory.GroupLimit,
		}, s.deps())
		if err != nil {
			return fmt.Errorf("field \"oauth.%s\": %w", name, err)
		}
		p.ClientSecret = "" // the connection holds it
		s.cfg.OAuth[name] = p
		s.oauth[name] = conn
	}
	if len(s.oauth) > 0 {
		if s.oauthHandler, err = s.newOAuthHandler(); err != nil {
			return err
		}
	}

	if s.cfg.Google.configured() {
		if s.google, err = s.newGoogleSyncer(); err != nil {
			return err
		}
	}
	return nil
}

// newSAMLConnection reads the files of a SAML connection and builds it.
func (s *server) newSAMLConnection(name string, c SAMLConnection) (*saml.Connection, error) {
	certPEM, err := os.ReadFile(c.CertFile)
	if err != nil {
		return nil, fmt.Errorf("certFile: %w", err)
	}
	keyPEM, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("keyFile: %w", err)
	}
	key, cert, err := saml.LoadKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certFile and keyFile: %w", err)
	}
	metadata := []byte(c.IdPMetadata)
	if c.IdPMetadataFile != "" {
		if metadata, err = os.ReadFile(c.IdPMetadataFile); err != nil {
			return nil, fmt.Errorf("idpMetadataFile: %w", err)
		}
	}
	var format groups.Format // "": the preset's
	if c.GroupFormat != "" {
		if format, err = groups.ParseFormat(c.GroupFormat); err != nil {
			return nil, fmt.Errorf("groupFormat: %w", err)
		}
	}
	return saml.New(saml.Config{
		Name:              name,
		IdPMetadata:       metadata,
		IdPMetadataURL:    c.IdPMetadataURL,
		IdPEntityID:       c.IdPEntityID,
		EntityID:          c.EntityID,
		ACSURL:            c.ACSURL,
		Key:               key,
		Certificate:       cert,
		Preset:            saml.Preset(c.Preset),
		GroupFormat:       format,
		GroupLimit:        s.cfg.Directory.GroupLimit,
		SubjectAttribute:  c.SubjectAttribute,
		AllowIDPInitiated: c.AllowIdPInitiated,
		SessionLifetime:   c.SessionLifetime.D(),
	}, s.deps())
}

// deps are the services of the configured tenant's sources.
func (s *server) deps() identity.Deps {
	return identity.Deps{Logger: s.logger, Diagnostics: s.diagnostics(s.cfg.Tenant)}
}

// resolve is the identity.Resolver of the SSO, SCIM and import handlers:
// the request's tenant (a runtime tenant's, else the configured one).
func (s *server) resolve(r *http.Request) (identity.Tenant, error) {
	dir, err := s.directory(r)
	if err != nil {
		return identity.Tenant{}, err
	}
	tenant := s.tenantName(r)
	return identity.Tenant{Directory: dir, Keys: s.stores.keys(tenant), Diagnostics: s.diagnostics(tenant)}, nil
}

// oauthProvider returns the provider a name of the configuration stands for.
func oauthProvider(name string, p OAuthProvider) oauth.Provider {
	switch name {
	case "google":
		return oauth.Google
	case "microsoft":
		return oauth.Microsoft(p.Tenant)
	case "webex":
		return oauth.Webex
	}
	return oauth.Discover(name, p.Issuer)
}

// mountImport mounts the file import and export of h (the configured
// tenant's importer.Handler, or the runtime tenants' tenantImports) behind
// the admin token, as the reference API has them.
func (s *server) mountImport(mux *http.ServeMux, h http.Handler) {
	noStore := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			next.ServeHTTP(w, r)
		})
	}
	imp := s.requireAdmin(noStore(h))
	mux.Handle("POST /api/v1/users/import", imp)
	mux.Handle("GET /api/v1/users/import", imp) // 405 with Allow, not GET /api/v1/users/{id}
	mux.Handle("GET /api/v1/users/export", imp)
	mux.Handle("GET /api/v1/users/import/template", imp)
}

// mountSCIM mounts the SCIM service provider at /scim/v2 when a SCIM token is
// configured.
func (s *server) mountSCIM(mux *http.ServeMux) {
	if s.scim == nil {
		return
	}
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", s.scim))
}

// mountSAML mounts the SAML endpoints of every connection.
func (s *server) mountSAML(mux *http.ServeMux) {
	if len(s.saml) == 0 {
		return
	}
	h, err := saml.NewHandler(saml.HandlerConfig{
		Resolve: s.resolve,
		Connection: func(_ context.Context, _ identity.Tenant, name string) (*saml.Connection, error) {
			if conn, ok := s.saml[name]; ok {
				return conn, nil
			}
			return nil, fmt.Errorf("no SAML connection %q: %w", name, identity.ErrNotFound)
		},
		SignedIn: func(w http.ResponseWriter, r *http.Request, res saml.Result) {
			expires := res.Expires
			writeSignedIn(w, signedInJSON{
				Source: "saml:" + r.PathValue("connection"), UserID: res.User.ID, Email: res.User.Email,
				Created: res.Created, Linked: res.Linked, Expires: &expires, RelayState: res.RelayState,
			})
		},
		Logger: s.logger,
	})
	if err != nil { // it fails only without Resolve or Connection
		panic(err)
	}
	mux.Handle("GET /saml/{connection}/metadata", h.Metadata())
	mux.Handle("GET /saml/{connection}/login", h.Login())
	mux.Handle("POST /saml/{connection}/acs", h.ACS())
}

// newOAuthHandler returns the login and callback handlers of every provider.
func (s *server) newOAuthHandler() (*oauth.Handler, error) {
	return oauth.NewHandler(oauth.HandlerConfig{
		Resolve: s.resolve,
		Connection: func(_ context.Context, _ identity.Tenant, name string) (*oauth.Connection, error) {
			if conn, ok := s.oauth[name]; ok {
				return conn, nil
			}
			return nil, fmt.Errorf("provider %q: %w", name, oauth.ErrNoConnection)
		},
		SignedIn: func(w http.ResponseWriter, r *http.Request, res oauth.Result) {
			writeSignedIn(w, signedInJSON{
				Source: res.Source, UserID: res.User.ID, Email: res.User.Email,
				Created: res.Created, Linked: res.Linked, ReturnTo: res.ReturnTo,
			})
		},
		Logger: s.logger,
	})
}

// mountOAuth mounts the OAuth login and callback of every provider.
func (s *server) mountOAuth(mux *http.ServeMux) {
	if s.oauthHandler == nil {
		return
	}
	mux.Handle("GET /oauth/{provider}/login", s.oauthHandler.Login())
	mux.Handle("GET /oauth/{provider}/callback", s.oauthHandler.Callback())
}

// signedInJSON is the answer to a successful SSO sign-in. This server has no
// sessions: it shows who signed in. A host starts its own session here (a new
// session ID, ending at Expires for SAML) and redirects the browser to
// RelayState or ReturnTo.
type signedInJSON struct {
	Source     string     `json:"source"`
	UserID     string     `json:"userId"`
	Email      string     `json:"email"`
	Created    bool       `json:"created"`
	Linked     bool       `json:"linked"`
	Expires    *time.Time `json:"expires,omitempty"`    // SAML: when the session must end
	RelayState string     `json:"relayState,omitempty"` // SAML: where to go next
	ReturnTo   string     `json:"returnTo,omitempty"`   // OAuth: where to go next
}

func writeSignedIn(w http.ResponseWriter, v signedInJSON) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, v)
}

// newGoogleSyncer builds the tenant's Google syncer from its key file.
func (s *server) newGoogleSyncer() (*googlesync.Syncer, error) {
	g := s.cfg.Google
	key, err := os.ReadFile(g.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("field \"google.keyFile\": %w", err)
	}
	syncer, err := googlesync.New(googlesync.Config{
		KeyJSON:           key,
		Admin:             g.Admin,
		Endpoint:          g.Endpoint,
		Customer:          g.Customer,
		Domain:            g.Domain,
		GroupFilter:       g.GroupFilter,
		Nested:            g.Nested,
		DeactivateLeavers: g.DeactivateLeavers,
		MaxRemove:         g.MaxRemove,
		DryRun:            g.DryRun,
	}, identity.Deps{Logger: s.logger})
	if err != nil {
		return nil, fmt.Errorf("field \"google\": %w", err)
	}
	return syncer, nil
}
