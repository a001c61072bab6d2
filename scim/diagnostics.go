package scim

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/rollcall/rollcall/identity"
)

// errBadToken is the outcome of a request whose tenant is known and whose
// token is not one of the tenant's.
var errBadToken = errorf(http.StatusUnauthorized, "", "the bearer token is not one of the tenant's")

// ReasonBadToken is the diagnostics reason of a request refused for its
// token.
const ReasonBadToken = "bad_token"

// recordRequest writes a request's outcome to the tenant's diagnostics log
// (else the Handler's), if it has one: the method and path, the status, and the scimType
// (uniqueness, invalidFilter, invalidValue...) or the status's name as the
// reason. A failure to record is no failure of the request.
func (h *Handler) recordRequest(r *http.Request, t identity.Tenant, err error) {
	log := t.Diagnostics
	if log == nil {
		log = h.diag
	}
	if log == nil {
		return
	}
	a := identity.Attempt{Connection: string(identity.SCIM), Step: identity.StepRequest, Outcome: identity.OutcomeSuccess,
		Detail: r.Method + " " + r.URL.Path, UserID: userInPath(r.URL.Path)}
	if err != nil {
		e, _ := statusOf(err)
		a.Outcome = identity.OutcomeFailure
		a.Reason = e.ScimType
		switch {
		case errors.Is(err, errBadToken):
			a.Reason = ReasonBadToken
		case a.Reason == "":
			a.Reason = strings.ReplaceAll(strings.ToLower(http.StatusText(e.Status)), " ", "_")
		}
		a.Detail += ": " + strconv.Itoa(e.Status) + " " + e.Detail
	}
	// The request's context may end with the request; the log outlives it.
	// A log that can queue the entry writes it after the answer, with the
	// entries of other requests.
	_ = identity.QueueAttempt(context.WithoutCancel(r.Context()), log, a)
}

// userInPath returns the id of /Users/{id}, else "".
func userInPath(p string) string {
	seg := strings.Split(strings.Trim(p, "/"), "/")
	if len(seg) == 2 && strings.EqualFold(seg[0], "users") {
		return seg[1]
	}
	return ""
}
