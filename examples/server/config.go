package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/saml"
)

// Environment variables that hold secrets. Each overrides its field of the
// configuration file.
const (
	// EnvAdminToken holds the admin API's bearer token (Config.AdminToken).
	EnvAdminToken = "ROLLCALL_ADMIN_TOKEN"
	// EnvSCIMToken holds the SCIM clients' bearer token (SCIMConfig.Token).
	EnvSCIMToken = "ROLLCALL_SCIM_TOKEN"
	// EnvOAuthSecretFormat makes the variable of an OAuth provider's client
	// secret (OAuthProvider.ClientSecret) from its name, upper-cased, with
	// every character other than a letter or digit made "_":
	// ROLLCALL_OAUTH_GOOGLE_SECRET, ROLLCALL_OAUTH_MY_IDP_SECRET.
	EnvOAuthSecretFormat = "ROLLCALL_OAUTH_%s_SECRET"
)

// defaultBaseURL is Config.BaseURL's default: where the server listens
// without -addr.
const defaultBaseURL = "http://" + defaultAddr

// envOAuthSecret returns the environment variable of a provider's secret.
func envOAuthSecret(provider string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, provider)
	return fmt.Sprintf(EnvOAuthSecretFormat, name)
}

// Config is the server's configuration file, in JSON (flag -config): the
// optional bootstrap of the configured tenant (Tenant), whose sources its
// sections configure at start, and the server-wide settings (AdminToken,
// LogLevel, HTTP, BaseURL). The tenants made through the operator API are
// not in it: their settings are data (operator.go, tenants.go). Every
// field may be left out: its zero value means the default written beside it.
// An unknown field is an error, so a misspelt setting never falls back to a
// default unseen. Secrets may come from the environment instead of the file;
// the environment wins.
//
// Each source has its section here, with its own documented defaults, and
// one mount call in (*server).routes. A section left out turns its source
// off: no SCIM token, no SAML connection, no OAuth provider means no route.
type Config struct {
	// Tenant names the configured tenant, the one a request that names no
	// tenant is for: letters, digits, ".", "_" and "-", at most 64. Default
	// "default".
	Tenant string `json:"tenant"`

	// AdminToken is the bearer token of the admin API (/api/v1), at least 16
	// characters. The environment variable ROLLCALL_ADMIN_TOKEN overrides it.
	// Default: none, and the server generates a random one at start and
	// prints it once to stderr.
	AdminToken string `json:"adminToken"`

	// LogLevel is "debug", "info", "warn" or "error". Default "info".
	LogLevel string `json:"logLevel"`

	// HTTP holds the HTTP server's limits.
	HTTP HTTPConfig `json:"http"`

	// Directory configures the identity core of the tenant.
	Directory DirectoryConfig `json:"directory"`

	// BaseURL is the server's public URL, scheme and host (and a path
	// prefix, if a proxy adds one), without a trailing slash. The SAML
	// entity IDs and ACS URLs and the OAuth redirect URLs default to URLs
	// under it. Default "http://127.0.0.1:8080"; set it when -addr or a
	// proxy changes the address the browsers and IdPs see.
	BaseURL string `json:"baseURL"`

	// portalKey signs the portal's sessions; from EnvPortalKey, else random.
	portalKey []byte

	// SCIM configures the SCIM 2.0 service provider at /scim/v2.
	SCIM SCIMConfig `json:"scim"`

	// SAML holds the tenant's SAML connections by name: the name is the
	// {connection} of /saml/{connection}/... and the source
	// "saml:<name>". Default: none.
	SAML map[string]SAMLConnection `json:"saml"`

	// OAuth holds the tenant's OAuth/OIDC providers by name: "google",
	// "microsoft", "webex", or any other name with an issuer. The name is
	// the {provider} of /oauth/{provider}/... and the source
	// "oauth:<name>". Default: none.
	OAuth map[string]OAuthProvider `json:"oauth"`

	// Import configures the file import of /api/v1/users/import.
	Import ImportConfig `json:"import"`

	// Google configures the sync of Google Workspace groups.
	Google GoogleConfig `json:"google"`
}

// GoogleConfig configures the sync of the tenant's Google Workspace groups
// and their members, through the Directory API with domain-wide delegation
// (see docs/googlesync.md).
type GoogleConfig struct {
	// KeyFile is the service account's JSON key, with domain-wide delegation
	// of googlesync.Scopes. Default: none, and Google sync is off. With a
	// key file, Google is the tenant's group source.
	KeyFile string `json:"keyFile"`
	// Admin is the Workspace administrator the service account impersonates.
	// Required with keyFile.
	Admin string `json:"admin"`
	// Customer is the Workspace account whose groups are read. Default
	// "my_customer" (the admin's account) unless Domain is set.
	Customer string `json:"customer"`
	// Domain, instead of Customer, reads the groups of one domain.
	Domain string `json:"domain"`
	// Interval is the time from the end of one sync to the start of the
	// next, give or take a tenth; the first runs at start. Default "15m".
	Interval Duration `json:"interval"`
	// GroupFilter keeps only the groups whose email or name matches this
	// path.Match pattern ("team-*@acme.example"), case-insensitively.
	// Default: every group.
	GroupFilter string `json:"groupFilter"`
	// Nested expands members that are groups. Default false: direct user
	// members only.
	Nested bool `json:"nested"`
	// DeactivateLeavers deactivates the users who left every synced group.
	// Default false: they keep their account and lose the memberships.
	DeactivateLeavers bool `json:"deactivateLeavers"`
	// MaxRemove is the safety fuse: a sync that would remove more than this
	// share of the memberships, or deactivate more than this share of the
	// users, stops and changes nothing. Default 0.2; 1 or more turns it off.
	MaxRemove float64 `json:"maxRemove"`
	// DryRun makes every sync compute its report and log its counts, and
	// change nothing. Default false.
	DryRun bool `json:"dryRun"`
	// Endpoint is the Directory API's base URL: a proxy, or a fake in tests.
	// Default "https://admin.googleapis.com/".
	Endpoint string `json:"endpoint"`
}

// configured reports whether Google sync is on.
func (g GoogleConfig) configured() bool { return g.KeyFile != "" }

// SCIMConfig configures the SCIM 2.0 service provider.
type SCIMConfig struct {
	// Token is the bearer token the tenant's SCIM client (Entra ID, Okta...)
	// sends, at least 16 characters. The environment variable
	// ROLLCALL_SCIM_TOKEN overrides it. Default: none, and /scim/v2 is not
	// mounted. The server keeps only its SHA-256. A configured token makes
	// SCIM the tenant's group source.
	Token string `json:"token"`
	// HardDelete makes DELETE /Users/{id} delete the user. Default false:
	// the user is deactivated, and SCIM can restore them with active true.
	HardDelete bool `json:"hardDelete"`
	// PatchNoContent makes a successful PATCH answer 204 (as Entra ID
	// prefers). Default false: 200 with the resource.
	PatchNoContent bool `json:"patchNoContent"`
}

// SAMLConnection configures one SAML connection: one IdP of the tenant.
type SAMLConnection struct {
	// IdPMetadata is the IdP's metadata XML, inline; IdPMetadataFile a file
	// that holds it; IdPMetadataURL an https URL it is fetched from (on
	// first use, and again every 24 hours). Exactly one is required.
	IdPMetadata     string `json:"idpMetadata"`
	IdPMetadataFile string `json:"idpMetadataFile"`
	IdPMetadataURL  string `json:"idpMetadataURL"`
	// IdPEntityID pins the IdP's entity ID. Default: the entity ID of the
	// metadata first loaded.
	IdPEntityID string `json:"idpEntityID"`
	// EntityID is this SP's entity ID. Default
	// "<baseURL>/saml/<name>/metadata".
	EntityID string `json:"entityID"`
	// ACSURL is where the IdP posts its responses. Default
	// "<baseURL>/saml/<name>/acs".
	ACSURL string `json:"acsURL"`
	// CertFile and KeyFile are this SP's certificate and private key, PEM:
	// published in the metadata, signing the AuthnRequests, decrypting
	// encrypted assertions. Required.
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
	// Preset names the attribute names of a known IdP: "entra", "adfs",
	// "google", "keycloak", "okta", "akamai", "ping". Default "" (generic).
	Preset string `json:"preset"`
	// GroupFormat is how the groups attribute lists names: "dn", "list",
	// "csv", "mixed" or "auto". Default "": the preset's.
	GroupFormat string `json:"groupFormat"`
	// SyncGroups makes this connection the tenant's group source: each
	// sign-in syncs the user's external groups from its memberOf claim.
	// Default false: its groups are ignored.
	SyncGroups bool `json:"syncGroups"`
	// SubjectAttribute names the attribute that links the user (Entra's
	// objectidentifier, say). Default "": the NameID, which must be
	// persistent, unspecified or an email.
	SubjectAttribute string `json:"subjectAttribute"`
	// AllowIdPInitiated accepts responses that name no request. Default
	// false.
	AllowIdPInitiated bool `json:"allowIdPInitiated"`
	// SessionLifetime caps the session a sign-in grants. Default "24h".
	SessionLifetime Duration `json:"sessionLifetime"`
}

// OAuthProvider configures one OAuth/OIDC provider of the tenant.
type OAuthProvider struct {
	// Issuer is the OpenID issuer URL of a provider that is not built in,
	// whose endpoints are discovered from it. Required for any name but
	// "google", "microsoft" and "webex"; not allowed for those.
	Issuer string `json:"issuer"`
	// Tenant is, for "microsoft" only, the Entra tenant: a tenant ID, or
	// "organizations", "common" or "consumers". Required for "microsoft".
	Tenant string `json:"tenant"`
	// ClientID is the client's ID at the provider. Required.
	ClientID string `json:"clientID"`
	// ClientSecret is the client's secret. The environment variable
	// ROLLCALL_OAUTH_<NAME>_SECRET overrides it. Default: none (a public
	// client).
	ClientSecret string `json:"clientSecret"`
	// RedirectURL is the callback URL registered at the provider. Default
	// "<baseURL>/oauth/<name>/callback".
	RedirectURL string `json:"redirectURL"`
	// AllowedDomains turns the email-domain filter on: only a verified email
	// in one of these domains signs in (for Google, the Workspace domain).
	// Default: no filter.
	AllowedDomains []string `json:"allowedDomains"`
	// AllowedTenants lists the Entra tenant IDs let in ("microsoft" only).
	// Default: the tenant of a single-tenant Tenant; required for
	// "organizations" and "common".
	AllowedTenants []string `json:"allowedTenants"`
	// AllowUnverifiedEmail lets in, without a domain filter, a person whose
	// email the provider did not verify (stored unverified). Default false.
	AllowUnverifiedEmail bool `json:"allowUnverifiedEmail"`
	// SyncGroups makes this provider the tenant's group source,
	// "oauth:<name>": each sign-in syncs the user's external groups from the
	// ID token's groups claim. Off, the claim is ignored. Default false.
	SyncGroups bool `json:"syncGroups"`
	// GroupsClaim names the ID token claim listing the groups. Default
	// "groups" (Okta, Keycloak, Entra ID).
	GroupsClaim string `json:"groupsClaim"`
	// GroupFormat is how the claim lists names: "dn", "list", "csv", "mixed"
	// or "auto". Default "list".
	GroupFormat string `json:"groupFormat"`
}

// ImportConfig configures the file import.
type ImportConfig struct {
	// MaxFileSize caps an uploaded file, in bytes; a larger one is a 413.
	// Default 52428800 (50 MiB).
	MaxFileSize int64 `json:"maxFileSize"`
	// Threshold is the share of the tenant's active users an import with
	// deactivate=1 may deactivate without force=1. Default 0.5; 1 or more
	// turns the check off.
	Threshold float64 `json:"threshold"`
}

// HTTPConfig holds the HTTP server's timeouts, each a Go duration string such
// as "5s" or "2m".
type HTTPConfig struct {
	// ReadHeaderTimeout bounds reading a request's headers. Default "5s".
	ReadHeaderTimeout Duration `json:"readHeaderTimeout"`
	// ReadTimeout bounds reading a whole request. Default "30s".
	ReadTimeout Duration `json:"readTimeout"`
	// WriteTimeout bounds writing a response. Default "60s".
	WriteTimeout Duration `json:"writeTimeout"`
	// IdleTimeout bounds an idle keep-alive connection. Default "2m".
	IdleTimeout Duration `json:"idleTimeout"`
	// ShutdownTimeout bounds the wait for requests in flight on SIGINT or
	// SIGTERM. Default "10s".
	ShutdownTimeout Duration `json:"shutdownTimeout"`
}

// DirectoryConfig configures identity.Config for the tenant.
type DirectoryConfig struct {
	// InvitationTTL is how long an invitation token stays valid, as a Go
	// duration. Default "168h" (7 days).
	InvitationTTL Duration `json:"invitationTTL"`
	// SSOOnly turns password login off for the tenant. Default false.
	SSOOnly bool `json:"ssoOnly"`
	// GroupLimit caps the groups one sign-in or sync may carry for a user;
	// more is an error, never a silent cut. Default 100.
	GroupLimit int `json:"groupLimit"`
}

// Duration is a time.Duration written in JSON as a Go duration string ("10s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"10s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"10s\" or \"2m\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// defaults returns the configuration of a server started with no file.
func defaults() Config {
	return Config{
		Tenant:   "default",
		LogLevel: "info",
		HTTP: HTTPConfig{
			ReadHeaderTimeout: Duration(5 * time.Second),
			ReadTimeout:       Duration(30 * time.Second),
			WriteTimeout:      Duration(60 * time.Second),
			IdleTimeout:       Duration(2 * time.Minute),
			ShutdownTimeout:   Duration(10 * time.Second),
		},
		Directory: DirectoryConfig{
			InvitationTTL: Duration(7 * 24 * time.Hour),
			GroupLimit:    groups.DefaultLimit,
		},
		BaseURL: defaultBaseURL,
		Import: ImportConfig{
			MaxFileSize: importer.DefaultMaxFileSize,
			Threshold:   importer.DefaultThreshold,
		},
		Google: GoogleConfig{
			Interval:  Duration(defaultGoogleInterval),
			MaxRemove: defaultGoogleMaxRemove,
		},
	}
}

// The defaults of GoogleConfig, as googlesync has them.
const (
	defaultGoogleInterval  = 15 * time.Minute
	defaultGoogleMaxRemove = 0.2
)

// loadConfig reads the configuration file at path (none if path is empty),
// applies the environment through getenv and the defaults, and validates the
// result. Its errors name the file and the field.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	var cfg Config
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := parseConfig(b, &cfg); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if tok := getenv(EnvAdminToken); tok != "" {
		cfg.AdminToken = tok
	}
	if tok := getenv(EnvSCIMToken); tok != "" {
		cfg.SCIM.Token = tok
	}
	for name, p := range cfg.OAuth {
		if secret := getenv(envOAuthSecret(name)); secret != "" {
			p.ClientSecret = secret
			cfg.OAuth[name] = p
		}
	}
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		if path == "" {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// parseConfig decodes one JSON object into cfg. Unknown fields and values of
// the wrong type are errors that give the field's path ("http.readTimeout").
func parseConfig(b []byte, cfg *Config) error {
	var raw any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return jsonSyntaxError(b, err)
	}
	if dec.More() {
		return errors.New("want one JSON object, found more after it")
	}
	if _, ok := raw.(map[string]any); !ok {
		return errors.New("want a JSON object")
	}
	if err := checkFields(raw, reflect.TypeFor[Config](), ""); err != nil {
		return err
	}
	if err := json.Unmarshal(b, cfg); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			return fmt.Errorf("field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return err
	}
	return nil
}

// jsonSyntaxError says where a file stops being JSON.
func jsonSyntaxError(b []byte, err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
		return fmt.Errorf("line %d: invalid JSON: %v", line, se)
	}
	if errors.Is(err, io.EOF) {
		return errors.New("empty file: want a JSON object")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// checkFields walks a decoded JSON value along the Go type it is meant for and
// reports the first key that names no field (matched exactly, unlike
// encoding/json) and the first Duration that does not parse, by path.
func checkFields(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[Duration]() {
		var d Duration
		b, _ := json.Marshal(v)
		if err := d.UnmarshalJSON(b); err != nil {
			return fmt.Errorf("field %q: %w", path, err)
		}
		return nil
	}
	obj, ok := v.(map[string]any)
	if t.Kind() == reflect.Map && ok {
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			p := key
			if path != "" {
				p = path + "." + key
			}
			if err := checkFields(obj[key], t.Elem(), p); err != nil {
				return err
			}
			// encoding/json leaves map keys out of a type error's field:
			// decode each value alone to name its path.
			b, _ := json.Marshal(obj[key])
			if err := json.Unmarshal(b, reflect.New(t.Elem()).Interface()); err != nil {
				if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
					if te.Field != "" {
						p += "." + te.Field
					}
					return fmt.Errorf("field %q: want %s, got JSON %s", p, te.Type, te.Value)
				}
				return fmt.Errorf("field %q: %w", p, err)
			}
		}
		return nil
	}
	if t.Kind() != reflect.Struct || !ok {
		return nil // encoding/json checks the other types
	}
	known := make(map[string]reflect.Type, t.NumField())
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		known[name] = f.Type
		names = append(names, name)
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		p := key
		if path != "" {
			p = path + "." + key
		}
		ft, ok := known[key]
		if !ok {
			for _, n := range names {
				if strings.EqualFold(n, key) {
					return fmt.Errorf("unknown field %q (did you mean %q?)", p, n)
				}
			}
			return fmt.Errorf("unknown field %q (known here: %s)", p, strings.Join(names, ", "))
		}
		if err := checkFields(obj[key], ft, p); err != nil {
			return err
		}
	}
	return nil
}

// setDefaults fills every zero field with its default.
func (c *Config) setDefaults() {
	def := defaults()
	set := func(dst *Duration, v Duration) {
		if *dst == 0 {
			*dst = v
		}
	}
	if c.Tenant == "" {
		c.Tenant = def.Tenant
	}
	if c.LogLevel == "" {
		c.LogLevel = def.LogLevel
	}
	set(&c.HTTP.ReadHeaderTimeout, def.HTTP.ReadHeaderTimeout)
	set(&c.HTTP.ReadTimeout, def.HTTP.ReadTimeout)
	set(&c.HTTP.WriteTimeout, def.HTTP.WriteTimeout)
	set(&c.HTTP.IdleTimeout, def.HTTP.IdleTimeout)
	set(&c.HTTP.ShutdownTimeout, def.HTTP.ShutdownTimeout)
	set(&c.Directory.InvitationTTL, def.Directory.InvitationTTL)
	if c.Directory.GroupLimit == 0 {
		c.Directory.GroupLimit = def.Directory.GroupLimit
	}
	if c.BaseURL == "" {
		c.BaseURL = def.BaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	for name, conn := range c.SAML {
		if conn.EntityID == "" {
			conn.EntityID = c.BaseURL + "/saml/" + name + "/metadata"
		}
		if conn.ACSURL == "" {
			conn.ACSURL = c.BaseURL + "/saml/" + name + "/acs"
		}
		set(&conn.SessionLifetime, Duration(saml.DefaultSessionLifetime))
		c.SAML[name] = conn
	}
	for name, p := range c.OAuth {
		if p.RedirectURL == "" {
			p.RedirectURL = c.BaseURL + "/oauth/" + name + "/callback"
		}
		c.OAuth[name] = p
	}
	if c.Import.MaxFileSize == 0 {
		c.Import.MaxFileSize = def.Import.MaxFileSize
	}
	if c.Import.Threshold == 0 {
		c.Import.Threshold = def.Import.Threshold
	}
	set(&c.Google.Interval, def.Google.Interval)
	if c.Google.MaxRemove == 0 {
		c.Google.MaxRemove = def.Google.MaxRemove
	}
}

var (
	tenantName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	// samlName is a SAML connection's name: as saml.Config.Name allows.
	samlName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	// oauthName is an OAuth provider's name: as oauth.Provider.Name allows.
	oauthName = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)
)

// minAdminToken is the shortest admin or SCIM token accepted.
const minAdminToken = 16

// checkToken checks a bearer token of the configuration: field names it, env
// its environment variable.
func checkToken(token, field, env string) error {
	if token != "" && len(token) < minAdminToken {
		return fmt.Errorf("field %q (or %s): must be at least %d characters", field, env, minAdminToken)
	}
	if token != strings.TrimSpace(token) || strings.ContainsFunc(token, func(r rune) bool { return r < '!' || r > '~' }) {
		return fmt.Errorf("field %q (or %s): must be printable ASCII without spaces", field, env)
	}
	return nil
}

// checkURL checks that s is an absolute http or https URL (https only if
// httpsOnly) with no user or fragment, and no query unless query.
func checkURL(field, s string, httpsOnly, query bool) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.User != nil || u.Fragment != "":
		return fmt.Errorf("field %q: want an absolute URL, got %q", field, s)
	case u.RawQuery != "" && !query:
		return fmt.Errorf("field %q: want a URL without query, got %q", field, s)
	case httpsOnly && u.Scheme != "https":
		return fmt.Errorf("field %q: want an https URL, got %q", field, s)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("field %q: want an http or https URL, got %q", field, s)
	}
	return nil
}

// checkIssuer checks an OpenID issuer: https, or http on a loopback host
// (localhost, 127.0.0.0/8, [::1]), where a development provider listens
// (Keycloak's start-dev: http://localhost:8080/realms/x). Elsewhere, http
// would let the network forge the discovery document and its keys.
func checkIssuer(field, s string) error {
	if err := checkURL(field, s, false, false); err != nil {
		return err
	}
	u, _ := url.Parse(s)
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return fmt.Errorf("field %q: want an https URL (http only on localhost, 127.0.0.1 or [::1]), got %q", field, s)
	}
	return nil
}

// loopbackHost reports whether host names this machine: "localhost" (or a
// name under it, RFC 6761) or a loopback IP address.
func loopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// validate checks a configuration with its defaults applied.
func (c *Config) validate() error {
	if !tenantName.MatchString(c.Tenant) {
		return fmt.Errorf("field \"tenant\": %q must be 1 to 64 letters, digits, '.', '_' or '-'", c.Tenant)
	}
	if err := checkToken(c.AdminToken, "adminToken", EnvAdminToken); err != nil {
		return err
	}
	if err := checkToken(c.SCIM.Token, "scim.token", EnvSCIMToken); err != nil {
		return err
	}
	if c.SCIM.Token != "" && c.SCIM.Token == c.AdminToken {
		return fmt.Errorf("field \"scim.token\" (or %s): must not be the admin token", EnvSCIMToken)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("field \"logLevel\": want \"debug\", \"info\", \"warn\" or \"error\", got %q", c.LogLevel)
	}
	for name, d := range map[string]Duration{
		"http.readHeaderTimeout": c.HTTP.ReadHeaderTimeout, "http.readTimeout": c.HTTP.ReadTimeout,
		"http.writeTimeout": c.HTTP.WriteTimeout, "http.idleTimeout": c.HTTP.IdleTimeout,
		"http.shutdownTimeout": c.HTTP.ShutdownTimeout, "directory.invitationTTL": c.Directory.InvitationTTL,
	} {
		if d < 0 {
			return fmt.Errorf("field %q: must not be negative", name)
		}
	}
	if c.Directory.GroupLimit < 0 {
		return fmt.Errorf("field \"directory.groupLimit\": must not be negative")
	}
	if err := checkURL("baseURL", c.BaseURL, false, false); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(c.SAML)) {
		if err := c.SAML[name].validate("saml."+name, name); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.OAuth)) {
		if err := c.OAuth[name].validate("oauth."+name, name); err != nil {
			return err
		}
	}
	if c.Import.MaxFileSize < 0 {
		return errors.New("field \"import.maxFileSize\": must not be negative")
	}
	if c.Import.Threshold < 0 {
		return errors.New("field \"import.threshold\": must not be negative")
	}
	if err := c.Google.validate(); err != nil {
		return err
	}
	if _, err := c.groupSource(); err != nil {
		return err
	}
	return nil
}

// logLevel returns the configured level; validate has checked it.
func (c *Config) logLevel() slog.Level {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	return lvl
}

// validate checks one SAML connection, at path in the file.
func (c SAMLConnection) validate(path, name string) error {
	if !samlName.MatchString(name) {
		return fmt.Errorf("field %q: a connection's name must be 1 to 64 letters, digits, '.', '_' or '-'", path)
	}
	n := 0
	for _, v := range []string{c.IdPMetadata, c.IdPMetadataFile, c.IdPMetadataURL} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("field %q: set exactly one of idpMetadata, idpMetadataFile and idpMetadataURL", path)
	}
	if c.IdPMetadataURL != "" {
		if err := checkURL(path+".idpMetadataURL", c.IdPMetadataURL, true, true); err != nil {
			return err
		}
	}
	if err := checkURL(path+".acsURL", c.ACSURL, false, false); err != nil {
		return err
	}
	if strings.TrimSpace(c.EntityID) == "" {
		return fmt.Errorf("field %q: must not be blank", path+".entityID")
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return fmt.Errorf("field %q: certFile and keyFile, this SP's certificate and key (PEM), are required", path)
	}
	if _, _, ok := saml.PresetMapping(saml.Preset(c.Preset)); !ok {
		return fmt.Errorf("field %q: unknown preset %q: want \"\" (generic), \"entra\", \"adfs\", \"google\", \"keycloak\", \"okta\", \"akamai\" or \"ping\"", path+".preset", c.Preset)
	}
	if c.GroupFormat != "" {
		if _, err := groups.ParseFormat(c.GroupFormat); err != nil {
			return fmt.Errorf("field %q: want \"dn\", \"list\", \"csv\", \"mixed\" or \"auto\", got %q", path+".groupFormat", c.GroupFormat)
		}
	}
	if c.SessionLifetime < 0 {
		return fmt.Errorf("field %q: must not be negative", path+".sessionLifetime")
	}
	return nil
}

// validate checks the Google section.
func (g GoogleConfig) validate() error {
	if !g.configured() {
		if g.Admin != "" || g.Customer != "" || g.Domain != "" || g.GroupFilter != "" || g.Endpoint != "" || g.Nested || g.DeactivateLeavers || g.DryRun {
			return errors.New("field \"google.keyFile\": required to sync Google groups")
		}
		return nil
	}
	switch {
	case g.Admin == "":
		return errors.New("field \"google.admin\": required with keyFile: the administrator to impersonate")
	case g.Customer != "" && g.Domain != "":
		return errors.New("field \"google\": set customer or domain, not both")
	case g.Interval.D() < time.Minute:
		return errors.New("field \"google.interval\": must be at least \"1m\"")
	case g.MaxRemove < 0:
		return errors.New("field \"google.maxRemove\": must not be negative")
	}
	if g.GroupFilter != "" {
		if _, err := path.Match(strings.ToLower(g.GroupFilter), ""); err != nil {
			return fmt.Errorf("field \"google.groupFilter\": %q is not a path.Match pattern", g.GroupFilter)
		}
	}
	if g.Endpoint != "" {
		return checkURL("google.endpoint", g.Endpoint, false, false)
	}
	return nil
}

// builtinProviders are the OAuth providers known by name.
var builtinProviders = []string{"google", "microsoft", "webex"}

// validate checks one OAuth provider, at path in the file.
func (p OAuthProvider) validate(path, name string) error {
	if !oauthName.MatchString(name) {
		return fmt.Errorf("field %q: a provider's name must be 1 to 64 lower-case letters, digits, '.', '_' or '-'", path)
	}
	builtin := slices.Contains(builtinProviders, name)
	switch {
	case builtin && p.Issuer != "":
		return fmt.Errorf("field %q: %s is built in: its issuer cannot be set", path+".issuer", name)
	case !builtin && p.Issuer == "":
		return fmt.Errorf("field %q: required for a provider other than google, microsoft and webex", path+".issuer")
	case !builtin:
		if err := checkIssuer(path+".issuer", p.Issuer); err != nil {
			return err
		}
	}
	if name == "microsoft" && p.Tenant == "" {
		return fmt.Errorf("field %q: required for microsoft: a tenant ID, \"organizations\", \"common\" or \"consumers\"", path+".tenant")
	}
	if name != "microsoft" && (p.Tenant != "" || len(p.AllowedTenants) > 0) {
		return fmt.Errorf("field %q: tenant and allowedTenants are for microsoft only", path)
	}
	if p.ClientID == "" {
		return fmt.Errorf("field %q: required", path+".clientID")
	}
	if err := checkURL(path+".redirectURL", p.RedirectURL, false, false); err != nil {
		return err
	}
	if p.GroupFormat != "" {
		if _, err := groups.ParseFormat(p.GroupFormat); err != nil {
			return fmt.Errorf("field %q: want \"dn\", \"list\", \"csv\", \"mixed\" or \"auto\", got %q", path+".groupFormat", p.GroupFormat)
		}
	}
	if strings.HasPrefix(p.GroupsClaim, "_") {
		return fmt.Errorf("field %q: a claim name must not start with '_', got %q", path+".groupsClaim", p.GroupsClaim)
	}
	return nil
}

// groupSources lists the sources this configuration lets sync groups: each
// SAML connection with syncGroups, "saml:<connection>"; each OAuth provider
// with syncGroups, "oauth:<name>"; a SCIM token,
// "scim"; Google sync, "google".
func (c *Config) groupSources() []string {
	var sources []string
	for _, name := range slices.Sorted(maps.Keys(c.SAML)) {
		if c.SAML[name].SyncGroups {
			sources = append(sources, groups.SAMLSource(name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.OAuth)) {
		if c.OAuth[name].SyncGroups {
			sources = append(sources, groups.OAuthSource(name))
		}
	}
	if c.SCIM.Token != "" {
		sources = append(sources, groups.SourceSCIM)
	}
	if c.Google.configured() {
		sources = append(sources, groups.SourceGoogle)
	}
	return sources
}

// groupSource returns the tenant's one group source, or "" for none. It is an
// error to configure two.
func (c *Config) groupSource() (string, error) {
	sources := c.groupSources()
	if err := groups.CheckSources(sources...); err != nil {
		return "", err
	}
	for _, s := range sources {
		if s != "" {
			return s, nil
		}
	}
	return "", nil
}
