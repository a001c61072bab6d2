package scim

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/rollcall/rollcall/identity"
)

// SCIM error types (RFC 7644, section 3.12, table 9).
const (
	ScimInvalidFilter = "invalidFilter"
	ScimTooMany       = "tooMany"
	ScimUniqueness    = "uniqueness"
	ScimMutability    = "mutability"
	ScimInvalidSyntax = "invalidSyntax"
	ScimInvalidPath   = "invalidPath"
	ScimNoTarget      = "noTarget"
	ScimInvalidValue  = "invalidValue"
	ScimInvalidVers   = "invalidVers"
	ScimSensitive     = "sensitive"
)

// Error is a SCIM error response: an HTTP status, a scimType for the 400s
// and 409 that have one, and a detail safe to show to the client.
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string {
	if e.ScimType != "" {
		return fmt.Sprintf("scim: %d %s: %s", e.Status, e.ScimType, e.Detail)
	}
	return fmt.Sprintf("scim: %d: %s", e.Status, e.Detail)
}

func errorf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func badRequest(scimType, format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, scimType, format, args...)
}

// statusOf maps an error of the core (or of this package) to the SCIM error
// the client sees. Errors it does not know become a 500 whose detail says
// nothing; the caller logs them.
func statusOf(err error) (e *Error, known bool) {
	var se *Error
	if errors.As(err, &se) {
		return se, true
	}
	var ce *identity.ConflictError
	var ve *identity.ValidationError
	switch {
	case errors.As(err, &ce):
		return errorf(http.StatusConflict, ScimUniqueness, "another %s has this %s", ce.Resource, scimField(ce.Field)), true
	case errors.As(err, &ve):
		return badRequest(ScimInvalidValue, "%s", ve.Error()), true
	case errors.Is(err, identity.ErrVersionMismatch):
		return errorf(http.StatusPreconditionFailed, "", "the resource has changed: its version does not match If-Match"), true
	case errors.Is(err, identity.ErrNotFound):
		return errorf(http.StatusNotFound, "", "resource not found"), true
	case errors.Is(err, identity.ErrConflict):
		return errorf(http.StatusConflict, ScimUniqueness, "a unique value is taken"), true
	case errors.Is(err, identity.ErrNotAllowed):
		return errorf(http.StatusForbidden, "", "the tenant's policy does not let SCIM do this"), true
	case errors.Is(err, identity.ErrInvalid):
		return badRequest(ScimInvalidValue, "invalid input"), true
	}
	return errorf(http.StatusInternalServerError, "", "internal error"), false
}

// scimField names a core field by its SCIM attribute.
func scimField(f string) string {
	switch f {
	case "email":
		return "emails.value"
	case "externalID":
		return "externalId"
	case "name":
		return "displayName"
	}
	return f
}
