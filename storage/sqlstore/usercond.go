package sqlstore

import (
	"strings"

	"github.com/rollcall/rollcall/identity"
)

// searchFields is the position of each field in the search column (see
// searchText in appendUserValues): a field's text lies between the
// separators before and after it, and no stored text holds a separator
// (the core refuses control characters), so a LIKE pattern with the
// separators spelled out matches within one field.
var searchFields = map[identity.UserField]int{
	identity.FieldEmail:       0,
	identity.FieldUserName:    1,
	identity.FieldGivenName:   2,
	identity.FieldFamilyName:  3,
	identity.FieldDisplayName: 4,
}

const searchFieldCount = 5

// likeEscape escapes s for LIKE ... ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// condSQL returns the SQL expression of a UserCond (checked) and its
// arguments, on the users table as u.
func condSQL(d Dialect, c identity.UserCond) (string, []any) {
	expr, args := condExpr(d, c)
	if c.Not {
		expr = "NOT (" + expr + ")"
	}
	return expr, args
}

func condExpr(d Dialect, c identity.UserCond) (string, []any) {
	if len(c.Any) > 0 {
		parts := make([]string, 0, len(c.Any))
		var args []any
		for _, a := range c.Any {
			e, as := condSQL(d, a)
			parts = append(parts, e)
			args = append(args, as...)
		}
		return "(" + strings.Join(parts, " OR ") + ")", args
	}
	switch c.Field {
	case identity.FieldCreated, identity.FieldUpdated:
		col := "u.created"
		if c.Field == identity.FieldUpdated {
			col = "u.updated"
		}
		if c.Op == identity.OpBefore {
			return col + " < ?", []any{micros(c.Time)}
		}
		return col + " >= ?", []any{micros(c.Time)}
	case identity.FieldExternalID:
		if c.Op == identity.OpPresent {
			return "u.external_id <> ''", nil
		}
		if c.Value == "" {
			return "u.external_id = ''", nil
		}
		// The partial index holds non-empty values: the planner uses it
		// only if the query says so.
		return "u.external_id = ? AND u.external_id <> ''", []any{c.Value}
	case identity.FieldAttribute:
		return attrExpr(d, c)
	}
	v := strings.ToLower(c.Value)
	switch c.Field {
	case identity.FieldUserName, identity.FieldEmail:
		col := "u.user_name_key"
		if c.Field == identity.FieldEmail {
			col = "u.email_key"
		}
		switch c.Op {
		case identity.OpEq:
			if v == "" {
				return col + " = ''", nil
			}
			if c.Field == identity.FieldEmail {
				v = identity.NormalizeEmail(c.Value) // email_key holds the canonical form
			}
			return col + " = ? AND " + col + " <> ''", []any{v}
		case identity.OpPresent:
			return col + " <> ''", nil
		case identity.OpStartsWith:
			return col + ` LIKE ? ESCAPE '\'`, []any{likeEscape(v) + "%"}
		}
		return col + ` LIKE ? ESCAPE '\'`, []any{"%" + likeEscape(v) + "%"}
	}
	// The names have no column of their own in lower case: they are matched
	// at their place in the search column.
	if strings.ContainsRune(v, '\x1f') {
		return "1 = 0", nil
	}
	var field string
	switch c.Op {
	case identity.OpEq:
		field = likeEscape(v)
	case identity.OpStartsWith:
		field = likeEscape(v) + "%"
	case identity.OpContains:
		field = "%" + likeEscape(v) + "%"
	default: // OpPresent
		field = "_%"
	}
	pos := searchFields[c.Field]
	pattern := strings.Repeat("%\x1f", pos) + field + strings.Repeat("\x1f%", searchFieldCount-1-pos)
	return `u.search LIKE ? ESCAPE '\'`, []any{pattern}
}

// attrExpr matches Attributes[c.Key], ASCII letters folded.
func attrExpr(d Dialect, c identity.UserCond) (string, []any) {
	val := "COALESCE(json_extract(u.attributes, ?), '')"
	key := any(`$."` + c.Key + `"`)
	if d == Postgres {
		val = `COALESCE((u.attributes::jsonb ->> ?), '') COLLATE "C"`
		key = c.Key
	}
	switch c.Op {
	case identity.OpPresent:
		return val + " <> ''", []any{key}
	case identity.OpEq:
		return "lower(" + val + ") = ?", []any{key, asciiLower(c.Value)}
	}
	return "lower(" + val + `) LIKE ? ESCAPE '\'`, []any{key, "%" + likeEscape(asciiLower(c.Value)) + "%"}
}

// asciiLower lower-cases the ASCII letters of s only, as SQL's lower does
// under SQLite and PostgreSQL's "C" collation.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
