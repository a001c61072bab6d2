package identity

import (
	"strings"

	"github.com/rollcall/rollcall/groups"
)

// Source names what asks the core for a change: a source of identities
// (an IdP connection, SCIM, Google, a file import) or the host's own hand.
// Build one with its constructor (SAML, OAuth) or take a constant (Manual,
// Import, SCIM, Google); a string constant converts by itself, so
// "saml:entra" works where a Source is wanted. Its text is what events and
// links record.
type Source string

// The sources that need no name.
const (
	// Manual is the host's own hand: an admin, the host's API.
	Manual Source = SourceManual
	// Import is a file import.
	Import Source = SourceImport
	// SCIM is a SCIM 2.0 client.
	SCIM Source = SourceSCIM
	// Google is the Google Groups sync.
	Google Source = SourceGoogle
)

// SAML returns the source of a SAML connection: "saml:<connection>".
func SAML(connection string) Source { return Source("saml:" + connection) }

// OAuth returns the source of an OAuth/OIDC provider: "oauth:<provider>".
func OAuth(provider string) Source { return Source("oauth:" + provider) }

// String returns the source's text, as events and links record it.
func (s Source) String() string { return string(s) }

// Kind returns what kind of source s is: "manual", "import", "scim",
// "google", "saml" or "oauth", or "" for a source the core does not know
// (a host's own).
func (s Source) Kind() string {
	switch {
	case s == Manual, s == Import, s == SCIM, s == Google:
		return string(s)
	case strings.HasPrefix(string(s), "saml:"):
		return "saml"
	case strings.HasPrefix(string(s), "oauth:"):
		return "oauth"
	}
	return ""
}

// Name returns the connection or provider of a SAML or OAuth source, else "".
func (s Source) Name() string {
	if k := s.Kind(); k == "saml" || k == "oauth" {
		return string(s)[len(k)+1:]
	}
	return ""
}

// identityProvider reports whether the source is an identity provider's
// (SSO, SCIM, Google), which may manage external groups only, never
// internal ones.
func (s Source) identityProvider() bool {
	return groups.ValidSource(string(s)) || s.Kind() == "oauth"
}
