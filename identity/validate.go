package identity

import (
	"maps"
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on stored values, lengths in bytes. A source that checks its input
// before handing it to the core (the importer, say) uses these, so that the
// core never refuses what the source let through.
const (
	MaxEmailLength          = 254
	MaxNameLength           = 256 // userName, names, externalID, group names
	MaxAttributeKeyLength   = 128
	MaxAttributeValueLength = 1024
	MaxAttributes           = 64
)

// ValidEmail reports whether s is a plain email address: local part, "@",
// and a domain with a dot, at most 254 bytes, no display name, no spaces
// around it.
func ValidEmail(s string) bool {
	if s == "" || len(s) > MaxEmailLength || strings.TrimSpace(s) != s {
		return false
	}
	if plainEmail(s) {
		return true
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return false
	}
	return true
}

// plainEmail reports whether s is an address of the common shape that
// ValidEmail accepts without parsing: a local part of ASCII letters, digits
// and the other atext characters of RFC 5322 in dot-separated runs, "@",
// and two or more dot-separated labels of ASCII letters, digits and hyphens.
// Any other shape goes through net/mail.
func plainEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	prev := byte('.')
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c == '.':
			if prev == '.' {
				return false
			}
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
		prev = c
	}
	if prev == '.' {
		return false
	}
	dots := 0
	prev = '.'
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		switch {
		case c == '.':
			if prev == '.' {
				return false
			}
			dots++
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
		default:
			return false
		}
		prev = c
	}
	return dots > 0 && prev != '.'
}

// cleanText checks one text value: valid UTF-8, no control characters, at most
// max bytes. It returns the value trimmed.
func cleanText(v *ValidationError, field, s string, max int) string {
	s = strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case len(s) > max:
		v.Add(field, "is too long")
	case strings.ContainsFunc(s, unicode.IsControl):
		v.Add(field, "must not contain control characters")
	}
	return s
}

// normalizeUser trims and checks the fields a source may set; it returns a
// *ValidationError naming every field that is wrong.
func normalizeUser(u *User) error {
	var v ValidationError
	u.Email = cleanText(&v, "email", u.Email, MaxEmailLength)
	if u.Email != "" && !ValidEmail(u.Email) {
		v.Add("email", "must be a valid email address")
	}
	u.UserName = cleanText(&v, "userName", u.UserName, MaxNameLength)
	if u.UserName == "" {
		u.UserName = u.Email
	}
	if u.UserName == "" {
		v.Add("userName", "is required when there is no email")
	}
	u.GivenName = cleanText(&v, "givenName", u.GivenName, MaxNameLength)
	u.FamilyName = cleanText(&v, "familyName", u.FamilyName, MaxNameLength)
	u.DisplayName = cleanText(&v, "displayName", u.DisplayName, MaxNameLength)
	u.ExternalID = cleanText(&v, "externalID", u.ExternalID, MaxNameLength)
	if len(u.Attributes) > MaxAttributes {
		v.Add("attributes", "has too many entries")
	}
	for _, k := range slices.Sorted(maps.Keys(u.Attributes)) {
		val := u.Attributes[k]
		ck := cleanText(&v, "attributes", k, MaxAttributeKeyLength)
		if ck == "" {
			v.Add("attributes", "has an empty key")
			continue
		}
		cv := cleanText(&v, "attributes."+ck, val, MaxAttributeValueLength)
		if ck != k || cv != val {
			delete(u.Attributes, k)
			if cv != "" {
				u.Attributes[ck] = cv
			}
		} else if cv == "" {
			delete(u.Attributes, k)
		}
	}
	if len(u.Attributes) == 0 {
		u.Attributes = nil
	}
	return v.Err()
}

// Changes returns the fields that an update from before to after changes:
// after is normalised and checked first, as Tx.UpdateUser does, which may
// return a *ValidationError. No fields means Tx.UpdateUser would store
// nothing. It lets a caller tell what an update would do without making it
// (a dry run). What UpdateUser adds is the caller's to foresee: its policy
// checks (restoring, say), and EmailVerified turning false with a new email.
func Changes(before, after User) ([]string, error) {
	after = after.Clone()
	if err := normalizeUser(&after); err != nil {
		return nil, err
	}
	return changedFields(before, after), nil
}

// changedFields names the fields that differ between two versions of a user,
// in a fixed order. Attributes are named "attributes.<key>".
func changedFields(a, b User) []string {
	var f []string
	add := func(name string, changed bool) {
		if changed {
			f = append(f, name)
		}
	}
	add("userName", a.UserName != b.UserName)
	add("email", a.Email != b.Email)
	add("emailVerified", a.EmailVerified != b.EmailVerified)
	add("givenName", a.GivenName != b.GivenName)
	add("familyName", a.FamilyName != b.FamilyName)
	add("displayName", a.DisplayName != b.DisplayName)
	add("active", a.Active != b.Active)
	add("externalID", a.ExternalID != b.ExternalID)
	keys := slices.Sorted(maps.Keys(a.Attributes))
	for k := range b.Attributes {
		if _, ok := a.Attributes[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		av, aok := a.Attributes[k]
		bv, bok := b.Attributes[k]
		add("attributes."+k, av != bv || aok != bok)
	}
	return f
}

// normalizeGroupName trims and checks a group name.
func normalizeGroupName(name string) (string, error) {
	var v ValidationError
	name = cleanText(&v, "name", name, MaxNameLength)
	if name == "" && len(v.Fields) == 0 {
		v.Add("name", "is required")
	}
	return name, v.Err()
}
