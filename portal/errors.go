package portal

import (
	"errors"
	"fmt"

	"github.com/rollcall/rollcall/identity"
)

// errBadRequestf returns an errBadRequest whose message is for the admin.
func errBadRequestf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// asValidation reports whether err is a *identity.ValidationError, and sets
// *ve to it when ve is not nil.
func asValidation(err error, ve **identity.ValidationError) bool {
	var v *identity.ValidationError
	if !errors.As(err, &v) {
		return false
	}
	if ve != nil {
		*ve = v
	}
	return true
}

func isConflict(err error) bool { return errors.Is(err, identity.ErrConflict) }
