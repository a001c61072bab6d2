package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// maxPage caps the limit of a listing.
const maxPage = 1000

// mountAdmin mounts the admin JSON API, each route behind the admin token.
func (s *server) mountAdmin(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/users", s.admin(listUsers))
	mux.Handle("POST /api/v1/users", s.admin(createUser))
	mux.Handle("GET /api/v1/users/{id}", s.admin(getUser))
	mux.Handle("POST /api/v1/users/{id}/deactivate", s.admin(setActive(false)))
	mux.Handle("POST /api/v1/users/{id}/restore", s.admin(setActive(true)))
	mux.Handle("GET /api/v1/groups", s.admin(listGroups))
	mux.Handle("GET /api/v1/events", s.admin(listEvents))
	s.mountFlows(mux)
}

// userJSON is a user as the API shows it. Every field is always present.
type userJSON struct {
	ID            string            `json:"id"`
	Email         string            `json:"email"`
	UserName      string            `json:"userName"`
	GivenName     string            `json:"givenName"`
	FamilyName    string            `json:"familyName"`
	DisplayName   string            `json:"displayName"`
	Active        bool              `json:"active"`
	EmailVerified bool              `json:"emailVerified"`
	ExternalID    string            `json:"externalId"`
	Attributes    map[string]string `json:"attributes"`
	Created       time.Time         `json:"created"`
	Updated       time.Time         `json:"updated"`
	Version       int64             `json:"version"`
}

func toUserJSON(u identity.User) userJSON {
	attrs := u.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	return userJSON{
		ID: u.ID, Email: u.Email, UserName: u.UserName,
		GivenName: u.GivenName, FamilyName: u.FamilyName, DisplayName: u.DisplayName,
		Active: u.Active, EmailVerified: u.EmailVerified, ExternalID: u.ExternalID,
		Attributes: attrs, Created: u.Created, Updated: u.Updated, Version: u.Version,
	}
}

// groupRefJSON is one of a user's groups.
type groupRefJSON struct {
	ID   string      `json:"id"`
	Name string      `json:"name"`
	Kind groups.Kind `json:"kind"`
}

// groupJSON is a group as the API shows it.
type groupJSON struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Kind       groups.Kind `json:"kind"`
	Source     string      `json:"source"`
	ExternalID string      `json:"externalId"`
	Created    time.Time   `json:"created"`
	Updated    time.Time   `json:"updated"`
	Version    int64       `json:"version"`
}

// eventJSON is an event as the API shows it. Seq is its cursor.
type eventJSON struct {
	Seq     int64     `json:"seq"`
	Type    string    `json:"type"`
	Tenant  string    `json:"tenant"`
	Source  string    `json:"source"`
	Actor   string    `json:"actor,omitempty"`
	UserID  string    `json:"userId,omitempty"`
	GroupID string    `json:"groupId,omitempty"`
	Fields  []string  `json:"fields,omitempty"`
	Time    time.Time `json:"time"`
}

// setETag sets the user's version as a strong ETag, for If-Match.
func setETag(w http.ResponseWriter, u identity.User) {
	w.Header().Set("ETag", `"`+strconv.FormatInt(u.Version, 10)+`"`)
}

// ifMatch returns the version an If-Match header names, or 0 for none or "*".
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(h, `"`), `"`), 10, 64)
	if err != nil || v < 1 || !strings.HasPrefix(h, `"`) || !strings.HasSuffix(h, `"`) {
		return 0, badRequest(`If-Match must be an ETag of this API, such as "3"`, fieldJSON{Field: "If-Match", Message: "is not an ETag of this API"})
	}
	return v, nil
}

// GET /api/v1/users?q=&active=&limit=&offset=&after=
func listUsers(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	query := r.URL.Query()
	var q identity.UserQuery
	var err error
	if q.Limit, q.Offset, q.After, err = paging(query); err != nil {
		return err
	}
	if q.Search, err = searchParam(query); err != nil {
		return err
	}
	if q.After != "" {
		if _, err := dir.Reader().User(r.Context(), q.After); errors.Is(err, identity.ErrNotFound) {
			return badRequest("bad query parameter", fieldJSON{Field: "after", Message: "names no user: pass the id of the last user of a page"})
		}
	}
	switch a := query.Get("active"); a {
	case "":
	case "true", "false":
		active := a == "true"
		q.Active = &active
	default:
		return badRequest("bad query parameter", fieldJSON{Field: "active", Message: "must be true or false"})
	}
	return writeUsers(w, r, dir, q)
}

// writeUsers answers the page of users q selects: {"users": [...],
// "total": n}.
func writeUsers(w http.ResponseWriter, r *http.Request, dir *identity.Directory, q identity.UserQuery) error {
	page, err := dir.Reader().ListUsers(r.Context(), q)
	if err != nil {
		return err
	}
	users := make([]userJSON, len(page.Users))
	for i, u := range page.Users {
		users[i] = toUserJSON(u)
	}
	writeJSON(w, http.StatusOK, struct {
		Users []userJSON `json:"users"`
		Total int        `json:"total"`
	}{users, page.Total})
	return nil
}

// paging reads limit (1 to maxPage, default identity.DefaultLimit), offset
// and after.
func paging(query url.Values) (limit, offset int, after string, err error) {
	limit, err = intParam(query, "limit", identity.DefaultLimit, 1, maxPage)
	if err != nil {
		return 0, 0, "", err
	}
	offset, err = intParam(query, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return 0, 0, "", err
	}
	after = query.Get("after")
	if after != "" && !validID(after) {
		return 0, 0, "", badRequest("bad query parameter", fieldJSON{Field: "after", Message: "must be an id from an earlier response"})
	}
	return limit, offset, after, nil
}

// validID reports whether s has the shape of an identifier: 1 to 64 ASCII
// letters, digits, '-' and '_' (identity.NewID makes 32 hex digits).
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// searchParam reads q, the search text: valid UTF-8, at most
// identity.MaxNameLength bytes, with no control, bidi-override or invisible
// character (identity.HiddenRune), so that a NUL does not match everyone.
func searchParam(query url.Values) (string, error) {
	q := query.Get("q")
	if msg := identity.TextProblem(q, identity.MaxNameLength); msg != "" {
		return "", badRequest("bad query parameter", fieldJSON{Field: "q", Message: msg})
	}
	return q, nil
}

// intParam reads an integer query parameter between lo and hi.
func intParam(query url.Values, name string, def, lo, hi int) (int, error) {
	s := query.Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, badRequest("bad query parameter", fieldJSON{Field: name, Message: "must be a whole number from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)})
	}
	return v, nil
}

// createUserRequest is the body of POST /api/v1/users.
type createUserRequest struct {
	Email       string            `json:"email"`
	UserName    string            `json:"userName"`
	GivenName   string            `json:"givenName"`
	FamilyName  string            `json:"familyName"`
	DisplayName string            `json:"displayName"`
	Attributes  map[string]string `json:"attributes"`
	// Invite creates an invitation with the user, in the same transaction.
	Invite bool `json:"invite"`
}

// POST /api/v1/users: create a user by hand, and invite them with
// "invite": true. The invitation token is in this response only (a host
// emails it); only its hash is stored.
func createUser(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	var req createUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Invite && strings.TrimSpace(req.Email) == "" {
		return &identity.ValidationError{Fields: []identity.FieldError{{Field: "email", Message: "is required to invite"}}}
	}
	var (
		user    identity.User
		token   string
		expires time.Time
	)
	err := dir.Do(r.Context(), identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		user, err = tx.CreateUser(ctx, identity.User{
			Email: req.Email, UserName: req.UserName,
			GivenName: req.GivenName, FamilyName: req.FamilyName, DisplayName: req.DisplayName,
			Attributes: req.Attributes,
		}, identity.CreateOptions{})
		if err != nil || !req.Invite {
			return err
		}
		token, expires, err = tx.Invite(ctx, user.ID)
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/users/"+url.PathEscape(user.ID))
	setETag(w, user)
	writeJSON(w, http.StatusCreated, struct {
		userJSON
		InvitationToken   string    `json:"invitationToken,omitempty"`
		InvitationExpires time.Time `json:"invitationExpires,omitzero"`
	}{toUserJSON(user), token, expires})
	return nil
}

// GET /api/v1/users/{id}: the user with their groups.
func getUser(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	u, err := dir.Reader().User(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	gs, err := dir.Reader().UserGroups(r.Context(), u.ID)
	if err != nil {
		return err
	}
	refs := make([]groupRefJSON, len(gs))
	for i, g := range gs {
		refs[i] = groupRefJSON{ID: g.ID, Name: g.Name, Kind: g.Kind}
	}
	setETag(w, u)
	writeJSON(w, http.StatusOK, struct {
		userJSON
		Groups []groupRefJSON `json:"groups"`
	}{toUserJSON(u), refs})
	return nil
}

// POST /api/v1/users/{id}/deactivate and /restore, with an optional If-Match.
// Deactivating a deactivated user (or restoring an active one) changes nothing
// and succeeds.
func setActive(active bool) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
		version, err := ifMatch(r)
		if err != nil {
			return err
		}
		return updateAndAnswer(w, r, dir, version, func(u *identity.User) error {
			u.Active = active
			return nil
		})
	}
}

// updateAndAnswer changes the user of the path with fn, at version (0: any),
// and answers the user with its ETag.
func updateAndAnswer(w http.ResponseWriter, r *http.Request, dir *identity.Directory, version int64, fn func(*identity.User) error) error {
	u, err := dir.UpdateUser(r.Context(), identity.SourceManual, r.PathValue("id"), version, fn)
	if err != nil {
		return err
	}
	setETag(w, u)
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

// GET /api/v1/groups?q=&kind=&source=&limit=&offset=&after=
func listGroups(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	query := r.URL.Query()
	var q identity.GroupQuery
	var err error
	if q.Limit, q.Offset, q.After, err = paging(query); err != nil {
		return err
	}
	if q.Search, err = searchParam(query); err != nil {
		return err
	}
	if q.After != "" {
		if _, err := dir.Reader().Group(r.Context(), q.After); errors.Is(err, identity.ErrNotFound) {
			return badRequest("bad query parameter", fieldJSON{Field: "after", Message: "names no group: pass the id of the last group of a page"})
		}
	}
	q.Source = query.Get("source")
	if k := groups.Kind(query.Get("kind")); k != "" {
		if !k.Valid() {
			return badRequest("bad query parameter", fieldJSON{Field: "kind", Message: "must be internal or external"})
		}
		q.Kind = k
	}
	page, err := dir.Reader().ListGroups(r.Context(), q)
	if err != nil {
		return err
	}
	out := make([]groupJSON, len(page.Groups))
	for i, g := range page.Groups {
		out[i] = groupJSON{
			ID: g.ID, Name: g.Name, Kind: g.Kind, Source: g.Source, ExternalID: g.ExternalID,
			Created: g.Created, Updated: g.Updated, Version: g.Version,
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Groups []groupJSON `json:"groups"`
		Total  int         `json:"total"`
	}{out, page.Total})
	return nil
}

// GET /api/v1/events?after=&limit=: the tenant's events after the cursor, in
// order. "next" is the cursor to pass as after to read on (the same as after
// when there is nothing new).
func listEvents(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	query := r.URL.Query()
	limit, err := intParam(query, "limit", identity.DefaultLimit, 1, maxPage)
	if err != nil {
		return err
	}
	var after int64
	if s := query.Get("after"); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			return badRequest("bad query parameter", fieldJSON{Field: "after", Message: "must be a cursor (a whole number) from an earlier response"})
		}
	}
	events, err := dir.Events(r.Context(), after, limit)
	if err != nil {
		return err
	}
	out := make([]eventJSON, len(events))
	next := after
	for i, e := range events {
		fields := make([]string, len(e.Fields))
		for j, f := range e.Fields {
			fields[j] = jsonField(f)
		}
		out[i] = eventJSON{
			Seq: e.Seq, Type: string(e.Type), Tenant: e.Tenant, Source: e.Source, Actor: e.Actor,
			UserID: e.UserID, GroupID: e.GroupID, Fields: fields, Time: e.Time,
		}
		next = e.Seq
	}
	writeJSON(w, http.StatusOK, struct {
		Events []eventJSON `json:"events"`
		Next   int64       `json:"next"`
	}{out, next})
	return nil
}
