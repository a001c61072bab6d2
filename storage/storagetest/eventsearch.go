package storagetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// testEventSearch checks identity.EventSearch, where the store has it: the
// events a filter keeps, newest first, before a bound, in pages, of the
// store's tenant only, and those of a transaction once it commits.
func testEventSearch(t *testing.T, open Opener) {
	s := open(tenantA)
	search, ok := s.(identity.EventSearch)
	if !ok {
		t.Skipf("%T does not implement identity.EventSearch", s)
	}
	l := eventLog(t, s)
	var all []identity.Event
	for i := range 30 {
		e := event(i)
		e.UserID = []string{"u1", "u2", ""}[i%3]
		e.Type = []identity.EventType{identity.UserUpdated, identity.MemberAdded}[i%2]
		all = append(all, e)
	}
	appendEvents(t, l, 0, all)
	other := event(99)
	other.Tenant, other.UserID = tenantB, "u1"
	appendEvents(t, eventLog(t, open(tenantB)), 0, []identity.Event{other})

	want := func(f identity.EventFilter, before int64, limit int) []identity.Event {
		var out []identity.Event
		for _, e := range slices.Backward(all) {
			if (before == 0 || e.Seq < before) && f.Match(e) && len(out) < limit {
				out = append(out, e)
			}
		}
		return out
	}
	for _, f := range []identity.EventFilter{
		{}, {UserID: "u1"}, {UserID: "u2", Type: identity.MemberAdded}, {Type: identity.UserUpdated},
		{Source: "scim", UserID: "u1"}, {Source: "okta"}, {GroupID: "group-4"}, {UserID: "nobody"},
	} {
		got, err := search.SearchEvents(t.Context(), f, 0, 100)
		if err != nil {
			t.Fatalf("SearchEvents(%+v): %v", f, err)
		}
		wantEvents(t, "SearchEvents", got, want(f, 0, 100))
	}
	// Pages: each before the last one's oldest.
	var paged []identity.Event
	var before int64
	for range 20 {
		page, err := search.SearchEvents(t.Context(), identity.EventFilter{UserID: "u1"}, before, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("a page of %d events, want at most 3", len(page))
		}
		paged = append(paged, page...)
		if len(page) < 3 {
			break
		}
		before = page[len(page)-1].Seq
	}
	wantEvents(t, "SearchEvents by pages", paged, want(identity.EventFilter{UserID: "u1"}, 0, 100))

	// A rolled-back transaction's events are never found; a committed one's are.
	e := event(40)
	e.UserID = "u3"
	err := s.Tx(t.Context(), func(ctx context.Context, tx identity.Store) error {
		if err := eventLog(t, tx).AppendEvents(ctx, []identity.Event{e}); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Tx returned %v, want fn's error", err)
	}
	if got, err := search.SearchEvents(t.Context(), identity.EventFilter{UserID: "u3"}, 0, 10); err != nil || len(got) != 0 {
		t.Errorf("events of a rolled-back transaction: %+v, %v", got, err)
	}
	var committed []identity.Event
	err = s.Tx(t.Context(), func(ctx context.Context, tx identity.Store) error {
		committed = []identity.Event{event(41)} // fn may run more than once
		committed[0].UserID = "u3"
		return eventLog(t, tx).AppendEvents(ctx, committed)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := search.SearchEvents(t.Context(), identity.EventFilter{UserID: "u3"}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantEvents(t, "the events of a committed transaction", got, committed)
}
