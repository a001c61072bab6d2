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
}

func newCountingStore(s identity.Store) *countingStore {
	return &countingStore{Store: s, c: &counts{}}
}

func (s *countingStore) ListUsers(ctx context.Context, q identity.UserQuery) (identity.UserPage, error) {
	s.c.lists.Add(1)
	return s.Store.ListUsers(ctx, q)
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
	e := newEnvOn(t, cs)
	ids := seedUsers(t, e)
	alice, bob, carol, olga := ids[0], ids[1], ids[2], ids[3]
	for _, tc := range []struct {
		filter string
		want   []string
		scan   bool
	}{
		{`userName eq "alice@example.com"`, []string{alice}, false},
		{`userName eq "ALICE@example.com"`, []string{alice}, false}, // userName is not caseExact
		{`USERNAME Eq "alice@example.com"`, []string{alice}, false},
		{`userName eq "nobody@example.com"`, nil, false},
		{`userName eq "alice@example.com" and active eq false`, nil, false},
		{`externalId eq "A1"`, []string{alice}, false},
		{`externalId eq "a1"`, nil, false}, // externalId is caseExact
		{`externalId eq jyoung`, []string{carol}, false},
		{`id eq "` + bob + `"`, []string{bob}, false},
		{`emails.value eq "bob@example.org"`, []string{bob}, false},
		{`emails eq "bob@example.org"`, []string{bob}, false},
		{`emails[type eq "work"].value eq "bob@example.org"`, []string{bob}, false},
		{`emails[type eq "work" and value eq "BOB@example.org"]`, []string{bob}, false},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@example.com"`, []string{bob}, false},
		{`userName sw "a"`, []string{alice}, true},
		{`userName sw O`, []string{olga}, true},
		{`userName co "example"`, []string{alice, bob, carol, olga}, true},
		{`userName ew ".com" and not (title pr)`, []string{carol, olga}, true},
		{`title pr`, []string{alice, bob}, true},
		{`active eq false`, []string{carol}, true},
		{`active eq "False"`, []string{carol}, true},
		{`userName ne "alice@example.com"`, []string{bob, carol, olga}, true},
		{`name.familyName eq "young" or name.givenName eq "Carol"`, []string{bob, carol}, true},
		{`name.FamilyName eq Young and (emails.Value co example.org or emails.Value co example.net)`, []string{bob}, true},
		{`emails[type eq "work" and value ew ".com"]`, []string{alice, carol}, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales"`, []string{bob}, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "100"`, []string{alice}, true},
		{`meta.created gt "2000-01-01T00:00:00Z"`, []string{alice, bob, carol, olga}, true},
		{`meta.Created gt 2030-01-01T00:00:00Z`, nil, true},
		{`meta.Created gt 2015-10-10T14:38:21.8617979-07:00`, []string{alice, bob, carol, olga}, true}, // Microsoft's Postman collection
		{`meta.resourceType eq "User"`, []string{alice, bob, carol, olga}, true},
		{`nickName eq "x"`, nil, true},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			before := cs.c.lists.Load()
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
			if scanned := cs.c.lists.Load() != before; scanned != tc.scan {
				t.Errorf("scanned %v, want %v", scanned, tc.scan)
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
