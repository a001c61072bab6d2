package saml

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// Owners of a Certificate.
const (
	OwnerIdP = "idp" // a signing certificate of the IdP's metadata
	OwnerSP  = "sp"  // this SP's own certificate (Config.Certificate)
)

// Certificate is a certificate a connection depends on.
type Certificate struct {
	Owner    string // OwnerIdP or OwnerSP
	Subject  string
	NotAfter time.Time
}

// Health is what a connection knows of its own state, for the tenant's
// admin. The last success and failure of its sign-ins are in the diagnostics
// log (identity.LastAttempts).
type Health struct {
	// MetadataLoaded is when the IdP metadata in use was loaded; zero when
	// none is loaded yet (metadata from a URL is fetched on first use).
	MetadataLoaded time.Time
	// RefreshFailed and RefreshError say when and why the last refresh of
	// IdPMetadataURL failed: the metadata loaded before is kept. Zero after
	// a refresh that succeeded.
	RefreshFailed time.Time
	RefreshError  string
	// Certificates are the IdP's signing certificates (from the metadata in
	// use) and this SP's own, each with its expiry.
	Certificates []Certificate
}

// Health returns the connection's state now.
func (c *Connection) Health() Health {
	h := Health{Certificates: []Certificate{{OwnerSP, c.cfg.Certificate.Subject.String(), c.cfg.Certificate.NotAfter.UTC()}}}
	if st := c.idp.Load(); st != nil {
		h.MetadataLoaded, h.RefreshFailed, h.RefreshError = st.loaded, st.failed, st.failure
		h.Certificates = append(st.certs[:len(st.certs):len(st.certs)], h.Certificates...)
	}
	return h
}

// ExpiryThresholds are how long before a certificate's expiry
// CheckCertificates warns: 30 days, then 7 days.
var ExpiryThresholds = []time.Duration{30 * 24 * time.Hour, 7 * 24 * time.Hour}

// CertificateWarning says a certificate expires within Within (one of
// ExpiryThresholds; 0 when it has expired).
type CertificateWarning struct {
	Certificate
	Within time.Duration
}

// WarnAfterExpiry is how long after its expiry a certificate is still
// warned of by CheckCertificates (once, Within 0); after it, it is not, so
// that the record of the warnings sent can expire without the warning
// coming again (as settings.WarnAfterExpiry for package tenant's sweep).
const WarnAfterExpiry = 30 * 24 * time.Hour

// ReasonCertificateExpiring is the reason under which CheckCertificates
// records a warning in the diagnostics log (step "certificate").
const ReasonCertificateExpiring = "certificate_expiring"

// CheckCertificates returns the warnings newly due for the connection's
// certificates (see Health): for each certificate, the smallest threshold of
// ExpiryThresholds its expiry is within (or 0 once expired), once per
// certificate and threshold, remembered in keys as long as the certificate
// is warned of: not at all once it ended more than WarnAfterExpiry ago. A host's sweep calls it daily and turns each warning into its own
// event or mail; each is also recorded in the diagnostics log. It returns
// the warnings found before an error of keys.
func (c *Connection) CheckCertificates(ctx context.Context, keys identity.KeyStore) ([]CertificateWarning, error) {
	now := c.clock.Now()
	var out []CertificateWarning
	for _, cert := range c.Health().Certificates {
		left := cert.NotAfter.Sub(now)
		if -left > WarnAfterExpiry {
			continue
		}
		within := time.Duration(-1)
		for _, th := range ExpiryThresholds {
			if left <= th && (within < 0 || th < within) {
				within = th
			}
		}
		if left <= 0 {
			within = 0
		}
		if within < 0 {
			continue
		}
		key := fmt.Sprintf("saml/%s/certificate/%s/%d/%s", c.cfg.Name, cert.Owner, cert.NotAfter.Unix(), within)
		ok, err := keys.SetIfAbsent(ctx, key, nil, cert.NotAfter.Add(WarnAfterExpiry+24*time.Hour))
		if err != nil {
			return out, fmt.Errorf("saml: certificate warnings: %w", err)
		}
		if !ok {
			continue
		}
		w := CertificateWarning{Certificate: cert, Within: within}
		out = append(out, w)
		c.recordWarning(ctx, w)
	}
	return out, nil
}

func (c *Connection) recordWarning(ctx context.Context, w CertificateWarning) {
	if c.diag == nil {
		return
	}
	detail := fmt.Sprintf("the %s certificate %q expires at %s", w.Owner, w.Subject, w.NotAfter.Format(time.RFC3339))
	if w.Within == 0 {
		detail = fmt.Sprintf("the %s certificate %q expired at %s", w.Owner, w.Subject, w.NotAfter.Format(time.RFC3339))
	}
	if _, err := c.diag.RecordAttempt(ctx, identity.Attempt{
		Time: c.clock.Now(), Connection: c.source, Step: "certificate", Outcome: identity.OutcomeFailure,
		Reason: ReasonCertificateExpiring, Detail: detail,
	}); err != nil {
		c.logger.ErrorContext(ctx, "saml: record a certificate warning in the diagnostics log", "error", err)
	}
}

// refreshFailed keeps the metadata loaded and notes why a refresh failed;
// retry schedules the next try in a minute rather than on every request.
func (c *Connection) refreshFailed(ctx context.Context, err error, retry bool) {
	if st := c.idp.Load(); st != nil {
		next := *st
		next.failed, next.failure = c.clock.Now(), err.Error()
		if retry {
			next.expires = c.clock.Now().Add(time.Minute)
		}
		c.idp.Store(&next)
	}
	c.record(ctx, "metadata", &failure{ReasonMetadata, err}, "", "", "", "")
}

// parseCertificates reads base64 DER certificates of metadata; one that
// cannot be read is left out (it cannot verify a signature either).
func parseCertificates(owner string, b64 []string) []Certificate {
	var out []Certificate
	for _, s := range b64 {
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			continue
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		out = append(out, Certificate{Owner: owner, Subject: cert.Subject.String(), NotAfter: cert.NotAfter.UTC()})
	}
	return out
}
