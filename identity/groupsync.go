package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rollcall/rollcall/groups"
)

// mayManage returns nil if the transaction's source may change the group
// (see MayManage).
func (tx *Tx) mayManage(g Group) error { return MayManage(tx.source, tx.d.cfg.GroupSource, g) }

// mayCreateGroups returns nil if the source may create groups: the tenant's
// group source (external groups) or a source that is not an identity
// provider's (internal groups).
func (tx *Tx) mayCreateGroups() error {
	if tx.source.identityProvider() && tx.name != tx.d.cfg.GroupSource {
		return fmt.Errorf("identity: %q is not the tenant's group source (%q): %w", tx.name, tx.d.cfg.GroupSource, ErrNotAllowed)
	}
	return nil
}

// CreateGroup creates a group. From the tenant's group source it is external,
// and an existing group of the same name that the source does not manage yet
// (an internal one, say) is converted instead; from another source it is
// internal. It returns a *ValidationError for a bad name, ErrNotAllowed for an
// identity provider's source that is not the group source, and a
// *ConflictError if the name is taken by a group the source cannot take over.
// The externalID need not be unique.
func (tx *Tx) CreateGroup(ctx context.Context, name, externalID string) (Group, error) {
	name, err := normalizeGroupName(name)
	if err != nil {
		return Group{}, err
	}
	if err := tx.mayCreateGroups(); err != nil {
		return Group{}, err
	}
	external := tx.name == tx.d.cfg.GroupSource
	existing, err := tx.store.GroupByName(ctx, name)
	switch {
	case err == nil && external && (existing.Kind != groups.External || existing.Source != tx.name):
		return tx.convert(ctx, existing, externalID)
	case err == nil:
		return Group{}, fmt.Errorf("identity: create group: %w", &ConflictError{Resource: "group", Field: "name"})
	case !errors.Is(err, ErrNotFound):
		return Group{}, fmt.Errorf("identity: create group: %w", err)
	}
	g := Group{Name: name, Kind: groups.Internal, Source: tx.name, ExternalID: strings.TrimSpace(externalID)}
	if external {
		g.Kind = groups.External
	}
	return tx.createGroup(ctx, g)
}

func (tx *Tx) createGroup(ctx context.Context, g Group) (Group, error) {
	now := tx.now()
	g.ID, g.Version, g.Created, g.Updated = "", 0, now, now
	created, err := tx.store.CreateGroup(ctx, g)
	if err != nil {
		return Group{}, fmt.Errorf("identity: create group: %w", err)
	}
	tx.remember(created)
	tx.emit(GroupCreated, "", created.ID)
	return created, nil
}

// convert makes g an external group of the transaction's source.
func (tx *Tx) convert(ctx context.Context, g Group, externalID string) (Group, error) {
	var fields []string
	converted, err := tx.store.UpdateGroup(ctx, g.ID, func(cur *Group) error {
		fields = fields[:0]
		if cur.Kind != groups.External {
			cur.Kind = groups.External
			fields = append(fields, "kind")
		}
		if cur.Source != tx.name {
			cur.Source = tx.name
			fields = append(fields, "source")
		}
		if externalID = strings.TrimSpace(externalID); externalID != "" && cur.ExternalID != externalID {
			cur.ExternalID = externalID
			fields = append(fields, "externalID")
		}
		cur.Updated = tx.now()
		return nil
	})
	if err != nil {
		return Group{}, fmt.Errorf("identity: convert group: %w", err)
	}
	tx.remember(converted)
	tx.emit(GroupConverted, "", g.ID, fields...)
	return converted, nil
}

// UpdateGroup changes a group's name or externalID atomically; fn's changes to
// other fields are ignored. ifVersion, when not zero, must equal the stored
// version, else ErrVersionMismatch. It returns ErrNotFound, ErrNotAllowed, a
// *ValidationError or a *ConflictError.
func (tx *Tx) UpdateGroup(ctx context.Context, id string, ifVersion int64, fn func(*Group) error) (Group, error) {
	var before Group
	var fields []string
	updated, err := tx.store.UpdateGroup(ctx, id, func(cur *Group) error {
		if ifVersion != 0 && cur.Version != ifVersion {
			return fmt.Errorf("identity: group %s is at version %d, not %d: %w", id, cur.Version, ifVersion, ErrVersionMismatch)
		}
		if err := tx.mayManage(*cur); err != nil {
			return err
		}
		before = *cur
		next := *cur
		if err := fn(&next); err != nil {
			return err
		}
		name, err := normalizeGroupName(next.Name)
		if err != nil {
			return err
		}
		fields = fields[:0]
		if name != cur.Name {
			cur.Name = name
			fields = append(fields, "name")
		}
		if ext := strings.TrimSpace(next.ExternalID); ext != cur.ExternalID {
			cur.ExternalID = ext
			fields = append(fields, "externalID")
		}
		if len(fields) == 0 {
			return errNoChange
		}
		cur.Updated = tx.now()
		return nil
	})
	if errors.Is(err, errNoChange) {
		return before, nil
	}
	if err != nil {
		return Group{}, fmt.Errorf("identity: update group: %w", err)
	}
	tx.remember(updated)
	tx.emit(GroupUpdated, "", id, fields...)
	return updated, nil
}

// DeleteGroup removes a group and its memberships. It returns ErrNotFound or
// ErrNotAllowed.
func (tx *Tx) DeleteGroup(ctx context.Context, id string) error {
	g, err := tx.managed(ctx, id)
	if err != nil {
		return err
	}
	if err := tx.store.DeleteGroup(ctx, g.ID); err != nil {
		return fmt.Errorf("identity: delete group: %w", err)
	}
	delete(tx.groups, g.ID)
	tx.emit(GroupDeleted, "", id)
	return nil
}

// managed returns the group if the source may change it.
// A transaction reads each group it changes the members of once: the groups it
// has read or written are kept in tx.groups, which every change of a group
// in the transaction updates. The store's transaction is serializable, so
// no other change can make them stale.
func (tx *Tx) managed(ctx context.Context, groupID string) (Group, error) {
	g, ok := tx.groups[groupID]
	if !ok {
		var err error
		if g, err = tx.store.Group(ctx, groupID); err != nil {
			return Group{}, fmt.Errorf("identity: group %s: %w", groupID, err)
		}
		tx.remember(g)
	}
	return g, tx.mayManage(g)
}

// remember keeps a group as the transaction last read or wrote it.
func (tx *Tx) remember(g Group) {
	if tx.groups == nil {
		tx.groups = make(map[string]Group)
	}
	tx.groups[g.ID] = g
}

// AddMember adds a user to a group the source may change. It reports whether
// the membership is new, and returns ErrNotFound or ErrNotAllowed.
func (tx *Tx) AddMember(ctx context.Context, groupID, userID string) (bool, error) {
	if _, err := tx.managed(ctx, groupID); err != nil {
		return false, err
	}
	return tx.addMember(ctx, groupID, userID)
}

func (tx *Tx) addMember(ctx context.Context, groupID, userID string) (bool, error) {
	added, err := tx.store.AddMember(ctx, groupID, userID)
	if err != nil {
		return false, fmt.Errorf("identity: add member: %w", err)
	}
	if added {
		tx.emit(MemberAdded, userID, groupID)
	}
	return added, nil
}

// AddMembers adds users to a group the source may change, as AddMember adds
// one, through the store's bulk path. It returns the IDs whose membership is
// new, in the order given (an ID given twice once), and records a MemberAdded
// event for each. It returns ErrNotAllowed, or ErrNotFound for the group or
// the first user that does not exist, and then adds nobody.
func (tx *Tx) AddMembers(ctx context.Context, groupID string, userIDs []string) ([]string, error) {
	if _, err := tx.managed(ctx, groupID); err != nil {
		return nil, err
	}
	return tx.addMembers(ctx, groupID, userIDs)
}

func (tx *Tx) addMembers(ctx context.Context, groupID string, userIDs []string) ([]string, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	added, err := addMembers(ctx, tx.store, groupID, userIDs)
	if err != nil {
		return nil, fmt.Errorf("identity: add members: %w", err)
	}
	for _, id := range added {
		tx.emit(MemberAdded, id, groupID)
	}
	return added, nil
}

// RemoveMember removes a user from a group the source may change. It reports
// whether there was a membership, and returns ErrNotFound (for the group) or
// ErrNotAllowed.
func (tx *Tx) RemoveMember(ctx context.Context, groupID, userID string) (bool, error) {
	if _, err := tx.managed(ctx, groupID); err != nil {
		return false, err
	}
	return tx.removeMember(ctx, groupID, userID)
}

func (tx *Tx) removeMember(ctx context.Context, groupID, userID string) (bool, error) {
	removed, err := tx.store.RemoveMember(ctx, groupID, userID)
	if err != nil {
		return false, fmt.Errorf("identity: remove member: %w", err)
	}
	if removed {
		tx.emit(MemberRemoved, userID, groupID)
	}
	return removed, nil
}

// SetMembers makes the group's members exactly userIDs (a SCIM PUT, a Google
// pull), writing only the differences. It returns how many were added and
// removed, and ErrNotFound (for the group or a user) or ErrNotAllowed.
func (tx *Tx) SetMembers(ctx context.Context, groupID string, userIDs []string) (added, removed int, err error) {
	if _, err := tx.managed(ctx, groupID); err != nil {
		return 0, 0, err
	}
	want := make(map[string]bool, len(userIDs))
	for _, id := range userIDs {
		want[id] = true
	}
	var gone []string
	q := UserQuery{GroupID: groupID, Limit: 1000, NoTotal: true}
	for {
		page, err := ListUsers(ctx, tx.store, q)
		if err != nil {
			return 0, 0, fmt.Errorf("identity: list members: %w", err)
		}
		for _, u := range page.Users {
			if want[u.ID] {
				delete(want, u.ID)
			} else {
				gone = append(gone, u.ID)
			}
		}
		if len(page.Users) < q.Limit {
			break
		}
		q.After = page.Users[len(page.Users)-1].ID
	}
	for _, id := range gone {
		if _, err := tx.removeMember(ctx, groupID, id); err != nil {
			return 0, 0, err
		}
		removed++
	}
	// Those who are not members yet, in the order given, each once.
	add := make([]string, 0, len(want))
	for _, id := range userIDs {
		if want[id] {
			delete(want, id)
			add = append(add, id)
		}
	}
	newMembers, err := tx.addMembers(ctx, groupID, add)
	if err != nil {
		return 0, 0, err
	}
	return len(newMembers), removed, nil
}

// SetUserGroups sets a user's external groups from a claim of the tenant's
// group source, by the rules of groups.PlanFor: received groups are attached
// (created as external, or converted from internal, as needed), external
// groups not received are detached, internal memberships stay, and an absent
// claim changes nothing. It returns the plan it applied, ErrNotAllowed if the
// source is not the group source, ErrNotFound for a missing user, a
// *ValidationError for a bad name and a *groups.LimitError when the claim has
// more names than Config.GroupLimit (nothing is applied).
func (tx *Tx) SetUserGroups(ctx context.Context, userID string, claim groups.Claim) (groups.Plan, error) {
	if tx.name != tx.d.cfg.GroupSource || tx.name == "" {
		return groups.Plan{}, fmt.Errorf("identity: %q is not the tenant's group source (%q): %w", tx.name, tx.d.cfg.GroupSource, ErrNotAllowed)
	}
	if !claim.Present {
		return groups.Plan{}, nil
	}
	names, err := tx.claimNames(claim.Names)
	if err != nil {
		return groups.Plan{}, err
	}
	if _, err := tx.store.User(ctx, userID); err != nil {
		return groups.Plan{}, fmt.Errorf("identity: set user groups: %w", err)
	}
	held, err := tx.store.UserGroups(ctx, userID)
	if err != nil {
		return groups.Plan{}, fmt.Errorf("identity: set user groups: %w", err)
	}
	current := make([]groups.Group, len(held))
	byKey := make(map[string]Group, len(held))
	for i, g := range held {
		current[i] = groups.Group{Name: g.Name, Kind: g.Kind, Source: g.Source}
		byKey[groups.Key(g.Name)] = g
	}
	var lookupErr error
	lookup := func(name string) (groups.Group, bool) {
		g, err := tx.store.GroupByName(ctx, name)
		if err != nil {
			if !errors.Is(err, ErrNotFound) && lookupErr == nil {
				lookupErr = err
			}
			return groups.Group{}, false
		}
		byKey[groups.Key(g.Name)] = g
		return groups.Group{Name: g.Name, Kind: g.Kind, Source: g.Source}, true
	}
	plan := groups.PlanFor(tx.name, current, groups.Received(names...), lookup)
	if lookupErr != nil {
		return groups.Plan{}, fmt.Errorf("identity: set user groups: %w", lookupErr)
	}
	for _, name := range plan.Create {
		g, err := tx.createGroup(ctx, Group{Name: name, Kind: groups.External, Source: tx.name})
		if err != nil {
			return groups.Plan{}, err
		}
		if _, err := tx.addMember(ctx, g.ID, userID); err != nil {
			return groups.Plan{}, err
		}
	}
	for _, name := range plan.Convert {
		if _, err := tx.convert(ctx, byKey[groups.Key(name)], ""); err != nil {
			return groups.Plan{}, err
		}
	}
	for _, name := range plan.Attach {
		if _, err := tx.addMember(ctx, byKey[groups.Key(name)].ID, userID); err != nil {
			return groups.Plan{}, err
		}
	}
	for _, name := range plan.Detach {
		if _, err := tx.removeMember(ctx, byKey[groups.Key(name)].ID, userID); err != nil {
			return groups.Plan{}, err
		}
	}
	return plan, nil
}

// claimNames checks and deduplicates the names of a claim against the limit.
func (tx *Tx) claimNames(in []string) ([]string, error) {
	seen := make(map[string]bool, len(in))
	names := make([]string, 0, len(in))
	for _, n := range in {
		if strings.TrimSpace(n) == "" {
			continue // an empty name is dropped, as the claim parsers do
		}
		n, err := normalizeGroupName(n)
		if err != nil {
			return nil, fmt.Errorf("identity: group claim: %w", err)
		}
		if k := groups.Key(n); !seen[k] {
			seen[k] = true
			names = append(names, n)
		}
	}
	if len(names) > tx.d.cfg.GroupLimit {
		return nil, &groups.LimitError{Count: len(names), Limit: tx.d.cfg.GroupLimit}
	}
	return names, nil
}
