package scim

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/rollcall/rollcall/identity"
)

// projection returns the attributes and excludedAttributes of the query
// string, which every response with a resource honours.
func (q *request) projection() (attrs, excluded []string) {
	for k, vs := range q.r.URL.Query() {
		switch {
		case strings.EqualFold(k, "attributes") && len(vs) > 0:
			attrs = splitList(vs[0])
		case strings.EqualFold(k, "excludedAttributes") && len(vs) > 0:
			excluded = splitList(vs[0])
		}
	}
	return attrs, excluded
}

// readBody decodes a resource body.
func (q *request) readBody() (doc, error) {
	var raw doc
	if err := q.readJSON(&raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, badRequest(ScimInvalidSyntax, "the body must be a JSON object")
	}
	return raw, nil
}

// rawKey returns the value of key in a request object, its name compared
// case-insensitively.
func rawKey(raw doc, key string) (any, bool) {
	if v, ok := raw[key]; ok {
		return v, true
	}
	for k, v := range raw {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// memberIDs returns the ids in a members (or groups) value: objects with a
// value, or bare ids. A member of type Group is refused: groups do not
// nest.
func memberIDs(v any) ([]string, error) {
	nv, err := coerce(groupSchema.Attrs[1], v, "members")
	if err != nil {
		return nil, err
	}
	list, _ := nv.([]any)
	ids := make([]string, 0, len(list))
	for _, e := range list {
		m, _ := e.(doc)
		id := strings.TrimSpace(getString(m, "value"))
		if id == "" {
			return nil, badRequest(ScimInvalidValue, "a member has no value")
		}
		if t := getString(m, "type"); t != "" && !strings.EqualFold(t, "User") {
			return nil, badRequest(ScimInvalidValue, "member %s: only users can be members", id)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// noMember turns the ErrNotFound of adding a member into a 400 that names
// the user.
func noMember(err error, userID string) error {
	if errors.Is(err, identity.ErrNotFound) {
		return badRequest(ScimInvalidValue, "no user has the id %q", userID)
	}
	return err
}

// groupRefusal explains an ErrNotAllowed on groups.
func (q *request) groupRefusal(err error) error {
	if errors.Is(err, identity.ErrNotAllowed) {
		src := q.dir.GroupSource()
		if src == "" {
			src = "none"
		}
		return errorf(http.StatusForbidden, "", "groups are not provisioned over SCIM for this tenant: its group source is %s", src)
	}
	return err
}

func (q *request) writeResource(status int, rt *resourceType, d doc, version int64) {
	attrs, excluded := q.projection()
	meta, _ := d["meta"].(doc)
	location := getString(meta, "location")
	d = project(rt, d, attrs, excluded)
	q.w.Header().Set("ETag", etag(version))
	if status == http.StatusCreated {
		q.w.Header().Set("Location", location)
	}
	q.writeJSON(status, d)
}

func (q *request) create(rt *resourceType) error {
	raw, err := q.readBody()
	if err != nil {
		return err
	}
	if rt == groupType {
		return q.createGroup(raw)
	}
	return q.createUser(raw)
}

func (q *request) get(rt *resourceType, id string) error {
	ctx := q.r.Context()
	rd := q.dir.Reader()
	attrs, excluded := q.projection()
	if rt == userType {
		u, err := live(rd.User(ctx, id))
		if err != nil {
			return err
		}
		var gs []identity.Group
		if wants(userType, attrs, excluded, "groups") {
			if gs, err = scimGroups(ctx, rd, id); err != nil {
				return err
			}
		}
		q.writeResource(http.StatusOK, rt, userDoc(u, q.base, gs), u.Version)
		return nil
	}
	g, err := rd.Group(ctx, id)
	if err != nil {
		return err
	}
	if !managed(g) {
		return identity.ErrNotFound
	}
	var ms []identity.User
	if wants(groupType, attrs, excluded, "members") {
		if ms, err = members(ctx, rd, id); err != nil {
			return err
		}
	}
	q.writeResource(http.StatusOK, rt, groupDoc(g, q.base, ms), g.Version)
	return nil
}

func (q *request) createUser(raw doc) error {
	d, err := normalizeBody(userType, raw)
	if err != nil {
		return err
	}
	if getString(d, "userName") == "" {
		return badRequest(ScimInvalidValue, "userName is required")
	}
	var u identity.User
	// Whether the email is verified is the core's to decide, by the
	// source's policy (VerifiesEmail).
	if err := applyUserDoc(d, &u); err != nil {
		return err
	}
	inactive := false
	if a, ok := d["active"].(bool); ok {
		inactive = !a
	}
	groupIDs, err := userGroupIDs(raw)
	if err != nil {
		return err
	}
	var created identity.User
	err = q.dir.Do(q.r.Context(), identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		created, err = tx.CreateUser(ctx, u, identity.CreateOptions{Inactive: inactive})
		if err != nil {
			return err
		}
		return addToGroups(ctx, tx, created.ID, groupIDs)
	})
	if err != nil {
		return err
	}
	if len(groupIDs) == 0 {
		// A new user whose body names no group is in none: nothing to read.
		q.writeResource(http.StatusCreated, userType, userDoc(created, q.base, []identity.Group{}), created.Version)
		return nil
	}
	return q.respondUser(http.StatusCreated, created)
}

// userGroupIDs returns the groups named in a user body (Okta sends
// memberships there). They are added, never removed: groups is read-only in
// RFC 7643, and a client that echoes a GET must not lose memberships.
func userGroupIDs(raw doc) ([]string, error) {
	v, ok := rawKey(raw, "groups")
	if !ok || v == nil {
		return nil, nil
	}
	ids, err := memberIDs(v)
	if err != nil {
		return nil, badRequest(ScimInvalidValue, "groups: %s", err)
	}
	return ids, nil
}

// addToGroups adds the user to the groups the body names that the user is
// not in yet: a body that echoes the user's groups changes nothing, even
// when the tenant's group source is no longer SCIM.
func addToGroups(ctx context.Context, tx *identity.Tx, userID string, groupIDs []string) error {
	if len(groupIDs) == 0 {
		return nil
	}
	current, err := tx.Reader().UserGroups(ctx, userID)
	if err != nil {
		return err
	}
	in := make(map[string]bool, len(current))
	for _, g := range current {
		in[g.ID] = true
	}
	for _, gid := range groupIDs {
		g, err := tx.Reader().Group(ctx, gid)
		if errors.Is(err, identity.ErrNotFound) || err == nil && !managed(g) {
			return badRequest(ScimInvalidValue, "no group has the id %q", gid)
		}
		if err != nil {
			return err
		}
		if in[gid] {
			continue
		}
		if _, err := tx.AddMember(ctx, gid, userID); err != nil {
			return err
		}
	}
	return nil
}

func (q *request) respondUser(status int, u identity.User) error {
	attrs, excluded := q.projection()
	var gs []identity.Group
	if wants(userType, attrs, excluded, "groups") {
		var err error
		if gs, err = scimGroups(q.r.Context(), q.dir.Reader(), u.ID); err != nil {
			return err
		}
	}
	q.writeResource(status, userType, userDoc(u, q.base, gs), u.Version)
	return nil
}

func (q *request) respondGroup(status int, g identity.Group) error {
	attrs, excluded := q.projection()
	var ms []identity.User
	if wants(groupType, attrs, excluded, "members") {
		var err error
		if ms, err = members(q.r.Context(), q.dir.Reader(), g.ID); err != nil {
			return err
		}
	}
	q.writeResource(status, groupType, groupDoc(g, q.base, ms), g.Version)
	return nil
}

func (q *request) put(rt *resourceType, id string) error {
	ifVersion, err := ifMatch(q.r)
	if err != nil {
		return err
	}
	raw, err := q.readBody()
	if err != nil {
		return err
	}
	if rt == groupType {
		return q.putGroup(id, ifVersion, raw)
	}
	d, err := normalizeBody(userType, raw)
	if err != nil {
		return err
	}
	if getString(d, "userName") == "" {
		return badRequest(ScimInvalidValue, "userName is required")
	}
	if v, ok := rawKey(raw, "id"); ok && v != nil && v != id {
		return badRequest(ScimMutability, "id is read-only")
	}
	groupIDs, err := userGroupIDs(raw)
	if err != nil {
		return err
	}
	var updated identity.User
	err = q.dir.Do(q.r.Context(), identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		updated, err = tx.UpdateUser(ctx, id, ifVersion, func(u *identity.User) error {
			if isDeleted(*u) {
				return identity.ErrNotFound
			}
			return applyUserDoc(d, u) // a new email is verified by the core's policy
		})
		if err != nil {
			return err
		}
		return addToGroups(ctx, tx, id, groupIDs)
	})
	if err != nil {
		return err
	}
	return q.respondUser(http.StatusOK, updated)
}

func (q *request) delete(rt *resourceType, id string) error {
	ifVersion, err := ifMatch(q.r)
	if err != nil {
		return err
	}
	err = q.dir.Do(q.r.Context(), identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
		if rt == groupType {
			g, err := tx.Reader().Group(ctx, id)
			if err != nil {
				return err
			}
			if !managed(g) {
				return identity.ErrNotFound
			}
			if ifVersion != 0 && g.Version != ifVersion {
				return identity.ErrVersionMismatch
			}
			return tx.DeleteGroup(ctx, id)
		}
		u, err := live(tx.Reader().User(ctx, id))
		if err != nil {
			return err
		}
		if ifVersion != 0 && u.Version != ifVersion {
			return identity.ErrVersionMismatch
		}
		if q.h.cfg.KeepDeleted {
			return tombstone(ctx, tx, u)
		}
		return tx.DeleteUser(ctx, id)
	})
	if err != nil {
		return q.groupRefusal(err)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (q *request) createGroup(raw doc) error {
	d, err := normalizeBody(groupType, raw)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(getString(d, "displayName"))
	if name == "" {
		return badRequest(ScimInvalidValue, "displayName is required")
	}
	var ids []string
	if v, ok := rawKey(raw, "members"); ok {
		if ids, err = memberIDs(v); err != nil {
			return err
		}
	}
	var created identity.Group
	err = q.dir.Do(q.r.Context(), identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		created, err = tx.CreateGroup(ctx, name, getString(d, "externalId"))
		if err != nil {
			return err
		}
		for _, uid := range ids {
			if err := q.addMember(ctx, tx, created.ID, uid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return q.groupRefusal(err)
	}
	return q.respondGroup(http.StatusCreated, created)
}

// putGroup replaces a group's displayName and externalId and, when the body
// has members, its members (writing only the difference). A body without
// members leaves them as they are.
func (q *request) putGroup(id string, ifVersion int64, raw doc) error {
	d, err := normalizeBody(groupType, raw)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(getString(d, "displayName"))
	if name == "" {
		return badRequest(ScimInvalidValue, "displayName is required")
	}
	v, hasMembers := rawKey(raw, "members")
	var ids []string
	if hasMembers {
		if ids, err = memberIDs(v); err != nil {
			return err
		}
	}
	var updated identity.Group
	err = q.dir.Do(q.r.Context(), identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
		g, err := tx.Reader().Group(ctx, id)
		if err != nil {
			return err
		}
		if !managed(g) {
			return identity.ErrNotFound
		}
		updated, err = tx.UpdateGroup(ctx, id, ifVersion, func(g *identity.Group) error {
			g.Name, g.ExternalID = name, getString(d, "externalId")
			return nil
		})
		if err != nil {
			return err
		}
		if hasMembers {
			if err := checkUsers(ctx, tx, ids); err != nil {
				return err
			}
			if _, _, err := tx.SetMembers(ctx, id, ids); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return q.groupRefusal(err)
	}
	return q.respondGroup(http.StatusOK, updated)
}

// checkUsers returns a 400 naming the first id that is no user's.
func checkUsers(ctx context.Context, tx *identity.Tx, ids []string) error {
	for _, uid := range ids {
		if err := liveUser(ctx, tx.Reader(), uid); err != nil {
			return noMember(err, uid)
		}
	}
	return nil
}

// addMember adds a user to a group; an id that is no user's (or a
// tombstone's) is a 400 naming it.
func (q *request) addMember(ctx context.Context, tx *identity.Tx, groupID, userID string) error {
	if q.h.cfg.KeepDeleted {
		if err := liveUser(ctx, tx.Reader(), userID); err != nil {
			return noMember(err, userID)
		}
	}
	_, err := tx.AddMember(ctx, groupID, userID)
	return noMember(err, userID)
}
