package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	groupByExternalID = prep("SELECT " + groupCols + " FROM rollcall_groups g WHERE g.tenant = ? AND g.external_id = ? AND g.external_id <> '' " +
		"ORDER BY g.id LIMIT 1")
	groupsByExternalID = prep("SELECT " + groupCols + " FROM rollcall_groups g WHERE g.tenant = ? AND g.external_id = ? AND g.external_id <> '' ORDER BY g.id")
	groupExists        = prep("SELECT 1 FROM rollcall_groups WHERE tenant = ? AND id = ?")
	groupTaken         = map[string]string{
		"id":       prep("SELECT 1 FROM rollcall_groups WHERE tenant = ? AND id = ? AND id <> ?"),
		"name_key": prep("SELECT 1 FROM rollcall_groups WHERE tenant = ? AND name_key = ? AND name_key <> '' AND id <> ?"),
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
// values (ID, name) that another group holds, where the value differs from
// old's; nil if none does. The externalID is not unique.
func (s *Store) groupConflict(ctx context.Context, c conn, old, g identity.Group) error {
	checks := []struct {
		field, column, old, new string
	}{
		{"id", "id", old.ID, g.ID},
		{"name", "name_key", groups.Key(old.Name), groups.Key(g.Name)},
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

// GroupByExternalID returns the group with the smallest ID of those with
// the external ID, or identity.ErrNotFound.
//
// Deprecated: an externalID is not unique; use GroupsByExternalID.
func (s *Store) GroupByExternalID(ctx context.Context, externalID string) (identity.Group, error) {
	if externalID == "" {
		return identity.Group{}, notFound("group by externalID")
	}
	return s.groupWhere(ctx, "group by externalID", groupByExternalID, externalID)
}

// GroupsByExternalID returns the groups with the external ID, ordered by
// ID.
func (s *Store) GroupsByExternalID(ctx context.Context, externalID string) ([]identity.Group, error) {
	if externalID == "" {
		return nil, nil
	}
	return queryGroups(ctx, s.reader(), "groups by externalID", groupsByExternalID, s.tenant, externalID)
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

// memberChunk is the most user IDs one statement of AddMembers names: far
// below the bind-variable limits (32,766 in SQLite, 65,535 in PostgreSQL),
// and enough that the statement's own cost is small beside its rows' (two
// index entries and two foreign-key checks each).
const memberChunk = 512

// memberListSizes are the lengths of the ID lists in AddMembers' statements,
// so that a handful of statements serve every call and SQLite prepares each
// once. A list of n IDs takes the smallest size that holds it, its last ID
// repeated in the places left over: an IN list is a set, so that changes
// nothing.
var memberListSizes = [...]int{1, 4, 16, 64, 256, memberChunk}

// memberStatements are AddMembers' statements for one list size. Their
// arguments are the tenant, the group ID and the user IDs; users takes no
// group ID.
type memberStatements struct {
	// insert is addMember for many users: one INSERT that reads the group
	// and the users, and returns the users it made members.
	insert string
	// members returns those of the users who are members of the group, and
	// users those who exist.
	members, users string
	// undo removes the users from the group: the way back when a call
	// inside Tx finds a user missing. It is rare, so not prepared.
	undo string
}

var memberStmts = func() (out [len(memberListSizes)]memberStatements) {
	for i, n := range memberListSizes {
		list := "(" + placeholders(n) + ")"
		out[i] = memberStatements{
			insert: prep("INSERT INTO rollcall_members (tenant, group_id, user_id) " +
				"SELECT g.tenant, g.id, u.id FROM rollcall_groups g JOIN rollcall_users u ON u.tenant = g.tenant " +
				"WHERE g.tenant = ? AND g.id = ? AND u.id IN " + list + " ON CONFLICT DO NOTHING RETURNING user_id"),
			members: prep("SELECT user_id FROM rollcall_members WHERE tenant = ? AND group_id = ? AND user_id IN " + list),
			users:   prep("SELECT id FROM rollcall_users WHERE tenant = ? AND id IN " + list),
			undo:    "DELETE FROM rollcall_members WHERE tenant = ? AND group_id = ? AND user_id IN " + list,
		}
	}
	return out
}()

// memberArgs returns the statements for ids (1 to memberChunk of them) and
// their arguments: the tenant, groupID and ids, padded to the statements'
// list size.
func (s *Store) memberArgs(groupID string, ids []string) (memberStatements, []any) {
	i := 0
	for memberListSizes[i] < len(ids) {
		i++
	}
	args := make([]any, 0, 2+memberListSizes[i])
	args = append(args, s.tenant, groupID)
	for _, id := range ids {
		args = append(args, id)
	}
	for len(args) < cap(args) {
		args = append(args, ids[len(ids)-1])
	}
	return memberStmts[i], args
}

// AddMembers makes the users members of the group (see identity.GroupStore)
// with one INSERT per memberChunk users, which reads the group and the users
// as AddMember does: a group or user deleted at the same time is never left
// with a membership. When an INSERT adds fewer users than it names, reads
// tell the members from the missing users. Outside Tx the call is a
// transaction of its own, in PostgreSQL at REPEATABLE READ so that those
// reads see what the INSERT saw; inside Tx, a call that finds a user missing
// removes the memberships it added before it returns ErrNotFound.
func (s *Store) AddMembers(ctx context.Context, groupID string, userIDs []string) ([]string, error) {
	ids := distinct(userIDs)
	if len(ids) == 0 {
		c := s.reader()
		ok, err := c.exists(ctx, groupExists, s.tenant, groupID)
		if err != nil {
			return nil, c.d.mapErr(err, "add members")
		}
		if !ok {
			return nil, notFound("group " + groupID)
		}
		return nil, nil
	}
	var added []string
	err := s.updateSnapshot(ctx, func(c conn) error {
		added = added[:0]
		for start := 0; start < len(ids); start += memberChunk {
			var missing, err error
			added, missing, err = s.addMemberChunk(ctx, c, groupID, ids[start:min(start+memberChunk, len(ids))], added)
			if err != nil {
				return err
			}
			if missing != nil {
				if s.tx != nil {
					if err := s.undoMembers(ctx, c, groupID, added); err != nil {
						return err
					}
				}
				return missing
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

// distinct returns ids without repeats, in the order of their first
// appearance.
func distinct(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	seen := make(map[string]struct{}, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// addMemberChunk adds the users ids (1 to memberChunk of them, no repeats)
// to the group, and appends those it made members to added, in the order of
// ids. missing is the ErrNotFound for the group or the first of ids that
// does not exist; the users before it may have been added.
func (s *Store) addMemberChunk(ctx context.Context, c conn, groupID string, ids, added []string) (_ []string, missing, err error) {
	st, args := s.memberArgs(groupID, ids)
	inserted, err := queryIDs(ctx, c, st.insert, args)
	if err != nil {
		return added, nil, c.d.mapErr(err, "add members")
	}
	if len(inserted) == len(ids) {
		return append(added, ids...), nil, nil
	}
	// Some users were not inserted: members already, or missing. If none
	// was, the group may be missing.
	if len(inserted) == 0 {
		ok, err := c.exists(ctx, groupExists, s.tenant, groupID)
		if err != nil {
			return added, nil, c.d.mapErr(err, "add members")
		}
		if !ok {
			return added, notFound("group " + groupID), nil
		}
	}
	isNew := idSet(inserted)
	rest := make([]string, 0, len(ids)-len(inserted))
	for _, id := range ids {
		if _, ok := isNew[id]; ok {
			added = append(added, id)
		} else {
			rest = append(rest, id)
		}
	}
	st, args = s.memberArgs(groupID, rest)
	members, err := queryIDs(ctx, c, st.members, args)
	if err != nil {
		return added, nil, c.d.mapErr(err, "add members")
	}
	if len(members) == len(rest) {
		return added, nil, nil
	}
	users, err := queryIDs(ctx, c, st.users, append(args[:1:1], args[2:]...))
	if err != nil {
		return added, nil, c.d.mapErr(err, "add members")
	}
	exists := idSet(users)
	for _, id := range rest {
		if _, ok := exists[id]; !ok {
			return added, notFound("user " + id), nil
		}
	}
	// Every user exists, yet one is no member: the INSERT and the reads saw
	// different states, which the transaction's isolation rules out.
	return added, nil, fmt.Errorf("sqlstore: add members: group %s: a user neither became a member nor is missing", groupID)
}

// queryIDs returns the IDs query returns, one per row.
func queryIDs(ctx context.Context, c conn, query string, args []any) ([]string, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func idSet(ids []string) map[string]struct{} {
	m := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}

// undoMembers removes the users ids from the group.
func (s *Store) undoMembers(ctx context.Context, c conn, groupID string, ids []string) error {
	for start := 0; start < len(ids); start += memberChunk {
		st, args := s.memberArgs(groupID, ids[start:min(start+memberChunk, len(ids))])
		if _, err := c.exec(ctx, st.undo, args...); err != nil {
			return c.d.mapErr(err, "add members: undo")
		}
	}
	return nil
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
