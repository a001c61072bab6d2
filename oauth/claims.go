package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/rollcall/rollcall/identity"
)

// Bool is a boolean claim as providers send it: a JSON boolean, or the strings
// "true", "false", "1" and "0" (Webex's email_verified, Entra's xms_edov), or
// the numbers 1 and 0. Any other value is an error, so that a token whose flag
// cannot be read is refused rather than taken as false or true.
type Bool bool

// UnmarshalJSON decodes the forms Bool accepts.
func (b *Bool) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	var s string
	if len(data) > 0 && data[0] == '"' {
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		s = strings.ToLower(strings.TrimSpace(s))
	} else {
		s = string(data)
	}
	switch s {
	case "true", "1":
		*b = true
	case "false", "0":
		*b = false
	default:
		return fmt.Errorf("oauth: %.20q is not a boolean", data)
	}
	return nil
}

// claims are the claims of an ID token or a userinfo response that this
// package reads. A nil *Bool is an absent claim.
type claims struct {
	Issuer        string
	Subject       string
	Email         string
	EmailVerified *Bool
	Name          string
	GivenName     string
	FamilyName    string
	// Google: the hosted (Workspace) domain.
	HostedDomain string
	// Microsoft: tenant, object ID, email domain owner verified.
	TenantID string
	ObjectID string
	EDOV     *Bool
}

// decodeClaims decodes a JSON object of claims. Names are matched exactly
// (encoding/json would match "EMAIL_VERIFIED" to email_verified); a claim
// of the wrong type is an error, null is absent.
func decodeClaims(data []byte) (claims, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return claims{}, fmt.Errorf("decode claims: %w", err)
	}
	if m == nil {
		return claims{}, errors.New("decode claims: not an object")
	}
	var c claims
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"iss", &c.Issuer}, {"sub", &c.Subject}, {"email", &c.Email}, {"name", &c.Name},
		{"given_name", &c.GivenName}, {"family_name", &c.FamilyName}, {"hd", &c.HostedDomain},
		{"tid", &c.TenantID}, {"oid", &c.ObjectID},
	} {
		if raw, ok := m[f.name]; ok {
			if err := json.Unmarshal(raw, f.dst); err != nil {
				return claims{}, fmt.Errorf("decode claim %s: %w", f.name, err)
			}
		}
	}
	for _, f := range []struct {
		name string
		dst  **Bool
	}{{"email_verified", &c.EmailVerified}, {"xms_edov", &c.EDOV}} {
		if raw, ok := m[f.name]; ok {
			if err := json.Unmarshal(raw, f.dst); err != nil {
				return claims{}, fmt.Errorf("decode claim %s: %w", f.name, err)
			}
		}
	}
	return c, nil
}

// needUserInfo reports whether claims are missing that the userinfo endpoint
// should fill, and whether the rules need them (the email and its flag) or
// only the profile does (the names).
func (c claims) needUserInfo() (need, required bool) {
	required = c.Email == "" || c.EmailVerified == nil
	return required || c.Name == "" && c.GivenName == "" && c.FamilyName == "", required
}

// merge fills the claims missing from c with those of the userinfo response
// u, whose subject the caller has matched. An email and its verified flag are
// taken together: a flag is taken alone only for the same address. Issuer,
// tenant, object ID and xms_edov are never taken from userinfo.
func (c *claims) merge(u claims) {
	switch {
	case c.Email == "":
		c.Email, c.EmailVerified = u.Email, u.EmailVerified
	case c.EmailVerified == nil && identity.NormalizeEmail(c.Email) == identity.NormalizeEmail(u.Email):
		c.EmailVerified = u.EmailVerified
	}
	if c.Name == "" {
		c.Name = u.Name
	}
	if c.GivenName == "" {
		c.GivenName = u.GivenName
	}
	if c.FamilyName == "" {
		c.FamilyName = u.FamilyName
	}
	if c.HostedDomain == "" {
		c.HostedDomain = u.HostedDomain
	}
}

func (b *Bool) isTrue() bool { return b != nil && bool(*b) }

// emailDomain returns the lower-cased domain of an address, or "" if it has
// none.
func emailDomain(email string) string {
	email = identity.NormalizeEmail(email)
	i := strings.LastIndexByte(email, '@')
	if i <= 0 || i == len(email)-1 {
		return ""
	}
	return email[i+1:]
}

// identify applies the provider's rules and the connection's filters to the
// verified claims of a token and returns what the core is told, with the link
// subject. It returns an error wrapping ErrRefused or ErrToken.
func (c *Connection) identify(cl claims) (identity.Claims, error) {
	p := c.cfg.Provider
	if cl.Subject == "" {
		return identity.Claims{}, fmt.Errorf("%w: no sub claim", ErrToken)
	}
	var subject string
	verified := cl.EmailVerified.isTrue()
	switch p.Kind {
	case KindMicrosoft:
		if cl.TenantID == "" || cl.ObjectID == "" {
			return identity.Claims{}, fmt.Errorf("%w: a Microsoft token needs tid and oid", ErrToken)
		}
		issuer := strings.ReplaceAll(p.Issuer, TenantPlaceholder, cl.TenantID)
		if cl.Issuer != issuer || !strings.Contains(issuer, "/"+cl.TenantID+"/") {
			return identity.Claims{}, fmt.Errorf("%w: iss %q is not the issuer of tid %q", ErrToken, cl.Issuer, cl.TenantID)
		}
		if !c.tenants[cl.TenantID] {
			if cl.TenantID == ConsumerTenant {
				return identity.Claims{}, fmt.Errorf("%w: %w: personal Microsoft accounts (consumer tenant) are not allowed", ErrRefused, errTenant)
			}
			return identity.Claims{}, fmt.Errorf("%w: %w: tenant %q", ErrRefused, errTenant, cl.TenantID)
		}
		subject = issuer + " " + cl.ObjectID
		// Entra sends no email_verified: only xms_edov says the tenant owns
		// the email's domain.
		verified = cl.EDOV.isTrue()
	case KindWebex:
		if p.IssuerPattern == nil || !p.IssuerPattern.MatchString(cl.Issuer) {
			return identity.Claims{}, fmt.Errorf("%w: iss %q does not match the provider's issuer pattern", ErrToken, cl.Issuer)
		}
		subject = p.Issuer + " " + cl.Subject
	default:
		if p.IssuerPattern != nil && !p.IssuerPattern.MatchString(cl.Issuer) {
			return identity.Claims{}, fmt.Errorf("%w: iss %q does not match the provider's issuer pattern", ErrToken, cl.Issuer)
		}
		subject = p.Issuer + " " + cl.Subject
	}

	email := strings.TrimSpace(cl.Email)
	if email == "" {
		verified = false
	}
	if len(c.domains) > 0 {
		if !verified {
			return identity.Claims{}, fmt.Errorf("%w: %w: the domain filter needs a verified email", ErrRefused, errUnverified)
		}
		if p.Kind == KindGoogle {
			hd := strings.ToLower(strings.TrimSpace(cl.HostedDomain))
			if hd == "" {
				return identity.Claims{}, fmt.Errorf("%w: %w: no hd claim (not a Workspace account of an allowed domain)", ErrRefused, errDomain)
			}
			if !c.domains[hd] {
				return identity.Claims{}, fmt.Errorf("%w: %w: hd %q is not an allowed domain", ErrRefused, errDomain, hd)
			}
		} else if d := emailDomain(email); !c.domains[d] {
			return identity.Claims{}, fmt.Errorf("%w: %w: email domain %q is not allowed", ErrRefused, errDomain, d)
		}
	} else if !verified && !c.cfg.AllowUnverifiedEmail {
		return identity.Claims{}, fmt.Errorf("%w: %w: the provider did not verify the email", ErrRefused, errUnverified)
	}

	return identity.Claims{
		Subject: subject,
		Email:   email,
		// The core links an existing user by email only for a verified email
		// in an allowed domain: without a domain filter, it never does.
		EmailVerified: verified && len(c.domains) > 0,
		GivenName:     strings.TrimSpace(cl.GivenName),
		FamilyName:    strings.TrimSpace(cl.FamilyName),
		DisplayName:   strings.TrimSpace(cl.Name),
	}, nil
}
