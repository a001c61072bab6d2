package storagetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// RunDiagnostics runs the conformance suite of identity.DiagnosticsLog, one
// subtest per case. newLogs is called once per subtest, with a clock the
// suite steps: it returns a function that opens the empty log of a tenant
// (the same tenant always the same entries, tenants apart), with its cleanup
// registered on t.
func RunDiagnostics(t *testing.T, newLogs func(t *testing.T, clock identity.Clock) func(tenant string) identity.DiagnosticsLog) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, open func(string) identity.DiagnosticsLog, clock *stepClock)
	}{
		{"RoundTrip", testAttemptRoundTrip},
		{"Normalize", testAttemptNormalize},
		{"Filters", testAttemptFilters},
		{"Paging", testAttemptPaging},
		{"PruneAge", testAttemptPruneAge},
		{"PruneCount", testAttemptPruneCount},
		{"Tenants", testAttemptTenants},
		{"Concurrent", testAttemptConcurrent},
		{"Queue", testAttemptQueue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := &stepClock{now: base}
			c.run(t, newLogs(t, clock), clock)
		})
	}
}

func record(t *testing.T, l identity.DiagnosticsLog, a identity.Attempt) identity.Attempt {
	t.Helper()
	got, err := l.RecordAttempt(t.Context(), a)
	if err != nil {
		t.Fatalf("RecordAttempt: %v", err)
	}
	return got
}

func attempts(t *testing.T, l identity.DiagnosticsLog, q identity.AttemptQuery) []identity.Attempt {
	t.Helper()
	got, err := l.Attempts(t.Context(), q)
	if err != nil {
		t.Fatalf("Attempts(%+v): %v", q, err)
	}
	return got
}

func seqs(as []identity.Attempt) []int64 {
	out := make([]int64, len(as))
	for i, a := range as {
		out[i] = a.Seq
	}
	return out
}

func testAttemptRoundTrip(t *testing.T, open func(string) identity.DiagnosticsLog, clock *stepClock) {
	l := open("tenant-a")
	want := identity.Attempt{
		Time: base.Add(1500 * time.Microsecond), Connection: "saml:entra", Step: identity.StepACS,
		Outcome: identity.OutcomeFailure, Reason: "audience", Detail: `AudienceRestriction "x" does not name "y"`,
		Subject: "persistent-1", Email: "Ada@Example.com", UserID: "u-1", Reference: "REF123",
	}
	first := record(t, l, want)
	// A store may keep times to the microsecond.
	near := func(a, b time.Time) bool { return a.Sub(b).Abs() < time.Microsecond }
	if first.Seq <= 0 || !near(first.Time, want.Time) || first.Time.Location() != time.UTC {
		t.Errorf("stored Seq %d, Time %v", first.Seq, first.Time)
	}
	// No Time: the log's clock.
	second := record(t, l, identity.Attempt{Connection: "oauth:google", Step: identity.StepCallback, Outcome: identity.OutcomeSuccess})
	if second.Seq <= first.Seq || !near(second.Time, clock.Now()) {
		t.Errorf("second Seq %d after %d, Time %v want %v", second.Seq, first.Seq, second.Time, clock.Now())
	}
	got := attempts(t, l, identity.AttemptQuery{})
	if len(got) != 2 || got[0] != second || got[1] != first {
		t.Fatalf("Attempts = %+v\nwant %+v and %+v", got, second, first)
	}
	want.Seq, want.Time = first.Seq, first.Time
	if got[1] != want {
		t.Errorf("read back %+v\nwant %+v", got[1], want)
	}
}

func testAttemptNormalize(t *testing.T, open func(string) identity.DiagnosticsLog, clock *stepClock) {
	l := open("tenant-a")
	a := record(t, l, identity.Attempt{
		Connection: "saml:x", Outcome: identity.OutcomeFailure, Reason: "signature",
		Detail: "line one\nline two\x00" + strings.Repeat("é", identity.MaxAttemptDetail), Email: "bad\xffutf8@x",
	})
	got := attempts(t, l, identity.AttemptQuery{})
	if len(got) != 1 || got[0] != a {
		t.Fatalf("read back %+v, recorded %+v", got, a)
	}
	if len(a.Detail) > identity.MaxAttemptDetail || strings.ContainsAny(a.Detail, "\n\x00") || !strings.HasPrefix(a.Detail, "line one line two") {
		t.Errorf("Detail %q (%d bytes)", a.Detail, len(a.Detail))
	}
	if strings.Contains(a.Email, "\xff") {
		t.Errorf("Email %q not valid UTF-8", a.Email)
	}
}

// fill records a mix: two connections, both outcomes, three users.
func fill(t *testing.T, l identity.DiagnosticsLog, clock *stepClock, n int) []identity.Attempt {
	var out []identity.Attempt
	for i := range n {
		a := identity.Attempt{
			Connection: []string{"saml:entra", "oauth:google"}[i%2], Step: identity.StepACS,
			Outcome: identity.OutcomeSuccess, UserID: fmt.Sprintf("u-%d", i%3), Subject: fmt.Sprintf("sub-%d", i%3),
			Email: fmt.Sprintf("User%d@Example.com", i%3), Reference: fmt.Sprintf("ref-%d", i),
		}
		if i%4 == 3 {
			a.Outcome, a.Reason = identity.OutcomeFailure, "expired"
		}
		out = append(out, record(t, l, a))
		clock.step(time.Minute)
	}
	return out
}

func testAttemptFilters(t *testing.T, open func(string) identity.DiagnosticsLog, clock *stepClock) {
	l := open("tenant-a")
	all := fill(t, l, clock, 12)
	for _, q := range []identity.AttemptQuery{
		{Connection: "saml:entra"},
		{Outcome: identity.OutcomeFailure},
		{Connection: "oauth:google", Outcome: identity.OutcomeFailure},
		{User: "u-1"},
		{User: "sub-2"},
		{User: " user0@EXAMPLE.com "},
		{Reference: "ref-7"},
		{User: "nobody"},
	} {
		var want []int64
		for i := len(all) - 1; i >= 0; i-- {
			if identity.MatchAttempt(all[i], q) {
				want = append(want, all[i].Seq)
			}
		}
		if q.User == "nobody" != (len(want) == 0) {
			t.Fatalf("fixture: %+v selects %v", q, want)
		}
		if got := seqs(attempts(t, l, q)); !slices.Equal(got, want) {
			t.Errorf("Attempts(%+v) = %v, want %v", q, got, want)
		}
	}
}

func testAttemptPaging(t *testing.T, open func(string) identity.DiagnosticsLog, clock *stepClock) {
	l := open("tenant-a")
	all := fill(t, l, clock, 7)
	var got []int64
	q := identity.AttemptQuery{Limit: 3}
	for page := 0; page < 5; page++ {
		as := attempts(t, l, q)
		if len(as) > 3 {
			t.Fatalf("page of %d over the limit 3", len(as))
		}
		got = append(got, seqs(as)...)
		if len(as) < 3 {
			break
		}
		q.Before = as[len(as)-1].Seq
	}
	want := seqs(all)
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Errorf("pages = %v, want %v", got, want)
	}
}

func testAttemptPruneAge(t *testing.T, open func(string) identity.DiagnosticsLog, clock *stepClock) {
	l := open("tenant-a")
	all := fill(t, l, clock, 6) // one a minute from base
	n, err := l.PruneAttempts(t.Context(), base.Add(150*time.Second), 0)
	if err != nil || n != 3 {
		t.Fatalf("PruneAttempts = %d, %v; want 3", n, err)
	}
	want := seqs(all[3:])
	slices.Reverse(want)
	if got := seqs(attempts(t, l, identity.AttemptQuery{})); !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if n, err := l.PruneAttempts(t.Context(), base.Add(150*time.Second), 0); err != nil || n != 0 {
		t.Errorf("again = %d, %v", n, err)
	}
}

func testAttemptPruneCount(t *testing.T, open func(string) identity.DiagnosticsLog, clock *stepClock) {
	l := open("tenant-a")
	all := fill(t, l, clock, 10)
	n, err := l.PruneAttempts(t.Context(), base.Add(-time.Hour), 4)
	if err != nil || n != 6 {
		t.Fatalf("PruneAttempts keep 4 = %d, %v; want 6", n, err)
	}
	want := seqs(all[6:])
	slices.Reverse(want)
	if got := seqs(attempts(t, l, identity.AttemptQuery{})); !slices.Equal(got, want) {
		t.Errorf("left %v, want the newest %v", got, want)
	}
	if n, err := l.PruneAttempts(t.Context(), base.Add(-time.Hour), 4); err != nil || n != 0 {
		t.Errorf("again = %d, %v", n, err)
	}
	// Both bounds at once, through the helper.
	clock.step(identity.DefaultDiagnosticsMaxAge - 2*time.Minute) // the entries of minutes 6 and 7 are now over 7 days old
	if n, err := identity.PruneDiagnostics(t.Context(), l, clock, 0, 0); err != nil || n != 2 {
		t.Errorf("PruneDiagnostics = %d, %v; want the 2 older than 7 days", n, err)
	}
}

func testAttemptTenants(t *testing.T, open func(string) identity.DiagnosticsLog, clock *stepClock) {
	a, b := open("tenant-a"), open("tenant-b")
	fill(t, a, clock, 3)
	if got := attempts(t, b, identity.AttemptQuery{}); len(got) != 0 {
		t.Errorf("tenant-b reads %d entries of tenant-a", len(got))
	}
	if n, err := b.PruneAttempts(t.Context(), clock.Now().Add(time.Hour), 1); err != nil || n != 0 {
		t.Errorf("tenant-b pruned %d, %v", n, err)
	}
	if got := attempts(t, open("tenant-a"), identity.AttemptQuery{}); len(got) != 3 {
		t.Errorf("tenant-a has %d entries, want 3", len(got))
	}
}

func testAttemptConcurrent(t *testing.T, open func(string) identity.DiagnosticsLog, clock *stepClock) {
	l := open("tenant-a")
	const each = 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := l.RecordAttempt(t.Context(), identity.Attempt{Connection: "scim", Reference: fmt.Sprintf("%d-%d", w, i)}); err != nil {
					t.Errorf("RecordAttempt: %v", err)
				}
			}
		})
	}
	wg.Wait()
	got := seqs(attempts(t, l, identity.AttemptQuery{Limit: identity.MaxAttemptsPage}))
	if len(got) != workers*each {
		t.Fatalf("%d entries, want %d", len(got), workers*each)
	}
	if !slices.IsSortedFunc(got, func(a, b int64) int { return int(b - a) }) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("seqs not distinct and newest first: %v", got)
	}
}

// testAttemptQueue checks an identity.AttemptQueue: entries queued from
// several goroutines, between entries recorded, are all read back at once
// (a read writes what is queued first) with their own time, in their own
// tenant, distinct Seqs; and a prune counts them.
func testAttemptQueue(t *testing.T, open func(string) identity.DiagnosticsLog, clock *stepClock) {
	a, ok := open("tenant-a").(identity.AttemptQueue)
	if !ok {
		t.Skip("the log is no identity.AttemptQueue: QueueAttempt records through RecordAttempt")
	}
	b := open("tenant-b")
	first := clock.Now().UTC()
	a.QueueAttempt(identity.Attempt{Connection: "scim", Reference: "first"})
	clock.step(time.Minute)
	const each = 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := identity.Attempt{Connection: "scim", Reference: fmt.Sprintf("%d-%d", w, i)}
				if i%3 == 0 {
					if _, err := a.RecordAttempt(t.Context(), e); err != nil {
						t.Errorf("RecordAttempt: %v", err)
					}
					continue
				}
				a.QueueAttempt(e)
			}
		})
	}
	wg.Wait()
	got := attempts(t, a, identity.AttemptQuery{Limit: identity.MaxAttemptsPage})
	if len(got) != workers*each+1 {
		t.Fatalf("%d entries read after queueing, want %d", len(got), workers*each+1)
	}
	s := seqs(got)
	if !slices.IsSortedFunc(s, func(a, b int64) int { return int(b - a) }) || len(slices.Compact(slices.Clone(s))) != len(s) {
		t.Errorf("seqs not distinct and newest first: %v", s)
	}
	if old := got[len(got)-1]; old.Reference != "first" || !old.Time.Truncate(time.Microsecond).Equal(first.Truncate(time.Microsecond)) {
		t.Errorf("oldest entry %q at %v, want \"first\" at %v (the time it was queued)", old.Reference, old.Time, first)
	}
	if other := attempts(t, b, identity.AttemptQuery{}); len(other) != 0 {
		t.Errorf("tenant-b reads %d entries of tenant-a", len(other))
	}
	a.QueueAttempt(identity.Attempt{Connection: "scim", Reference: "last"})
	n, err := a.PruneAttempts(t.Context(), first.Add(time.Second), 0)
	if err != nil || n != 1 {
		t.Fatalf("PruneAttempts of the first entry = %d, %v; want 1", n, err)
	}
	if n, err := a.PruneAttempts(t.Context(), time.Time{}, 1); err != nil || n != workers*each {
		t.Fatalf("PruneAttempts keeping 1 = %d, %v; want %d (the entry queued just before counted)", n, err, workers*each)
	}
	if left := attempts(t, a, identity.AttemptQuery{}); len(left) != 1 || left[0].Reference != "last" {
		t.Errorf("left %+v, want the entry queued last", left)
	}
}
