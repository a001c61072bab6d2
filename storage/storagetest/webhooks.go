package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// WebhookOpener opens the WebhookStore of one tenant of a backing database.
// Opening the same tenant twice gives two views of the same data.
type WebhookOpener func(tenant string) identity.WebhookStore

// RunWebhookStore runs the conformance suite of identity.WebhookStore, one
// subtest per case. newBackend is called once per subtest: it makes a fresh,
// empty backing database, registers its cleanup on t and returns the
// function that opens a tenant of it. Times and latencies are compared to
// the microsecond. The concurrency case is meant for -race.
func RunWebhookStore(t *testing.T, newBackend func(t *testing.T) WebhookOpener) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, open WebhookOpener)
	}{
		{"EndpointRoundTrip", testEndpointRoundTrip},
		{"UpdateEndpoint", testUpdateEndpoint},
		{"Endpoints", testEndpoints},
		{"DeleteEndpoint", testDeleteEndpoint},
		{"Deliveries", testDeliveries},
		{"RecordDeliveries", testRecordDeliveries},
		{"DeleteDeliveries", testDeleteDeliveries},
		{"TenantIsolation", testWebhookTenants},
		{"ConcurrentUpdateEndpoint", testConcurrentUpdateEndpoint},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newBackend(t)) })
	}
}

func sampleEndpoint(id string) identity.WebhookEndpoint {
	return identity.WebhookEndpoint{
		ID:             id,
		URL:            "https://hooks.example.com/rollcall?x=1",
		Secrets:        []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_b2xkZXI="},
		EventTypes:     []identity.EventType{identity.UserCreated, identity.MemberAdded},
		Disabled:       true,
		DisabledReason: "dead letter: event 7",
		Cursor:         42,
		Attempts:       3,
		NextAttempt:    at(5),
		FailingSince:   at(1),
		Created:        at(0),
		Updated:        at(2),
	}
}

// diffEndpoint describes how got differs from want, or returns "".
func diffEndpoint(got, want identity.WebhookEndpoint) string {
	switch {
	case got.ID != want.ID || got.URL != want.URL:
		return fmt.Sprintf("id, url = %q, %q; want %q, %q", got.ID, got.URL, want.ID, want.URL)
	case !slices.Equal(got.Secrets, want.Secrets) && len(got.Secrets)+len(want.Secrets) > 0:
		return fmt.Sprintf("%d secrets, want %d (or other values)", len(got.Secrets), len(want.Secrets))
	case !slices.Equal(got.EventTypes, want.EventTypes) && len(got.EventTypes)+len(want.EventTypes) > 0:
		return fmt.Sprintf("event types %v, want %v", got.EventTypes, want.EventTypes)
	case got.Disabled != want.Disabled || got.DisabledReason != want.DisabledReason:
		return fmt.Sprintf("disabled %v %q, want %v %q", got.Disabled, got.DisabledReason, want.Disabled, want.DisabledReason)
	case got.Cursor != want.Cursor || got.Attempts != want.Attempts:
		return fmt.Sprintf("cursor, attempts = %d, %d; want %d, %d", got.Cursor, got.Attempts, want.Cursor, want.Attempts)
	case !timesEqual(got.NextAttempt, want.NextAttempt) || !timesEqual(got.FailingSince, want.FailingSince):
		return fmt.Sprintf("next attempt, failing since = %v, %v; want %v, %v", got.NextAttempt, got.FailingSince, want.NextAttempt, want.FailingSince)
	case !timesEqual(got.Created, want.Created) || !timesEqual(got.Updated, want.Updated):
		return fmt.Sprintf("created, updated = %v, %v; want %v, %v", got.Created, got.Updated, want.Created, want.Updated)
	case got.Version != want.Version:
		return fmt.Sprintf("version %d, want %d", got.Version, want.Version)
	}
	return ""
}

func testEndpointRoundTrip(t *testing.T, open WebhookOpener) {
	ctx := t.Context()
	s := open(tenantA)
	in := sampleEndpoint("ep-1")
	got, err := s.CreateEndpoint(ctx, in)
	if err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	want := in
	want.Version = 1
	if d := diffEndpoint(got, want); d != "" {
		t.Errorf("CreateEndpoint returned %s", d)
	}
	got.Secrets[0] = "changed" // the store keeps its own copy
	in.Secrets[1] = "changed"
	read, err := s.Endpoint(ctx, "ep-1")
	if err != nil {
		t.Fatalf("Endpoint: %v", err)
	}
	want = sampleEndpoint("ep-1")
	want.Version = 1
	if d := diffEndpoint(read, want); d != "" {
		t.Errorf("Endpoint returned %s", d)
	}
	_, err = s.CreateEndpoint(ctx, sampleEndpoint("ep-1"))
	var ce *identity.ConflictError
	if !errors.As(err, &ce) || ce.Resource != "webhook" || ce.Field != "id" {
		t.Errorf("CreateEndpoint of a taken ID: %v, want *ConflictError{webhook id}", err)
	}
	fresh, err := s.CreateEndpoint(ctx, identity.WebhookEndpoint{URL: "https://b.example"})
	if err != nil || fresh.ID == "" || fresh.Version != 1 {
		t.Errorf("CreateEndpoint without an ID = %+v, %v; want an ID and version 1", fresh, err)
	}
	if _, err := s.Endpoint(ctx, "missing"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Endpoint of a missing ID: %v, want ErrNotFound", err)
	}
}

func testUpdateEndpoint(t *testing.T, open WebhookOpener) {
	ctx := t.Context()
	s := open(tenantA)
	if _, err := s.CreateEndpoint(ctx, sampleEndpoint("ep")); err != nil {
		t.Fatal(err)
	}
	got, err := s.UpdateEndpoint(ctx, "ep", func(e *identity.WebhookEndpoint) error {
		e.ID, e.Created, e.Version = "other", at(99), 50
		e.Disabled, e.DisabledReason = false, ""
		e.Cursor, e.Attempts, e.NextAttempt, e.FailingSince = 43, 0, time.Time{}, time.Time{}
		e.Secrets = []string{"whsec_bmV3"}
		e.EventTypes = nil
		e.Updated = at(3)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateEndpoint: %v", err)
	}
	want := sampleEndpoint("ep")
	want.Disabled, want.DisabledReason = false, ""
	want.Cursor, want.Attempts, want.NextAttempt, want.FailingSince = 43, 0, time.Time{}, time.Time{}
	want.Secrets, want.EventTypes, want.Updated, want.Version = []string{"whsec_bmV3"}, nil, at(3), 2
	if d := diffEndpoint(got, want); d != "" {
		t.Errorf("UpdateEndpoint returned %s", d)
	}
	if read, _ := s.Endpoint(ctx, "ep"); diffEndpoint(read, want) != "" {
		t.Errorf("after UpdateEndpoint, Endpoint returned %s", diffEndpoint(read, want))
	}
	boom := errors.New("boom")
	if _, err := s.UpdateEndpoint(ctx, "ep", func(e *identity.WebhookEndpoint) error { e.Cursor = 1000; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateEndpoint whose fn fails: %v, want its error", err)
	}
	if read, _ := s.Endpoint(ctx, "ep"); read.Cursor != 43 || read.Version != 2 {
		t.Errorf("a failed update was stored: cursor %d, version %d", read.Cursor, read.Version)
	}
	if _, err := s.UpdateEndpoint(ctx, "missing", func(*identity.WebhookEndpoint) error { return nil }); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("UpdateEndpoint of a missing ID: %v, want ErrNotFound", err)
	}
}

func testEndpoints(t *testing.T, open WebhookOpener) {
	ctx := t.Context()
	s := open(tenantA)
	if got, err := s.Endpoints(ctx); err != nil || len(got) != 0 {
		t.Errorf("Endpoints of an empty tenant = %v, %v", got, err)
	}
	for _, id := range []string{"c", "a", "b"} {
		if _, err := s.CreateEndpoint(ctx, sampleEndpoint(id)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Endpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("Endpoints IDs %v, want [a b c]", ids)
	}
}

func delivery(ep string, seq int64, i int) identity.WebhookDelivery {
	return identity.WebhookDelivery{
		EndpointID: ep, Seq: seq, Attempt: i + 1, Time: at(i), Status: 500,
		Error: "status 500", Latency: 1234567 * time.Nanosecond, Answer: []byte("oops\x00\xff"),
	}
}

func testDeleteEndpoint(t *testing.T, open WebhookOpener) {
	ctx := t.Context()
	s := open(tenantA)
	for _, id := range []string{"a", "b"} {
		if _, err := s.CreateEndpoint(ctx, sampleEndpoint(id)); err != nil {
			t.Fatal(err)
		}
		addDelivery(t, s, delivery(id, 1, 0))
	}
	if err := s.DeleteEndpoint(ctx, "a"); err != nil {
		t.Fatalf("DeleteEndpoint: %v", err)
	}
	if err := s.DeleteEndpoint(ctx, "a"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("DeleteEndpoint again: %v, want ErrNotFound", err)
	}
	if _, err := s.Endpoint(ctx, "a"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Endpoint after delete: %v, want ErrNotFound", err)
	}
	if got, err := s.Deliveries(ctx, "a", 0, 0); err != nil || len(got) != 0 {
		t.Errorf("Deliveries of a deleted endpoint = %d, %v; want none", len(got), err)
	}
	if got, err := s.Deliveries(ctx, "b", 0, 0); err != nil || len(got) != 1 {
		t.Errorf("Deliveries of the other endpoint = %d, %v; want 1", len(got), err)
	}
}

func testDeliveries(t *testing.T, open WebhookOpener) {
	ctx := t.Context()
	s := open(tenantA)
	for _, id := range []string{"a", "b"} {
		if _, err := s.CreateEndpoint(ctx, sampleEndpoint(id)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		addDelivery(t, s, delivery("a", int64(10+i), i))
		addDelivery(t, s, delivery("b", 1, i))
	}
	if _, err := s.RecordDeliveries(ctx, "missing", []identity.WebhookDelivery{delivery("missing", 1, 0)}, nil); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("RecordDeliveries to a missing endpoint: %v, want ErrNotFound", err)
	}
	all, err := s.Deliveries(ctx, "a", 0, 0)
	if err != nil || len(all) != 5 {
		t.Fatalf("Deliveries(a) = %d, %v; want 5", len(all), err)
	}
	var ids []int64
	for i := len(all) - 1; i >= 0; i-- {
		if len(ids) > 0 && all[i].ID <= ids[len(ids)-1] {
			t.Errorf("delivery IDs %v then %d: want growing", ids, all[i].ID)
		}
		if all[i].Seq != int64(10+len(ids)) {
			t.Errorf("delivery %d has seq %d, want %d", len(ids), all[i].Seq, 10+len(ids))
		}
		ids = append(ids, all[i].ID)
	}
	got, err := s.Deliveries(ctx, "a", 0, 2)
	if err != nil || len(got) != 2 || got[0].ID != ids[4] || got[1].ID != ids[3] {
		t.Fatalf("Deliveries(a, 0, 2) = %+v, %v; want the two newest", got, err)
	}
	want := delivery("a", 14, 4)
	g := got[0]
	if g.EndpointID != "a" || g.Seq != 14 || g.Attempt != 5 || !timesEqual(g.Time, want.Time) || g.Status != 500 ||
		g.Error != want.Error || g.Latency.Truncate(time.Microsecond) != want.Latency.Truncate(time.Microsecond) || string(g.Answer) != string(want.Answer) {
		t.Errorf("delivery read back as %+v, want %+v", g, want)
	}
	rest, err := s.Deliveries(ctx, "a", got[1].ID, 0)
	if err != nil || len(rest) != 3 || rest[0].ID != ids[2] || rest[2].ID != ids[0] {
		t.Errorf("Deliveries(a, before %d) = %d deliveries, %v; want the three older", got[1].ID, len(rest), err)
	}
	if none, err := s.Deliveries(ctx, "missing", 0, 0); err != nil || len(none) != 0 {
		t.Errorf("Deliveries of a missing endpoint = %v, %v; want none", none, err)
	}
}

func testDeleteDeliveries(t *testing.T, open WebhookOpener) {
	ctx := t.Context()
	s := open(tenantA)
	if _, err := s.CreateEndpoint(ctx, sampleEndpoint("a")); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		addDelivery(t, s, delivery("a", 1, i))
	}
	if n, err := s.DeleteDeliveries(ctx, at(2)); err != nil || n != 2 {
		t.Errorf("DeleteDeliveries(before minute 2) = %d, %v; want 2", n, err)
	}
	if got, _ := s.Deliveries(ctx, "a", 0, 0); len(got) != 2 || !timesEqual(got[1].Time, at(2)) {
		t.Errorf("after DeleteDeliveries, %d deliveries remain, want the 2 from minute 2 on", len(got))
	}
}

func testWebhookTenants(t *testing.T, open WebhookOpener) {
	ctx := t.Context()
	a, b := open(tenantA), open(tenantB)
	if _, err := a.CreateEndpoint(ctx, sampleEndpoint("ep")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Endpoint(ctx, "ep"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("another tenant's endpoint: %v, want ErrNotFound", err)
	}
	if _, err := b.CreateEndpoint(ctx, sampleEndpoint("ep")); err != nil {
		t.Errorf("the same ID in another tenant: %v", err)
	}
	addDelivery(t, a, delivery("ep", 1, 0))
	if got, _ := b.Deliveries(ctx, "ep", 0, 0); len(got) != 0 {
		t.Errorf("tenant B sees %d deliveries of tenant A", len(got))
	}
	if n, _ := b.DeleteDeliveries(ctx, at(100)); n != 0 {
		t.Errorf("tenant B's DeleteDeliveries removed %d of tenant A's", n)
	}
	if err := b.DeleteEndpoint(ctx, "ep"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Endpoint(ctx, "ep"); err != nil {
		t.Errorf("deleting tenant B's endpoint removed tenant A's: %v", err)
	}
}

// testConcurrentUpdateEndpoint moves one endpoint's cursor from many
// goroutines at once: no increment is lost.
func testConcurrentUpdateEndpoint(t *testing.T, open WebhookOpener) {
	ctx := t.Context()
	s := open(tenantA)
	if _, err := s.CreateEndpoint(ctx, identity.WebhookEndpoint{ID: "ep", URL: "https://a.example"}); err != nil {
		t.Fatal(err)
	}
	const each = 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := s.UpdateEndpoint(ctx, "ep", func(e *identity.WebhookEndpoint) error { e.Cursor++; return nil }); err != nil {
					t.Errorf("UpdateEndpoint: %v", err)
				}
			}
		})
	}
	wg.Wait()
	e, err := s.Endpoint(ctx, "ep")
	if err != nil || e.Cursor != workers*each || e.Version != workers*each+1 {
		t.Errorf("after %d concurrent increments: cursor %d, version %d, %v", workers*each, e.Cursor, e.Version, err)
	}
}

func addDelivery(t *testing.T, s identity.WebhookStore, d identity.WebhookDelivery) {
	t.Helper()
	if _, err := s.RecordDeliveries(t.Context(), d.EndpointID, []identity.WebhookDelivery{d}, nil); err != nil {
		t.Fatalf("RecordDeliveries: %v", err)
	}
}

// testRecordDeliveries stores deliveries and an endpoint change together,
// or neither.
func testRecordDeliveries(t *testing.T, open WebhookOpener) {
	ctx := t.Context()
	s := open(tenantA)
	if _, err := s.CreateEndpoint(ctx, identity.WebhookEndpoint{ID: "ep", URL: "https://a.example", Cursor: 5, Attempts: 2}); err != nil {
		t.Fatal(err)
	}
	batch := []identity.WebhookDelivery{delivery("ep", 6, 0), delivery("ep", 7, 1), delivery("ep", 8, 2)}
	boom := errors.New("boom")
	_, err := s.RecordDeliveries(ctx, "ep", batch, func(e *identity.WebhookEndpoint) error { e.Cursor = 8; return boom })
	if !errors.Is(err, boom) {
		t.Errorf("RecordDeliveries whose fn fails: %v, want its error", err)
	}
	if got, _ := s.Deliveries(ctx, "ep", 0, 0); len(got) != 0 {
		t.Errorf("a failed RecordDeliveries stored %d deliveries", len(got))
	}
	ep, err := s.RecordDeliveries(ctx, "ep", batch, func(e *identity.WebhookEndpoint) error {
		e.Cursor, e.Attempts, e.ID, e.Version = 8, 0, "other", 40
		return nil
	})
	if err != nil || ep.Cursor != 8 || ep.Attempts != 0 || ep.ID != "ep" || ep.Version != 2 {
		t.Fatalf("RecordDeliveries = %+v, %v; want cursor 8, attempts 0, version 2", ep, err)
	}
	if read, _ := s.Endpoint(ctx, "ep"); read.Cursor != 8 || read.Version != 2 {
		t.Errorf("after RecordDeliveries the endpoint reads cursor %d, version %d", read.Cursor, read.Version)
	}
	got, _ := s.Deliveries(ctx, "ep", 0, 0)
	if len(got) != 3 || got[0].Seq != 8 || got[2].Seq != 6 || got[0].ID <= got[1].ID || got[1].ID <= got[2].ID {
		t.Errorf("deliveries after RecordDeliveries: %+v, want seqs 8, 7, 6 with falling IDs", got)
	}
	// Without fn, the endpoint is left as it is.
	if ep, err := s.RecordDeliveries(ctx, "ep", batch[:1], nil); err != nil || ep.Version != 2 {
		t.Errorf("RecordDeliveries without fn = version %d, %v; want 2", ep.Version, err)
	}
}
