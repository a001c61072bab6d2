package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

const testToken = "test-admin-token-0123456789"

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// testServer is the real handler, built as run builds it, behind httptest.
type testServer struct {
	*httptest.Server
	dir  *identity.Directory // the tenant's core, to set up what the API cannot
	logs *syncBuffer
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServerWith(t, "", nil)
}

// newTestServerWith serves the configuration file content (none if empty),
// with the environment vars besides the admin token, on a private in-memory
// SQLite database.
func newTestServerWith(t *testing.T, content string, vars map[string]string) *testServer {
	t.Helper()
	all := map[string]string{EnvAdminToken: testToken}
	maps.Copy(all, vars)
	path := ""
	if content != "" {
		path = writeConfig(t, content)
	}
	cfg, err := loadConfig(path, env(all))
	require.NoError(t, err)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stores, closeStore, err := openStore(context.Background(), storeFlags{sqlite: ":memory:"}, logger)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, closeStore()) })
	s, err := newServer(cfg, stores, logger)
	require.NoError(t, err)
	ts := httptest.NewServer(s.handler())
	t.Cleanup(ts.Close)
	dir, err := s.directoryOf(cfg.Tenant)
	require.NoError(t, err)
	return &testServer{Server: ts, dir: dir, logs: logs}
}

// response is a response read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a new value of type T.
func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), "body: %s", r.body)
	return v
}

// call sends a request with the admin token; body is JSON-encoded unless it
// is a string or nil.
func (ts *testServer) call(t *testing.T, method, path string, body any, header ...string) response {
	t.Helper()
	return ts.callAs(t, testToken, method, path, body, header...)
}

func (ts *testServer) callAs(t *testing.T, token, method, path string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// create makes a user through the API and returns its JSON.
func (ts *testServer) create(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	res := ts.call(t, "POST", "/api/v1/users", body)
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	return decode[map[string]any](t, res)
}

type apiError struct {
	Error  string `json:"error"`
	Fields []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"fields"`
}

func (e apiError) fieldNames() []string {
	var names []string
	for _, f := range e.Fields {
		names = append(names, f.Field)
	}
	return names
}

func TestHealthzNeedsNoToken(t *testing.T) {
	ts := newTestServer(t)
	res := ts.callAs(t, "", "GET", "/healthz", nil)
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "ok", string(res.body))
}

func TestAdminAPINeedsTheToken(t *testing.T) {
	ts := newTestServer(t)
	for _, path := range []string{"/api/v1/users", "/api/v1/users/x", "/api/v1/groups", "/api/v1/events"} {
		for _, tc := range []struct{ name, auth string }{
			{"no header", ""},
			{"wrong token", "Bearer " + testToken + "x"},
			{"a prefix of the token", "Bearer " + testToken[:10]},
			{"another scheme", "Basic " + testToken},
			{"empty bearer", "Bearer "},
		} {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				var hdr []string
				if tc.auth != "" {
					hdr = []string{"Authorization", tc.auth}
				}
				res := ts.callAs(t, "", "GET", path, nil, hdr...)
				assert.Equal(t, http.StatusUnauthorized, res.status)
				assert.True(t, strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer"), res.header.Get("WWW-Authenticate"))
				assert.NotEmpty(t, decode[apiError](t, res).Error)
			})
		}
	}
	res := ts.call(t, "POST", "/api/v1/users", map[string]any{"email": "x@example.com"}, "Authorization", "Bearer nope")
	assert.Equal(t, http.StatusUnauthorized, res.status)
	assert.Equal(t, `{"users":[],"total":0}`, strings.TrimSpace(string(ts.call(t, "GET", "/api/v1/users", nil).body)), "nothing was created")
	assert.NotContains(t, ts.logs.String(), testToken)
}

func TestCreateUser(t *testing.T) {
	ts := newTestServer(t)
	res := ts.call(t, "POST", "/api/v1/users", map[string]any{
		"email": " Ada@Acme.example ", "givenName": "Ada", "familyName": "Lovelace", "displayName": "Ada L.",
		"attributes": map[string]string{"department": "R&D"},
	})
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	u := decode[map[string]any](t, res)
	keys := slices.Sorted(maps.Keys(u))
	assert.Equal(t, []string{"active", "attributes", "created", "displayName", "email", "emailVerified", "externalId",
		"familyName", "givenName", "id", "updated", "userName", "version"}, keys, "no invitation without invite")
	assert.NotEmpty(t, u["id"])
	assert.Equal(t, "Ada@Acme.example", u["email"], "trimmed, the case as given")
	assert.Equal(t, "Ada@Acme.example", u["userName"], "userName defaults to the email")
	assert.Equal(t, "Ada", u["givenName"])
	assert.Equal(t, "Lovelace", u["familyName"])
	assert.Equal(t, "Ada L.", u["displayName"])
	assert.Equal(t, true, u["active"])
	assert.Equal(t, false, u["emailVerified"], "a manual user's email is unverified until the invitation is accepted")
	assert.Equal(t, map[string]any{"department": "R&D"}, u["attributes"])
	assert.Equal(t, float64(1), u["version"])
	created, err := time.Parse(time.RFC3339Nano, u["created"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), created, time.Minute)
	assert.Equal(t, "/api/v1/users/"+u["id"].(string), res.header.Get("Location"))
	assert.Equal(t, `"1"`, res.header.Get("ETag"))
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))

	stored, err := ts.dir.Reader().User(t.Context(), u["id"].(string))
	require.NoError(t, err)
	assert.Equal(t, "Ada@Acme.example", stored.Email)
}

func TestCreateUserDuplicateEmail(t *testing.T) {
	ts := newTestServer(t)
	ts.create(t, map[string]any{"email": "bob@example.com"})
	res := ts.call(t, "POST", "/api/v1/users", map[string]any{"email": "BOB@Example.COM", "userName": "bob2"})
	assert.Equal(t, http.StatusConflict, res.status, "body: %s", res.body)
	e := decode[apiError](t, res)
	assert.Equal(t, []string{"email"}, e.fieldNames())
	assert.NotContains(t, string(res.body), "bob@", "a conflict names the field, never the value")
}

func TestCreateUserInvalid(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"bad email", map[string]any{"email": "not-an-email"}, []string{"email"}},
		{"display name in the email", map[string]any{"email": "Ada <ada@example.com>"}, []string{"email"}},
		{"no email, no userName", map[string]any{"givenName": "Nobody"}, []string{"userName"}},
		{"invite without email", map[string]any{"userName": "carol", "invite": true}, []string{"email"}},
		{"control character", map[string]any{"email": "d@example.com", "givenName": "D\x00"}, []string{"givenName"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.call(t, "POST", "/api/v1/users", tc.body)
			assert.Equal(t, http.StatusUnprocessableEntity, res.status, "body: %s", res.body)
			assert.Equal(t, tc.fields, decode[apiError](t, res).fieldNames())
		})
	}
}

func TestCreateUserMalformedBody(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range []struct {
		name   string
		body   string
		ctype  string
		status int
		want   string
	}{
		{"unknown field", `{"email":"a@example.com","role":"admin"}`, "application/json", 400, `unknown field "role"`},
		{"field of the wrong type", `{"email":42}`, "application/json", 400, "wrong type"},
		{"not JSON", `email=a@example.com`, "application/json", 400, "malformed JSON"},
		{"truncated", `{"email":"a@example.com"`, "application/json", 400, "ends too soon"},
		{"two objects", `{"email":"a@example.com"}{"email":"b@example.com"}`, "application/json", 400, "nothing after it"},
		{"an array", `[]`, "application/json", 400, "JSON object"},
		{"empty", ``, "application/json", 400, "empty"},
		{"form", `email=a@example.com`, "application/x-www-form-urlencoded", 415, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.call(t, "POST", "/api/v1/users", tc.body, "Content-Type", tc.ctype)
			assert.Equal(t, tc.status, res.status, "body: %s", res.body)
			assert.Contains(t, decode[apiError](t, res).Error, tc.want)
		})
	}
	assert.Zero(t, decode[struct{ Total int }](t, ts.call(t, "GET", "/api/v1/users", nil)).Total)
}

func TestCreateUserBodyTooLarge(t *testing.T) {
	ts := newTestServer(t)
	body := `{"email":"big@example.com","displayName":"` + strings.Repeat("a", maxBody) + `"}`
	res := ts.call(t, "POST", "/api/v1/users", body)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.status)
	assert.Contains(t, decode[apiError](t, res).Error, "1 MiB")
}

func TestGetUser(t *testing.T) {
	ts := newTestServer(t)
	u := ts.create(t, map[string]any{"email": "gus@example.com", "givenName": "Gus"})
	id := u["id"].(string)

	res := ts.call(t, "GET", "/api/v1/users/"+id, nil)
	require.Equal(t, http.StatusOK, res.status)
	got := decode[map[string]any](t, res)
	assert.Equal(t, []any{}, got["groups"], "groups is an empty list, not absent")
	delete(got, "groups")
	assert.Equal(t, u, got)
	assert.Equal(t, `"1"`, res.header.Get("ETag"))

	// Groups come with their kinds.
	ctx := t.Context()
	staff, err := ts.dir.CreateGroup(ctx, identity.SourceManual, "Staff", "")
	require.NoError(t, err)
	_, err = ts.dir.AddMember(ctx, identity.SourceManual, staff.ID, id)
	require.NoError(t, err)
	withGroups := decode[struct {
		Groups []groupRefJSON `json:"groups"`
	}](t, ts.call(t, "GET", "/api/v1/users/"+id, nil))
	assert.Equal(t, []groupRefJSON{{ID: staff.ID, Name: "Staff", Kind: groups.Internal}}, withGroups.Groups)

	res = ts.call(t, "GET", "/api/v1/users/no-such-user", nil)
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, "not found", decode[apiError](t, res).Error)
}

func TestListUsersSearchAndPaging(t *testing.T) {
	ts := newTestServer(t)
	for i := range 7 {
		ts.create(t, map[string]any{"email": fmt.Sprintf("member%d@team.example", i), "givenName": fmt.Sprintf("Member %d", i)})
	}
	for i := range 3 {
		ts.create(t, map[string]any{"email": fmt.Sprintf("guest%d@other.example", i)})
	}
	type page struct {
		Users []userJSON `json:"users"`
		Total int        `json:"total"`
	}
	all := decode[page](t, ts.call(t, "GET", "/api/v1/users", nil))
	assert.Equal(t, 10, all.Total)
	assert.Len(t, all.Users, 10)

	ids := func(p page) []string {
		var out []string
		for _, u := range p.Users {
			out = append(out, u.ID)
		}
		return out
	}
	// Offset paging: total counts every match, the pages are disjoint and
	// cover the matches.
	var byOffset []string
	for offset := 0; offset < 7; offset += 3 {
		p := decode[page](t, ts.call(t, "GET", fmt.Sprintf("/api/v1/users?q=TEAM&limit=3&offset=%d", offset), nil))
		assert.Equal(t, 7, p.Total)
		for _, u := range p.Users {
			assert.Contains(t, u.Email, "@team.example")
		}
		byOffset = append(byOffset, ids(p)...)
	}
	assert.Len(t, byOffset, 7)
	assert.Len(t, slices.Compact(slices.Sorted(slices.Values(byOffset))), 7, "pages are disjoint")

	// Keyset paging gives the same users in the same order.
	var byAfter []string
	after := ""
	for range 4 {
		p := decode[page](t, ts.call(t, "GET", "/api/v1/users?q=team&limit=3&after="+after, nil))
		assert.Equal(t, 7, p.Total)
		if len(p.Users) == 0 {
			break
		}
		byAfter = append(byAfter, ids(p)...)
		after = p.Users[len(p.Users)-1].ID
	}
	assert.Equal(t, byOffset, byAfter)

	// active filters.
	ts.call(t, "POST", "/api/v1/users/"+byOffset[0]+"/deactivate", nil)
	inactive := decode[page](t, ts.call(t, "GET", "/api/v1/users?active=false", nil))
	assert.Equal(t, 1, inactive.Total)
	assert.Equal(t, []string{byOffset[0]}, ids(inactive))
	assert.Equal(t, 9, decode[page](t, ts.call(t, "GET", "/api/v1/users?active=true", nil)).Total)

	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "offset=-1", "active=yes"} {
		res := ts.call(t, "GET", "/api/v1/users?"+q, nil)
		assert.Equal(t, http.StatusBadRequest, res.status, q)
		name, _, _ := strings.Cut(q, "=")
		assert.Equal(t, []string{name}, decode[apiError](t, res).fieldNames(), q)
	}
}

type eventsPage struct {
	Events []eventJSON `json:"events"`
	Next   int64       `json:"next"`
}

func TestDeactivateRestoreAndEvents(t *testing.T) {
	ts := newTestServer(t)
	id := ts.create(t, map[string]any{"email": "dora@example.com"})["id"].(string)

	res := ts.call(t, "POST", "/api/v1/users/"+id+"/deactivate", nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.False(t, decode[userJSON](t, res).Active)
	assert.Equal(t, `"2"`, res.header.Get("ETag"))
	assert.False(t, decode[userJSON](t, ts.call(t, "GET", "/api/v1/users/"+id, nil)).Active)

	// Deactivating again changes nothing.
	res = ts.call(t, "POST", "/api/v1/users/"+id+"/deactivate", nil)
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, int64(2), decode[userJSON](t, res).Version)

	res = ts.call(t, "POST", "/api/v1/users/"+id+"/restore", nil)
	require.Equal(t, http.StatusOK, res.status)
	restored := decode[userJSON](t, res)
	assert.True(t, restored.Active)
	assert.Equal(t, int64(3), restored.Version)

	assert.Equal(t, http.StatusNotFound, ts.call(t, "POST", "/api/v1/users/nobody/deactivate", nil).status)

	events := decode[eventsPage](t, ts.call(t, "GET", "/api/v1/events", nil))
	var types []string
	for i, e := range events.Events {
		types = append(types, e.Type)
		assert.Equal(t, id, e.UserID)
		assert.Equal(t, identity.SourceManual, e.Source)
		assert.Equal(t, "admin", e.Actor, "changes through the admin API name their actor")
		assert.Equal(t, "default", e.Tenant)
		if i > 0 {
			assert.Greater(t, e.Seq, events.Events[i-1].Seq, "cursors increase")
		}
	}
	assert.Equal(t, []string{"user.created", "user.deactivated", "user.restored"}, types)
	require.Len(t, events.Events, 3)
	assert.Equal(t, events.Events[2].Seq, events.Next)

	// Reading on from a cursor.
	rest := decode[eventsPage](t, ts.call(t, "GET", fmt.Sprintf("/api/v1/events?after=%d&limit=1", events.Events[0].Seq), nil))
	require.Len(t, rest.Events, 1)
	assert.Equal(t, "user.deactivated", rest.Events[0].Type)
	none := decode[eventsPage](t, ts.call(t, "GET", fmt.Sprintf("/api/v1/events?after=%d", events.Next), nil))
	assert.Empty(t, none.Events)
	assert.Equal(t, events.Next, none.Next)

	assert.Equal(t, http.StatusBadRequest, ts.call(t, "GET", "/api/v1/events?after=-1", nil).status)
}

func TestDeactivateIfMatch(t *testing.T) {
	ts := newTestServer(t)
	id := ts.create(t, map[string]any{"email": "erin@example.com"})["id"].(string)

	res := ts.call(t, "POST", "/api/v1/users/"+id+"/deactivate", nil, "If-Match", `"7"`)
	assert.Equal(t, http.StatusPreconditionFailed, res.status, "body: %s", res.body)
	assert.True(t, decode[userJSON](t, ts.call(t, "GET", "/api/v1/users/"+id, nil)).Active, "nothing changed")

	res = ts.call(t, "POST", "/api/v1/users/"+id+"/deactivate", nil, "If-Match", `"1"`)
	assert.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, http.StatusBadRequest, ts.call(t, "POST", "/api/v1/users/"+id+"/restore", nil, "If-Match", `W/"2"`).status)
}

func TestCreateWithInvitation(t *testing.T) {
	ts := newTestServer(t)
	res := ts.call(t, "POST", "/api/v1/users", map[string]any{"email": "ivy@example.com", "invite": true})
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	var created struct {
		userJSON
		InvitationToken   string    `json:"invitationToken"`
		InvitationExpires time.Time `json:"invitationExpires"`
	}
	require.NoError(t, json.Unmarshal(res.body, &created))
	assert.Len(t, created.InvitationToken, 43, "32 random bytes, base64url")
	assert.WithinDuration(t, time.Now().Add(7*24*time.Hour), created.InvitationExpires, time.Minute)

	// The token is shown in the creating response only.
	for _, path := range []string{"/api/v1/users/" + created.ID, "/api/v1/users", "/api/v1/events"} {
		res := ts.call(t, "GET", path, nil)
		require.Equal(t, http.StatusOK, res.status)
		assert.NotContains(t, string(res.body), created.InvitationToken, path)
		assert.NotContains(t, string(res.body), "invitation", path)
	}
	assert.NotContains(t, ts.logs.String(), created.InvitationToken)

	// It is a real invitation: accepting it verifies the email.
	u, err := ts.dir.AcceptInvitation(t.Context(), created.InvitationToken)
	require.NoError(t, err)
	assert.True(t, u.EmailVerified)

	events := decode[eventsPage](t, ts.call(t, "GET", "/api/v1/events", nil))
	var types []string
	for _, e := range events.Events {
		types = append(types, e.Type)
	}
	assert.Equal(t, []string{"user.created", "user.invited", "user.updated"}, types)
}

func TestListGroups(t *testing.T) {
	ts := newTestServer(t)
	ctx := t.Context()
	for _, name := range []string{"Staff", "Admins", "Staff Berlin"} {
		_, err := ts.dir.CreateGroup(ctx, identity.SourceManual, name, "")
		require.NoError(t, err)
	}
	page := decode[struct {
		Groups []groupJSON `json:"groups"`
		Total  int         `json:"total"`
	}](t, ts.call(t, "GET", "/api/v1/groups?q=staff&limit=1", nil))
	assert.Equal(t, 2, page.Total)
	require.Len(t, page.Groups, 1)
	assert.Equal(t, groups.Internal, page.Groups[0].Kind)
	assert.Equal(t, identity.SourceManual, page.Groups[0].Source)
	assert.Equal(t, http.StatusBadRequest, ts.call(t, "GET", "/api/v1/groups?kind=other", nil).status)
}

func TestInternalErrorsStayInTheLog(t *testing.T) {
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/users", nil)
	writeError(rec, req, logger, fmt.Errorf("store: connection to 10.0.0.7 refused: %w", errors.New("secret detail")))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.JSONEq(t, `{"error":"internal error"}`, rec.Body.String())
	assert.Contains(t, logs.String(), "secret detail")
	assert.Contains(t, logs.String(), "level=ERROR")
}

func TestErrorTable(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{fmt.Errorf("x: %w", identity.ErrNotFound), 404},
		{identity.ErrInvitation, 404},
		{&identity.ConflictError{Resource: "user", Field: "externalID"}, 409},
		{&identity.ValidationError{Fields: []identity.FieldError{{Field: "email", Message: "bad"}}}, 422},
		{fmt.Errorf("x: %w", identity.ErrNotAllowed), 403},
		{fmt.Errorf("x: %w", identity.ErrDeactivated), 409},
		{fmt.Errorf("x: %w", identity.ErrVersionMismatch), 412},
		{fmt.Errorf("x: %w", errors.ErrUnsupported), 501},
		{badRequest("bad"), 400},
		{errors.New("boom"), 500},
	} {
		rec := httptest.NewRecorder()
		writeError(rec, httptest.NewRequest("GET", "/", nil), slog.New(slog.DiscardHandler), tc.err)
		assert.Equal(t, tc.status, rec.Code, "%v", tc.err)
		assert.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
		assert.NotContains(t, rec.Body.String(), "x: ", "the error's own text is not sent")
	}
	rec := httptest.NewRecorder()
	writeError(rec, httptest.NewRequest("GET", "/", nil), slog.New(slog.DiscardHandler), &identity.ConflictError{Resource: "user", Field: "externalID"})
	assert.JSONEq(t, `{"error":"another user has this externalId","fields":[{"field":"externalId","message":"is taken"}]}`, rec.Body.String())
}
