package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/rollcall/rollcall/groups"
)

// What a PolicyError says the source may not do.
const (
	ActionCreate      = "create users"
	ActionRestore     = "restore users"
	ActionDeactivate  = "deactivate users"
	ActionManageGroup = "manage the group"
)

// PolicyError is a change the source may not make: its policy does not
// allow the Action, or (ActionManageGroup) the Group belongs to another
// source. It matches ErrNotAllowed.
type PolicyError struct {
	Source Source
	Action string
	// Group is the group of ActionManageGroup.
	Group Group
}

func (e *PolicyError) Error() string {
	if e.Action == ActionManageGroup {
		return fmt.Sprintf("identity: source %q may not manage the group %s of %q", e.Source, e.Group.Name, e.Group.Source)
	}
	return fmt.Sprintf("identity: source %q may not %s", e.Source, e.Action)
}

// Is makes errors.Is(err, ErrNotAllowed) true.
func (e *PolicyError) Is(target error) bool { return target == ErrNotAllowed }

// planUserGroups plans the memberships of the users listed with SetGroups:
// it checks every group they name, refuses the users naming a group the
// source may not manage, and plans who joins and leaves what.
func (pl *batchPlanner) planUserGroups(ctx context.Context) error {
	byKey := make(map[string]GroupStep)
	var order []string
	keys := groupKeys{}
	for i := range pl.Users {
		st := &pl.Users[i]
		bu := &pl.batch.Users[st.Index]
		if !bu.SetGroups || bu.Err != nil || st.Current.ID != "" && !pl.batch.Update {
			continue
		}
		var refused []error
		for _, name := range bu.Groups {
			k := keys.of(name)
			g, ok := byKey[k]
			if !ok {
				var err error
				if g, err = pl.namedGroup(ctx, name); err != nil {
					return err
				}
				byKey[k] = g
				order = append(order, k)
			}
			if g.Current.ID != "" && MayManage(pl.Source, pl.groupSource, g.Current) != nil {
				refused = append(refused, &PolicyError{Source: pl.Source, Action: ActionManageGroup, Group: g.Current})
			}
		}
		if len(refused) > 0 {
			*st = refuse(*st, errors.Join(append([]error{st.Err}, refused...)...))
			continue
		}
		if st.Action == UserRefuse {
			continue
		}
		if err := pl.planJoins(ctx, st, bu.Groups, byKey, keys); err != nil {
			return err
		}
	}
	joined := make(map[string]bool)
	for k := range pl.Users {
		st := &pl.Users[k]
		for _, name := range st.Join {
			joined[keys.of(name)] = true
		}
	}
	for _, k := range order {
		if joined[k] {
			pl.Named = append(pl.Named, byKey[k])
		}
	}
	return nil
}

// groupKeys remembers the groups.Key of each group name as given: a file
// names a few groups in each of its rows, the same way nearly every time.
type groupKeys map[string]string

func (gk groupKeys) of(name string) string {
	k, ok := gk[name]
	if !ok {
		k = groups.Key(name)
		gk[name] = k
	}
	return k
}

// namedGroup reads the group a user's Groups name: GroupKeep where it
// exists, else GroupCreate.
func (pl *batchPlanner) namedGroup(ctx context.Context, name string) (GroupStep, error) {
	g, err := pl.r.GroupByName(ctx, name)
	switch {
	case err == nil:
		return GroupStep{Action: GroupKeep, Name: g.Name, Current: g}, nil
	case errors.Is(err, ErrNotFound):
		return GroupStep{Action: GroupCreate, Name: name}, nil
	}
	return GroupStep{}, fmt.Errorf("identity: find group by name: %w", err)
}

// planJoins plans the groups a user joins and leaves: a created user joins
// every group named, a found one by PlanUserGroups.
func (pl *batchPlanner) planJoins(ctx context.Context, st *UserStep, names []string, byKey map[string]GroupStep, keys groupKeys) error {
	if st.Action == UserCreate {
		st.Join = names
		return nil
	}
	current, err := pl.r.UserGroups(ctx, st.Current.ID)
	if err != nil {
		return fmt.Errorf("identity: read the groups of user %s: %w", st.Current.ID, err)
	}
	ids := make([]string, len(names))
	for j, name := range names {
		ids[j] = byKey[keys.of(name)].Current.ID
	}
	st.Join, st.Leave = PlanUserGroups(pl.Source, pl.groupSource, current, names, ids)
	return nil
}

// planMissing finds the users Batch.DeactivateMissing deactivates.
func (pl *batchPlanner) planMissing(ctx context.Context) error {
	if !pl.batch.DeactivateMissing {
		return nil
	}
	listed := make(map[string]bool, len(pl.batch.Users))
	for k := range pl.batch.Users {
		bu := &pl.batch.Users[k]
		if bu.User.Email != "" {
			listed[NormalizeEmail(bu.User.Email)] = true
		}
	}
	found := make(map[string]bool, len(pl.Users))
	for k := range pl.Users {
		st := &pl.Users[k]
		if st.Current.ID != "" {
			found[st.Current.ID] = true
		}
	}
	ix, ok := pl.r.(*indexedReader) // indexUsers read every user
	if !ok {
		return fmt.Errorf("identity: the users of a batch with DeactivateMissing are not indexed: %w", ErrInvalid)
	}
	for i := range ix.all {
		if ix.all[i].Active {
			pl.Synced++
		}
	}
	protect := ix.cloning() // Protect reads copies, as from any Reader
	for i := range ix.all {
		u := &ix.all[i]
		if !u.Active {
			continue
		}
		name := NormalizeUserName(u.UserName)
		if u.Email == "" || found[u.ID] || listed[NormalizeEmail(u.Email)] || listed[name] && !ix.hasEmail(name) {
			continue
		}
		if pl.batch.Protect != nil && pl.batch.Protect(ctx, protect, *u) {
			continue
		}
		pl.deactivate[u.ID] = *u
	}
	return nil
}

// eachUser calls fn with every user of r, a page at a time.
func eachUser(ctx context.Context, r Reader, fn func(User)) error {
	q := UserQuery{Limit: 1000}
	for {
		page, err := r.ListUsers(ctx, q)
		if err != nil {
			return fmt.Errorf("identity: list users: %w", err)
		}
		for _, u := range page.Users {
			fn(u)
		}
		if len(page.Users) < q.Limit {
			return nil
		}
		q.After = page.Users[len(page.Users)-1].ID
	}
}

// applyNamed creates the named groups that get members, and adds the
// users who join them; ids holds the ID of each user step, "" for a user
// refused.
func (tx *Tx) applyNamed(ctx context.Context, p *BatchPlan, ids []string) error {
	members := make(map[string][]string, len(p.Named))
	keys := groupKeys{}
	for i := range p.Users {
		st := &p.Users[i]
		if ids[i] == "" || st.Action == UserRefuse {
			continue
		}
		for _, g := range st.Leave {
			if _, err := tx.RemoveMember(ctx, g.ID, ids[i]); err != nil {
				return fmt.Errorf("identity: remove user %s from group %s: %w", ids[i], g.Name, err)
			}
		}
		for _, name := range st.Join {
			k := keys.of(name)
			members[k] = append(members[k], ids[i])
		}
	}
	for _, st := range p.Named {
		add := members[keys.of(st.Name)]
		if len(add) == 0 {
			continue
		}
		id := st.Current.ID
		if st.Action == GroupCreate {
			g, err := tx.CreateGroup(ctx, st.Name, "")
			if err != nil {
				return fmt.Errorf("identity: create group %s: %w", st.Name, err)
			}
			id = g.ID
		}
		if _, err := tx.AddMembers(ctx, id, add); err != nil {
			return fmt.Errorf("identity: add members to group %s: %w", st.Name, err)
		}
	}
	return nil
}
