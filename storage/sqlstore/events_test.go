package sqlstore

import (
	"fmt"
	"testing"

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
