package identity_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// logOnly is a store with an event log and no EventSearch: the Directory
// falls back to reading the whole log.
type logOnly struct {
	identity.Store
	identity.EventLog
}

// Tx keeps the transaction's Store an EventLog, without EventSearch.
func (s logOnly) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		return fn(ctx, logOnly{Store: tx, EventLog: tx.(identity.EventLog)})
	})
}

func TestSearchEventsWithAndWithoutTheStoresSearch(t *testing.T) {
	ctx := context.Background()
	plain := memory.New().Tenant("acme")
	for _, store := range []identity.Store{memory.New().Tenant("acme"), logOnly{Store: plain, EventLog: plain}} {
		_, native := store.(identity.EventSearch)
		t.Run(fmt.Sprintf("EventSearch=%v", native), func(t *testing.T) {
			dir, err := identity.New(store, identity.Config{Tenant: "acme"})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for i := range 1500 { // more than one page of the log
				u, err := dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: fmt.Sprintf("u%d@acme.example", i)}, identity.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, u.ID)
			}
			if _, err := dir.Deactivate(ctx, identity.SourceManual, ids[7]); err != nil {
				t.Fatal(err)
			}
			got, err := dir.SearchEvents(ctx, identity.EventFilter{UserID: ids[7]}, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if types := eventTypes(got); !slices.Equal(types, []identity.EventType{identity.UserDeactivated, identity.UserCreated}) {
				t.Errorf("the user's events, newest first: %v", types)
			}
			page, err := dir.SearchEvents(ctx, identity.EventFilter{Type: identity.UserCreated}, 0, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) != 3 || page[0].UserID != ids[1499] || page[2].UserID != ids[1497] {
				t.Errorf("the newest 3 user.created: %+v", page)
			}
			older, err := dir.SearchEvents(ctx, identity.EventFilter{Type: identity.UserCreated}, page[2].Seq, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(older) != 2 || older[0].UserID != ids[1496] || older[1].UserID != ids[1495] {
				t.Errorf("the 2 before: %+v", older)
			}
		})
	}
	if _, err := mustDir(t, noLog{memory.New().Tenant("acme")}).SearchEvents(ctx, identity.EventFilter{}, 0, 1); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("a store with no log: %v, want ErrUnsupported", err)
	}
}

// noLog hides the store's EventLog.
type noLog struct{ identity.Store }

func (s noLog) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, tx identity.Store) error { return fn(ctx, noLog{tx}) })
}

func mustDir(t *testing.T, s identity.Store) *identity.Directory {
	t.Helper()
	dir, err := identity.New(s, identity.Config{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func eventTypes(evs []identity.Event) []identity.EventType {
	var out []identity.EventType
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}
