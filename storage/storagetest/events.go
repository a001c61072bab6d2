package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// RunEventLog runs the conformance suite of identity.EventLog, for a Store
// that implements it (and whose transactions' Stores do too). It skips when
// the Store does not. newBackend is as for Run.
//
// Seq numbers must grow with each event, also across concurrent appends and
// transactions, but may have holes: an SQL sequence skips the numbers of a
// rolled-back transaction. Events(after, limit) must then page through the
// log without skipping a committed event.
func RunEventLog(t *testing.T, newBackend func(t *testing.T) Opener) {
	t.Helper()
	if s := newBackend(t)(tenantA); !isEventLog(s) {
		t.Skipf("%T does not implement identity.EventLog: nothing to test", s)
	}
	cases := []storeCase{
		{"AppendSetsSeq", testAppendSetsSeq},
		{"Paging", testEventPaging},
		{"Tx", testEventTx},
		{"TenantIsolation", testEventTenantIsolation},
		{"ConcurrentAppend", testConcurrentAppend},
		{"Search", testEventSearch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newBackend(t)) })
	}
}

func isEventLog(s identity.Store) bool {
	_, ok := s.(identity.EventLog)
	return ok
}

// eventLog returns the EventLog of the tenant's Store or stops the test.
func eventLog(t *testing.T, s identity.Store) identity.EventLog {
	t.Helper()
	l, ok := s.(identity.EventLog)
	if !ok {
		t.Fatalf("%T does not implement identity.EventLog", s)
	}
	return l
}

func event(i int) identity.Event {
	return identity.Event{
		Type:    identity.UserUpdated,
		Tenant:  tenantA,
		Source:  "scim",
		Actor:   []string{"", "admin@example.com", "Okta"}[i%3],
		UserID:  fmt.Sprintf("user-%d", i),
		GroupID: fmt.Sprintf("group-%d", i),
		Fields:  []string{"displayName", fmt.Sprintf("attributes.n%d", i)},
		Time:    at(i),
	}
}

func eventsEqual(a, b identity.Event) bool {
	return a.Seq == b.Seq && a.Type == b.Type && a.Tenant == b.Tenant && a.Source == b.Source && a.Actor == b.Actor &&
		a.UserID == b.UserID && a.GroupID == b.GroupID && slices.Equal(a.Fields, b.Fields) && timesEqual(a.Time, b.Time)
}

// appendEvents appends events, checks that each got a Seq greater than last and
// than the one before it, and returns the greatest.
func appendEvents(t *testing.T, l identity.EventLog, last int64, events []identity.Event) int64 {
	t.Helper()
	if err := l.AppendEvents(t.Context(), events); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	for _, e := range events {
		if e.Seq <= last {
			t.Fatalf("AppendEvents set Seq %d after %d: want increasing numbers", e.Seq, last)
		}
		last = e.Seq
	}
	return last
}

// allEvents reads the whole log, page by page.
func allEvents(t *testing.T, l identity.EventLog, limit int) []identity.Event {
	t.Helper()
	var out []identity.Event
	var after int64
	for range 10000 {
		page, err := l.Events(t.Context(), after, limit)
		if err != nil {
			t.Fatalf("Events(%d, %d): %v", after, limit, err)
		}
		if len(page) > limit {
			t.Fatalf("Events(%d, %d) returned %d events", after, limit, len(page))
		}
		for _, e := range page {
			if e.Seq <= after {
				t.Fatalf("Events(%d, %d) returned Seq %d", after, limit, e.Seq)
			}
			after = e.Seq
		}
		out = append(out, page...)
		if len(page) < limit {
			return out
		}
	}
	t.Fatal("Events never ends")
	return nil
}

func wantEvents(t *testing.T, what string, got, want []identity.Event) {
	t.Helper()
	if !slices.EqualFunc(got, want, eventsEqual) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func testAppendSetsSeq(t *testing.T, open Opener) {
	l := eventLog(t, open(tenantA))
	first := []identity.Event{event(0), event(1), event(2)}
	last := appendEvents(t, l, 0, first)
	second := []identity.Event{event(3), event(4)}
	appendEvents(t, l, last, second)
	want := append(slices.Clone(first), second...)
	got, err := l.Events(t.Context(), 0, 100)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	wantEvents(t, "Events(0, 100)", got, want)
	if err := l.AppendEvents(t.Context(), nil); err != nil {
		t.Errorf("AppendEvents(nil): %v", err)
	}
	// The log keeps its own copy of Fields.
	want[0].Fields[0] = "changed"
	got, _ = l.Events(t.Context(), 0, 1)
	if len(got) != 1 || got[0].Fields[0] != "displayName" {
		t.Errorf("Events after changing an appended event's Fields = %+v", got)
	}
}

func testEventPaging(t *testing.T, open Opener) {
	l := eventLog(t, open(tenantA))
	var want []identity.Event
	var last int64
	for i := 0; i < 23; i += 4 {
		batch := make([]identity.Event, 0, 4)
		for j := i; j < min(i+4, 23); j++ {
			batch = append(batch, event(j))
		}
		last = appendEvents(t, l, last, batch)
		want = append(want, batch...)
	}
	for _, limit := range []int{1, 5, 23, 100} {
		wantEvents(t, fmt.Sprintf("the log read %d at a time", limit), allEvents(t, l, limit), want)
	}
	got, err := l.Events(t.Context(), want[10].Seq, 3)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	wantEvents(t, "Events(after the 11th, 3)", got, want[11:14])
	if got, err := l.Events(t.Context(), last, 5); err != nil || len(got) != 0 {
		t.Errorf("Events(after the last) = %v, %v; want none", got, err)
	}
}

func testEventTx(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	l := eventLog(t, s)
	before := []identity.Event{event(0), event(1)}
	last := appendEvents(t, l, 0, before)

	err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		if _, err := tx.CreateUser(ctx, identity.User{UserName: "ghost"}); err != nil {
			return err
		}
		if err := eventLog(t, tx).AppendEvents(ctx, []identity.Event{event(100), event(101)}); err != nil {
			t.Errorf("AppendEvents in a transaction: %v", err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Tx returned %v, want fn's error", err)
	}
	wantEvents(t, "the log after a rolled-back transaction", allEvents(t, l, 100), before)

	committed := []identity.Event{event(2), event(3)}
	err = s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		committed = []identity.Event{event(2), event(3)} // fn may run more than once
		return eventLog(t, tx).AppendEvents(ctx, committed)
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	for _, e := range committed {
		if e.Seq <= last {
			t.Errorf("an event appended in a transaction got Seq %d, not above %d", e.Seq, last)
		}
		last = e.Seq
	}
	after := []identity.Event{event(4)}
	appendEvents(t, l, last, after)
	want := slices.Concat(before, committed, after)
	wantEvents(t, "the log after a committed transaction", allEvents(t, l, 100), want)
	wantEvents(t, "the log read 1 at a time", allEvents(t, l, 1), want)
}

func testEventTenantIsolation(t *testing.T, open Opener) {
	a, b := eventLog(t, open(tenantA)), eventLog(t, open(tenantB))
	ea := []identity.Event{event(0), event(1)}
	appendEvents(t, a, 0, ea)
	if got := allEvents(t, b, 100); len(got) != 0 {
		t.Errorf("tenant b's log holds tenant a's events: %+v", got)
	}
	eb := []identity.Event{event(2)}
	eb[0].Tenant = tenantB
	appendEvents(t, b, 0, eb)
	wantEvents(t, "tenant a's log", allEvents(t, a, 100), ea)
	wantEvents(t, "tenant b's log", allEvents(t, b, 100), eb)
}

func testConcurrentAppend(t *testing.T, open Opener) {
	l := eventLog(t, open(tenantA))
	const each = 10
	var wg sync.WaitGroup
	for w := range workers / 2 {
		wg.Go(func() {
			for i := range each {
				if err := l.AppendEvents(t.Context(), []identity.Event{event(w*each + i)}); err != nil {
					t.Errorf("AppendEvents: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := allEvents(t, l, 7)
	if len(got) != workers/2*each {
		t.Fatalf("the log holds %d events after %d concurrent appends", len(got), workers/2*each)
	}
	seen := make(map[string]bool)
	for _, e := range got {
		if seen[e.UserID] {
			t.Errorf("event of %s twice", e.UserID)
		}
		seen[e.UserID] = true
	}
}
