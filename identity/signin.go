package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/rollcall/rollcall/groups"
)

// Claims is what an SSO source asserts about the person signing in.
type Claims struct {
	// Subject is the source's stable identifier for the person (persistent
	// NameID, issuer and subject, Entra oid). Required.
	Subject string
	// Email, and whether the source checked it.
	Email         string
	EmailVerified bool
	// UserName is the sign-in name (a UPN); empty means the email.
	UserName    string
	GivenName   string
	FamilyName  string
	DisplayName string
	// Attributes are merged into the user's (an empty value removes the key).
	Attributes map[string]string
	// Groups are the external groups received, already parsed (see
	// groups.Parse); groups.Absent leaves groups alone. They apply only when
	// the source is the tenant's group source.
	Groups groups.Claim
}

// SignInResult is the outcome of a successful sign-in.
type SignInResult struct {
	User User
	// Created is true for a user created just in time; Linked for an existing
	// user found by email and linked to the source's subject now.
	Created bool
	Linked  bool
	// Groups is the group plan applied (empty if none was).
	Groups groups.Plan
}

// SignIn resolves the person an SSO source asserts, by the rules of the core:
// (1) the link (source, subject); (2) the same email where the source is
// trusted for it, while that user has no link from the source yet; (3) else a
// new user where the source may create. The user's names and attributes are
// refreshed from the claims, and their external groups set from the claim's
// groups when the source is the tenant's group source.
//
// It returns ErrDeactivated for a deactivated user, ErrNotAllowed where the
// source may not create the user it cannot resolve, a *ConflictError when the
// email's user is linked to another subject of the source (a re-created IdP
// account does not take over) or when the email belongs to a user the source
// is not trusted to find, a *ValidationError for bad claims and a
// *groups.LimitError for too many groups. Callers show none of these to the
// browser in detail.
func (tx *Tx) SignIn(ctx context.Context, c Claims) (SignInResult, error) {
	var res SignInResult
	if c.Subject == "" {
		return res, &ValidationError{Fields: []FieldError{{Field: "subject", Message: "is required"}}}
	}
	claimed := User{
		UserName: c.UserName, Email: c.Email, EmailVerified: c.EmailVerified,
		GivenName: c.GivenName, FamilyName: c.FamilyName, DisplayName: c.DisplayName,
		Attributes: c.Attributes,
	}.Clone()
	if err := normalizeUser(&claimed); err != nil {
		return res, err
	}
	if c.Groups.Present && tx.name == tx.d.cfg.GroupSource {
		if _, err := tx.claimNames(c.Groups.Names); err != nil {
			return res, err
		}
	}
	trusted := claimed.Email != "" && tx.trusted(c.EmailVerified)

	u, linked, err := tx.resolve(ctx, c.Subject, claimed.Email, c.EmailVerified)
	switch {
	case errors.Is(err, ErrNotFound):
		if !tx.policy.Create {
			return res, fmt.Errorf("identity: no user for this identity and source %q may not create users: %w", tx.name, ErrNotAllowed)
		}
		claimed.EmailVerified = tx.vouches(c.EmailVerified)
		if u, err = tx.createUser(ctx, claimed, CreateOptions{Subject: c.Subject}); err != nil {
			return res, err
		}
		res.Created = true
	case err != nil:
		return res, err
	case !u.Active:
		return res, fmt.Errorf("identity: sign in: %w", ErrDeactivated)
	default:
		if !linked {
			if err := tx.link(ctx, u.ID, c.Subject); err != nil {
				return res, err
			}
			res.Linked = true
		}
		if u, err = tx.refresh(ctx, u, claimed, trusted); err != nil {
			return res, err
		}
	}
	res.User = u

	if c.Groups.Present {
		if tx.name != tx.d.cfg.GroupSource {
			tx.d.logger.DebugContext(ctx, "group claim ignored: source is not the tenant's group source", "source", tx.name, "user", u.ID)
		} else if res.Groups, err = tx.SetUserGroups(ctx, u.ID, c.Groups); err != nil {
			return res, err
		}
	}
	return res, nil
}

// refresh updates a signed-in user from the claims: names and attributes; the
// email and userName where the source is trusted for the email and no other
// user holds them (else they are kept, with a warning).
func (tx *Tx) refresh(ctx context.Context, u, claimed User, trusted bool) (User, error) {
	keys := false
	if trusted && (NormalizeEmail(claimed.Email) != NormalizeEmail(u.Email) || NormalizeUserName(claimed.UserName) != NormalizeUserName(u.UserName)) {
		free, err := tx.free(ctx, u.ID, claimed.Email, claimed.UserName)
		if err != nil {
			return User{}, err
		}
		if free {
			keys = true
		} else {
			tx.d.logger.WarnContext(ctx, "sign-in claims an email or userName another user holds; keeping the stored one", "source", tx.name, "user", u.ID)
		}
	}
	return tx.UpdateUser(ctx, u.ID, 0, func(cur *User) error {
		mergeProfile(cur, claimed, keys)
		tx.confirmEmail(cur, claimed.Email, claimed.EmailVerified)
		return nil
	})
}

// free reports whether no user but id holds the email or the userName.
func (tx *Tx) free(ctx context.Context, id, email, userName string) (bool, error) {
	for _, lookup := range []struct {
		by  func(context.Context, string) (User, error)
		key string
	}{{tx.store.UserByEmail, email}, {tx.store.UserByUserName, userName}} {
		if lookup.key == "" {
			continue
		}
		other, err := lookup.by(ctx, lookup.key)
		if err == nil && other.ID != id {
			return false, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return false, fmt.Errorf("identity: sign in: %w", err)
		}
	}
	return true, nil
}
