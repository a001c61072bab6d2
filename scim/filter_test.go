package scim_test

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// countingStore counts listings and membership writes, inside transactions
// too, to prove that a lookup does not scan and that adding a member writes
// one membership.
type countingStore struct {
	identity.Store
	c *counts
}

type counts struct {
	lists, adds, removes atomic.Int64
	// whole counts the user listings with no condition: whole-tenant scans.
	whole atomic.Int64
	// userGroups counts the reads of a user's groups.
	userGroups atomic.Int64
}

func (s *countingStore) UserGroups(ctx context.Context, userID string) ([]identity.Group, error) {
	s.c.userGroups.Add(1)
	return s.Store.UserGroups(ctx, userID)
}

func newCountingStore(s identity.Store) *countingStore {
	return &countingStore{Store: s, c: &counts{}}
}

func (s *countingStore) ListUsers(ctx context.Context, q identity.UserQuery) (identity.UserPage, error) {
	s.c.lists.Add(1)
	if q.Active == nil && q.GroupID == "" && q.Search == "" && len(q.Match) == 0 {
		s.c.whole.Add(1)
	}
	return identity.ListUsers(ctx, s.Store, q)
}

func (s *countingStore) ListGroups(ctx context.Context, q identity.GroupQuery) (identity.GroupPage, error) {
	s.c.lists.Add(1)
	return s.Store.ListGroups(ctx, q)
}

func (s *countingStore) AddMember(ctx context.Context, g, u string) (bool, error) {
	s.c.adds.Add(1)
	return s.Store.AddMember(ctx, g, u)
}

func (s *countingStore) RemoveMember(ctx context.Context, g, u string) (bool, error) {
	s.c.removes.Add(1)
	return s.Store.RemoveMember(ctx, g, u)
}

func (s *countingStore) Tx(ctx context.Context, fn func(context.Context, identity.Store) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		return fn(ctx, &countingStore{Store: tx, c: s.c})
	})
}

func seedUsers(t *testing.T, e *env) []string {
	t.Helper()
	bodies := []string{
		`{"userName":"alice@example.com","externalId":"A1","name":{"givenName":"Alice","familyName":"Zeta"},"displayName":"Alice Zeta","title":"Engineer","emails":[{"value":"alice@example.com","type":"work","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","employeeNumber":"100"}}`,
		`{"userName":"bob@example.com","externalId":"B2","name":{"givenName":"Bob","familyName":"Young"},"displayName":"Bob Young","title":"Manager","emails":[{"value":"bob@example.org","type":"work"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`,
		`{"userName":"carol@example.com","externalId":"jyoung","name":{"givenName":"Carol","familyName":"Xu"},"displayName":"Carol Xu","active":false,"emails":[{"value":"carol@example.com","type":"work"}]}`,
		`{"userName":"Olga@example.com","externalId":"o4","displayName":"Olga","emails":[{"value":"olga@example.net","type":"work"}]}`,
	}
	var ids []string
	for _, b := range bodies {
		ids = append(ids, e.do("POST", "/Users", b).must(t, 201).str("id"))
	}
	return ids
}

func TestFilters(t *testing.T) {
	cs := newCountingStore(memory.New().Tenant("acme"))
	testFilters(t, newEnvOn(t, cs), cs)
}

// TestFilterResults is TestFilters on the store of newStore, without
// counting listings (TestOnSQLite and TestOnPostgres run it).
func TestFilterResults(t *testing.T) {
	testFilters(t, newEnv(t), nil)
}

func testFilters(t *testing.T, e *env, cs *countingStore) {
	ids := seedUsers(t, e)
	alice, bob, carol, olga := ids[0], ids[1], ids[2], ids[3]
	for _, tc := range []struct {
		filter string
		want   []string
		// list: the store was asked for a listing; whole: for one with no
		// condition, a whole-tenant scan.
		list, whole bool
	}{
		{`userName eq "alice@example.com"`, []string{alice}, false, false},
		{`userName eq "ALICE@example.com"`, []string{alice}, false, false}, // userName is not caseExact
		{`USERNAME Eq "alice@example.com"`, []string{alice}, false, false},
		{`userName eq "nobody@example.com"`, nil, false, false},
		{`userName eq "alice@example.com" and active eq false`, nil, false, false},
		{`id eq "` + bob + `"`, []string{bob}, false, false},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@example.com"`, []string{bob}, false, false},
		{`externalId eq "A1"`, []string{alice}, true, false},
		{`externalId eq "a1"`, nil, true, false}, // externalId is caseExact
		{`externalId eq jyoung`, []string{carol}, true, false},
		{`emails.value eq "bob@example.org"`, []string{bob}, true, false},
		{`emails eq "bob@example.org"`, []string{bob}, true, false},
		{`emails[type eq "work"].value eq "bob@example.org"`, []string{bob}, true, false},
		{`emails[type eq "work" and value eq "BOB@example.org"]`, []string{bob}, true, false},
		{`userName sw "a"`, []string{alice}, true, false},
		{`userName sw O`, []string{olga}, true, false},
		{`userName co "example"`, []string{alice, bob, carol, olga}, true, false},
		{`userName ew ".com" and not (title pr)`, []string{carol, olga}, true, true},
		{`title pr`, []string{alice, bob}, true, true},
		{`active eq false`, []string{carol}, true, false},
		{`active eq "False"`, []string{carol}, true, false},
		{`active eq true and active eq false`, nil, true, false},
		{`userName ne "alice@example.com"`, []string{bob, carol, olga}, true, false},
		{`not (userName sw "a") and displayName co "o"`, []string{bob, carol, olga}, true, false},
		{`name.familyName eq "young" or name.givenName eq "Carol"`, []string{bob, carol}, true, false},
		{`name.FamilyName eq Young and (emails.Value co example.org or emails.Value co example.net)`, []string{bob}, true, false},
		{`emails[type eq "work" and value co ".com"]`, []string{alice, carol}, true, false},
		{`emails[type eq "home" and value co ".com"]`, nil, true, false},
		{`emails[type eq "work" and value ew ".com"]`, []string{alice, carol}, true, true},
		{`emails pr`, []string{alice, bob, carol, olga}, true, false},
		{`displayName eq "bob young"`, []string{bob}, true, false},
		{`displayName co "young" and userName sw "b"`, []string{bob}, true, false},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales"`, []string{bob}, true, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "100"`, []string{alice}, true, true},
		{`meta.created gt "2000-01-01T00:00:00Z"`, []string{alice, bob, carol, olga}, true, false},
		{`meta.Created gt 2030-01-01T00:00:00Z`, nil, true, false},
		{`meta.lastModified ge "2026-01-02T03:04:05Z"`, []string{alice, bob, carol, olga}, true, false},
		{`meta.lastModified gt "2026-01-02T03:04:05Z"`, nil, true, false},
		{`meta.lastModified gt "2026-01-02T03:04:04.5Z"`, []string{alice, bob, carol, olga}, true, false},
		{`meta.lastModified le "2026-01-02T03:04:05.9Z"`, []string{alice, bob, carol, olga}, true, false},
		{`meta.lastModified lt "2026-01-02T03:04:05Z"`, nil, true, false},
		{`meta.lastModified eq "2026-01-02T03:04:05Z"`, []string{alice, bob, carol, olga}, true, false},
		{`meta.lastModified eq "2026-01-02T03:04:05.1Z"`, nil, true, false},
		{`meta.Created gt 2015-10-10T14:38:21.8617979-07:00`, []string{alice, bob, carol, olga}, true, false}, // Microsoft's Postman collection
		{`meta.resourceType eq "User"`, []string{alice, bob, carol, olga}, true, true},
		{`nickName eq "x"`, nil, true, true},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			var before, wholeBefore int64
			if cs != nil {
				before, wholeBefore = cs.c.lists.Load(), cs.c.whole.Load()
			}
			r := e.do("GET", "/Users?filter="+url.QueryEscape(tc.filter), "").must(t, 200)
			got := map[string]bool{}
			for _, res := range r.resources() {
				got[walk(res, "id").(string)] = true
			}
			if len(got) != len(tc.want) || r.total() != len(tc.want) {
				t.Fatalf("got %d (total %d), want %d: %s", len(got), r.total(), len(tc.want), r.Raw)
			}
			for _, id := range tc.want {
				if !got[id] {
					t.Errorf("missing %s", id)
				}
			}
			if cs == nil {
				return
			}
			if listed := cs.c.lists.Load() != before; listed != tc.list {
				t.Errorf("listed %v, want %v", listed, tc.list)
			}
			if whole := cs.c.whole.Load() != wholeBefore; whole != tc.whole {
				t.Errorf("whole-tenant scan %v, want %v", whole, tc.whole)
			}
		})
	}
}

func TestListPagingSortProjection(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 25 {
		ids = append(ids, e.createUser(t, fmt.Sprintf("user%02d@example.com", 24-i)))
	}
	// Pages of 10 in a stable order cover every user once.
	seen := map[string]bool{}
	for start := 1; start <= 25; start += 10 {
		r := e.do("GET", fmt.Sprintf("/Users?startIndex=%d&count=10", start), "").must(t, 200)
		if r.total() != 25 || r.get("startIndex").(float64) != float64(start) || int(r.get("itemsPerPage").(float64)) != len(r.resources()) {
			t.Fatalf("page %d: %s", start, r.Raw)
		}
		for _, res := range r.resources() {
			seen[walk(res, "id").(string)] = true
		}
	}
	if len(seen) != 25 {
		t.Errorf("pages covered %d users", len(seen))
	}
	// count=0 gives the total only.
	if r := e.do("GET", "/Users?count=0", "").must(t, 200); r.total() != 25 || len(r.resources()) != 0 {
		t.Errorf("count=0: %s", r.Raw)
	}
	// Sorted by userName, descending, with a filter.
	r := e.do("GET", "/Users?filter="+url.QueryEscape(`userName sw "user0"`)+"&sortBy=userName&sortOrder=descending&startIndex=2&count=3", "").must(t, 200)
	if r.total() != 10 || walk(r.resources()[0], "userName") != "user08@example.com" || walk(r.resources()[2], "userName") != "user06@example.com" {
		t.Errorf("sorted: %s", r.Raw)
	}
	// Sorted without a filter, through the store.
	r = e.do("GET", "/Users?sortBy=userName&count=2", "").must(t, 200)
	if walk(r.resources()[0], "userName") != "user00@example.com" {
		t.Errorf("sorted by store: %s", r.Raw)
	}
	// attributes keeps id and schemas plus what is asked.
	r = e.do("GET", "/Users?count=1&attributes=userName,emails.value", "").must(t, 200)
	res := r.resources()[0].(map[string]any)
	if res["id"] == nil || res["userName"] == nil || res["meta"] != nil || res["active"] != nil || walk(res, "emails.0.value") == nil || walk(res, "emails.0.type") != nil {
		t.Errorf("attributes: %v", res)
	}
	// excludedAttributes.
	r = e.do("GET", "/Users/"+ids[0]+"?excludedAttributes=emails,meta,groups", "").must(t, 200)
	if r.get("emails") != nil || r.get("meta") != nil || r.get("groups") != nil || r.get("userName") == nil || r.get("id") == nil {
		t.Errorf("excludedAttributes: %s", r.Raw)
	}
	// POST /.search, on the type and at the root.
	r = e.do("POST", "/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq \"user03@example.com\"","attributes":["userName"]}`).must(t, 200)
	if r.total() != 1 || walk(r.resources()[0], "userName") != "user03@example.com" {
		t.Errorf(".search: %s", r.Raw)
	}
	gid := e.createGroup(t, "Searchers")
	r = e.do("POST", "/.search", `{"filter":"id eq \"`+gid+`\" or userName eq \"user03@example.com\"","startIndex":1,"count":10}`).must(t, 200)
	if r.total() != 2 {
		t.Errorf("root .search: %s", r.Raw)
	}
}

// A filter the store answers only in part, sorted in an order the store
// has, reads the store's pages in that order (past the first 1000) and
// keeps one page.
func TestStreamedFilterSorted(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	var titled []string
	for i := range 1005 {
		u := identity.User{UserName: fmt.Sprintf("u%04d@example.com", i)}
		if i%2 == 0 {
			u.Attributes = map[string]string{identity.AttrTitle: "T"}
			titled = append(titled, u.UserName)
		}
		if _, err := e.dir.CreateUser(ctx, identity.SourceSCIM, u, identity.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r := e.do("GET", "/Users?filter="+url.QueryEscape(`title pr and userName sw "u"`)+"&sortBy=userName&sortOrder=descending&startIndex=2&count=3&attributes=userName", "").must(t, 200)
	if r.total() != len(titled) {
		t.Fatalf("total %d, want %d", r.total(), len(titled))
	}
	for i, res := range r.resources() {
		if got, want := walk(res, "userName"), titled[len(titled)-2-i]; got != want {
			t.Errorf("resource %d: %v, want %s", i, got, want)
		}
	}
}
