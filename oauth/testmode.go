package oauth

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/rollcall/rollcall/identity"
)

// Test is the report of a test login: the whole flow is run with the
// provider (state, PKCE, the code exchange, the ID token's signature,
// issuer, audience and nonce, the domain filter, the groups claim), then
// the sign-in is planned and not applied (identity.Directory.TestSignIn):
// nothing is written but one connection.tested event. No token enters it.
// It is meant for the tenant's admin who set the provider up.
type Test struct {
	// Reason is the typed reason of a refusal (see Reason) or "signin"
	// when the core would refuse the sign-in; empty when it would succeed.
	Reason string
	// Refusal says why, for the admin.
	Refusal string
	// SignInTest is what the sign-in would do: the claims the core is told,
	// how the user is found, the fields that would change, the group plan.
	identity.SignInTest
}

// BeginTest starts a test login: as Begin, but its callback reports
// (Result.Test) and signs nobody in. A host lets only the tenant's admin
// start one, and may test a provider that is not in use yet.
func (c *Connection) BeginTest(ctx context.Context, keys identity.KeyStore) (Login, error) {
	login, err := c.begin(ctx, keys, "", true)
	if err != nil {
		c.record(ctx, identity.StepLogin, err, "", "", "", "")
	}
	return login, err
}

// reportTest turns the outcome of a test callback into its report: a
// refusal is part of the report, not an error.
func (c *Connection) reportTest(ctx context.Context, dir *identity.Directory, res Result, err error) (Result, error) {
	t := res.Test
	switch {
	case err != nil:
		t.Reason, t.Refusal = Reason(err), err.Error()
	case t.SignInTest.Err != nil:
		t.Reason, t.Refusal = "signin", t.SignInTest.Err.Error()
	}
	c.logger.InfoContext(ctx, "oauth: test sign-in", "tenant", dir.Tenant(), "source", c.source, "reason", t.Reason, "resolved", t.Resolved)
	return res, nil
}

// TestLogin returns the handler of a test login: as Login, for the tenant's
// admin only (mount it behind the host's admin session). The callback then
// answers the report through HandlerConfig.Tested.
func (h *Handler) TestLogin() http.Handler {
	return h.start(func(r *http.Request, t target) (Login, error) {
		return t.Connection.BeginTest(r.Context(), t.Keys)
	})
}

// tested answers a test login's report: through Tested, else as JSON.
func (h *Handler) tested(w http.ResponseWriter, r *http.Request, res Result) {
	if h.cfg.Tested != nil {
		h.cfg.Tested(w, r, res)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res.Test)
}
