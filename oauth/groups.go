package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rollcall/rollcall/groups"
)

// DefaultGroupsClaim is the ID token claim read for groups when
// Config.GroupsClaim is empty: the name Okta, Keycloak and Entra ID use.
const DefaultGroupsClaim = "groups"

var (
	// ErrGroups: the connection is the tenant's group source and the ID
	// token's groups claim cannot be used: not a string or an array of
	// strings, a name that cannot be read, more groups than the limit
	// (errors.Is(err, groups.ErrTooManyGroups)), or an overage.
	ErrGroups = errors.New("oauth: the groups claim cannot be used")
	// ErrGroupOverage (which matches ErrGroups too): Entra ID left the
	// groups out of the token because the person is in too many (more than
	// 200 in an ID token), and says so with _claim_names (or hasgroups)
	// instead. The sign-in is refused: the claim is not empty, and reading it
	// so would detach every group.
	ErrGroupOverage = errors.New("oauth: group overage: the provider left the groups out of the token (Entra's _claim_names)")
)

// groupsClaim is what an ID token says about groups.
type groupsClaim struct {
	raw     json.RawMessage // the claim's value; nil when absent
	overage bool            // _claim_names names the claim, or hasgroups is true
}

// readGroups finds the groups claim name in the claims of a token.
func readGroups(m map[string]json.RawMessage, name string) groupsClaim {
	var g groupsClaim
	if raw, ok := m[name]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		g.raw = raw
	}
	var names map[string]json.RawMessage
	if raw, ok := m["_claim_names"]; ok && json.Unmarshal(raw, &names) == nil {
		_, g.overage = names[name]
	}
	var has Bool
	if raw, ok := m["hasgroups"]; ok && json.Unmarshal(raw, &has) == nil && bool(has) {
		g.overage = true
	}
	return g
}

// groups parses the groups claim by the connection's format and limit. An
// absent claim is groups.Absent (nothing changes); an overage is
// ErrGroupOverage, even beside a groups claim, which is then incomplete.
func (c *Connection) groups(g groupsClaim) (groups.Claim, error) {
	name := c.groupsClaim()
	if g.overage {
		return groups.Absent, fmt.Errorf("%w: %w: claim %q", ErrGroups, ErrGroupOverage, name)
	}
	if g.raw == nil {
		return groups.Absent, nil
	}
	var values []string
	if err := json.Unmarshal(g.raw, &values); err != nil {
		var one string
		if err := json.Unmarshal(g.raw, &one); err != nil {
			return groups.Absent, fmt.Errorf("%w: claim %q is neither a string nor an array of strings", ErrGroups, name)
		}
		values = []string{one}
	}
	names, err := groups.Parse(c.cfg.GroupFormat, values, c.cfg.GroupLimit)
	if err != nil {
		return groups.Absent, fmt.Errorf("%w: claim %q: %w", ErrGroups, name, err)
	}
	return groups.Received(names...), nil
}

func (c *Connection) groupsClaim() string {
	if c.cfg.GroupsClaim == "" {
		return DefaultGroupsClaim
	}
	return c.cfg.GroupsClaim
}
