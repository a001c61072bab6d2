// Package groups holds the pure rules for groups: name identity, the internal and
// external kinds, the per-user reconciliation plan, group claim formats and the
// one-group-source rule.
package groups

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind tells who manages a group.
type Kind string

const (
	// Internal groups are managed in the host application (by hand or by file
	// import). A sync never detaches a user from an internal group.
	Internal Kind = "internal"
	// External groups are managed by the tenant's group source. Each sync for a
	// user attaches the received ones and detaches the others.
	External Kind = "external"
)

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool { return k == Internal || k == External }

// Key returns the form of a group name used to compare names: trimmed and
// lower-cased. Two names with the same key are the same group; the name as first
// received is kept for display.
func Key(name string) string {
	return strings.ToLower(strings.TrimSpace(name))
}

// SameName reports whether two names are the same group: Key(a) == Key(b),
// without building the keys.
func SameName(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb && unicode.ToLower(ra) != unicode.ToLower(rb) {
			return false
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b == ""
}

// Group is what the plan needs to know of a group: its name, its kind and, for
// an external group, the source that manages it.
type Group struct {
	Name   string
	Kind   Kind
	Source string
}

// Claim is a set of external group names received from a source for one user.
// The zero Claim is absent: the source said nothing about groups, and nothing
// changes. A present claim with no names detaches every external group.
type Claim struct {
	Present bool
	Names   []string
}

// Absent is the claim of a source that sent no group information.
var Absent = Claim{}

// Received returns a present claim with the given names.
func Received(names ...string) Claim {
	if names == nil {
		names = []string{}
	}
	return Claim{Present: true, Names: names}
}

// Plan is what to do for one user so that their external groups match a claim.
// Names are as received (for Create) or as stored (for the others).
type Plan struct {
	// Create lists the received names no group has yet: create each as an
	// external group of the source, then attach the user.
	Create []string
	// Convert lists existing groups to become external groups of the source:
	// internal groups whose name was received, and external groups of another
	// source (left over from a source the tenant no longer uses).
	Convert []string
	// Attach lists the existing groups (converted ones included) the user must
	// join. Groups in Create are not repeated here.
	Attach []string
	// Detach lists the external groups the user must leave.
	Detach []string
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.Create) == 0 && len(p.Convert) == 0 && len(p.Attach) == 0 && len(p.Detach) == 0
}

// Lookup finds a group of the tenant by name, compared by Key.
type Lookup func(name string) (Group, bool)

// PlanFor computes the plan for one user of the tenant. lookup must not be nil.
//
// source is the tenant's group source that sent the claim; current lists the
// user's memberships; lookup finds any group of the tenant by name. The claim's
// names must already be parsed and deduplicated (see Parse); a claim with names
// that repeat under Key is treated as one name.
//
// The rules, from the reference: groups are identified by name; a received name
// that is an internal group makes it external; a new name is created as
// external; received groups are attached and external groups not received are
// detached; internal memberships are never touched; an absent claim changes
// nothing.
func PlanFor(source string, current []Group, claim Claim, lookup Lookup) Plan {
	var p Plan
	if !claim.Present {
		return p
	}
	member := make(map[string]Group, len(current))
	for _, g := range current {
		member[Key(g.Name)] = g
	}
	received := make(map[string]bool, len(claim.Names))
	for _, name := range claim.Names {
		k := Key(name)
		if k == "" || received[k] {
			continue
		}
		received[k] = true
		g, ok := member[k]
		if !ok {
			g, ok = lookup(strings.TrimSpace(name))
		}
		if !ok {
			p.Create = append(p.Create, strings.TrimSpace(name))
			continue
		}
		if g.Kind != External || g.Source != source {
			p.Convert = append(p.Convert, g.Name)
		}
		if _, isMember := member[k]; !isMember {
			p.Attach = append(p.Attach, g.Name)
		}
	}
	for _, g := range current {
		if g.Kind == External && !received[Key(g.Name)] {
			p.Detach = append(p.Detach, g.Name)
		}
	}
	return p
}

// SourceConflictError is returned by CheckSources when a tenant configures more
// than one group source.
type SourceConflictError struct {
	First, Second string
}

func (e *SourceConflictError) Error() string {
	return fmt.Sprintf("groups: only one group source per tenant: %q and %q are both configured to sync groups", e.First, e.Second)
}

// Source names a group source: "scim", "google", "saml:<connection>" or
// "oauth:<provider>".
const (
	SourceSCIM   = "scim"
	SourceGoogle = "google"
)

// SAMLSource returns the group source name of a SAML connection.
func SAMLSource(connection string) string { return "saml:" + connection }

// OAuthSource returns the group source name of an OAuth/OIDC provider, whose
// ID token carries a groups claim.
func OAuthSource(provider string) string { return "oauth:" + provider }

// ValidSource reports whether s is the name of a source that may sync groups.
func ValidSource(s string) bool {
	if s == SourceSCIM || s == SourceGoogle {
		return true
	}
	if conn, ok := strings.CutPrefix(s, "saml:"); ok {
		return conn != ""
	}
	provider, ok := strings.CutPrefix(s, "oauth:")
	return ok && provider != ""
}

// CheckSources validates the group sources a tenant's configuration enables.
// Empty names are ignored. It returns a *SourceConflictError naming the first
// two distinct sources when there is more than one, and an error naming an
// unknown source.
func CheckSources(sources ...string) error {
	var seen []string
	for _, s := range sources {
		if s == "" || slices.Contains(seen, s) {
			continue
		}
		if !ValidSource(s) {
			return fmt.Errorf("groups: %q cannot sync groups: want %q, %q, \"saml:<connection>\" or \"oauth:<provider>\"", s, SourceSCIM, SourceGoogle)
		}
		seen = append(seen, s)
		if len(seen) > 1 {
			return &SourceConflictError{First: seen[0], Second: seen[1]}
		}
	}
	return nil
}
