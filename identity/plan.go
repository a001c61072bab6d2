package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/rollcall/rollcall/groups"
)

// The planning functions of the core: they read through a Reader and
// decide, and never write. The transactions of Tx and the batch plan are
// built on them, so every source follows the same rules.

// Found tells how Resolve found a user.
type Found int

const (
	// FoundNone: no user; the source may create one (Policy.Create).
	FoundNone Found = iota
	// FoundByLink: the link (source, subject) names the user.
	FoundByLink
	// FoundByEmail: the user has the email, the source is trusted for it,
	// and the user has no link from the source yet.
	FoundByEmail
)

// Resolve finds the user a source means, by the rules of the core: (1) the
// link (source, subject); (2) the same email, where policy trusts the
// source's email (verified says whether the source checked it), while that
// user has no link from the source yet; else no user (FoundNone). It
// returns a *ConflictError (Resource "link") when the email's user is
// linked to another subject of the source: a re-created account does not
// take over a user. It only reads.
func Resolve(ctx context.Context, r Reader, source Source, policy SourcePolicy, subject, email string, verified bool) (User, Found, error) {
	if subject != "" {
		u, err := r.UserByLink(ctx, string(source), subject)
		if err == nil {
			return u, FoundByLink, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return User{}, FoundNone, fmt.Errorf("identity: find user by link: %w", err)
		}
	}
	return resolveByEmail(ctx, r, source, policy, subject, email, verified)
}

// resolveByEmail is the second rule of Resolve: the user of the email,
// where the policy trusts it, while the user has no link from the source.
func resolveByEmail(ctx context.Context, r Reader, source Source, policy SourcePolicy, subject, email string, verified bool) (User, Found, error) {
	if email == "" {
		return User{}, FoundNone, nil
	}
	if !policy.TrustsEmail(verified) {
		return User{}, FoundNone, untrustedEmail(ctx, r, source, email)
	}
	u, err := r.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		return User{}, FoundNone, nil
	}
	if err != nil {
		return User{}, FoundNone, fmt.Errorf("identity: find user by email: %w", err)
	}
	if subject != "" {
		linked, err := hasLink(ctx, r, u.ID, string(source))
		if err != nil {
			return User{}, FoundNone, err
		}
		if linked {
			return User{}, FoundNone, fmt.Errorf("identity: the user with this email is linked to another subject of %q: %w",
				source, &ConflictError{Resource: "link", Field: "subject"})
		}
	}
	return u, FoundByEmail, nil
}

// untrustedEmail is what Resolve returns for an email the source is not
// trusted to find users by: nil, or a *ConflictError when a deactivated user
// holds it, so that a new account made just in time can never bypass a
// deactivation (an active holder makes the create conflict).
func untrustedEmail(ctx context.Context, r Reader, source Source, email string) error {
	u, err := r.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("identity: find user by email: %w", err)
	case !u.Active:
		return fmt.Errorf("identity: a deactivated user holds the email, which source %q is not trusted for: %w",
			source, &ConflictError{Resource: "user", Field: "email"})
	}
	return nil
}

// hasLink reports whether the user has a link from the source.
func hasLink(ctx context.Context, r Reader, userID, source string) (bool, error) {
	links, err := r.Links(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("identity: read links: %w", err)
	}
	for _, l := range links {
		if l.Source == source {
			return true, nil
		}
	}
	return false, nil
}

// TrustsEmail reports whether the policy lets an email of the source find
// an existing user; verified says whether the source checked the email.
func (p SourcePolicy) TrustsEmail(verified bool) bool {
	return p.Email == EmailTrusted || p.Email == EmailIfVerified && verified
}

// Vouches reports whether the source vouches for an email it gives, which
// it marks verified or not: the policy VerifiesEmail, or it trusts only a
// verified email and this one is (OAuth, whose provider says).
func (p SourcePolicy) Vouches(verified bool) bool {
	return p.VerifiesEmail || p.Email == EmailIfVerified && verified
}

// MayManage returns nil if source may change the group g in a tenant whose
// group source is groupSource: an external group only by its source while
// that is the group source, an internal group only by a source that is not
// an identity provider's (manual, import, the host's own). Else it returns
// an error matching ErrNotAllowed.
func MayManage(source Source, groupSource string, g Group) error {
	if g.Kind == groups.External {
		if string(source) != g.Source || string(source) != groupSource {
			return fmt.Errorf("identity: group %s is managed by %q; %q may not change it: %w", g.ID, g.Source, source, ErrNotAllowed)
		}
		return nil
	}
	if source.identityProvider() {
		return fmt.Errorf("identity: group %s is internal; %q may not change it: %w", g.ID, source, ErrNotAllowed)
	}
	return nil
}

// DiffMembers returns the members to add (in want's order, each once) and
// to remove (in current's order) to make current into want.
func DiffMembers(current, want []string) (add, remove []string) {
	in := make(map[string]bool, len(want))
	for _, id := range want {
		in[id] = true
	}
	was := make(map[string]bool, len(current))
	for _, id := range current {
		was[id] = true
		if !in[id] {
			remove = append(remove, id)
		}
	}
	for _, id := range want {
		if !was[id] {
			add = append(add, id)
			was[id] = true
		}
	}
	return add, remove
}

// Leavers returns the users who were members of a source's groups (before)
// and are members of none of them now (after), who are active, and who are
// not kept (a suspended user is still a member at the source).
func Leavers(before, after map[string]bool, active func(id string) bool, kept map[string]bool) []string {
	var out []string
	for id := range before {
		if !after[id] && !kept[id] && active(id) {
			out = append(out, id)
		}
	}
	return out
}

// GroupNames gives each group of a batch source its name: the group that
// holds a name (held maps a name's groups.Key to the ExternalID of the
// source's group that has it) keeps it whatever the order; another group
// of that name, a second group of a name in the list, or one with an empty
// name takes its alternative name. names and alts are the groups' names
// and alternative names at the source, ids their ExternalIDs, in order.
func GroupNames(ids, names, alts []string, held map[string]string) []string {
	out := make([]string, len(names))
	taken := make(map[string]bool, len(names))
	for i, name := range names {
		k := groups.Key(name)
		if h, ok := held[k]; name == "" || taken[k] || ok && h != ids[i] {
			name = alts[i]
		}
		taken[groups.Key(name)] = true
		out[i] = name
	}
	return out
}

// Merge returns cur as a source's profile leaves it: with keys, its email,
// userName and externalID are overwritten by src's non-empty ones; its
// names by src's non-empty ones; src's attributes merged (an empty value
// removes the key).
func Merge(cur, src User, keys bool) User {
	u := cur.Clone()
	mergeProfile(&u, src, keys)
	return u
}

// PlanUserGroups plans a user's memberships as a source that names them
// all says (a file import's groups column): of the names wanted (each a
// group's name as given, with ids[i] its group's ID, "" for a group not
// created yet), those the user is not in yet are joined; of the groups
// current the user is in, those the source may change (MayManage) and the
// names do not name are left. Groups the source may not change stay.
func PlanUserGroups(source Source, groupSource string, current []Group, names, ids []string) (join []string, leave []Group) {
	in := make(map[string]bool, len(current))
	for _, g := range current {
		in[g.ID] = true
	}
	want := make(map[string]bool, len(names))
	for i, name := range names {
		want[groups.Key(name)] = true
		if ids[i] == "" || !in[ids[i]] {
			join = append(join, name)
		}
	}
	for _, g := range current {
		if !want[groups.Key(g.Name)] && MayManage(source, groupSource, g) == nil {
			leave = append(leave, g)
		}
	}
	return join, leave
}
