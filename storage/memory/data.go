package memory

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// linkKey is the unique pair of a link.
type linkKey struct{ source, subject string }

// data is everything one tenant holds. Its methods take no lock: the Store
// calls them under its mutex, a transaction under the write lock it holds for
// the whole transaction. Every change goes through put, del, putIn or delIn,
// so that the undo log l (nil outside a transaction) can reverse it.
//
// Stored users and groups are never changed in place: an update stores a new
// value, so the undo log keeps the old one by pointer and a reader's copy is
// made from a value nobody writes to.
type data struct {
	users      map[string]*identity.User
	userIDs    idIndex
	byEmail    multiIndex        // NormalizeEmail(email) -> user IDs, active or not
	byUserName map[string]string // NormalizeUserName(userName) -> user ID
	byUserExt  multiIndex        // externalID -> user IDs

	links     map[linkKey]*identity.Link
	userLinks map[string]map[string]string // user ID -> source -> subject

	groups      map[string]*identity.Group
	groupIDs    idIndex
	byGroupName map[string]string // groups.Key(name) -> group ID
	byGroupExt  multiIndex        // externalID -> group IDs

	members  map[string]map[string]struct{} // group ID -> user IDs
	memberOf map[string]map[string]struct{} // user ID -> group IDs

	invites     map[string]*identity.Invitation // string(hash) -> invitation
	userInvites map[string]map[string]struct{}  // user ID -> string(hash)

	events []identity.Event
	seq    int64
}

func newData() *data {
	return &data{
		users:       make(map[string]*identity.User),
		byEmail:     make(multiIndex),
		byUserName:  make(map[string]string),
		byUserExt:   make(multiIndex),
		links:       make(map[linkKey]*identity.Link),
		userLinks:   make(map[string]map[string]string),
		groups:      make(map[string]*identity.Group),
		byGroupName: make(map[string]string),
		byGroupExt:  make(multiIndex),
		members:     make(map[string]map[string]struct{}),
		memberOf:    make(map[string]map[string]struct{}),
		invites:     make(map[string]*identity.Invitation),
		userInvites: make(map[string]map[string]struct{}),
	}
}

func userNotFound(id string) error {
	return fmt.Errorf("memory: user %q: %w", id, identity.ErrNotFound)
}

func groupNotFound(id string) error {
	return fmt.Errorf("memory: group %q: %w", id, identity.ErrNotFound)
}

func userConflict(field string) error {
	return &identity.ConflictError{Resource: "user", Field: field}
}

func groupConflict(field string) error {
	return &identity.ConflictError{Resource: "group", Field: field}
}

// userKeys are the unique values of a user as the indexes hold them; an
// empty key is not indexed.
type userKeys struct{ email, userName, externalID string }

func keysOf(u *identity.User) userKeys {
	return userKeys{
		email:      identity.NormalizeEmail(u.Email),
		userName:   identity.NormalizeUserName(u.UserName),
		externalID: u.ExternalID,
	}
}

// taken reports whether key is held in index by a record other than id.
func taken(index map[string]string, key, id string) bool {
	if key == "" {
		return false
	}
	owner, ok := index[key]
	return ok && owner != id
}

// checkUser returns a *ConflictError if another user than id holds k's
// userName, or, when the user is active, another active user holds its email.
func (d *data) checkUser(k userKeys, active bool, id string) error {
	switch {
	case active && d.activeHolder(k.email, id):
		return userConflict("email")
	case taken(d.byUserName, k.userName, id):
		return userConflict("userName")
	}
	return nil
}

// activeHolder reports whether an active user other than id holds the email
// key.
func (d *data) activeHolder(key, id string) bool {
	if key == "" {
		return false
	}
	for _, other := range d.byEmail[key] {
		if other != id && d.users[other].Active {
			return true
		}
	}
	return false
}

// multiIndex maps a key that several records may hold to their IDs, nearly
// always one. A slice is never changed in place: a change stores a new one,
// so that the undo log keeps the old.
type multiIndex map[string][]string

// move moves id in x from the key old to the key new.
func (x multiIndex) move(l *undoLog, old, new, id string) {
	if old == new {
		return
	}
	if old != "" {
		if ids := x[old]; len(ids) <= 1 {
			del(l, x, old)
		} else {
			put(l, x, old, slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return s == id }))
		}
	}
	if new != "" {
		ids := x[new]
		put(l, x, new, append(ids[:len(ids):len(ids)], id))
	}
}

// reindex moves id's entry in index from the key old to the key new.
func reindex(l *undoLog, index map[string]string, old, new, id string) {
	if old == new {
		return
	}
	if old != "" {
		del(l, index, old)
	}
	if new != "" {
		put(l, index, new, id)
	}
}

func (d *data) indexUser(l *undoLog, old, new userKeys, id string) {
	d.byEmail.move(l, old.email, new.email, id)
	reindex(l, d.byUserName, old.userName, new.userName, id)
	d.byUserExt.move(l, old.externalID, new.externalID, id)
}

func (d *data) createUser(l *undoLog, u identity.User) (identity.User, error) {
	if u.ID == "" {
		u.ID = identity.NewID()
	} else if d.users[u.ID] != nil {
		return identity.User{}, userConflict("id")
	}
	k := keysOf(&u)
	if err := d.checkUser(k, u.Active, u.ID); err != nil {
		return identity.User{}, err
	}
	u.Version = 1
	u = u.Clone()
	put(l, d.users, u.ID, &u)
	d.userIDs.ensure(u.ID)
	d.indexUser(l, userKeys{}, k, u.ID)
	return u.Clone(), nil
}

// createUsers creates the users in order, all or none: when one conflicts,
// it undoes those it created before.
func (d *data) createUsers(l *undoLog, users []identity.User) ([]identity.User, error) {
	if l == nil {
		// Outside a transaction, a log of the call's own.
		l = &undoLog{}
	}
	mark := l.mark()
	out := make([]identity.User, len(users))
	for i, u := range users {
		created, err := d.createUser(l, u)
		if err != nil {
			l.rollback(mark)
			return nil, &identity.ItemError{Index: i, Err: err}
		}
		out[i] = created
	}
	return out, nil
}

func (d *data) user(id string) (identity.User, error) {
	u := d.users[id]
	if u == nil {
		return identity.User{}, userNotFound(id)
	}
	return u.Clone(), nil
}

// userBy returns the user index holds under key.
func (d *data) userBy(index map[string]string, key, what string) (identity.User, error) {
	if key != "" {
		if u := d.users[index[key]]; u != nil {
			return u.Clone(), nil
		}
	}
	return identity.User{}, fmt.Errorf("memory: user with this %s: %w", what, identity.ErrNotFound)
}

// userByEmail returns the user holding the email key: the active one, else
// the one updated last, ties broken by the smaller ID.
func (d *data) userByEmail(key string) (identity.User, error) {
	var best *identity.User
	for _, id := range d.byEmail[key] {
		u := d.users[id]
		if best == nil || better(u, best) {
			best = u
		}
	}
	if best == nil {
		return identity.User{}, fmt.Errorf("memory: user with this email: %w", identity.ErrNotFound)
	}
	return best.Clone(), nil
}

// better reports whether UserByEmail prefers a to b.
func better(a, b *identity.User) bool {
	switch {
	case a.Active != b.Active:
		return a.Active
	case !a.Updated.Equal(b.Updated):
		return a.Updated.After(b.Updated)
	}
	return a.ID < b.ID
}

// usersBy returns the users index holds under key, ordered by ID.
func (d *data) usersBy(index multiIndex, key string) []identity.User {
	if key == "" {
		return nil
	}
	ids := slices.Sorted(slices.Values(index[key]))
	out := make([]identity.User, len(ids))
	for i, id := range ids {
		out[i] = d.users[id].Clone()
	}
	return out
}

// userByExternalID returns the user with the smallest ID of those with the
// external ID.
func (d *data) userByExternalID(key string) (identity.User, error) {
	var first string
	for _, id := range d.byUserExt[key] {
		if first == "" || id < first {
			first = id
		}
	}
	if first == "" {
		return identity.User{}, fmt.Errorf("memory: user with this externalID: %w", identity.ErrNotFound)
	}
	return d.users[first].Clone(), nil
}

func (d *data) userByLink(source, subject string) (identity.User, error) {
	if lk := d.links[linkKey{source, subject}]; lk != nil {
		if u := d.users[lk.UserID]; u != nil {
			return u.Clone(), nil
		}
	}
	return identity.User{}, fmt.Errorf("memory: user linked to %q: %w", source, identity.ErrNotFound)
}

func (d *data) updateUser(l *undoLog, id string, fn func(*identity.User) error) (identity.User, error) {
	old := d.users[id]
	if old == nil {
		return identity.User{}, userNotFound(id)
	}
	u := old.Clone()
	if err := fn(&u); err != nil {
		return identity.User{}, err
	}
	u.ID, u.Created, u.Version = old.ID, old.Created, old.Version+1
	k := keysOf(&u)
	if err := d.checkUser(k, u.Active, id); err != nil {
		return identity.User{}, err
	}
	// fn may have kept u.Attributes; store a map nobody else holds.
	u = u.Clone()
	d.indexUser(l, keysOf(old), k, id)
	put(l, d.users, id, &u)
	return u.Clone(), nil
}

func (d *data) deleteUser(l *undoLog, id string) error {
	u := d.users[id]
	if u == nil {
		return userNotFound(id)
	}
	for source, subject := range d.userLinks[id] {
		del(l, d.links, linkKey{source, subject})
	}
	del(l, d.userLinks, id)
	for gid := range d.memberOf[id] {
		delIn(l, d.members, gid, id)
	}
	del(l, d.memberOf, id)
	for hash := range d.userInvites[id] {
		del(l, d.invites, hash)
	}
	del(l, d.userInvites, id)
	d.indexUser(l, keysOf(u), userKeys{}, id)
	del(l, d.users, id)
	// The index is not part of the undo log: undoing the delete puts the ID
	// back, whether or not compaction removed it.
	l.add(func() { d.userIDs.ensure(id) })
	d.userIDs.compact(len(d.users), func(id string) bool { return d.users[id] != nil })
	return nil
}

func (d *data) createLink(l *undoLog, lk identity.Link) error {
	if d.users[lk.UserID] == nil {
		return userNotFound(lk.UserID)
	}
	key := linkKey{lk.Source, lk.Subject}
	if d.links[key] != nil {
		return &identity.ConflictError{Resource: "link", Field: "subject"}
	}
	if _, ok := d.userLinks[lk.UserID][lk.Source]; ok {
		return &identity.ConflictError{Resource: "link", Field: "source"}
	}
	put(l, d.links, key, &lk)
	putIn(l, d.userLinks, lk.UserID, lk.Source, lk.Subject)
	return nil
}

func (d *data) userLinksOf(userID string) []identity.Link {
	m := d.userLinks[userID]
	out := make([]identity.Link, 0, len(m))
	for source, subject := range m {
		out = append(out, *d.links[linkKey{source, subject}])
	}
	slices.SortFunc(out, func(a, b identity.Link) int { return strings.Compare(a.Source, b.Source) })
	return out
}

func (d *data) deleteLink(l *undoLog, source, subject string) error {
	key := linkKey{source, subject}
	lk := d.links[key]
	if lk == nil {
		return fmt.Errorf("memory: link from %q: %w", source, identity.ErrNotFound)
	}
	del(l, d.links, key)
	delIn(l, d.userLinks, lk.UserID, source)
	return nil
}

// groupKeys are the indexed values of a group; the name is unique, the
// externalID is not.
type groupKeys struct{ name, externalID string }

func groupKeysOf(g *identity.Group) groupKeys {
	return groupKeys{name: groups.Key(g.Name), externalID: g.ExternalID}
}

func (d *data) checkGroup(k groupKeys, id string) error {
	if taken(d.byGroupName, k.name, id) {
		return groupConflict("name")
	}
	return nil
}

func (d *data) indexGroup(l *undoLog, old, new groupKeys, id string) {
	reindex(l, d.byGroupName, old.name, new.name, id)
	d.byGroupExt.move(l, old.externalID, new.externalID, id)
}

func (d *data) createGroup(l *undoLog, g identity.Group) (identity.Group, error) {
	if g.ID == "" {
		g.ID = identity.NewID()
	} else if d.groups[g.ID] != nil {
		return identity.Group{}, groupConflict("id")
	}
	k := groupKeysOf(&g)
	if err := d.checkGroup(k, g.ID); err != nil {
		return identity.Group{}, err
	}
	g.Version = 1
	put(l, d.groups, g.ID, &g)
	d.groupIDs.ensure(g.ID)
	d.indexGroup(l, groupKeys{}, k, g.ID)
	return g, nil
}

func (d *data) group(id string) (identity.Group, error) {
	g := d.groups[id]
	if g == nil {
		return identity.Group{}, groupNotFound(id)
	}
	return *g, nil
}

func (d *data) groupBy(index map[string]string, key, what string) (identity.Group, error) {
	if key != "" {
		if g := d.groups[index[key]]; g != nil {
			return *g, nil
		}
	}
	return identity.Group{}, fmt.Errorf("memory: group with this %s: %w", what, identity.ErrNotFound)
}

// groupsBy returns the groups index holds under key, ordered by ID.
func (d *data) groupsBy(index multiIndex, key string) []identity.Group {
	if key == "" {
		return nil
	}
	ids := slices.Sorted(slices.Values(index[key]))
	out := make([]identity.Group, len(ids))
	for i, id := range ids {
		out[i] = *d.groups[id]
	}
	return out
}

// groupByExternalID returns the group with the smallest ID of those with
// the external ID.
func (d *data) groupByExternalID(key string) (identity.Group, error) {
	var first string
	for _, id := range d.byGroupExt[key] {
		if first == "" || id < first {
			first = id
		}
	}
	if first == "" {
		return identity.Group{}, fmt.Errorf("memory: group with this externalID: %w", identity.ErrNotFound)
	}
	return *d.groups[first], nil
}

func (d *data) updateGroup(l *undoLog, id string, fn func(*identity.Group) error) (identity.Group, error) {
	old := d.groups[id]
	if old == nil {
		return identity.Group{}, groupNotFound(id)
	}
	g := *old
	if err := fn(&g); err != nil {
		return identity.Group{}, err
	}
	g.ID, g.Created, g.Version = old.ID, old.Created, old.Version+1
	k := groupKeysOf(&g)
	if err := d.checkGroup(k, id); err != nil {
		return identity.Group{}, err
	}
	d.indexGroup(l, groupKeysOf(old), k, id)
	put(l, d.groups, id, &g)
	return g, nil
}

func (d *data) deleteGroup(l *undoLog, id string) error {
	g := d.groups[id]
	if g == nil {
		return groupNotFound(id)
	}
	for uid := range d.members[id] {
		delIn(l, d.memberOf, uid, id)
	}
	del(l, d.members, id)
	d.indexGroup(l, groupKeysOf(g), groupKeys{}, id)
	del(l, d.groups, id)
	l.add(func() { d.groupIDs.ensure(id) })
	d.groupIDs.compact(len(d.groups), func(id string) bool { return d.groups[id] != nil })
	return nil
}

func (d *data) addMember(l *undoLog, groupID, userID string) (bool, error) {
	if d.groups[groupID] == nil {
		return false, groupNotFound(groupID)
	}
	if d.users[userID] == nil {
		return false, userNotFound(userID)
	}
	if _, ok := d.members[groupID][userID]; ok {
		return false, nil
	}
	putIn(l, d.members, groupID, userID, struct{}{})
	putIn(l, d.memberOf, userID, groupID, struct{}{})
	return true, nil
}

// addMembers adds the users to the group, all or none: it finds every user
// before it adds one.
func (d *data) addMembers(l *undoLog, groupID string, userIDs []string) ([]string, error) {
	if d.groups[groupID] == nil {
		return nil, groupNotFound(groupID)
	}
	for _, id := range userIDs {
		if d.users[id] == nil {
			return nil, userNotFound(id)
		}
	}
	var added []string
	for _, id := range userIDs {
		// An ID listed twice is a member by its second time.
		if _, ok := d.members[groupID][id]; ok {
			continue
		}
		putIn(l, d.members, groupID, id, struct{}{})
		putIn(l, d.memberOf, id, groupID, struct{}{})
		added = append(added, id)
	}
	return added, nil
}

func (d *data) removeMember(l *undoLog, groupID, userID string) bool {
	if _, ok := d.members[groupID][userID]; !ok {
		return false
	}
	delIn(l, d.members, groupID, userID)
	delIn(l, d.memberOf, userID, groupID)
	return true
}

func (d *data) userGroups(userID string) []identity.Group {
	m := d.memberOf[userID]
	out := make([]identity.Group, 0, len(m))
	for gid := range m {
		out = append(out, *d.groups[gid])
	}
	slices.SortFunc(out, func(a, b identity.Group) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func cloneInvitation(inv identity.Invitation) identity.Invitation {
	inv.Hash = slices.Clone(inv.Hash)
	return inv
}

func (d *data) createInvitation(l *undoLog, inv identity.Invitation) error {
	if d.users[inv.UserID] == nil {
		return userNotFound(inv.UserID)
	}
	key := string(inv.Hash)
	if d.invites[key] != nil {
		return &identity.ConflictError{Resource: "invitation", Field: "hash"}
	}
	inv = cloneInvitation(inv)
	put(l, d.invites, key, &inv)
	putIn(l, d.userInvites, inv.UserID, key, struct{}{})
	return nil
}

func (d *data) takeInvitation(l *undoLog, hash []byte) (identity.Invitation, error) {
	key := string(hash)
	inv := d.invites[key]
	if inv == nil {
		return identity.Invitation{}, fmt.Errorf("memory: invitation: %w", identity.ErrNotFound)
	}
	del(l, d.invites, key)
	delIn(l, d.userInvites, inv.UserID, key)
	return cloneInvitation(*inv), nil
}

func (d *data) deleteInvitations(l *undoLog, userID string) {
	for key := range d.userInvites[userID] {
		del(l, d.invites, key)
	}
	del(l, d.userInvites, userID)
}

func cloneEvent(e identity.Event) identity.Event {
	e.Fields = slices.Clone(e.Fields)
	return e
}

// appendEvents numbers events from the tenant's counter. Undoing it restores
// the counter too: a transaction holds the write lock, so no reader can have
// seen the numbers it takes back, and the log has no holes.
func (d *data) appendEvents(l *undoLog, events []identity.Event) {
	if len(events) == 0 {
		return
	}
	n, seq := len(d.events), d.seq
	l.add(func() {
		clear(d.events[n:])
		d.events, d.seq = d.events[:n], seq
	})
	for i := range events {
		d.seq++
		events[i].Seq = d.seq
		d.events = append(d.events, cloneEvent(events[i]))
	}
}

func (d *data) eventsAfter(after int64, limit int) []identity.Event {
	if limit <= 0 {
		limit = identity.DefaultLimit
	}
	i, _ := slices.BinarySearchFunc(d.events, after, func(e identity.Event, seq int64) int {
		if e.Seq <= seq {
			return -1
		}
		return 1
	})
	page := d.events[i : i+min(limit, len(d.events)-i)]
	out := make([]identity.Event, len(page))
	for j, e := range page {
		out[j] = cloneEvent(e)
	}
	return out
}
