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

// HiddenRune reports whether r is a character that no stored text value may
// hold (names, display names, userName, email, externalID, group names,
// attribute keys and values), because it is invisible or reorders the text
// around it on a screen, so that one name can pass for another:
//
//   - control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F);
//   - bidirectional formatting: U+061C ARABIC LETTER MARK, U+200E and U+200F
//     (LEFT-TO-RIGHT and RIGHT-TO-LEFT MARK), U+202A-U+202E (embeddings,
//     overrides and POP DIRECTIONAL FORMATTING), U+2066-U+2069 (isolates);
//   - zero-width and invisible characters: U+00AD SOFT HYPHEN, U+180E
//     MONGOLIAN VOWEL SEPARATOR, U+200B ZERO WIDTH SPACE, U+2060 WORD JOINER,
//     U+2061-U+2064 (invisible operators), U+FEFF ZERO WIDTH NO-BREAK SPACE
//     (BOM), the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, and
//     U+FFF9-U+FFFB (interlinear annotation);
//   - the line and paragraph separators U+2028 and U+2029.
//
// U+200C ZERO WIDTH NON-JOINER and U+200D ZERO WIDTH JOINER are allowed:
// Persian and Indic names and emoji sequences need them.
func HiddenRune(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == 0x061C, r == 0x200E, r == 0x200F, 0x202A <= r && r <= 0x202E, 0x2066 <= r && r <= 0x2069:
		return true
	case r == 0x00AD, r == 0x180E, r == 0x200B, 0x2060 <= r && r <= 0x2064, r == 0xFEFF:
		return true
	case r == 0x115F, r == 0x1160, r == 0x3164, r == 0xFFA0, 0xFFF9 <= r && r <= 0xFFFB:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// hiddenMessage is what a ValidationError says of a value with a HiddenRune.
const hiddenMessage = "must not contain control, bidirectional-override or invisible characters"

// TextProblem returns what is wrong with a text value as the core checks it
// (after trimming), or "" when nothing is: not valid UTF-8, longer than max
// bytes, or holding a HiddenRune. A source that checks its input before
// handing it to the core (the importer, say) uses it, with the Max limits.
func TextProblem(s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case len(s) > max:
		return "is too long"
	case hasHidden(s):
		return hiddenMessage
	}
	return ""
}

// hasHidden reports whether the valid UTF-8 s holds a HiddenRune: ASCII is
// checked in place (its hidden runes are the controls), other runes by
// HiddenRune.
func hasHidden(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf {
			return strings.ContainsFunc(s[i:], HiddenRune)
		} else if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// cleanText checks one text value with TextProblem and returns it trimmed.
func cleanText(v *ValidationError, field, s string, max int) string {
	if printable(s) {
		// Nothing to trim, valid UTF-8 and nothing hidden: one loop.
		if len(s) > max {
			v.Add(field, "is too long")
		}
		return s
	}
	s = strings.TrimSpace(s)
	if msg := TextProblem(s, max); msg != "" {
		v.Add(field, msg)
	}
	return s
}

// normalizeUser trims and checks the fields a source may set; it returns a
// *ValidationError naming every field that is wrong.
func normalizeUser(u *User) error { return normalizeChecked(u, attrsClean(u.Attributes)) }

// normalizeChecked is normalizeUser for a caller that has found out
// whether attrsClean(u.Attributes).
func normalizeChecked(u *User, cleanAttrs bool) error {
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
	if cleanAttrs {
		// Nothing below would change or report: skip the sorting.
		return v.orNil()
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
	return v.orNil()
}

// attrsClean reports whether normalizeUser leaves attrs as they are and
// finds nothing wrong with them: at most MaxAttributes entries, every key
// and value non-empty, trimmed, and without a TextProblem. A nil or empty
// map is clean only when nil (normalizeUser makes an empty one nil).
func attrsClean(attrs map[string]string) bool {
	if attrs == nil {
		return true
	}
	if len(attrs) == 0 || len(attrs) > MaxAttributes {
		return false
	}
	for k, val := range attrs {
		if !textClean(k, MaxAttributeKeyLength) || !textClean(val, MaxAttributeValueLength) {
			return false
		}
	}
	return true
}

// orNil returns a copy of v if it holds a problem, else nil: v itself
// stays on the stack.
func (v *ValidationError) orNil() error {
	if len(v.Fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: v.Fields}
}

// printable reports whether s is printable ASCII (a space included) that
// does not start or end with a space; "" is.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return s == "" || s[0] != ' ' && s[len(s)-1] != ' '
}

// textClean reports whether cleanText leaves s as it is and finds nothing
// wrong, and s is not empty. Printable ASCII is checked in one loop.
func textClean(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf {
			return strings.TrimSpace(s) == s && TextProblem(s, max) == ""
		} else if c < 0x20 || c == 0x7f {
			return false
		}
	}
	// ASCII white space other than the space is a control character.
	return s[0] != ' ' && s[len(s)-1] != ' '
}

// profileChanged reports whether changedFields(a, b) names any field,
// without naming them.
func profileChanged(a, b User) bool {
	return a.UserName != b.UserName || a.Email != b.Email || a.EmailVerified != b.EmailVerified ||
		a.GivenName != b.GivenName || a.FamilyName != b.FamilyName || a.DisplayName != b.DisplayName ||
		a.Active != b.Active || a.ExternalID != b.ExternalID || !maps.Equal(a.Attributes, b.Attributes)
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
