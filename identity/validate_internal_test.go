package identity

import (
	"maps"
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzPlainEmail checks that the fast path of ValidEmail accepts only
// addresses that net/mail accepts as they are.
func FuzzPlainEmail(f *testing.F) {
	for _, s := range []string{
		"a@b.de", "first.last+tag@mail.example.com", "a..b@x.de", ".a@x.de", "a.@x.de", "a@x..de",
		"a@x.de.", "a@-x.de", "a@x", "a@b@c.de", "\"a b\"@x.de", "o'brien@x.ie", "a@[127.0.0.1]",
		"user000001@example.com", "ü@x.de", "a@x_y.de", "{a}|~@x.de", "@x.de", "a@.de",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !plainEmail(s) {
			return
		}
		a, err := mail.ParseAddress(s)
		if err != nil || a.Name != "" || a.Address != s {
			t.Fatalf("plainEmail(%q) but net/mail says %v, %+v", s, err, a)
		}
		at := strings.LastIndexByte(s, '@')
		if d := s[at+1:]; !strings.Contains(d, ".") || strings.Contains(d, "..") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
			t.Fatalf("plainEmail(%q) accepts the domain %q", s, d)
		}
	})
}

func TestPlainEmail(t *testing.T) {
	for s, want := range map[string]bool{
		"a@b.de": true, "first.last+tag@mail.example.com": true, "o'brien@x.ie": true,
		"a..b@x.de": false, "a@x": false, "a@x..de": false, "\"a b\"@x.de": false, "ü@x.de": false,
	} {
		if got := plainEmail(s); got != want {
			t.Errorf("plainEmail(%q) = %v, want %v", s, got, want)
		}
	}
	// What the fast path leaves to net/mail is still decided there.
	if !ValidEmail("ü@x.de") || ValidEmail("a@x") || ValidEmail("\"a b\"@x.de") {
		t.Error("ValidEmail no longer falls back to net/mail")
	}
}

// textSeeds are values of every kind the fast paths of the text checks
// tell apart.
var textSeeds = []string{
	"", "a", " a", "a ", "\ta", "a\n", "Ada", "Françoise", "東京", "a\u00a0", "\u00a0a", "\u3000b", "a\u200bb",
	"a\u202eb", "a\x7fb", "\xff", "a\xc3", "a\u0085", "\u2028", "(555) 750-9423", "x\u180ey", "\ufeff",
	strings.Repeat("x", 256), strings.Repeat("x", 257), strings.Repeat("é", 129),
}

// FuzzTextClean checks textClean (the one-loop check of attrsClean),
// cleanText's fast path for printable ASCII and hasHidden against what
// strings.TrimSpace and TextProblem say of a value.
func FuzzTextClean(f *testing.F) {
	for _, s := range textSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		const max = 256
		want := s != "" && strings.TrimSpace(s) == s && TextProblem(s, max) == ""
		if got := textClean(s, max); got != want {
			t.Fatalf("textClean(%q) = %v, want %v", s, got, want)
		}
		var v ValidationError
		got := cleanText(&v, "f", s, max)
		msg := TextProblem(strings.TrimSpace(s), max)
		if got != strings.TrimSpace(s) || (msg == "") != (v.Err() == nil) || msg != "" && v.Fields[0].Message != msg {
			t.Fatalf("cleanText(%q) = %q, %v; want %q, %q", s, got, v.Err(), strings.TrimSpace(s), msg)
		}
		if utf8.ValidString(s) && hasHidden(s) != strings.ContainsFunc(s, HiddenRune) {
			t.Fatalf("hasHidden(%q) = %v", s, hasHidden(s))
		}
	})
}

// TestNormalizeAttributesFastPath checks that the attributes normalizeUser
// skips (attrsClean) are those its full loop leaves as they are and finds
// nothing wrong with.
func TestNormalizeAttributesFastPath(t *testing.T) {
	for _, k := range append(textSeeds, "department") {
		for _, v := range textSeeds {
			m := map[string]string{k: v, "phone": "0301234"}
			u := User{Email: "a@b.de", Attributes: maps.Clone(m)}
			err := normalizeChecked(&u, false) // the full loop
			same := err == nil && maps.Equal(u.Attributes, m)
			if got := attrsClean(m); got != same {
				t.Errorf("attrsClean(%q) = %v; the full loop gives %v, %v", m, got, u.Attributes, err)
			}
			u2 := User{Email: "a@b.de", Attributes: maps.Clone(m)}
			err2 := normalizeUser(&u2)
			if !maps.Equal(u2.Attributes, u.Attributes) || (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
				t.Errorf("normalizeUser(%q) = %v, %v; the full loop gives %v, %v", m, u2.Attributes, err2, u.Attributes, err)
			}
		}
	}
	if !attrsClean(nil) || attrsClean(map[string]string{}) {
		t.Error("attrsClean: a nil map is clean, an empty one is made nil")
	}
}
