// Package storagetest is the conformance suite that every implementation of
// identity.Store, identity.EventLog and identity.KeyStore runs.
package storagetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// Opener opens one tenant of a backing database. Opening the same tenant
// twice gives two views of the same data.
type Opener func(tenant string) identity.Store

type storeCase struct {
	name string
	run  func(t *testing.T, open Opener)
}

// Run runs the conformance suite of identity.Store, one subtest per case:
// storage/memory and storage/sqlstore run it, and so may any store a host
// writes. newBackend is called once per subtest: it makes a fresh, empty
// backing database, registers its cleanup on t and returns the function that
// opens a tenant of it. The cases run one after another; the concurrency
// cases are meant for -race.
//
// The suite checks the contract written in package identity. Where that
// contract leaves room, it takes these readings, which an implementer should
// know:
//
//   - Times are compared with time.Time.Equal after truncation to
//     microseconds, so a store may keep microseconds (as SQL databases do)
//     and return times in any location.
//   - A nil and an empty Attributes map are the same.
//   - An empty email or externalID is never unique and never found: any
//     number of users may lack one, and UserByEmail("") is ErrNotFound.
//     GroupsByExternalID("") returns no group.
//   - ListUsers sorts strings by their bytes, empty values first. The
//     suite's sorted values are lower-case ASCII letters and digits, so any
//     collation that orders those as ASCII passes, but an SQL store that keeps
//     an empty value as NULL must still sort it first. Ties are broken by ID,
//     and Descending reverses the whole order, the tie-break included.
//   - Search matches its text literally: "a_b" and "0%" are not patterns,
//     so an SQL store that uses LIKE must escape them; it folds case as
//     strings.ToLower does, non-ASCII letters too (UserQuery.Holds is the
//     reference), which SQL's lower and ILIKE do not all do.
//   - A store without identity.UserSearcher is listed by the core, from
//     UsersAfter; SearchFallback checks that the two answer alike.
//   - UserPage.Total and GroupPage.Total count every match of the filters,
//     whatever After, Offset and Limit are.
//   - After may name a user that no longer exists: the page starts after
//     where that ID would be.
//   - A GroupID naming no group matches no user (and is no error).
//   - RemoveMember of a membership that does not exist, Links and UserGroups
//     of a user that does not exist, and DeleteInvitations of a user with none
//     report nothing and return no error.
//   - AddMembers' ErrNotFound names the missing ID: the suite looks for the
//     group's or the user's ID in the error's text.
//   - Tx's fn may run more than once, so the suite's fns reset what they
//     record on each run.
func Run(t *testing.T, newBackend func(t *testing.T) Opener) {
	t.Helper()
	cases := []storeCase{
		{"UserRoundTrip", testUserRoundTrip},
		{"UserCopies", testUserCopies},
		{"UpdateUser", testUpdateUser},
		{"UpdateUserFnError", testUpdateUserFnError},
		{"UserConflicts", testUserConflicts},
		{"UserEmptyUniqueValues", testUserEmptyUniqueValues},
		{"UserLookups", testUserLookups},
		{"ExternalIDNotUnique", testExternalIDNotUnique},
		{"EmailActiveOnly", testEmailActiveOnly},
		{"EmailCanonical", testEmailCanonical},
		{"CreateUsers", testCreateUsers},
		{"CreateUsersStoredConflicts", testCreateUsersStoredConflicts},
		{"CreateUsersListConflicts", testCreateUsersListConflicts},
		{"CreateUsersTx", testCreateUsersTx},
		{"CreateUsersTenants", testCreateUsersTenants},
		{"Links", testLinks},
		{"Invitations", testInvitations},
		{"DeleteUser", testDeleteUser},
		{"GroupRoundTrip", testGroupRoundTrip},
		{"UpdateGroup", testUpdateGroup},
		{"GroupConflicts", testGroupConflicts},
		{"GroupExternalIDNotUnique", testGroupExternalIDNotUnique},
		{"Memberships", testMemberships},
		{"AddMembers", testAddMembers},
		{"AddMembersNotFound", testAddMembersNotFound},
		{"AddMembersTx", testAddMembersTx},
		{"AddMembersLarge", testAddMembersLarge},
		{"AddMembersTenants", testAddMembersTenants},
		{"DeleteGroup", testDeleteGroup},
		{"ListUsersFilters", testListUsersFilters},
		{"ListUsersMatch", testListUsersMatch},
		{"ListUsersSort", testListUsersSort},
		{"ListUsersPaging", testListUsersPaging},
		{"ListUsersSearch", testListUsersSearch},
		{"SearchFallback", testSearchFallback},
		{"ListGroups", testListGroups},
		{"TxCommit", testTxCommit},
		{"TxRollback", testTxRollback},
		{"TxNested", testTxNested},
		{"TxRefusedWrite", testTxRefusedWrite},
		{"BulkReader", testBulkReader},
		{"TenantIsolation", testTenantIsolation},
		{"ConcurrentMembers", testConcurrentMembers},
		{"ConcurrentAddMembers", testConcurrentAddMembers},
		{"ConcurrentUpdateUser", testConcurrentUpdateUser},
		{"ConcurrentCreateUser", testConcurrentCreateUser},
		{"ConcurrentCreateUsers", testConcurrentCreateUsers},
		{"ConcurrentTxCreate", testConcurrentTxCreate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newBackend(t)) })
	}
}

// The tenants the cases open.
const (
	tenantA = "tenant-a"
	tenantB = "tenant-b"
)

// errRollback is what a transaction returns to be rolled back.
var errRollback = errors.New("storagetest: roll back")

// base is the time the cases' times count from: its nanoseconds and its zone
// check that a store keeps microseconds and the instant.
var base = time.Date(2024, 5, 17, 9, 30, 15, 123456789, time.FixedZone("CEST", 2*60*60))

// at returns base plus i minutes.
func at(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }

func normTime(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

func timesEqual(a, b time.Time) bool { return normTime(a).Equal(normTime(b)) }

// diffUser describes how got differs from want, or returns "".
func diffUser(got, want identity.User) string {
	var d string
	if !timesEqual(got.Created, want.Created) {
		d += fmt.Sprintf(" Created %v, want %v;", got.Created, want.Created)
	}
	if !timesEqual(got.Updated, want.Updated) {
		d += fmt.Sprintf(" Updated %v, want %v;", got.Updated, want.Updated)
	}
	got.Created, got.Updated, want.Created, want.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if len(got.Attributes) == 0 {
		got.Attributes = nil
	}
	if len(want.Attributes) == 0 {
		want.Attributes = nil
	}
	if !reflect.DeepEqual(got, want) {
		d += fmt.Sprintf(" got %+v, want %+v", got, want)
	}
	return d
}

// checkUser fails the test if got is not want.
func checkUser(t *testing.T, what string, got, want identity.User) {
	t.Helper()
	if d := diffUser(got, want); d != "" {
		t.Errorf("%s:%s", what, d)
	}
}

func diffGroup(got, want identity.Group) string {
	var d string
	if !timesEqual(got.Created, want.Created) {
		d += fmt.Sprintf(" Created %v, want %v;", got.Created, want.Created)
	}
	if !timesEqual(got.Updated, want.Updated) {
		d += fmt.Sprintf(" Updated %v, want %v;", got.Updated, want.Updated)
	}
	got.Created, got.Updated, want.Created, want.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		d += fmt.Sprintf(" got %+v, want %+v", got, want)
	}
	return d
}

func checkGroup(t *testing.T, what string, got, want identity.Group) {
	t.Helper()
	if d := diffGroup(got, want); d != "" {
		t.Errorf("%s:%s", what, d)
	}
}

// mustUser creates u or stops the test.
func mustUser(t *testing.T, s identity.Store, u identity.User) identity.User {
	t.Helper()
	got, err := s.CreateUser(t.Context(), u)
	if err != nil {
		t.Fatalf("CreateUser(%q, %q): %v", u.Email, u.UserName, err)
	}
	return got
}

// mustGroup creates g or stops the test.
func mustGroup(t *testing.T, s identity.Store, g identity.Group) identity.Group {
	t.Helper()
	got, err := s.CreateGroup(t.Context(), g)
	if err != nil {
		t.Fatalf("CreateGroup(%q): %v", g.Name, err)
	}
	return got
}

// mustAdd makes the user a member of the group or stops the test.
func mustAdd(t *testing.T, s identity.Store, groupID, userID string) {
	t.Helper()
	if _, err := s.AddMember(t.Context(), groupID, userID); err != nil {
		t.Fatalf("AddMember: %v", err)
	}
}

// mustLink creates the link or stops the test.
func mustLink(t *testing.T, s identity.Store, l identity.Link) {
	t.Helper()
	if err := s.CreateLink(t.Context(), l); err != nil {
		t.Fatalf("CreateLink(%q, %q): %v", l.Source, l.Subject, err)
	}
}

// wantNotFound fails the test unless err matches identity.ErrNotFound.
func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("%s: error %v, want one matching identity.ErrNotFound", what, err)
	}
}

// wantConflict fails the test unless err matches identity.ErrConflict and is
// a *identity.ConflictError with the resource and field (either empty to
// accept any).
func wantConflict(t *testing.T, what string, err error, resource, field string) {
	t.Helper()
	if !errors.Is(err, identity.ErrConflict) {
		t.Errorf("%s: error %v, want one matching identity.ErrConflict", what, err)
		return
	}
	var ce *identity.ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("%s: error %v (%T) is not a *identity.ConflictError", what, err, err)
		return
	}
	if resource != "" && ce.Resource != resource {
		t.Errorf("%s: ConflictError.Resource = %q, want %q", what, ce.Resource, resource)
	}
	if field != "" && ce.Field != field {
		t.Errorf("%s: ConflictError.Field = %q, want %q", what, ce.Field, field)
	}
}

// userIDs returns the IDs of users, in order.
func userIDs(users []identity.User) []string {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

func groupIDs(gs []identity.Group) []string {
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = g.ID
	}
	return ids
}

// sorted returns the IDs sorted.
func sorted(ids ...string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// listUsers lists users or stops the test.
func listUsers(t *testing.T, s identity.Store, q identity.UserQuery) identity.UserPage {
	t.Helper()
	p, err := identity.ListUsers(t.Context(), s, q)
	if err != nil {
		t.Fatalf("ListUsers(%+v): %v", q, err)
	}
	return p
}

// wantUsers fails the test unless ListUsers(q) returns the users with ids,
// in that order, and total.
func wantUsers(t *testing.T, s identity.Store, q identity.UserQuery, total int, ids ...string) {
	t.Helper()
	p := listUsers(t, s, q)
	if got := userIDs(p.Users); !slices.Equal(got, ids) {
		t.Errorf("ListUsers(%+v): users %v, want %v", q, got, ids)
	}
	if p.Total != total {
		t.Errorf("ListUsers(%+v): Total %d, want %d", q, p.Total, total)
	}
}

func listGroups(t *testing.T, s identity.Store, q identity.GroupQuery) identity.GroupPage {
	t.Helper()
	p, err := s.ListGroups(t.Context(), q)
	if err != nil {
		t.Fatalf("ListGroups(%+v): %v", q, err)
	}
	return p
}

func wantGroups(t *testing.T, s identity.Store, q identity.GroupQuery, total int, ids ...string) {
	t.Helper()
	p := listGroups(t, s, q)
	if got := groupIDs(p.Groups); !slices.Equal(got, ids) {
		t.Errorf("ListGroups(%+v): groups %v, want %v", q, got, ids)
	}
	if p.Total != total {
		t.Errorf("ListGroups(%+v): Total %d, want %d", q, p.Total, total)
	}
}

// wantUserGroups fails the test unless UserGroups(userID) returns the groups
// with ids, in that order.
func wantUserGroups(t *testing.T, s identity.Store, userID string, ids ...string) {
	t.Helper()
	gs, err := s.UserGroups(t.Context(), userID)
	if err != nil {
		t.Errorf("UserGroups: %v", err)
		return
	}
	if got := groupIDs(gs); !slices.Equal(got, ids) {
		t.Errorf("UserGroups(%s) = %v, want %v", userID, got, ids)
	}
}

// bulkStore is a Store with the optional bulk writes.
type bulkStore interface {
	identity.Store
	identity.BulkUserCreator
	identity.BulkMemberAdder
}

// bulkOf returns s with its bulk writes, or skips the test if it has none:
// call it first in the test's own goroutine, before any transaction.
func bulkOf(t testing.TB, s identity.Store) bulkStore {
	t.Helper()
	b, ok := s.(bulkStore)
	if !ok {
		t.Skip("the store has no identity.BulkUserCreator and identity.BulkMemberAdder")
	}
	return b
}
