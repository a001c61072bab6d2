package identity_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rollcall/rollcall/identity"
)

func TestNormalizeEmail(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ada@example.com", "ada@example.com"},
		{"  Ada@Example.COM ", "ada@example.com"},
		{"j@müller.de", "j@xn--mller-kva.de"},
		{"j@xn--mller-kva.de", "j@xn--mller-kva.de"},
		{"J@MÜLLER.DE", "j@xn--mller-kva.de"},
		{"ＡＤＡ@example.com", "ada@example.com"},
		{"ada@ｅｘａｍｐｌｅ．ｃｏｍ", "ada@example.com"},
		{"José@example.com", "josé@example.com"},
		{"Jose\u0301@example.com", "josé@example.com"}, // decomposed: NFKC composes
		{"a@b@Münich.de", "a@b@xn--mnich-kva.de"},
		{"no-at-sign", "no-at-sign"},
		{"", ""},
		{"ada@exa_mple.de", "ada@exa_mple.de"},
	} {
		if got := identity.NormalizeEmail(c.in); got != c.want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzNormalizeEmail checks that the canonical form of an email is a fixed
// point, has no upper-case ASCII letter and no white space around it, and
// that a valid address never has an empty one.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"ada@example.com", "j@müller.de", "j@xn--mller-kva.de", "ＡＤＡ@example.com", " a@b.de ",
		"İ@x.de", "ß@straße.de", "\u0130\u0307@x", "a@\u00AD.de", "a@xn--.de", "ǅ@x.de", "a@b@c", "\xff@x.de",
		"ﬁ@ﬁ.de", "ϴ@Ω.gr", "a@١٢٣.eg", "\u1E9E@x.de",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := identity.NormalizeEmail(s)
		if again := identity.NormalizeEmail(n); again != n {
			t.Fatalf("NormalizeEmail(%q) = %q, but NormalizeEmail of that is %q", s, n, again)
		}
		if strings.TrimSpace(n) != n {
			t.Fatalf("NormalizeEmail(%q) = %q keeps white space", s, n)
		}
		if strings.ContainsFunc(n, func(r rune) bool { return 'A' <= r && r <= 'Z' }) {
			t.Fatalf("NormalizeEmail(%q) = %q keeps an upper-case letter", s, n)
		}
		if identity.ValidEmail(s) && n == "" {
			t.Fatalf("NormalizeEmail(%q) is empty", s)
		}
		if utf8.ValidString(s) && !utf8.ValidString(n) {
			t.Fatalf("NormalizeEmail(%q) = %q is not UTF-8", s, n)
		}
	})
}

// BenchmarkNormalizeEmail measures the canonical form of an ASCII address
// (the fast path every store lookup takes) and of one with a Unicode domain
// and full-width letters (NFKC and IDNA).
func BenchmarkNormalizeEmail(b *testing.B) {
	for _, c := range []struct{ name, email string }{
		{"ascii", " Ada.Lovelace@Example.COM"},
		{"unicode", "ＡＤＡ.Lovelace@Müller-Lüdenscheidt.de"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				identity.NormalizeEmail(c.email)
			}
		})
	}
}
