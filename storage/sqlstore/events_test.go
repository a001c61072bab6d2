package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// TestAppendEventsInBatches appends more events than one INSERT writes, on
// both databases, and checks that each event got its own cursor, in order,
// and reads back under it.
func TestAppendEventsInBatches(t *testing.T) {
	for name, open := range map[string]func(testing.TB, Options) *DB{
		"sqlite":   openSQLiteFile,
		"postgres": openPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t, Options{}).Tenant("batch")
			events := make([]identity.Event, 2*eventBatch+5)
			for i := range events {
				events[i] = identity.Event{Type: identity.UserUpdated, UserID: fmt.Sprintf("u%03d", i)}
			}
			if err := s.AppendEvents(t.Context(), events); err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(events); i++ {
				if events[i].Seq <= events[i-1].Seq {
					t.Fatalf("Seq of event %d = %d, not above %d", i, events[i].Seq, events[i-1].Seq)
				}
			}
			got, err := s.Events(t.Context(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(events) {
				t.Fatalf("read %d events, want %d", len(got), len(events))
			}
			for i, e := range got {
				if e.Seq != events[i].Seq || e.UserID != events[i].UserID {
					t.Errorf("event %d read back as (%d, %s), appended as (%d, %s)", i, e.Seq, e.UserID, events[i].Seq, events[i].UserID)
				}
			}
		})
	}
}

// TestEventsWaitForOlderTransaction has a transaction take its ID (by
// creating a user) before another appends and commits an event, and append
// its own event only later. Its event comes first in the log; so while it is
// open, a reader must not return the later one, which it would pass; once
// it commits, the reader returns both, in order.
func TestEventsWaitForOlderTransaction(t *testing.T) {
	for name, open := range map[string]func(testing.TB, Options) *DB{
		"sqlite":   openSQLiteFile,
		"postgres": openPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t, Options{})
			s := db.Tenant("t")
			ctx := t.Context()
			if name == "sqlite" {
				// One writer at a time: the older transaction commits
				// first. Only the log's order is checked.
				appendOne(t, s, "older")
				appendOne(t, s, "newer")
				wantUserIDs(t, s, "older", "newer")
				return
			}
			started, release := make(chan struct{}), make(chan struct{})
			done := make(chan error, 1)
			go func() {
				first := true
				done <- s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
					if _, err := tx.CreateUser(ctx, identity.User{UserName: fmt.Sprintf("older-%d", time.Now().UnixNano())}); err != nil {
						return err
					}
					if first {
						first = false
						close(started)
						<-release
					}
					return tx.(identity.EventLog).AppendEvents(ctx, []identity.Event{{Type: identity.UserCreated, UserID: "older"}})
				})
			}()
			<-started
			appendOne(t, s, "newer")
			// While the older transaction is open, the newer event is not
			// returned, however long the reader is willing to wait.
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			got, err := s.Events(short, 0, 10)
			cancel()
			if err != nil || len(got) != 0 {
				t.Fatalf("Events while an older transaction is open = %+v, %v; want none", got, err)
			}
			// A reader that asks before it commits waits for it.
			go func() { time.Sleep(20 * time.Millisecond); close(release) }()
			wantUserIDs(t, s, "older", "newer")
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func appendOne(t *testing.T, s *Store, userID string) {
	t.Helper()
	if err := s.AppendEvents(t.Context(), []identity.Event{{Type: identity.UserCreated, UserID: userID}}); err != nil {
		t.Fatal(err)
	}
}

func wantUserIDs(t *testing.T, s *Store, want ...string) {
	t.Helper()
	got, err := s.Events(t.Context(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got {
		ids = append(ids, e.UserID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("the log holds %q, want %q", ids, want)
	}
}
