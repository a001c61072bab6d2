package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/rollcall/rollcall/identity"
)

// UsersAfter implements identity.UserStore: ListUsers in ID order, without
// a total.
func (s *Store) UsersAfter(ctx context.Context, groupID, after string, limit int) ([]identity.User, error) {
	p, err := s.ListUsers(ctx, identity.UserQuery{GroupID: groupID, After: after, Limit: limit, NoTotal: true})
	return p.Users, err
}

// ListUsers implements identity.UserSearcher: one page of the users that
// match q (see identity.UserQuery). Text sorts compare the values' bytes
// (COLLATE "C" in PostgreSQL), then the IDs; Descending reverses both. After
// is keyset paging and is allowed only with the ascending ID order:
// elsewhere it is an error matching identity.ErrInvalid, as is an unknown
// SortBy. Total ignores After, Offset and Limit; the page and the total are
// two statements, and NoTotal spares the second.
//
// In SQLite a Search is answered from a trigram index (see searchMatch), so
// that it costs what the users it finds cost, not a scan of the tenant; in
// PostgreSQL the planner uses the trigram index of the search column.
func (s *Store) ListUsers(ctx context.Context, q identity.UserQuery) (identity.UserPage, error) {
	if _, ok := userSorts[q.SortBy]; !ok {
		return identity.UserPage{}, invalid("sortBy", fmt.Sprintf("unknown sort %q", q.SortBy))
	}
	if q.After != "" && (q.SortBy != identity.SortByID || q.Descending) {
		return identity.UserPage{}, invalid("after", "keyset paging needs the ascending ID order")
	}
	if err := q.Check(); err != nil { // a NUL in Search would end FTS5's MATCH text
		return identity.UserPage{}, err
	}
	conds, condArgs, err := userConds(s.db.dialect, q)
	if err != nil {
		return identity.UserPage{}, err
	}
	limit, offset := pageBounds(q.Limit, q.Offset)
	probe, probeArgs := s.searchProbe(q, conds, condArgs, limit, offset)
	var page identity.UserPage
	err = s.snapshot(ctx, func(c conn) error {
		page = identity.UserPage{}
		if probe != "" && q.NoTotal {
			users, err := readUsers(ctx, c, probe, probeArgs)
			if err != nil || len(users) == limit {
				page.Users = users
				return err
			}
		}
		match, none, err := s.searchMatch(ctx, c, q)
		if err != nil || none {
			return err
		}
		l := s.userListing(q, match, conds, condArgs, limit, offset)
		if !q.NoTotal {
			if err := c.row(ctx, l.count, l.countArgs...).Scan(&page.Total); err != nil {
				return c.d.mapErr(err, "count users")
			}
		}
		if probe != "" && !q.NoTotal {
			users, err := readUsers(ctx, c, probe, probeArgs)
			if err != nil || len(users) == limit {
				page.Users = users
				return err
			}
		}
		page.Users, err = readUsers(ctx, c, l.page, l.pageArgs)
		return err
	})
	if err != nil {
		return identity.UserPage{}, err
	}
	return page, nil
}

// listing is the SQL of a user listing: the count and the page, with their
// arguments.
type listing struct {
	count, page         string
	countArgs, pageArgs []any
}

// userListing returns the statements of q's count and page. match is the
// FTS5 query of q's Search where the trigram index answers it (see
// searchMatch), else "".
func (s *Store) userListing(q identity.UserQuery, match, conds string, condArgs []any, limit, offset int) listing {
	from, where, args := s.userSearch(q, match)
	where, args = where+conds, append(args, condArgs...)
	pageWhere, pageArgs := where, append([]any(nil), args...)
	dir := ""
	if q.Descending {
		dir = " DESC"
	}
	if q.After != "" {
		pageWhere += " AND u.id > ?"
		pageArgs = append(pageArgs, q.After)
	}
	col := userSorts[q.SortBy]
	order := col + dir
	if col != "u.id" {
		order += ", u.id" + dir
	}
	l := listing{
		count: "SELECT COUNT(*) FROM " + from + " WHERE " + where, countArgs: args,
		page:     "SELECT " + userCols + " FROM " + from + " WHERE " + pageWhere + " ORDER BY " + order + " LIMIT ? OFFSET ?",
		pageArgs: append(pageArgs, limit, offset),
	}
	if match != "" && q.SortBy == identity.SortByID && conds == "" {
		// The index's matches are sorted by their keys alone, and only the
		// page's users are read; the count needs no user either.
		keys := "FROM rollcall_user_search f CROSS JOIN rollcall_user_search_keys k ON k.n = f.rowid " +
			"WHERE k.tenant = ? AND rollcall_user_search MATCH ?"
		l.count, l.countArgs = "SELECT COUNT(*) "+keys, []any{s.tenant, match}
		sub, subArgs := "SELECT k.id "+keys, []any{s.tenant, match}
		if q.After != "" {
			sub += " AND k.id > ?"
			subArgs = append(subArgs, q.After)
		}
		sub += " ORDER BY k.id" + dir + " LIMIT ? OFFSET ?"
		l.page = "SELECT " + userCols + " FROM rollcall_users u WHERE u.tenant = ? AND u.id IN (" + sub + ") ORDER BY u.id" + dir
		l.pageArgs = append(append([]any{s.tenant}, subArgs...), limit, offset)
	}
	return l
}

// userConds returns the conditions of q's Active and Match, each after "
// AND ", with their arguments.
func userConds(d Dialect, q identity.UserQuery) (string, []any, error) {
	var where string
	var args []any
	if q.Active != nil {
		where += " AND u.active = ?"
		args = append(args, *q.Active)
	}
	for _, c := range q.Match {
		if err := c.Check(); err != nil {
			return "", nil, err
		}
		e, as := condSQL(d, c)
		where += " AND " + e
		args = append(args, as...)
	}
	return where, args, nil
}

// readUsers runs a query of userCols and returns its users.
func readUsers(ctx context.Context, c conn, query string, args []any) ([]identity.User, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, c.d.mapErr(err, "list users")
	}
	defer rows.Close()
	var users []identity.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, c.d.mapErr(err, "list users")
		}
		users = append(users, u)
	}
	return users, c.d.mapErr(rows.Err(), "list users")
}

// probeRows is how many users, in ID order, a search probe looks at (a
// variable for the tests).
var probeRows = 1024

// searchProbe returns the query (and its arguments) that looks for the page
// of a Search among the next probeRows users in ID order, by LIKE; "" where
// the trigram index is not used (see indexed) or the order is not the
// ascending ID. A term that many users hold finds its page there, in a few
// milliseconds, where the index would find every match to sort them; a
// term that few hold does not fill the page, and the index answers it.
func (s *Store) searchProbe(q identity.UserQuery, conds string, condArgs []any, limit, offset int) (string, []any) {
	if !s.indexed(q) || q.SortBy != identity.SortByID || q.Descending {
		return "", nil
	}
	args := append([]any{s.tenant, q.After, probeRows, s.tenant, likeContains(q.Search)}, condArgs...)
	return "SELECT " + userCols + " FROM (SELECT * FROM rollcall_users WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?) u " +
		`WHERE u.tenant = ? AND u.search LIKE ? ESCAPE '\'` + conds + " ORDER BY u.id LIMIT ? OFFSET ?", append(args, limit, offset)
}

// indexed reports whether the trigram index of SQLite may answer q's
// Search: there is one, and no GroupID (a group's members are read first,
// and the term is tested on each).
func (s *Store) indexed(q identity.UserQuery) bool {
	return s.db.dialect == SQLite && q.GroupID == "" && q.Search != "" && !strings.Contains(q.Search, "\x1f")
}

// maxShortTerms is how many trigrams a term of one or two characters may
// start for searchMatch to look them up in the index.
const maxShortTerms = 200

// searchMatch returns the FTS5 query of q's Search where the trigram index
// answers it, else ""; none reports that no user holds the term.
//
// A term of three characters or more is the phrase of its trigrams, which
// matches where search LIKE '%term%' does: the index is case-sensitive over
// the lower-cased column. A shorter one cannot be a trigram, but every
// place it occurs starts one, since the index holds the column followed by
// two U+001F (the migration user_search): so it is the OR of the index's
// trigrams that start with it, read from its vocabulary, when there are at
// most maxShortTerms of them. With more the term is common, and stays LIKE.
func (s *Store) searchMatch(ctx context.Context, c conn, q identity.UserQuery) (match string, none bool, err error) {
	if !s.indexed(q) {
		return "", false, nil
	}
	term := strings.ToLower(q.Search)
	if utf8.RuneCountInString(term) >= 3 {
		return ftsPhrase(term), false, nil
	}
	// Every trigram that starts with term sorts between term and term
	// followed by a byte no UTF-8 character starts with.
	rows, err := c.query(ctx, "SELECT term FROM rollcall_user_search_terms WHERE term >= ? AND term < ? LIMIT ?",
		term, term+"\xf4\x90", maxShortTerms+1)
	if err != nil {
		return "", false, c.d.mapErr(err, "search terms")
	}
	defer rows.Close()
	var terms []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return "", false, c.d.mapErr(err, "search terms")
		}
		terms = append(terms, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
	}
	if err := rows.Err(); err != nil {
		return "", false, c.d.mapErr(err, "search terms")
	}
	switch {
	case len(terms) == 0:
		return "", true, nil
	case len(terms) > maxShortTerms:
		return "", false, nil
	}
	return "search : (" + strings.Join(terms, " OR ") + ")", false, nil
}

// ftsPhrase is the FTS5 query of the trigram phrase of a term: quoted,
// every character literal.
func ftsPhrase(term string) string {
	return `search : "` + strings.ReplaceAll(term, `"`, `""`) + `"`
}

// userSearch returns the FROM and the WHERE of a user listing: the tenant,
// the group's members (GroupID) and the Search, with their arguments in the
// order of the ?s. match is the FTS5 query of the Search where the trigram
// index answers it (see searchMatch), else "": then the Search is LIKE,
// which PostgreSQL answers from its GIN trigram index where it has one and
// the pattern has a trigram.
func (s *Store) userSearch(q identity.UserQuery, match string) (from, where string, args []any) {
	switch {
	case match != "":
		// Start from the index's matches: CROSS JOIN keeps that order.
		from = "rollcall_user_search f CROSS JOIN rollcall_user_search_keys k ON k.n = f.rowid " +
			"CROSS JOIN rollcall_users u ON u.tenant = k.tenant AND u.id = k.id"
	case q.GroupID != "" && s.db.dialect == SQLite:
		// The members' primary key (tenant, group_id, user_id) makes each
		// user appear once. SQLite would walk every user of the tenant in
		// ID order and look each up in the group; CROSS JOIN makes it walk
		// the group's members, in user_id order, instead.
		from = "rollcall_members m CROSS JOIN rollcall_users u ON m.tenant = u.tenant AND m.user_id = u.id AND m.group_id = ?"
		args = append(args, q.GroupID)
	case q.GroupID != "":
		from = "rollcall_users u JOIN rollcall_members m ON m.tenant = u.tenant AND m.user_id = u.id AND m.group_id = ?"
		args = append(args, q.GroupID)
	default:
		from = "rollcall_users u"
	}
	where = "u.tenant = ?"
	args = append(args, s.tenant)
	switch {
	case q.Search == "":
	case strings.Contains(q.Search, "\x1f"):
		// The separator of the fields in the search column: a term that
		// holds it would match across two fields, and no field holds it.
		where += " AND 1 = 0"
	case match != "":
		where += " AND k.tenant = ? AND rollcall_user_search MATCH ?"
		args = append(args, s.tenant, match)
	default:
		where += ` AND u.search LIKE ? ESCAPE '\'`
		args = append(args, likeContains(q.Search))
	}
	return from, where, args
}
