package saml

import (
	"context"
	"errors"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// Reasons of failures that are not a rejected response, as Reason returns
// them.
const (
	ReasonGroupLimit  = "group_limit" // more groups than the limit (a RejectError of ReasonGroups)
	ReasonMetadata    = "metadata"    // the IdP metadata cannot be loaded
	ReasonKeyStore    = "keystore"    // the key store failed
	ReasonRelayState  = "relay_state" // Login: ErrRelayState
	ReasonDeactivated = "deactivated" // identity.ErrDeactivated
	ReasonNotAllowed  = "not_allowed" // identity.ErrNotAllowed
	ReasonConflict    = "conflict"    // identity.ErrConflict
	ReasonInternal    = "internal"    // anything else
)

// Reason returns the typed reason of an error of ACS or Login ("" for nil):
// a RejectError's Reason (ReasonGroupLimit rather than ReasonGroups when the
// claim was over the limit), the SP's own failures (metadata, key store),
// or the core's refusal.
func Reason(err error) string {
	var rej *RejectError
	var f *failure
	switch {
	case err == nil:
		return ""
	case errors.As(err, &rej):
		if rej.Reason == ReasonGroups && errors.Is(err, groups.ErrTooManyGroups) {
			return ReasonGroupLimit
		}
		return rej.Reason
	case errors.As(err, &f):
		return f.reason
	case errors.Is(err, ErrRelayState):
		return ReasonRelayState
	case errors.Is(err, ErrDraft):
		return ReasonDraft
	case errors.Is(err, identity.ErrDeactivated):
		return ReasonDeactivated
	case errors.Is(err, identity.ErrNotAllowed):
		return ReasonNotAllowed
	case errors.Is(err, identity.ErrConflict):
		return ReasonConflict
	}
	return ReasonInternal
}

// record writes an attempt to the diagnostics log, if there is one. The
// detail is the error's message: crewjam's or the wrapper's reason, never the
// response.
func (c *Connection) record(ctx context.Context, step string, err error, subject, email, userID, ref string) {
	if c.diag == nil {
		return
	}
	a := identity.Attempt{
		Time: c.clock.Now(), Connection: c.source, Step: step, Outcome: identity.OutcomeSuccess,
		Subject: subject, Email: email, UserID: userID, Reference: ref,
	}
	if err != nil {
		a.Outcome, a.Reason, a.Detail = identity.OutcomeFailure, Reason(err), err.Error()
	}
	if _, rerr := c.diag.RecordAttempt(ctx, a); rerr != nil {
		c.logger.ErrorContext(ctx, "saml: record the attempt in the diagnostics log", "error", rerr)
	}
}
