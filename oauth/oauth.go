// Package oauth signs people in with OAuth 2.0 and OpenID Connect (Google,
// Microsoft Entra ID, Webex or any OpenID provider) and hands who they are to
// the identity core, which finds, links or creates their user.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// Errors of a sign-in, checked with errors.Is. Each is wrapped with the
// reason, for the log; the browser is shown none of it. Errors of the core
// (identity.ErrDeactivated, identity.ErrNotAllowed, *identity.ConflictError)
// come through wrapped as they are.
var (
	// ErrReturnURL: the return URL is neither a relative path nor in
	// Config.ReturnURLs.
	ErrReturnURL = errors.New("oauth: return URL not allowed")
	// ErrState: the callback's state is unknown, expired, used already, of
	// another connection, or not the one this browser started.
	ErrState = errors.New("oauth: unknown, expired or used login state")
	// ErrDenied: the provider answered the callback with an error
	// (access_denied, say).
	ErrDenied = errors.New("oauth: the provider refused the sign-in")
	// ErrExchange: the token endpoint refused the code (a wrong PKCE
	// verifier, a used or expired code, a wrong client secret).
	ErrExchange = errors.New("oauth: code exchange failed")
	// ErrToken: the ID token is missing or invalid: signature, issuer,
	// audience, expiry, nonce, or the subject of userinfo.
	ErrToken = errors.New("oauth: invalid ID token")
	// ErrRefused: the person does not pass the connection's rules: tenant,
	// hosted domain, email domain, unverified email.
	ErrRefused = errors.New("oauth: sign-in refused by the connection's rules")
	// ErrProvider: the provider could not be reached (discovery, keys,
	// userinfo).
	ErrProvider = errors.New("oauth: provider unavailable")
	// ErrDraft: the provider is a draft (Config.Draft): only a test login
	// may use it, nobody signs in through it until it is activated.
	ErrDraft = errors.New("oauth: the provider is a draft: only a test login may use it")
)

// DefaultLoginTTL is how long a login may take between the login handler and
// the callback when Config.LoginTTL is zero.
const DefaultLoginTTL = 10 * time.Minute

// Config is one tenant's connection to one provider. The zero value of each
// optional field is the default written beside it.
type Config struct {
	// Provider is the provider: Google, Webex, Microsoft(tenant),
	// Discover(name, issuer). Required.
	Provider Provider
	// ClientID and ClientSecret are the client's registration at the
	// provider. ClientID is required; ClientSecret may be empty for a public
	// client.
	ClientID     string
	ClientSecret string
	// RedirectURL is the absolute URL of the callback handler, as registered
	// at the provider. Required.
	RedirectURL string
	// AllowedDomains turns the domain filter on: only these email domains
	// (compared case-insensitively) may sign in, and only with a verified
	// email; for Google the hd claim (the Workspace domain) must be one of
	// them, and for Microsoft the email counts as verified only with
	// xms_edov. Empty: no domain filter.
	AllowedDomains []string
	// AllowedTenants lists the Entra tenant IDs (tid) let in, for Microsoft
	// only. Default: the tenant of a single-tenant Provider; required for
	// "common" and "organizations". ConsumerTenant (personal accounts) is
	// refused unless listed.
	AllowedTenants []string
	// AllowUnverifiedEmail lets in, when there is no domain filter, a person
	// whose email the provider did not verify: the email is then stored
	// unverified and never finds an existing user. Default false: refused.
	AllowUnverifiedEmail bool
	// GroupsClaim names the ID token claim that lists the person's groups
	// (an array of strings, or one string). Default DefaultGroupsClaim,
	// "groups". It is read only when this connection is the tenant's group
	// source (identity.Config.GroupSource "oauth:<provider>"); else the
	// claim is ignored and the user's groups are left alone.
	GroupsClaim string
	// GroupFormat is how the claim lists names, as for SAML's memberOf
	// (groups.FormatList, FormatDN, FormatCSV, FormatMixed, FormatAuto). The
	// zero value means groups.FormatList: Okta, Keycloak and Entra ID send
	// an array of names (Entra: object IDs unless configured otherwise).
	GroupFormat groups.Format
	// GroupLimit caps the groups of one token: more refuses the sign-in
	// (ErrGroups, groups.ErrTooManyGroups), nothing is cut. Zero means
	// groups.DefaultLimit (100).
	GroupLimit int
	// ReturnURLs lists absolute URLs a login may return to, compared exactly.
	// Relative paths ("/desk?id=1") are always allowed; "//host", "/\host"
	// and URLs with a scheme are not, unless listed here.
	ReturnURLs []string
	// DefaultReturnURL is where a login without a return URL returns.
	// Default "/".
	DefaultReturnURL string
	// LoginTTL bounds the time from login to callback. Default
	// DefaultLoginTTL (10 minutes).
	LoginTTL time.Duration
	// Draft marks a provider not in use yet, kept to be tested before it is
	// activated: it runs test logins only (BeginTest). Begin returns
	// ErrDraft, and so does Finish for the callback of any other login.
	Draft bool
}

// DefaultHTTPTimeout bounds each request to a provider when Deps.HTTPClient
// is nil.
const DefaultHTTPTimeout = 30 * time.Second

// Connection is one tenant's validated connection to one provider. It is safe
// for concurrent use; a host builds it once per tenant configuration and
// keeps it (it caches the provider's discovery document and keys).
type Connection struct {
	cfg     Config
	source  string
	clock   identity.Clock
	logger  *slog.Logger
	client  *http.Client
	diag    identity.DiagnosticsLog
	domains map[string]bool
	tenants map[string]bool
	returns map[string]bool

	mu    sync.Mutex
	ready *endpoints // nil until discovered
}

// endpoints is what the flow needs of the provider, built once.
type endpoints struct {
	oauth2   oauth2.Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

// New validates cfg and returns the Connection. It makes no request: a
// discovered provider is asked on first use.
//
// deps.HTTPClient makes the requests to the provider; nil means a client
// with a DefaultHTTPTimeout timeout, so that a provider that hangs cannot
// hold logins (or go-oidc's key refresh) forever. deps.Clock tells the time
// for the login's expiry and the ID token's. deps.Logger receives the
// reasons of refused sign-ins. deps.Diagnostics, when set, is the tenant's
// diagnostics log: Finish records every callback there, and Begin every
// login that fails, with the typed reason (see Reason), the subject and
// email once the ID token was verified, and Callback.Reference; never a
// token, a code or a secret. A failure to record is logged, and does not
// fail the sign-in.
func New(cfg Config, deps identity.Deps) (*Connection, error) {
	p := cfg.Provider
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("oauth: %w", err)
	}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("oauth: %s: ClientID is required", p.Name)
	}
	if err := absoluteURL(cfg.RedirectURL); err != nil {
		return nil, fmt.Errorf("oauth: %s: RedirectURL: %w", p.Name, err)
	}
	if cfg.LoginTTL < 0 {
		return nil, fmt.Errorf("oauth: %s: negative LoginTTL", p.Name)
	}
	if cfg.LoginTTL == 0 {
		cfg.LoginTTL = DefaultLoginTTL
	}
	if err := cfg.groupDefaults(); err != nil {
		return nil, fmt.Errorf("oauth: %s: %w", p.Name, err)
	}
	deps = deps.Defaults(func() *http.Client { return &http.Client{Timeout: DefaultHTTPTimeout} })
	c := &Connection{
		cfg:     cfg,
		source:  "oauth:" + p.Name,
		clock:   deps.Clock,
		logger:  deps.Logger,
		client:  deps.HTTPClient,
		diag:    deps.Diagnostics,
		domains: make(map[string]bool),
		tenants: make(map[string]bool),
		returns: make(map[string]bool),
	}
	c.logger = c.logger.With("source", c.source)
	for _, d := range cfg.AllowedDomains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || strings.ContainsAny(d, "@/ ") {
			return nil, fmt.Errorf("oauth: %s: AllowedDomains: %q is not a domain", p.Name, d)
		}
		c.domains[emailDomain("x@"+d)] = true // the canonical form (IDNA) emailDomain gives
	}
	for _, t := range cfg.AllowedTenants {
		if t == "" {
			return nil, fmt.Errorf("oauth: %s: AllowedTenants: empty tenant", p.Name)
		}
		c.tenants[t] = true
	}
	if p.Kind == KindMicrosoft {
		if len(c.tenants) == 0 && !strings.Contains(p.Issuer, TenantPlaceholder) {
			// A single tenant, or "consumers": the tenant of its issuer.
			switch {
			case p.Tenant == "consumers":
				c.tenants[ConsumerTenant] = true
			case p.Tenant != "":
				c.tenants[p.Tenant] = true
			}
		}
		if len(c.tenants) == 0 {
			return nil, fmt.Errorf("oauth: %s: a multi-tenant Microsoft connection needs AllowedTenants", p.Name)
		}
	} else if len(c.tenants) > 0 {
		return nil, fmt.Errorf("oauth: %s: AllowedTenants is for Microsoft only", p.Name)
	}
	for _, u := range cfg.ReturnURLs {
		if err := absoluteURL(u); err != nil {
			return nil, fmt.Errorf("oauth: %s: ReturnURLs: %w", p.Name, err)
		}
		c.returns[u] = true
	}
	if cfg.DefaultReturnURL == "" {
		c.cfg.DefaultReturnURL = "/"
	} else if _, err := c.returnURL(cfg.DefaultReturnURL); err != nil {
		return nil, fmt.Errorf("oauth: %s: DefaultReturnURL: %w", p.Name, err)
	}
	if !p.discovered() {
		c.ready = c.build(p.AuthURL, p.TokenURL, p.UserInfoURL, p.JWKSURL, p.AuthStyle)
	}
	return c, nil
}

// groupDefaults validates the group options and applies their defaults.
func (cfg *Config) groupDefaults() error {
	if cfg.GroupFormat == "" {
		cfg.GroupFormat = groups.FormatList
	}
	var err error
	if cfg.GroupFormat, err = groups.ParseFormat(string(cfg.GroupFormat)); err != nil {
		return fmt.Errorf("GroupFormat: %w", err)
	}
	if cfg.GroupLimit < 0 {
		return errors.New("negative GroupLimit")
	}
	if cfg.GroupLimit == 0 {
		cfg.GroupLimit = groups.DefaultLimit
	}
	if strings.HasPrefix(cfg.GroupsClaim, "_") {
		return fmt.Errorf("GroupsClaim %q: a claim name must not start with '_'", cfg.GroupsClaim)
	}
	return nil
}

// Source returns the identity source of the connection: "oauth:<provider>".
func (c *Connection) Source() string { return c.source }

// Provider returns the connection's provider.
func (c *Connection) Provider() Provider { return c.cfg.Provider }

// clientContext carries the HTTP client to x/oauth2 and go-oidc.
func (c *Connection) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, c.client), c.client)
}

// build returns the endpoints from their URLs.
func (c *Connection) build(authURL, tokenURL, userInfoURL, jwksURL string, style oauth2.AuthStyle) *endpoints {
	p := c.cfg.Provider
	scopes := p.Scopes
	if scopes == nil {
		scopes = []string{"email", "profile"}
	}
	// The issuer go-oidc checks; for a manual check, only a placeholder.
	pc := &oidc.ProviderConfig{
		IssuerURL: p.Issuer, AuthURL: authURL, TokenURL: tokenURL,
		UserInfoURL: userInfoURL, JWKSURL: jwksURL,
	}
	provider := pc.NewProvider(c.clientContext(context.Background()))
	return c.endpoints(provider, authURL, tokenURL, style, scopes)
}

func (c *Connection) endpoints(provider *oidc.Provider, authURL, tokenURL string, style oauth2.AuthStyle, scopes []string) *endpoints {
	p := c.cfg.Provider
	return &endpoints{
		oauth2: oauth2.Config{
			ClientID:     c.cfg.ClientID,
			ClientSecret: c.cfg.ClientSecret,
			RedirectURL:  c.cfg.RedirectURL,
			Endpoint:     oauth2.Endpoint{AuthURL: authURL, TokenURL: tokenURL, AuthStyle: style},
			Scopes:       append([]string{oidc.ScopeOpenID}, scopes...),
		},
		provider: provider,
		verifier: provider.Verifier(&oidc.Config{
			ClientID:        c.cfg.ClientID,
			SkipIssuerCheck: p.manualIssuer(),
			Now:             c.clock.Now,
		}),
	}
}

// setup returns the endpoints, discovering them on first use. A failed
// discovery is tried again on the next call.
func (c *Connection) setup(ctx context.Context) (*endpoints, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ready != nil {
		return c.ready, nil
	}
	p := c.cfg.Provider
	provider, err := oidc.NewProvider(c.clientContext(ctx), p.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery at %s: %w", ErrProvider, p.Issuer, err)
	}
	style := p.AuthStyle
	if style == oauth2.AuthStyleAutoDetect {
		var meta struct {
			Methods []string `json:"token_endpoint_auth_methods_supported"`
		}
		if err := provider.Claims(&meta); err != nil {
			return nil, fmt.Errorf("%w: discovery at %s: %w", ErrProvider, p.Issuer, err)
		}
		if style = authStyle(meta.Methods); style == oauth2.AuthStyleAutoDetect {
			return nil, fmt.Errorf("%w: %s supports neither client_secret_basic nor client_secret_post (%q)", ErrProvider, p.Issuer, meta.Methods)
		}
	}
	scopes := p.Scopes
	if scopes == nil {
		scopes = []string{"email", "profile"}
	}
	e := provider.Endpoint()
	c.ready = c.endpoints(provider, e.AuthURL, e.TokenURL, style, scopes)
	return c.ready, nil
}

// authStyle picks the token endpoint's auth style from the methods a
// discovery document lists; none listed means client_secret_basic, the
// standard's default. It returns AutoDetect if neither is supported.
func authStyle(methods []string) oauth2.AuthStyle {
	if len(methods) == 0 {
		return oauth2.AuthStyleInHeader
	}
	for _, want := range []struct {
		method string
		style  oauth2.AuthStyle
	}{{"client_secret_basic", oauth2.AuthStyleInHeader}, {"client_secret_post", oauth2.AuthStyleInParams}} {
		for _, m := range methods {
			if m == want.method {
				return want.style
			}
		}
	}
	return oauth2.AuthStyleAutoDetect
}

// returnURL checks a return URL and returns it, or the default for "". It
// accepts a relative path that starts with a single "/" and holds no
// backslash and no control character, or a URL of Config.ReturnURLs.
func (c *Connection) returnURL(s string) (string, error) {
	if s == "" {
		return c.cfg.DefaultReturnURL, nil
	}
	if c.returns[s] {
		return s, nil
	}
	if len(s) > 2048 {
		return "", fmt.Errorf("%w: longer than 2048 bytes", ErrReturnURL)
	}
	if s[0] != '/' || len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return "", fmt.Errorf("%w: not a relative path", ErrReturnURL)
	}
	for i := 0; i < len(s); i++ {
		// Browsers drop tabs and newlines and read "\" as "/": "/\t/evil"
		// would become "//evil".
		if s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\' {
			return "", fmt.Errorf("%w: backslash or control character", ErrReturnURL)
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "", fmt.Errorf("%w: not a relative path", ErrReturnURL)
	}
	return s, nil
}
