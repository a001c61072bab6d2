package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rollcall/rollcall/groups"
)

// createChunk is how many new users one call of the store's bulk path
// stores.
const createChunk = 1000

// ApplyBatch carries out a plan of PlanBatch through the transaction, which
// must be of the plan's source and have read what the plan read (plan in
// the transaction that applies it): users created, linked and updated;
// groups renamed (a chain of renames in any order, a cycle through a
// temporary name), created and converted; memberships added and removed;
// users deactivated. Each change is checked by the core's rules and
// recorded as an event, so the events say what was done. It returns
// ErrInvalid for a plan of another source, and the errors of the
// transaction's methods: a plan made over another state may fail there.
func (tx *Tx) ApplyBatch(ctx context.Context, p *BatchPlan) error {
	if p.Source != tx.source {
		return fmt.Errorf("identity: a plan of %q applied by %q: %w", p.Source, tx.source, ErrInvalid)
	}
	ids, byStep, err := tx.applyUsers(ctx, p)
	if err != nil {
		return err
	}
	if err := tx.applyNamed(ctx, p, byStep); err != nil {
		return err
	}
	groupIDs, err := tx.applyGroups(ctx, p)
	if err != nil {
		return err
	}
	for i, st := range p.Groups {
		if err := tx.applyMembers(ctx, groupIDs[i], st, ids, p.batch.SkipRefused); err != nil {
			return err
		}
	}
	for _, u := range p.Deactivate {
		if _, err := tx.Deactivate(ctx, u.ID); err != nil {
			return fmt.Errorf("identity: deactivate user %s: %w", u.ID, err)
		}
	}
	return nil
}

// applyUsers creates, links and updates the plan's users, and returns the
// ID of every user by subject, and by step ("" for a user refused).
func (tx *Tx) applyUsers(ctx context.Context, p *BatchPlan) (map[string]string, []string, error) {
	ids := make(map[string]string, len(p.Users))
	byStep := make([]string, len(p.Users))
	var create []int
	done := 0
	for i := range p.Users {
		st := &p.Users[i]
		switch {
		case st.Action == UserCreate:
			create = append(create, i)
			continue
		case st.Current.ID == "" || st.Action == UserRefuse:
			continue
		}
		if err := tx.applyUser(ctx, p, st); err != nil {
			return nil, nil, err
		}
		if st.Action != UserRefuse {
			ids[st.Subject], byStep[i] = st.Current.ID, st.Current.ID
		}
		if done++; p.batch.Progress != nil {
			p.batch.Progress(done, len(p.Users))
		}
	}
	for len(create) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		chunk := create[:min(len(create), createChunk)]
		refused, err := tx.createSteps(ctx, p, chunk, ids, byStep)
		if err != nil {
			return nil, nil, err
		}
		if refused >= 0 {
			// Nobody was stored: the users before the refused one go in
			// again without it.
			create = append(slices.Clone(chunk[:refused]), create[refused+1:]...)
			continue
		}
		create = create[len(chunk):]
		if done += len(chunk); p.batch.Progress != nil {
			p.batch.Progress(done, len(p.Users))
		}
	}
	return ids, byStep, nil
}

// applyUser links and updates one found user as its step says. With
// SkipRefused a change the core refuses makes the step a UserRefuse.
func (tx *Tx) applyUser(ctx context.Context, p *BatchPlan, st *UserStep) error {
	if st.Link {
		if err := tx.link(ctx, st.Current.ID, st.Subject); err != nil {
			return tx.refuseStep(p, st, err)
		}
	}
	if st.Action != UserUpdate {
		return nil
	}
	want := st.Want
	if _, err := tx.UpdateUser(ctx, st.Current.ID, st.Current.Version, func(u *User) error {
		setProfile(u, want)
		return nil
	}); err != nil {
		return tx.refuseStep(p, st, fmt.Errorf("identity: update user %s: %w", st.Current.ID, err))
	}
	return nil
}

// refuseStep makes st a UserRefuse with err where the plan's batch goes on
// past a refused user and the core refused the values; else it returns err.
func (tx *Tx) refuseStep(p *BatchPlan, st *UserStep, err error) error {
	var ve *ValidationError
	if !p.batch.SkipRefused || !(errors.As(err, &ve) || errors.Is(err, ErrNotAllowed) ||
		errors.Is(err, ErrConflict) || errors.Is(err, ErrVersionMismatch)) {
		return err
	}
	*st = refuse(*st, err)
	st.Join, st.Leave = nil, nil
	return nil
}

// createSteps stores the users of the plan's steps idx in one call of the
// store, all or none. If the core refuses one and the batch goes on past
// it, that step is refused, nobody is stored, and createSteps returns its
// place in idx; else -1.
func (tx *Tx) createSteps(ctx context.Context, p *BatchPlan, idx []int, ids map[string]string, byStep []string) (int, error) {
	users := make([]NewUser, len(idx))
	for j, i := range idx {
		st := p.Users[i]
		users[j] = NewUser{User: st.Want, Options: CreateOptions{Subject: st.Subject, Inactive: st.Inactive}}
	}
	created, err := tx.CreateUsers(ctx, users)
	if err == nil {
		for j, u := range created {
			ids[p.Users[idx[j]].Subject], byStep[idx[j]] = u.ID, u.ID
		}
		return -1, nil
	}
	var ie *ItemError
	if !errors.As(err, &ie) || ie.Index < 0 || ie.Index >= len(idx) {
		return 0, err
	}
	if tx.refuseStep(p, &p.Users[idx[ie.Index]], ie.Err) != nil {
		return 0, err
	}
	return ie.Index, nil
}

// applyGroups gives the removed groups their new names, renames, creates
// and converts, and returns the ID of each step's group.
func (tx *Tx) applyGroups(ctx context.Context, p *BatchPlan) ([]string, error) {
	ids := make([]string, len(p.Groups))
	for i, st := range p.Groups {
		ids[i] = st.Current.ID
		if st.Action != GroupRemoved || st.NewName == "" {
			continue
		}
		name := st.NewName
		if _, err := tx.UpdateGroup(ctx, st.Current.ID, 0, func(g *Group) error { g.Name = name; return nil }); err != nil {
			return nil, fmt.Errorf("identity: group %s, no longer listed: %w", st.Current.Name, err)
		}
	}
	if err := tx.renameGroups(ctx, p); err != nil {
		return nil, err
	}
	for i, st := range p.Groups {
		if st.Action != GroupCreate && st.Action != GroupConvert {
			continue
		}
		g, err := tx.CreateGroup(ctx, st.Name, st.ExternalID)
		if err != nil {
			return nil, fmt.Errorf("identity: group %s: %w", st.Name, err)
		}
		ids[i] = g.ID
	}
	return ids, nil
}

// renameGroups applies the plan's renames. A rename waits while another
// group being renamed still holds its new name, so that a chain of renames
// applies in any order; a cycle (two groups that swap names) is broken by
// giving one of them a temporary name first.
func (tx *Tx) renameGroups(ctx context.Context, p *BatchPlan) error {
	cur := make(map[int]string) // the current name of each pending group
	var pending []int
	for i, st := range p.Groups {
		if st.Action == GroupRename {
			pending = append(pending, i)
			cur[i] = st.Current.Name
		}
	}
	rename := func(i int, name string) error {
		st := p.Groups[i]
		_, err := tx.UpdateGroup(ctx, st.Current.ID, 0, func(g *Group) error {
			g.Name, g.ExternalID = name, st.ExternalID
			return nil
		})
		if err != nil {
			return fmt.Errorf("identity: group %s: %w", st.Name, err)
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
			if j, ok := held[groups.Key(p.Groups[i].Name)]; ok && j != i {
				wait = append(wait, i)
				continue
			}
			delete(held, groups.Key(cur[i]))
			if err := rename(i, p.Groups[i].Name); err != nil {
				return err
			}
		}
		if len(wait) > 0 && len(wait) == len(pending) {
			// Every pending rename waits for another: a cycle.
			i := wait[0]
			if err := rename(i, p.batch.NamePrefix+"rename-"+p.Groups[i].Current.ID); err != nil {
				return err
			}
		}
		pending = wait
	}
	return nil
}

// applyMembers removes and adds a group's members as its step says; with
// skip, a subject whose user was refused is left out.
func (tx *Tx) applyMembers(ctx context.Context, groupID string, st GroupStep, ids map[string]string, skip bool) error {
	for _, id := range st.Remove {
		if _, err := tx.RemoveMember(ctx, groupID, id); err != nil {
			return fmt.Errorf("identity: members of group %s: %w", st.Name, err)
		}
	}
	add := make([]string, 0, len(st.Add))
	for _, s := range st.Add {
		id, ok := ids[s]
		if !ok && skip {
			continue
		}
		if !ok {
			return fmt.Errorf("identity: members of group %s: no user for subject %q: %w", st.Name, s, ErrInvalid)
		}
		add = append(add, id)
	}
	if len(add) == 0 {
		return nil
	}
	if _, err := tx.AddMembers(ctx, groupID, add); err != nil {
		return fmt.Errorf("identity: members of group %s: %w", st.Name, err)
	}
	return nil
}
