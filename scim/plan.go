package scim

import (
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
	filter "github.com/scim2/filter-parser/v2"
)

// userPlan is a user filter split in two: the conditions the store answers
// (UserQuery's Active and Match), and the rest, evaluated in Go on the
// users the store returns. The store's answer is a superset of the matches;
// with no rest it is exactly the matches, and the store pages and counts.
type userPlan struct {
	active *bool
	match  []identity.UserCond
	rest   []filter.Expression
}

// planUsers walks the top-level conjunction of a filter and pushes each term
// the store can answer. A term the store answers only in part (an email,
// which may be among the addresses kept in Attributes) is pushed and kept
// in the rest too.
func planUsers(e filter.Expression) userPlan {
	var p userPlan
	if e == nil {
		return p
	}
	for _, c := range conjuncts(e) {
		if b, ok := activeOperand(c); ok {
			if p.active != nil && *p.active != b {
				p.match = append(p.match, never())
			}
			p.active = &b
			continue
		}
		conds, exact, ok := pushUser(c)
		if !ok {
			p.rest = append(p.rest, c)
			continue
		}
		p.match = append(p.match, conds...)
		if !exact {
			p.rest = append(p.rest, c)
		}
	}
	return p
}

// never is a condition no user passes.
func never() identity.UserCond {
	return identity.UserCond{Field: identity.FieldUserName, Op: identity.OpPresent, Not: true}
}

// restMatches reports whether a document passes the terms of the rest.
func (p userPlan) restMatches(d doc) bool {
	for _, c := range p.rest {
		if !match(userType, d, c) {
			return false
		}
	}
	return true
}

// activeOperand returns b of `active eq b`.
func activeOperand(e filter.Expression) (bool, bool) {
	ae, ok := e.(*filter.AttributeExpression)
	if !ok || ae.Operator != filter.EQ || ae.AttributePath.SubAttribute != nil {
		return false, false
	}
	if a, _ := userType.resolve(pathURI(ae.AttributePath), ae.AttributePath.AttributeName); a == nil || a.Name != "active" {
		return false, false
	}
	switch v := compareValue(ae.CompareValue).(type) {
	case bool:
		return v, true
	case string:
		switch strings.ToLower(v) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// textFields maps the user attributes (attribute, sub-attribute) the store
// compares as text to their field.
var textFields = map[[2]string]identity.UserField{
	{"userName", ""}:       identity.FieldUserName,
	{"displayName", ""}:    identity.FieldDisplayName,
	{"name", "givenName"}:  identity.FieldGivenName,
	{"name", "familyName"}: identity.FieldFamilyName,
	{"externalId", ""}:     identity.FieldExternalID,
}

// pushUser returns the store conditions of one filter term, whether they
// are exactly the term, and false if the store cannot answer it.
func pushUser(e filter.Expression) ([]identity.UserCond, bool, bool) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		if e.Operator != filter.OR {
			return nil, false, false
		}
		l, lexact, ok1 := pushUser(e.Left)
		r, rexact, ok2 := pushUser(e.Right)
		if !ok1 || !ok2 {
			return nil, false, false
		}
		return []identity.UserCond{{Any: []identity.UserCond{all(l), all(r)}}}, lexact && rexact, true
	case *filter.NotExpression:
		c, exact, ok := pushUser(e.Expression)
		if !ok || !exact {
			return nil, false, false // the negation of a superset is no superset
		}
		n := all(c)
		n.Not = !n.Not
		return []identity.UserCond{n}, true, true
	case *filter.ValuePath:
		a, _ := userType.resolve(pathURI(e.AttributePath), e.AttributePath.AttributeName)
		if a != emailsAttr {
			return nil, false, false
		}
		for _, c := range conjuncts(e.ValueFilter) {
			ae, ok := c.(*filter.AttributeExpression)
			if ok && strings.EqualFold(ae.AttributePath.AttributeName, "value") && ae.AttributePath.SubAttribute == nil {
				if cond, ok := emailCond(ae.Operator, ae.CompareValue); ok {
					return []identity.UserCond{cond}, false, true
				}
			}
		}
		return nil, false, false
	case *filter.AttributeExpression:
		return pushAttr(e)
	}
	return nil, false, false
}

// all is the condition that holds when every one of cs holds.
func all(cs []identity.UserCond) identity.UserCond {
	if len(cs) == 1 {
		return cs[0]
	}
	// not (not a or not b)
	any := make([]identity.UserCond, len(cs))
	for i, c := range cs {
		c.Not = !c.Not
		any[i] = c
	}
	return identity.UserCond{Any: any, Not: true}
}

func pushAttr(e *filter.AttributeExpression) ([]identity.UserCond, bool, bool) {
	p := e.AttributePath
	a, _ := userType.resolve(pathURI(p), p.AttributeName)
	if a == nil {
		return nil, false, false
	}
	sub := ""
	if p.SubAttribute != nil {
		sub = *p.SubAttribute
		if sa := a.sub(sub); sa != nil {
			sub = sa.Name
		}
	}
	switch {
	case a == emailsAttr && (sub == "" || sub == "value"):
		c, ok := emailCond(e.Operator, e.CompareValue)
		return []identity.UserCond{c}, false, ok
	case a == metaAttr && (sub == "created" || sub == "lastModified"):
		field := identity.FieldCreated
		if sub == "lastModified" {
			field = identity.FieldUpdated
		}
		s, ok := compareValue(e.CompareValue).(string)
		if !ok {
			return nil, false, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, false, false
		}
		cs, ok := timeConds(field, e.Operator, t)
		return cs, true, ok
	}
	field, ok := textFields[[2]string{a.Name, sub}]
	if !ok {
		return nil, false, false
	}
	c, ok := textCond(field, e.Operator, e.CompareValue)
	if field == identity.FieldExternalID && c.Op != identity.OpEq && c.Op != identity.OpPresent {
		return nil, false, false // externalId is case-exact: the store takes eq and pr only
	}
	return []identity.UserCond{c}, true, ok
}

// textCond is the condition of `field op value`, for eq, ne, sw, co and pr
// with a non-empty string value.
func textCond(field identity.UserField, op filter.CompareOperator, cv any) (identity.UserCond, bool) {
	c := identity.UserCond{Field: field}
	switch op {
	case filter.PR:
		c.Op = identity.OpPresent
		return c, true
	case filter.EQ:
		c.Op = identity.OpEq
	case filter.NE:
		c.Op, c.Not = identity.OpEq, true
	case filter.SW:
		c.Op = identity.OpStartsWith
	case filter.CO:
		c.Op = identity.OpContains
	default:
		return c, false
	}
	s, ok := compareValue(cv).(string)
	if !ok || s == "" {
		return c, false
	}
	c.Value = s
	return c, true
}

// emailCond is a superset of `emails.value op value`: the identity's email,
// or the addresses kept in Attributes (compared as JSON text, so only for a
// value JSON writes as it is).
func emailCond(op filter.CompareOperator, cv any) (identity.UserCond, bool) {
	c, ok := textCond(identity.FieldEmail, op, cv)
	if !ok || c.Not {
		return c, false
	}
	kept := identity.UserCond{Field: identity.FieldAttribute, Key: attrEmails, Op: identity.OpContains, Value: c.Value}
	if c.Op == identity.OpPresent {
		kept.Op, kept.Value = identity.OpPresent, ""
	} else if !plainASCII(c.Value) {
		return c, false
	}
	return identity.UserCond{Any: []identity.UserCond{c, kept}}, true
}

// plainASCII reports whether JSON writes s as it is, and SQL's lower folds
// all its letters.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// timeConds is `meta.created op t` (or lastModified) on the stored time U,
// for a document that shows U cut to the second: cut(U) > t holds when U is
// at least t's second plus one, and so on.
func timeConds(field identity.UserField, op filter.CompareOperator, t time.Time) ([]identity.UserCond, bool) {
	floor := t.Truncate(time.Second)
	next := floor.Add(time.Second)
	ceil := floor
	if !t.Equal(floor) {
		ceil = next
	}
	ge := func(at time.Time) identity.UserCond {
		return identity.UserCond{Field: field, Op: identity.OpNotBefore, Time: at}
	}
	lt := func(at time.Time) identity.UserCond {
		return identity.UserCond{Field: field, Op: identity.OpBefore, Time: at}
	}
	switch op {
	case filter.GT:
		return []identity.UserCond{ge(next)}, true
	case filter.GE:
		return []identity.UserCond{ge(ceil)}, true
	case filter.LT:
		return []identity.UserCond{lt(ceil)}, true
	case filter.LE:
		return []identity.UserCond{lt(next)}, true
	case filter.EQ:
		if !t.Equal(floor) {
			return []identity.UserCond{never()}, true
		}
		return []identity.UserCond{ge(floor), lt(next)}, true
	}
	return nil, false
}
