package scim

import (
	"encoding/json"
	"github.com/rollcall/rollcall/identity"
	"regexp"
	"slices"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"
)

// maxFilterLen caps the length of a filter or a PATCH path.
const maxFilterLen = 4096

// parseFilter parses a SCIM filter with filter-parser. What it refuses is
// tried once more after two repairs that real clients need (see fixFilter):
// unquoted values (Entra's `externalId eq jyoung`) and a value path followed
// by a sub-attribute (`emails[type eq "work"].value eq "x"`, which Entra
// sends and RFC 7644's grammar lacks). It returns a *Error (invalidFilter).
func parseFilter(s string) (filter.Expression, error) {
	if len(s) > maxFilterLen {
		return nil, badRequest(ScimInvalidFilter, "the filter is too long")
	}
	if strings.TrimSpace(s) == "" {
		return nil, badRequest(ScimInvalidFilter, "the filter is empty")
	}
	e, err := safeParse(func() (filter.Expression, error) { return filter.ParseFilter([]byte(s)) })
	if err == nil {
		return e, nil
	}
	if fixed := fixFilter(s); fixed != s {
		if e, err2 := safeParse(func() (filter.Expression, error) { return filter.ParseFilter([]byte(fixed)) }); err2 == nil {
			return e, nil
		}
	}
	return nil, badRequest(ScimInvalidFilter, "cannot parse the filter %q", s)
}

// parsePath parses a PATCH path, with the same repairs as parseFilter. It
// returns a *Error (invalidPath).
func parsePath(s string) (filter.Path, error) {
	if len(s) > maxFilterLen {
		return filter.Path{}, badRequest(ScimInvalidPath, "the path is too long")
	}
	p, err := safeParse(func() (filter.Path, error) { return filter.ParsePath([]byte(s)) })
	if err == nil {
		return p, nil
	}
	if fixed := fixFilter(s); fixed != s {
		if p, err2 := safeParse(func() (filter.Path, error) { return filter.ParsePath([]byte(fixed)) }); err2 == nil {
			return p, nil
		}
	}
	return filter.Path{}, badRequest(ScimInvalidPath, "cannot parse the path %q", s)
}

// safeParse turns a panic of the parser into an error: input comes from the
// network.
func safeParse[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = badRequest(ScimInvalidFilter, "cannot parse")
		}
	}()
	return f()
}

type token struct {
	text  string
	space bool // preceded by white space
}

func tokenize(s string) []token {
	var toks []token
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			space = true
			i++
			continue
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(s))
			toks = append(toks, token{s[i:j], space})
			i = j
		case strings.IndexByte("()[]", c) >= 0:
			toks = append(toks, token{s[i : i+1], space})
			i++
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\n\r()[]\"", s[j]) < 0 {
				j++
			}
			toks = append(toks, token{s[i:j], space})
			i = j
		}
		space = false
	}
	return toks
}

var compareOps = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "ge": true, "lt": true, "le": true}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func isWord(t string) bool {
	return t != "" && t[0] != '"' && strings.IndexByte("()[]", t[0]) < 0
}

// fixFilter repairs what clients send and the grammar refuses:
//   - `attr[filter].sub op value` becomes `attr[filter and sub op value]`
//     (unless filter has an or: the grammar has no parentheses in brackets);
//   - an unquoted value after a comparison operator that is not true, false,
//     null or a number is quoted (`userName sw O`, `meta.created gt
//     2015-10-10T14:38:21Z`).
func fixFilter(s string) string {
	toks := tokenize(s)
	// Value paths with a trailing sub-attribute.
	for i := 0; i < len(toks); i++ {
		if toks[i].text != "]" || i+2 >= len(toks) || toks[i+1].space || !strings.HasPrefix(toks[i+1].text, ".") || len(toks[i+1].text) < 2 {
			continue
		}
		open := -1
		depth := 0
		for j := i - 1; j >= 0; j-- {
			if toks[j].text == "]" {
				depth++
			} else if toks[j].text == "[" {
				if depth == 0 {
					open = j
					break
				}
				depth--
			}
		}
		if open < 0 {
			continue
		}
		sub := toks[i+1].text[1:]
		op := strings.ToLower(toks[i+2].text)
		var tail []token
		end := i + 3
		switch {
		case op == "pr":
			tail = []token{{sub, true}, {"pr", true}}
		case compareOps[op] && i+3 < len(toks):
			tail = []token{{sub, true}, {toks[i+2].text, true}, {toks[i+3].text, true}}
			end = i + 4
		default:
			continue
		}
		inner := append([]token(nil), toks[open+1:i]...)
		if slices.ContainsFunc(inner, func(t token) bool { return strings.EqualFold(t.text, "or") }) {
			continue // the grammar has no parentheses inside brackets
		}
		var rebuilt []token
		rebuilt = append(rebuilt, toks[:open+1]...)
		rebuilt = append(rebuilt, inner...)
		rebuilt = append(rebuilt, token{"and", true})
		rebuilt = append(rebuilt, tail...)
		rebuilt = append(rebuilt, token{"]", false})
		rebuilt = append(rebuilt, toks[end:]...)
		toks = rebuilt
	}
	// Unquoted values.
	for i := 2; i < len(toks); i++ {
		t := toks[i].text
		if !isWord(t) || !compareOps[strings.ToLower(toks[i-1].text)] || !(isWord(toks[i-2].text) || toks[i-2].text == "]") {
			continue
		}
		switch strings.ToLower(t) {
		case "true", "false", "null":
			continue
		}
		if jsonNumber.MatchString(t) {
			continue
		}
		q, _ := json.Marshal(t)
		toks[i].text = string(q)
	}
	var b strings.Builder
	for i, t := range toks {
		if t.space && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}

// compareValue returns the filter's comparison value with JSON string escapes
// undone (the parser keeps them).
func compareValue(v any) any {
	s, ok := v.(string)
	if !ok || !strings.Contains(s, `\`) {
		return v
	}
	var out string
	if json.Unmarshal([]byte(`"`+s+`"`), &out) == nil {
		return out
	}
	return s
}

// match reports whether the document d of type rt passes the filter.
func match(rt *resourceType, d doc, e filter.Expression) bool {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		if e.Operator == filter.AND {
			return match(rt, d, e.Left) && match(rt, d, e.Right)
		}
		return match(rt, d, e.Left) || match(rt, d, e.Right)
	case *filter.NotExpression:
		return !match(rt, d, e.Expression)
	case *filter.ValuePath:
		a, s := rt.resolve(pathURI(e.AttributePath), e.AttributePath.AttributeName)
		if a == nil || a.Type != tComplex {
			return false
		}
		c := container(d, rt, s, false)
		for _, el := range elements(c[a.Name]) {
			if matchSub(a, el, e.ValueFilter) {
				return true
			}
		}
		return false
	case *filter.AttributeExpression:
		p := e.AttributePath
		a, s := rt.resolve(pathURI(p), p.AttributeName)
		if a == nil {
			return false
		}
		c := container(d, rt, s, false)
		v := c[a.Name]
		if p.SubAttribute != nil {
			sa := a.sub(*p.SubAttribute)
			if sa == nil {
				return false
			}
			return anyMatch(sa, subValues(v, sa.Name), e.Operator, e.CompareValue)
		}
		if a.Type == tComplex {
			// A complex attribute compared as a whole compares its value.
			if sa := a.sub("value"); sa != nil {
				return anyMatch(sa, subValues(v, "value"), e.Operator, e.CompareValue)
			}
			return e.Operator == filter.PR && v != nil
		}
		if a.Multi {
			list, _ := v.([]any)
			return anyMatch(a, list, e.Operator, e.CompareValue)
		}
		return anyMatch(a, []any{v}, e.Operator, e.CompareValue)
	}
	return false
}

// matchSub evaluates the filter of a value path against one element of the
// complex attribute a.
func matchSub(a *attr, el doc, e filter.Expression) bool {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		if e.Operator == filter.AND {
			return matchSub(a, el, e.Left) && matchSub(a, el, e.Right)
		}
		return matchSub(a, el, e.Left) || matchSub(a, el, e.Right)
	case *filter.NotExpression:
		return !matchSub(a, el, e.Expression)
	case *filter.AttributeExpression:
		name := e.AttributePath.AttributeName
		if e.AttributePath.SubAttribute != nil && strings.EqualFold(name, a.Name) {
			name = *e.AttributePath.SubAttribute // emails[emails.type eq "work"]
		}
		sa := a.sub(name)
		if sa == nil {
			return false
		}
		return anyMatch(sa, []any{el[sa.Name]}, e.Operator, e.CompareValue)
	}
	return false
}

func pathURI(p filter.AttributePath) string {
	if p.URIPrefix == nil {
		return ""
	}
	return *p.URIPrefix
}

// elements returns the elements of a complex attribute's value: the list of
// a multi-valued one, the object of a single-valued one.
func elements(v any) []doc {
	switch v := v.(type) {
	case doc:
		return []doc{v}
	case []any:
		out := make([]doc, 0, len(v))
		for _, e := range v {
			if m, ok := e.(doc); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

func subValues(v any, sub string) []any {
	var out []any
	for _, el := range elements(v) {
		out = append(out, el[sub])
	}
	return out
}

func anyMatch(a *attr, values []any, op filter.CompareOperator, cv any) bool {
	cv = compareValue(cv)
	if op == filter.PR {
		for _, v := range values {
			if present(v) {
				return true
			}
		}
		return false
	}
	if op == filter.NE {
		// ne holds when no value equals the operand.
		return !anyMatch(a, values, filter.EQ, cv)
	}
	for _, v := range values {
		if compare(a, v, op, cv) {
			return true
		}
	}
	return false
}

func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case doc:
		return len(v) > 0
	}
	return true
}

func compare(a *attr, v any, op filter.CompareOperator, cv any) bool {
	if v == nil {
		return false
	}
	switch a.Type {
	case tBoolean:
		b, ok := v.(bool)
		c, ok2 := cv.(bool)
		if !ok2 {
			if s, isStr := cv.(string); isStr {
				switch strings.ToLower(s) {
				case "true":
					c, ok2 = true, true
				case "false":
					c, ok2 = false, true
				}
			}
		}
		return ok && ok2 && op == filter.EQ && b == c
	case tDateTime:
		s, _ := v.(string)
		cs, _ := cv.(string)
		t1, err1 := time.Parse(time.RFC3339Nano, s)
		t2, err2 := time.Parse(time.RFC3339Nano, cs)
		if err1 != nil || err2 != nil {
			return false
		}
		return ordered(t1.Compare(t2), op)
	}
	s, ok := v.(string)
	cs, ok2 := cv.(string)
	if !ok || !ok2 {
		return false
	}
	switch {
	case a.Email && op == filter.EQ:
		s, cs = identity.NormalizeEmail(s), identity.NormalizeEmail(cs)
	case !a.CaseExact:
		s, cs = strings.ToLower(s), strings.ToLower(cs)
	}
	switch op {
	case filter.CO:
		return strings.Contains(s, cs)
	case filter.SW:
		return strings.HasPrefix(s, cs)
	case filter.EW:
		return strings.HasSuffix(s, cs)
	}
	return ordered(strings.Compare(s, cs), op)
}

func ordered(c int, op filter.CompareOperator) bool {
	switch op {
	case filter.EQ:
		return c == 0
	case filter.GT:
		return c > 0
	case filter.GE:
		return c >= 0
	case filter.LT:
		return c < 0
	case filter.LE:
		return c <= 0
	}
	return false
}
