package oauth

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/oauth2"
)

// Kind selects the rules a provider's ID tokens are checked by, beyond the
// signature, audience and expiry that every token must pass.
type Kind int

const (
	// KindOIDC is any OpenID provider: the issuer is compared exactly and the
	// domain filter needs a verified email in an allowed domain.
	KindOIDC Kind = iota
	// KindGoogle adds Google's rules: the domain filter needs email_verified
	// and the hd claim (the Workspace domain) equal to an allowed domain; the
	// email's suffix alone is never enough.
	KindGoogle
	// KindMicrosoft adds Entra ID's rules: the tid claim must be in the
	// connection's tenant allowlist, the iss claim must be the issuer of that
	// tid (checked here when Issuer holds "{tenantid}"), the person is keyed
	// by oid, and an email counts as verified only with xms_edov true.
	// email, upn and preferred_username are mutable and never the key.
	KindMicrosoft
	// KindWebex adds Webex's rules: the iss claim is a regional identity
	// broker, matched by Provider.IssuerPattern.
	KindWebex
)

func (k Kind) String() string {
	switch k {
	case KindOIDC:
		return "oidc"
	case KindGoogle:
		return "google"
	case KindMicrosoft:
		return "microsoft"
	case KindWebex:
		return "webex"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// TenantPlaceholder stands for the token's tid in a Microsoft multi-tenant
// issuer, as Microsoft's own discovery documents write it.
const TenantPlaceholder = "{tenantid}"

// ConsumerTenant is the Entra tenant of personal Microsoft accounts. Its
// tokens are refused unless Config.AllowedTenants lists it.
const ConsumerTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"

// Provider describes an OpenID provider: its endpoints and the rules its ID
// tokens follow. Use the values and functions of this package (Google,
// Microsoft, Webex, Discover), as with x/oauth2's endpoint packages; the
// fields are exported so that a test can point a provider at a fake.
type Provider struct {
	// Name names the provider in the identity source "oauth:<Name>" (under
	// which users are linked) and, by convention, in the URL paths
	// /oauth/<Name>/login and /oauth/<Name>/callback: lower-case letters,
	// digits, ".", "_" and "-", at most 64.
	Name string
	// Kind selects the provider's rules.
	Kind Kind
	// Issuer is the issuer of the provider's ID tokens, compared exactly
	// (trailing slash included). It is also the first part of the link
	// subject "<Issuer> <sub>". A KindMicrosoft issuer may hold
	// TenantPlaceholder: the token's tid stands for it. With IssuerPattern
	// set, Issuer only names the provider in link subjects.
	Issuer string
	// IssuerPattern, when set, replaces the exact issuer check: the token's
	// iss must match it whole.
	IssuerPattern *regexp.Regexp
	// The endpoints. When AuthURL, TokenURL and JWKSURL are all empty they
	// are discovered at Issuer + "/.well-known/openid-configuration", once,
	// on first use. UserInfoURL is optional.
	AuthURL     string
	TokenURL    string
	UserInfoURL string
	JWKSURL     string
	// AuthStyle is how the client authenticates at the token endpoint. It
	// must be set (never oauth2.AuthStyleAutoDetect) with static endpoints:
	// auto-detection resends a used code after a failure and turns a clear
	// error into a confusing one. With discovery, zero means: from the
	// discovery document's token_endpoint_auth_methods_supported,
	// client_secret_basic first (the default of the standard), then
	// client_secret_post.
	AuthStyle oauth2.AuthStyle
	// Scopes are asked for besides "openid". Nil means "email" and
	// "profile".
	Scopes []string
	// Tenant is the Microsoft tenant of the endpoints: "common",
	// "organizations", "consumers" or a tenant ID. It is empty for other
	// kinds.
	Tenant string
}

// Google is Google's OpenID provider (accounts.google.com), with the client
// secret in the token request's body.
var Google = Provider{
	Name:        "google",
	Kind:        KindGoogle,
	Issuer:      "https://accounts.google.com",
	AuthURL:     "https://accounts.google.com/o/oauth2/v2/auth",
	TokenURL:    "https://oauth2.googleapis.com/token",
	UserInfoURL: "https://openidconnect.googleapis.com/v1/userinfo",
	JWKSURL:     "https://www.googleapis.com/oauth2/v3/certs",
	AuthStyle:   oauth2.AuthStyleInParams,
}

// Webex is "Login with Webex": OpenID Connect at webexapis.com, whose tokens
// are issued by a regional identity broker (https://idbroker-b-us.webex.com/idb,
// say). The client secret goes in the token request's body.
var Webex = Provider{
	Name:          "webex",
	Kind:          KindWebex,
	Issuer:        "https://webexapis.com/v1",
	IssuerPattern: regexp.MustCompile(`^https://idbroker(-[a-z0-9]+)*\.webex\.com/idb$`),
	AuthURL:       "https://webexapis.com/v1/authorize",
	TokenURL:      "https://webexapis.com/v1/access_token",
	UserInfoURL:   "https://webexapis.com/v1/userinfo",
	JWKSURL:       "https://webexapis.com/v1/verification",
	AuthStyle:     oauth2.AuthStyleInParams,
}

// microsoftLogin is the Entra ID v2.0 authority.
const microsoftLogin = "https://login.microsoftonline.com/"

// Microsoft returns Microsoft Entra ID (v2.0 endpoints) for a tenant: a
// tenant ID (a GUID, the tid of its tokens) for a single tenant, "organizations" or
// "common" for many (their tokens are checked against the issuer of their own
// tid, and Config.AllowedTenants must list the tenants let in), "consumers"
// for personal accounts only. The client secret goes in the token request's
// body.
func Microsoft(tenant string) Provider {
	issuer := microsoftLogin + tenant + "/v2.0"
	switch tenant {
	case "common", "organizations":
		issuer = microsoftLogin + TenantPlaceholder + "/v2.0"
	case "consumers":
		issuer = microsoftLogin + ConsumerTenant + "/v2.0"
	}
	return Provider{
		Name:      "microsoft",
		Kind:      KindMicrosoft,
		Issuer:    issuer,
		AuthURL:   microsoftLogin + tenant + "/oauth2/v2.0/authorize",
		TokenURL:  microsoftLogin + tenant + "/oauth2/v2.0/token",
		JWKSURL:   microsoftLogin + tenant + "/discovery/v2.0/keys",
		AuthStyle: oauth2.AuthStyleInParams,
		Tenant:    tenant,
	}
}

// Discover returns any OpenID provider by its issuer URL, named name: its
// endpoints come from discovery on first use.
func Discover(name, issuer string) Provider {
	return Provider{Name: name, Kind: KindOIDC, Issuer: issuer}
}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// discovered reports whether the endpoints come from discovery.
func (p Provider) discovered() bool {
	return p.AuthURL == "" && p.TokenURL == "" && p.JWKSURL == ""
}

// manualIssuer reports whether the issuer is checked here rather than by
// go-oidc.
func (p Provider) manualIssuer() bool {
	return p.IssuerPattern != nil || strings.Contains(p.Issuer, TenantPlaceholder)
}

func (p Provider) validate() error {
	if !validName.MatchString(p.Name) {
		return fmt.Errorf("provider name %q: want lower-case letters, digits, '.', '_' and '-', at most 64", p.Name)
	}
	if p.Kind < KindOIDC || p.Kind > KindWebex {
		return fmt.Errorf("provider %s: unknown %v", p.Name, p.Kind)
	}
	if err := absoluteURL(strings.ReplaceAll(p.Issuer, TenantPlaceholder, "tenant")); err != nil {
		return fmt.Errorf("provider %s: Issuer: %w", p.Name, err)
	}
	if strings.Contains(p.Issuer, TenantPlaceholder) && p.Kind != KindMicrosoft {
		return fmt.Errorf("provider %s: only a KindMicrosoft Issuer may hold %s", p.Name, TenantPlaceholder)
	}
	if p.discovered() {
		if p.manualIssuer() {
			return fmt.Errorf("provider %s: an issuer checked by pattern or %s needs static endpoints (AuthURL, TokenURL, JWKSURL)", p.Name, TenantPlaceholder)
		}
	} else {
		for _, e := range []struct{ name, url string }{{"AuthURL", p.AuthURL}, {"TokenURL", p.TokenURL}, {"JWKSURL", p.JWKSURL}} {
			if err := absoluteURL(e.url); err != nil {
				return fmt.Errorf("provider %s: %s: %w", p.Name, e.name, err)
			}
		}
		if p.AuthStyle == oauth2.AuthStyleAutoDetect {
			return fmt.Errorf("provider %s: AuthStyle must be set (InHeader or InParams) with static endpoints", p.Name)
		}
	}
	if p.UserInfoURL != "" {
		if err := absoluteURL(p.UserInfoURL); err != nil {
			return fmt.Errorf("provider %s: UserInfoURL: %w", p.Name, err)
		}
	}
	return nil
}

// absoluteURL returns an error unless s is an absolute http(s) URL.
func absoluteURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}
