// Package samltest runs a SAML 2.0 identity provider on loopback for tests:
// crewjam/saml's IdentityProvider with a login form (user name and
// password), signed assertions and a memberOf attribute.
//
// It is an IdP a browser can use, so that a test drives a real sign-in end
// to end: the SP's AuthnRequest (HTTP-Redirect), the login page, the signed
// (and, when the SP publishes an encryption key, encrypted) response posted
// to the ACS by the page's form. Login does the same without a browser.
//
// Like a real IdP it is set up once per SP: the first AuthnRequest of an
// entity ID fetches the SP's metadata from the entity ID (when it is an
// http(s) URL), and that copy is kept, so a test can check that an SP whose
// settings change keeps working with the IdP as it was set up. Register
// metadata ahead with AddServiceProvider instead.
//
// crewjam's IdP tells the time by its package clock (saml.TimeNow): use it
// with a real clock, not a pinned one.
package samltest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// User is a person who can sign in at the IdP.
type User struct {
	// Name and Password are what the login form asks for. Name is also the
	// uid attribute and, when NameID is empty, the NameID.
	Name, Password string
	// NameID is the persistent NameID sent as the subject; empty means Name.
	NameID string
	// Email, GivenName and FamilyName are sent as mail, givenName and sn.
	Email, GivenName, FamilyName string
	// Groups are sent in the memberOf attribute, one value each: as they
	// are, or as LDAP DNs when Config.DNGroups.
	Groups []string
}

// Config configures an IdP.
type Config struct {
	// Users are the people who can sign in.
	Users []User
	// DNGroups sends each group as an LDAP DN, "CN=<name>,OU=Groups,
	// DC=example,DC=test" with a comma in the name escaped, as AD FS does;
	// false sends the plain names (Keycloak, Okta).
	DNGroups bool
	// HTTPClient fetches SP metadata; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// IdP is a running identity provider. Its methods are safe for concurrent
// use.
type IdP struct {
	// URL is the server's base URL; MetadataURL (also its entity ID) and
	// SSOURL its endpoints.
	URL, MetadataURL, SSOURL string

	cfg Config
	idp *crewjam.IdentityProvider
	srv *httptest.Server

	mu     sync.Mutex
	sps    map[string]*crewjam.EntityDescriptor
	logins int
}

// Start runs an IdP on loopback until the test ends, with a new RSA key and
// a self-signed certificate valid from an hour ago for a year. It fails the
// test if it cannot.
func Start(t testing.TB, cfg Config) *IdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "samltest IdP"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &IdP{cfg: cfg, sps: map[string]*crewjam.EntityDescriptor{}}
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	p.URL = p.srv.URL
	p.MetadataURL, p.SSOURL = p.URL+"/metadata", p.URL+"/sso"
	md, _ := url.Parse(p.MetadataURL)
	sso, _ := url.Parse(p.SSOURL)
	p.idp = &crewjam.IdentityProvider{
		Key: key, Signer: key, Certificate: cert, MetadataURL: *md, SSOURL: *sso,
		Logger:                  log.New(testWriter{t}, "samltest: ", 0),
		ServiceProviderProvider: p, SessionProvider: p, AssertionMaker: p,
		SignatureMethod: dsig.RSASHA256SignatureMethod,
	}
	mux.HandleFunc("GET /metadata", p.idp.ServeMetadata)
	mux.HandleFunc("/sso", p.idp.ServeSSO)
	return p
}

// testWriter sends crewjam's log to the test's.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// Metadata returns the IdP's metadata (an EntityDescriptor), as served at
// MetadataURL.
func (p *IdP) Metadata() []byte {
	b, err := xml.MarshalIndent(p.idp.Metadata(), "", "  ")
	if err != nil {
		panic(err) // a struct of crewjam's own always marshals
	}
	return b
}

// WriteMetadata writes the IdP's metadata to a file in dir and returns its
// path, for a form's file upload.
func (p *IdP) WriteMetadata(t testing.TB, dir string) string {
	t.Helper()
	path := dir + "/samltest-idp-metadata.xml"
	if err := os.WriteFile(path, p.Metadata(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// AddServiceProvider registers an SP's metadata under its entity ID: it
// replaces what a request of that entity ID would fetch.
func (p *IdP) AddServiceProvider(metadata []byte) error {
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(metadata, &ed); err != nil {
		return fmt.Errorf("samltest: SP metadata: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sps[ed.EntityID] = &ed
	return nil
}

// Logins returns how many logins the IdP has answered with an assertion.
func (p *IdP) Logins() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logins
}

// GetServiceProvider implements crewjam.ServiceProviderProvider: the
// registered metadata of the entity ID, else fetched from it once.
func (p *IdP) GetServiceProvider(_ *http.Request, id string) (*crewjam.EntityDescriptor, error) {
	p.mu.Lock()
	ed := p.sps[id]
	p.mu.Unlock()
	if ed != nil {
		return ed, nil
	}
	if !strings.HasPrefix(id, "http://") && !strings.HasPrefix(id, "https://") {
		return nil, os.ErrNotExist
	}
	c := p.cfg.HTTPClient
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(id)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("samltest: SP metadata %s: %s", id, resp.Status)
	}
	if err := p.AddServiceProvider(b); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ed = p.sps[id]; ed == nil {
		return nil, fmt.Errorf("samltest: the metadata at %s names another entity ID", id)
	}
	return ed, nil
}

var loginPage = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>samltest IdP: sign in</title></head>
<body><h1>Sign in to the test IdP</h1>
{{if .Error}}<p id="idp-error">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="SAMLRequest" value="{{.Request}}">
<input type="hidden" name="RelayState" value="{{.RelayState}}">
<p><label for="username">User name</label> <input id="username" name="username" autocomplete="username"></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password"></p>
<p><button type="submit" id="idp-signin">Sign in</button></p>
</form></body></html>
`))

// GetSession implements crewjam.SessionProvider: the login form, and the
// session of the user whose name and password it posted.
func (p *IdP) GetSession(w http.ResponseWriter, r *http.Request, req *crewjam.IdpAuthnRequest) *crewjam.Session {
	data := struct{ Action, Request, RelayState, Error string }{
		Action: p.SSOURL, Request: base64.StdEncoding.EncodeToString(req.RequestBuffer), RelayState: req.RelayState,
	}
	if r.Method == http.MethodPost && r.PostForm.Has("username") {
		if u, ok := p.user(r.PostForm.Get("username"), r.PostForm.Get("password")); ok {
			return p.session(u)
		}
		data.Error = "Unknown user name or wrong password."
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if data.Error != "" {
		w.WriteHeader(http.StatusUnauthorized)
	}
	_ = loginPage.Execute(w, data)
	return nil
}

func (p *IdP) user(name, password string) (User, bool) {
	for _, u := range p.cfg.Users {
		if u.Name == name && subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1 {
			return u, true
		}
	}
	return User{}, false
}

func (p *IdP) session(u User) *crewjam.Session {
	now := crewjam.TimeNow()
	id := u.NameID
	if id == "" {
		id = u.Name
	}
	return &crewjam.Session{
		ID: rand.Text(), CreateTime: now, ExpireTime: now.Add(time.Hour), Index: rand.Text(),
		NameID: id, NameIDFormat: string(crewjam.PersistentNameIDFormat),
		UserName: u.Name, UserEmail: u.Email, UserGivenName: u.GivenName, UserSurname: u.FamilyName,
		CustomAttributes: []crewjam.Attribute{p.memberOf(u.Groups)},
	}
}

// memberOf is the groups attribute: plain names or DNs.
func (p *IdP) memberOf(groups []string) crewjam.Attribute {
	a := crewjam.Attribute{Name: "memberOf", NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}
	for _, g := range groups {
		if p.cfg.DNGroups {
			g = "CN=" + strings.ReplaceAll(g, ",", `\,`) + ",OU=Groups,DC=example,DC=test"
		}
		a.Values = append(a.Values, crewjam.AttributeValue{Type: "xs:string", Value: g})
	}
	return a
}

// MakeAssertion implements crewjam.AssertionMaker: crewjam's assertion (the
// session's memberOf is one of its CustomAttributes: crewjam would send
// Session.Groups as eduPersonAffiliation), counted.
func (p *IdP) MakeAssertion(req *crewjam.IdpAuthnRequest, s *crewjam.Session) error {
	if err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(req, s); err != nil {
		return err
	}
	p.mu.Lock()
	p.logins++
	p.mu.Unlock()
	return nil
}

var (
	inputRE  = regexp.MustCompile(`<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"`)
	actionRE = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
)

// Login signs a person in as a browser without script would: it opens start
// (the SP's login URL; redirects are followed by hand, so c should not
// follow them), posts name and password on the IdP's login page, and posts
// the IdP's response to the SP's ACS. It returns the ACS's answer, unread.
// c must keep cookies (the SP binds the login to the browser).
func (p *IdP) Login(c *http.Client, start, name, password string) (*http.Response, error) {
	page, final, err := get(c, start)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(final, p.SSOURL) {
		return nil, fmt.Errorf("samltest: %s led to %s, not to the IdP", start, final)
	}
	form := formValues(page)
	form.Set("username", name)
	form.Set("password", password)
	resp, err := c.PostForm(p.SSOURL, form)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	m := actionRE.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || !bytes.Contains(body, []byte("SAMLResponse")) {
		return nil, fmt.Errorf("samltest: the IdP answered the login with %s: %.300s", resp.Status, body)
	}
	return c.PostForm(html.UnescapeString(string(m[1])), formValues(body))
}

// get opens u and follows redirects by hand; it returns the page and its
// URL.
func get(c *http.Client, u string) ([]byte, string, error) {
	for range 10 {
		resp, err := c.Get(u)
		if err != nil {
			return nil, "", err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, "", err
		}
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
			next, err := resp.Request.URL.Parse(loc)
			if err != nil {
				return nil, "", err
			}
			u = next.String()
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, "", fmt.Errorf("samltest: %s: %s: %.300s", resp.Request.URL, resp.Status, body)
		}
		return body, resp.Request.URL.String(), nil
	}
	return nil, "", errors.New("samltest: too many redirects")
}

// formValues reads the named inputs of a page's form.
func formValues(page []byte) url.Values {
	v := url.Values{}
	for _, m := range inputRE.FindAllSubmatch(page, -1) {
		v.Set(html.UnescapeString(string(m[1])), html.UnescapeString(string(m[2])))
	}
	return v
}
