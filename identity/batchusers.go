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
	for k := range pl.batch.Users {
		bu := &pl.batch.Users[k]
		if bu.Subject != "" {
			subjects = append(subjects, bu.Subject)
		}
	}
	var err error
	if pl.linked, err = usersByLinks(ctx, pl.r, string(pl.Source), subjects); err != nil {
		return err
	}
	// The listed users of one subject are one claimant: the first's.
	var first map[string]int
	if len(subjects) > 0 {
		first = make(map[string]int, len(subjects))
		for i := len(pl.batch.Users) - 1; i >= 0; i-- {
			if s := pl.batch.Users[i].Subject; s != "" {
				first[s] = i
			}
		}
	}
	for i := range pl.batch.Users {
		bu := &pl.batch.Users[i]
		if bu.Err != nil {
			pl.Users = append(pl.Users, UserStep{Subject: bu.Subject, Action: UserRefuse, Err: bu.Err, Index: i})
			continue
		}
		if bu.Suspended {
			if err := pl.suspend(ctx, *bu); err != nil {
				return err
			}
			continue
		}
		// The step is planned in place: a UserStep is large, and a batch
		// may list a million users.
		pl.Users = append(pl.Users, UserStep{Subject: bu.Subject, Inactive: bu.Inactive, Index: i})
		st := &pl.Users[len(pl.Users)-1]
		who := claimer(i + 1)
		if bu.Subject != "" {
			who = claimer(first[bu.Subject] + 1)
		}
		if err := pl.planUser(ctx, st, bu, who); err != nil {
			return err
		}
		if st.Current.ID != "" {
			pl.local[bu.Subject] = st.Current.ID
			pl.Emails[st.Current.ID] = st.Current.Email
			if pl.known != nil {
				pl.known[st.Current.ID] = st.Current
			}
		}
	}
	return nil
}

// suspend notes a suspended user the directory knows by link.
func (pl *batchPlanner) suspend(_ context.Context, bu BatchUser) error {
	u, ok := pl.linked[bu.Subject]
	if !ok {
		return nil
	}
	if pl.known != nil {
		pl.known[u.ID] = u
	}
	pl.suspended[u.ID] = true
	if pl.batch.DeactivateSuspended {
		pl.suspendedKnown = append(pl.suspendedKnown, u.ID)
		if u.Active {
			pl.deactivate[u.ID] = u
		}
	}
	return nil
}

// claimer is who claims an email or a userName in a plan: 1 + the place
// in Batch.Users of the first listed user of its subject (or, without a
// subject, its own); 0 is no one.
type claimer int32

// claim is who claims a normalised text as an email and who as a
// userName: an email and a userName that are the same text share an entry,
// so that a new user's two claims cost one lookup of a large map, and an
// entry is small (a batch may list a million users).
type claim struct{ email, name claimer }

// planUser resolves one listed user and decides what changes; who claims
// the emails and userNames the plan gives the user.
func (pl *batchPlanner) planUser(ctx context.Context, st *UserStep, bu *BatchUser, who claimer) error {
	// src shares the listed user's attributes, which the plan only reads:
	// planCreate copies them before it changes them.
	src := bu.User
	src.Email = strings.TrimSpace(src.Email)
	cur, found := pl.linked[bu.Subject], FoundByLink
	var err error
	if _, ok := pl.linked[bu.Subject]; !ok || bu.Subject == "" {
		cur, found, err = resolveByEmail(ctx, pl.r, pl.Source, pl.policy, bu.Subject, src.Email, src.EmailVerified)
	}
	var ce *ConflictError
	if errors.As(err, &ce) {
		st.refuse(err)
		return nil
	}
	if err != nil {
		return err
	}
	if found == FoundNone {
		return pl.planCreate(ctx, st, src, who)
	}
	st.Current, st.Link = cur, found == FoundByEmail && bu.Subject != ""
	if pl.batch.Update && !pl.batch.KeepEmails && NormalizeEmail(src.Email) != NormalizeEmail(cur.Email) {
		free, err := pl.emailFree(ctx, cur.ID, who, src.Email)
		if err != nil {
			return err
		}
		if !free {
			st.KeepEmail, src.Email = true, cur.Email
		}
	}
	// want shares cur's attributes until they change: mergeProfile
	// copies them, and normalizeUser gets a copy where it would clean them.
	want := cur
	if pl.batch.Update {
		mergeProfile(&want, src, !pl.batch.KeepEmails)
		clearFields(&want, src, bu.Clear)
	}
	if err := pl.activeRule(*bu, cur, &want); err != nil {
		st.refuse(err)
		return nil
	}
	st.Restore = want.Active && !cur.Active
	confirmEmail(pl.policy, &want, src.Email, src.EmailVerified)
	emailRule(pl.policy, cur, &want)
	clean := attrsClean(want.Attributes)
	if !clean {
		want.Attributes = maps.Clone(want.Attributes)
	}
	if err := normalizeChecked(&want, clean); err != nil {
		st.refuse(err)
		return nil
	}
	st.Want = want
	if profileChanged(cur, want) {
		st.Action = UserUpdate
	}
	return nil
}

// planCreate plans a user no rule finds: created where the source may
// create and the user's email and userName are free.
func (pl *batchPlanner) planCreate(ctx context.Context, st *UserStep, u User, who claimer) error {
	if !pl.policy.Create {
		st.refuse(&PolicyError{Source: pl.Source, Action: ActionCreate})
		return nil
	}
	// u shares the listed user's attributes: a clean map stays shared
	// (nothing below changes it), another is copied first.
	clean := attrsClean(u.Attributes)
	if !clean {
		u.Attributes = maps.Clone(u.Attributes)
		for k, v := range u.Attributes {
			if v == "" {
				delete(u.Attributes, k)
			}
		}
	}
	if err := normalizeChecked(&u, clean); err != nil {
		st.refuse(err)
		return nil
	}
	if u.Email != "" {
		free, err := pl.emailFree(ctx, "", who, u.Email)
		if err != nil {
			return err
		}
		if !free {
			st.refuse(fmt.Errorf("identity: the email belongs to a user %q may not claim: %w",
				pl.Source, &ConflictError{Resource: "user", Field: "email"}))
			return nil
		}
	}
	nameKey := NormalizeUserName(u.UserName)
	if c := pl.claims[nameKey]; c.name != 0 && c.name != who {
		st.refuse(&ConflictError{Resource: "user", Field: "userName"})
		return nil
	}
	if _, err := pl.r.UserByUserName(ctx, u.UserName); err == nil {
		st.refuse(&ConflictError{Resource: "user", Field: "userName"})
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("identity: find user by userName: %w", err)
	}
	c := pl.claims[nameKey]
	c.name = who
	pl.claims[nameKey] = c
	st.Action, st.Want = UserCreate, u
	return nil
}

// emailFree reports whether email is valid and held by no user but id (""
// for a new user) nor claimed by another subject of the batch; if so, the
// subject claims it.
func (pl *batchPlanner) emailFree(ctx context.Context, id string, subject claimer, email string) (bool, error) {
	if !ValidEmail(email) {
		return false, nil
	}
	key := NormalizeEmail(email)
	c := pl.claims[key]
	if c.email != 0 && c.email != subject {
		return false, nil
	}
	other, err := pl.r.UserByEmail(ctx, email)
	if err == nil && other.ID != id {
		return false, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("identity: find user by email: %w", err)
	}
	c.email = subject
	pl.claims[key] = c
	return true, nil
}

// activeRule decides whether a found user is active as the plan leaves
// them: with Update, a user listed Inactive is deactivated; with Restore,
// a deactivated user not listed Inactive is restored. It returns a
// *PolicyError where the source's policy does not allow the change.
func (pl *batchPlanner) activeRule(bu BatchUser, cur User, want *User) error {
	switch {
	case pl.batch.Update && bu.Inactive && cur.Active:
		if !pl.policy.Deactivate {
			return &PolicyError{Source: pl.Source, Action: ActionDeactivate}
		}
		want.Active = false
	case pl.batch.Restore && !bu.Inactive && !cur.Active:
		if !pl.policy.Restore {
			return &PolicyError{Source: pl.Source, Action: ActionRestore}
		}
		want.Active = true
	}
	return nil
}

// clearFields clears the fields of u named in fields whose value in src is
// empty.
func clearFields(u *User, src User, fields []string) {
	for _, f := range fields {
		switch f {
		case "givenName":
			u.GivenName = src.GivenName
		case "familyName":
			u.FamilyName = src.FamilyName
		case "displayName":
			u.DisplayName = src.DisplayName
		}
	}
}

func refuse(st UserStep, err error) UserStep {
	st.refuse(err)
	return st
}

// refuse makes st a UserRefuse step with err.
func (st *UserStep) refuse(err error) { st.Action, st.Err = UserRefuse, err }

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
