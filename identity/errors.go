package identity

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, checked with errors.Is. Stores and the core wrap them with
// context; the typed errors below match them too.
var (
	// ErrNotFound: no user, group, link or invitation matches.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value (an active user's email, userName, group
	// name, link) is taken by another record.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input is malformed; a *ValidationError names the fields.
	ErrInvalid = errors.New("invalid input")
	// ErrDeactivated: the user is deactivated and may not sign in.
	ErrDeactivated = errors.New("user is deactivated")
	// ErrNotAllowed: the tenant's policy does not let this source do this.
	ErrNotAllowed = errors.New("not allowed")
	// ErrVersionMismatch: a conditional change named a version that is not the
	// stored one (an ETag that no longer matches).
	ErrVersionMismatch = errors.New("version mismatch")
)

// FieldError is one problem with one input field.
type FieldError struct {
	// Field is the domain name of the field: "email", "userName", "givenName",
	// "attributes.department", "groups"...
	Field   string
	Message string
}

// ValidationError lists what is wrong with an input. It matches ErrInvalid.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid input: ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Add records a problem with a field.
func (e *ValidationError) Add(field, message string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
}

// Err returns e if it holds a problem, else nil.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// ConflictError names the unique field that is taken. It matches ErrConflict.
// Its message names the field, never the value, so that it is safe to show.
type ConflictError struct {
	// Resource is "user", "group", "link" or "invitation".
	Resource string
	// Field is "id", "email", "userName" (users), "name", "externalID"
	// (groups), "subject" (a link of that pair exists) or "source"
	// (the user has a link from that source already).
	Field string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("conflict: another %s has this %s", e.Resource, e.Field)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ItemError is the error of one item of a list that a call stores all or
// nothing (Tx.CreateUsers, UserStore.CreateUsers): Index is the item's
// position in the list, and Err its error, a *ValidationError or a
// *ConflictError say, which errors.Is and errors.As find through it.
type ItemError struct {
	Index int
	Err   error
}

func (e *ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }

// Unwrap returns the item's error.
func (e *ItemError) Unwrap() error { return e.Err }
