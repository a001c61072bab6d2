package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/storage/sqlstore"
	"github.com/rollcall/rollcall/storage/sqlstore/sqlstoretest"
	"github.com/rollcall/rollcall/webhook"
)

// benchStores open a tenant's event log and webhook store.
var benchStores = []struct {
	name string
	open func(b *testing.B) (identity.EventLog, identity.WebhookStore)
}{
	{"memory", func(b *testing.B) (identity.EventLog, identity.WebhookStore) {
		db := memory.New()
		return db.Tenant("acme"), db.Webhooks("acme")
	}},
	{"sqlite", func(b *testing.B) (identity.EventLog, identity.WebhookStore) {
		db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "rollcall.db"), sqlstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db.Tenant("acme"), db.Webhooks("acme")
	}},
	{"postgres", func(b *testing.B) (identity.EventLog, identity.WebhookStore) {
		db := sqlstoretest.Postgres(b, sqlstore.Options{})
		return db.Tenant("acme"), db.Webhooks("acme")
	}},
}

// benchReceiver answers 204 and records when each seq arrived.
type benchReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	arrived map[int64]time.Time
	done    chan struct{}
	want    int
}

func newBenchReceiver(b *testing.B, want int) *benchReceiver {
	rc := &benchReceiver{arrived: make(map[int64]time.Time, want), done: make(chan struct{}), want: want}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Seq int64 `json:"seq"`
		}
		if err := decodeSeq(r, &p); err != nil {
			b.Error(err)
		}
		now := time.Now()
		rc.mu.Lock()
		if _, dup := rc.arrived[p.Seq]; !dup {
			rc.arrived[p.Seq] = now
			if len(rc.arrived) == rc.want {
				close(rc.done)
			}
		}
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(rc.Close)
	return rc
}

func benchDeliverer(b *testing.B, log identity.EventLog, hooks identity.WebhookStore, url string) *webhook.Deliverer {
	d, err := webhook.New(webhook.Config{Tenant: "acme", Events: log, Endpoints: hooks, Client: loopbackClient(), PollInterval: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.AddEndpoint(context.Background(), identity.WebhookEndpoint{URL: url, Secrets: []string{secret}}); err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkThroughput delivers b.N logged events, one request each (no
// batching), to a receiver on loopback: events/s.
func BenchmarkThroughput(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			log, hooks := st.open(b)
			rc := newBenchReceiver(b, b.N)
			d := benchDeliverer(b, log, hooks, rc.URL)
			for start := 0; start < b.N; start += 1000 {
				appendEvents(b, log, identity.SystemClock, min(1000, b.N-start), identity.UserUpdated)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b.ResetTimer()
			start := time.Now()
			go d.Run(ctx)
			<-rc.done
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
		})
	}
}

// BenchmarkDelay logs one event at a time, 500 a second, each in its own
// commit, waking the Deliverer as a Directory's EventSink would; it reports
// the delay from the commit's return to the event's arrival at the
// receiver, at the 50th and 99th percentiles.
func BenchmarkDelay(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			log, hooks := st.open(b)
			rc := newBenchReceiver(b, b.N)
			d := benchDeliverer(b, log, hooks, rc.URL)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go d.Run(ctx)
			committed := make(map[int64]time.Time, b.N)
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			b.ResetTimer()
			for range b.N {
				<-tick.C
				seq := appendEvents(b, log, identity.SystemClock, 1, identity.UserUpdated)[0]
				committed[seq] = time.Now()
				d.Notify()
			}
			<-rc.done
			b.StopTimer()
			delays := make([]time.Duration, 0, b.N)
			rc.mu.Lock()
			for seq, at := range rc.arrived {
				delays = append(delays, at.Sub(committed[seq]))
			}
			rc.mu.Unlock()
			slices.Sort(delays)
			b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
