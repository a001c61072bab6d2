// Package settings holds a tenant's settings as plain data: its directory
// policy and the configuration of each source (SAML connections, OAuth
// providers, SCIM, Google sync, import), validated in one place, versioned,
// with their secrets sealed at rest, and the Store that keeps them.
//
// The package sits below the sources: it imports none of them. What turns
// Settings into live sources lives above them (package tenant).
package settings

import (
	"encoding/json"
	"fmt"
	"time"
)

// Settings is everything a tenant's admin may set. Its JSON is the form a
// host's API reads and writes; secrets in it are write-only (see Secret).
// The zero value is valid: a tenant with no source.
type Settings struct {
	// Version is the stored version, set by the Store: 1 at creation, one
	// more at each change. A write names the version it was based on.
	Version int64 `json:"version"`
	// Updated is when the settings last changed, set by the Store.
	Updated time.Time `json:"updated"`
	// Disabled is set by the operator, never by the tenant's admin: a
	// disabled tenant answers as if it did not exist.
	Disabled bool `json:"disabled,omitempty"`

	Directory Directory `json:"directory"`
	SAML      []SAML    `json:"saml,omitempty"`
	OAuth     []OAuth   `json:"oauth,omitempty"`
	SCIM      *SCIM     `json:"scim,omitempty"`
	Google    *Google   `json:"google,omitempty"`
	Import    Import    `json:"import"`
	// Diagnostics bounds the tenant's diagnostics log (its sign-in
	// attempts and SCIM requests), pruned by the host's sweep.
	Diagnostics Diagnostics `json:"diagnostics,omitzero"`
}

// Directory is the tenant's policy, applied by its identity.Directory.
type Directory struct {
	// SSOOnly turns password login off.
	SSOOnly bool `json:"ssoOnly,omitempty"`
	// GroupLimit caps the groups of one claim; 0 means 100.
	GroupLimit int `json:"groupLimit,omitempty"`
	// InvitationTTL is how long an invitation stays valid; 0 means 7 days.
	InvitationTTL Duration `json:"invitationTTL,omitempty"`
}

// SAML is one SAML connection: every option of saml.Config, as data.
type SAML struct {
	// Name names the connection, unique among the tenant's SAML
	// connections; its source is "saml:<Name>".
	Name string `json:"name"`

	// Exactly one of IdPMetadata (the XML) and IdPMetadataURL (https).
	IdPMetadata      string   `json:"idpMetadata,omitempty"`
	IdPMetadataURL   string   `json:"idpMetadataURL,omitempty"`
	MetadataTimeout  Duration `json:"metadataTimeout,omitempty"`
	MetadataMaxBytes int64    `json:"metadataMaxBytes,omitempty"`
	MetadataRefresh  Duration `json:"metadataRefresh,omitempty"`
	IdPEntityID      string   `json:"idpEntityID,omitempty"`

	// EntityID and ACSURL are this SP's; required.
	EntityID string `json:"entityID"`
	ACSURL   string `json:"acsURL"`
	// Keys are this SP's key pairs (see SPKey): generated when none is
	// given, rolled over by Rollover.
	Keys             []SPKey `json:"keys,omitempty"`
	UnsignedRequests bool    `json:"unsignedRequests,omitempty"`
	UnboundRequests  bool    `json:"unboundRequests,omitempty"`

	// Preset names a known IdP's attribute names ("entra", "adfs",
	// "google", "keycloak", "okta", "akamai", "ping"; empty for generic);
	// Mapping overrides it field by field.
	Preset  string   `json:"preset,omitempty"`
	Mapping *Mapping `json:"mapping,omitempty"`

	NameIDFormat     string `json:"nameIDFormat,omitempty"`
	SubjectAttribute string `json:"subjectAttribute,omitempty"`
	GroupFormat      string `json:"groupFormat,omitempty"`
	GroupLimit       int    `json:"groupLimit,omitempty"`
	// SyncGroups makes this connection the tenant's group source.
	SyncGroups bool `json:"syncGroups,omitempty"`

	AllowIDPInitiated bool     `json:"allowIdPInitiated,omitempty"`
	AllowSHA1         bool     `json:"allowSHA1,omitempty"`
	AllowRSA15        bool     `json:"allowRSA15,omitempty"`
	SessionLifetime   Duration `json:"sessionLifetime,omitempty"`
	RequestTTL        Duration `json:"requestTTL,omitempty"`
	MaxBodyBytes      int64    `json:"maxBodyBytes,omitempty"`

	// Draft keeps the connection out of use: it is validated and built as
	// any other (its SP key made, its metadata served, the one group source
	// rule counting it) but runs test sign-ins only (saml.Config.Draft)
	// until it is activated (Draft false), with the same key.
	Draft bool `json:"draft,omitempty"`
}

// Mapping is saml.Mapping as data: a non-nil field replaces the preset's.
type Mapping struct {
	UserName      []string            `json:"userName,omitempty"`
	Email         []string            `json:"email,omitempty"`
	GivenName     []string            `json:"givenName,omitempty"`
	FamilyName    []string            `json:"familyName,omitempty"`
	DisplayName   []string            `json:"displayName,omitempty"`
	Groups        []string            `json:"groups,omitempty"`
	GroupsOverage []string            `json:"groupsOverage,omitempty"`
	Attributes    map[string][]string `json:"attributes,omitempty"`
}

// OAuth kinds: the rules a provider's tokens follow (oauth.Kind).
const (
	KindOIDC      = "oidc"
	KindGoogle    = "google"
	KindMicrosoft = "microsoft"
	KindWebex     = "webex"
)

// OAuth is one OAuth/OIDC provider: every option of oauth.Config and of its
// Provider, as data.
type OAuth struct {
	// Name names the provider; its source is "oauth:<Name>".
	Name string `json:"name"`
	// Kind is KindGoogle, KindMicrosoft, KindWebex or KindOIDC. For the
	// first three the endpoints are the well-known ones unless given.
	Kind string `json:"kind"`
	// Issuer is required for KindOIDC; Tenant (a tenant ID, "common",
	// "organizations" or "consumers") for KindMicrosoft.
	Issuer        string `json:"issuer,omitempty"`
	IssuerPattern string `json:"issuerPattern,omitempty"`
	Tenant        string `json:"tenant,omitempty"`
	// Static endpoints; empty means discovery (or the kind's own).
	AuthURL     string `json:"authURL,omitempty"`
	TokenURL    string `json:"tokenURL,omitempty"`
	UserInfoURL string `json:"userInfoURL,omitempty"`
	JWKSURL     string `json:"jwksURL,omitempty"`
	// AuthStyle is "header", "params" or empty (the kind's, or discovered).
	AuthStyle string   `json:"authStyle,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`

	ClientID     string `json:"clientID"`
	ClientSecret Secret `json:"clientSecret"`
	RedirectURL  string `json:"redirectURL"`

	AllowedDomains       []string `json:"allowedDomains,omitempty"`
	AllowedTenants       []string `json:"allowedTenants,omitempty"`
	AllowUnverifiedEmail bool     `json:"allowUnverifiedEmail,omitempty"`
	ReturnURLs           []string `json:"returnURLs,omitempty"`
	DefaultReturnURL     string   `json:"defaultReturnURL,omitempty"`
	LoginTTL             Duration `json:"loginTTL,omitempty"`

	// SyncGroups makes this provider the tenant's group source, from the ID
	// token's GroupsClaim (default "groups") in GroupFormat.
	SyncGroups  bool   `json:"syncGroups,omitempty"`
	GroupsClaim string `json:"groupsClaim,omitempty"`
	GroupFormat string `json:"groupFormat,omitempty"`

	// Draft keeps the provider out of use: it runs test sign-ins only
	// (oauth.Config.Draft) until it is activated (Draft false).
	Draft bool `json:"draft,omitempty"`
}

// SCIM turns the tenant's SCIM endpoint on. Its bearer tokens are kept apart
// (see Token).
type SCIM struct {
	// Enabled serves SCIM; false keeps the settings and answers 401.
	Enabled bool `json:"enabled"`
	// SyncGroups makes SCIM the tenant's group source.
	SyncGroups     bool  `json:"syncGroups,omitempty"`
	HardDelete     bool  `json:"hardDelete,omitempty"`
	PatchNoContent bool  `json:"patchNoContent,omitempty"`
	MaxBodyBytes   int64 `json:"maxBodyBytes,omitempty"`
	MaxResults     int   `json:"maxResults,omitempty"`
}

// Member and suspended-user policies of a Google sync.
const (
	PolicySkip       = "skip"
	PolicyInclude    = "include"
	PolicyRefuse     = "refuse"
	PolicyDeactivate = "deactivate"
	PolicyIgnore     = "ignore"
)

// Google is the tenant's Google Groups sync: every option of
// googlesync.Config, as data. A configured Google sync is always the
// tenant's group source.
type Google struct {
	Enabled bool `json:"enabled"`
	// KeyJSON is the service account's JSON key; Admin the Workspace admin
	// it impersonates. Both required.
	KeyJSON  Secret `json:"keyJSON"`
	Admin    string `json:"admin"`
	Endpoint string `json:"endpoint,omitempty"`

	Customer    string `json:"customer,omitempty"`
	Domain      string `json:"domain,omitempty"`
	GroupFilter string `json:"groupFilter,omitempty"`
	Nested      bool   `json:"nested,omitempty"`
	// CustomerMembers and ExternalMembers: PolicySkip (default),
	// PolicyInclude or PolicyRefuse. Suspended: PolicyDeactivate (default)
	// or PolicyIgnore.
	CustomerMembers   string `json:"customerMembers,omitempty"`
	ExternalMembers   string `json:"externalMembers,omitempty"`
	Suspended         string `json:"suspended,omitempty"`
	DeactivateLeavers bool   `json:"deactivateLeavers,omitempty"`
	KeepDeactivated   bool   `json:"keepDeactivated,omitempty"`

	MaxRemove   float64  `json:"maxRemove,omitempty"`
	Force       bool     `json:"force,omitempty"`
	DryRun      bool     `json:"dryRun,omitempty"`
	Concurrency int      `json:"concurrency,omitempty"`
	Retries     int      `json:"retries,omitempty"`
	MinBackoff  Duration `json:"minBackoff,omitempty"`
	MaxBackoff  Duration `json:"maxBackoff,omitempty"`
	// Interval is how often the host's runner syncs; 0 means the runner's
	// default.
	Interval Duration `json:"interval,omitempty"`
}

// Import is the tenant's file import policy (importer.Config).
type Import struct {
	MaxFileSize        int64   `json:"maxFileSize,omitempty"`
	MaxRows            int     `json:"maxRows,omitempty"`
	MaxUncompressed    int64   `json:"maxUncompressed,omitempty"`
	KeepUnknownColumns bool    `json:"keepUnknownColumns,omitempty"`
	Threshold          float64 `json:"threshold,omitempty"`
}

// Diagnostics bounds the tenant's diagnostics log: the host's sweep
// (identity.PruneDiagnostics) deletes the entries older than MaxAge and
// beyond the newest MaxEntries. Zero means the default,
// identity.DefaultDiagnosticsMaxAge (7 days) and
// identity.DefaultDiagnosticsMaxEntries (10,000).
type Diagnostics struct {
	MaxAge     Duration `json:"maxAge,omitempty"`
	MaxEntries int      `json:"maxEntries,omitempty"`
}

// Upper bounds of Diagnostics: a log kept longer or larger belongs in the
// host's own log store.
const (
	MaxDiagnosticsAge     = 365 * 24 * time.Hour
	MaxDiagnosticsEntries = 1_000_000
)

// Duration is a time.Duration written in JSON as Go writes it ("90s",
// "24h"); a number is read as nanoseconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a string ("10m") or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("settings: duration: want a string like \"90s\" or nanoseconds")
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("settings: duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// GroupSource returns the tenant's one group source ("scim", "google",
// "saml:<name>", "oauth:<name>"), or "" for none. It assumes s is valid.
func (s *Settings) GroupSource() string {
	if src := s.groupSources(); len(src) > 0 {
		return src[0].name
	}
	return ""
}

// SAMLConnection returns the SAML connection with the name, or nil.
func (s *Settings) SAMLConnection(name string) *SAML {
	for i := range s.SAML {
		if s.SAML[i].Name == name {
			return &s.SAML[i]
		}
	}
	return nil
}

// OAuthProvider returns the OAuth provider with the name, or nil.
func (s *Settings) OAuthProvider(name string) *OAuth {
	for i := range s.OAuth {
		if s.OAuth[i].Name == name {
			return &s.OAuth[i]
		}
	}
	return nil
}

// Clone returns a deep copy of s: changing one changes nothing of the other.
func (s Settings) Clone() Settings {
	c := s
	c.SAML = make([]SAML, len(s.SAML))
	for i, x := range s.SAML {
		x.Keys = cloneSlice(x.Keys)
		for j := range x.Keys {
			x.Keys[j].Key = x.Keys[j].Key.clone()
		}
		if x.Mapping != nil {
			m := x.Mapping.clone()
			x.Mapping = &m
		}
		c.SAML[i] = x
	}
	if s.SAML == nil {
		c.SAML = nil
	}
	c.OAuth = cloneSlice(s.OAuth)
	for i := range c.OAuth {
		o := &c.OAuth[i]
		o.Scopes, o.AllowedDomains = cloneSlice(o.Scopes), cloneSlice(o.AllowedDomains)
		o.AllowedTenants, o.ReturnURLs = cloneSlice(o.AllowedTenants), cloneSlice(o.ReturnURLs)
		o.ClientSecret = o.ClientSecret.clone()
	}
	if s.SCIM != nil {
		x := *s.SCIM
		c.SCIM = &x
	}
	if s.Google != nil {
		x := *s.Google
		x.KeyJSON = x.KeyJSON.clone()
		c.Google = &x
	}
	return c
}

func (m *Mapping) clone() Mapping {
	c := Mapping{
		UserName: cloneSlice(m.UserName), Email: cloneSlice(m.Email), GivenName: cloneSlice(m.GivenName),
		FamilyName: cloneSlice(m.FamilyName), DisplayName: cloneSlice(m.DisplayName), Groups: cloneSlice(m.Groups),
		GroupsOverage: cloneSlice(m.GroupsOverage),
	}
	if m.Attributes != nil {
		c.Attributes = make(map[string][]string, len(m.Attributes))
		for k, v := range m.Attributes {
			c.Attributes[k] = cloneSlice(v)
		}
	}
	return c
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T(nil), s...)
}
