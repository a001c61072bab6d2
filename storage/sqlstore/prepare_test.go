package sqlstore

import (
	"context"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// TestPrepareAfterTransaction checks that SQLite's statement cache holds the
// one-event INSERT from the start, and prepares a statement first met inside
// a transaction once that transaction has ended, without waiting for the
// connection the transaction holds.
func TestPrepareAfterTransaction(t *testing.T) {
	db := openSQLiteFile(t, Options{})
	s := db.Tenant("t")
	if _, ok := db.wstmts.m.Load(insertEventOne[SQLite]); !ok {
		t.Error("the one-event INSERT is not prepared when the database opens")
	}
	three := insertEventsQuery(SQLite, 3)
	if _, ok := db.wstmts.m.Load(three); ok {
		t.Fatal("the three-event INSERT is prepared before any use")
	}
	events := []identity.Event{{Type: identity.UserCreated}, {Type: identity.UserUpdated}, {Type: identity.UserDeleted}}
	err := s.Tx(t.Context(), func(ctx context.Context, tx identity.Store) error {
		if err := tx.(identity.EventLog).AppendEvents(ctx, events); err != nil {
			return err
		}
		if _, ok := db.wstmts.m.Load(three); ok {
			t.Error("the three-event INSERT was prepared inside the transaction")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := db.wstmts.m.Load(three); !ok {
		t.Error("the three-event INSERT is not prepared after the transaction")
	}
	// The prepared statement serves the next transaction.
	if err := s.AppendEvents(t.Context(), freshEvents(events)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(t.Context(), 0, 10)
	if err != nil || len(got) != 6 {
		t.Fatalf("Events = %d events, %v; want 6", len(got), err)
	}
}

func freshEvents(events []identity.Event) []identity.Event {
	out := make([]identity.Event, len(events))
	for i, e := range events {
		e.Seq = 0
		out[i] = e
	}
	return out
}
