package googlesync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// Option tweaks one sync.
type Option func(*options)

type options struct{ force, dry bool }

// WithForce turns the safety checks off for one sync: an empty pull is
// applied, and the MaxRemove fuse does not stop it.
func WithForce() Option { return func(o *options) { o.force = true } }

// WithDryRun makes one sync compute its Report without writing anything.
func WithDryRun() Option { return func(o *options) { o.dry = true } }

// Sync pulls the groups, members and new users from Google, then applies them
// to dir, the tenant's directory, in one transaction of the source "google": users created
// (linked to their Google ID) or updated, groups created or converted
// (ExternalID = the Google group ID), memberships set to what Google says
// (only the differences are written), suspended users and, per Config,
// leavers deactivated.
//
// A failure while pulling changes nothing. It returns ErrBusy if a sync of
// this Syncer is running (for any directory), an error matching identity.ErrNotAllowed if the
// tenant's group source is not "google", ErrEmptyPull, a *ThresholdError
// (ErrThreshold), ErrRefused, a *googleapi.Error from the API once the
// retries are spent, or the core's errors. The Report is returned in every
// case: on error it holds the pull's counts and API calls, and no change.
func (s *Syncer) Sync(ctx context.Context, dir *identity.Directory, opts ...Option) (Report, error) {
	o := options{force: s.cfg.Force, dry: s.cfg.DryRun}
	for _, f := range opts {
		f(&o)
	}
	if dir == nil {
		return Report{DryRun: o.dry, Forced: o.force, Start: s.clock.Now()}, errors.New("googlesync: nil Directory")
	}
	rep := Report{Tenant: dir.Tenant(), DryRun: o.dry, Forced: o.force, Start: s.clock.Now()}
	if !s.running.TryLock() {
		return rep, ErrBusy
	}
	defer s.running.Unlock()
	s.dir, s.log = dir, s.logger.With("tenant", dir.Tenant())
	defer func() { s.dir, s.log = nil, nil }()
	began := time.Now()
	var c counter
	err := s.sync(ctx, &c, o, &rep, began)
	rep.APICalls, rep.Retries = int(c.calls.Load()), int(c.retries.Load())
	rep.Duration = time.Since(began)
	if err != nil {
		s.log.Warn("googlesync: sync failed", "err", err, "api_calls", rep.APICalls, "duration", rep.Duration)
		return rep, err
	}
	s.log.Info("googlesync: synced", "dry_run", rep.DryRun, "groups", rep.Groups, "users", rep.Users,
		"groups_created", rep.GroupsCreated, "groups_converted", rep.GroupsConverted,
		"members_added", rep.MembersAdded, "members_removed", rep.MembersRemoved,
		"users_created", rep.UsersCreated, "users_deactivated", rep.UsersDeactivated,
		"api_calls", rep.APICalls, "retries", rep.Retries, "duration", rep.Duration, "pull_duration", rep.PullDuration)
	return rep, nil
}

func (s *Syncer) sync(ctx context.Context, c *counter, o options, rep *Report, began time.Time) error {
	if gs := s.dir.GroupSource(); gs != Source {
		return fmt.Errorf("googlesync: tenant %q syncs groups from %q, not %q (identity.Config.GroupSource): %w",
			s.dir.Tenant(), gs, Source, identity.ErrNotAllowed)
	}
	p, err := s.pull(ctx, c, rep)
	rep.PullDuration = time.Since(began)
	if err != nil {
		return fmt.Errorf("googlesync: pull (nothing changed): %w", err)
	}
	if !o.force && (rep.Groups == 0 || rep.Memberships == 0) {
		return fmt.Errorf("%w: %d groups, %d memberships; force the sync to apply it", ErrEmptyPull, rep.Groups, rep.Memberships)
	}
	fuse := identity.Fuse{MaxDeactivate: s.cfg.MaxRemove, MaxRemove: s.cfg.MaxRemove, AllowEmpty: true}
	if o.force {
		fuse.MaxDeactivate, fuse.MaxRemove = 1, 1
	}
	plan, counts, err := s.dir.Reconcile(ctx, Source, s.batch(p), identity.ReconcileOptions{Fuse: fuse, DryRun: o.dry})
	if fe := (*identity.FuseError)(nil); errors.As(err, &fe) {
		return &ThresholdError{What: fe.What, Remove: fe.Remove, Of: fe.Of, Limit: s.cfg.MaxRemove}
	}
	if err != nil {
		if errors.Is(err, identity.ErrNotAllowed) {
			return fmt.Errorf("googlesync: the core refused the change (is %q the tenant's group source?): %w", Source, err)
		}
		return fmt.Errorf("googlesync: apply: %w", err)
	}
	s.noteConflicts(plan, rep)
	rep.UsersCreated, rep.UsersUpdated, rep.UsersRestored = counts.UsersCreated, counts.UsersUpdated, counts.UsersRestored
	rep.UsersDeactivated = counts.UsersDeactivated
	rep.GroupsCreated, rep.GroupsConverted, rep.GroupsUpdated = counts.GroupsCreated, counts.GroupsConverted, counts.GroupsUpdated
	rep.GroupsEmptied, rep.MembersAdded, rep.MembersRemoved = counts.GroupsEmptied, counts.MembersAdded, counts.MembersRemoved
	if o.dry {
		rep.Changes = changes(plan)
	}
	return nil
}

// batch is the state the pull says the directory should hold: the users
// who are members of a synced group (and the suspended ones), and the
// groups with their members.
func (s *Syncer) batch(p *pulled) identity.Batch {
	b := identity.Batch{
		Update: true, Restore: !s.cfg.KeepDeactivated,
		DeactivateSuspended: s.cfg.Suspended == Deactivate, DeactivateLeavers: s.cfg.DeactivateLeavers,
		SourceLabel: "Google", NamePrefix: "googlesync-",
	}
	member := make(map[string]bool)
	for _, g := range p.groups {
		for _, id := range g.Members {
			member[id] = true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(p.users)) {
		u := p.users[id]
		switch {
		case u.Gone:
		case u.Suspended:
			b.Users = append(b.Users, identity.BatchUser{Subject: id, Suspended: true})
		case member[id]:
			// Whether the email is verified is the core's policy.
			bu := identity.BatchUser{Subject: id, User: identity.User{Email: u.Email}}
			if u.Profile {
				bu.User.GivenName, bu.User.FamilyName, bu.User.DisplayName = u.Given, u.Family, u.Display
			}
			b.Users = append(b.Users, bu)
		}
	}
	for _, g := range p.groups {
		b.Groups = append(b.Groups, identity.BatchGroup{ExternalID: g.ID, Name: g.Name, AltName: g.Email, Members: g.Members})
	}
	return b
}

// noteConflicts counts and logs the users the core refused and those whose
// new email it kept out.
func (s *Syncer) noteConflicts(plan *identity.BatchPlan, rep *Report) {
	for _, st := range plan.Users {
		switch {
		case st.Action == identity.UserRefuse:
			rep.Skipped.Conflicts++
			s.log.Warn("googlesync: user skipped", "google_id", st.Subject, "err", st.Err)
		case st.KeepEmail:
			rep.Skipped.Conflicts++
			s.log.Warn("googlesync: new email of a user is taken or invalid; kept the old one", "user", st.Current.ID)
		}
	}
}

// changes lists the plan's changes, in the order they are made.
func changes(plan *identity.BatchPlan) []Change {
	var out []Change
	note := func(action, group, user string) { out = append(out, Change{Action: action, Group: group, User: user}) }
	emails := make(map[string]string, len(plan.Users))
	for _, st := range plan.Users {
		switch st.Action {
		case identity.UserCreate:
			note(UserCreate, "", st.Want.Email)
		case identity.UserUpdate:
			note(UserUpdate, "", st.Want.Email)
			if st.Restore {
				note(UserRestore, "", st.Want.Email)
			}
		}
		emails[st.Subject] = st.Want.Email
	}
	names := make([]string, len(plan.Groups))
	for i, g := range plan.Groups {
		names[i] = g.Name
		if g.NewName != "" {
			names[i] = g.NewName
			note(GroupUpdate, g.NewName, "")
		}
	}
	for _, g := range plan.Groups {
		if g.Action == identity.GroupRename {
			note(GroupUpdate, g.Name, "")
		}
	}
	for _, g := range plan.Groups {
		switch g.Action {
		case identity.GroupCreate:
			note(GroupCreate, g.Name, "")
		case identity.GroupConvert:
			note(GroupConvert, g.Name, "")
		}
	}
	for i, g := range plan.Groups {
		for _, id := range g.Remove {
			note(MemberRemove, names[i], plan.Emails[id])
		}
		for _, subject := range g.Add {
			note(MemberAdd, names[i], emails[subject])
		}
	}
	for _, u := range plan.Deactivate {
		note(UserDeactivate, "", u.Email)
	}
	return out
}
