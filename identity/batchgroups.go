package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rollcall/rollcall/groups"
)

// planGroups matches the batch's groups to the directory's, names them,
// plans the removed ones and the memberships.
func (pl *batchPlanner) planGroups(ctx context.Context) error {
	mine, byExt, err := pl.sourceGroups(ctx)
	if err != nil {
		return err
	}
	bgs := pl.batch.Groups
	if err := checkGroupExternalIDs(bgs, mine); err != nil {
		return err
	}
	ids, names, alts := make([]string, len(bgs)), make([]string, len(bgs)), make([]string, len(bgs))
	held := make(map[string]string)
	listed := make(map[string]bool, len(bgs))
	for i, g := range bgs {
		ids[i], names[i], alts[i] = g.ExternalID, strings.TrimSpace(g.Name), strings.TrimSpace(g.AltName)
		listed[g.ExternalID] = true
		if lg, ok := byExt[g.ExternalID]; ok && g.ExternalID != "" && groups.Key(names[i]) == groups.Key(lg.Name) {
			held[groups.Key(lg.Name)] = g.ExternalID
		}
	}
	names = GroupNames(ids, names, alts, held)
	matched := make(map[string]bool)
	for i, g := range bgs {
		st, err := pl.matchGroup(ctx, g.ExternalID, names[i], byExt, listed)
		if err != nil {
			return err
		}
		matched[st.Current.ID] = true
		pl.Groups = append(pl.Groups, st)
	}
	for _, lg := range mine {
		if !matched[lg.ID] {
			pl.Groups = append(pl.Groups, GroupStep{Action: GroupRemoved, ExternalID: lg.ExternalID, Name: lg.Name, Current: lg})
		}
	}
	if err := pl.freeNames(ctx); err != nil {
		return err
	}
	return pl.planMembers(ctx)
}

// sourceGroups lists the directory's external groups of the source, and
// indexes them by ExternalID.
func (pl *batchPlanner) sourceGroups(ctx context.Context) ([]Group, map[string]Group, error) {
	var mine []Group
	byExt := make(map[string]Group)
	q := GroupQuery{Source: string(pl.Source), Limit: 1000}
	for {
		page, err := pl.r.ListGroups(ctx, q)
		if err != nil {
			return nil, nil, fmt.Errorf("identity: list groups: %w", err)
		}
		for _, g := range page.Groups {
			if g.Kind == groups.External && g.Source == string(pl.Source) {
				mine = append(mine, g)
				if g.ExternalID != "" {
					byExt[g.ExternalID] = g
				}
			}
		}
		if len(page.Groups) < q.Limit {
			return mine, byExt, nil
		}
		q.After = page.Groups[len(page.Groups)-1].ID
	}
}

// checkGroupExternalIDs refuses a batch in which a group cannot be matched
// by its ExternalID without a guess: one that an earlier listed group has
// too, or that two of the source's groups in the directory have (an
// externalID is not unique in the directory). The error is an *ItemError
// whose Index is the listed group's, wrapping a *ConflictError.
func checkGroupExternalIDs(bgs []BatchGroup, mine []Group) error {
	held := make(map[string][]string) // ExternalID -> the source's group IDs
	for _, g := range mine {
		if g.ExternalID != "" {
			held[g.ExternalID] = append(held[g.ExternalID], g.ID)
		}
	}
	first := make(map[string]int, len(bgs))
	conflict := &ConflictError{Resource: "group", Field: "externalID"}
	for i, g := range bgs {
		if g.ExternalID == "" {
			continue
		}
		if j, ok := first[g.ExternalID]; ok {
			return &ItemError{Index: i, Err: fmt.Errorf("identity: group %q of the batch has the ExternalID %q of group %d of the batch: %w",
				g.Name, g.ExternalID, j, conflict)}
		}
		first[g.ExternalID] = i
		if ids := held[g.ExternalID]; len(ids) > 1 {
			return &ItemError{Index: i, Err: fmt.Errorf("identity: group %q of the batch: the source's groups %s have its ExternalID %q: %w",
				g.Name, strings.Join(ids, ", "), g.ExternalID, conflict)}
		}
	}
	return nil
}

// matchGroup finds the directory's group of a listed one: the source's
// group of its ExternalID (a group of another source with that ExternalID is
// not matched: an externalID is not unique); else the group of its name,
// converted (or, if it is the source's own, re-created at the source: it
// takes the new ID); else none, and the group is created. A group of the
// name that is the source's group of another listed ExternalID is renamed
// by this batch first: the listed group is created.
func (pl *batchPlanner) matchGroup(ctx context.Context, ext, name string, byExt map[string]Group, listed map[string]bool) (GroupStep, error) {
	st := GroupStep{ExternalID: ext, Name: name}
	if lg, ok := byExt[ext]; ok && ext != "" {
		st.Current = lg
		if lg.Name != name {
			st.Action = GroupRename
		}
		return st, nil
	}
	lg, err := pl.r.GroupByName(ctx, name)
	switch {
	case err == nil && !(listed[lg.ExternalID] && byExt[lg.ExternalID].ID == lg.ID):
		st.Current, st.Action = lg, GroupConvert
		if lg.Kind == groups.External && lg.Source == string(pl.Source) {
			st.Action = GroupRename
		}
	case err == nil || errors.Is(err, ErrNotFound):
		st.Action = GroupCreate
	default:
		return st, fmt.Errorf("identity: find group by name: %w", err)
	}
	return st, nil
}

// freeNames plans the new name of a removed group whose name a listed group
// takes by a rename: "<name> (removed from <label>)", or a made-up name
// where that is taken or given too.
func (pl *batchPlanner) freeNames(ctx context.Context) error {
	taken := make(map[string]bool)
	giving := make(map[string]bool)
	for _, st := range pl.Groups {
		if st.Action == GroupRename {
			taken[groups.Key(st.Name)] = true
		}
		if st.Action != GroupKeep && st.Action != GroupRemoved {
			giving[groups.Key(st.Name)] = true
		}
	}
	for i := range pl.Groups {
		st := &pl.Groups[i]
		if st.Action != GroupRemoved || !taken[groups.Key(st.Current.Name)] {
			continue
		}
		name := st.Current.Name + " (removed from " + pl.batch.SourceLabel + ")"
		_, err := pl.r.GroupByName(ctx, name)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("identity: find group by name: %w", err)
		}
		if err == nil || giving[groups.Key(name)] || len(name) > MaxNameLength {
			name = pl.batch.NamePrefix + "removed-" + st.Current.ID
		}
		st.NewName = name
		giving[groups.Key(name)] = true
	}
	return nil
}

// planMembers reads the members of the matched groups and plans who joins
// and leaves each, the fuse's figures and the leavers.
func (pl *batchPlanner) planMembers(ctx context.Context) error {
	byExt := make(map[string]BatchGroup, len(pl.batch.Groups))
	for _, g := range pl.batch.Groups {
		byExt[g.ExternalID] = g
	}
	creates := make(map[string]bool)
	for k := range pl.Users {
		st := &pl.Users[k]
		if st.Action == UserCreate {
			creates[st.Subject] = true
		}
	}
	users, err := pl.readMembers(ctx)
	if err != nil {
		return err
	}
	before, after := make(map[string]bool), make(map[string]bool)
	for i := range pl.Groups {
		st := &pl.Groups[i]
		var want []string // subjects
		if st.Action != GroupRemoved {
			want = byExt[st.ExternalID].Members
		}
		st.Add, st.Remove = pl.diff(st.Members, want, creates, after)
		pl.Memberships += len(st.Members)
		pl.Removals += len(st.Remove)
		if st.Action != GroupConvert {
			// The members of a group converted now were not the source's:
			// losing it makes nobody a leaver.
			for _, id := range st.Members {
				before[id] = true
			}
		}
	}
	if pl.batch.DeactivateLeavers {
		active := func(id string) bool { return users[id].Active }
		for _, id := range Leavers(before, after, active, pl.suspended) {
			pl.deactivate[id] = users[id]
		}
	}
	pl.Synced = len(before)
	for _, id := range pl.suspendedKnown {
		if !before[id] {
			pl.Synced++
		}
	}
	return nil
}

// readMembers reads the members of the matched groups into their steps,
// and returns every member by ID: those the plan has read already, and the
// others read now.
func (pl *batchPlanner) readMembers(ctx context.Context) (map[string]User, error) {
	var ids []string
	for _, st := range pl.Groups {
		if st.Current.ID != "" {
			ids = append(ids, st.Current.ID)
		}
	}
	members, err := memberIDs(ctx, pl.r, ids)
	if err != nil {
		return nil, err
	}
	users := make(map[string]User)
	for i := range pl.Groups {
		st := &pl.Groups[i]
		if st.Current.ID == "" {
			continue
		}
		st.Members = members[st.Current.ID]
		for _, id := range st.Members {
			if _, ok := users[id]; ok {
				continue
			}
			u, ok := pl.known[id]
			if !ok {
				if u, err = pl.r.User(ctx, id); err != nil {
					return nil, fmt.Errorf("identity: read member %s: %w", id, err)
				}
			}
			users[id] = u
			pl.Emails[id] = u.Email
		}
	}
	return users, nil
}

// diff returns the subjects of a group's want that join it (found users
// who are not members, and users the plan creates) and the members who
// leave it; it notes the found users it keeps or adds in after.
func (pl *batchPlanner) diff(current, want []string, creates, after map[string]bool) (add, remove []string) {
	in := make(map[string]bool, len(current))
	for _, id := range current {
		in[id] = true
	}
	stay := make(map[string]bool, len(want))
	seen := make(map[string]bool, len(want))
	for _, s := range want {
		if seen[s] {
			continue
		}
		seen[s] = true
		id := pl.local[s]
		switch {
		case id != "":
			after[id] = true
			stay[id] = true
			if !in[id] {
				add = append(add, s)
			}
		case creates[s]:
			add = append(add, s)
		}
	}
	for _, id := range current {
		if !stay[id] {
			remove = append(remove, id)
		}
	}
	return add, remove
}
