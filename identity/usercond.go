package identity

import (
	"strings"
	"time"
)

// UserField names what a UserCond tests.
type UserField string

const (
	FieldUserName    UserField = "userName"
	FieldEmail       UserField = "email"
	FieldExternalID  UserField = "externalId"
	FieldGivenName   UserField = "givenName"
	FieldFamilyName  UserField = "familyName"
	FieldDisplayName UserField = "displayName"
	FieldCreated     UserField = "created"
	FieldUpdated     UserField = "updated"
	// FieldAttribute tests Attributes[Key].
	FieldAttribute UserField = "attribute"
)

// CondOp is the comparison of a UserCond.
type CondOp string

const (
	// OpEq: the value equals Value.
	OpEq CondOp = "eq"
	// OpStartsWith: the value starts with Value.
	OpStartsWith CondOp = "sw"
	// OpContains: the value contains Value.
	OpContains CondOp = "co"
	// OpPresent: the value is not empty.
	OpPresent CondOp = "pr"
	// OpBefore: the time is before Time (created and updated only).
	OpBefore CondOp = "lt"
	// OpNotBefore: the time is Time or later (created and updated only).
	OpNotBefore CondOp = "ge"
)

// UserCond is one condition of UserQuery.Match. The text fields are compared
// lower-cased (strings.ToLower of both sides), except ExternalID, which is
// compared exactly and takes only OpEq and OpPresent. An attribute's value
// is compared with ASCII letters folded (as SQL's lower does), and takes
// OpEq, OpContains and OpPresent. Created and Updated take OpBefore and
// OpNotBefore, compared to the microsecond. Any other combination, an empty
// Key for FieldAttribute or a Key holding '"' or '\' is an error matching
// ErrInvalid.
type UserCond struct {
	Field UserField
	// Key is the Attributes key, for FieldAttribute.
	Key   string
	Op    CondOp
	Value string
	Time  time.Time
	// Not negates the condition.
	Not bool
	// Any, when not empty, makes the condition hold when any of its
	// conditions holds; Field, Key, Op, Value and Time are then ignored
	// (Not still applies).
	Any []UserCond
}

// Check returns an error matching ErrInvalid if the condition is not one a
// store answers.
func (c UserCond) Check() error {
	if len(c.Any) > 0 {
		for _, a := range c.Any {
			if err := a.Check(); err != nil {
				return err
			}
		}
		return nil
	}
	ok := false
	switch c.Field {
	case FieldUserName, FieldEmail, FieldGivenName, FieldFamilyName, FieldDisplayName:
		ok = c.Op == OpEq || c.Op == OpStartsWith || c.Op == OpContains || c.Op == OpPresent
	case FieldExternalID:
		ok = c.Op == OpEq || c.Op == OpPresent
	case FieldCreated, FieldUpdated:
		ok = c.Op == OpBefore || c.Op == OpNotBefore
	case FieldAttribute:
		ok = (c.Op == OpEq || c.Op == OpContains || c.Op == OpPresent) &&
			c.Key != "" && !strings.ContainsAny(c.Key, `"\`)
	}
	if !ok {
		v := &ValidationError{}
		v.Add("match", "no condition "+string(c.Op)+" on "+string(c.Field))
		return v
	}
	return nil
}

// Holds reports whether u passes the condition, as a store must decide it:
// the reference for the stores in storage/.
func (c UserCond) Holds(u User) bool {
	return c.holds(u) != c.Not
}

func (c UserCond) holds(u User) bool {
	if len(c.Any) > 0 {
		for _, a := range c.Any {
			if a.Holds(u) {
				return true
			}
		}
		return false
	}
	switch c.Field {
	case FieldCreated, FieldUpdated:
		t := u.Created
		if c.Field == FieldUpdated {
			t = u.Updated
		}
		t, at := t.Truncate(time.Microsecond), c.Time.Truncate(time.Microsecond)
		if c.Op == OpBefore {
			return t.Before(at)
		}
		return !t.Before(at)
	case FieldExternalID:
		if c.Op == OpPresent {
			return u.ExternalID != ""
		}
		return u.ExternalID == c.Value
	case FieldAttribute:
		return textHolds(asciiLower(u.Attributes[c.Key]), c.Op, asciiLower(c.Value))
	}
	if c.Field == FieldEmail && c.Op == OpEq && c.Value != "" {
		// An address equals another in the canonical form, as the
		// stores' unique index compares them.
		return u.Email != "" && NormalizeEmail(u.Email) == NormalizeEmail(c.Value)
	}
	var s string
	switch c.Field {
	case FieldUserName:
		s = u.UserName
	case FieldEmail:
		s = u.Email
	case FieldGivenName:
		s = u.GivenName
	case FieldFamilyName:
		s = u.FamilyName
	case FieldDisplayName:
		s = u.DisplayName
	}
	return textHolds(strings.ToLower(s), c.Op, strings.ToLower(c.Value))
}

func textHolds(s string, op CondOp, v string) bool {
	switch op {
	case OpEq:
		return s == v
	case OpStartsWith:
		return strings.HasPrefix(s, v)
	case OpContains:
		return strings.Contains(s, v)
	case OpPresent:
		return s != ""
	}
	return false
}

// asciiLower lower-cases the ASCII letters of s only.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
