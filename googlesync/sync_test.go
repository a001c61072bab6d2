package googlesync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/storage/memory"
)

// env is a tenant's directory with a Syncer pointed at a fake API.
type env struct {
	api    *fakeAPI
	ts     *httptest.Server
	dir    *identity.Directory
	sink   *identitytest.Sink
	syncer *Syncer

	mu     sync.Mutex
	sleeps []time.Duration
}

// newEnv builds an env; the Syncer uses the real generated client, pointed
// at the fake with option.WithEndpoint.
func newEnv(t testing.TB, api *fakeAPI, cfg Config) *env {
	t.Helper()
	e := &env{api: api, sink: &identitytest.Sink{}}
	e.ts = httptest.NewServer(api)
	t.Cleanup(e.ts.Close)
	var err error
	e.dir, err = identity.New(memory.New().Tenant("acme"), identity.Config{
		Tenant: "acme", GroupSource: identity.SourceGoogle, Clock: identitytest.NewClock(), Events: e.sink,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.syncer = e.newSyncer(t, cfg)
	return e
}

func (e *env) newSyncer(t testing.TB, cfg Config) *Syncer {
	t.Helper()
	svc, err := admin.NewService(context.Background(),
		option.WithEndpoint(e.ts.URL+"/"), option.WithHTTPClient(e.ts.Client()))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Service = svc
	s, err := New(cfg, identity.Deps{Clock: identitytest.NewClock()})
	if err != nil {
		t.Fatal(err)
	}
	s.sleep = func(ctx context.Context, d time.Duration) error {
		e.mu.Lock()
		e.sleeps = append(e.sleeps, d)
		e.mu.Unlock()
		return ctx.Err()
	}
	s.jitter = func() float64 { return 0.5 }
	return s
}

// state is the directory as "group: member emails" lines and "email
// active|inactive" lines, sorted.
func (e *env) state(t testing.TB) []string {
	t.Helper()
	ctx := context.Background()
	r := e.dir.Reader()
	var out []string
	gp, err := r.ListGroups(ctx, identity.GroupQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gp.Groups {
		up, err := r.ListUsers(ctx, identity.UserQuery{GroupID: g.ID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var emails []string
		for _, u := range up.Users {
			emails = append(emails, u.Email)
		}
		slices.Sort(emails)
		out = append(out, fmt.Sprintf("%s (%s %s %s): %s", g.Name, g.Kind, g.Source, g.ExternalID, strings.Join(emails, " ")))
	}
	up, err := r.ListUsers(ctx, identity.UserQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range up.Users {
		st := "active"
		if !u.Active {
			st = "inactive"
		}
		out = append(out, fmt.Sprintf("%s %s %s", u.Email, u.Name(), st))
	}
	slices.Sort(out)
	return out
}

func same(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// fixture is an account with five groups in three pages (two a page), up to
// six members a group in pages of two, nested groups with a cycle (backend
// and ops contain each other), a CUSTOMER and an EXTERNAL member, and a user
// listed as suspended.
func fixture() *fakeAPI {
	f := newFakeAPI()
	f.groupCap, f.memberCap = 2, 2
	for i, n := range []string{"ann", "bob", "cid", "dan", "eve", "fay", "gus", "hal"} {
		f.addUser(fmt.Sprintf("u%d", i+1), n+"@example.com", strings.ToUpper(n[:1])+n[1:], "Lee")
	}
	f.addGroup("g1", "eng@example.com", "Engineering", "u:u1", "u:u2", "u:u3", "g:g2", "customer", "x:partner@other.org")
	f.addGroup("g2", "backend@example.com", "Backend", "u:u3", "u:u4", "g:g3")
	f.addGroup("g3", "ops@example.com", "Ops", "u:u5", "g:g2", "s:u6")
	f.addGroup("g4", "sales@example.com", "Sales", "u:u7", "u:u8")
	f.addGroup("g5", "all@example.com", "All", "u:u1")
	return f
}

var fixtureState = []string{
	"All (external google g5): ann@example.com",
	"Backend (external google g2): cid@example.com dan@example.com eve@example.com",
	"Engineering (external google g1): ann@example.com bob@example.com cid@example.com dan@example.com eve@example.com",
	"Ops (external google g3): cid@example.com dan@example.com eve@example.com",
	"Sales (external google g4): gus@example.com hal@example.com",
	"ann@example.com Ann Lee active",
	"bob@example.com Bob Lee active",
	"cid@example.com Cid Lee active",
	"dan@example.com Dan Lee active",
	"eve@example.com Eve Lee active",
	"gus@example.com Gus Lee active",
	"hal@example.com Hal Lee active",
}

func TestSyncFirstAndSecond(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, fixture(), Config{Nested: true})
	rep, err := e.syncer.Sync(ctx, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "directory", e.state(t), fixtureState)
	want := Report{
		Tenant: "acme", Start: identitytest.Epoch, Duration: rep.Duration, PullDuration: rep.PullDuration,
		Groups: 5, Users: 7, Memberships: 14,
		GroupsCreated: 5, MembersAdded: 14, UsersCreated: 7,
		Skipped: Skipped{Customer: 1, External: 1, Suspended: 3},
		// Groups: 3 pages; members: 3+2+2+1+1 pages; users: 7 gets.
		APICalls: 19,
	}
	if !reflect.DeepEqual(rep, want) {
		t.Fatalf("report\n got %+v\nwant %+v", rep, want)
	}
	if got := e.api.count(""); got != 19 {
		t.Fatalf("fake saw %d requests, report says 19", got)
	}
	if e.api.maxPage["members"] != 200 || e.api.maxPage["groups"] != 200 {
		t.Fatalf("maxResults asked: %v, want 200", e.api.maxPage)
	}
	// Groups are linked by the Google group ID, users by the Google user ID.
	u, err := e.dir.Reader().UserByLink(ctx, "google", "u3")
	if err != nil || u.Email != "cid@example.com" || !u.EmailVerified {
		t.Fatalf("user linked to u3: %+v, %v", u, err)
	}
	events := len(e.sink.Events())

	// A second sync changes nothing, writes nothing and asks for no user.
	e.api.resetCounts()
	rep, err = e.syncer.Sync(ctx, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.GroupsCreated+rep.MembersAdded+rep.MembersRemoved+rep.UsersCreated+rep.UsersUpdated != 0 {
		t.Fatalf("second sync changed: %+v", rep)
	}
	if rep.APICalls != 12 || e.api.count("user") != 0 || e.api.count("users") != 0 {
		t.Fatalf("second sync: %d calls (%v), want 12 and no user call", rep.APICalls, e.api.calls)
	}
	if n := len(e.sink.Events()); n != events {
		t.Fatalf("second sync emitted %d events", n-events)
	}
	same(t, "directory after the second sync", e.state(t), fixtureState)
}

func TestSyncDirect(t *testing.T) {
	e := newEnv(t, fixture(), Config{})
	rep, err := e.syncer.Sync(context.Background(), e.dir)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "directory", e.state(t)[:5], []string{
		"All (external google g5): ann@example.com",
		"Backend (external google g2): cid@example.com dan@example.com",
		"Engineering (external google g1): ann@example.com bob@example.com cid@example.com",
		"Ops (external google g3): eve@example.com",
		"Sales (external google g4): gus@example.com hal@example.com",
	})
	if rep.Skipped.Groups != 3 || rep.Memberships != 9 {
		t.Fatalf("report %+v", rep)
	}
}

func TestSyncChanges(t *testing.T) {
	ctx := context.Background()
	api := fixture()
	e := newEnv(t, api, Config{Nested: true})
	// An internal group "Marketing" with ann, made by hand.
	var mkt identity.Group
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	ann, _ := e.dir.Reader().UserByLink(ctx, "google", "u1")
	err := e.dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		if mkt, err = tx.CreateGroup(ctx, "Marketing", ""); err != nil {
			return err
		}
		_, err = tx.AddMember(ctx, mkt.ID, ann.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	eve, _ := e.dir.Reader().UserByLink(ctx, "google", "u5")
	if _, err := e.dir.Deactivate(ctx, identity.SourceManual, eve.ID); err != nil {
		t.Fatal(err)
	}

	api.setMembers("g1", "u:u1", "u:u3", "g:g2") // bob leaves every group
	api.setMembers("g4", "s:u7", "u:u8")         // gus is suspended
	api.mu.Lock()
	api.groups[3].Name = "Sales Team"
	api.mu.Unlock()
	api.addGroup("g6", "marketing@example.com", "marketing", "u:u1") // converts Marketing
	e.sink.Reset()
	rep, err := e.syncer.Sync(ctx, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "directory", e.state(t), []string{
		"All (external google g5): ann@example.com",
		"Backend (external google g2): cid@example.com dan@example.com eve@example.com",
		"Engineering (external google g1): ann@example.com cid@example.com dan@example.com eve@example.com",
		"Marketing (external google g6): ann@example.com",
		"Ops (external google g3): cid@example.com dan@example.com eve@example.com",
		"Sales Team (external google g4): hal@example.com",
		"ann@example.com Ann Lee active",
		"bob@example.com Bob Lee active", // leavers are kept by default
		"cid@example.com Cid Lee active",
		"dan@example.com Dan Lee active",
		"eve@example.com Eve Lee active", // restored
		"gus@example.com Gus Lee inactive",
		"hal@example.com Hal Lee active",
	})
	if rep.GroupsConverted != 1 || rep.GroupsUpdated != 1 || rep.MembersRemoved != 2 ||
		rep.UsersDeactivated != 1 || rep.UsersRestored != 1 || rep.GroupsCreated != 0 || rep.MembersAdded != 0 {
		t.Fatalf("report %+v", rep)
	}
	types := e.sink.Types()
	for _, want := range []identity.EventType{identity.GroupConverted, identity.GroupUpdated, identity.MemberRemoved, identity.UserDeactivated, identity.UserRestored} {
		if !slices.Contains(types, want) {
			t.Errorf("no %s event in %v", want, types)
		}
	}
	g, _ := e.dir.Reader().Group(ctx, mkt.ID)
	if g.Kind != groups.External || g.ExternalID != "g6" {
		t.Fatalf("converted group: %+v", g)
	}
}

func TestSyncDeactivateLeavers(t *testing.T) {
	ctx := context.Background()
	api := fixture()
	e := newEnv(t, api, Config{Nested: true, DeactivateLeavers: true})
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	api.setMembers("g1", "u:u1", "u:u3", "g:g2")
	rep, err := e.syncer.Sync(ctx, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := e.dir.Reader().UserByLink(ctx, "google", "u2")
	if bob.Active || rep.UsersDeactivated != 1 {
		t.Fatalf("bob %+v, report %+v", bob, rep)
	}
}

func TestSyncMemberPolicies(t *testing.T) {
	ctx := context.Background()
	t.Run("include", func(t *testing.T) {
		api := fixture()
		e := newEnv(t, api, Config{CustomerMembers: Include, ExternalMembers: Include})
		rep, err := e.syncer.Sync(ctx, e.dir)
		if err != nil {
			t.Fatal(err)
		}
		st := e.state(t)
		// Engineering holds everyone in the account (but the suspended fay)
		// and the external partner.
		if !strings.HasPrefix(st[2], "Engineering (external google g1): ann@example.com bob@example.com cid@example.com dan@example.com eve@example.com gus@example.com hal@example.com partner@other.org") {
			t.Fatalf("state %q", st)
		}
		if e.api.count("users") == 0 {
			t.Fatal("the account's users were not listed")
		}
		if rep.Skipped.Customer+rep.Skipped.External != 0 {
			t.Fatalf("report %+v", rep)
		}
		if _, err := e.dir.Reader().UserByLink(ctx, "google", "ext-partner@other.org"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refuse", func(t *testing.T) {
		e := newEnv(t, fixture(), Config{ExternalMembers: Refuse})
		_, err := e.syncer.Sync(ctx, e.dir)
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("err = %v, want ErrRefused", err)
		}
		if st := e.state(t); len(st) != 0 {
			t.Fatalf("refused sync changed %q", st)
		}
	})
	t.Run("suspended ignored", func(t *testing.T) {
		api := fixture()
		e := newEnv(t, api, Config{Nested: true, Suspended: Ignore})
		if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
			t.Fatal(err)
		}
		api.setMembers("g4", "s:u7", "u:u8")
		if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
			t.Fatal(err)
		}
		gus, _ := e.dir.Reader().UserByLink(ctx, "google", "u7")
		if !gus.Active {
			t.Fatal("Ignore deactivated a suspended user")
		}
	})
}

func TestSyncFilter(t *testing.T) {
	e := newEnv(t, fixture(), Config{GroupFilter: "*ENG@example.com"})
	rep, err := e.syncer.Sync(context.Background(), e.dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Groups != 1 {
		t.Fatalf("report %+v", rep)
	}
	e2 := newEnv(t, fixture(), Config{GroupFilter: "sal*"}) // by name
	if rep, err := e2.syncer.Sync(context.Background(), e2.dir); err != nil || rep.Groups != 1 {
		t.Fatalf("report %+v, %v", rep, err)
	}
}

func TestSyncRetries(t *testing.T) {
	api := fixture()
	// The first groups page is rate limited, then 429 with Retry-After,
	// then a member page fails with 500 once.
	var mu sync.Mutex
	faults := map[string][]int{"groups": {403, 429}, "members": {500}}
	api.fault = func(r *http.Request, n int) (int, string, string) {
		mu.Lock()
		defer mu.Unlock()
		kind := "groups"
		if strings.Contains(r.URL.Path, "/members") {
			kind = "members"
		} else if strings.Contains(r.URL.Path, "/users") {
			return 0, "", ""
		}
		if len(faults[kind]) == 0 {
			return 0, "", ""
		}
		code := faults[kind][0]
		faults[kind] = faults[kind][1:]
		switch code {
		case 403:
			return 403, "userRateLimitExceeded", ""
		case 429:
			return 429, "rateLimitExceeded", "7"
		}
		return 500, "backendError", ""
	}
	e := newEnv(t, api, Config{Nested: true})
	rep, err := e.syncer.Sync(context.Background(), e.dir)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "directory", e.state(t), fixtureState)
	if rep.APICalls != 19+3 || rep.Retries != 3 {
		t.Fatalf("calls %d retries %d, want 22 and 3", rep.APICalls, rep.Retries)
	}
	// Backoff with the jitter at its middle: 375ms, then Retry-After 7s
	// (longer than the 750ms backoff), then 375ms for the members page.
	want := []time.Duration{375 * time.Millisecond, 7 * time.Second, 375 * time.Millisecond}
	if !slices.Equal(e.sleeps, want) {
		t.Fatalf("sleeps %v, want %v", e.sleeps, want)
	}
}

func TestSyncRetriesBounded(t *testing.T) {
	api := fixture()
	api.fault = func(r *http.Request, n int) (int, string, string) {
		if strings.HasSuffix(r.URL.Path, "/groups") {
			return 503, "backendError", ""
		}
		return 0, "", ""
	}
	e := newEnv(t, api, Config{Retries: 3})
	rep, err := e.syncer.Sync(context.Background(), e.dir)
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != 503 {
		t.Fatalf("err = %v, want the 503", err)
	}
	if rep.APICalls != 4 || api.count("") != 4 {
		t.Fatalf("%d calls (fake saw %d), want 4", rep.APICalls, api.count(""))
	}
	want := []time.Duration{375 * time.Millisecond, 750 * time.Millisecond, 1500 * time.Millisecond}
	if !slices.Equal(e.sleeps, want) {
		t.Fatalf("sleeps %v, want %v", e.sleeps, want)
	}
	// A 403 that is not a rate limit is not retried, nor a Retry-After
	// beyond MaxBackoff.
	for _, f := range []func(*http.Request, int) (int, string, string){
		func(*http.Request, int) (int, string, string) { return 403, "forbidden", "" },
		func(*http.Request, int) (int, string, string) { return 429, "rateLimitExceeded", "3600" },
	} {
		api.resetCounts()
		api.fault = f
		if _, err := e.syncer.Sync(context.Background(), e.dir); err == nil || api.count("") != 1 {
			t.Fatalf("err %v after %d calls, want an error after 1", err, api.count(""))
		}
	}
}

func TestSyncContextCancelled(t *testing.T) {
	api := fixture()
	api.fault = func(*http.Request, int) (int, string, string) { return 500, "backendError", "" }
	e := newEnv(t, api, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	e.syncer.sleep = func(ctx context.Context, d time.Duration) error { cancel(); return sleepCtx(ctx, d) }
	_, err := e.syncer.Sync(ctx, e.dir)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestSyncFailureMidPull(t *testing.T) {
	ctx := context.Background()
	api := fixture()
	e := newEnv(t, api, Config{Nested: true, Retries: -1})
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	before := e.state(t)
	events := len(e.sink.Events())
	// Changes that the sync would apply, then a failure on the last group.
	api.setMembers("g1", "u:u1")
	api.addUser("u9", "ida@example.com", "Ida", "Lee")
	api.setMembers("g5", "u:u1", "u:u9")
	api.fault = func(r *http.Request, n int) (int, string, string) {
		if strings.Contains(r.URL.Path, "/groups/g5/") {
			return 500, "backendError", ""
		}
		return 0, "", ""
	}
	if _, err := e.syncer.Sync(ctx, e.dir, WithForce()); err == nil {
		t.Fatal("sync succeeded")
	}
	same(t, "directory after a failed pull", e.state(t), before)
	if n := len(e.sink.Events()); n != events {
		t.Fatalf("failed sync emitted %d events", n-events)
	}
}

func TestSyncEmptyPull(t *testing.T) {
	ctx := context.Background()
	api := fixture()
	e := newEnv(t, api, Config{Nested: true})
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"g1", "g2", "g3", "g4", "g5"} {
		api.removeGroup(g)
	}
	if _, err := e.syncer.Sync(ctx, e.dir); !errors.Is(err, ErrEmptyPull) {
		t.Fatalf("err = %v, want ErrEmptyPull", err)
	}
	same(t, "directory after a refused sync", e.state(t), fixtureState)
	// Forced, the groups that Google no longer has are emptied.
	rep, err := e.syncer.Sync(ctx, e.dir, WithForce())
	if err != nil {
		t.Fatal(err)
	}
	if rep.GroupsEmptied != 5 || rep.MembersRemoved != 14 || !rep.Forced {
		t.Fatalf("report %+v", rep)
	}
	// A pull of groups without members is empty too.
	e2 := newEnv(t, newFakeAPI(), Config{})
	e2.api.addGroup("g1", "a@example.com", "A")
	if _, err := e2.syncer.Sync(ctx, e2.dir); !errors.Is(err, ErrEmptyPull) {
		t.Fatalf("err = %v, want ErrEmptyPull", err)
	}
}

func TestSyncThreshold(t *testing.T) {
	ctx := context.Background()
	api := fixture()
	e := newEnv(t, api, Config{Nested: true})
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	// Engineering loses four of its five: 4 of 14 memberships, over 20%.
	api.setMembers("g1", "u:u1")
	_, err := e.syncer.Sync(ctx, e.dir)
	var te *ThresholdError
	if !errors.As(err, &te) || !errors.Is(err, ErrThreshold) || te.What != "memberships" || te.Remove != 4 || te.Of != 14 {
		t.Fatalf("err = %v, want a ThresholdError for 4 of 14 memberships", err)
	}
	same(t, "directory after a refused sync", e.state(t), fixtureState)
	rep, err := e.syncer.Sync(ctx, e.dir, WithForce())
	if err != nil || rep.MembersRemoved != 4 {
		t.Fatalf("forced: %+v, %v", rep, err)
	}

	// Users: two of the six in a group (bob left every group) suspended at
	// once, with MaxRemove at 30% so that the memberships (2 of 10) pass.
	e.syncer.cfg.MaxRemove = 0.3
	api.setMembers("g4", "s:u7", "s:u8")
	_, err = e.syncer.Sync(ctx, e.dir, WithDryRun())
	if !errors.As(err, &te) || te.What != "users" || te.Remove != 2 || te.Of != 6 {
		t.Fatalf("err = %v, want a ThresholdError for 2 of 6 users", err)
	}
	e2 := newEnv(t, fixture(), Config{Nested: true, MaxRemove: 1})
	if _, err := e2.syncer.Sync(ctx, e2.dir); err != nil {
		t.Fatal(err)
	}
	e2.api.setMembers("g1", "u:u1")
	if _, err := e2.syncer.Sync(ctx, e2.dir); err != nil {
		t.Fatalf("MaxRemove 1 still refused: %v", err)
	}
}

func TestSyncDryRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, fixture(), Config{Nested: true, DryRun: true})
	rep, err := e.syncer.Sync(ctx, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.DryRun || rep.GroupsCreated != 5 || rep.MembersAdded != 14 || rep.UsersCreated != 7 {
		t.Fatalf("report %+v", rep)
	}
	if st := e.state(t); len(st) != 0 {
		t.Fatalf("dry run wrote %q", st)
	}
	if n := len(e.sink.Events()); n != 0 {
		t.Fatalf("dry run emitted %d events", n)
	}
	if len(rep.Changes) != 5+14+7 {
		t.Fatalf("%d changes in the plan, want 26", len(rep.Changes))
	}

	// The plan of a change, in detail.
	if _, err := e.syncer.Sync(ctx, e.dir, WithDryRun(), func(o *options) { o.dry = false }); err != nil {
		t.Fatal(err)
	}
	e.api.setMembers("g4", "s:u7", "u:u8", "u:u1")
	e.api.mu.Lock()
	e.api.groups[4].Name = "Everyone"
	e.api.mu.Unlock()
	rep, err = e.syncer.Sync(ctx, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Action: GroupUpdate, Group: "Everyone"},
		{Action: MemberRemove, Group: "Sales", User: "gus@example.com"},
		{Action: MemberAdd, Group: "Sales", User: "ann@example.com"},
		{Action: UserDeactivate, User: "gus@example.com"},
	}
	if !reflect.DeepEqual(rep.Changes, want) {
		t.Fatalf("changes %+v, want %+v", rep.Changes, want)
	}
}

func TestSyncNotGroupSource(t *testing.T) {
	api := fixture()
	e := newEnv(t, api, Config{})
	dir, err := identity.New(memory.New().Tenant("acme"), identity.Config{Tenant: "acme", GroupSource: "scim"})
	if err != nil {
		t.Fatal(err)
	}
	s := e.newSyncer(t, Config{})
	_, err = s.Sync(context.Background(), dir)
	if !errors.Is(err, identity.ErrNotAllowed) || !strings.Contains(err.Error(), `"scim"`) {
		t.Fatalf("err = %v, want ErrNotAllowed naming the group source", err)
	}
	if api.count("") != 0 {
		t.Fatal("the API was called")
	}
}

func TestSyncConflicts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, fixture(), Config{Nested: true})
	// bob's email belongs to a user linked to another Google ID: a
	// re-created account must not take it over.
	if _, err := e.dir.CreateUser(ctx, identity.SourceGoogle, identity.User{Email: "bob@example.com"}, identity.CreateOptions{Subject: "old-bob"}); err != nil {
		t.Fatal(err)
	}
	// cid exists already, from SAML: found by email and linked.
	cid, err := e.dir.CreateUser(ctx, "saml:corp", identity.User{Email: "CID@example.com"}, identity.CreateOptions{Subject: "cid-nameid"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.syncer.Sync(ctx, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Skipped.Conflicts != 1 || rep.UsersCreated != 5 {
		t.Fatalf("report %+v", rep)
	}
	if u, err := e.dir.Reader().UserByLink(ctx, "google", "u3"); err != nil || u.ID != cid.ID {
		t.Fatalf("cid not linked: %+v, %v", u, err)
	}
}

func TestSyncBusy(t *testing.T) {
	api := fixture()
	api.gate = make(chan struct{})
	e := newEnv(t, api, Config{Nested: true})
	done := make(chan error)
	go func() { _, err := e.syncer.Sync(context.Background(), e.dir); done <- err }()
	waitFor(t, func() bool { api.mu.Lock(); defer api.mu.Unlock(); return api.inflight == 1 })
	if _, err := e.syncer.Sync(context.Background(), e.dir); !errors.Is(err, ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	close(api.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRunner(t *testing.T) {
	api := fixture()
	api.gate = make(chan struct{})
	e := newEnv(t, api, Config{Nested: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var reports []Report
	var errs []error
	run := func() error {
		r := &Runner{Syncer: e.syncer, Directory: e.dir, Interval: time.Millisecond, OnReport: func(rep Report, err error) {
			mu.Lock()
			defer mu.Unlock()
			reports = append(reports, rep)
			errs = append(errs, err)
		}}
		return r.Run(ctx)
	}
	// Two runners of one Syncer: one sync at a time, the other skips.
	ended := make(chan error, 2)
	go func() { ended <- run() }()
	go func() { ended <- run() }()
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(errs, func(err error) bool { return errors.Is(err, ErrBusy) })
	})
	close(api.gate)
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, err := range errs {
			if err == nil {
				n++
			}
		}
		return n >= 3
	})
	cancel()
	for range 2 {
		if err := <-ended; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if api.maxFlows != 1 {
		t.Fatalf("%d syncs ran at once", api.maxFlows)
	}
	same(t, "directory", e.state(t), fixtureState)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSyncUsersByListing(t *testing.T) {
	// 30 unknown users: listed 500 a page (the fake's pages hold 8). A user
	// deleted since the member list is not listed, so every page is read;
	// then that user is fetched alone, gets 404 and is skipped.
	api := newFakeAPI()
	api.userCap = 8
	var members []string
	for i := range 30 {
		id := fmt.Sprintf("a%02d", i)
		api.addUser(id, id+"@example.com", "A", id)
		members = append(members, "u:"+id)
	}
	for i := range 20 {
		api.addUser(fmt.Sprintf("z%02d", i), fmt.Sprintf("z%02d@example.com", i), "Z", "Z") // after the a's
	}
	api.addGroup("g1", "all@example.com", "All", members...)
	api.addGroup("g2", "gone@example.com", "Gone", "u:a01", "u:deleted")
	e := newEnv(t, api, Config{Domain: "example.com"})
	rep, err := e.syncer.Sync(context.Background(), e.dir)
	if err != nil {
		t.Fatal(err)
	}
	if api.count("users") != 7 || api.count("user") != 1 {
		t.Fatalf("calls %v, want 7 pages of users and 1 get", api.calls)
	}
	if rep.UsersCreated != 30 || rep.Skipped.Unknown != 1 || rep.Memberships != 31 {
		t.Fatalf("report %+v", rep)
	}
	// Without it, the listing stops at the page with the last one wanted.
	api.removeGroup("g2")
	e = newEnv(t, api, Config{Domain: "example.com"})
	api.resetCounts()
	if _, err := e.syncer.Sync(context.Background(), e.dir); err != nil {
		t.Fatal(err)
	}
	if api.count("users") != 4 || api.count("user") != 0 {
		t.Fatalf("calls %v, want 4 pages of users", api.calls)
	}
}

func TestSyncGroupNames(t *testing.T) {
	ctx := context.Background()
	api := fixture()
	api.addGroup("g6", "eng2@example.com", "engineering", "u:u1") // the same name as g1
	e := newEnv(t, api, Config{})
	if _, err := e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.Reader().GroupByName(ctx, "eng2@example.com"); err != nil {
		t.Fatalf("the second group of a name is not named by its email: %v", err)
	}
	// Sales is deleted and re-created in Google with a new ID: the group
	// keeps its record and takes the new ID.
	sales, _ := e.dir.Reader().GroupByExternalID(ctx, "g4")
	api.removeGroup("g4")
	api.addGroup("g4b", "sales@example.com", "Sales", "u:u7", "u:u8")
	rep, err := e.syncer.Sync(ctx, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := e.dir.Reader().GroupByExternalID(ctx, "g4b")
	if got.ID != sales.ID || rep.GroupsUpdated != 1 || rep.MembersRemoved+rep.MembersAdded != 0 {
		t.Fatalf("re-created group: %+v (was %+v), report %+v", got, sales, rep)
	}
	// Sales becomes "Sales Old" and a new group takes the name "Sales", in
	// one sync: the rename goes first.
	api.mu.Lock()
	api.groups[len(api.groups)-1].Name = "Sales Old"
	api.mu.Unlock()
	api.addGroup("g7", "sales-new@example.com", "Sales", "u:u8")
	if rep, err = e.syncer.Sync(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	old, _ := e.dir.Reader().GroupByExternalID(ctx, "g4b")
	fresh, _ := e.dir.Reader().GroupByExternalID(ctx, "g7")
	if old.ID != sales.ID || old.Name != "Sales Old" || fresh.Name != "Sales" || rep.GroupsCreated != 1 || rep.GroupsUpdated != 1 {
		t.Fatalf("swap: old %+v, new %+v, report %+v", old, fresh, rep)
	}
}

func TestRunnerWait(t *testing.T) {
	for _, tc := range []struct {
		r    Runner
		u    float64
		want time.Duration
	}{
		{Runner{}, 0.5, 15 * time.Minute},
		{Runner{}, 0, 13*time.Minute + 30*time.Second},
		{Runner{Interval: time.Hour, Jitter: 0.5}, 1, 90 * time.Minute},
		{Runner{Interval: time.Hour, Jitter: -1}, 0, time.Hour},
	} {
		if got := tc.r.wait(tc.u); got != tc.want {
			t.Errorf("%+v.wait(%g) = %v, want %v", tc.r, tc.u, got, tc.want)
		}
	}
}
