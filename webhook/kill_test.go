package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/lease"
	"github.com/rollcall/rollcall/storage/sqlstore"
	"github.com/rollcall/rollcall/storage/sqlstore/sqlstoretest"
	"github.com/rollcall/rollcall/webhook"
)

// The environment of a replica process that TestKillReplica starts: the
// test binary runs as that replica instead of running the tests.
const (
	envReplicaDB      = "ROLLCALL_WEBHOOK_REPLICA_DB" // "sqlite:<path>" or "postgres:<dsn>"
	replicaTTL        = 500 * time.Millisecond
	replicaRetryEvery = 100 * time.Millisecond
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(envReplicaDB); spec != "" {
		if err := runReplica(spec); err != nil {
			fmt.Fprintln(os.Stderr, "replica:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func openSpec(ctx context.Context, spec string) (*sqlstore.DB, error) {
	if path, ok := cutPrefix(spec, "sqlite:"); ok {
		return sqlstore.OpenSQLite(ctx, path, sqlstore.Options{})
	}
	dsn, _ := cutPrefix(spec, "postgres:")
	return sqlstore.OpenPostgres(ctx, dsn, sqlstore.Options{})
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// replicaDeliverer is the Deliverer and lease runner each replica runs.
func replicaDeliverer(db *sqlstore.DB, name string) (*webhook.Deliverer, *lease.Runner, error) {
	client := loopbackClient()
	client.Transport = headerTransport{client.Transport, name}
	d, err := webhook.New(webhook.Config{Tenant: "acme", Events: db.Tenant("acme"), Endpoints: db.Webhooks("acme"),
		Client: client, PollInterval: 50 * time.Millisecond, Timeout: 30 * time.Second})
	if err != nil {
		return nil, nil, err
	}
	r, err := lease.New(lease.Config{Store: db.Leases(), Owner: name, TTL: replicaTTL, RetryEvery: replicaRetryEvery})
	return d, r, err
}

// runReplica delivers until it is killed.
func runReplica(spec string) error {
	ctx := context.Background()
	db, err := openSpec(ctx, spec)
	if err != nil {
		return err
	}
	d, r, err := replicaDeliverer(db, "child")
	if err != nil {
		return err
	}
	return d.RunLeased(ctx, r)
}

// TestKillReplica runs a replica in a process of its own, kills it with
// SIGKILL while a request of it is in flight, and checks that the replica
// in this process takes the deliveries over within the lease's bound and
// that every event arrives.
func TestKillReplica(t *testing.T) {
	specs := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "rollcall.db") },
		"postgres": func(t *testing.T) string { return "postgres:" + sqlstoretest.DSN(t) },
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) { testKillReplica(t, spec(t)) })
	}
}

func testKillReplica(t *testing.T, spec string) {
	db, err := openSpec(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var (
		mu        sync.Mutex
		fromChild int
		firstOwn  time.Time
	)
	blocked := make(chan struct{})
	var once sync.Once
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		replica := r.Header.Get("X-Replica")
		mu.Lock()
		if replica == "child" {
			fromChild++
		}
		n := fromChild
		mu.Unlock()
		if replica == "child" && n == 21 {
			once.Do(func() { close(blocked) })
			<-r.Context().Done() // in flight when the child dies
			return
		}
		mu.Lock()
		if replica == "parent" && firstOwn.IsZero() {
			firstOwn = time.Now()
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	d, r, err := replicaDeliverer(db, "parent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddEndpoint(t.Context(), identity.WebhookEndpoint{URL: rc.URL, Secrets: []string{secret}}); err != nil {
		t.Fatal(err)
	}
	want := appendEvents(t, db.Tenant("acme"), identity.SystemClock, 50, identity.UserCreated)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), envReplicaDB+"="+spec)
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	select {
	case <-blocked:
	case <-time.After(30 * time.Second):
		t.Fatal("the child replica never delivered 20 events")
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { d.RunLeased(ctx, r) }) // waits: the child holds the lease
	time.Sleep(replicaTTL)                // the child still holds it while it lives
	mu.Lock()
	early := !firstOwn.IsZero()
	mu.Unlock()
	if early {
		t.Error("this replica delivered while the child held the lease")
	}
	if err := child.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	killed := time.Now()
	child.Wait()

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !containsAll(sortedSeqs(rc), want) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if !containsAll(sortedSeqs(rc), want) {
		t.Fatalf("after the kill, %d distinct events of %d arrived", len(slices.Compact(sortedSeqs(rc))), len(want))
	}
	byReplica := map[string][]int64{}
	for _, req := range rc.requests() {
		byReplica[req.header.Get("X-Replica")] = append(byReplica[req.header.Get("X-Replica")], req.payload.Seq)
	}
	for name, seqs := range byReplica {
		if !slices.IsSorted(seqs) {
			t.Errorf("replica %s sent out of order: %v", name, seqs)
		}
	}
	took := firstOwn.Sub(killed)
	if bound := replicaTTL + replicaRetryEvery; took > bound+time.Second {
		t.Errorf("takeover %v after SIGKILL, want within about TTL + RetryEvery = %v", took, bound)
	}
	resent := len(byReplica["parent"]) - (len(want) - 20)
	t.Logf("takeover %v after SIGKILL (TTL %v, retry %v); child sent %d (the 21st in flight), this replica %d, %d sent again",
		took, replicaTTL, replicaRetryEvery, len(byReplica["child"]), len(byReplica["parent"]), resent)
	if resent > webhook.DefaultCheckpoint {
		t.Errorf("%d events sent again, want at most a checkpoint's worth (%d)", resent, webhook.DefaultCheckpoint)
	}
}

func sortedSeqs(rc *receiver) []int64 {
	s := rc.seqs()
	slices.Sort(s)
	return s
}
