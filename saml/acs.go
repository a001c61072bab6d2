package saml

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

const bearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

// Result is a successful sign-in.
type Result struct {
	// User is the user signed in, created just in time if Created.
	User    identity.User
	Created bool
	// Linked is true when an existing user was found by email and linked to
	// this connection now.
	Linked bool
	// Groups is the group plan applied (empty when none was).
	Groups groups.Plan
	// Expires is when the host's session must end: the earlier of now plus
	// Config.SessionLifetime and the assertion's SessionNotOnOrAfter.
	Expires time.Time
	// RelayState is where to send the browser: the relative path given to
	// Login, or for an IdP-initiated login the posted RelayState if it is a
	// safe relative path; else "".
	RelayState string
	// IDPInitiated is true for a response that named no request.
	IDPInitiated bool
	// SessionIndex is the IdP's session index, for logout.
	SessionIndex string
	// Test is set for the response to a test login (TestLogin): the report
	// of what the sign-in would do, which nobody was signed in by.
	Test *Test
}

// Post is what the browser posted to the ACS.
type Post struct {
	// SAMLResponse is the form value as posted (base64).
	SAMLResponse string
	// RelayState is the form value; only an IdP-initiated login uses it.
	RelayState string
	// Binding is the secret Login returned for the browser that started the
	// login (Handler's cookie); required for an SP-initiated login unless
	// Config.UnboundRequests.
	Binding string
	// Reference is the reference the browser is shown if the sign-in fails
	// (Handler makes one): the diagnostics log keeps it with the attempt.
	Reference string
}

// ACS handles a response the IdP posted to the ACS. It verifies the
// response, then signs the user in through dir, recording the request taken
// and the assertion used in keys (the tenant's KeyStore).
//
// It returns a *RejectError (matching ErrRejected) for a response it refuses,
// and otherwise the errors of identity.Directory.SignIn (ErrDeactivated,
// ErrNotAllowed, a *ConflictError...) or of keys. Every failure is logged with
// its reason; none of it is for the browser.
func (c *Connection) ACS(ctx context.Context, dir *identity.Directory, keys identity.KeyStore, p Post) (Result, error) {
	var seen identity.Claims
	res, err := c.acs(ctx, dir, keys, p, &seen)
	if res.Test != nil {
		return c.reportTest(ctx, dir, res, seen, err)
	}
	c.record(ctx, identity.StepACS, err, seen.Subject, seen.Email, res.User.ID, p.Reference)
	log := c.logger.With("tenant", dir.Tenant())
	if p.Reference != "" {
		log = log.With("reference", p.Reference)
	}
	if err != nil {
		var rej *RejectError
		var f *failure
		switch {
		case errors.As(err, &rej):
			log.WarnContext(ctx, "saml: response rejected", "reason", rej.Reason, "error", rej.Err)
		case errors.As(err, &f):
			log.ErrorContext(ctx, "saml: sign-in failed", "reason", f.reason, "error", f.err)
		default:
			log.WarnContext(ctx, "saml: sign-in failed", "reason", "signin", "error", err)
		}
		return Result{}, err
	}
	log.InfoContext(ctx, "saml: signed in", "user", res.User.ID, "created", res.Created, "idp_initiated", res.IDPInitiated)
	return res, nil
}

// acs handles the response; seen receives the claims once verified.
func (c *Connection) acs(ctx context.Context, dir *identity.Directory, keys identity.KeyStore, p Post, seen *identity.Claims) (Result, error) {
	var res Result
	raw, err := decodeResponse(p.SAMLResponse, c.cfg.MaxBodyBytes)
	if err != nil {
		return res, reject(ReasonMalformed, err)
	}
	pre, err := precheck(raw)
	if err != nil {
		return res, err
	}
	if pre.rsa15 && !c.cfg.AllowRSA15 {
		return res, reject(ReasonKeyTransport, errRSA15)
	}
	st, err := c.provider(ctx)
	if err != nil {
		return res, &failure{"metadata", err}
	}

	possible, err := c.inResponseTo(ctx, keys, pre.inResponseTo, p, &res)
	if err != nil {
		return res, err
	}

	a, err := parse(st.sp, raw, possible, c.acsURL)
	if err != nil {
		return res, err
	}
	if err := c.checkAssertion(a, st.entity); err != nil {
		return res, err
	}

	// Replay: the assertion is used once, remembered until it expires.
	if ok, err := keys.SetIfAbsent(ctx, c.assertionKey(a.ID), nil, replayUntil(a)); err != nil {
		return res, &failure{"keystore", fmt.Errorf("saml: record assertion: %w", err)}
	} else if !ok {
		return res, reject(ReasonReplay, fmt.Errorf("assertion %q was used already", a.ID))
	}

	expires := c.clock.Now().Add(c.cfg.SessionLifetime)
	for _, s := range a.AuthnStatements {
		if s.SessionNotOnOrAfter != nil && s.SessionNotOnOrAfter.Before(expires) {
			expires = *s.SessionNotOnOrAfter
		}
		if res.SessionIndex == "" {
			res.SessionIndex = s.SessionIndex
		}
	}
	if !expires.After(c.clock.Now()) {
		return res, reject(ReasonExpired, fmt.Errorf("the IdP session ended at %s (SessionNotOnOrAfter)", expires))
	}

	m, err := c.mapClaims(a, dir.GroupSource() == c.source)
	*seen = m.claims
	if err != nil {
		if errors.Is(err, errGroupClaim) {
			return res, reject(ReasonGroups, err)
		}
		return res, reject(ReasonSubject, err)
	}
	if m.overage {
		c.logger.WarnContext(ctx, "saml: the IdP left the groups out (overage claim); groups unchanged", "tenant", dir.Tenant(), "claim", m.groupsOf)
	}

	if res.Test != nil {
		res.Test.Attributes, res.Test.NameID = receivedAttributes(a), m.claims.Subject
		test, err := dir.TestSignIn(ctx, identity.Source(c.source), m.claims)
		if err != nil {
			return res, err
		}
		res.Test.SignInTest, res.Expires = test, expires
		return res, nil
	}
	signed, err := dir.SignIn(ctx, identity.Source(c.source), m.claims)
	if err != nil {
		return res, err
	}
	res.User, res.Created, res.Linked, res.Groups = signed.User, signed.Created, signed.Linked, signed.Groups
	res.Expires = expires
	return res, nil
}

// inResponseTo checks the request a response names: one this SP issued,
// taken once from keys (a test login's sets res.Test); or none, for an
// IdP-initiated login where allowed. A draft takes a test login's only.
// It returns the request IDs crewjam may accept, and sets res.RelayState
// and res.IDPInitiated.
func (c *Connection) inResponseTo(ctx context.Context, keys identity.KeyStore, id string, p Post, res *Result) ([]string, error) {
	possible := []string{""}
	if len(id) > maxRequestID {
		return nil, reject(ReasonInResponseTo, fmt.Errorf("InResponseTo is longer than %d bytes", maxRequestID))
	}
	if id == "" {
		if !c.cfg.AllowIDPInitiated {
			return nil, reject(ReasonIDPInitiated, errors.New("the response names no request and IdP-initiated login is off"))
		}
		res.IDPInitiated = true
		res.RelayState = SafeRelayState(p.RelayState)
		if c.cfg.Draft {
			return nil, reject(ReasonDraft, ErrDraft)
		}
		return possible, nil
	}
	stored, err := keys.Take(ctx, c.requestKey(id))
	if errors.Is(err, identity.ErrNotFound) {
		if stored, err = keys.Take(ctx, c.testKey(id)); err == nil {
			res.Test = &Test{}
		}
	}
	if errors.Is(err, identity.ErrNotFound) {
		return nil, reject(ReasonInResponseTo, fmt.Errorf("InResponseTo %q names no pending request", id))
	}
	if err != nil {
		return nil, &failure{"keystore", fmt.Errorf("saml: take pending request: %w", err)}
	}
	bound, relay := checkPending(stored, p.Binding)
	if !bound && !c.cfg.UnboundRequests {
		err := errors.New("the browser that posted the response did not start the login")
		if p.Binding == "" && c.acsURL.Scheme == "http" {
			err = fmt.Errorf("%w: %w", err, ErrHTTPBindingCookie)
		}
		return nil, reject(ReasonBinding, err)
	}
	if c.cfg.Draft && res.Test == nil {
		return nil, reject(ReasonDraft, ErrDraft)
	}
	possible[0] = id
	res.RelayState = relay
	return possible, nil
}

// ErrHTTPBindingCookie is the likely cause named when an SP-initiated
// response comes without its binding cookie to an http ACS URL: over plain
// http the cookie cannot be SameSite=None (browsers want it Secure), so
// Chrome's Lax-by-default sends it on the IdP's cross-site POST only within
// about 2 minutes of setting it; a login that takes longer at the IdP fails.
// It is wrapped in the RejectError of reason "binding".
var ErrHTTPBindingCookie = errors.New("no binding cookie over plain http: without SameSite=None (which needs https) Chrome sends the cookie on the IdP's POST only within about 2 minutes of the login; serve the ACS over https")

// failure is an error of the SP's own side (metadata, key store): the
// response may be fine.
type failure struct {
	reason string
	err    error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// parse runs crewjam's ParseXMLResponse, which panics on a signed assertion
// with no Subject or no Conditions (v0.5.1): the panic is a rejection.
func parse(sp *crewjam.ServiceProvider, raw []byte, possible []string, acs url.URL) (a *crewjam.Assertion, err error) {
	defer func() {
		if p := recover(); p != nil {
			a, err = nil, reject(ReasonIncomplete, fmt.Errorf("crewjam panicked (an assertion with no Subject or no Conditions?): %v", p))
		}
	}()
	a, err = sp.ParseXMLResponse(raw, possible, acs)
	if err != nil {
		var ire *crewjam.InvalidResponseError
		if errors.As(err, &ire) && ire.PrivateErr != nil {
			err = ire.PrivateErr
		}
		return nil, reject(crewjamReason(err), err)
	}
	return a, nil
}

// checkAssertion applies the checks crewjam leaves out or makes optional.
func (c *Connection) checkAssertion(a *crewjam.Assertion, entity string) error {
	if a.Subject == nil {
		return reject(ReasonIncomplete, errors.New("assertion has no Subject"))
	}
	if a.Conditions == nil {
		return reject(ReasonIncomplete, errors.New("assertion has no Conditions"))
	}
	if a.ID == "" {
		return reject(ReasonMalformed, errors.New("assertion has no ID"))
	}
	if a.Issuer.Value != entity || entity != c.pinnedEntity() {
		return reject(ReasonIssuer, fmt.Errorf("issuer %q is not the pinned IdP %q", a.Issuer.Value, c.pinnedEntity()))
	}
	if len(a.Conditions.AudienceRestrictions) == 0 {
		return reject(ReasonAudience, errors.New("assertion has no AudienceRestriction"))
	}
	for _, ar := range a.Conditions.AudienceRestrictions {
		if ar.Audience.Value != c.cfg.EntityID {
			return reject(ReasonAudience, fmt.Errorf("AudienceRestriction %q does not name %q", ar.Audience.Value, c.cfg.EntityID))
		}
	}
	hasBearer := false
	for _, sc := range a.Subject.SubjectConfirmations {
		if sc.Method == bearer && sc.SubjectConfirmationData != nil &&
			sc.SubjectConfirmationData.Recipient == c.acsURL.String() && !sc.SubjectConfirmationData.NotOnOrAfter.IsZero() {
			hasBearer = true
		}
	}
	if !hasBearer {
		return reject(ReasonBearer, errors.New("no bearer SubjectConfirmation with Recipient and NotOnOrAfter"))
	}
	return nil
}

// replayUntil is when an assertion can no longer pass crewjam's time checks:
// the latest of its NotOnOrAfter times and IssueInstant plus MaxIssueDelay,
// plus MaxClockSkew.
func replayUntil(a *crewjam.Assertion) time.Time {
	until := a.IssueInstant.Add(crewjam.MaxIssueDelay)
	if a.Conditions.NotOnOrAfter.After(until) {
		until = a.Conditions.NotOnOrAfter
	}
	for _, sc := range a.Subject.SubjectConfirmations {
		if d := sc.SubjectConfirmationData; d != nil && d.NotOnOrAfter.After(until) {
			until = d.NotOnOrAfter
		}
	}
	return until.Add(crewjam.MaxClockSkew)
}

// maxRequestID caps the InResponseTo looked up in the key store; crewjam's
// request IDs are 43 bytes.
const maxRequestID = 256

// requestKey and assertionKey name the keys of a pending request and of a
// used assertion in the tenant's KeyStore. An assertion ID is the IdP's, of
// any length: it is hashed.
func (c *Connection) requestKey(id string) string { return "saml/" + c.cfg.Name + "/request/" + id }
func (c *Connection) assertionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "saml/" + c.cfg.Name + "/assertion/" + hex.EncodeToString(sum[:])
}

// decodeResponse decodes the base64 of the SAMLResponse form value, allowing
// the line breaks some IdPs insert.
func decodeResponse(s string, limit int64) ([]byte, error) {
	if s == "" {
		return nil, errors.New("no SAMLResponse")
	}
	if int64(len(s)) > limit {
		return nil, fmt.Errorf("SAMLResponse is longer than %d bytes", limit)
	}
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("SAMLResponse is not base64: %w", err)
	}
	return raw, nil
}

// preview is what precheck reads from a response before crewjam does.
type preview struct {
	inResponseTo string
	// rsa15 is set when an encrypted assertion's key is wrapped with
	// RSA PKCS#1 v1.5.
	rsa15 bool
}

// algRSA15 is XML Encryption's RSA PKCS#1 v1.5 key transport.
const algRSA15 = "http://www.w3.org/2001/04/xmlenc#rsa-1_5"

// errRSA15 is why an assertion whose key is wrapped with RSA-1_5 is refused.
var errRSA15 = errors.New("the assertion's key is wrapped with RSA PKCS#1 v1.5 (xmlenc#rsa-1_5), which is not allowed")

// precheck scans the response's tokens: it refuses a DOCTYPE (or any
// directive), a root that is not a protocol Response, and a Response that
// holds other than exactly one Assertion or EncryptedAssertion (a second,
// unsigned assertion beside the signed one is the signature-wrapping attack;
// crewjam would return the signed one, but one is all an IdP sends). It
// returns the Response's InResponseTo.
func precheck(raw []byte) (preview, error) {
	var p preview
	d := xml.NewDecoder(bytes.NewReader(raw))
	depth, assertions, root := 0, 0, false
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return p, reject(ReasonMalformed, fmt.Errorf("invalid xml: %w", err))
		}
		switch t := tok.(type) {
		case xml.Directive:
			return p, reject(ReasonDOCTYPE, errDOCTYPE)
		case xml.StartElement:
			depth++
			if depth == 1 {
				if root {
					return p, reject(ReasonMalformed, errors.New("invalid xml: more than one root element"))
				}
				root = true
				if t.Name.Local != "Response" {
					return p, reject(ReasonMalformed, fmt.Errorf("root element is %q, not Response", t.Name.Local))
				}
				for _, at := range t.Attr {
					if at.Name.Space == "" && at.Name.Local == "InResponseTo" {
						p.inResponseTo = at.Value
					}
				}
			}
			if depth == 2 && (t.Name.Local == "Assertion" || t.Name.Local == "EncryptedAssertion") {
				assertions++
			}
			if t.Name.Local == "EncryptionMethod" {
				for _, at := range t.Attr {
					if at.Name.Local == "Algorithm" && strings.TrimSpace(at.Value) == algRSA15 {
						p.rsa15 = true
					}
				}
			}
		case xml.EndElement:
			depth--
		}
	}
	if !root {
		return p, reject(ReasonMalformed, errors.New("invalid xml: no root element"))
	}
	if depth != 0 {
		return p, reject(ReasonMalformed, errors.New("invalid xml: unclosed element"))
	}
	if assertions != 1 {
		return p, reject(ReasonAssertionCount, fmt.Errorf("the Response holds %d assertions, want 1", assertions))
	}
	return p, nil
}

// errSHA1 is why a SHA-1 signature is refused.
var errSHA1 = errors.New("a SHA-1 signature or digest is not allowed")

// verifier is crewjam's SignatureVerifier: goxmldsig's validation, after
// refusing SHA-1 unless allowed.
type verifier struct{ allowSHA1 bool }

func (v verifier) VerifySignature(vc *dsig.ValidationContext, el *etree.Element) error {
	if !v.allowSHA1 {
		sig := el.FindElement("./Signature/SignedInfo")
		if sig == nil {
			return errors.New("cannot validate signature: no SignedInfo")
		}
		for _, m := range append(sig.FindElements("./SignatureMethod"), sig.FindElements("./Reference/DigestMethod")...) {
			alg := m.SelectAttrValue("Algorithm", "")
			if strings.HasSuffix(alg, "sha1") {
				return fmt.Errorf("cannot validate signature on %s: %w (%s)", el.Tag, errSHA1, alg)
			}
		}
	}
	if _, err := vc.Validate(el); err != nil {
		return fmt.Errorf("cannot validate signature on %s: %w", el.Tag, err)
	}
	return nil
}
