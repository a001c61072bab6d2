package importer_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/storage/sqlstore"
	"github.com/rollcall/rollcall/storage/sqlstore/sqlstoretest"
)

// TestPostgresUserTakenDuringImport creates, on PostgreSQL, a user the
// import plans to create, after the plan and before the import writes it.
// The import's INSERT then fails (a serialization failure aborts the
// PostgreSQL transaction), so the store runs the transaction again, and the
// new plan finds the user: the row is skipped, nothing of the first attempt
// remains, and every event is written once.
func TestPostgresUserTakenDuringImport(t *testing.T) {
	db := sqlstoretest.Postgres(t, sqlstore.Options{})
	ctx := context.Background()
	sink := &identitytest.Sink{}
	dir, err := identity.New(db.Tenant("acme"), identity.Config{Tenant: "acme", Events: sink})
	if err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"ada@acme.example", "dora@acme.example"} {
		if _, err := dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: email}, identity.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var once sync.Once
	attempts := 0
	im, err := importer.New(importer.Config{
		// Protect runs in the plan: the moment to change the tenant
		// behind the import's back.
		Protect: func(ctx context.Context, _ identity.Reader, u identity.User) bool {
			attempts++
			once.Do(func() {
				if _, err := dir.CreateUser(context.Background(), identity.SourceManual, identity.User{Email: "carol@acme.example", GivenName: "Carol"}, identity.CreateOptions{}); err != nil {
					t.Errorf("concurrent create: %v", err)
				}
			})
			return u.Email == "dora@acme.example"
		},
	}, identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	sink.Reset()
	file := "email,firstName,groups\nada@acme.example,,\nbob@acme.example,Bob,Staff\ncarol@acme.example,Caroline,Staff\n"
	res, err := im.Import(ctx, dir, strings.NewReader(file), int64(len(file)), importer.Options{Filename: "users.csv", Deactivate: true})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Fatalf("the import ran %d times, want 2 (a retry after the failed statement)", attempts)
	}
	if got := jsonOf(t, res.Created) + jsonOf(t, res.Skipped) + jsonOf(t, res.Errors); got != "[\n  3\n][\n  2,\n  4\n][]" {
		t.Fatalf("result %s", jsonOf(t, res))
	}
	carol, err := dir.Reader().UserByEmail(ctx, "carol@acme.example")
	if err != nil || carol.GivenName != "Carol" {
		t.Fatalf("carol: %+v, %v", carol, err)
	}
	page, err := dir.Reader().ListUsers(ctx, identity.UserQuery{})
	if err != nil || page.Total != 4 {
		t.Fatalf("%d users, %v; want ada, dora, carol, bob", page.Total, err)
	}
	// Events: carol's creation by the other transaction, then the import's:
	// bob, the Staff group, bob in it. Nothing of the failed attempt.
	var types []string
	for _, ev := range sink.Events() {
		types = append(types, string(ev.Type)+":"+ev.Source)
	}
	if got := strings.Join(types, " "); got != "user.created:manual user.created:import group.created:import group.member_added:import" {
		t.Fatalf("events: %s", got)
	}
	stored, err := dir.Events(ctx, 0, 100)
	if err != nil || len(stored) != 6 { // ada, dora, and the four above
		t.Fatalf("%d stored events, %v", len(stored), err)
	}
}
