package googlesync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rollcall/rollcall/groups"
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
// to the directory in one transaction of the source "google": users created
// (linked to their Google ID) or updated, groups created or converted
// (ExternalID = the Google group ID), memberships set to what Google says
// (only the differences are written), suspended users and, per Config,
// leavers deactivated.
//
// A failure while pulling changes nothing. It returns ErrBusy if a sync of
// this Syncer is running, an error matching identity.ErrNotAllowed if the
// tenant's group source is not "google", ErrEmptyPull, a *ThresholdError
// (ErrThreshold), ErrRefused, a *googleapi.Error from the API once the
// retries are spent, or the core's errors. The Report is returned in every
// case: on error it holds the pull's counts and API calls, and no change.
func (s *Syncer) Sync(ctx context.Context, opts ...Option) (Report, error) {
	o := options{force: s.cfg.Force, dry: s.cfg.DryRun}
	for _, f := range opts {
		f(&o)
	}
	rep := Report{Tenant: s.dir.Tenant(), DryRun: o.dry, Forced: o.force, Start: s.clock.Now()}
	if !s.running.TryLock() {
		return rep, ErrBusy
	}
	defer s.running.Unlock()
	began := time.Now()
	var c counter
	err := s.sync(ctx, &c, o, &rep, began)
	rep.APICalls, rep.Retries = int(c.calls.Load()), int(c.retries.Load())
	rep.Duration = time.Since(began)
	if err != nil {
		s.logger.Warn("googlesync: sync failed", "err", err, "api_calls", rep.APICalls, "duration", rep.Duration)
		return rep, err
	}
	s.logger.Info("googlesync: synced", "dry_run", rep.DryRun, "groups", rep.Groups, "users", rep.Users,
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
	run := s.dir.Do
	if o.dry {
		run = s.dir.DryRun
	}
	var done Report
	err = run(ctx, Source, func(ctx context.Context, tx *identity.Tx) error {
		done = *rep // fn may run again: start from the pull's counts
		pl, err := s.plan(ctx, tx.Reader(), p, &done)
		if err != nil {
			return err
		}
		if !o.force {
			if err := s.check(pl); err != nil {
				return err
			}
		}
		return s.write(ctx, tx, pl, &done, o.dry)
	})
	if err != nil {
		if errors.Is(err, identity.ErrNotAllowed) {
			return fmt.Errorf("googlesync: the core refused the change (is %q the tenant's group source?): %w", Source, err)
		}
		return fmt.Errorf("googlesync: apply: %w", err)
	}
	*rep = done
	return nil
}

// groupAction is what a sync does to a received group's record.
type groupAction int

const (
	keepGroup    groupAction = iota
	createGroup              // no group has its ID or name
	convertGroup             // a group of its name is not Google's: convert it
	updateGroup              // Google's group: renamed, or a new Google ID
)

// userStep is what a sync does for one received user.
type userStep struct {
	g *gUser
	// local is the directory's user found by link or email; zero for a new
	// user.
	local identity.User
	// keepEmail leaves the user's email as it is: the new one is taken.
	keepEmail bool
}

// groupStep is what a sync does for one group.
type groupStep struct {
	g      *gGroup // nil for a Google group of the directory no longer received
	name   string
	action groupAction
	local  identity.Group
	// current lists the group's members in the directory.
	current []string
}

// syncPlan is a sync's whole plan, computed from the pull and the directory
// before anything is written.
type syncPlan struct {
	users      []userStep
	groups     []groupStep
	deactivate []string // local IDs, sorted
	// emails holds the email of each current member, for Report.Changes.
	emails map[string]string
	// The safety fuse's figures.
	removals, memberships int
	synced                int // users in a Google group now, or suspended and known
}

// plan computes the sync's plan from the pull and the directory as r shows
// it.
func (s *Syncer) plan(ctx context.Context, r identity.Reader, p *pulled, rep *Report) (*syncPlan, error) {
	pl := &syncPlan{emails: make(map[string]string)}
	member := make(map[string]bool)
	for _, g := range p.groups {
		for _, id := range g.Members {
			member[id] = true
		}
	}
	deactivate := make(map[string]bool)
	suspendedKnown := make(map[string]bool) // counted by the fuse (Deactivate)
	suspended := make(map[string]bool)      // local IDs of known suspended users
	// Whether an email finds an unlinked user is the core's policy; Upsert
	// passes no verified flag, so only EmailTrusted finds one.
	trustEmail := s.dir.Policy(Source).Email == identity.EmailTrusted
	localOf := make(map[string]string) // Google ID -> local ID, for known users
	for _, id := range slices.Sorted(maps.Keys(p.users)) {
		u := p.users[id]
		if u.Gone {
			continue
		}
		local, err := r.UserByLink(ctx, Source, id)
		found := err == nil
		if err != nil && !errors.Is(err, identity.ErrNotFound) {
			return nil, fmt.Errorf("find user by link: %w", err)
		}
		if u.Suspended {
			if found {
				suspended[local.ID] = true
			}
			if found && s.cfg.Suspended == Deactivate {
				suspendedKnown[local.ID] = true
				if local.Active {
					deactivate[local.ID] = true
				}
			}
			continue
		}
		if !member[id] {
			continue
		}
		step := userStep{g: u}
		if found {
			step.local = local
			if identity.NormalizeEmail(u.Email) != identity.NormalizeEmail(local.Email) {
				other, err := r.UserByEmail(ctx, u.Email)
				if err == nil && other.ID != local.ID || !identity.ValidEmail(u.Email) {
					step.keepEmail = true
					rep.Skipped.Conflicts++
					s.logger.Warn("googlesync: new email of a user is taken or invalid; kept the old one", "user", local.ID)
				} else if err != nil && !errors.Is(err, identity.ErrNotFound) {
					return nil, fmt.Errorf("find user by email: %w", err)
				}
			}
			localOf[id] = local.ID
		} else {
			if !identity.ValidEmail(u.Email) {
				rep.Skipped.Conflicts++
				s.logger.Warn("googlesync: user with an invalid email skipped", "google_id", id)
				continue
			}
			other, err := r.UserByEmail(ctx, u.Email)
			switch {
			case err == nil && !trustEmail:
				// The core would not resolve the user by email, and the
				// email is taken: creating them would fail the sync.
				rep.Skipped.Conflicts++
				s.logger.Warn("googlesync: user's email belongs to a user the policy does not let Google claim; skipped", "user", other.ID, "google_id", id)
				continue
			case err == nil:
				links, err := r.Links(ctx, other.ID)
				if err != nil {
					return nil, fmt.Errorf("read links: %w", err)
				}
				if slices.ContainsFunc(links, func(l identity.Link) bool { return l.Source == Source }) {
					// A re-created Google account must not take over the user.
					rep.Skipped.Conflicts++
					s.logger.Warn("googlesync: user's email belongs to a user linked to another Google ID; skipped", "user", other.ID, "google_id", id)
					continue
				}
				step.local = other
				localOf[id] = other.ID
			case !errors.Is(err, identity.ErrNotFound):
				return nil, fmt.Errorf("find user by email: %w", err)
			}
		}
		pl.users = append(pl.users, step)
	}

	// The directory's Google groups.
	var mine []identity.Group
	byExt := make(map[string]identity.Group)
	q := identity.GroupQuery{Source: Source, Limit: 1000}
	for {
		page, err := r.ListGroups(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		for _, g := range page.Groups {
			if g.Kind == groups.External && g.Source == Source {
				mine = append(mine, g)
				if g.ExternalID != "" {
					byExt[g.ExternalID] = g
				}
			}
		}
		if len(page.Groups) < q.Limit {
			break
		}
		q.After = page.Groups[len(page.Groups)-1].ID
	}
	matched := make(map[string]bool)
	names := make(map[string]bool)
	received := make(map[string]bool, len(p.groups))
	for _, g := range p.groups {
		received[g.ID] = true
	}
	// The group that holds a name keeps it, whatever the listing order.
	holder := make(map[string]string) // name key -> Google ID of its holder
	for _, g := range p.groups {
		if lg, ok := byExt[g.ID]; ok && g.ID != "" && groups.Key(strings.TrimSpace(g.Name)) == groups.Key(lg.Name) {
			holder[groups.Key(lg.Name)] = g.ID
		}
	}
	for i := range p.groups {
		g := &p.groups[i]
		name := strings.TrimSpace(g.Name)
		k := groups.Key(name)
		if h, held := holder[k]; name == "" || names[k] || held && h != g.ID {
			name = g.Email // two Google groups may share a name, never an email
		}
		names[groups.Key(name)] = true
		step := groupStep{g: g, name: name}
		if lg, ok := byExt[g.ID]; ok && g.ID != "" {
			step.local = lg
			if lg.Name != name {
				step.action = updateGroup
			}
		} else if lg, err := r.GroupByExternalID(ctx, g.ID); err == nil {
			return nil, fmt.Errorf("the Google group %s has the ID of the directory's group %s of source %q", g.Email, lg.ID, lg.Source)
		} else if !errors.Is(err, identity.ErrNotFound) {
			return nil, fmt.Errorf("find group by external ID: %w", err)
		} else if lg, err := r.GroupByName(ctx, name); err == nil && !(received[lg.ExternalID] && byExt[lg.ExternalID].ID == lg.ID) {
			step.local = lg
			step.action = convertGroup
			if lg.Kind == groups.External && lg.Source == Source {
				step.action = updateGroup // re-created in Google: a new ID
			}
		} else if err == nil || errors.Is(err, identity.ErrNotFound) {
			// No group of the name, or Google's group of another ID, which
			// is renamed by this sync first.
			step.action = createGroup
		} else {
			return nil, fmt.Errorf("find group by name: %w", err)
		}
		matched[step.local.ID] = true
		pl.groups = append(pl.groups, step)
	}
	for _, lg := range mine {
		if !matched[lg.ID] {
			pl.groups = append(pl.groups, groupStep{name: lg.Name, local: lg})
		}
	}

	// Current members, and the fuse's figures.
	active := make(map[string]bool)
	before := make(map[string]bool) // users in a Google group now
	after := make(map[string]bool)  // local users in a Google group after the sync
	for i := range pl.groups {
		step := &pl.groups[i]
		if step.local.ID == "" {
			continue
		}
		uq := identity.UserQuery{GroupID: step.local.ID, Limit: 1000}
		for {
			page, err := r.ListUsers(ctx, uq)
			if err != nil {
				return nil, fmt.Errorf("list members: %w", err)
			}
			for _, u := range page.Users {
				step.current = append(step.current, u.ID)
				active[u.ID] = u.Active
				pl.emails[u.ID] = u.Email
			}
			if len(page.Users) < uq.Limit {
				break
			}
			uq.After = page.Users[len(page.Users)-1].ID
		}
		var want map[string]bool
		if step.g != nil {
			want = make(map[string]bool, len(step.g.Members))
			for _, id := range step.g.Members {
				if l := localOf[id]; l != "" {
					want[l] = true
				}
			}
		}
		pl.memberships += len(step.current)
		for _, id := range step.current {
			// The members of a group converted now were not Google's
			// members: losing it makes nobody a leaver.
			if step.action != convertGroup {
				before[id] = true
			}
			if !want[id] {
				pl.removals++
			}
		}
	}
	for _, g := range p.groups {
		for _, id := range g.Members {
			if l := localOf[id]; l != "" {
				after[l] = true
			}
		}
	}
	if s.cfg.DeactivateLeavers {
		for id := range before {
			// A suspended user is still a member in Google: not a leaver
			// (with Suspended Ignore, their account is left alone).
			if !after[id] && active[id] && !suspended[id] {
				deactivate[id] = true
			}
		}
	}
	pl.synced = len(before)
	for id := range suspendedKnown {
		if !before[id] {
			pl.synced++
		}
	}
	pl.deactivate = slices.Sorted(maps.Keys(deactivate))
	return pl, nil
}

// check applies the safety fuse to a plan.
func (s *Syncer) check(pl *syncPlan) error {
	if s.cfg.MaxRemove >= 1 {
		return nil
	}
	if pl.removals > 0 && float64(pl.removals) > s.cfg.MaxRemove*float64(pl.memberships) {
		return &ThresholdError{What: "memberships", Remove: pl.removals, Of: pl.memberships, Limit: s.cfg.MaxRemove}
	}
	if n := len(pl.deactivate); n > 0 && float64(n) > s.cfg.MaxRemove*float64(pl.synced) {
		return &ThresholdError{What: "users", Remove: n, Of: pl.synced, Limit: s.cfg.MaxRemove}
	}
	return nil
}

// write applies a plan through tx and counts what it did in rep; with
// detail, it lists the changes in rep.Changes.
func (s *Syncer) write(ctx context.Context, tx *identity.Tx, pl *syncPlan, rep *Report, detail bool) error {
	note := func(action, group, user string) {
		if detail {
			rep.Changes = append(rep.Changes, Change{Action: action, Group: group, User: user})
		}
	}
	localOf := make(map[string]string, len(pl.users))
	for _, step := range pl.users {
		g := step.g
		// Whether the email is verified is the core's policy (VerifiesEmail).
		u := identity.User{Email: g.Email}
		if step.keepEmail {
			u.Email = step.local.Email
		}
		if g.Profile {
			u.GivenName, u.FamilyName, u.DisplayName = g.Given, g.Family, g.Display
		}
		got, outcome, err := tx.Upsert(ctx, u, identity.UpsertOptions{Subject: g.ID, Update: true, Restore: !s.cfg.KeepDeactivated})
		if err != nil {
			return fmt.Errorf("user %s: %w", g.ID, err)
		}
		switch outcome {
		case identity.Created:
			rep.UsersCreated++
			note(UserCreate, "", got.Email)
		case identity.Updated:
			rep.UsersUpdated++
			note(UserUpdate, "", got.Email)
			if step.local.ID != "" && !step.local.Active && got.Active {
				rep.UsersRestored++
				note(UserRestore, "", got.Email)
			}
		}
		localOf[g.ID] = got.ID
		pl.emails[got.ID] = got.Email
	}
	// Renames first, so that a name a group gives up is free for a new one.
	ids := make([]string, len(pl.groups))
	for i, step := range pl.groups {
		ids[i] = step.local.ID
	}
	if err := s.renameGroups(ctx, tx, pl, rep, note); err != nil {
		return err
	}
	for i, step := range pl.groups {
		if step.action != createGroup && step.action != convertGroup {
			continue
		}
		g, err := tx.CreateGroup(ctx, step.name, step.g.ID)
		if err != nil {
			return fmt.Errorf("group %s: %w", step.g.Email, err)
		}
		ids[i] = g.ID
		if step.action == createGroup {
			rep.GroupsCreated++
			note(GroupCreate, step.name, "")
		} else {
			rep.GroupsConverted++
			note(GroupConvert, step.name, "")
		}
	}
	for i, step := range pl.groups {
		if step.g == nil && len(step.current) == 0 {
			continue
		}
		var members []string
		if step.g != nil {
			members = make([]string, 0, len(step.g.Members))
			for _, m := range step.g.Members {
				if l := localOf[m]; l != "" {
					members = append(members, l)
				}
			}
		}
		if detail {
			noteMembers(step.current, members, pl.emails, func(action, email string) { note(action, step.name, email) })
		}
		added, removed, err := tx.SetMembers(ctx, ids[i], members)
		if err != nil {
			return fmt.Errorf("members of group %s: %w", step.name, err)
		}
		rep.MembersAdded += added
		rep.MembersRemoved += removed
		if step.g == nil && removed > 0 {
			rep.GroupsEmptied++
		}
	}
	for _, id := range pl.deactivate {
		before, err := tx.Reader().User(ctx, id)
		if err != nil {
			return fmt.Errorf("deactivate user %s: %w", id, err)
		}
		if !before.Active {
			continue
		}
		if _, err := tx.Deactivate(ctx, id); err != nil {
			return fmt.Errorf("deactivate user %s: %w", id, err)
		}
		rep.UsersDeactivated++
		note(UserDeactivate, "", before.Email)
	}
	return nil
}

// renameGroups applies the plan's updateGroup steps. A rename waits while
// another group being renamed still holds its new name, so that a chain of
// renames applies in any order Google lists the groups; a cycle (two groups
// that swap names) is broken by giving one of them a temporary name first.
func (s *Syncer) renameGroups(ctx context.Context, tx *identity.Tx, pl *syncPlan, rep *Report, note func(action, group, user string)) error {
	cur := make(map[int]string) // the current name of each pending group
	var pending []int
	for i, step := range pl.groups {
		if step.action == updateGroup {
			pending = append(pending, i)
			cur[i] = step.local.Name
		}
	}
	if err := s.freeNames(ctx, tx, pl, pending, rep, note); err != nil {
		return err
	}
	rename := func(i int, name string) error {
		step := pl.groups[i]
		gid := step.g.ID
		_, err := tx.UpdateGroup(ctx, step.local.ID, 0, func(g *identity.Group) error {
			g.Name, g.ExternalID = name, gid
			return nil
		})
		if err != nil {
			return fmt.Errorf("group %s: %w", step.g.Email, err)
		}
		cur[i] = name
		return nil
	}
	for len(pending) > 0 {
		held := make(map[string]int, len(pending)) // current name -> step
		for _, i := range pending {
			held[groups.Key(cur[i])] = i
		}
		var wait []int
		for _, i := range pending {
			step := pl.groups[i]
			if j, ok := held[groups.Key(step.name)]; ok && j != i {
				wait = append(wait, i)
				continue
			}
			delete(held, groups.Key(cur[i]))
			if err := rename(i, step.name); err != nil {
				return err
			}
			rep.GroupsUpdated++
			note(GroupUpdate, step.name, "")
		}
		if len(wait) > 0 && len(wait) == len(pending) {
			// Every pending rename waits for another: a cycle.
			i := wait[0]
			if err := rename(i, "googlesync-rename-"+pl.groups[i].local.ID); err != nil {
				return err
			}
		}
		pending = wait
	}
	return nil
}

// freeNames renames a group Google no longer has (deleted there, or now
// filtered out: it stays in the directory, emptied) whose name a received
// group takes by a rename, so that the name is free: "<name> (removed from
// Google)", or with the group's ID where that is taken too.
func (s *Syncer) freeNames(ctx context.Context, tx *identity.Tx, pl *syncPlan, pending []int, rep *Report, note func(action, group, user string)) error {
	taken := make(map[string]bool, len(pending))
	for _, i := range pending {
		taken[groups.Key(pl.groups[i].name)] = true
	}
	// The names this sync gives: a freed name must not be one of them.
	giving := make(map[string]bool, len(pl.groups))
	for _, step := range pl.groups {
		if step.action != keepGroup {
			giving[groups.Key(step.name)] = true
		}
	}
	for i, step := range pl.groups {
		if step.g != nil || step.local.ID == "" || !taken[groups.Key(step.local.Name)] {
			continue
		}
		name := step.local.Name + " (removed from Google)"
		if _, err := tx.Reader().GroupByName(ctx, name); err == nil || giving[groups.Key(name)] || len(name) > identity.MaxNameLength {
			name = "googlesync-removed-" + step.local.ID
		}
		g, err := tx.UpdateGroup(ctx, step.local.ID, 0, func(g *identity.Group) error {
			g.Name = name
			return nil
		})
		if err != nil {
			return fmt.Errorf("group %s, no longer in Google: %w", step.local.Name, err)
		}
		pl.groups[i].name, pl.groups[i].local = g.Name, g
		rep.GroupsUpdated++
		note(GroupUpdate, g.Name, "")
	}
	return nil
}

// noteMembers lists the membership changes from current to want, as
// SetMembers makes them, by email.
func noteMembers(current, want []string, emails map[string]string, note func(action, email string)) {
	in := make(map[string]bool, len(want))
	for _, id := range want {
		in[id] = true
	}
	was := make(map[string]bool, len(current))
	for _, id := range current {
		was[id] = true
		if !in[id] {
			note(MemberRemove, emails[id])
		}
	}
	for _, id := range want {
		if !was[id] {
			note(MemberAdd, emails[id])
			was[id] = true
		}
	}
}
