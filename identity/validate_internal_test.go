package identity

import (
	"net/mail"
	"strings"
	"testing"
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
