package settings

import (
	"crypto"
	"crypto/subtle"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// validation collects field errors into an *identity.ValidationError.
type validation struct{ e identity.ValidationError }

func (v *validation) add(field, format string, args ...any) {
	v.e.Add(field, fmt.Sprintf(format, args...))
}

func (v *validation) err() error {
	if len(v.e.Fields) == 0 {
		return nil
	}
	e := v.e
	return &e
}

func subtleEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// NameID formats a SAML connection may ask for.
var nameIDFormats = []string{
	"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
	"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
	"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
	"urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
}

// samlPresets are the presets of package saml.
var samlPresets = []string{"", "entra", "adfs", "google", "keycloak", "okta", "akamai", "ping"}

var (
	samlName  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	oauthName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// Validate checks every field of s and returns a *identity.ValidationError
// (errors.Is ErrInvalid) naming each invalid one: "saml[0].acsURL",
// "oauth[1].clientID", "google.admin"... It is also where the rule of one
// group source per tenant is checked: a second source set to sync groups is
// an error on the field "groupSource" naming both. A secret given as a
// sealed value is refused: a client sends values, never what a Store keeps.
func (s *Settings) Validate() error {
	var v validation
	if s.Directory.GroupLimit < 0 {
		v.add("directory.groupLimit", "must not be negative")
	}
	if s.Directory.InvitationTTL < 0 {
		v.add("directory.invitationTTL", "must not be negative")
	}
	names := make(map[string]bool)
	for i := range s.SAML {
		s.SAML[i].validate(&v, fmt.Sprintf("saml[%d]", i), names)
	}
	names = make(map[string]bool)
	for i := range s.OAuth {
		s.OAuth[i].validate(&v, fmt.Sprintf("oauth[%d]", i), names)
	}
	if c := s.SCIM; c != nil && (c.MaxBodyBytes < 0 || c.MaxResults < 0) {
		v.add("scim", "maxBodyBytes and maxResults must not be negative")
	}
	if s.Google != nil {
		s.Google.validate(&v)
	}
	im := s.Import
	if im.MaxFileSize < 0 || im.MaxRows < 0 || im.MaxUncompressed < 0 || im.Threshold < 0 {
		v.add("import", "maxFileSize, maxRows, maxUncompressed and threshold must not be negative")
	}
	s.Diagnostics.validate(&v)
	for _, r := range s.secrets() {
		if r.s.sealed != "" {
			v.add(r.path, "a sealed value is not accepted: give the value")
		}
	}
	if src := s.groupSources(); len(src) > 1 {
		v.add("groupSource", "only one group source per tenant: %q (%s) and %q (%s) both sync groups",
			src[0].name, src[0].field, src[1].name, src[1].field)
	}
	return v.err()
}

func (d Diagnostics) validate(v *validation) {
	if d.MaxAge < 0 || d.MaxAge.D() > MaxDiagnosticsAge || d.MaxAge > 0 && d.MaxAge.D() < time.Minute {
		v.add("diagnostics.maxAge", "want a duration from 1m to 8760h (365 days), or 0 for the default of 7 days")
	}
	if d.MaxEntries < 0 || d.MaxEntries > MaxDiagnosticsEntries {
		v.add("diagnostics.maxEntries", "want 1 to %d entries, or 0 for the default of 10000", MaxDiagnosticsEntries)
	}
}

type groupSource struct{ name, field string }

// groupSources lists the sources s sets to sync groups, in a fixed order.
func (s *Settings) groupSources() []groupSource {
	var out []groupSource
	if s.SCIM != nil && s.SCIM.Enabled && s.SCIM.SyncGroups {
		out = append(out, groupSource{groups.SourceSCIM, "scim.syncGroups"})
	}
	if s.Google != nil && s.Google.Enabled {
		out = append(out, groupSource{groups.SourceGoogle, "google.enabled"})
	}
	for i, c := range s.SAML {
		if c.SyncGroups {
			out = append(out, groupSource{groups.SAMLSource(c.Name), fmt.Sprintf("saml[%d].syncGroups", i)})
		}
	}
	for i, c := range s.OAuth {
		if c.SyncGroups {
			out = append(out, groupSource{"oauth:" + c.Name, fmt.Sprintf("oauth[%d].syncGroups", i)})
		}
	}
	return out
}

func (c *SAML) validate(v *validation, f string, names map[string]bool) {
	switch {
	case !samlName.MatchString(c.Name):
		v.add(f+".name", "want 1 to 64 letters, digits, '-', '_' or '.'")
	case names[c.Name]:
		v.add(f+".name", "another SAML connection has the name %q", c.Name)
	}
	names[c.Name] = true
	if (c.IdPMetadata == "") == (c.IdPMetadataURL == "") {
		v.add(f+".idpMetadata", "want exactly one of idpMetadata and idpMetadataURL")
	}
	if c.IdPMetadataURL != "" && !absURL(c.IdPMetadataURL, "https") {
		v.add(f+".idpMetadataURL", "want an absolute https URL")
	}
	if c.EntityID == "" {
		v.add(f+".entityID", "required")
	}
	if !absURL(c.ACSURL, "https", "http") {
		v.add(f+".acsURL", "want an absolute http(s) URL")
	}
	if !contains(samlPresets, c.Preset) {
		v.add(f+".preset", "unknown preset %q", c.Preset)
	}
	if c.NameIDFormat != "" && !contains(nameIDFormats, c.NameIDFormat) {
		v.add(f+".nameIDFormat", "want one of the persistent, unspecified, emailAddress or transient URNs")
	}
	if c.NameIDFormat == nameIDFormats[3] && c.SubjectAttribute == "" {
		v.add(f+".subjectAttribute", "a transient nameIDFormat needs a subjectAttribute")
	}
	if c.GroupFormat != "" {
		if _, err := groups.ParseFormat(c.GroupFormat); err != nil {
			v.add(f+".groupFormat", "%v", err)
		}
	}
	for name, d := range map[string]Duration{"metadataTimeout": c.MetadataTimeout, "metadataRefresh": c.MetadataRefresh,
		"sessionLifetime": c.SessionLifetime, "requestTTL": c.RequestTTL} {
		if d < 0 {
			v.add(f+"."+name, "must not be negative")
		}
	}
	for name, n := range map[string]int64{"groupLimit": int64(c.GroupLimit), "metadataMaxBytes": c.MetadataMaxBytes, "maxBodyBytes": c.MaxBodyBytes} {
		if n < 0 {
			v.add(f+"."+name, "must not be negative")
		}
	}
	validateKeys(v, f, c.Keys)
}

// validateKeys checks a connection's SP keys: unique IDs, a PEM certificate
// each, a key that matches it when given, one active key at most and one
// next key at most.
func validateKeys(v *validation, f string, keys []SPKey) {
	ids := make(map[string]bool)
	count := make(map[string]int)
	for j, k := range keys {
		kf := fmt.Sprintf("%s.keys[%d]", f, j)
		if !validKeyID.MatchString(k.ID) || ids[k.ID] {
			v.add(kf+".id", "want a unique ID of letters, digits, '.', '_' or '-'")
		}
		ids[k.ID] = true
		switch k.Status {
		case KeyActive, KeyNext, KeyRetired:
			count[k.Status]++
		default:
			v.add(kf+".status", "want %q, %q or %q", KeyActive, KeyNext, KeyRetired)
		}
		cert, err := parseCertificate(k.Certificate)
		if err != nil {
			v.add(kf+".certificate", "%v", err)
			continue
		}
		if !k.Key.IsSet() && k.Status != KeyRetired {
			v.add(kf+".key", "required")
		}
		if len(k.Key.value) > 0 {
			signer, err := parsePrivateKey(k.Key.value)
			if err != nil {
				v.add(kf+".key", "%v", err)
			} else if !publicKeyMatches(signer, cert) {
				v.add(kf+".key", "does not match the certificate")
			}
		}
	}
	if count[KeyActive] > 1 || count[KeyNext] > 1 {
		v.add(f+".keys", "want at most one active and one next key")
	}
	if len(keys) > 0 && count[KeyActive] == 0 {
		v.add(f+".keys", "want an active key")
	}
}

func (c *OAuth) validate(v *validation, f string, names map[string]bool) {
	switch {
	case !oauthName.MatchString(c.Name):
		v.add(f+".name", "want lower-case letters, digits, '.', '_' and '-', at most 64")
	case names[c.Name]:
		v.add(f+".name", "another OAuth provider has the name %q", c.Name)
	}
	names[c.Name] = true
	c.validateKind(v, f)
	if c.IssuerPattern != "" {
		if _, err := regexp.Compile(c.IssuerPattern); err != nil {
			v.add(f+".issuerPattern", "%v", err)
		}
	}
	for name, u := range map[string]string{"authURL": c.AuthURL, "tokenURL": c.TokenURL, "userInfoURL": c.UserInfoURL, "jwksURL": c.JWKSURL} {
		if u != "" && !absURL(u, "https", "http") {
			v.add(f+"."+name, "want an absolute URL")
		}
	}
	if !contains([]string{"", "header", "params"}, c.AuthStyle) {
		v.add(f+".authStyle", "want \"header\", \"params\" or empty")
	}
	if c.ClientID == "" {
		v.add(f+".clientID", "required")
	}
	if !absURL(c.RedirectURL, "https", "http") {
		v.add(f+".redirectURL", "want an absolute URL")
	}
	for j, d := range c.AllowedDomains {
		if d = strings.TrimSpace(d); d == "" || strings.ContainsAny(d, "@/ ") {
			v.add(fmt.Sprintf("%s.allowedDomains[%d]", f, j), "not a domain")
		}
	}
	for j, u := range c.ReturnURLs {
		if !absURL(u, "https", "http") {
			v.add(fmt.Sprintf("%s.returnURLs[%d]", f, j), "want an absolute URL")
		}
	}
	if c.LoginTTL < 0 {
		v.add(f+".loginTTL", "must not be negative")
	}
	if c.GroupFormat != "" {
		if _, err := groups.ParseFormat(c.GroupFormat); err != nil {
			v.add(f+".groupFormat", "%v", err)
		}
	}
}

// validateKind checks the fields that depend on the provider's kind.
func (c *OAuth) validateKind(v *validation, f string) {
	switch c.Kind {
	case KindOIDC:
		if !absURL(c.Issuer, "https", "http") {
			v.add(f+".issuer", "want an absolute URL")
		}
	case KindMicrosoft:
		if c.Tenant == "" {
			v.add(f+".tenant", "required for Microsoft: a tenant ID, \"common\", \"organizations\" or \"consumers\"")
		}
		if (c.Tenant == "common" || c.Tenant == "organizations") && len(c.AllowedTenants) == 0 {
			v.add(f+".allowedTenants", "a multi-tenant Microsoft provider needs allowedTenants")
		}
	case KindGoogle, KindWebex:
	default:
		v.add(f+".kind", "want %q, %q, %q or %q", KindGoogle, KindMicrosoft, KindWebex, KindOIDC)
	}
	if c.Kind != KindMicrosoft && len(c.AllowedTenants) > 0 {
		v.add(f+".allowedTenants", "for Microsoft only")
	}
}

func (g *Google) validate(v *validation) {
	if g.Enabled && !g.KeyJSON.IsSet() {
		v.add("google.keyJSON", "required")
	}
	if g.Enabled && !strings.Contains(g.Admin, "@") {
		v.add("google.admin", "want the email of a Workspace admin")
	}
	if g.Customer != "" && g.Domain != "" {
		v.add("google.domain", "want at most one of customer and domain")
	}
	if g.Endpoint != "" && !absURL(g.Endpoint, "https", "http") {
		v.add("google.endpoint", "want an absolute URL")
	}
	if _, err := path.Match(g.GroupFilter, ""); err != nil {
		v.add("google.groupFilter", "%v", err)
	}
	for name, p := range map[string]string{"customerMembers": g.CustomerMembers, "externalMembers": g.ExternalMembers} {
		if !contains([]string{"", PolicySkip, PolicyInclude, PolicyRefuse}, p) {
			v.add("google."+name, "want %q, %q or %q", PolicySkip, PolicyInclude, PolicyRefuse)
		}
	}
	if !contains([]string{"", PolicyDeactivate, PolicyIgnore}, g.Suspended) {
		v.add("google.suspended", "want %q or %q", PolicyDeactivate, PolicyIgnore)
	}
	if g.MaxRemove < 0 || g.Concurrency < 0 {
		v.add("google", "maxRemove and concurrency must not be negative")
	}
	if g.MinBackoff < 0 || g.MaxBackoff < 0 || g.Interval < 0 {
		v.add("google", "minBackoff, maxBackoff and interval must not be negative")
	}
}

func absURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Host != "" && contains(schemes, u.Scheme)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func parseCertificate(p string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("want a PEM CERTIFICATE")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parsePrivateKey(p []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(p)
	if block == nil {
		return nil, fmt.Errorf("want a PEM private key")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("private key: %v", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("the private key cannot sign")
	}
	return signer, nil
}

func publicKeyMatches(key crypto.Signer, cert *x509.Certificate) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}
