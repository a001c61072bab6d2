package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

const groupCols = "g.id, g.name, g.kind, g.source, g.external_id, g.created, g.updated, g.version"

const groupWriteCols = "name, name_key, search, kind, source, external_id, created, updated, version"

func scanGroup(r scanner) (identity.Group, error) {
	var (
		g                identity.Group
		kind             string
		created, updated int64
	)
	if err := r.Scan(&g.ID, &g.Name, &kind, &g.Source, &g.ExternalID, &created, &updated, &g.Version); err != nil {
		return identity.Group{}, err
	}
	g.Kind = groups.Kind(kind)
	g.Created, g.Updated = fromMicros(created), fromMicros(updated)
	return g, nil
}

func groupValues(g identity.Group) []any {
	return []any{g.Name, groups.Key(g.Name), strings.ToLower(g.Name), string(g.Kind), g.Source, g.ExternalID,
		micros(g.Created), micros(g.Updated), g.Version}
}

var (
	insertGroup = prep("INSERT INTO rollcall_groups (tenant, id, " + groupWriteCols + ") VALUES (?, ?, " +
		placeholders(9) + ") ON CONFLICT DO NOTHING")
	updateGroup = prep("UPDATE rollcall_groups SET " +
		strings.ReplaceAll(groupWriteCols, ",", " = ?,") + " = ? WHERE tenant = ? AND id = ?")
	groupByID         = prep("SELECT " + groupCols + " FROM rollcall_groups g WHERE g.tenant = ? AND g.id = ?")
	groupByName       = prep("SELECT " + groupCols + " FROM rollcall_groups g WHERE g.tenant = ? AND g.name_key = ? AND g.name_key <> ''")
	groupByExternalID = prep("SELECT " + groupCols + " FROM rollcall_groups g WHERE g.tenant = ? AND g.external_id = ? AND g.external_id <> ''")
	groupExists       = prep("SELECT 1 FROM rollcall_groups WHERE tenant = ? AND id = ?")
	groupTaken        = map[string]string{
		"id":          prep("SELECT 1 FROM rollcall_groups WHERE tenant = ? AND id = ? AND id <> ?"),
		"name_key":    prep("SELECT 1 FROM rollcall_groups WHERE tenant = ? AND name_key = ? AND name_key <> '' AND id <> ?"),
		"external_id": prep("SELECT 1 FROM rollcall_groups WHERE tenant = ? AND external_id = ? AND external_id <> '' AND id <> ?"),
	}
	deleteGroupMembers = prep("DELETE FROM rollcall_members WHERE tenant = ? AND group_id = ?")
	deleteGroup        = prep("DELETE FROM rollcall_groups WHERE tenant = ? AND id = ?")
	// addMember is one INSERT that reads the group and the user, so that a
	// group or user deleted at the same time is never left with a
	// membership.
	addMember = prep("INSERT INTO rollcall_members (tenant, group_id, user_id) " +
		"SELECT g.tenant, g.id, u.id FROM rollcall_groups g JOIN rollcall_users u ON u.tenant = g.tenant AND u.id = ? " +
		"WHERE g.tenant = ? AND g.id = ? ON CONFLICT DO NOTHING")
	removeMember = prep("DELETE FROM rollcall_members WHERE tenant = ? AND group_id = ? AND user_id = ?")
	userGroups   = prep("SELECT " + groupCols + " FROM rollcall_members m JOIN rollcall_groups g ON g.tenant = m.tenant AND g.id = m.group_id " +
		"WHERE m.tenant = ? AND m.user_id = ? ORDER BY g.id")
)

// CreateGroup stores a new group (see identity.GroupStore). Created and
// Updated are kept as given, to the microsecond.
func (s *Store) CreateGroup(ctx context.Context, g identity.Group) (identity.Group, error) {
	if g.ID == "" {
		g.ID = identity.NewID()
	}
	g.Created, g.Updated, g.Version = stamp(g.Created), stamp(g.Updated), 1
	args := append([]any{s.tenant, g.ID}, groupValues(g)...)
	err := s.stmt(ctx, func(c conn) error {
		for range 3 {
			res, err := c.exec(ctx, insertGroup, args...)
			if err != nil {
				return c.d.mapErr(err, "create group")
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				return c.d.mapErr(err, "create group")
			}
			if err := s.groupConflict(ctx, c, identity.Group{}, g); err != nil {
				return err
			}
		}
		return errors.New("sqlstore: create group: a conflicting group came and went; try again")
	})
	if err != nil {
		return identity.Group{}, err
	}
	return g, nil
}

// groupConflict returns a *identity.ConflictError for the first of g's unique
// values (ID, name, externalID) that another group holds, where the value
// differs from old's; nil if none does.
func (s *Store) groupConflict(ctx context.Context, c conn, old, g identity.Group) error {
	checks := []struct {
		field, column, old, new string
	}{
		{"id", "id", old.ID, g.ID},
		{"name", "name_key", groups.Key(old.Name), groups.Key(g.Name)},
		{"externalID", "external_id", old.ExternalID, g.ExternalID},
	}
	for _, ch := range checks {
		if ch.new == "" || ch.new == ch.old {
			continue
		}
		taken, err := c.exists(ctx, groupTaken[ch.column], s.tenant, ch.new, old.ID)
		if err != nil {
			return c.d.mapErr(err, "check group "+ch.field)
		}
		if taken {
			return &identity.ConflictError{Resource: "group", Field: ch.field}
		}
	}
	return nil
}

// Group returns the group with the id, or identity.ErrNotFound.
func (s *Store) Group(ctx context.Context, id string) (identity.Group, error) {
	return s.groupWhere(ctx, "group "+id, groupByID, id)
}

// GroupByName returns the group whose name equals name under groups.Key, or
// identity.ErrNotFound.
func (s *Store) GroupByName(ctx context.Context, name string) (identity.Group, error) {
	key := groups.Key(name)
	if key == "" {
		return identity.Group{}, notFound("group by name")
	}
	return s.groupWhere(ctx, "group by name", groupByName, key)
}

// GroupByExternalID returns the group with the external ID, or
// identity.ErrNotFound.
func (s *Store) GroupByExternalID(ctx context.Context, externalID string) (identity.Group, error) {
	if externalID == "" {
		return identity.Group{}, notFound("group by externalID")
	}
	return s.groupWhere(ctx, "group by externalID", groupByExternalID, externalID)
}

// groupWhere returns the group query selects, given the tenant and arg.
func (s *Store) groupWhere(ctx context.Context, what, query string, arg any) (identity.Group, error) {
	c := s.reader()
	g, err := scanGroup(c.row(ctx, query, s.tenant, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return identity.Group{}, notFound(what)
	}
	return g, c.d.mapErr(err, what)
}

// UpdateGroup changes a group atomically, as UpdateUser does a user; Updated
// is stored as fn leaves it.
func (s *Store) UpdateGroup(ctx context.Context, id string, fn func(*identity.Group) error) (identity.Group, error) {
	var out identity.Group
	err := s.update(ctx, func(c conn) error {
		old, err := scanGroup(c.row(ctx, groupByID+c.d.forUpdate(), s.tenant, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("group " + id)
		}
		if err != nil {
			return c.d.mapErr(err, "update group")
		}
		g := old
		if err := fn(&g); err != nil {
			return err
		}
		g.ID, g.Created, g.Version, g.Updated = old.ID, old.Created, old.Version+1, stamp(g.Updated)
		if err := s.groupConflict(ctx, c, old, g); err != nil {
			return err
		}
		if _, err := c.exec(ctx, updateGroup, append(groupValues(g), s.tenant, id)...); err != nil {
			return c.d.mapErr(err, "update group")
		}
		out = g
		return nil
	})
	if err != nil {
		return identity.Group{}, err
	}
	return out, nil
}

// DeleteGroup removes the group with its memberships, or returns
// identity.ErrNotFound.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return s.update(ctx, func(c conn) error {
		if _, err := c.exec(ctx, deleteGroupMembers, s.tenant, id); err != nil {
			return c.d.mapErr(err, "delete group")
		}
		res, err := c.exec(ctx, deleteGroup, s.tenant, id)
		if err != nil {
			return c.d.mapErr(err, "delete group")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return c.d.mapErr(err, "delete group")
		}
		if n == 0 {
			return notFound("group " + id)
		}
		return nil
	})
}

// ListGroups returns one page of the groups that match q, ordered by ID. Total
// ignores After, Offset and Limit.
func (s *Store) ListGroups(ctx context.Context, q identity.GroupQuery) (identity.GroupPage, error) {
	where, args := "g.tenant = ?", []any{s.tenant}
	if q.Kind != "" {
		where += " AND g.kind = ?"
		args = append(args, string(q.Kind))
	}
	if q.Source != "" {
		where += " AND g.source = ?"
		args = append(args, q.Source)
	}
	if q.Search != "" {
		where += ` AND g.search LIKE ? ESCAPE '\'`
		args = append(args, likeContains(q.Search))
	}
	pageWhere, pageArgs := where, append([]any(nil), args...)
	if q.After != "" {
		pageWhere += " AND g.id > ?"
		pageArgs = append(pageArgs, q.After)
	}
	limit, offset := pageBounds(q.Limit, q.Offset)
	pageArgs = append(pageArgs, limit, offset)

	var page identity.GroupPage
	err := s.snapshot(ctx, func(c conn) error {
		page = identity.GroupPage{}
		if err := c.row(ctx, "SELECT COUNT(*) FROM rollcall_groups g WHERE "+where, args...).Scan(&page.Total); err != nil {
			return c.d.mapErr(err, "count groups")
		}
		var err error
		page.Groups, err = queryGroups(ctx, c, "list groups",
			"SELECT "+groupCols+" FROM rollcall_groups g WHERE "+pageWhere+" ORDER BY g.id LIMIT ? OFFSET ?", pageArgs...)
		return err
	})
	if err != nil {
		return identity.GroupPage{}, err
	}
	return page, nil
}

func queryGroups(ctx context.Context, c conn, what, query string, args ...any) ([]identity.Group, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, c.d.mapErr(err, what)
	}
	defer rows.Close()
	var gs []identity.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, c.d.mapErr(err, what)
		}
		gs = append(gs, g)
	}
	if err := rows.Err(); err != nil {
		return nil, c.d.mapErr(err, what)
	}
	return gs, nil
}

// AddMember makes the user a member of the group (see identity.GroupStore).
// It is one INSERT that reads the group and the user: a group or user deleted
// at the same time is never left with a membership. Outside Tx it needs no
// transaction.
func (s *Store) AddMember(ctx context.Context, groupID, userID string) (bool, error) {
	var added bool
	err := s.stmt(ctx, func(c conn) error {
		res, err := c.exec(ctx, addMember, userID, s.tenant, groupID)
		if err != nil {
			return c.d.mapErr(err, "add member")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return c.d.mapErr(err, "add member")
		}
		if added = n == 1; added {
			return nil
		}
		// Nothing inserted: a member already, or the group or user is
		// missing.
		for _, check := range []struct{ what, query, id string }{
			{"group " + groupID, groupExists, groupID},
			{"user " + userID, userExists, userID},
		} {
			ok, err := c.exists(ctx, check.query, s.tenant, check.id)
			if err != nil {
				return c.d.mapErr(err, "add member")
			}
			if !ok {
				return notFound(check.what)
			}
		}
		return nil
	})
	return added, err
}

// RemoveMember ends a membership and reports whether there was one.
func (s *Store) RemoveMember(ctx context.Context, groupID, userID string) (bool, error) {
	var removed bool
	err := s.stmt(ctx, func(c conn) error {
		res, err := c.exec(ctx, removeMember, s.tenant, groupID, userID)
		if err != nil {
			return c.d.mapErr(err, "remove member")
		}
		n, err := res.RowsAffected()
		removed = n > 0
		return c.d.mapErr(err, "remove member")
	})
	return removed, err
}

// UserGroups returns the groups the user is a member of, ordered by ID.
func (s *Store) UserGroups(ctx context.Context, userID string) ([]identity.Group, error) {
	return queryGroups(ctx, s.reader(), "user groups", userGroups, s.tenant, userID)
}
