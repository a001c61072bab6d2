package googlesync

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// fakeAPI is a Directory API that serves the documented JSON shapes from
// memory: groups, members and users, with pages no larger than the request's
// maxResults and the fake's own caps, and faults injected on demand.
type fakeAPI struct {
	mu      sync.Mutex
	groups  []fakeGroup
	members map[string][]fakeMember // by group ID
	users   map[string]fakeUser     // by user ID

	// Page caps of the fake, under the request's maxResults; 0 means none.
	groupCap, memberCap, userCap int

	// fault, when set, may answer a request instead of the fake: it returns
	// a status (0 to let the fake answer), a reason and a Retry-After.
	fault func(r *http.Request, n int) (status int, reason, retryAfter string)

	calls    map[string]int // by kind: groups, members, user, users
	requests int
	maxPage  map[string]int // the largest maxResults asked, by kind

	// gate, when set, holds every groups request until it is closed.
	gate               chan struct{}
	inflight, maxFlows int

	mux *http.ServeMux
}

type fakeGroup struct{ ID, Email, Name string }

type fakeMember struct{ ID, Email, Type, Status string }

type fakeUser struct {
	ID, Email, Given, Family string
	Suspended                bool
}

func newFakeAPI() *fakeAPI {
	f := &fakeAPI{
		members: make(map[string][]fakeMember),
		users:   make(map[string]fakeUser),
		calls:   make(map[string]int),
		maxPage: make(map[string]int),
		mux:     http.NewServeMux(),
	}
	f.mux.HandleFunc("GET /admin/directory/v1/groups", f.listGroups)
	f.mux.HandleFunc("GET /admin/directory/v1/groups/{key}/members", f.listMembers)
	f.mux.HandleFunc("GET /admin/directory/v1/users", f.listUsers)
	f.mux.HandleFunc("GET /admin/directory/v1/users/{key}", f.getUser)
	return f
}

// addUser adds a user of the account.
func (f *fakeAPI) addUser(id, email, given, family string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[id] = fakeUser{ID: id, Email: email, Given: given, Family: family}
}

// addGroup adds a group with members: "u:<id>" a user, "g:<id>" a group,
// "customer" the CUSTOMER member, "x:<email>" an EXTERNAL member, and
// "s:<id>" a user listed as SUSPENDED.
func (f *fakeAPI) addGroup(id, email, name string, members ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups = append(f.groups, fakeGroup{ID: id, Email: email, Name: name})
	f.members[id] = nil
	f.setMembersLocked(id, members...)
}

func (f *fakeAPI) setMembers(id string, members ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setMembersLocked(id, members...)
}

func (f *fakeAPI) setMembersLocked(id string, members ...string) {
	var ms []fakeMember
	for _, m := range members {
		switch {
		case m == "customer":
			ms = append(ms, fakeMember{ID: "C0123", Type: "CUSTOMER", Status: "ACTIVE"})
		case m[:2] == "u:" || m[:2] == "s:":
			u := f.users[m[2:]]
			st := "ACTIVE"
			if m[:2] == "s:" || u.Suspended {
				st = "SUSPENDED"
			}
			ms = append(ms, fakeMember{ID: m[2:], Email: u.Email, Type: "USER", Status: st})
		case m[:2] == "g:":
			email := ""
			for _, g := range f.groups {
				if g.ID == m[2:] {
					email = g.Email
				}
			}
			ms = append(ms, fakeMember{ID: m[2:], Email: email, Type: "GROUP", Status: "ACTIVE"})
		case m[:2] == "x:":
			ms = append(ms, fakeMember{ID: "ext-" + m[2:], Email: m[2:], Type: "EXTERNAL", Status: "ACTIVE"})
		default:
			panic("fakeAPI: bad member " + m)
		}
	}
	f.members[id] = ms
}

func (f *fakeAPI) removeGroup(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups = slices.DeleteFunc(f.groups, func(g fakeGroup) bool { return g.ID == id })
	delete(f.members, id)
}

// count returns the calls of a kind so far ("" for every request).
func (f *fakeAPI) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if kind == "" {
		return f.requests
	}
	return f.calls[kind]
}

func (f *fakeAPI) resetCounts() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = 0
	clear(f.calls)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// begin counts a request and applies the fault; it reports whether the
// fake should answer.
func (f *fakeAPI) begin(w http.ResponseWriter, r *http.Request, kind string) bool {
	f.mu.Lock()
	f.requests++
	f.calls[kind]++
	n := f.requests
	if m, err := strconv.Atoi(r.URL.Query().Get("maxResults")); err == nil && m > f.maxPage[kind] {
		f.maxPage[kind] = m
	}
	fault := f.fault
	f.mu.Unlock()
	if fault != nil {
		if status, reason, ra := fault(r, n); status != 0 {
			if ra != "" {
				w.Header().Set("Retry-After", ra)
			}
			writeError(w, status, reason)
			return false
		}
	}
	return true
}

func writeError(w http.ResponseWriter, status int, reason string) {
	domain := "global"
	if status == http.StatusForbidden || status == http.StatusTooManyRequests {
		domain = "usageLimits"
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code": status, "message": http.StatusText(status),
		"errors": []map[string]string{{"domain": domain, "reason": reason, "message": http.StatusText(status)}},
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// page returns the bounds of the page a request asks for, and the next
// page's token.
func page(r *http.Request, n, limit int) (from, to int, next string) {
	max, _ := strconv.Atoi(r.URL.Query().Get("maxResults"))
	if max <= 0 {
		max = 200
	}
	if limit > 0 && limit < max {
		max = limit
	}
	from, _ = strconv.Atoi(r.URL.Query().Get("pageToken"))
	from = min(from, n)
	to = min(from+max, n)
	if to < n {
		next = strconv.Itoa(to)
	}
	return from, to, next
}

func (f *fakeAPI) listGroups(w http.ResponseWriter, r *http.Request) {
	if f.gate != nil {
		f.mu.Lock()
		f.inflight++
		f.maxFlows = max(f.maxFlows, f.inflight)
		gate := f.gate
		f.mu.Unlock()
		<-gate
		defer func() { f.mu.Lock(); f.inflight--; f.mu.Unlock() }()
	}
	if !f.begin(w, r, "groups") {
		return
	}
	q := r.URL.Query()
	if q.Get("customer") == "" && q.Get("domain") == "" {
		writeError(w, http.StatusBadRequest, "invalid")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	from, to, next := page(r, len(f.groups), f.groupCap)
	out := []map[string]any{}
	for _, g := range f.groups[from:to] {
		out = append(out, map[string]any{
			"kind": "admin#directory#group", "id": g.ID, "email": g.Email, "name": g.Name,
			"directMembersCount": strconv.Itoa(len(f.members[g.ID])), "adminCreated": true,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": "admin#directory#groups", "groups": out, "nextPageToken": next})
}

func (f *fakeAPI) listMembers(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, r, "members") {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ms, ok := f.members[r.PathValue("key")]
	if !ok {
		writeError(w, http.StatusNotFound, "notFound")
		return
	}
	from, to, next := page(r, len(ms), f.memberCap)
	out := []map[string]any{}
	for _, m := range ms[from:to] {
		v := map[string]any{"kind": "admin#directory#member", "id": m.ID, "role": "MEMBER", "type": m.Type, "status": m.Status}
		if m.Email != "" {
			v["email"] = m.Email
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": "admin#directory#members", "members": out, "nextPageToken": next})
}

func userJSON(u fakeUser) map[string]any {
	return map[string]any{
		"kind": "admin#directory#user", "id": u.ID, "primaryEmail": u.Email,
		"name":      map[string]any{"givenName": u.Given, "familyName": u.Family, "fullName": u.Given + " " + u.Family},
		"suspended": u.Suspended, "isAdmin": false,
	}
}

func (f *fakeAPI) listUsers(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, r, "users") {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.users))
	for id := range f.users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	from, to, next := page(r, len(ids), f.userCap)
	out := []map[string]any{}
	for _, id := range ids[from:to] {
		out = append(out, userJSON(f.users[id]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": "admin#directory#users", "users": out, "nextPageToken": next})
}

func (f *fakeAPI) getUser(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, r, "user") {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[r.PathValue("key")]
	if !ok {
		writeError(w, http.StatusNotFound, "notFound")
		return
	}
	writeJSON(w, http.StatusOK, userJSON(u))
}

// Sanity of the fake's own paging.
func TestFakePage(t *testing.T) {
	r, _ := http.NewRequest("GET", "/x?maxResults=200&pageToken=4", nil)
	if from, to, next := page(r, 10, 3); from != 4 || to != 7 || next != "7" {
		t.Fatalf("page = %d, %d, %q", from, to, next)
	}
	if _, _, next := page(r, 6, 3); next != "" {
		t.Fatalf("last page has next %q", next)
	}
}
