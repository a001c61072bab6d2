package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/internal/floorbench"
	"github.com/rollcall/rollcall/storage/storagetest"
)

func TestDiagnosticsConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storagetest.RunDiagnostics(t, func(t *testing.T, clock identity.Clock) func(string) identity.DiagnosticsLog {
				db := b.open(t, Options{Clock: clock})
				return func(tenant string) identity.DiagnosticsLog { return db.Diagnostics(tenant) }
			})
		})
	}
}

// TestRecordAttemptBatched records from many goroutines at once, which on
// SQLite share transactions, and checks that each caller got the Seq of its
// own entry, that no entry was lost or doubled, and that a caller whose
// context has ended records nothing.
func TestRecordAttemptBatched(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t, Options{})
			const callers, each = 16, 25
			got := make(map[int64]string)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for w := range callers {
				wg.Go(func() {
					log := db.Diagnostics(fmt.Sprintf("tenant-%d", w%2))
					for i := range each {
						ref := fmt.Sprintf("%d-%d", w, i)
						a, err := log.RecordAttempt(t.Context(), identity.Attempt{Connection: "scim", Reference: ref})
						if err != nil {
							t.Errorf("RecordAttempt %s: %v", ref, err)
							return
						}
						mu.Lock()
						if prev, ok := got[a.Seq]; ok {
							t.Errorf("seq %d returned for %s and %s", a.Seq, prev, ref)
						}
						got[a.Seq] = ref
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			n := 0
			for _, tenant := range []string{"tenant-0", "tenant-1"} {
				as, err := db.Diagnostics(tenant).Attempts(t.Context(), identity.AttemptQuery{Limit: identity.MaxAttemptsPage})
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range as {
					if got[a.Seq] != a.Reference {
						t.Errorf("entry %d of %s is %q, its caller was told %q", a.Seq, tenant, a.Reference, got[a.Seq])
					}
				}
				n += len(as)
			}
			if n != callers*each {
				t.Errorf("%d entries stored, want %d", n, callers*each)
			}

			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if _, err := db.Diagnostics("tenant-0").RecordAttempt(ctx, identity.Attempt{Connection: "scim", Reference: "late"}); !errors.Is(err, context.Canceled) {
				t.Errorf("RecordAttempt under an ended context: %v, want context.Canceled", err)
			}
			if as, err := db.Diagnostics("tenant-0").Attempts(t.Context(), identity.AttemptQuery{Reference: "late"}); err != nil || len(as) != 0 {
				t.Errorf("the late entry: %v, %v; want none", as, err)
			}
		})
	}
}

// TestAttemptsUsePartialIndexes checks on SQLite that each lookup of
// Attempts by reference and by user reads the partial index of its column,
// which indexes only the entries that have a value: the query must name the
// index's condition for the planner to take it. (PostgreSQL's planner picks
// by the table's statistics, and scans a small table whatever the indexes.)
func TestAttemptsUsePartialIndexes(t *testing.T) {
	db := openSQLiteFile(t, Options{})
	for _, c := range []struct {
		q    identity.AttemptQuery
		want []string
	}{
		{identity.AttemptQuery{Reference: "REF1"}, []string{"rollcall_attempts_reference"}},
		{identity.AttemptQuery{User: "ann@example.com"},
			[]string{"rollcall_attempts_user", "rollcall_attempts_subject", "rollcall_attempts_email"}},
	} {
		query, args := attemptsQuery("acme", c.q)
		rows, err := db.rdb.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan strings.Builder
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(detail + "\n")
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		for _, index := range c.want {
			if !strings.Contains(plan.String(), "INDEX "+index+" ") {
				t.Errorf("%+v: the plan does not use %s:\n%s", c.q, index, plan.String())
			}
		}
	}
}

// BenchmarkDiagnostics times what a sign-in adds (RecordAttempt) and an
// admin's lookup by user in a log of 10,000 entries (Attempts).
func BenchmarkDiagnostics(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			log := be.open(b, Options{}).Diagnostics("acme")
			a := identity.Attempt{Connection: "saml:entra", Step: identity.StepACS, Outcome: identity.OutcomeFailure,
				Reason: "audience", Detail: "AudienceRestriction does not name this SP", Subject: "s", Email: "ann@example.com", Reference: "REF"}
			b.Run("RecordAttempt", func(b *testing.B) {
				for b.Loop() {
					if _, err := log.RecordAttempt(b.Context(), a); err != nil {
						b.Fatal(err)
					}
				}
			})
			for i := 0; i < 10_000; i++ {
				a.Email, a.Reference = fmt.Sprintf("user%d@example.com", i%500), fmt.Sprintf("REF%d", i)
				if _, err := log.RecordAttempt(b.Context(), a); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("AttemptsByUser", func(b *testing.B) {
				for b.Loop() {
					as, err := log.Attempts(b.Context(), identity.AttemptQuery{User: "user7@example.com", Limit: 50})
					if err != nil || len(as) == 0 {
						b.Fatal(len(as), err)
					}
				}
			})
			b.Run("AttemptsByReference", func(b *testing.B) {
				for b.Loop() {
					as, err := log.Attempts(b.Context(), identity.AttemptQuery{Reference: "REF4242"})
					if err != nil || len(as) != 1 {
						b.Fatal(len(as), err)
					}
				}
			})
		})
	}
}

// BenchmarkRecordAttemptCallers records entries of one tenant from 1 and
// from 8 goroutines at once, as a SCIM server's requests do, and reports
// the rate and the process's CPU time an entry; on SQLite, concurrent
// entries share commits.
func BenchmarkRecordAttemptCallers(b *testing.B) {
	for _, be := range backends {
		for _, callers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/callers=%d", be.name, callers), func(b *testing.B) {
				log := be.open(b, Options{}).Diagnostics("acme")
				a := identity.Attempt{Connection: "scim", Step: identity.StepRequest, Outcome: identity.OutcomeSuccess,
					Detail: "POST /Users"}
				r := floorbench.Run(b, callers, func(ctx context.Context) error {
					_, err := log.RecordAttempt(ctx, a)
					return err
				})
				b.ReportMetric(r.Rate, "entries/s")
				b.ReportMetric(r.CPU, "cpu-µs/op")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
