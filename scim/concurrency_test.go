package scim_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// concurrentMembers sends 16 PATCHes at once, each adding a different member
// to one group (with Okta's rename resent in each), and checks that every
// member landed.
func concurrentMembers(t *testing.T, store identity.Store) {
	e := newEnvOn(t, store)
	const n = 16
	users := make([]string, n)
	for i := range users {
		users[i] = e.createUser(t, fmt.Sprintf("c%02d@example.com", i))
	}
	g := e.createGroup(t, "Busy")
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			r := e.do("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"`+g+`","displayName":"Busy"}},{"op":"add","path":"members","value":[{"value":"`+users[i]+`"}]}]}`)
			if r.Status != 204 {
				errs <- fmt.Sprintf("PATCH %d: %d %s", i, r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := e.memberIDs(t, g)
	if len(got) != n {
		t.Fatalf("%d members, want %d", len(got), n)
	}
	// And concurrent PATCHes of different attributes of one user all land.
	x := users[0]
	attrs := []string{"title", "nickName", "displayName", "userType", "locale", "timezone", "preferredLanguage", "profileUrl"}
	for _, a := range attrs {
		wg.Go(func() {
			r := e.do("PATCH", "/Users/"+x, `{"Operations":[{"op":"replace","path":"`+a+`","value":"v-`+a+`"}]}`)
			if r.Status != 200 {
				t.Errorf("PATCH %s: %d %s", a, r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	r := e.do("GET", "/Users/"+x, "").must(t, 200)
	for _, a := range attrs {
		if r.str(a) != "v-"+a {
			t.Errorf("%s lost: %s", a, r.Raw)
		}
	}
}

func TestConcurrentPatchMemory(t *testing.T) {
	concurrentMembers(t, memory.New().Tenant("acme"))
}

// Adding one member to a large group writes one membership and reads no
// member list; so does removing one.
func TestPatchMemberWritesOneMembership(t *testing.T) {
	cs := newCountingStore(memory.New().Tenant("acme"))
	e := newEnvOn(t, cs) // the default configuration answers a group PATCH with 204
	g := e.createGroup(t, "Large")
	ctx := t.Context()
	var last string
	for i := range 2000 {
		u, err := e.dir.CreateUser(ctx, identity.SourceSCIM, identity.User{UserName: fmt.Sprintf("m%d@example.com", i)}, identity.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if i < 1999 {
			if _, err := e.dir.AddMember(ctx, identity.SourceSCIM, g, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		last = u.ID
	}
	for _, body := range []string{
		`{"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"` + last + `"}]}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq \"` + last + `\"]"}]}`,
		`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"` + last + `"}]}]}`,
	} {
		cs.c.lists.Store(0)
		cs.c.adds.Store(0)
		cs.c.removes.Store(0)
		e.do("PATCH", "/Groups/"+g, body).must(t, 204)
		if n := cs.c.adds.Load() + cs.c.removes.Load(); n != 1 || cs.c.lists.Load() != 0 {
			t.Errorf("%s: %d membership writes, %d listings", body, n, cs.c.lists.Load())
		}
	}
	// Asking for the members reads them, and only then.
	cs.c.lists.Store(0)
	r := e.do("PATCH", "/Groups/"+g+"?attributes=members", `{"Operations":[{"op":"add","path":"members","value":["`+last+`"]}]}`).must(t, 200)
	if ms, _ := r.get("members").([]any); len(ms) != 2000 || cs.c.lists.Load() == 0 {
		t.Errorf("attributes=members: %d members, %d listings", len(ms), cs.c.lists.Load())
	}
	cs.c.lists.Store(0)
	r = e.do("PATCH", "/Groups/"+g+"?attributes=displayName", `{"Operations":[{"op":"remove","path":"members[value eq \"`+last+`\"]"}]}`).must(t, 200)
	if r.str("displayName") != "Large" || r.get("members") != nil || cs.c.lists.Load() != 0 {
		t.Errorf("attributes=displayName: %s, %d listings", r.Raw, cs.c.lists.Load())
	}
}

// The answer to a create reads the new user's groups only when the body
// named some (Okta's groups); the answer to a user PATCH reads them in its
// own transaction, and not at all when the projection leaves them out.
func TestUserAnswersReadNoMoreThanNeeded(t *testing.T) {
	cs := newCountingStore(memory.New().Tenant("acme"))
	e := newEnvOn(t, cs)
	g := e.createGroup(t, "Okta")
	cs.c.userGroups.Store(0)
	r := e.do("POST", "/Users", `{"userName":"a@example.com"}`).must(t, 201)
	if n := cs.c.userGroups.Load(); n != 0 || r.get("groups") == nil {
		t.Errorf("create without groups: %d reads, groups %v", n, r.get("groups"))
	}
	r = e.do("POST", "/Users", `{"userName":"b@example.com","groups":[{"value":"`+g+`"}]}`).must(t, 201)
	if gs, _ := r.get("groups").([]any); len(gs) != 1 {
		t.Errorf("create with groups: %s", r.Raw)
	}
	id := r.str("id")
	cs.c.userGroups.Store(0)
	e.do("PATCH", "/Users/"+id+"?excludedAttributes=groups", `{"Operations":[{"op":"replace","path":"title","value":"x"}]}`).must(t, 200)
	if n := cs.c.userGroups.Load(); n != 0 {
		t.Errorf("PATCH with groups excluded: %d reads", n)
	}
	r = e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"title","value":"y"}]}`).must(t, 200)
	if gs, _ := r.get("groups").([]any); len(gs) != 1 || cs.c.userGroups.Load() != 1 {
		t.Errorf("PATCH: %d reads, %s", cs.c.userGroups.Load(), r.Raw)
	}
}
