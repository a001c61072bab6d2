package identity

import (
	"context"
	"time"

	"github.com/rollcall/rollcall/groups"
)

// Store is the directory data of one tenant. A host opens one per tenant (see
// storage/memory and storage/sqlstore, or implement it and run
// storage/storagetest against it); nothing read or written through it belongs to
// another tenant. A store keeps the times it is given (Created, Updated,
// Expires) to the microsecond and never stamps them itself: the core does,
// with its Clock.
type Store interface {
	UserStore
	GroupStore
	InvitationStore

	// Tx runs fn in a transaction: the changes fn makes through tx are stored
	// together when fn returns nil, and none of them when it returns an error,
	// which Tx returns. fn may be called more than once if the store retries
	// after a serialization failure, so it must do nothing but read and write
	// through tx. Calling tx.Tx runs in the same transaction. The events a
	// store's EventLog records through tx are part of the transaction.
	//
	// A write that tx refuses (ErrNotFound, a *ConflictError, an
	// *ItemError, or the error of an UpdateUser or UpdateGroup fn) changes
	// nothing and leaves the transaction usable: fn may go on reading and
	// writing, and what it writes afterwards is committed when it returns
	// nil. The core relies on this to refuse one row of an import and
	// carry on. A store on a database that aborts a transaction on a failed
	// statement (PostgreSQL) runs each write in a savepoint;
	// storagetest's TxRefusedWrite cases check every write method.
	Tx(ctx context.Context, fn func(ctx context.Context, tx Store) error) error
}

// UserStore keeps users and their links.
type UserStore interface {
	// CreateUser stores a new user and returns it as stored: with an ID (NewID
	// if u.ID is empty) and Version 1. It returns a *ConflictError if the ID
	// or the userName (under NormalizeUserName) is taken, or if u is active
	// and another active user holds its email (under NormalizeEmail): an
	// email is unique among active users only. The externalID is not unique
	// (RFC 7643 §3.1: the client keeps it unique, or not).
	CreateUser(ctx context.Context, u User) (User, error)
	// User returns the user with the id, or ErrNotFound.
	User(ctx context.Context, id string) (User, error)
	// UserByEmail returns the user whose email equals email under
	// NormalizeEmail, or ErrNotFound. Of several such users (one active at
	// most, see CreateUser), it returns the active one, else the one updated
	// last, ties broken by the smaller ID: so a deactivated user is found
	// when no active user holds the address.
	UserByEmail(ctx context.Context, email string) (User, error)
	// UsersByEmail returns every user whose email equals email under
	// NormalizeEmail, active or not, ordered by ID; none for an empty email.
	UsersByEmail(ctx context.Context, email string) ([]User, error)
	// UserByUserName returns the user whose userName equals name under
	// NormalizeUserName, or ErrNotFound.
	UserByUserName(ctx context.Context, name string) (User, error)
	// UserByExternalID returns the user with the smallest ID of those with
	// the external ID (compared exactly), or ErrNotFound.
	//
	// Deprecated: an externalID is not unique; use UsersByExternalID.
	UserByExternalID(ctx context.Context, externalID string) (User, error)
	// UsersByExternalID returns every user with the external ID (compared
	// exactly), ordered by ID; none for an empty externalID.
	UsersByExternalID(ctx context.Context, externalID string) ([]User, error)
	// UserByLink returns the user linked to (source, subject), or ErrNotFound.
	UserByLink(ctx context.Context, source, subject string) (User, error)
	// UpdateUser changes a user atomically: it reads the user, calls fn with a
	// copy and stores what fn leaves, with Version one higher. fn must not use
	// the store. If fn returns an error nothing is stored and UpdateUser returns
	// that error. Changes fn makes to ID, Created or Version are ignored. It
	// returns ErrNotFound, or a *ConflictError if the new userName is taken,
	// or if the user is active after the change and another active user
	// holds its email: restoring a user whose address an active user now
	// holds is a conflict too.
	UpdateUser(ctx context.Context, id string, fn func(*User) error) (User, error)
	// DeleteUser removes the user with its links, memberships and
	// invitations, or returns ErrNotFound.
	DeleteUser(ctx context.Context, id string) error
	// UsersAfter returns up to limit users (limit <= 0 means DefaultLimit)
	// whose ID is greater than after, in ID order: the plain listing, paged
	// by key. With groupID set, only the members of that group; a groupID
	// that names no group matches nobody (and is no error). The core answers
	// a UserQuery from it for a store that is not a UserSearcher (see
	// ListUsers).
	UsersAfter(ctx context.Context, groupID, after string, limit int) ([]User, error)

	// CreateLink links (l.Source, l.Subject) to l.UserID. It returns
	// ErrNotFound if the user does not exist, and a *ConflictError (Resource
	// "link") if the pair is linked already or the user has a link from
	// l.Source already.
	CreateLink(ctx context.Context, l Link) error
	// Links returns the links of a user, ordered by source; none if the user
	// has none or does not exist.
	Links(ctx context.Context, userID string) ([]Link, error)
	// DeleteLink removes the link (source, subject), or returns ErrNotFound.
	DeleteLink(ctx context.Context, source, subject string) error
}

// GroupStore keeps groups and memberships.
type GroupStore interface {
	// CreateGroup stores a new group and returns it as stored, with an ID
	// (NewID if g.ID is empty) and Version 1. It returns a *ConflictError if
	// the ID or name (under groups.Key) is taken. The externalID is not
	// unique (RFC 7643 §3.1: the client keeps it unique, or not).
	CreateGroup(ctx context.Context, g Group) (Group, error)
	// Group returns the group with the id, or ErrNotFound.
	Group(ctx context.Context, id string) (Group, error)
	// GroupByName returns the group whose name equals name under groups.Key,
	// or ErrNotFound.
	GroupByName(ctx context.Context, name string) (Group, error)
	// GroupByExternalID returns the group with the smallest ID of those
	// with the external ID (compared exactly), or ErrNotFound.
	//
	// Deprecated: an externalID is not unique; use GroupsByExternalID.
	GroupByExternalID(ctx context.Context, externalID string) (Group, error)
	// GroupsByExternalID returns every group with the external ID (compared
	// exactly), ordered by ID; none for an empty externalID.
	GroupsByExternalID(ctx context.Context, externalID string) ([]Group, error)
	// UpdateGroup changes a group atomically, as UpdateUser does a user. It
	// returns ErrNotFound, or a *ConflictError if the new name is taken.
	UpdateGroup(ctx context.Context, id string, fn func(*Group) error) (Group, error)
	// DeleteGroup removes the group with its memberships, or returns
	// ErrNotFound.
	DeleteGroup(ctx context.Context, id string) error
	// ListGroups returns one page of the groups that match q, in a stable
	// order.
	ListGroups(ctx context.Context, q GroupQuery) (GroupPage, error)

	// AddMember makes the user a member of the group. It reports whether the
	// membership is new (false if the user was a member already), and returns
	// ErrNotFound if the group or the user does not exist.
	AddMember(ctx context.Context, groupID, userID string) (bool, error)
	// RemoveMember ends a membership. It reports whether there was one.
	RemoveMember(ctx context.Context, groupID, userID string) (bool, error)
	// UserGroups returns the groups the user is a member of, ordered by ID;
	// none for a user that does not exist. The members of a group are listed
	// with UsersAfter, or ListUsers and UserQuery.GroupID.
	UserGroups(ctx context.Context, userID string) ([]Group, error)
}

// BulkUserCreator is an optional ability of a Store (found by type
// assertion): many users created in far fewer writes than one CreateUser
// each. For a store without it the core calls CreateUser for each user and
// keeps the same promise.
type BulkUserCreator interface {
	// CreateUsers stores new users, all or none: CreateUser for many users.
	// It returns them as stored, in the order given. If a user's ID or
	// userName is taken, or its email (the user being active) is held by an
	// active user, stored or before it in the list, it stores nobody and
	// returns the *ConflictError of the first such user in an *ItemError
	// with its index.
	CreateUsers(ctx context.Context, users []User) ([]User, error)
}

// BulkMemberAdder is an optional ability of a Store (found by type
// assertion): many members added in far fewer writes than one AddMember
// each. For a store without it the core calls AddMember for each user and
// keeps the same promise.
type BulkMemberAdder interface {
	// AddMembers makes every listed user a member of the group: AddMember
	// for many users. It returns the IDs whose membership is new, in the
	// order given, an ID listed twice once. It returns ErrNotFound, naming
	// the group or the first listed user that does not exist (the group
	// also for an empty list), and then adds nobody.
	AddMembers(ctx context.Context, groupID string, userIDs []string) (added []string, err error)
}

// UserSearcher is an optional ability of a Store (found by type
// assertion): a whole UserQuery (Search, Match, Active, SortBy, Offset and
// the Total) answered by the store, with its indexes. For a store without it
// the core pages through UsersAfter and filters, sorts and counts in Go,
// with the same answers (storagetest's SearchFallback case compares them)
// at a cost that grows with the users listed: see ListUsers.
type UserSearcher interface {
	// ListUsers returns one page of the users that match q, in the order q
	// asks for. It returns an error matching ErrInvalid for an unknown
	// SortBy, for After with another order than the ascending ID, and for a
	// condition of q.Match that UserCond.Check refuses.
	ListUsers(ctx context.Context, q UserQuery) (UserPage, error)
}

// InvitationStore keeps pending invitations.
type InvitationStore interface {
	// CreateInvitation stores an invitation. It returns ErrNotFound if the
	// user does not exist, and a *ConflictError (Resource "invitation", Field
	// "hash") if the hash is taken.
	CreateInvitation(ctx context.Context, inv Invitation) error
	// TakeInvitation removes and returns the invitation with the hash, so that
	// it is used at most once. It returns ErrNotFound if there is none.
	TakeInvitation(ctx context.Context, hash []byte) (Invitation, error)
	// DeleteInvitations removes every invitation of a user.
	DeleteInvitations(ctx context.Context, userID string) error
}

// EventLog is an optional ability of a Store: a log of the events of its
// tenant, written in the transaction of the changes they record. The core
// appends through the transaction's Store when it implements EventLog.
type EventLog interface {
	// AppendEvents records events and sets each one's Seq to its cursor,
	// greater than any before (there may be gaps).
	AppendEvents(ctx context.Context, events []Event) error
	// Events returns up to limit events with Seq greater than after, in Seq
	// order; limit <= 0 means DefaultLimit. An event appears only once its
	// transaction has committed, and never after an event with a greater Seq
	// has been returned.
	Events(ctx context.Context, after int64, limit int) ([]Event, error)
}

// UserSort names an order for ListUsers. Ties are broken by ID.
type UserSort string

const (
	SortByID          UserSort = ""
	SortByUserName    UserSort = "userName"
	SortByEmail       UserSort = "email"
	SortByDisplayName UserSort = "displayName"
	SortByFamilyName  UserSort = "familyName"
	SortByCreated     UserSort = "created"
	SortByUpdated     UserSort = "updated"
)

// UserQuery selects and pages users. The zero query lists every user by ID.
type UserQuery struct {
	// Active, when set, keeps only active (true) or deactivated (false) users.
	Active *bool
	// GroupID, when set, keeps only the members of the group.
	GroupID string
	// Search, when set, keeps users whose email, userName, given, family or
	// display name contains it, case-insensitively: after strings.ToLower
	// of both sides, literally (no character is a pattern), within one
	// field. See UserQuery.Holds.
	Search string
	// Match, when set, keeps only the users that pass every condition
	// (see UserCond).
	Match []UserCond
	// SortBy orders the result (ID by default), Descending reverses it.
	SortBy     UserSort
	Descending bool
	// After, when set, starts after the user with this ID in ID order (keyset
	// paging; only with SortBy ID ascending, else ErrInvalid; the ID need not
	// exist any more). Offset skips that many matches (after After). Limit
	// caps the page: 0 means DefaultLimit.
	//
	// Strings sort by bytes, empty values first; ties are broken by ID, and
	// Descending reverses the tie-break too. A GroupID that names no group
	// matches nobody.
	After  string
	Offset int
	Limit  int
	// NoTotal lets the store leave UserPage.Total at 0 rather than count
	// every match: for a caller that reads on by After until a short page.
	NoTotal bool
}

// UserPage is one page of a user listing.
type UserPage struct {
	Users []User
	// Total counts every user that matches the query's filters, on every
	// page: After, Offset and Limit do not change it.
	Total int
}

// GroupQuery selects and pages groups, ordered by ID. The zero query lists
// every group.
type GroupQuery struct {
	// Kind, when set, keeps only groups of this kind.
	Kind groups.Kind
	// Source, when set, keeps only groups of this source.
	Source string
	// Search, when set, keeps groups whose name contains it,
	// case-insensitively.
	Search string
	After  string
	Offset int
	// Limit caps the page: 0 means 100.
	Limit int
}

// GroupPage is one page of a group listing.
type GroupPage struct {
	Groups []Group
	Total  int
}

// DefaultLimit is the page size of a query with no Limit.
const DefaultLimit = 100

// Clock tells the time. A nil Clock in a Config means the system clock.
type Clock interface {
	Now() time.Time
}

// SystemClock is the Clock of the system: time.Now.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
