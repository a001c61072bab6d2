package saml

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"

	crewjam "github.com/crewjam/saml"
	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// Metadata returns this SP's metadata: its entity ID, ACS URL (HTTP-POST),
// certificate (for signing and encryption) and the NameID format it asks for.
//
// Its validUntil is the certificate's NotAfter. An IdP that imports the file
// once and honours validUntil (AD FS, Shibboleth) keeps the SP as long as the
// key it publishes is valid; crewjam's default, two days, would drop the SP
// after two days, and leaving validUntil out would let the metadata outlive
// its certificate. A new certificate means new metadata to import anyway.
func (c *Connection) Metadata() ([]byte, error) {
	md := c.newSP().Metadata()
	// crewjam set validUntil from its global clock and DefaultValidDuration.
	until := c.cfg.Certificate.NotAfter.UTC()
	md.ValidUntil = until
	for i := range md.SPSSODescriptors {
		md.SPSSODescriptors[i].ValidUntil = &until
		// Only the POST binding is served: drop crewjam's artifact endpoint.
		acs := md.SPSSODescriptors[i].AssertionConsumerServices[:0]
		for _, e := range md.SPSSODescriptors[i].AssertionConsumerServices {
			if e.Binding == crewjam.HTTPPostBinding {
				acs = append(acs, e)
			}
		}
		md.SPSSODescriptors[i].AssertionConsumerServices = acs
		if next := c.cfg.NextCertificate; next != nil {
			kd := crewjam.KeyDescriptor{Use: "signing"}
			kd.KeyInfo.X509Data.X509Certificates = []crewjam.X509Certificate{{Data: base64.StdEncoding.EncodeToString(next.Raw)}}
			md.SPSSODescriptors[i].KeyDescriptors = append(md.SPSSODescriptors[i].KeyDescriptors, kd)
		}
	}
	b, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("saml: metadata: %w", err)
	}
	return append([]byte(xml.Header), b...), nil
}

// Refresh fetches the IdP metadata from IdPMetadataURL now and uses it from
// now on. It returns an error, and keeps the metadata it had, if the fetch
// fails or the metadata is invalid or names another IdP than the one pinned.
// For static metadata it does nothing.
func (c *Connection) Refresh(ctx context.Context) error {
	if c.cfg.IdPMetadataURL == "" {
		return nil
	}
	c.fetching.Lock()
	defer c.fetching.Unlock()
	err := c.fetch(ctx)
	if err != nil {
		c.refreshFailed(ctx, err, false)
	}
	return err
}

// provider returns the crewjam SP with current IdP metadata: it fetches the
// metadata if none is loaded, or refreshes it if stale (keeping the old one,
// with a warning, if that fails; only one caller refreshes, the others use
// the old metadata meanwhile).
func (c *Connection) provider(ctx context.Context) (*idpState, error) {
	st := c.idp.Load()
	if st != nil && (st.expires.IsZero() || c.clock.Now().Before(st.expires)) {
		return st, nil
	}
	if st == nil {
		c.fetching.Lock()
		defer c.fetching.Unlock()
		if st = c.idp.Load(); st != nil {
			return st, nil
		}
		if err := c.fetch(ctx); err != nil {
			return nil, err
		}
		return c.idp.Load(), nil
	}
	if c.fetching.TryLock() {
		defer c.fetching.Unlock()
		if err := c.fetch(ctx); err != nil {
			c.logger.WarnContext(ctx, "saml: IdP metadata refresh failed; keeping the metadata loaded", "loaded", st.loaded, "error", err)
			// Try again after a minute rather than on every request.
			c.refreshFailed(ctx, err, true)
		}
		return c.idp.Load(), nil
	}
	return st, nil
}

// fetch loads the metadata from the URL; the caller holds c.fetching.
func (c *Connection) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.MetadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.IdPMetadataURL, nil)
	if err != nil {
		return fmt.Errorf("saml: IdP metadata: %w", err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("saml: fetch IdP metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("saml: fetch IdP metadata: status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MetadataMaxBytes+1))
	if err != nil {
		return fmt.Errorf("saml: fetch IdP metadata: %w", err)
	}
	if int64(len(body)) > c.cfg.MetadataMaxBytes {
		return fmt.Errorf("saml: IdP metadata is larger than %d bytes", c.cfg.MetadataMaxBytes)
	}
	st, err := c.load(body)
	if err != nil {
		return err
	}
	st.expires = st.loaded.Add(c.cfg.MetadataRefresh)
	c.idp.Store(st)
	return nil
}

// load parses IdP metadata and builds the crewjam SP on it. The first
// entityID loaded is pinned unless Config.IdPEntityID pinned one.
func (c *Connection) load(data []byte) (*idpState, error) {
	md, err := parseIdPMetadata(data, c.pinnedEntity())
	if err != nil {
		return nil, err
	}
	if pin := c.pinnedEntity(); pin != "" && md.EntityID != pin {
		return nil, fmt.Errorf("saml: IdP metadata names entity %q, not the pinned %q", md.EntityID, pin)
	}
	sp := c.newSP()
	sp.IDPMetadata = md
	sso := sp.GetSSOBindingLocation(crewjam.HTTPRedirectBinding)
	if sso == "" {
		return nil, errors.New("saml: IdP metadata has no SingleSignOnService with the HTTP-Redirect binding")
	}
	certs, err := idpCertificates(md)
	if err != nil {
		return nil, err
	}
	entity := md.EntityID
	c.pinned.CompareAndSwap(nil, &entity)
	return &idpState{sp: sp, loaded: c.clock.Now(), entity: md.EntityID, ssoURL: sso, certs: parseCertificates(OwnerIdP, certs)}, nil
}

func (c *Connection) pinnedEntity() string {
	if p := c.pinned.Load(); p != nil {
		return *p
	}
	return ""
}

// parseIdPMetadata reads an EntityDescriptor, or an EntitiesDescriptor from
// which it takes the IdP named want (or the only IdP if want is empty).
func parseIdPMetadata(data []byte, want string) (*crewjam.EntityDescriptor, error) {
	if err := checkXML(data); err != nil {
		return nil, fmt.Errorf("saml: IdP metadata: %w", err)
	}
	var ed crewjam.EntityDescriptor
	err := xml.Unmarshal(data, &ed)
	if err != nil {
		var set crewjam.EntitiesDescriptor
		if err2 := xml.Unmarshal(data, &set); err2 != nil {
			return nil, fmt.Errorf("saml: IdP metadata: %w", err)
		}
		var found []*crewjam.EntityDescriptor
		var walk func(s *crewjam.EntitiesDescriptor)
		walk = func(s *crewjam.EntitiesDescriptor) {
			for i := range s.EntityDescriptors {
				e := &s.EntityDescriptors[i]
				if len(e.IDPSSODescriptors) > 0 && (want == "" || e.EntityID == want) {
					found = append(found, e)
				}
			}
			for i := range s.EntitiesDescriptors {
				walk(&s.EntitiesDescriptors[i])
			}
		}
		walk(&set)
		if len(found) != 1 {
			return nil, fmt.Errorf("saml: IdP metadata: an EntitiesDescriptor with %d matching IdPs; set IdPEntityID", len(found))
		}
		ed = *found[0]
	}
	if ed.EntityID == "" {
		return nil, errors.New("saml: IdP metadata has no entityID")
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return nil, errors.New("saml: IdP metadata has no IDPSSODescriptor")
	}
	return &ed, nil
}

// idpCertificates returns the signing certificates of the metadata.
func idpCertificates(md *crewjam.EntityDescriptor) ([]string, error) {
	var certs []string
	for _, d := range md.IDPSSODescriptors {
		for _, k := range d.KeyDescriptors {
			if k.Use != "" && k.Use != "signing" {
				continue
			}
			for _, c := range k.KeyInfo.X509Data.X509Certificates {
				if c.Data != "" {
					certs = append(certs, c.Data)
				}
			}
		}
	}
	if len(certs) == 0 {
		return nil, errors.New("saml: IdP metadata has no signing certificate")
	}
	return certs, nil
}

// checkXML refuses what the parsers should never see: a DOCTYPE (or any
// other directive) and XML that does not survive a round trip through
// encoding/xml (the mattermost validator).
func checkXML(data []byte) error {
	if bytes.Contains(data, []byte("<!")) {
		d := xml.NewDecoder(bytes.NewReader(data))
		for {
			tok, err := d.RawToken()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("invalid xml: %w", err)
			}
			if _, ok := tok.(xml.Directive); ok {
				return errDOCTYPE
			}
		}
	}
	if err := xrv.Validate(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("invalid xml: %w", err)
	}
	return nil
}

var errDOCTYPE = errors.New("a DOCTYPE or other directive is not allowed")
