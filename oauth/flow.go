package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rollcall/rollcall/identity"
)

// Login is a login just started: send the browser to URL, and bind State to
// that browser (the login handler sets a cookie) so that only it can finish.
type Login struct {
	URL     string
	State   string
	Expires time.Time
}

// pending is what a login keeps server-side until its callback.
type pending struct {
	Source   string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Expires  int64  `json:"e"`
	// Test marks a test login (BeginTest): its callback reports.
	Test bool `json:"t,omitempty"`
}

// stateKey is the KeyStore key of a login's state: its hash, so that the
// store's contents cannot finish a login.
func stateKey(state string) string {
	sum := sha256.Sum256([]byte(state))
	return "oauth:state:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// Begin starts a login that returns to returnTo (a relative path or one of
// Config.ReturnURLs; "" for Config.DefaultReturnURL): it keeps a random state,
// a nonce and a PKCE S256 verifier in keys, single use and valid for
// Config.LoginTTL, and returns the provider's authorization URL. It returns
// an error wrapping ErrReturnURL for a return URL not allowed, ErrProvider if
// discovery fails, or the KeyStore's error.
func (c *Connection) Begin(ctx context.Context, keys identity.KeyStore, returnTo string) (Login, error) {
	login, err := c.begin(ctx, keys, returnTo, false)
	if err != nil {
		c.record(ctx, identity.StepLogin, err, "", "", "", "")
	}
	return login, err
}

func (c *Connection) begin(ctx context.Context, keys identity.KeyStore, returnTo string, test bool) (Login, error) {
	if c.cfg.Draft && !test {
		return Login{}, ErrDraft
	}
	returnTo, err := c.returnURL(returnTo)
	if err != nil {
		return Login{}, err
	}
	e, err := c.setup(ctx)
	if err != nil {
		return Login{}, err
	}
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	expires := c.clock.Now().Add(c.cfg.LoginTTL)
	value, err := json.Marshal(pending{Source: c.source, Nonce: nonce, Verifier: verifier, ReturnTo: returnTo, Expires: expires.Unix(), Test: test})
	if err != nil {
		return Login{}, fmt.Errorf("oauth: %w", err)
	}
	ok, err := keys.SetIfAbsent(ctx, stateKey(state), value, expires)
	if err != nil {
		return Login{}, fmt.Errorf("oauth: keep login state: %w", err)
	}
	if !ok {
		return Login{}, errors.New("oauth: keep login state: the random state is taken")
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if c.cfg.Provider.Kind == KindGoogle && len(c.domains) == 1 {
		// Only a hint for Google's account chooser; the hd claim is checked.
		for d := range c.domains {
			opts = append(opts, oauth2.SetAuthURLParam("hd", d))
		}
	}
	return Login{URL: e.oauth2.AuthCodeURL(state, opts...), State: state, Expires: expires}, nil
}

// Callback is what the provider sent to the callback URL, with the state the
// browser holds.
type Callback struct {
	// State, Code, Error and ErrorDescription are the query parameters
	// state, code, error and error_description.
	State            string
	Code             string
	Error            string
	ErrorDescription string
	// BrowserState is the state Begin bound to this browser (the login
	// handler's cookie). It must equal State: a callback URL carried to
	// another browser does not sign that browser in.
	BrowserState string
	// Reference is the reference the browser is shown if the sign-in fails
	// (the callback handler makes one): the diagnostics log keeps it with
	// the attempt.
	Reference string
}

// Result is a finished sign-in. The host starts its own session for User and
// sends the browser to ReturnTo.
type Result struct {
	User identity.User
	// Created is true for a user created just in time; Linked for an
	// existing user linked to this provider now (found by verified email).
	Created bool
	Linked  bool
	// ReturnTo is the return URL checked by Begin.
	ReturnTo string
	// Source and Subject are the link: "oauth:<provider>" and
	// "<issuer> <sub>" ("<tenant issuer> <oid>" for Microsoft).
	Source  string
	Subject string
	// Test is set for the callback of a test login (BeginTest): the report
	// of what the sign-in would do, which nobody was signed in by.
	Test *Test
}

// Finish completes a login: it takes the login's state from keys (once), has
// the provider exchange the code with the PKCE verifier, verifies the ID
// token and its nonce, fills missing claims from userinfo (whose sub must
// match), applies the provider's rules and the domain filter, and signs the
// person in through dir as "oauth:<provider>".
//
// It returns an error wrapping ErrState, ErrDenied, ErrExchange, ErrToken,
// ErrRefused or ErrProvider, or the core's error (identity.ErrDeactivated,
// identity.ErrNotAllowed, *identity.ConflictError...). The errors hold the
// reason for the log, not for the browser.
func (c *Connection) Finish(ctx context.Context, dir *identity.Directory, keys identity.KeyStore, cb Callback) (Result, error) {
	var seen claims
	res, err := c.finish(ctx, dir, keys, cb, &seen)
	c.record(ctx, identity.StepCallback, err, seen.Subject, seen.Email, res.User.ID, cb.Reference)
	if res.Test != nil {
		return c.reportTest(ctx, dir, res, err)
	}
	return res, err
}

// finish is Finish; seen receives the token's claims once verified.
func (c *Connection) finish(ctx context.Context, dir *identity.Directory, keys identity.KeyStore, cb Callback, seen *claims) (Result, error) {
	p, err := c.take(ctx, keys, cb)
	if err != nil {
		return Result{}, err
	}
	var res Result
	if p.Test {
		res.Test = &Test{}
	} else if c.cfg.Draft {
		return res, ErrDraft
	}
	if cb.Error != "" {
		return res, fmt.Errorf("%w: %.64q: %.200q", ErrDenied, cb.Error, cb.ErrorDescription)
	}
	if cb.Code == "" {
		return res, fmt.Errorf("%w: no code", ErrExchange)
	}
	claims, g, err := c.verify(ctx, cb.Code, p, seen)
	if err != nil {
		return res, err
	}
	if dir.GroupSource() == c.source {
		if claims.Groups, err = c.groups(g); err != nil {
			return res, err
		}
	}
	res.Source, res.Subject = c.source, claims.Subject
	if res.Test != nil {
		test, err := dir.TestSignIn(ctx, identity.Source(c.source), claims)
		if err != nil {
			return res, fmt.Errorf("oauth: test sign in: %w", err)
		}
		res.Test.SignInTest = test
		return res, nil
	}
	signed, err := dir.SignIn(ctx, identity.Source(c.source), claims)
	if err != nil {
		return Result{}, fmt.Errorf("oauth: sign in: %w", err)
	}
	res.User, res.Created, res.Linked, res.ReturnTo = signed.User, signed.Created, signed.Linked, p.ReturnTo
	return res, nil
}

// take removes the login's state from keys and checks it.
func (c *Connection) take(ctx context.Context, keys identity.KeyStore, cb Callback) (pending, error) {
	if cb.State == "" {
		return pending{}, fmt.Errorf("%w: no state", ErrState)
	}
	raw, err := keys.Take(ctx, stateKey(cb.State))
	if errors.Is(err, identity.ErrNotFound) {
		return pending{}, fmt.Errorf("%w: not found", ErrState)
	}
	if err != nil {
		return pending{}, fmt.Errorf("oauth: take login state: %w", err)
	}
	var p pending
	if err := json.Unmarshal(raw, &p); err != nil {
		return pending{}, fmt.Errorf("%w: unreadable: %w", ErrState, err)
	}
	if p.Source != c.source {
		return pending{}, fmt.Errorf("%w: started for %q", ErrState, p.Source)
	}
	if !c.clock.Now().Before(time.Unix(p.Expires, 0)) {
		return pending{}, fmt.Errorf("%w: expired", ErrState)
	}
	if subtle.ConstantTimeCompare([]byte(cb.BrowserState), []byte(cb.State)) != 1 {
		return pending{}, fmt.Errorf("%w: not the state this browser started (missing or other cookie)", ErrState)
	}
	return p, nil
}

// verify exchanges the code and returns the claims the core is told, and
// what the ID token says about groups.
func (c *Connection) verify(ctx context.Context, code string, p pending, seen *claims) (identity.Claims, groupsClaim, error) {
	var g groupsClaim
	e, err := c.setup(ctx)
	if err != nil {
		return identity.Claims{}, g, err
	}
	cctx := c.clientContext(ctx)
	tok, err := e.oauth2.Exchange(cctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		return identity.Claims{}, g, exchangeError(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return identity.Claims{}, g, fmt.Errorf("%w: the token response holds no id_token", ErrToken)
	}
	idt, err := e.verifier.Verify(cctx, rawID)
	if err != nil {
		return identity.Claims{}, g, verifyError(err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		return identity.Claims{}, g, fmt.Errorf("%w: nonce mismatch", ErrToken)
	}
	var raw json.RawMessage
	if err := idt.Claims(&raw); err != nil {
		return identity.Claims{}, g, fmt.Errorf("%w: %w", ErrToken, err)
	}
	cl, err := decodeClaims(raw)
	if err != nil {
		return identity.Claims{}, g, fmt.Errorf("%w: %w", ErrToken, err)
	}
	*seen = cl
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m) // decodeClaims read it as an object
	g = readGroups(m, c.groupsClaim())
	// Entra's userinfo (Microsoft Graph) adds nothing the rules may use.
	need, required := cl.needUserInfo()
	if c.cfg.Provider.Kind != KindMicrosoft && need && e.provider.UserInfoEndpoint() != "" {
		ui, err := e.provider.UserInfo(cctx, oauth2.StaticTokenSource(tok))
		if err != nil && !required {
			// Only names were missing: sign in without them.
			c.logger.DebugContext(ctx, "userinfo failed; signing in without names", "err", err)
			ic, err := c.identify(cl)
			return ic, g, err
		}
		if err != nil {
			return identity.Claims{}, g, fmt.Errorf("%w: userinfo: %w", ErrProvider, err)
		}
		if ui.Subject != idt.Subject {
			return identity.Claims{}, g, fmt.Errorf("%w: userinfo sub %q is not the ID token's %q", ErrToken, ui.Subject, idt.Subject)
		}
		var uraw json.RawMessage
		if err := ui.Claims(&uraw); err != nil {
			return identity.Claims{}, g, fmt.Errorf("%w: userinfo: %w", ErrToken, err)
		}
		u, err := decodeClaims(uraw)
		if err != nil {
			return identity.Claims{}, g, fmt.Errorf("%w: userinfo: %w", ErrToken, err)
		}
		cl.merge(u)
		*seen = cl
	}
	ic, err := c.identify(cl)
	return ic, g, err
}

// exchangeError classifies a failed code exchange: the token endpoint's
// refusal (a 4xx with an OAuth error: a wrong verifier, a used code, a wrong
// secret) is ErrExchange; an endpoint that cannot be reached, times out or
// answers 5xx is ErrProvider. The cause stays reachable with errors.Is and
// errors.As (*oauth2.RetrieveError, *url.Error, context.DeadlineExceeded);
// the message holds the status and the OAuth error, never the body.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("%w: token endpoint: %w", ErrProvider, err)
	}
	status, kind := "", ErrExchange
	if re.Response != nil {
		status = re.Response.Status
		if re.Response.StatusCode >= 500 {
			kind = ErrProvider
		}
	}
	return &causeError{kind: kind, cause: err, msg: fmt.Sprintf("%v: %s: %.64q %.200q", kind, status, re.ErrorCode, re.ErrorDescription)}
}

// verifyError classifies a failed ID token check. go-oidc flattens the error
// of fetching the provider's keys into its message ("fetching keys"): that is
// ErrProvider, an outage; anything else is ErrToken. go-oidc's typed errors
// (*oidc.TokenExpiredError) stay reachable with errors.As.
func verifyError(err error) error {
	if strings.Contains(err.Error(), "fetching keys") || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: keys: %w", ErrProvider, err)
	}
	return fmt.Errorf("%w: %w", ErrToken, err)
}

// causeError is an error of one of this package's kinds (ErrProvider,
// ErrExchange...) whose message is written here, with its cause still
// reachable by errors.Is and errors.As.
type causeError struct {
	kind  error
	cause error
	msg   string
}

func (e *causeError) Error() string   { return e.msg }
func (e *causeError) Unwrap() []error { return []error{e.kind, e.cause} }
