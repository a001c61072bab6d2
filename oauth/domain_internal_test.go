package oauth

import "testing"

// TestAllowedDomainIDN checks that an allowed domain matches the address in
// either of its forms, Unicode or ASCII (IDNA), as the core compares emails.
func TestAllowedDomainIDN(t *testing.T) {
	for _, allowed := range []string{"müller.de", "xn--mller-kva.de", "MÜLLER.DE"} {
		c := mustConnection(t, Config{Provider: Google, AllowedDomains: []string{allowed}})
		for _, email := range []string{"j@müller.de", "j@xn--mller-kva.de", "j@Müller.de"} {
			if !c.domains[emailDomain(email)] {
				t.Errorf("allowed %q does not match %q", allowed, email)
			}
		}
		if c.domains[emailDomain("j@muller.de")] {
			t.Errorf("allowed %q matches j@muller.de", allowed)
		}
	}
}
