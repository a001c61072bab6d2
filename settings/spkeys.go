package settings

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// The states of an SP key. A connection signs and decrypts with its active
// key; a next key is published in the metadata beside it so that IdPs learn
// it before it signs; a retired key is kept, unpublished, until pruned.
const (
	KeyActive  = "active"
	KeyNext    = "next"
	KeyRetired = "retired"
)

// SPKey is one key pair of a SAML connection.
type SPKey struct {
	ID string `json:"id"`
	// Certificate is the PEM certificate published in the metadata.
	Certificate string `json:"certificate"`
	// Key is the PEM private key: write-only, sealed at rest.
	Key      Secret    `json:"key"`
	Status   string    `json:"status"`
	NotAfter time.Time `json:"notAfter,omitzero"`
}

// DefaultKeyValidity is the validity of a generated SP certificate.
const DefaultKeyValidity = 2 * 365 * 24 * time.Hour

// GenerateSPKey returns a new RSA-2048 key pair with a self-signed
// certificate for the SP's entity ID, valid from now for validity (zero
// means DefaultKeyValidity), in status.
func GenerateSPKey(entityID, status string, now time.Time, validity time.Duration) (SPKey, error) {
	if validity <= 0 {
		validity = DefaultKeyValidity
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return SPKey{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return SPKey{}, err
	}
	cn := entityID
	if len(cn) > 64 {
		cn = cn[:64]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Minute).UTC(),
		NotAfter:     now.Add(validity).UTC(),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return SPKey{}, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return SPKey{}, err
	}
	return SPKey{
		ID:          identity.NewID(),
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Key:         NewSecret(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})),
		Status:      status,
		NotAfter:    tmpl.NotAfter.Truncate(time.Second),
	}, nil
}

// Key returns the connection's key in the status, or nil.
func (c *SAML) Key(status string) *SPKey {
	for i := range c.Keys {
		if c.Keys[i].Status == status {
			return &c.Keys[i]
		}
	}
	return nil
}

// EnsureKeys gives each SAML connection without keys a generated active key,
// and reports whether it made any.
func (s *Settings) EnsureKeys(now time.Time) (bool, error) {
	made := false
	for i := range s.SAML {
		c := &s.SAML[i]
		if len(c.Keys) > 0 {
			continue
		}
		k, err := GenerateSPKey(c.EntityID, KeyActive, now, 0)
		if err != nil {
			return made, err
		}
		c.Keys, made = []SPKey{k}, true
	}
	return made, nil
}

// StartRollover adds next as the connection's next key (a generated one when
// next is nil), published in the metadata from now on; it replaces a next
// key not yet promoted.
func (c *SAML) StartRollover(now time.Time, next *SPKey) error {
	if next == nil {
		k, err := GenerateSPKey(c.EntityID, KeyNext, now, 0)
		if err != nil {
			return err
		}
		next = &k
	}
	next.Status = KeyNext
	if next.NotAfter.IsZero() {
		if cert, err := parseCertificate(next.Certificate); err == nil {
			next.NotAfter = cert.NotAfter
		}
	}
	c.Keys = append(deleteStatus(c.Keys, KeyNext), *next)
	return nil
}

// CompleteRollover makes the next key active and the active one retired. It
// returns a *identity.ValidationError if there is no next key.
func (c *SAML) CompleteRollover() error {
	if c.Key(KeyNext) == nil {
		var v validation
		v.add("saml["+c.Name+"].keys", "no next key to promote: rotate first")
		return v.err()
	}
	c.Keys = deleteStatus(c.Keys, KeyRetired)
	for i := range c.Keys {
		switch c.Keys[i].Status {
		case KeyActive:
			c.Keys[i].Status = KeyRetired
		case KeyNext:
			c.Keys[i].Status = KeyActive
		}
	}
	return nil
}

// PruneRetired removes the connection's retired keys.
func (c *SAML) PruneRetired() { c.Keys = deleteStatus(c.Keys, KeyRetired) }

func deleteStatus(keys []SPKey, status string) []SPKey {
	out := keys[:0:0]
	for _, k := range keys {
		if k.Status != status {
			out = append(out, k)
		}
	}
	return out
}

// Warning thresholds of CertificateWarnings.
var WarnBefore = []time.Duration{30 * 24 * time.Hour, 7 * 24 * time.Hour}

// CertificateWarning is a certificate of a SAML connection that expires
// soon.
type CertificateWarning struct {
	// Source is the connection's source, "saml:<name>".
	Source string
	// Certificate is "sp:<key ID>" or "idp:<index in the metadata>".
	Certificate string
	NotAfter    time.Time
	// Within is the threshold crossed: 30 or 7 days (or less, once expired).
	Within time.Duration
}

// Event returns the CertificateExpiring event of the warning.
func (w CertificateWarning) Event(tenant string, now time.Time) identity.Event {
	return identity.Event{
		Type: CertificateExpiring, Tenant: tenant, Source: w.Source, Time: now,
		Fields: []string{w.Certificate, "notAfter=" + w.NotAfter.UTC().Format(time.RFC3339),
			fmt.Sprintf("within=%dd", int(w.Within/(24*time.Hour)))},
	}
}

// WarnAfterExpiry is how long after its expiry a certificate is still
// warned of (with the smallest threshold); after it, it is not, so that a
// sweep's record of the warnings sent can expire.
const WarnAfterExpiry = 30 * 24 * time.Hour

// WarningAt returns the warning due at now for a certificate of the source
// ("saml:<name>") that ends at notAfter, with the smallest of the WarnBefore
// thresholds its expiry is within; false when it is within none, or ended
// more than WarnAfterExpiry ago. which names
// the certificate: "sp:<key ID>", "idp:<index in the metadata>".
func WarningAt(source, which string, notAfter, now time.Time) (CertificateWarning, bool) {
	if now.Sub(notAfter) > WarnAfterExpiry {
		return CertificateWarning{}, false
	}
	var within time.Duration
	for _, d := range WarnBefore {
		if notAfter.Sub(now) <= d && (within == 0 || d < within) {
			within = d
		}
	}
	if within == 0 {
		return CertificateWarning{}, false
	}
	return CertificateWarning{Source: source, Certificate: which, NotAfter: notAfter, Within: within}, true
}

// CertificateWarnings lists the SP certificates (active and next keys) and
// the IdP certificates of static IdP metadata that expire within one of the
// WarnBefore thresholds from now, with the smallest threshold crossed (see
// WarningAt: not those expired more than WarnAfterExpiry ago). A host sends
// each once (see package tenant's sweep).
func (s *Settings) CertificateWarnings(now time.Time) []CertificateWarning {
	var out []CertificateWarning
	add := func(src, which string, notAfter time.Time) {
		if w, ok := WarningAt(src, which, notAfter, now); ok {
			out = append(out, w)
		}
	}
	for _, c := range s.SAML {
		src := "saml:" + c.Name
		for _, k := range c.Keys {
			if k.Status == KeyRetired {
				continue
			}
			if cert, err := parseCertificate(k.Certificate); err == nil {
				add(src, "sp:"+k.ID, cert.NotAfter)
			}
		}
		for i, cert := range idpCertificates(c.IdPMetadata) {
			add(src, fmt.Sprintf("idp:%d", i), cert.NotAfter)
		}
	}
	return out
}

// idpCertificates returns the certificates of IdP metadata XML, the ones it
// can parse.
func idpCertificates(metadata string) []*x509.Certificate {
	var out []*x509.Certificate
	d := xml.NewDecoder(strings.NewReader(metadata))
	for {
		tok, err := d.Token()
		if err != nil {
			return out
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "X509Certificate" {
			continue
		}
		var text string
		if d.DecodeElement(&text, &se) != nil {
			return out
		}
		der, err := decodeBase64(text)
		if err != nil {
			continue
		}
		if cert, err := x509.ParseCertificate(der); err == nil {
			out = append(out, cert)
		}
	}
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}
