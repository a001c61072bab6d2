package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/storage/sqlstore"
	"github.com/rollcall/rollcall/storage/sqlstore/sqlstoretest"
	"github.com/rollcall/rollcall/webhook"
)

// receiver is a webhook endpoint on loopback: it checks each request's
// signature and records the seq of each event in the order received.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret []string // any of them verifies
	seqs   []int64
	types  []string
	hang   chan struct{} // when set, the next request waits for it to close
	hung   chan struct{} // closed when a request hangs
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	secrets := rc.secret
	hang, hung := rc.hang, rc.hung
	rc.hang = nil
	rc.mu.Unlock()
	ok := false
	for _, s := range secrets {
		ok = ok || webhook.Verify(s, r.Header, body, time.Now(), 0) == nil
	}
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var p struct {
		Seq  int64  `json:"seq"`
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &p) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.seqs = append(rc.seqs, p.Seq)
	rc.types = append(rc.types, p.Type)
	rc.mu.Unlock()
	if hang != nil {
		close(hung)
		<-hang
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) setSecrets(s ...string) {
	rc.mu.Lock()
	rc.secret = s
	rc.mu.Unlock()
}

func (rc *receiver) received() []int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]int64(nil), rc.seqs...)
}

// tenantEvents reads every event seq of a tenant through the operator API.
func tenantEvents(t *testing.T, base, tenant string) []int64 {
	t.Helper()
	var seqs []int64
	after := int64(0)
	for {
		status, _, body := do(t, "GET", fmt.Sprintf("%s/api/v1/tenants/%s/events?after=%d&limit=1000", base, tenant, after), nil)
		require.Equal(t, http.StatusOK, status, "%s", body)
		var page struct {
			Events []struct {
				Seq int64 `json:"seq"`
			} `json:"events"`
		}
		require.NoError(t, json.Unmarshal(body, &page))
		if len(page.Events) == 0 {
			return seqs
		}
		for _, e := range page.Events {
			seqs = append(seqs, e.Seq)
		}
		after = seqs[len(seqs)-1]
	}
}

// scimAdd creates a user through a tenant's SCIM endpoint.
func scimAdd(t *testing.T, base, tenant, token, name string) {
	t.Helper()
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"emails":[{"value":%q,"primary":true}],"active":true}`,
		name+"@acme.example", name+"@acme.example")
	req, err := http.NewRequestWithContext(t.Context(), "POST", base+"/t/"+tenant+"/scim/v2/Users", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", b)
}

func createTenantWithSCIM(t *testing.T, base, id string, extra map[string]any) string {
	t.Helper()
	st := map[string]any{"scim": map[string]any{"enabled": true}}
	for k, v := range extra {
		st[k] = v
	}
	status, _, body := do(t, "POST", base+"/api/v1/tenants", map[string]any{"id": id, "settings": st})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	status, _, body = do(t, "POST", base+"/api/v1/tenants/"+id+"/scim-tokens", map[string]any{"name": "entra"})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var tok struct{ Token string }
	require.NoError(t, json.Unmarshal(body, &tok))
	return tok.Token
}

type createdEndpoint struct {
	Webhook endpointJSON `json:"webhook"`
	Secret  string       `json:"secret"`
}

// TestOperatorWebhooks manages a runtime tenant's endpoint through the
// operator API: the secret is shown once and sealed at rest; deliveries are
// signed; rotation signs with both secrets; event types, disable, replay,
// the delivery log and delete.
func TestOperatorWebhooks(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "rollcall.db")
	addr, stderr, _ := started(t, []string{"-addr", "127.0.0.1:0", "-db", dbPath},
		map[string]string{EnvAdminToken: testToken, EnvWebhookAllow: "127.0.0.0/8", EnvTenantScan: "100ms"})
	base := "http://" + addr
	token := createTenantWithSCIM(t, base, "acme", nil)
	rc := newReceiver(t)

	status, _, body := do(t, "POST", base+"/api/v1/tenants/acme/webhooks", map[string]any{"url": rc.srv.URL + "/hook", "from": 1})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var ep createdEndpoint
	require.NoError(t, json.Unmarshal(body, &ep))
	require.True(t, strings.HasPrefix(ep.Secret, webhook.SecretPrefix))
	rc.setSecrets(ep.Secret)
	hooks := base + "/api/v1/tenants/acme/webhooks/" + ep.Webhook.ID

	// The secret is never shown again, and not kept in clear.
	for _, u := range []string{base + "/api/v1/tenants/acme/webhooks", hooks} {
		status, _, body = do(t, "GET", u, nil)
		require.Equal(t, http.StatusOK, status)
		assert.NotContains(t, string(body), ep.Secret)
		assert.Contains(t, string(body), `"secrets":1`)
	}
	raw, err := sql.Open("sqlite", dbPath)
	require.NoError(t, err)
	defer raw.Close()
	var stored string
	require.NoError(t, raw.QueryRow("SELECT secrets FROM rollcall_webhooks").Scan(&stored))
	assert.NotContains(t, stored, strings.TrimPrefix(ep.Secret, webhook.SecretPrefix))
	assert.Contains(t, stored, "v1:")

	// The tenant's events from 1 arrive, signed, then a SCIM write.
	scimAdd(t, base, "acme", token, "ada")
	all := tenantEvents(t, base, "acme")
	require.Eventually(t, func() bool { return len(rc.received()) >= len(all) }, 10*time.Second, 20*time.Millisecond, "%s", stderr)
	assert.Equal(t, all, rc.received()[:len(all)])

	// Rotation: the new secret alone verifies; drop-old leaves one.
	status, _, body = do(t, "POST", hooks+"/secrets/rotate", nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	var rot createdEndpoint
	require.NoError(t, json.Unmarshal(body, &rot))
	assert.Equal(t, 2, rot.Webhook.Secrets)
	rc.setSecrets(rot.Secret)
	scimAdd(t, base, "acme", token, "bob")
	require.Eventually(t, func() bool { return len(rc.received()) > len(all) }, 10*time.Second, 20*time.Millisecond)
	rc.setSecrets(ep.Secret) // the old one still signs
	scimAdd(t, base, "acme", token, "cy")
	require.Eventually(t, func() bool { return len(rc.received()) > len(all)+1 }, 10*time.Second, 20*time.Millisecond)
	status, _, body = do(t, "POST", hooks+"/secrets/drop-old", nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Contains(t, string(body), `"secrets":1`)
	assert.NotContains(t, string(body), rot.Secret)

	// Event types: only user.deactivated; an unknown type is named.
	status, _, body = do(t, "PATCH", hooks, map[string]any{"eventTypes": []string{"not a type"}})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, string(body), "eventTypes[0]")
	status, _, body = do(t, "PATCH", hooks, map[string]any{"eventTypes": []string{"user.deactivated"}}, "If-Match", `"1"`)
	assert.Equal(t, http.StatusPreconditionFailed, status, "a stale If-Match: %s", body)
	status, hdr, _ := do(t, "GET", hooks, nil)
	require.Equal(t, http.StatusOK, status)
	status, _, body = do(t, "PATCH", hooks, map[string]any{"eventTypes": []string{"user.deactivated"}}, "If-Match", hdr.Get("ETag"))
	require.Equal(t, http.StatusOK, status, "%s", body)
	rc.setSecrets(rot.Secret)
	n := len(rc.received())
	scimAdd(t, base, "acme", token, "dee")
	time.Sleep(1500 * time.Millisecond)
	assert.Len(t, rc.received(), n, "user.created is not sent")

	// Disabled: nothing; replay from 1 enables it and sends every
	// user.deactivated (none) ... so widen the types again first.
	status, _, _ = do(t, "PATCH", hooks, map[string]any{"eventTypes": []string{}})
	require.Equal(t, http.StatusOK, status)
	status, _, body = do(t, "POST", hooks+"/disable", map[string]any{"reason": "maintenance"})
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Contains(t, string(body), `"disabledReason":"maintenance"`)
	scimAdd(t, base, "acme", token, "eve")
	time.Sleep(1500 * time.Millisecond)
	assert.Len(t, rc.received(), n, "a disabled endpoint gets nothing")
	status, _, body = do(t, "POST", hooks+"/replay?from=x", nil)
	assert.Equal(t, http.StatusBadRequest, status, "%s", body)
	status, _, body = do(t, "POST", hooks+"/replay?from=1", nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	all = tenantEvents(t, base, "acme")
	require.Eventually(t, func() bool { return len(rc.received()) >= n+len(all) }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, all, rc.received()[n:n+len(all)], "replayed from 1, in order")

	// The delivery log, newest first, paged.
	status, _, body = do(t, "GET", hooks+"/deliveries?limit=2", nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	var log struct {
		Deliveries []deliveryJSON `json:"deliveries"`
		Next       int64          `json:"next"`
	}
	require.NoError(t, json.Unmarshal(body, &log))
	require.Len(t, log.Deliveries, 2)
	assert.Equal(t, http.StatusNoContent, log.Deliveries[0].Status)
	assert.Greater(t, log.Deliveries[0].ID, log.Deliveries[1].ID)
	assert.Equal(t, log.Deliveries[1].ID, log.Next)

	// Unknown tenant or endpoint; delete.
	status, _, _ = do(t, "GET", base+"/api/v1/tenants/nope/webhooks", nil)
	assert.Equal(t, http.StatusNotFound, status)
	status, _, _ = do(t, "DELETE", hooks, nil)
	assert.Equal(t, http.StatusNoContent, status)
	status, _, _ = do(t, "GET", hooks, nil)
	assert.Equal(t, http.StatusNotFound, status)

	// The configured tenant has webhooks too.
	status, _, body = do(t, "POST", base+"/api/v1/tenants/default/webhooks", map[string]any{"url": rc.srv.URL + "/default"})
	assert.Equal(t, http.StatusCreated, status, "%s", body)
}

// TestWebhookLoopbackRefusedByDefault: without EnvWebhookAllow the
// endpoint on loopback is refused when delivering, and the log says so.
func TestWebhookLoopbackRefusedByDefault(t *testing.T) {
	addr, _, _ := started(t, []string{"-addr", "127.0.0.1:0", "-db", ":memory:"}, map[string]string{EnvAdminToken: testToken})
	base := "http://" + addr
	createTenantWithSCIM(t, base, "acme", nil)
	rc := newReceiver(t)
	status, _, body := do(t, "POST", base+"/api/v1/tenants/acme/webhooks", map[string]any{"url": rc.srv.URL, "from": 1})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var ep createdEndpoint
	require.NoError(t, json.Unmarshal(body, &ep))
	var log struct {
		Deliveries []deliveryJSON `json:"deliveries"`
	}
	require.Eventually(t, func() bool {
		_, _, body = do(t, "GET", base+"/api/v1/tenants/acme/webhooks/"+ep.Webhook.ID+"/deliveries", nil)
		return json.Unmarshal(body, &log) == nil && len(log.Deliveries) > 0
	}, 10*time.Second, 50*time.Millisecond)
	assert.Equal(t, 0, log.Deliveries[0].Status)
	assert.Contains(t, log.Deliveries[0].Error, "loopback")
	assert.Empty(t, rc.received())
}

// TestServerProcess is a server process of TestReplicas (the test binary run
// again); it is skipped otherwise.
func TestServerProcess(t *testing.T) {
	dsn := os.Getenv("ROLLCALL_TEST_SERVER_DSN")
	if dsn == "" {
		t.Skip("a server process of TestReplicas")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err := run(ctx, []string{"-addr", "127.0.0.1:0", "-postgres", dsn}, os.Getenv, os.Stderr, func(a net.Addr) {
		fmt.Fprintf(os.Stderr, "LISTENING %s\n", a)
	})
	require.NoError(t, err)
}

// replica is a server process of TestReplicas.
type replica struct {
	name string
	cmd  *exec.Cmd
	base string
	log  *syncBuffer
}

var listeningLine = regexp.MustCompile(`LISTENING (\S+)`)

func startReplica(t *testing.T, name, dsn string, vars map[string]string) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "ROLLCALL_TEST_SERVER_DSN="+dsn, EnvReplica+"="+name)
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	errPipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	r := &replica{name: name, cmd: cmd, log: &syncBuffer{}}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(r.log, line)
			if m := listeningLine.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		r.base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("replica %s did not start:\n%s", name, r.log)
	}
	return r
}

// googleCounter counts the syncs a fake Directory API sees: one list of
// the groups per sync.
type googleCounter struct {
	mu          sync.Mutex
	times       []time.Time
	inflight    int
	maxInflight int
	gate, hit   chan struct{} // when set, the next list waits for gate
}

func (g *googleCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || r.URL.Path != "/admin/directory/v1/groups" {
			next.ServeHTTP(w, r)
			return
		}
		g.mu.Lock()
		g.times = append(g.times, time.Now())
		g.inflight++
		g.maxInflight = max(g.maxInflight, g.inflight)
		gate, hit := g.gate, g.hit
		g.gate = nil
		g.mu.Unlock()
		if gate != nil {
			close(hit)
			<-gate
		}
		next.ServeHTTP(w, r)
		g.mu.Lock()
		g.inflight--
		g.mu.Unlock()
	})
}

func (g *googleCounter) syncs() []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]time.Time(nil), g.times...)
}

// googleSettings is a runtime tenant's Google section against a counted fake.
func googleSettings(t *testing.T, interval string) (map[string]any, *googleCounter) {
	api, _ := fakeGoogle(t)
	count := &googleCounter{}
	srv := httptest.NewServer(count.wrap(api.Config.Handler))
	t.Cleanup(srv.Close)
	key, err := os.ReadFile(googleKeyFile(t, srv.URL+"/token"))
	require.NoError(t, err)
	return map[string]any{"enabled": true, "keyJSON": string(key), "admin": "admin@acme.example",
		"endpoint": srv.URL, "interval": interval}, count
}

// TestReplicas runs two server processes on one PostgreSQL schema, with
// leases of 1 s: SCIM writes through both reach a loopback receiver, every
// event at least once and in order; each tenant's Google sync runs once per
// interval across the two; the replica delivering is killed with SIGKILL
// while a request is in flight, and the other takes over within the lease's
// bound, losing nothing.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two server processes")
	}
	dsn := sqlstoretest.DSN(t)
	const ttl = time.Second
	vars := map[string]string{
		EnvAdminToken:   testToken,
		EnvSettingsKeys: "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k"), 32)),
		EnvWebhookAllow: "127.0.0.0/8",
		// The tenants' Google endpoint is the fake, on the loopback.
		EnvConnectionAllow: "127.0.0.0/8",
		EnvLeaseTTL:        ttl.String(),
		EnvTenantScan:      "200ms",
	}
	reps := map[string]*replica{"A": startReplica(t, "A", dsn, vars), "B": startReplica(t, "B", dsn, vars)}
	a, b := reps["A"], reps["B"]

	const interval = 2 * time.Second
	gAcme, acmeSyncs := googleSettings(t, interval.String())
	gGlobex, globexSyncs := googleSettings(t, interval.String())
	token := createTenantWithSCIM(t, a.base, "acme", map[string]any{"google": gAcme})
	createTenantWithSCIM(t, b.base, "globex", map[string]any{"google": gGlobex})

	rc := newReceiver(t)
	status, _, body := do(t, "POST", b.base+"/api/v1/tenants/acme/webhooks", map[string]any{"url": rc.srv.URL, "from": 1})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var ep createdEndpoint
	require.NoError(t, json.Unmarshal(body, &ep))
	rc.setSecrets(ep.Secret)

	// Writes through both replicas.
	for i := range 40 {
		scimAdd(t, []*replica{a, b}[i%2].base, "acme", token, fmt.Sprintf("user%02d", i))
	}
	all := tenantEvents(t, a.base, "acme")
	require.Eventually(t, func() bool { return len(rc.received()) >= len(all) }, 20*time.Second, 20*time.Millisecond,
		"A:\n%s\nB:\n%s", a.log, b.log)

	// On-demand sync goes through the sync's lease: while one runs (held
	// at the fake's list of groups), the other replica refuses a second.
	gate, hit := make(chan struct{}), make(chan struct{})
	acmeSyncs.mu.Lock()
	acmeSyncs.gate, acmeSyncs.hit = gate, hit
	acmeSyncs.mu.Unlock()
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", a.base+"/api/v1/tenants/acme/google/sync", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		res.Body.Close()
		first <- res.StatusCode
	}()
	select { // this sync (or a scheduled one) holds the lease now
	case <-hit:
	case <-time.After(20 * time.Second):
		t.Fatalf("no sync reached the fake's groups in 20 s\nA:\n%s\nB:\n%s", a.log, b.log)
	}
	status, _, body = do(t, "POST", b.base+"/api/v1/tenants/acme/google/sync", nil)
	assert.Equal(t, http.StatusConflict, status, "%s", body)
	status, _, body = do(t, "POST", a.base+"/api/v1/tenants/acme/google/sync", nil)
	assert.Equal(t, http.StatusConflict, status, "%s", body)
	close(gate)
	assert.Contains(t, []int{http.StatusNoContent, http.StatusConflict}, <-first)
	status, _, body = do(t, "POST", b.base+"/api/v1/tenants/acme/google/sync", nil)
	assert.Equal(t, http.StatusNoContent, status, "once the first is done: %s", body)
	onDemand := time.Now()

	// Who delivers? The lease says.
	db, err := sqlstore.OpenPostgres(t.Context(), dsn, sqlstore.Options{})
	require.NoError(t, err)
	defer db.Close()
	l, err := db.Leases().Lease(t.Context(), "webhook:acme")
	require.NoError(t, err)
	holder := reps[l.Owner]
	require.NotNil(t, holder, "owner %q", l.Owner)
	other := reps[map[string]string{"A": "B", "B": "A"}[l.Owner]]

	// The next request hangs; the holder is killed while it is in flight.
	hang, hung := make(chan struct{}), make(chan struct{})
	rc.mu.Lock()
	rc.hang, rc.hung = hang, hung
	rc.mu.Unlock()
	for i := range 10 {
		scimAdd(t, other.base, "acme", token, fmt.Sprintf("late%02d", i))
	}
	select {
	case <-hung:
	case <-time.After(10 * time.Second):
		t.Fatal("no request after the writes")
	}
	inFlight := len(rc.received())
	require.NoError(t, holder.cmd.Process.Signal(syscall.SIGKILL))
	killed := time.Now()
	close(hang)
	require.Eventually(t, func() bool { return len(rc.received()) > inFlight }, 10*time.Second, 5*time.Millisecond)
	takeover := time.Since(killed)
	bound := ttl + ttl/3 // the lease's TTL, then the other's next try
	t.Logf("takeover %v after the kill (bound %v plus the first request)", takeover.Round(time.Millisecond), bound)
	assert.Less(t, takeover, bound+500*time.Millisecond)

	for i := range 10 {
		scimAdd(t, other.base, "acme", token, fmt.Sprintf("after%02d", i))
	}
	all = tenantEvents(t, other.base, "acme")
	require.Eventually(t, func() bool {
		got := map[int64]bool{}
		for _, s := range rc.received() {
			got[s] = true
		}
		for _, s := range all {
			if !got[s] {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond, "every event arrives")

	// In order: the seqs grow, but at the handover, where the survivor sends
	// again what the dead one sent since its last checkpoint.
	got := rc.received()
	rewinds := 0
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			rewinds++
			assert.LessOrEqual(t, got[i-1]-got[i], int64(webhook.DefaultCheckpoint), "resent at most a checkpoint's worth")
		}
	}
	assert.LessOrEqual(t, rewinds, 1, "one handover: %v", got)
	t.Logf("%d events, %d requests", len(all), len(got))

	// Google: each tenant synced once per interval across the replicas.
	time.Sleep(2 * interval)
	for name, c := range map[string]*googleCounter{"acme": acmeSyncs, "globex": globexSyncs} {
		ts := c.syncs()
		require.GreaterOrEqual(t, len(ts), 3, name)
		for i := 1; i < len(ts); i++ {
			if name == "acme" && !ts[i].Before(onDemand.Add(-time.Second)) && ts[i].Before(onDemand) {
				continue // the on-demand syncs
			}
			assert.GreaterOrEqual(t, ts[i].Sub(ts[i-1]), interval-100*time.Millisecond, "%s: syncs %d and %d", name, i-1, i)
		}
		span := ts[len(ts)-1].Sub(ts[0])
		if name == "globex" { // acme's on-demand syncs come on top
			assert.LessOrEqual(t, len(ts), int(span/interval)+1, "%s: at most one per interval", name)
		}
		c.mu.Lock()
		assert.Equal(t, 1, c.maxInflight, "%s: never two syncs at once", name)
		c.mu.Unlock()
		t.Logf("%s: %d syncs in %v", name, len(ts), span.Round(time.Millisecond))
	}
}
