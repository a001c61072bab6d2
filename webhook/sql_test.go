package webhook_test

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/lease"
	"github.com/rollcall/rollcall/storage/sqlstore"
	"github.com/rollcall/rollcall/storage/sqlstore/sqlstoretest"
	"github.com/rollcall/rollcall/webhook"
)

// replicas opens the same database twice, as two replicas of a host would.
var replicas = map[string]func(t *testing.T) (*sqlstore.DB, *sqlstore.DB){
	"sqlite": func(t *testing.T) (*sqlstore.DB, *sqlstore.DB) {
		path := filepath.Join(t.TempDir(), "rollcall.db")
		open := func() *sqlstore.DB {
			db, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		return open(), open()
	},
	"postgres": func(t *testing.T) (*sqlstore.DB, *sqlstore.DB) {
		dsn := sqlstoretest.DSN(t)
		open := func() *sqlstore.DB {
			db, err := sqlstore.OpenPostgres(context.Background(), dsn, sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		return open(), open()
	},
}

// TestReplicas runs one Deliverer on each of two replicas of one database,
// each under the tenant's lease, while events are logged; then stops the
// one delivering. Every event arrives, in order, never two requests at
// once, and the other replica takes over.
func TestReplicas(t *testing.T) {
	for name, open := range replicas {
		t.Run(name, func(t *testing.T) {
			a, b := open(t)
			var inFlight, overlaps atomic.Int64
			var mu sync.Mutex
			from := map[string]int{}
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				if inFlight.Add(1) > 1 {
					overlaps.Add(1)
				}
				time.Sleep(time.Millisecond)
				inFlight.Add(-1)
				mu.Lock()
				from[r.Header.Get("X-Replica")]++
				mu.Unlock()
				w.WriteHeader(http.StatusOK)
			})
			deliverer := func(db *sqlstore.DB, replica string) *webhook.Deliverer {
				client := loopbackClient()
				client.Transport = headerTransport{client.Transport, replica}
				d, err := webhook.New(webhook.Config{Tenant: "acme", Events: db.Tenant("acme"), Endpoints: db.Webhooks("acme"),
					Client: client, PollInterval: 20 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			da, db := deliverer(a, "a"), deliverer(b, "b")
			if _, err := da.AddEndpoint(t.Context(), identity.WebhookEndpoint{URL: rc.URL, Secrets: []string{secret}}); err != nil {
				t.Fatal(err)
			}
			runner := func(db *sqlstore.DB, owner string) *lease.Runner {
				r, err := lease.New(lease.Config{Store: db.Leases(), Owner: owner, TTL: 400 * time.Millisecond, RetryEvery: 50 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			ctxA, stopA := context.WithCancel(t.Context())
			ctxB, stopB := context.WithCancel(t.Context())
			defer stopA()
			defer stopB()
			var wg sync.WaitGroup
			wg.Go(func() { da.RunLeased(ctxA, runner(a, "a")) })
			for {
				if l, err := a.Leases().Lease(t.Context(), da.Job()); err == nil && l.Owner == "a" {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			wg.Go(func() { db.RunLeased(ctxB, runner(b, "b")) })

			var want []int64
			for i := range 20 {
				want = append(want, appendEvents(t, a.Tenant("acme"), identity.SystemClock, 5, identity.UserCreated)...)
				if i == 10 {
					// Stop the replica that delivers, once it has delivered
					// (on PostgreSQL an event waits for the transactions
					// older than its own, anywhere on the server, to end);
					// the other takes over.
					for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(5 * time.Millisecond) {
						mu.Lock()
						delivered := from["a"] > 0
						mu.Unlock()
						if delivered {
							break
						}
					}
					stopA()
				}
				time.Sleep(10 * time.Millisecond)
			}
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) && !containsAll(rc.seqs(), want) {
				time.Sleep(20 * time.Millisecond)
			}
			stopB()
			wg.Wait()
			got := rc.seqs()
			if !containsAll(got, want) {
				t.Fatalf("received %d of %d events", len(got), len(want))
			}
			// At least once and in order: after the handover the new holder
			// may send again what the old one sent after its last saved
			// cursor; a receiver drops what it has seen by seq. What it keeps
			// (each seq's first arrival) must be in order, with no gap.
			if first := firstArrivals(got); !slices.IsSorted(first) || !containsAll(first, want) {
				t.Errorf("events out of order: %v", got)
			}
			if overlaps.Load() != 0 {
				t.Errorf("%d requests overlapped: two replicas delivered at once", overlaps.Load())
			}
			mu.Lock()
			if from["a"] == 0 || from["b"] == 0 {
				t.Errorf("requests by replica %v: want both, a then b", from)
			}
			mu.Unlock()
			t.Logf("%d events, %d requests; by replica %v; duplicates %v", len(want), len(got), from, dups(got))
		})
	}
}

func containsAll(got, want []int64) bool {
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok && !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// headerTransport names the replica in each request.
type headerTransport struct {
	rt      http.RoundTripper
	replica string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Replica", h.replica)
	return h.rt.RoundTrip(r)
}

func dups(s []int64) []int64 {
	var d []int64
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			d = append(d, s[i])
		}
	}
	return d
}

// firstArrivals keeps each seq's first arrival, as a receiver that drops
// what it has seen does.
func firstArrivals(s []int64) []int64 {
	var out []int64
	var last int64
	for _, v := range s {
		if v > last {
			out = append(out, v)
			last = v
		}
	}
	return out
}
