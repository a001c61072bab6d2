// Package saml signs users in through SAML 2.0 identity providers, creating
// them just in time and syncing their memberOf groups, as a service provider
// built on github.com/crewjam/saml.
//
// A Connection is one IdP of one tenant. Its core methods take a context and
// values (Login, ACS, Metadata); Handler adapts them to net/http, resolving
// the tenant's Connection, identity.Directory and identity.KeyStore from each
// request. The host owns the session: ACS returns the user and the time the
// session must end, and the host sets its own cookie.
//
// # What this package adds to crewjam/saml v0.5.1
//
// crewjam checks signatures (of the Response or of each assertion), the
// Destination, the Recipient, InResponseTo, the issuer, the validity window
// and the audience. The Connection adds: one assertion per response, no
// DOCTYPE, an AudienceRestriction and a bearer SubjectConfirmation required,
// InResponseTo only for a request this SP issued (taken once from the
// KeyStore) to the browser that posts the response (a binding secret, kept
// in a cookie by Handler), IdP-initiated login only with no InResponseTo, replay
// protection on the assertion ID, SHA-1 signatures refused, a recover around
// crewjam (which panics on a signed assertion with no Subject or no
// Conditions), a POST body limit, and the merge of every AttributeStatement.
//
// # Clocks
//
// crewjam judges the validity window (saml.TimeNow, with saml.MaxIssueDelay
// and saml.MaxClockSkew) and the IdP certificate's validity (saml.Clock) by
// package globals that cannot be set per ServiceProvider. This package never
// sets them: a host that must (tests with pinned fixtures) sets them once,
// before any Connection is used. Everything else is judged by the
// Connection's own Clock (Deps.Clock): the expiry of pending requests and of
// replay keys (through the KeyStore's clock), the AuthnRequest's
// IssueInstant, metadata refresh and the session expiry.
package saml

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// NameID formats.
const (
	NameIDUnspecified = string(crewjam.UnspecifiedNameIDFormat)
	NameIDPersistent  = string(crewjam.PersistentNameIDFormat)
	NameIDEmail       = string(crewjam.EmailAddressNameIDFormat)
	NameIDTransient   = string(crewjam.TransientNameIDFormat)
)

// Defaults of the zero Config fields.
const (
	DefaultSessionLifetime  = 24 * time.Hour
	DefaultRequestTTL       = 10 * time.Minute
	DefaultMetadataTimeout  = 10 * time.Second
	DefaultMetadataMaxBytes = 1 << 20
	DefaultMetadataRefresh  = 24 * time.Hour
	DefaultMaxBodyBytes     = 1 << 20
)

// Config configures one connection of one tenant to one IdP. Zero fields take
// the documented defaults; New validates the rest.
type Config struct {
	// Name names the connection in URLs and in its source, "saml:<Name>":
	// letters, digits, '-', '_' and '.'. Required.
	Name string

	// IdPMetadata is the IdP's metadata (an EntityDescriptor, or an
	// EntitiesDescriptor holding one IdP). Exactly one of IdPMetadata and
	// IdPMetadataURL is required.
	IdPMetadata []byte
	// IdPMetadataURL is an https URL the metadata is fetched from, on first
	// use and again after MetadataRefresh; if a refresh fails the metadata
	// already loaded is kept and the failure logged.
	IdPMetadataURL string
	// MetadataTimeout bounds one fetch. Zero means 10 seconds.
	MetadataTimeout time.Duration
	// MetadataMaxBytes caps the metadata's size. Zero means 1 MiB.
	MetadataMaxBytes int64
	// MetadataRefresh is how long fetched metadata is used before it is
	// fetched again. Zero means 24 hours.
	MetadataRefresh time.Duration
	// IdPEntityID pins the IdP: metadata with another entityID is refused,
	// and so is a response or assertion from another issuer. Empty means the
	// entityID of the metadata first loaded, kept across refreshes.
	IdPEntityID string

	// EntityID is this SP's entity ID, the audience the assertions must name.
	// Required.
	EntityID string
	// ACSURL is the absolute URL of this connection's ACS endpoint, where
	// the IdP posts its responses. Required.
	ACSURL string
	// Key and Certificate are this SP's: published in its metadata, used to
	// decrypt encrypted assertions and to sign AuthnRequests. Required (see
	// LoadKeyPair).
	Key         crypto.Signer
	Certificate *x509.Certificate
	// NextCertificate, when set, is published in the metadata beside
	// Certificate, for signing only, so that IdPs know it before the SP
	// signs with it (a key rollover). It neither signs nor decrypts.
	NextCertificate *x509.Certificate
	// UnsignedRequests turns the signing of AuthnRequests off.
	UnsignedRequests bool
	// UnboundRequests turns the browser binding of SP-initiated logins off
	// (see LoginRedirect.Binding): for a host that cannot carry the secret
	// from Login to ACS. Without it, a response obtained by an attacker for
	// their own account can sign a victim's browser in (login CSRF).
	UnboundRequests bool

	// Preset names the attribute names of a known IdP; empty means
	// PresetGeneric. Mapping overrides it field by field.
	Preset  Preset
	Mapping Mapping

	// NameIDFormat is the format the AuthnRequest asks for. Empty means
	// NameIDUnspecified (the IdP's choice).
	NameIDFormat string
	// SubjectAttribute, when set, names the attribute whose first value links
	// the user (Entra's objectidentifier, say) instead of the NameID. Else the
	// link is the NameID, which must be persistent, unspecified or an email:
	// a transient NameID is never a link.
	SubjectAttribute string

	// GroupFormat is how the groups attribute lists names (see
	// groups.Format). Empty means the preset's format.
	GroupFormat groups.Format
	// GroupLimit caps the groups of one assertion: more is an error and the
	// sign-in fails. Zero means groups.DefaultLimit (100).
	GroupLimit int

	// AllowIDPInitiated accepts responses that name no request (IdP-initiated
	// login). A response that names a request must still name one this SP
	// issued.
	AllowIDPInitiated bool
	// AllowSHA1 accepts RSA-SHA1 and ECDSA-SHA1 signatures and SHA-1 digests.
	AllowSHA1 bool
	// AllowRSA15 accepts encrypted assertions whose key is wrapped with
	// RSA PKCS#1 v1.5 (xmlenc#rsa-1_5), which is open to Bleichenbacher's
	// attack; by default only RSA-OAEP key transport is accepted.
	AllowRSA15 bool
	// SessionLifetime caps the session ACS grants; the assertion's
	// SessionNotOnOrAfter may shorten it. Zero means 24 hours, so that the
	// groups are refreshed at least daily.
	SessionLifetime time.Duration
	// RequestTTL is how long a login may take at the IdP. Zero means 10
	// minutes.
	RequestTTL time.Duration
	// MaxBodyBytes caps the body of a POST to the ACS. Zero means 1 MiB.
	MaxBodyBytes int64

	// Draft marks a connection not in use yet, kept to be tested before it
	// is activated: it serves its metadata and test logins (TestLogin) only.
	// Login returns ErrDraft, and ACS refuses every other response (an
	// IdP-initiated one included) with a *RejectError of reason ReasonDraft.
	Draft bool
}

// Connection is one tenant's connection to one IdP. It is safe for concurrent
// use and meant to live as long as its configuration.
type Connection struct {
	cfg     Config
	source  string
	acsURL  url.URL
	mapping Mapping
	format  groups.Format
	client  *http.Client
	clock   identity.Clock
	logger  *slog.Logger
	diag    identity.DiagnosticsLog

	idp      atomic.Pointer[idpState] // nil until the metadata is loaded
	fetching sync.Mutex               // one fetch at a time
	pinned   atomic.Pointer[string]   // the IdP's entity ID, once known
}

// idpState is the loaded IdP metadata and the crewjam SP built on it.
type idpState struct {
	sp      *crewjam.ServiceProvider
	loaded  time.Time
	entity  string
	ssoURL  string
	expires time.Time // when to fetch again; zero for static metadata
	certs   []Certificate
	// failed and failure are when and why the last refresh failed (this
	// metadata kept); zero after one that succeeded.
	failed  time.Time
	failure string
}

// New returns the connection cfg describes. It returns an error naming the
// first invalid field. Static metadata (IdPMetadata) is parsed now; metadata
// from a URL is fetched on first use (see Refresh).
//
// deps.HTTPClient fetches IdPMetadataURL; nil means a client with no
// redirects to non-https URLs. deps.Logger receives the reasons of rejected
// responses. deps.Diagnostics, when set, is the tenant's diagnostics log:
// ACS records every response it handles there, and Login every login that
// fails, with the typed reason (see Reason), the subject and email once
// verified, and Post.Reference; never the response or a secret. A failure
// to record is logged, and does not fail the sign-in.
func New(cfg Config, deps identity.Deps) (*Connection, error) {
	acs, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	preset, err := cfg.defaults()
	if err != nil {
		return nil, err
	}
	deps = deps.Defaults(func() *http.Client { return &http.Client{CheckRedirect: httpsRedirectsOnly} })
	c := &Connection{
		cfg:     cfg,
		source:  groups.SAMLSource(cfg.Name),
		acsURL:  *acs,
		mapping: preset.mapping.override(cfg.Mapping),
		format:  cfg.GroupFormat,
		client:  deps.HTTPClient,
		clock:   deps.Clock,
		logger:  deps.Logger,
		diag:    deps.Diagnostics,
	}
	c.logger = c.logger.With("source", c.source)
	if cfg.IdPEntityID != "" {
		c.pinned.Store(&cfg.IdPEntityID)
	}
	if len(cfg.IdPMetadata) > 0 {
		st, err := c.load(cfg.IdPMetadata)
		if err != nil {
			return nil, err
		}
		c.idp.Store(st)
	}
	return c, nil
}

// validate checks the fields of cfg that have no default, and returns the
// parsed ACSURL.
func (cfg *Config) validate() (*url.URL, error) {
	if !validName(cfg.Name) {
		return nil, fmt.Errorf("saml: Name %q: want letters, digits, '-', '_' or '.'", cfg.Name)
	}
	if (len(cfg.IdPMetadata) == 0) == (cfg.IdPMetadataURL == "") {
		return nil, errors.New("saml: want exactly one of IdPMetadata and IdPMetadataURL")
	}
	if cfg.IdPMetadataURL != "" {
		u, err := url.Parse(cfg.IdPMetadataURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("saml: IdPMetadataURL %q: want an absolute https URL", cfg.IdPMetadataURL)
		}
	}
	if cfg.EntityID == "" {
		return nil, errors.New("saml: EntityID is required")
	}
	acs, err := url.Parse(cfg.ACSURL)
	if err != nil || (acs.Scheme != "https" && acs.Scheme != "http") || acs.Host == "" {
		return nil, fmt.Errorf("saml: ACSURL %q: want an absolute http(s) URL", cfg.ACSURL)
	}
	if cfg.Key == nil || cfg.Certificate == nil {
		return nil, errors.New("saml: Key and Certificate are required")
	}
	if !publicKeyMatches(cfg.Key, cfg.Certificate) {
		return nil, errors.New("saml: Key does not match Certificate")
	}
	return acs, nil
}

// defaults checks the fields of cfg that have a default, sets the defaults
// of the zero ones, and returns the preset.
func (cfg *Config) defaults() (preset, error) {
	switch cfg.NameIDFormat {
	case "":
		cfg.NameIDFormat = NameIDUnspecified
	case NameIDUnspecified, NameIDPersistent, NameIDEmail, NameIDTransient:
	default:
		return preset{}, fmt.Errorf("saml: NameIDFormat %q: want one of the persistent, unspecified, emailAddress or transient URNs", cfg.NameIDFormat)
	}
	if cfg.NameIDFormat == NameIDTransient && cfg.SubjectAttribute == "" {
		return preset{}, errors.New("saml: a transient NameIDFormat needs a SubjectAttribute: a transient NameID cannot link a user")
	}
	p, ok := presets[cfg.Preset]
	if !ok {
		return preset{}, fmt.Errorf("saml: unknown Preset %q", cfg.Preset)
	}
	if cfg.GroupFormat == "" {
		cfg.GroupFormat = p.format
	}
	var err error
	if cfg.GroupFormat, err = groups.ParseFormat(string(cfg.GroupFormat)); err != nil {
		return preset{}, fmt.Errorf("saml: GroupFormat: %w", err)
	}
	for name, d := range map[string]*time.Duration{
		"MetadataTimeout": &cfg.MetadataTimeout, "MetadataRefresh": &cfg.MetadataRefresh,
		"SessionLifetime": &cfg.SessionLifetime, "RequestTTL": &cfg.RequestTTL,
	} {
		if *d < 0 {
			return preset{}, fmt.Errorf("saml: negative %s %s", name, *d)
		}
	}
	if cfg.GroupLimit < 0 || cfg.MetadataMaxBytes < 0 || cfg.MaxBodyBytes < 0 {
		return preset{}, errors.New("saml: negative GroupLimit, MetadataMaxBytes or MaxBodyBytes")
	}
	cfg.MetadataTimeout = orDefault(cfg.MetadataTimeout, DefaultMetadataTimeout)
	cfg.MetadataRefresh = orDefault(cfg.MetadataRefresh, DefaultMetadataRefresh)
	cfg.SessionLifetime = orDefault(cfg.SessionLifetime, DefaultSessionLifetime)
	cfg.RequestTTL = orDefault(cfg.RequestTTL, DefaultRequestTTL)
	cfg.MetadataMaxBytes = orDefault(cfg.MetadataMaxBytes, DefaultMetadataMaxBytes)
	cfg.MaxBodyBytes = orDefault(cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	cfg.GroupLimit = orDefault(cfg.GroupLimit, groups.DefaultLimit)
	return p, nil
}

// Name returns the connection's name.
func (c *Connection) Name() string { return c.cfg.Name }

// Source returns the connection's source name, "saml:<Name>": the source of
// its links and, when it is the tenant's group source, of its groups.
func (c *Connection) Source() string { return c.source }

// LoadKeyPair parses a PEM certificate and its PEM private key (PKCS #1,
// PKCS #8 or EC) for Config.Key and Config.Certificate.
func LoadKeyPair(certPEM, keyPEM []byte) (crypto.Signer, *x509.Certificate, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("saml: key pair: %w", err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("saml: key pair: the key cannot sign")
	}
	return signer, pair.Leaf, nil
}

// newSP returns the crewjam ServiceProvider of the connection, without IdP
// metadata.
func (c *Connection) newSP() *crewjam.ServiceProvider {
	sp := &crewjam.ServiceProvider{
		EntityID:          c.cfg.EntityID,
		Key:               c.cfg.Key,
		Certificate:       c.cfg.Certificate,
		AcsURL:            c.acsURL,
		AuthnNameIDFormat: crewjam.NameIDFormat(c.cfg.NameIDFormat),
		// The wrapper decides about IdP-initiated responses itself (see
		// requestIDs): crewjam's switch would skip every InResponseTo check.
		AllowIDPInitiated: false,
		SignatureVerifier: verifier{allowSHA1: c.cfg.AllowSHA1},
	}
	if mdURL, err := url.Parse(c.cfg.EntityID); err == nil && mdURL.IsAbs() {
		sp.MetadataURL = *mdURL
	}
	if !c.cfg.UnsignedRequests {
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
		if _, ok := c.cfg.Key.Public().(*ecdsa.PublicKey); ok {
			sp.SignatureMethod = dsig.ECDSASHA256SignatureMethod
		}
	}
	return sp
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_.", r)) {
			return false
		}
	}
	return true
}

func orDefault[T int | int64 | time.Duration](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}

func publicKeyMatches(key crypto.Signer, cert *x509.Certificate) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

func httpsRedirectsOnly(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("saml: too many redirects")
	}
	if req.URL.Scheme != "https" {
		return errors.New("saml: redirect to a non-https URL")
	}
	return nil
}
