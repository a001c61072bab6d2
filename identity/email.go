package identity

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// NormalizeEmail returns the canonical form of an email address, the form
// every store indexes and compares, so that one mailbox is one user whatever
// the source wrote:
//
//   - trimmed of surrounding white space;
//   - width-folded and compatibility-normalised (Unicode NFKC, the width
//     mapping of PRECIS, RFC 8264 and RFC 8265), so that full-width
//     "ＡＤＡ@ｅｘａｍｐｌｅ.com" is "ada@example.com";
//   - lower-cased (Unicode toLowerCase, as PRECIS's UsernameCaseMapped);
//   - the domain, after the last "@", converted to its ASCII form by IDNA's
//     lookup profile (UTS #46, golang.org/x/net/idna.Lookup), so that
//     "müller.de" and "xn--mller-kva.de" are one domain. A domain IDNA refuses
//     is kept in the form the steps above give.
//
// The address kept for display (User.Email) stays as given. An address of
// ASCII only is trimmed and lower-cased, nothing more. NormalizeEmail is
// idempotent: NormalizeEmail(NormalizeEmail(s)) == NormalizeEmail(s).
func NormalizeEmail(email string) string {
	s := strings.TrimSpace(email)
	if isASCII(s) {
		return strings.ToLower(s)
	}
	// Lower-casing may leave a string that NFKC changes again (and the
	// reverse), and NFKC may make white space at an end (U+00B4 is a space
	// and a combining accent); two rounds reach the fixed point for every string the fuzz
	// target has found, and the loop stops at it.
	for range 3 {
		t := strings.TrimSpace(strings.ToLower(norm.NFKC.String(s)))
		if t == s {
			break
		}
		s = t
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	domain := s[at+1:]
	if a, err := idna.Lookup.ToASCII(domain); err == nil && a != "" && isASCII(a) {
		domain = strings.ToLower(a)
	}
	return s[:at+1] + domain
}

// isASCII reports whether s holds only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
