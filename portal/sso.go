package portal

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/saml"
	"github.com/rollcall/rollcall/settings"
)

// samlView is a SAML connection as the SSO pages show it: no key, no secret.
type samlView struct {
	Name, Preset, IdPMetadataURL, IdPEntityID, GroupFormat string
	HasMetadataXML, SyncGroups                             bool
	// Draft: the connection is in the settings as a draft (test sign-ins
	// only, see settings.SAML.Draft).
	Draft     bool
	Endpoints SAMLEndpoints
	Guide     guide
	IdP       *saml.IdPInfo
	IdPError  string
}

type oauthView struct {
	Name, Kind, Issuer, Tenant, ClientID, RedirectURL, GroupFormat string
	SecretSet, SyncGroups, Draft                                   bool
}

type ssoData struct {
	Version     int64
	SSOOnly     bool
	GroupSource string
	SAML        []samlView
	OAuth       []oauthView
	SAMLGuides  []guide
	OAuthGuides []guide
	// CanTest shows the Test sign-in buttons of the OAuth providers.
	CanTest bool
}

type samlEditData struct {
	Version int64
	// New: the connection is not in the settings yet. Draft: the form shows
	// a draft kept over the live connection (KeyStore), which the live
	// connection does not use (Conn.Draft is a connection that is a draft
	// in the settings: built, test sign-ins only).
	New, Draft bool
	Conn       samlView
	Guides     []guide
	Expiring   time.Time // certificates expiring before it are flagged
	Health     *saml.Health
	Attempts   []identity.Attempt
	HasLog     bool
	// CanTest shows the Test sign-in button: the host can test, and the
	// runtime has the connection the form shows (active, or a draft in the
	// settings; not a draft over a live connection).
	CanTest bool
}

// samlDraft is what "Save as draft" keeps of a connection, in the tenant's
// KeyStore, until it is activated: the admin's choices, no key.
type samlDraft struct {
	Preset, IdPMetadata, IdPMetadataURL, IdPEntityID, GroupFormat string
	SyncGroups                                                    bool
}

const draftTTL = 30 * 24 * time.Hour

var connName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func draftKey(name string) string { return "portal:draft:saml:" + name }

func (h *Handler) view(c *call, s settings.SAML) samlView {
	v := samlView{Name: s.Name, Preset: s.Preset, IdPMetadataURL: s.IdPMetadataURL, IdPEntityID: s.IdPEntityID,
		GroupFormat: s.GroupFormat, HasMetadataXML: s.IdPMetadata != "", SyncGroups: s.SyncGroups,
		Draft: s.Draft, Guide: guideOfPreset(s.Preset)}
	if h.cfg.Endpoints != nil {
		v.Endpoints = h.cfg.Endpoints.SAML(c.dir().Tenant(), s.Name)
	}
	if s.EntityID != "" {
		v.Endpoints.EntityID, v.Endpoints.ACSURL = s.EntityID, s.ACSURL
	}
	if s.IdPMetadata != "" {
		info, err := saml.ParseIdPMetadata([]byte(s.IdPMetadata), s.IdPEntityID)
		if err != nil {
			v.IdPError = err.Error()
		} else {
			v.IdP = &info
		}
	}
	return v
}

func (h *Handler) ssoData(c *call) (any, error) {
	st, err := h.settingsOf(c)
	if err != nil {
		return nil, err
	}
	d := &ssoData{Version: st.Version, SSOOnly: st.Directory.SSOOnly, GroupSource: st.GroupSource(),
		SAMLGuides: samlGuides, OAuthGuides: oauthGuides, CanTest: h.cfg.TestSignIn != nil}
	for _, s := range st.SAML {
		d.SAML = append(d.SAML, h.view(c, s))
	}
	for _, o := range st.OAuth {
		v := oauthView{Name: o.Name, Kind: o.Kind, Issuer: o.Issuer, Tenant: o.Tenant, ClientID: o.ClientID,
			RedirectURL: o.RedirectURL, GroupFormat: o.GroupFormat, SecretSet: o.ClientSecret.IsSet(), SyncGroups: o.SyncGroups,
			Draft: o.Draft}
		d.OAuth = append(d.OAuth, v)
	}
	return d, nil
}

func (h *Handler) sso(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "Single sign-on")
	}
	d, err := h.ssoData(c)
	if err != nil {
		return err
	}
	p := c.page("Single sign-on", d)
	p.Notice = c.notice()
	h.render(c.w, c.r, http.StatusOK, "sso", p)
	return nil
}

// ssoOnly turns password login off or on again.
func (h *Handler) ssoOnly(c *call) error {
	on := c.r.PostFormValue("ssoOnly") == "on"
	_, err := h.update(c, func(s *settings.Settings) error {
		s.Directory.SSOOnly = on
		return nil
	})
	if ok, err := h.refused(c, err, "Single sign-on", "sso", func() (any, error) { return h.ssoData(c) }); ok || err != nil {
		return err
	}
	return c.see("/sso", "updated")
}

// samlConn returns the connection of the path: the stored one, with the
// draft over it when there is one.
func (h *Handler) samlConn(c *call) (settings.SAML, int64, bool, bool, error) {
	name := c.r.PathValue("name")
	if !connName.MatchString(name) {
		return settings.SAML{}, 0, false, false, errBadRequestf("a connection's name has 1 to 64 letters, digits, '-', '_' or '.'")
	}
	st, err := h.settingsOf(c)
	if err != nil {
		return settings.SAML{}, 0, false, false, err
	}
	conn, isNew := settings.SAML{Name: name}, true
	if s := st.SAMLConnection(name); s != nil {
		conn, isNew = *s, false
	}
	d, ok, err := h.readDraft(c, name)
	if err != nil {
		return settings.SAML{}, 0, false, false, err
	}
	if ok {
		d.apply(&conn)
	}
	return conn, st.Version, isNew, ok, nil
}

func (d samlDraft) apply(s *settings.SAML) {
	s.Preset, s.IdPMetadata, s.IdPMetadataURL, s.IdPEntityID = d.Preset, d.IdPMetadata, d.IdPMetadataURL, d.IdPEntityID
	s.GroupFormat, s.SyncGroups = d.GroupFormat, d.SyncGroups
}

// readDraft reads a draft: the KeyStore only takes, so it is put back.
func (h *Handler) readDraft(c *call, name string) (samlDraft, bool, error) {
	b, err := c.tenant.Keys.Take(c.ctx, draftKey(name))
	if errors.Is(err, identity.ErrNotFound) {
		return samlDraft{}, false, nil
	}
	if err != nil {
		return samlDraft{}, false, err
	}
	if _, err := c.tenant.Keys.SetIfAbsent(c.ctx, draftKey(name), b, h.clock.Now().Add(draftTTL)); err != nil {
		return samlDraft{}, false, err
	}
	var d samlDraft
	return d, json.Unmarshal(b, &d) == nil, nil
}

func (h *Handler) writeDraft(c *call, name string, d samlDraft) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if _, err := c.tenant.Keys.Take(c.ctx, draftKey(name)); err != nil && !errors.Is(err, identity.ErrNotFound) {
		return err
	}
	_, err = c.tenant.Keys.SetIfAbsent(c.ctx, draftKey(name), b, h.clock.Now().Add(draftTTL))
	return err
}

func (h *Handler) samlEditData(c *call, conn settings.SAML, version int64, isNew, draft bool) *samlEditData {
	v := h.view(c, conn)
	if id := c.r.URL.Query().Get("idp"); isNew && id != "" {
		v.Guide = findGuide(samlGuides, id)
		v.Preset = v.Guide.Preset
	}
	d := &samlEditData{Version: version, New: isNew, Draft: draft, Conn: v, Guides: samlGuides,
		Expiring: h.clock.Now().Add(30 * 24 * time.Hour)}
	d.Attempts, d.HasLog = h.recentAttempts(c, "saml:"+conn.Name), c.tenant.Attempts != nil
	d.CanTest = h.cfg.TestSignIn != nil && !isNew && !draft
	if h.cfg.SAMLHealth != nil && !isNew {
		if hl, ok := h.cfg.SAMLHealth(c.ctx, c.dir().Tenant(), conn.Name); ok {
			d.Health = &hl
		}
	}
	return d
}

func (h *Handler) samlPage(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "Single sign-on")
	}
	conn, version, isNew, draft, err := h.samlConn(c)
	if err != nil {
		return err
	}
	p := c.page("SAML connection "+conn.Name, h.samlEditData(c, conn, version, isNew, draft))
	p.Notice = c.notice()
	h.render(c.w, c.r, http.StatusOK, "saml", p)
	return nil
}

// samlForm reads the connection's form into a draft: the preset, the IdP
// metadata by URL, upload or pasted XML (checked by parsing it), group sync.
func samlForm(r *http.Request) (samlDraft, error) {
	var d samlDraft
	var err error
	if d.Preset, err = formText(r, "preset", 32); err != nil {
		return d, err
	}
	if !slices.ContainsFunc(samlGuides, func(g guide) bool { return g.Preset == d.Preset }) {
		return d, errBadRequestf("unknown attribute preset %q", d.Preset)
	}
	if d.IdPMetadataURL, err = formText(r, "metadataURL", 2048); err != nil {
		return d, err
	}
	if d.IdPEntityID, err = formText(r, "idpEntityID", 1024); err != nil {
		return d, err
	}
	d.SyncGroups = r.PostFormValue("syncGroups") == "on"
	if d.GroupFormat = r.PostFormValue("groupFormat"); !slices.Contains([]string{"", "dn", "list", "csv"}, d.GroupFormat) {
		return d, errBadRequestf("the group format is one of dn, list and csv")
	}
	xmlText, err := upload(r, "metadataFile", 1<<20)
	if err != nil {
		return d, err
	}
	if xmlText == nil {
		if pasted := r.PostFormValue("metadataXML"); pasted != "" {
			xmlText = []byte(pasted)
		}
	}
	if xmlText != nil {
		if _, err := saml.ParseIdPMetadata(xmlText, d.IdPEntityID); err != nil {
			return d, errBadRequestf("the IdP metadata was not accepted: %v", err)
		}
		d.IdPMetadata, d.IdPMetadataURL = string(xmlText), ""
	}
	return d, nil
}

// saveSAML saves a connection's form as a draft (action=draft: nothing
// changes for sign-ins) or activates it (written to the settings).
func (h *Handler) saveSAML(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "Single sign-on")
	}
	conn, version, isNew, draft, err := h.samlConn(c)
	if err != nil {
		return err
	}
	d, err := samlForm(c.r)
	if err == nil && d.IdPMetadata == "" && d.IdPMetadataURL == "" && conn.IdPMetadata != "" {
		d.IdPMetadata = conn.IdPMetadata // the stored XML stays unless replaced
	}
	again := func() (any, error) { return h.samlEditData(c, conn, version, isNew, draft), nil }
	if err != nil {
		_, err = h.refused(c, err, "SAML connection "+conn.Name, "saml", again)
		return err
	}
	asDraft := c.r.PostFormValue("action") == "draft"
	if asDraft && (!isNew && !conn.Draft || d.IdPMetadata == "" && d.IdPMetadataURL == "") {
		// A draft of a change to a live connection stays beside it; so does
		// a new one without the IdP's metadata yet, which would not build.
		if err := h.writeDraft(c, conn.Name, d); err != nil {
			return err
		}
		return c.see("/sso/saml/"+conn.Name, "draft")
	}
	// A new connection saved as a draft goes to the settings as one (its SP
	// key made, test sign-ins only); activating it keeps that key.
	_, err = h.update(c, func(s *settings.Settings) error {
		cur := s.SAMLConnection(conn.Name)
		if cur == nil {
			n := settings.SAML{Name: conn.Name}
			if h.cfg.Endpoints != nil {
				e := h.cfg.Endpoints.SAML(c.dir().Tenant(), conn.Name)
				n.EntityID, n.ACSURL = e.EntityID, e.ACSURL
			}
			s.SAML = append(s.SAML, n)
			cur = &s.SAML[len(s.SAML)-1]
		}
		d.apply(cur)
		cur.Draft = asDraft
		return nil
	})
	if ok, err := h.refused(c, err, "SAML connection "+conn.Name, "saml", again); ok || err != nil {
		return err
	}
	if _, err := c.tenant.Keys.Take(c.ctx, draftKey(conn.Name)); err != nil && !errors.Is(err, identity.ErrNotFound) {
		return err
	}
	if asDraft {
		return c.see("/sso/saml/"+conn.Name, "draft")
	}
	return c.see("/sso/saml/"+conn.Name, "activated")
}

// deleteSAML removes a connection (and its draft).
func (h *Handler) deleteSAML(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "Single sign-on")
	}
	name := c.r.PathValue("name")
	_, err := h.update(c, func(s *settings.Settings) error {
		n := len(s.SAML)
		s.SAML = slices.DeleteFunc(s.SAML, func(x settings.SAML) bool { return x.Name == name })
		if len(s.SAML) == n {
			return identity.ErrNotFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		return err
	}
	if _, err := c.tenant.Keys.Take(c.ctx, draftKey(name)); err != nil && !errors.Is(err, identity.ErrNotFound) {
		return err
	}
	return c.see("/sso", "deleted")
}

// newSAML sends the "add a connection" form to the connection's page.
func (h *Handler) newSAML(c *call) error {
	name, err := query(c.r, "name")
	if err != nil {
		return err
	}
	idp, err := query(c.r, "idp")
	if err != nil {
		return err
	}
	if !connName.MatchString(name) {
		return errBadRequestf("a connection's name has 1 to 64 letters, digits, '-', '_' or '.'")
	}
	http.Redirect(c.w, c.r, c.base+"/sso/saml/"+name+"?idp="+findGuide(samlGuides, idp).ID, http.StatusSeeOther)
	return nil
}

// saveOAuth adds or changes an OAuth provider: the client secret is
// write-only (left empty, the stored one stays).
func (h *Handler) saveOAuth(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "Single sign-on")
	}
	var o settings.OAuth
	var err error
	fields := map[string]*string{"name": &o.Name, "kind": &o.Kind, "issuer": &o.Issuer, "tenant": &o.Tenant,
		"clientID": &o.ClientID, "groupFormat": &o.GroupFormat}
	for name, dst := range fields {
		if *dst, err = formText(c.r, name, 1024); err != nil {
			return err
		}
	}
	secret := c.r.PostFormValue("clientSecret")
	o.SyncGroups = c.r.PostFormValue("syncGroups") == "on"
	o.Draft = c.r.PostFormValue("action") == "draft"
	if h.cfg.Endpoints != nil && o.Name != "" {
		o.RedirectURL = h.cfg.Endpoints.OAuthRedirect(c.dir().Tenant(), o.Name)
	}
	_, err = h.update(c, func(s *settings.Settings) error {
		cur := s.OAuthProvider(o.Name)
		if cur != nil && !cur.Draft && o.Draft {
			return errBadRequestf("%s is in use: saved as a draft it would stop signing anyone in. Test it as it is, "+
				"or add the change as a new provider under another name, test that, then activate it", o.Name)
		}
		if cur == nil {
			s.OAuth = append(s.OAuth, settings.OAuth{Name: o.Name})
			cur = &s.OAuth[len(s.OAuth)-1]
		}
		keep := cur.ClientSecret
		redirect := cur.RedirectURL
		*cur = o
		cur.ClientSecret = keep
		if secret != "" {
			cur.ClientSecret = settings.NewSecret([]byte(secret))
		}
		if cur.RedirectURL == "" {
			cur.RedirectURL = redirect
		}
		return nil
	})
	if ok, err := h.refused(c, err, "Single sign-on", "sso", func() (any, error) { return h.ssoData(c) }); ok || err != nil {
		return err
	}
	if o.Draft {
		return c.see("/sso", "draft")
	}
	return c.see("/sso", "updated")
}

// deleteOAuth removes an OAuth provider.
func (h *Handler) deleteOAuth(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "Single sign-on")
	}
	name := c.r.PathValue("name")
	_, err := h.update(c, func(s *settings.Settings) error {
		s.OAuth = slices.DeleteFunc(s.OAuth, func(x settings.OAuth) bool { return x.Name == name })
		return nil
	})
	if err != nil {
		return err
	}
	return c.see("/sso", "deleted")
}

// testSignIn starts a test sign-in of a connection the runtime has, active
// or a draft (form field "source": "saml:<name>" or "oauth:<name>"),
// through the host. The host answers with a redirect to the IdP, which the
// browser would not follow: the portal's form-action 'self' applies to a
// form's redirects too. So a redirect is answered as a page that goes on to
// the IdP (a meta refresh, and a link), with the host's cookies.
func (h *Handler) testSignIn(c *call) error {
	source := c.r.PostFormValue("source")
	kind, name, _ := strings.Cut(source, ":")
	if h.cfg.TestSignIn == nil || (kind != "saml" && kind != "oauth") || name == "" {
		return identity.ErrNotFound
	}
	rc := &redirectCatcher{ResponseWriter: c.w}
	h.cfg.TestSignIn(rc, c.r.WithContext(c.ctx), c.dir().Tenant(), source)
	if rc.location == "" {
		return nil
	}
	u, err := url.Parse(rc.location)
	local := err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(rc.location, "//")
	if err != nil || !local && ((u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		return fmt.Errorf("portal: test sign-in of %s: the host redirected to %q, not to an http(s) URL or a path", source, rc.location)
	}
	p := c.page("Test sign-in", u.String())
	p.Refresh = u.String()
	h.render(c.w, c.r, http.StatusOK, "continue", p)
	return nil
}

// redirectCatcher keeps a redirect (its Location) instead of sending it;
// any other answer goes through.
type redirectCatcher struct {
	http.ResponseWriter
	location string
}

func (rc *redirectCatcher) WriteHeader(code int) {
	if loc := rc.Header().Get("Location"); code >= 300 && code < 400 && loc != "" {
		rc.location = loc
		rc.Header().Del("Location")
		rc.Header().Del("Content-Type")
		return
	}
	rc.ResponseWriter.WriteHeader(code)
}

func (rc *redirectCatcher) Write(b []byte) (int, error) {
	if rc.location != "" {
		return len(b), nil // the body of the redirect
	}
	return rc.ResponseWriter.Write(b)
}
