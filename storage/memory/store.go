package memory

import (
	"context"
	"errors"
	"sync"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

var (
	_ identity.Store        = (*Store)(nil)
	_ identity.EventLog     = (*Store)(nil)
	_ identity.UserSearcher = (*Store)(nil)
	_ identity.Store        = (*txStore)(nil)
	_ identity.EventLog     = (*txStore)(nil)
	_ identity.UserSearcher = (*txStore)(nil)
)

// Store is the data of one tenant of a DB, kept in memory. It implements
// identity.Store and identity.EventLog and is safe for concurrent use: reads
// share the tenant's lock, writes and transactions hold it alone. Every value
// it returns is a copy.
//
// Emails, userNames, externalIDs, group names and links are indexed, so a
// lookup by any of them is a map hit, never a scan; memberships are kept both
// ways; ListUsers and ListGroups in ID order find their page in a sorted index
// of IDs.
type Store struct {
	mu sync.RWMutex
	d  *data
}

func newStore() *Store { return &Store{d: newData()} }

// read runs f under the read lock, unless ctx is done. Under the context of
// a running Tx of s, which holds the lock, f runs in that transaction.
func read[T any](ctx context.Context, s *Store, f func(d *data) (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	if s.inTx(ctx) != nil {
		return f(s.d)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return f(s.d)
}

// write runs f under the write lock, unless ctx is done; f records how to
// undo its change in l, which is nil outside a transaction. Under the
// context of a running Tx of s, f runs in that transaction.
func write[T any](ctx context.Context, s *Store, f func(d *data, l *undoLog) (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	if t := s.inTx(ctx); t != nil {
		return f(s.d, t.log)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(s.d, nil)
}

// txKey is the context key of a running transaction of a Store: its value
// is the *txStore.
type txKey struct{}

// inTx returns the running transaction of s that ctx carries, or nil.
func (s *Store) inTx(ctx context.Context) *txStore {
	t, _ := ctx.Value(txKey{}).(*txStore)
	if t == nil || t.owner != s || t.done {
		return nil
	}
	return t
}

// CreateUser implements identity.UserStore.
func (s *Store) CreateUser(ctx context.Context, u identity.User) (identity.User, error) {
	return write(ctx, s, func(d *data, l *undoLog) (identity.User, error) { return d.createUser(l, u) })
}

// CreateUsers implements identity.UserStore.
func (s *Store) CreateUsers(ctx context.Context, users []identity.User) ([]identity.User, error) {
	return write(ctx, s, func(d *data, l *undoLog) ([]identity.User, error) { return d.createUsers(l, users) })
}

// User implements identity.UserStore.
func (s *Store) User(ctx context.Context, id string) (identity.User, error) {
	return read(ctx, s, func(d *data) (identity.User, error) { return d.user(id) })
}

// UserByEmail implements identity.UserStore.
func (s *Store) UserByEmail(ctx context.Context, email string) (identity.User, error) {
	return s.userByIndex(ctx, byEmail, identity.NormalizeEmail(email))
}

// UserByUserName implements identity.UserStore.
func (s *Store) UserByUserName(ctx context.Context, name string) (identity.User, error) {
	return s.userByIndex(ctx, byUserName, identity.NormalizeUserName(name))
}

// UserByExternalID implements identity.UserStore.
func (s *Store) UserByExternalID(ctx context.Context, externalID string) (identity.User, error) {
	return s.userByIndex(ctx, byExternalID, externalID)
}

// UsersByEmail implements identity.UserStore.
func (s *Store) UsersByEmail(ctx context.Context, email string) ([]identity.User, error) {
	return read(ctx, s, func(d *data) ([]identity.User, error) {
		return d.usersBy(d.byEmail, identity.NormalizeEmail(email)), nil
	})
}

// UsersByExternalID implements identity.UserStore.
func (s *Store) UsersByExternalID(ctx context.Context, externalID string) ([]identity.User, error) {
	return read(ctx, s, func(d *data) ([]identity.User, error) { return d.usersBy(d.byUserExt, externalID), nil })
}

// userIndex names one of the unique indexes of users.
type userIndex int

const (
	byEmail userIndex = iota
	byUserName
	byExternalID
)

// userByIndex is the hot path of the lookups: one read lock, two map hits and
// a copy, with no allocation on a hit.
func (s *Store) userByIndex(ctx context.Context, index userIndex, key string) (identity.User, error) {
	if err := ctx.Err(); err != nil {
		return identity.User{}, err
	}
	if s.inTx(ctx) == nil {
		s.mu.RLock()
		defer s.mu.RUnlock()
	}
	switch index {
	case byEmail:
		return s.d.userByEmail(key)
	case byUserName:
		return s.d.userBy(s.d.byUserName, key, "userName")
	}
	return s.d.userByExternalID(key)
}

// UserByLink implements identity.UserStore.
func (s *Store) UserByLink(ctx context.Context, source, subject string) (identity.User, error) {
	return read(ctx, s, func(d *data) (identity.User, error) { return d.userByLink(source, subject) })
}

// UpdateUser implements identity.UserStore. fn runs under the tenant's write
// lock, so it must not call the Store.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*identity.User) error) (identity.User, error) {
	return write(ctx, s, func(d *data, l *undoLog) (identity.User, error) { return d.updateUser(l, id, fn) })
}

// DeleteUser implements identity.UserStore.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	_, err := write(ctx, s, func(d *data, l *undoLog) (struct{}, error) { return struct{}{}, d.deleteUser(l, id) })
	return err
}

// UsersAfter implements identity.UserStore: ListUsers in ID order, without
// a total.
func (s *Store) UsersAfter(ctx context.Context, groupID, after string, limit int) ([]identity.User, error) {
	return read(ctx, s, func(d *data) ([]identity.User, error) { return d.usersAfter(groupID, after, limit) })
}

// ListUsers implements identity.UserSearcher. In ID order without a filter it
// costs O(log n + Limit + Offset); a filter costs one pass over the tenant's
// users, another SortBy a sort of the users that match. After is allowed only
// with the ascending ID order: elsewhere it returns an error matching
// identity.ErrInvalid, as does an unknown SortBy.
func (s *Store) ListUsers(ctx context.Context, q identity.UserQuery) (identity.UserPage, error) {
	return read(ctx, s, func(d *data) (identity.UserPage, error) { return d.listUsers(q) })
}

// CreateLink implements identity.UserStore. When the user has a link from
// the source already, the *identity.ConflictError's Field is "source".
func (s *Store) CreateLink(ctx context.Context, l identity.Link) error {
	_, err := write(ctx, s, func(d *data, log *undoLog) (struct{}, error) { return struct{}{}, d.createLink(log, l) })
	return err
}

// Links implements identity.UserStore.
func (s *Store) Links(ctx context.Context, userID string) ([]identity.Link, error) {
	return read(ctx, s, func(d *data) ([]identity.Link, error) { return d.userLinksOf(userID), nil })
}

// DeleteLink implements identity.UserStore.
func (s *Store) DeleteLink(ctx context.Context, source, subject string) error {
	_, err := write(ctx, s, func(d *data, l *undoLog) (struct{}, error) { return struct{}{}, d.deleteLink(l, source, subject) })
	return err
}

// CreateGroup implements identity.GroupStore.
func (s *Store) CreateGroup(ctx context.Context, g identity.Group) (identity.Group, error) {
	return write(ctx, s, func(d *data, l *undoLog) (identity.Group, error) { return d.createGroup(l, g) })
}

// Group implements identity.GroupStore.
func (s *Store) Group(ctx context.Context, id string) (identity.Group, error) {
	return read(ctx, s, func(d *data) (identity.Group, error) { return d.group(id) })
}

// GroupByName implements identity.GroupStore.
func (s *Store) GroupByName(ctx context.Context, name string) (identity.Group, error) {
	return read(ctx, s, func(d *data) (identity.Group, error) { return d.groupBy(d.byGroupName, groups.Key(name), "name") })
}

// GroupByExternalID implements identity.GroupStore.
func (s *Store) GroupByExternalID(ctx context.Context, externalID string) (identity.Group, error) {
	return read(ctx, s, func(d *data) (identity.Group, error) { return d.groupByExternalID(externalID) })
}

// GroupsByExternalID implements identity.GroupStore.
func (s *Store) GroupsByExternalID(ctx context.Context, externalID string) ([]identity.Group, error) {
	return read(ctx, s, func(d *data) ([]identity.Group, error) { return d.groupsBy(d.byGroupExt, externalID), nil })
}

// UpdateGroup implements identity.GroupStore. fn runs under the tenant's
// write lock, so it must not call the Store.
func (s *Store) UpdateGroup(ctx context.Context, id string, fn func(*identity.Group) error) (identity.Group, error) {
	return write(ctx, s, func(d *data, l *undoLog) (identity.Group, error) { return d.updateGroup(l, id, fn) })
}

// DeleteGroup implements identity.GroupStore.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	_, err := write(ctx, s, func(d *data, l *undoLog) (struct{}, error) { return struct{}{}, d.deleteGroup(l, id) })
	return err
}

// ListGroups implements identity.GroupStore.
func (s *Store) ListGroups(ctx context.Context, q identity.GroupQuery) (identity.GroupPage, error) {
	return read(ctx, s, func(d *data) (identity.GroupPage, error) { return d.listGroups(q), nil })
}

// AddMember implements identity.GroupStore.
func (s *Store) AddMember(ctx context.Context, groupID, userID string) (bool, error) {
	return write(ctx, s, func(d *data, l *undoLog) (bool, error) { return d.addMember(l, groupID, userID) })
}

// AddMembers implements identity.GroupStore. It checks that the group and
// every user exist before it changes anything.
func (s *Store) AddMembers(ctx context.Context, groupID string, userIDs []string) ([]string, error) {
	return write(ctx, s, func(d *data, l *undoLog) ([]string, error) { return d.addMembers(l, groupID, userIDs) })
}

// RemoveMember implements identity.GroupStore.
func (s *Store) RemoveMember(ctx context.Context, groupID, userID string) (bool, error) {
	return write(ctx, s, func(d *data, l *undoLog) (bool, error) { return d.removeMember(l, groupID, userID), nil })
}

// UserGroups implements identity.GroupStore.
func (s *Store) UserGroups(ctx context.Context, userID string) ([]identity.Group, error) {
	return read(ctx, s, func(d *data) ([]identity.Group, error) { return d.userGroups(userID), nil })
}

// CreateInvitation implements identity.InvitationStore. An invitation with
// the hash of another is refused with a *identity.ConflictError whose
// Resource is "invitation".
func (s *Store) CreateInvitation(ctx context.Context, inv identity.Invitation) error {
	_, err := write(ctx, s, func(d *data, l *undoLog) (struct{}, error) { return struct{}{}, d.createInvitation(l, inv) })
	return err
}

// TakeInvitation implements identity.InvitationStore.
func (s *Store) TakeInvitation(ctx context.Context, hash []byte) (identity.Invitation, error) {
	return write(ctx, s, func(d *data, l *undoLog) (identity.Invitation, error) { return d.takeInvitation(l, hash) })
}

// DeleteInvitations implements identity.InvitationStore.
func (s *Store) DeleteInvitations(ctx context.Context, userID string) error {
	_, err := write(ctx, s, func(d *data, l *undoLog) (struct{}, error) {
		d.deleteInvitations(l, userID)
		return struct{}{}, nil
	})
	return err
}

// AppendEvents implements identity.EventLog. Seq numbers have no holes: the
// numbers of events appended in a rolled-back transaction are given again.
func (s *Store) AppendEvents(ctx context.Context, events []identity.Event) error {
	_, err := write(ctx, s, func(d *data, l *undoLog) (struct{}, error) {
		d.appendEvents(l, events)
		return struct{}{}, nil
	})
	return err
}

// Events implements identity.EventLog. A limit of 0 or less means
// identity.DefaultLimit. The log lives as long as the DB: nothing trims it.
func (s *Store) Events(ctx context.Context, after int64, limit int) ([]identity.Event, error) {
	return read(ctx, s, func(d *data) ([]identity.Event, error) { return d.eventsAfter(after, limit), nil })
}

// Tx implements identity.Store. It holds the tenant's write lock while fn
// runs, so transactions of a tenant run one at a time. fn gets a context
// that carries the transaction: s called with it (or a context made from
// it) reads and writes in the transaction instead of waiting for the lock,
// and s.Tx called with it runs as tx.Tx. fn is called once. tx records
// how to undo each change; if fn returns an error or panics, Tx undoes them
// newest first, which costs as much as the changes did, never a copy of the
// tenant. A nested tx.Tx whose fn returns an error undoes only its own
// changes (a savepoint) before returning the error. tx must not be used
// once Tx returns, nor by several goroutines at once.
func (s *Store) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t := s.inTx(ctx); t != nil {
		return t.Tx(ctx, fn)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &txStore{owner: s, d: s.d, log: &undoLog{}}
	ctx = context.WithValue(ctx, txKey{}, tx)
	committed := false
	defer func() {
		if !committed {
			tx.log.rollback(0)
		}
		tx.log, tx.done = nil, true
	}()
	if err := fn(ctx, tx); err != nil {
		return err
	}
	committed = true
	return nil
}

// errTxDone is returned by a transaction's Store used after Tx returned.
var errTxDone = errors.New("memory: transaction has ended")

// txStore is the view of a tenant that a transaction's fn receives: the same
// operations as Store, run without locking (Tx holds the lock) and recorded
// in the undo log.
type txStore struct {
	owner *Store
	d     *data
	log   *undoLog
	done  bool
}

func (t *txStore) check(ctx context.Context) error {
	if t.done {
		return errTxDone
	}
	return ctx.Err()
}

func (t *txStore) CreateUser(ctx context.Context, u identity.User) (identity.User, error) {
	if err := t.check(ctx); err != nil {
		return identity.User{}, err
	}
	return t.d.createUser(t.log, u)
}

func (t *txStore) CreateUsers(ctx context.Context, users []identity.User) ([]identity.User, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.d.createUsers(t.log, users)
}

func (t *txStore) User(ctx context.Context, id string) (identity.User, error) {
	if err := t.check(ctx); err != nil {
		return identity.User{}, err
	}
	return t.d.user(id)
}

func (t *txStore) UserByEmail(ctx context.Context, email string) (identity.User, error) {
	if err := t.check(ctx); err != nil {
		return identity.User{}, err
	}
	return t.d.userByEmail(identity.NormalizeEmail(email))
}

func (t *txStore) UsersByEmail(ctx context.Context, email string) ([]identity.User, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.d.usersBy(t.d.byEmail, identity.NormalizeEmail(email)), nil
}

func (t *txStore) UsersByExternalID(ctx context.Context, externalID string) ([]identity.User, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.d.usersBy(t.d.byUserExt, externalID), nil
}

func (t *txStore) UserByUserName(ctx context.Context, name string) (identity.User, error) {
	if err := t.check(ctx); err != nil {
		return identity.User{}, err
	}
	return t.d.userBy(t.d.byUserName, identity.NormalizeUserName(name), "userName")
}

func (t *txStore) UserByExternalID(ctx context.Context, externalID string) (identity.User, error) {
	if err := t.check(ctx); err != nil {
		return identity.User{}, err
	}
	return t.d.userByExternalID(externalID)
}

func (t *txStore) UserByLink(ctx context.Context, source, subject string) (identity.User, error) {
	if err := t.check(ctx); err != nil {
		return identity.User{}, err
	}
	return t.d.userByLink(source, subject)
}

func (t *txStore) UpdateUser(ctx context.Context, id string, fn func(*identity.User) error) (identity.User, error) {
	if err := t.check(ctx); err != nil {
		return identity.User{}, err
	}
	return t.d.updateUser(t.log, id, fn)
}

func (t *txStore) DeleteUser(ctx context.Context, id string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	return t.d.deleteUser(t.log, id)
}

func (t *txStore) UsersAfter(ctx context.Context, groupID, after string, limit int) ([]identity.User, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.d.usersAfter(groupID, after, limit)
}

func (t *txStore) ListUsers(ctx context.Context, q identity.UserQuery) (identity.UserPage, error) {
	if err := t.check(ctx); err != nil {
		return identity.UserPage{}, err
	}
	return t.d.listUsers(q)
}

func (t *txStore) CreateLink(ctx context.Context, l identity.Link) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	return t.d.createLink(t.log, l)
}

func (t *txStore) Links(ctx context.Context, userID string) ([]identity.Link, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.d.userLinksOf(userID), nil
}

func (t *txStore) DeleteLink(ctx context.Context, source, subject string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	return t.d.deleteLink(t.log, source, subject)
}

func (t *txStore) CreateGroup(ctx context.Context, g identity.Group) (identity.Group, error) {
	if err := t.check(ctx); err != nil {
		return identity.Group{}, err
	}
	return t.d.createGroup(t.log, g)
}

func (t *txStore) Group(ctx context.Context, id string) (identity.Group, error) {
	if err := t.check(ctx); err != nil {
		return identity.Group{}, err
	}
	return t.d.group(id)
}

func (t *txStore) GroupByName(ctx context.Context, name string) (identity.Group, error) {
	if err := t.check(ctx); err != nil {
		return identity.Group{}, err
	}
	return t.d.groupBy(t.d.byGroupName, groups.Key(name), "name")
}

func (t *txStore) GroupByExternalID(ctx context.Context, externalID string) (identity.Group, error) {
	if err := t.check(ctx); err != nil {
		return identity.Group{}, err
	}
	return t.d.groupByExternalID(externalID)
}

func (t *txStore) GroupsByExternalID(ctx context.Context, externalID string) ([]identity.Group, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.d.groupsBy(t.d.byGroupExt, externalID), nil
}

func (t *txStore) UpdateGroup(ctx context.Context, id string, fn func(*identity.Group) error) (identity.Group, error) {
	if err := t.check(ctx); err != nil {
		return identity.Group{}, err
	}
	return t.d.updateGroup(t.log, id, fn)
}

func (t *txStore) DeleteGroup(ctx context.Context, id string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	return t.d.deleteGroup(t.log, id)
}

func (t *txStore) ListGroups(ctx context.Context, q identity.GroupQuery) (identity.GroupPage, error) {
	if err := t.check(ctx); err != nil {
		return identity.GroupPage{}, err
	}
	return t.d.listGroups(q), nil
}

func (t *txStore) AddMember(ctx context.Context, groupID, userID string) (bool, error) {
	if err := t.check(ctx); err != nil {
		return false, err
	}
	return t.d.addMember(t.log, groupID, userID)
}

func (t *txStore) AddMembers(ctx context.Context, groupID string, userIDs []string) ([]string, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.d.addMembers(t.log, groupID, userIDs)
}

func (t *txStore) RemoveMember(ctx context.Context, groupID, userID string) (bool, error) {
	if err := t.check(ctx); err != nil {
		return false, err
	}
	return t.d.removeMember(t.log, groupID, userID), nil
}

func (t *txStore) UserGroups(ctx context.Context, userID string) ([]identity.Group, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.d.userGroups(userID), nil
}

func (t *txStore) CreateInvitation(ctx context.Context, inv identity.Invitation) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	return t.d.createInvitation(t.log, inv)
}

func (t *txStore) TakeInvitation(ctx context.Context, hash []byte) (identity.Invitation, error) {
	if err := t.check(ctx); err != nil {
		return identity.Invitation{}, err
	}
	return t.d.takeInvitation(t.log, hash)
}

func (t *txStore) DeleteInvitations(ctx context.Context, userID string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	t.d.deleteInvitations(t.log, userID)
	return nil
}

func (t *txStore) AppendEvents(ctx context.Context, events []identity.Event) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	t.d.appendEvents(t.log, events)
	return nil
}

func (t *txStore) Events(ctx context.Context, after int64, limit int) ([]identity.Event, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.d.eventsAfter(after, limit), nil
}

// Tx runs fn in the enclosing transaction, with a savepoint: if fn returns an
// error, its own changes are undone and the error returned.
func (t *txStore) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	mark := t.log.mark()
	if err := fn(ctx, t); err != nil {
		t.log.rollback(mark)
		return err
	}
	return nil
}
