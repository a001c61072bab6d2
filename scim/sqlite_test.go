package scim_test

import (
	"path/filepath"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/sqlstore"
	"github.com/rollcall/rollcall/storage/sqlstore/sqlstoretest"
)

func openSQLite(t testing.TB) identity.Store {
	db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "rollcall.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Tenant("acme")
}

func TestConcurrentPatchSQLite(t *testing.T) {
	concurrentMembers(t, openSQLite(t))
}

// The client quirks and the CRUD tests again, on SQLite.
func TestOnSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	runOn(t, openSQLite)
	t.Run("StreamedFilterSorted", TestStreamedFilterSorted)
}

func openPostgres(t testing.TB) identity.Store {
	return sqlstoretest.Postgres(t, sqlstore.Options{}).Tenant("acme")
}

// The same on PostgreSQL: the filters pushed to the store as SQL
// included.
func TestOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	runOn(t, openPostgres)
}

func runOn(t *testing.T, open func(testing.TB) identity.Store) {
	old := newStore
	newStore = open
	t.Cleanup(func() { newStore = old })
	t.Run("UserDelete", TestUserDelete)
	t.Run("MultiValuedKept", TestMultiValuedKept)
	t.Run("NotKeptRefused", TestNotKeptRefused)
	t.Run("FilterResults", TestFilterResults)
	t.Run("Entra", TestEntraQuirks)
	t.Run("Okta", TestOktaQuirks)
	t.Run("UserCRUD", TestUserCRUD)
	t.Run("UserErrors", TestUserErrors)
	t.Run("UserPatchErrors", TestUserPatchErrors)
	t.Run("GroupCRUD", TestGroupCRUD)
	t.Run("GroupsOfOtherSources", TestGroupsOfOtherSources)
	t.Run("GroupExternalIDNotUnique", TestGroupExternalIDNotUnique)
	t.Run("Paging", TestListPagingSortProjection)
}
