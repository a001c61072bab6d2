package identity

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
)

// planUsers plans the batch's users, in the order listed.
func (pl *batchPlanner) planUsers(ctx context.Context) error {
	subjects := make([]string, 0, len(pl.batch.Users))
	for _, bu := range pl.batch.Users {
		if bu.Subject != "" {
			subjects = append(subjects, bu.Subject)
		}
	}
	var err error
	if pl.linked, err = usersByLinks(ctx, pl.r, string(pl.Source), subjects); err != nil {
		return err
	}
	for _, bu := range pl.batch.Users {
		if bu.Suspended {
			if err := pl.suspend(ctx, bu); err != nil {
				return err
			}
			continue
		}
		st, err := pl.planUser(ctx, bu)
		if err != nil {
			return err
		}
		if st.Current.ID != "" {
			pl.local[bu.Subject] = st.Current.ID
			pl.Emails[st.Current.ID] = st.Current.Email
			pl.known[st.Current.ID] = st.Current
		}
		pl.Users = append(pl.Users, st)
	}
	return nil
}

// suspend notes a suspended user the directory knows by link.
func (pl *batchPlanner) suspend(_ context.Context, bu BatchUser) error {
	u, ok := pl.linked[bu.Subject]
	if !ok {
		return nil
	}
	pl.known[u.ID] = u
	pl.suspended[u.ID] = true
	if pl.batch.DeactivateSuspended {
		pl.suspendedKnown = append(pl.suspendedKnown, u.ID)
		if u.Active {
			pl.deactivate[u.ID] = u
		}
	}
	return nil
}

// planUser resolves one listed user and decides what changes.
func (pl *batchPlanner) planUser(ctx context.Context, bu BatchUser) (UserStep, error) {
	st := UserStep{Subject: bu.Subject, Inactive: bu.Inactive}
	src := bu.User.Clone()
	src.Email = strings.TrimSpace(src.Email)
	cur, found := pl.linked[bu.Subject], FoundByLink
	var err error
	if _, ok := pl.linked[bu.Subject]; !ok || bu.Subject == "" {
		cur, found, err = resolveByEmail(ctx, pl.r, pl.Source, pl.policy, bu.Subject, src.Email, src.EmailVerified)
	}
	var ce *ConflictError
	if errors.As(err, &ce) {
		return refuse(st, err), nil
	}
	if err != nil {
		return st, err
	}
	if found == FoundNone {
		return pl.planCreate(ctx, st, src)
	}
	st.Current, st.Link = cur, found == FoundByEmail
	if pl.batch.Update && NormalizeEmail(src.Email) != NormalizeEmail(cur.Email) {
		free, err := pl.emailFree(ctx, cur.ID, bu.Subject, src.Email)
		if err != nil {
			return st, err
		}
		if !free {
			st.KeepEmail, src.Email = true, cur.Email
		}
	}
	want := cur.Clone()
	if pl.batch.Update {
		mergeProfile(&want, src, true)
	}
	if pl.batch.Restore && pl.policy.Restore && !cur.Active {
		want.Active, st.Restore = true, true
	}
	confirmEmail(pl.policy, &want, src.Email, src.EmailVerified)
	emailRule(pl.policy, cur, &want)
	if err := normalizeUser(&want); err != nil {
		return refuse(st, err), nil
	}
	st.Want = want
	if len(changedFields(cur, want)) > 0 {
		st.Action = UserUpdate
	}
	return st, nil
}

// planCreate plans a user no rule finds: created where the source may
// create and the user's email and userName are free.
func (pl *batchPlanner) planCreate(ctx context.Context, st UserStep, u User) (UserStep, error) {
	if !pl.policy.Create {
		return refuse(st, fmt.Errorf("identity: source %q may not create users: %w", pl.Source, ErrNotAllowed)), nil
	}
	if err := normalizeUser(&u); err != nil {
		return refuse(st, err), nil
	}
	if u.Email != "" {
		free, err := pl.emailFree(ctx, "", st.Subject, u.Email)
		if err != nil {
			return st, err
		}
		if !free {
			return refuse(st, fmt.Errorf("identity: the email belongs to a user %q may not claim: %w",
				pl.Source, &ConflictError{Resource: "user", Field: "email"})), nil
		}
	}
	nameKey := "n:" + NormalizeUserName(u.UserName)
	if s, ok := pl.claimed[nameKey]; ok && s != st.Subject {
		return refuse(st, &ConflictError{Resource: "user", Field: "userName"}), nil
	}
	if _, err := pl.r.UserByUserName(ctx, u.UserName); err == nil {
		return refuse(st, &ConflictError{Resource: "user", Field: "userName"}), nil
	} else if !errors.Is(err, ErrNotFound) {
		return st, fmt.Errorf("identity: find user by userName: %w", err)
	}
	pl.claimed[nameKey] = st.Subject
	st.Action, st.Want = UserCreate, u
	return st, nil
}

// emailFree reports whether email is valid and held by no user but id (""
// for a new user) nor claimed by another subject of the batch; if so, the
// subject claims it.
func (pl *batchPlanner) emailFree(ctx context.Context, id, subject, email string) (bool, error) {
	if !ValidEmail(email) {
		return false, nil
	}
	key := "e:" + NormalizeEmail(email)
	if s, ok := pl.claimed[key]; ok && s != subject {
		return false, nil
	}
	other, err := pl.r.UserByEmail(ctx, email)
	if err == nil && other.ID != id {
		return false, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("identity: find user by email: %w", err)
	}
	pl.claimed[key] = subject
	return true, nil
}

func refuse(st UserStep, err error) UserStep {
	st.Action, st.Err = UserRefuse, err
	return st
}

// emailRule is the rule of a new email: where the change does not say
// whether it is verified, it is where the source's policy VerifiesEmail.
func emailRule(p SourcePolicy, before User, u *User) {
	if NormalizeEmail(u.Email) != NormalizeEmail(before.Email) && u.EmailVerified == before.EmailVerified {
		u.EmailVerified = p.VerifiesEmail && u.Email != ""
	}
}

// setProfile sets the fields of dst that a plan changes to want's.
func setProfile(dst *User, want User) {
	dst.Email, dst.EmailVerified, dst.UserName, dst.ExternalID = want.Email, want.EmailVerified, want.UserName, want.ExternalID
	dst.GivenName, dst.FamilyName, dst.DisplayName = want.GivenName, want.FamilyName, want.DisplayName
	dst.Attributes, dst.Active = maps.Clone(want.Attributes), want.Active
}
