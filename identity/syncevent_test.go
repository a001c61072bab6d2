package identity_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// TestRecordAndLastSync: a sync's report is one SyncCompleted event of its
// source, in the log and handed to the sink; LastSync finds the newest of
// that source, past other events and other sources' syncs.
func TestRecordAndLastSync(t *testing.T) {
	ctx := context.Background()
	var sunk []identity.Event
	dir, err := identity.New(memory.New().Tenant("acme"), identity.Config{Tenant: "acme",
		Events: identity.EventSinkFunc(func(_ context.Context, evs []identity.Event) { sunk = append(sunk, evs...) })})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := dir.LastSync(ctx, identity.Google); ok || err != nil {
		t.Fatalf("before any sync: %v, %v", ok, err)
	}
	for _, f := range [][]string{{"dryRun=true"}, {"dryRun=false", "membersAdded=1"}} {
		if err := dir.RecordSync(ctx, identity.Google, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := dir.RecordSync(ctx, identity.Import, []string{"other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.CreateUser(ctx, identity.Manual, identity.User{Email: "ada@acme.example"}, identity.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev, ok, err := dir.LastSync(ctx, identity.Google)
	if err != nil || !ok || ev.Type != identity.SyncCompleted || ev.Source != "google" || ev.Tenant != "acme" ||
		!slices.Equal(ev.Fields, []string{"dryRun=false", "membersAdded=1"}) || ev.Seq == 0 {
		t.Errorf("LastSync = %+v, %v, %v; want the second google sync", ev, ok, err)
	}
	if len(sunk) != 4 || sunk[0].Type != identity.SyncCompleted {
		t.Errorf("the sink got %d events, want 4, the first a sync: %+v", len(sunk), sunk)
	}
	if _, _, err := mustDir(t, noLog{memory.New().Tenant("acme")}).LastSync(ctx, identity.Google); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("a store without a log: %v", err)
	}
}
