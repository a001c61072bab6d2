package saml

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// IdPInfo is what an admin checks of an IdP's metadata before trusting it:
// its entity ID, its single sign-on URL and its signing certificates.
type IdPInfo struct {
	EntityID     string
	SSOURL       string // the HTTP-Redirect binding's, else the first
	Certificates []CertificateInfo
}

// CertificateInfo describes one signing certificate of an IdP.
type CertificateInfo struct {
	Subject   string
	NotBefore time.Time
	NotAfter  time.Time
}

// ParseIdPMetadata reads IdP metadata as New does (an EntityDescriptor, or an
// EntitiesDescriptor with one IdP, or the one named entityID) and returns
// what it says. It refuses metadata New would refuse: a DOCTYPE, no
// entityID, no IDPSSODescriptor, no signing certificate, or a certificate
// that does not parse.
func ParseIdPMetadata(data []byte, entityID string) (IdPInfo, error) {
	ed, err := parseIdPMetadata(data, entityID)
	if err != nil {
		return IdPInfo{}, err
	}
	certs, err := idpCertificates(ed)
	if err != nil {
		return IdPInfo{}, err
	}
	info := IdPInfo{EntityID: ed.EntityID}
	for _, d := range ed.IDPSSODescriptors {
		for _, s := range d.SingleSignOnServices {
			if info.SSOURL == "" || s.Binding == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" {
				info.SSOURL = s.Location
			}
		}
	}
	for i, c := range certs {
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c), ""))
		if err != nil {
			return IdPInfo{}, fmt.Errorf("saml: IdP metadata: certificate %d: not base64", i+1)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return IdPInfo{}, fmt.Errorf("saml: IdP metadata: certificate %d: %w", i+1, err)
		}
		info.Certificates = append(info.Certificates, CertificateInfo{
			Subject: cert.Subject.String(), NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
		})
	}
	return info, nil
}
