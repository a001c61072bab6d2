package scim_test

import (
	"net/url"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/scim"
)

func TestGroupCRUD(t *testing.T) {
	e := newEnv(t)
	u1 := e.createUser(t, "u1@example.com")
	r := e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales","externalId":"ext-sales","members":[{"value":"`+u1+`","type":"User"}]}`).must(t, 201)
	id := r.str("id")
	wantField(t, r, "meta.resourceType", "Group")
	wantField(t, r, "members.0.value", u1)
	wantField(t, r, "members.0.display", "u1@example.com")
	if r.Header.Get("ETag") != `W/"1"` {
		t.Errorf("ETag %q", r.Header.Get("ETag"))
	}
	g, err := e.dir.Reader().Group(t.Context(), id)
	if err != nil || g.Kind != groups.External || g.Source != identity.SourceSCIM {
		t.Fatalf("core group %+v, %v", g, err)
	}
	// The user lists the group.
	wantField(t, e.do("GET", "/Users/"+u1, "").must(t, 200), "groups.0.value", id)

	e.do("POST", "/Groups", `{"displayName":"sales"}`).must(t, 409)
	e.do("POST", "/Groups", `{"externalId":"x"}`).must(t, 400)
	e.do("POST", "/Groups", `{"displayName":"Nested","members":[{"value":"`+id+`","type":"Group"}]}`).must(t, 400)

	r = e.do("GET", "/Groups/"+id+"?excludedAttributes=members", "").must(t, 200)
	if r.get("members") != nil || r.str("displayName") != "Sales" {
		t.Errorf("GET: %s", r.Raw)
	}
	r = e.do("GET", "/Groups?filter="+url.QueryEscape(`externalId eq "ext-sales"`), "").must(t, 200)
	if r.total() != 1 {
		t.Errorf("by externalId: %s", r.Raw)
	}
	r = e.do("GET", "/Groups?filter="+url.QueryEscape(`displayName co "ale"`)+"&sortBy=displayName", "").must(t, 200)
	if r.total() != 1 {
		t.Errorf("scan: %s", r.Raw)
	}
	// Users by group: the group's members only.
	e.createUser(t, "other@example.com")
	for _, f := range []string{`groups.value eq "` + id + `"`, `groups eq "` + id + `"`, `groups[value eq "` + id + `"] and userName sw "u"`, `userName co "@" and groups.display eq "Sales"`} {
		r = e.do("GET", "/Users?filter="+url.QueryEscape(f), "").must(t, 200)
		if r.total() != 1 || walk(r.resources()[0], "id") != u1 {
			t.Errorf("%s: %s", f, r.Raw)
		}
	}
	if r = e.do("GET", "/Users?filter="+url.QueryEscape(`groups.value eq "nope"`), "").must(t, 200); r.total() != 0 {
		t.Errorf("unknown group: %s", r.Raw)
	}
	e.do("PATCH", "/Groups/"+id, `{"Operations":[{"op":"replace","path":"displayName","value":"Sales EMEA"}]}`, "If-Match", `W/"7"`).must(t, 412)
	r = e.do("PATCH", "/Groups/"+id+"?attributes=meta", `{"Operations":[{"op":"replace","path":"displayName","value":"Sales EMEA"}]}`, "If-Match", `W/"1"`).must(t, 200)
	wantField(t, r, "meta.version", `W/"2"`)
	e.do("DELETE", "/Groups/"+id, "", "If-Match", `W/"1"`).must(t, 412)
	e.do("DELETE", "/Groups/"+id, "").must(t, 204)
	e.do("GET", "/Groups/"+id, "").must(t, 404)
}

// SCIM sees only the groups it manages; a group it creates with the name of
// an internal group takes that group over, as the core's rules say.
func TestGroupsOfOtherSources(t *testing.T) {
	e := newEnv(t)
	internal, err := e.dir.CreateGroup(t.Context(), identity.SourceManual, "Office", "")
	if err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/Groups/"+internal.ID, "").must(t, 404)
	e.do("PATCH", "/Groups/"+internal.ID, `{"Operations":[{"op":"replace","path":"displayName","value":"x"}]}`).must(t, 404)
	e.do("DELETE", "/Groups/"+internal.ID, "").must(t, 404)
	if r := e.do("GET", "/Groups?filter=displayName+eq+%22Office%22", "").must(t, 200); r.total() != 0 {
		t.Errorf("internal group listed: %s", r.Raw)
	}
	if r := e.do("GET", "/Groups", "").must(t, 200); r.total() != 0 {
		t.Errorf("internal group listed: %s", r.Raw)
	}
	r := e.do("POST", "/Groups", `{"displayName":"office"}`).must(t, 201)
	if r.str("id") != internal.ID {
		t.Errorf("not converted: %s", r.Raw)
	}
}

// A user PUT that echoes the user's groups (as a GET showed them) still
// works once SCIM is no longer the tenant's group source; one that asks for
// a new membership is refused.
func TestUserPutEchoesGroupsAfterSourceChange(t *testing.T) {
	store := newStore(t)
	e := newEnvOn(t, store)
	u := e.createUser(t, "u1@example.com")
	g := e.do("POST", "/Groups", `{"displayName":"Sales","members":[{"value":"`+u+`"}]}`).must(t, 201).str("id")
	other := e.do("POST", "/Groups", `{"displayName":"Support"}`).must(t, 201).str("id")

	later := newEnvOn(t, store, func(_ *scim.Config, c *identity.Config) { c.GroupSource = identity.SourceGoogle })
	body := `{"userName":"u1@example.com","name":{"givenName":"Una"},"groups":[{"value":"` + g + `"}]}`
	r := later.do("PUT", "/Users/"+u, body).must(t, 200)
	wantField(t, r, "name.givenName", "Una")
	body = `{"userName":"u1@example.com","groups":[{"value":"` + g + `"},{"value":"` + other + `"}]}`
	later.do("PUT", "/Users/"+u, body).must(t, 403)

	// A group SCIM does not see is unknown, whether the user is in it or
	// not: the answer does not tell.
	office, err := e.dir.CreateGroup(t.Context(), identity.SourceManual, "Office", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.AddMember(t.Context(), identity.SourceManual, office.ID, u); err != nil {
		t.Fatal(err)
	}
	e.do("PUT", "/Users/"+u, `{"userName":"u1@example.com","groups":[{"value":"`+office.ID+`"}]}`).must(t, 400)
}

func TestGroupsWhenSCIMIsNotTheGroupSource(t *testing.T) {
	e := newEnv(t, func(_ *scim.Config, c *identity.Config) { c.GroupSource = identity.SourceGoogle })
	r := e.do("POST", "/Groups", `{"displayName":"Sales"}`).must(t, 403)
	if r.str("detail") != "groups are not provisioned over SCIM for this tenant: its group source is google" {
		t.Errorf("detail %q", r.str("detail"))
	}
	e = newEnv(t, func(_ *scim.Config, c *identity.Config) { c.GroupSource = "" })
	e.do("POST", "/Groups", `{"displayName":"Sales"}`).must(t, 403)
	e.do("GET", "/Groups", "").must(t, 200)
}

// The three ways a group list is answered: a page of the store's (no filter,
// no sort), candidates filtered and sorted in Go with the members read after
// the page is chosen, and a filter on members (read with each candidate).
// Each returns the members only when they are asked for.
func TestGroupListPaths(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/Groups", "").must(t, 200); r.total() != 0 || r.Body["Resources"] == nil {
		t.Errorf("empty list: %s", r.Raw)
	}
	u1 := e.createUser(t, "u1@example.com")
	u2 := e.createUser(t, "u2@example.com")
	ids := map[string]string{
		"Gamma": e.createGroup(t, "Gamma", u1),
		"Alpha": e.createGroup(t, "Alpha", u1, u2),
		"Beta":  e.createGroup(t, "Beta"),
	}
	members := func(t *testing.T, g any) []string {
		t.Helper()
		var out []string
		ms, _ := walk(g, "members").([]any)
		for _, m := range ms {
			out = append(out, walk(m, "value").(string))
		}
		return out
	}
	wantMembers := map[string]int{"Gamma": 1, "Alpha": 2, "Beta": 0}

	// The store's page: every group with its members, totals from the store.
	r := e.do("GET", "/Groups?startIndex=1&count=10", "").must(t, 200)
	if r.total() != 3 || len(r.resources()) != 3 {
		t.Fatalf("page: %s", r.Raw)
	}
	for _, g := range r.resources() {
		name := walk(g, "displayName").(string)
		if walk(g, "id") != ids[name] || len(members(t, g)) != wantMembers[name] {
			t.Errorf("page: %s: %v", name, g)
		}
	}
	second := walk(r.resources()[1], "id")
	r = e.do("GET", "/Groups?startIndex=2&count=1", "").must(t, 200)
	if r.total() != 3 || len(r.resources()) != 1 || walk(r.resources()[0], "id") != second {
		t.Errorf("second page, want %v: %s", second, r.Raw)
	}
	r = e.do("GET", "/Groups?excludedAttributes=members", "").must(t, 200)
	for _, g := range r.resources() {
		if walk(g, "members") != nil {
			t.Errorf("members returned though excluded: %v", g)
		}
	}

	// Filtered and sorted in Go: the members are filled in after the page.
	r = e.do("GET", "/Groups?filter="+url.QueryEscape(`displayName co "a"`)+"&sortBy=displayName&startIndex=1&count=2", "").must(t, 200)
	if r.total() != 3 || len(r.resources()) != 2 {
		t.Fatalf("sorted: %s", r.Raw)
	}
	if walk(r.resources()[0], "displayName") != "Alpha" || walk(r.resources()[1], "displayName") != "Beta" {
		t.Errorf("sorted order: %s", r.Raw)
	}
	if got := members(t, r.resources()[0]); len(got) != 2 {
		t.Errorf("Alpha's members %v", got)
	}
	r = e.do("GET", "/Groups?filter="+url.QueryEscape(`displayName co "a"`)+"&sortBy=displayName&attributes=displayName", "").must(t, 200)
	for _, g := range r.resources() {
		if walk(g, "members") != nil {
			t.Errorf("members returned though not asked for: %v", g)
		}
	}

	// A filter on members is checked against the members read with each
	// candidate.
	r = e.do("GET", "/Groups?filter="+url.QueryEscape(`displayName sw "a" and members pr`), "").must(t, 200)
	if r.total() != 1 || walk(r.resources()[0], "id") != ids["Alpha"] {
		t.Errorf("members pr: %s", r.Raw)
	}
}
