package oauth

import (
	"context"
	"errors"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// Refusals under ErrRefused, for Reason.
var (
	errDomain     = errors.New("email domain not allowed")
	errUnverified = errors.New("email not verified")
	errTenant     = errors.New("tenant not allowed")
)

// Reasons of a failed sign-in, as Reason returns them: short, stable words
// for logs and the tenant's diagnostics.
const (
	ReasonState            = "state"              // ErrState
	ReasonDenied           = "denied"             // ErrDenied
	ReasonExchange         = "exchange"           // ErrExchange
	ReasonToken            = "token"              // ErrToken
	ReasonProvider         = "provider"           // ErrProvider: an outage
	ReasonReturnURL        = "return_url"         // ErrReturnURL
	ReasonDraft            = "draft"              // ErrDraft: a real login through a draft
	ReasonDomainNotAllowed = "domain_not_allowed" // ErrRefused: hd or email domain
	ReasonEmailUnverified  = "email_unverified"   // ErrRefused: no verified email
	ReasonTenantNotAllowed = "tenant_not_allowed" // ErrRefused: Entra tenant
	ReasonRefused          = "refused"            // ErrRefused, other
	ReasonGroupOverage     = "group_overage"      // ErrGroupOverage
	ReasonGroupLimit       = "group_limit"        // more groups than the limit
	ReasonGroups           = "groups"             // ErrGroups, other
	ReasonDeactivated      = "deactivated"        // identity.ErrDeactivated
	ReasonNotAllowed       = "not_allowed"        // identity.ErrNotAllowed
	ReasonConflict         = "conflict"           // identity.ErrConflict
	ReasonInternal         = "internal"           // anything else: the host's side
)

// Reason returns the typed reason of an error of Begin or Finish ("" for
// nil), the most precise first: ReasonDomainNotAllowed rather than
// ReasonRefused, ReasonGroupOverage rather than ReasonGroups.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range []struct {
		err    error
		reason string
	}{
		{ErrGroupOverage, ReasonGroupOverage},
		{groups.ErrTooManyGroups, ReasonGroupLimit},
		{ErrGroups, ReasonGroups},
		{errDomain, ReasonDomainNotAllowed},
		{errUnverified, ReasonEmailUnverified},
		{errTenant, ReasonTenantNotAllowed},
		{ErrRefused, ReasonRefused},
		{ErrState, ReasonState},
		{ErrDenied, ReasonDenied},
		{ErrExchange, ReasonExchange},
		{ErrProvider, ReasonProvider},
		{ErrToken, ReasonToken},
		{ErrReturnURL, ReasonReturnURL},
		{ErrDraft, ReasonDraft},
		{identity.ErrDeactivated, ReasonDeactivated},
		{identity.ErrNotAllowed, ReasonNotAllowed},
		{identity.ErrConflict, ReasonConflict},
	} {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ReasonInternal
}

// record writes an attempt to the diagnostics log, if there is one. The
// detail is the error's message, which holds no token, code or secret.
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
		c.logger.ErrorContext(ctx, "oauth: record the attempt in the diagnostics log", "err", rerr)
	}
}
