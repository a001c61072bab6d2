package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// TestOptimizeGivesThePlannerStatistics checks that Optimize leaves SQLite
// statistics for the tables (and that a second run, with nothing changed,
// succeeds too); on PostgreSQL it does nothing.
func TestOptimizeGivesThePlannerStatistics(t *testing.T) {
	ctx := context.Background()
	db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "opt.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := db.Tenant("acme")
	for i := range 200 {
		if _, err := s.CreateUser(ctx, identity.User{UserName: fmt.Sprintf("u%d", i), Email: fmt.Sprintf("u%d@acme.example", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := db.Optimize(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.rdb.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'rollcall_users'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("no statistics for rollcall_users after Optimize")
	}
}
