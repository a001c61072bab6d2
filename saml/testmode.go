package saml

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	crewjam "github.com/crewjam/saml"

	"github.com/rollcall/rollcall/identity"
)

// Test is the report of a test sign-in: the whole protocol is run against
// the IdP (request, signature, audience, replay, attributes), then the
// sign-in is planned and not applied (identity.Directory.TestSignIn): no
// user, link, membership or event is written but one connection.tested
// event. It is meant for the tenant's admin who set the connection up,
// and says what a failed sign-in tells nobody else.
type Test struct {
	// Attributes are the assertion's attributes by name (and friendly
	// name, when it has one); a value of an attribute whose name speaks of
	// a password, secret or token is shown as "[redacted]".
	Attributes map[string][]string
	// NameID is the subject the IdP sent (or the subject attribute's).
	NameID string
	// Reason is the typed reason of a refusal of the response (Reason*)
	// or "signin" when the core would refuse the sign-in; empty when the
	// sign-in would succeed.
	Reason string
	// Refusal says why, for the admin; Hint names a likely cause where one
	// is known (AD FS without a NameID rule, the binding cookie over http).
	Refusal, Hint string
	// SignInTest is what the sign-in would do: the claims, how the user is
	// found, the fields that would change, the group plan.
	identity.SignInTest
}

// TestLogin starts a test login: as Login, but the IdP's response to it is
// reported (Result.Test) and nobody is signed in. A host lets only the
// tenant's admin start one (behind its admin session), and may test a
// connection that is not in use yet (a draft) before it activates it.
func (c *Connection) TestLogin(ctx context.Context, keys identity.KeyStore) (LoginRedirect, error) {
	lr, err := c.login(ctx, keys, "", true)
	if err != nil {
		c.record(ctx, identity.StepLogin, err, "", "", "", "")
	}
	return lr, err
}

func (c *Connection) testKey(id string) string { return "saml/" + c.cfg.Name + "/test/" + id }

// reportTest turns the outcome of a test response into its report: a
// refusal is part of the report, not an error.
func (c *Connection) reportTest(ctx context.Context, dir *identity.Directory, res Result, seen identity.Claims, err error) (Result, error) {
	t := res.Test
	if t.Claims.Subject == "" && t.Claims.Email == "" {
		t.Claims = seen
	}
	switch {
	case err != nil:
		t.Reason, t.Refusal = Reason(err), err.Error()
	case t.SignInTest.Err != nil:
		t.Reason, t.Refusal = "signin", t.SignInTest.Err.Error()
	}
	switch {
	case errors.Is(err, ErrADFSNoNameID):
		t.Hint = "AD FS sends no NameID unless a claim rule issues one: add the rule (see the adfs preset), or map a subject attribute."
	case errors.Is(err, ErrHTTPBindingCookie):
		t.Hint = "Over plain http the browser may not send the login's cookie back: serve the ACS over https, or finish the login at the IdP within 2 minutes."
	}
	c.logger.InfoContext(ctx, "saml: test sign-in", "tenant", dir.Tenant(), "reason", t.Reason, "resolved", t.Resolved)
	c.record(ctx, identity.StepACS, err, seen.Subject, seen.Email, t.User.ID, "")
	return res, nil
}

// receivedAttributes lists an assertion's attributes for a test's report.
func receivedAttributes(a *crewjam.Assertion) map[string][]string {
	out := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, attr := range st.Attributes {
			var vals []string
			for _, v := range attr.Values {
				vals = append(vals, v.Value)
			}
			if secretName(attr.Name) || secretName(attr.FriendlyName) {
				vals = slices.Repeat([]string{"[redacted]"}, len(vals))
			}
			out[attr.Name] = append(out[attr.Name], vals...)
			if attr.FriendlyName != "" && attr.FriendlyName != attr.Name {
				out[attr.FriendlyName] = append(out[attr.FriendlyName], vals...)
			}
		}
	}
	return out
}

func secretName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || strings.Contains(n, "secret") || strings.Contains(n, "token")
}

// TestLogin redirects the browser to the IdP with a test login's
// AuthnRequest (Connection.TestLogin). Mount it behind the host's admin
// session: the ACS shows its report to the browser that started it (the
// binding cookie), through HandlerConfig.Tested.
func (h *Handler) TestLogin() http.Handler {
	return h.redirect("saml: test login", func(r *http.Request, t target) (LoginRedirect, error) {
		return t.Connection.TestLogin(r.Context(), t.Keys)
	})
}
