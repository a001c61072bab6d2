package saml

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"

	crewjam "github.com/crewjam/saml"

	"github.com/rollcall/rollcall/identity"
)

// MaxRelayState is the longest RelayState accepted, in bytes (SAML bindings
// section 3.4.3 caps it at 80).
const MaxRelayState = 80

// ErrRelayState is returned by Login for a RelayState that is not a safe
// relative path.
var ErrRelayState = errors.New("saml: RelayState must be a relative path")

// LoginRedirect is a login started by Login.
type LoginRedirect struct {
	// URL is where to redirect the browser: the IdP's SSO endpoint with the
	// AuthnRequest and the RelayState.
	URL *url.URL
	// RequestID is the AuthnRequest's ID, which the response must name.
	RequestID string
	// Binding is a secret for the browser that started the login: ACS
	// requires it back (Post.Binding), so that a response obtained by
	// someone else cannot sign this browser in (login CSRF). Handler keeps it
	// in a cookie. Empty when Config.UnboundRequests.
	Binding string
}

// Login starts an SP-initiated login: an AuthnRequest over the HTTP-Redirect
// binding (signed unless Config.UnsignedRequests), with relayState. The
// request's ID is kept in keys for Config.RequestTTL, with relayState and
// the hash of the browser binding, until ACS takes it.
//
// relayState is where to send the browser after sign-in: "" or a relative
// path (see SafeRelayState); else Login returns ErrRelayState.
func (c *Connection) Login(ctx context.Context, keys identity.KeyStore, relayState string) (LoginRedirect, error) {
	lr, err := c.login(ctx, keys, relayState, false)
	if err != nil {
		c.record(ctx, identity.StepLogin, err, "", "", "", "")
	}
	return lr, err
}

// login starts a login; a test login (see TestLogin) keeps its request
// under another key, which tells ACS to report and not sign in.
func (c *Connection) login(ctx context.Context, keys identity.KeyStore, relayState string, test bool) (LoginRedirect, error) {
	var lr LoginRedirect
	if c.cfg.Draft && !test {
		return lr, ErrDraft
	}
	if relayState != "" && SafeRelayState(relayState) == "" {
		return lr, ErrRelayState
	}
	st, err := c.provider(ctx)
	if err != nil {
		return lr, err
	}
	req, err := st.sp.MakeAuthenticationRequest(st.ssoURL, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		return lr, fmt.Errorf("saml: authn request: %w", err)
	}
	now := c.clock.Now()
	req.IssueInstant = now.UTC() // crewjam set it from its global clock
	if !c.cfg.UnboundRequests {
		lr.Binding = rand.Text()
	}
	key := c.requestKey(req.ID)
	if test {
		key = c.testKey(req.ID)
	}
	ok, err := keys.SetIfAbsent(ctx, key, pendingValue(lr.Binding, relayState), now.Add(c.cfg.RequestTTL))
	if err != nil {
		return lr, fmt.Errorf("saml: keep pending request: %w", err)
	}
	if !ok {
		return lr, errors.New("saml: request ID collision")
	}
	// crewjam appends RelayState to the query unescaped.
	if lr.URL, err = req.Redirect(url.QueryEscape(relayState), st.sp); err != nil {
		return lr, fmt.Errorf("saml: authn request: %w", err)
	}
	lr.RequestID = req.ID
	return lr, nil
}

// pendingValue is what the key store keeps for a pending request: the
// SHA-256 of the browser binding, then the RelayState.
func pendingValue(binding, relayState string) []byte {
	sum := sha256.Sum256([]byte(binding))
	return append(sum[:], relayState...)
}

// checkPending reads a pending request's value: it reports whether binding
// is the one given to Login, and returns the RelayState.
func checkPending(stored []byte, binding string) (bool, string) {
	if len(stored) < sha256.Size {
		return false, ""
	}
	sum := sha256.Sum256([]byte(binding))
	return subtle.ConstantTimeCompare(stored[:sha256.Size], sum[:]) == 1, string(stored[sha256.Size:])
}

// SafeRelayState returns s if it is a relative path that cannot lead the
// browser to another site, else "": it must start with one '/', not "//" or
// "/\", hold no backslash, no control character, no scheme or host, and be
// at most MaxRelayState bytes.
func SafeRelayState(s string) string {
	if s == "" || len(s) > MaxRelayState || s[0] != '/' || strings.HasPrefix(s, "//") || strings.ContainsRune(s, '\\') {
		return ""
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ""
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return s
}
