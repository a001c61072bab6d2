package scim_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/scim"
	"github.com/rollcall/rollcall/storage/memory"
)

// benchEnv is a handler over a memory store seeded with n users
// (user<i>@example.com), kept across the runs of a benchmark.
type benchEnv struct {
	h     http.Handler
	dir   *identity.Directory
	store *memory.Store
}

var (
	benchMu   sync.Mutex
	benchEnvs = map[string]*benchEnv{}
)

func newBenchEnv(b *testing.B, key string, users int, cfg scim.Config) *benchEnv {
	benchMu.Lock()
	defer benchMu.Unlock()
	if e := benchEnvs[key]; e != nil {
		return e
	}
	store := memory.New().Tenant("bench")
	dir, err := identity.New(store, identity.Config{Tenant: "bench", GroupSource: identity.SourceSCIM})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	for i := range users {
		name := fmt.Sprintf("user%d@example.com", i)
		if _, err := store.CreateUser(ctx, identity.User{UserName: name, Email: name, Active: true, Version: 1}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC() // start the benchmark with the seeding's garbage collected
	cfg.Resolve, cfg.Credentials = identity.Fixed(identity.Tenant{Directory: dir}), scim.Tokens(scim.TokenHash(testToken))
	h, err := scim.New(cfg, identity.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{h: h, dir: dir, store: store}
	benchEnvs[key] = e
	return e
}

// serve sends one request, built by hand rather than by httptest (whose
// request parsing would outweigh the handler), and checks its status.
func (e *benchEnv) serve(b *testing.B, method, target, body string, want int) {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		b.Fatal(err)
	}
	r := &http.Request{Method: method, URL: u, RequestURI: target, Host: "example.test", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Authorization": {"Bearer " + testToken}}, Body: http.NoBody}
	if body != "" {
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	w := &statusWriter{h: http.Header{}}
	e.h.ServeHTTP(w, r)
	if w.code != want {
		b.Fatalf("%s %s: %d %s", method, target, w.code, w.body.String())
	}
}

// statusWriter keeps the status, and the body of an error.
type statusWriter struct {
	h    http.Header
	code int
	body strings.Builder
}

func (w *statusWriter) Header() http.Header  { return w.h }
func (w *statusWriter) WriteHeader(code int) { w.code = code }
func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = 200
	}
	if w.code >= 300 {
		w.body.Write(p)
	}
	return len(p), nil
}

// GET /Users?filter=userName eq "..." is one index lookup: its cost does not
// grow with the number of users.
func BenchmarkFilterUserNameEq(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			e := newBenchEnv(b, fmt.Sprint("users", n), n, scim.Config{})
			i := 0
			for b.Loop() {
				f := url.QueryEscape(fmt.Sprintf(`userName eq "user%d@example.com"`, (i*7919)%n))
				e.serve(b, "GET", "/Users?filter="+f+"&startIndex=1&count=100", "", 200)
				i++
			}
		})
	}
}

// POST /Users: user creates per second through the core.
func BenchmarkCreateUser(b *testing.B) {
	e := newBenchEnv(b, "create", 0, scim.Config{})
	for b.Loop() {
		i := benchSeq.Add(1)
		e.serve(b, "POST", "/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"new%d@example.com","name":{"givenName":"N","familyName":"U"},"emails":[{"value":"new%d@example.com","type":"work","primary":true}],"active":true}`, i, i), 201)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

// PATCH add of one member to a group of 100,000 members (Entra's body,
// answered with 204 as Entra prefers).
func BenchmarkPatchMemberAdd100k(b *testing.B) {
	const members = 100_000
	e := newBenchEnv(b, "group100k", members, scim.Config{PatchNoContent: true})
	benchMu.Lock()
	gid, _ := benchGroup[e]
	if gid == "" {
		ctx := b.Context()
		err := e.dir.Do(ctx, identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
			g, err := tx.CreateGroup(ctx, "Everyone", "")
			if err != nil {
				return err
			}
			gid = g.ID
			page, err := tx.Reader().ListUsers(ctx, identity.UserQuery{Limit: members})
			if err != nil {
				return err
			}
			for _, u := range page.Users {
				if _, err := tx.AddMember(ctx, gid, u.ID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		benchGroup[e] = gid
	}
	benchMu.Unlock()
	// The users to add, outside the group.
	extra := make([]string, b.N)
	for i := range extra {
		name := fmt.Sprintf("extra%d@example.com", benchSeq.Add(1))
		u, err := e.store.CreateUser(b.Context(), identity.User{UserName: name, Active: true, Version: 1})
		if err != nil {
			b.Fatal(err)
		}
		extra[i] = u.ID
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.serve(b, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+extra[i]+`"}]}]}`, 204)
	}
}

var (
	benchGroup = map[*benchEnv]string{}
	benchSeq   atomic.Int64 // unique names across runs
)
