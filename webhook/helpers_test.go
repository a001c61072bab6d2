package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/netguard"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/webhook"
)

// A fixed secret, so that failures are reproducible.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// received is one request a receiver took.
type received struct {
	header  http.Header
	body    []byte
	payload webhook.Payload
}

// receiver is a webhook receiver on loopback whose answers a test scripts.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	answers []func(w http.ResponseWriter, r *http.Request) // one per request, then the last again
}

func newReceiver(t *testing.T, answers ...func(w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{answers: answers}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p webhook.Payload
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("receiver: body %q: %v", b, err)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: b, payload: p})
		answer := ok
		if len(rc.answers) > 0 {
			answer = rc.answers[0]
			if len(rc.answers) > 1 {
				rc.answers = rc.answers[1:]
			}
		}
		rc.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// script replaces the answers still to come.
func (rc *receiver) script(answers ...func(w http.ResponseWriter, r *http.Request)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answers = answers
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func (rc *receiver) seqs() []int64 {
	var s []int64
	for _, r := range rc.requests() {
		s = append(s, r.payload.Seq)
	}
	return s
}

func ok(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

func status(code int, body string, header ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// loopbackClient is a netguard client that allows the test's loopback
// receiver.
func loopbackClient() *http.Client {
	return netguard.New(netguard.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 5 * time.Second}).Client()
}

// setup is a tenant with an event log, its endpoints and a Deliverer.
type setup struct {
	store identity.Store
	log   identity.EventLog
	hooks identity.WebhookStore
	clock *identitytest.Clock
	d     *webhook.Deliverer
}

func newSetup(t *testing.T, edit func(*webhook.Config)) *setup {
	t.Helper()
	db := memory.New()
	s := &setup{store: db.Tenant("acme"), hooks: db.Webhooks("acme"), clock: identitytest.NewClock()}
	s.log = s.store.(identity.EventLog)
	cfg := webhook.Config{Tenant: "acme", Events: s.log, Endpoints: s.hooks, Client: loopbackClient(), Clock: s.clock}
	if edit != nil {
		edit(&cfg)
	}
	d, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.d = d
	return s
}

// appendEvents records n user.created events and returns their Seqs.
func appendEvents(t testing.TB, log identity.EventLog, clock identity.Clock, n int, typ identity.EventType) []int64 {
	t.Helper()
	events := make([]identity.Event, n)
	for i := range events {
		events[i] = identity.Event{Type: typ, Source: "scim", UserID: "user-" + string(rune('a'+i%26)), Time: clock.Now()}
	}
	if err := log.AppendEvents(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	seqs := make([]int64, n)
	for i, e := range events {
		seqs[i] = e.Seq
	}
	return seqs
}

// verify checks a request's signature with the Standard Webhooks
// project's own Go library, for each of the secrets.
func verify(t *testing.T, r received, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.VerifyIgnoringTimestamp(r.body, r.header); err != nil {
			t.Errorf("seq %d: the standard-webhooks library refuses the signature with secret %.10s...: %v", r.payload.Seq, s, err)
		}
	}
}

func decodeSeq(r *http.Request, v any) error { return json.NewDecoder(r.Body).Decode(v) }
