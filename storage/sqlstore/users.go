package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rollcall/rollcall/identity"
)

// userCols are the columns scanUser reads, from the users table as u.
const userCols = "u.id, u.user_name, u.email, u.email_verified, u.given_name, u.family_name, u.display_name, " +
	"u.active, u.external_id, u.attributes, u.created, u.updated, u.version"

// userWriteCols are the columns userValues gives, in its order.
const userWriteCols = "user_name, user_name_key, email, email_key, email_verified, given_name, family_name, display_name, " +
	"active, external_id, attributes, search, created, updated, version"

const userWriteCount = 15

type scanner interface{ Scan(dest ...any) error }

func scanUser(r scanner) (identity.User, error) {
	var (
		u                identity.User
		attrs            string
		created, updated int64
	)
	err := r.Scan(&u.ID, &u.UserName, &u.Email, &u.EmailVerified, &u.GivenName, &u.FamilyName, &u.DisplayName,
		&u.Active, &u.ExternalID, &attrs, &created, &updated, &u.Version)
	if err != nil {
		return identity.User{}, err
	}
	if err := json.Unmarshal([]byte(attrs), &u.Attributes); err != nil {
		return identity.User{}, fmt.Errorf("user %s: attributes: %w", u.ID, err)
	}
	u.Created, u.Updated = fromMicros(created), fromMicros(updated)
	return u, nil
}

// userValues returns what is stored of u, in userWriteCols order: the fields
// and the keys computed from them.
func userValues(u identity.User) []any {
	return appendUserValues(make([]any, 0, userWriteCount), u)
}

// appendUserValues appends userValues(u) to args.
func appendUserValues(args []any, u identity.User) []any {
	return append(args,
		u.UserName, identity.NormalizeUserName(u.UserName),
		u.Email, identity.NormalizeEmail(u.Email), u.EmailVerified,
		u.GivenName, u.FamilyName, u.DisplayName,
		u.Active, u.ExternalID, attributesJSON(u.Attributes),
		searchText(u.Email, u.UserName, u.GivenName, u.FamilyName, u.DisplayName),
		micros(u.Created), micros(u.Updated), u.Version,
	)
}

// attributesJSON returns json.Marshal(attrs) as a string, byte for byte,
// written without reflection: the keys in order, each key and value a JSON
// string. A string with nothing that json.Marshal escapes is copied as it
// is; any other goes through json.Marshal.
func attributesJSON(attrs map[string]string) string {
	if attrs == nil {
		return "null"
	}
	var buf [16]string
	keys := buf[:0]
	size := 2
	for k, v := range attrs {
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(size)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, k)
		b.WriteByte(':')
		writeJSONString(&b, attrs[k])
	}
	b.WriteByte('}')
	return b.String()
}

// writeJSONString writes s as json.Marshal does: quoted, and escaped where
// it holds a control character, '"', '\\', one of the HTML characters '<',
// '>' and '&', U+2028, U+2029 or a byte that is not UTF-8.
func writeJSONString(b *strings.Builder, s string) {
	if !plainJSON(s) {
		q, _ := json.Marshal(s) // a string always marshals
		b.Write(q)
		return
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// plainJSON reports whether json.Marshal writes s between quotes as it is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += n
	}
	return true
}

// searchText is the lower-cased text a Search matches within. The fields are
// kept apart by a control character that a search term does not hold, so
// that a match never spans two fields.
func searchText(fields ...string) string {
	return strings.ToLower(strings.Join(fields, "\x1f"))
}

// likeContains is the LIKE pattern (with ESCAPE '\') for text that contains
// s, case-insensitively.
func likeContains(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

var (
	insertUser = prep("INSERT INTO rollcall_users (tenant, id, " + userWriteCols + ") VALUES (?, ?, " +
		placeholders(userWriteCount) + ") ON CONFLICT DO NOTHING")
	updateUser = prep("UPDATE rollcall_users SET " +
		strings.ReplaceAll(userWriteCols, ",", " = ?,") + " = ? WHERE tenant = ? AND id = ?")
	// The ones that select by a key: a partial index holds a key only when
	// it is not empty, and the planner uses it only if the query says so.
	userByID = prep("SELECT " + userCols + " FROM rollcall_users u WHERE u.tenant = ? AND u.id = ?")
	// Of the users that share an email (one active at most), the active
	// one, else the one updated last.
	userByEmail = prep("SELECT " + userCols + " FROM rollcall_users u WHERE u.tenant = ? AND u.email_key = ? AND u.email_key <> '' " +
		"ORDER BY u.active DESC, u.updated DESC, u.id LIMIT 1")
	usersByEmail     = prep("SELECT " + userCols + " FROM rollcall_users u WHERE u.tenant = ? AND u.email_key = ? AND u.email_key <> '' ORDER BY u.id")
	userByUserName   = prep("SELECT " + userCols + " FROM rollcall_users u WHERE u.tenant = ? AND u.user_name_key = ? AND u.user_name_key <> ''")
	userByExternalID = prep("SELECT " + userCols + " FROM rollcall_users u WHERE u.tenant = ? AND u.external_id = ? AND u.external_id <> '' " +
		"ORDER BY u.id LIMIT 1")
	usersByExternalID = prep("SELECT " + userCols + " FROM rollcall_users u WHERE u.tenant = ? AND u.external_id = ? AND u.external_id <> '' ORDER BY u.id")
	userByLink        = prep("SELECT " + userCols + " FROM rollcall_links l JOIN rollcall_users u ON u.tenant = l.tenant AND u.id = l.user_id " +
		"WHERE l.tenant = ? AND l.source = ? AND l.subject = ?")
	userExists = prep("SELECT 1 FROM rollcall_users WHERE tenant = ? AND id = ?")
	deleteUser = prep("DELETE FROM rollcall_users WHERE tenant = ? AND id = ?")
	// userTaken finds another user (id <> ?) holding a value, by column: for
	// the email, another active user.
	userTaken = map[string]string{
		"id":            prep("SELECT 1 FROM rollcall_users WHERE tenant = ? AND id = ? AND id <> ?"),
		"email_key":     prep("SELECT 1 FROM rollcall_users WHERE tenant = ? AND email_key = ? AND email_key <> '' AND active AND id <> ? LIMIT 1"),
		"user_name_key": prep("SELECT 1 FROM rollcall_users WHERE tenant = ? AND user_name_key = ? AND user_name_key <> '' AND id <> ?"),
	}
	// deleteUserRows removes what refers to a user, by table.
	deleteUserRows = []string{
		prep("DELETE FROM rollcall_members WHERE tenant = ? AND user_id = ?"),
		prep("DELETE FROM rollcall_links WHERE tenant = ? AND user_id = ?"),
		prep("DELETE FROM rollcall_invitations WHERE tenant = ? AND user_id = ?"),
	}
)

// CreateUser stores a new user (see identity.UserStore). Created and Updated
// are kept as given (the core sets them), to the microsecond.
func (s *Store) CreateUser(ctx context.Context, u identity.User) (identity.User, error) {
	u = u.Clone()
	if u.ID == "" {
		u.ID = identity.NewID()
	}
	u.Created, u.Updated, u.Version = stamp(u.Created), stamp(u.Updated), 1
	args := append([]any{s.tenant, u.ID}, userValues(u)...)
	err := s.stmt(ctx, func(c conn) error {
		// A row that conflicts may be deleted before we find it: then try
		// again, a few times.
		for range 3 {
			res, err := c.exec(ctx, insertUser, args...)
			if err != nil {
				return c.d.mapErr(err, "create user")
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				return c.d.mapErr(err, "create user")
			}
			if err := s.userConflict(ctx, c, identity.User{}, u); err != nil {
				return err
			}
		}
		return errors.New("sqlstore: create user: a conflicting user came and went; try again")
	})
	if err != nil {
		return identity.User{}, err
	}
	return u, nil
}

// userChunk is the most users one INSERT of CreateUsers writes: 17 values
// each, far below the bind-variable limits (32,766 in SQLite, 65,535 in
// PostgreSQL), and enough that the statement's own cost is small beside its
// rows'.
const userChunk = 256

// userListSizes are the numbers of users in CreateUsers' statements, so that
// a handful of statements serve every call and SQLite prepares each once. A
// list is written in statements of the largest size that what is left
// fills.
var userListSizes = [...]int{1, 4, 16, 64, userChunk}

// usersStatements are CreateUsers' statements for one list size.
type usersStatements struct {
	// insert is insertUser for many users: it skips a user whose ID,
	// email, userName or externalID is taken, by a stored user or by one
	// before it in the VALUES list.
	insert string
	// stored returns those of the IDs that a user of the tenant has, and
	// undo removes those users: the way back when a call finds a conflict.
	// They are rare, so not prepared.
	stored, undo string
}

var usersStmts = func() (out [len(userListSizes)]usersStatements) {
	row := "(?, ?, " + placeholders(userWriteCount) + ")"
	for i, n := range userListSizes {
		list := "(" + placeholders(n) + ")"
		out[i] = usersStatements{
			insert: prep("INSERT INTO rollcall_users (tenant, id, " + userWriteCols + ") VALUES " +
				strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") + " ON CONFLICT DO NOTHING"),
			stored: "SELECT id FROM rollcall_users WHERE tenant = ? AND id IN " + list,
			undo:   "DELETE FROM rollcall_users WHERE tenant = ? AND id IN " + list,
		}
	}
	return out
}()

// usersSize returns the index in userListSizes of the largest size that n
// users (at least one) fill.
func usersSize(n int) int {
	i := len(userListSizes) - 1
	for userListSizes[i] > n {
		i--
	}
	return i
}

// CreateUsers stores new users, all or none (see identity.UserStore): with
// one INSERT per userChunk users, which skips the users whose values are
// taken. Created and Updated are kept as given, to the microsecond.
//
// Every user's ID is new to the table when its INSERT runs: an ID that the
// caller gave and that a stored user or an earlier user of the list has is
// found first, and only the users before it are inserted. So when an INSERT
// stores fewer users than it names, the IDs of its users that are now stored
// tell which it skipped, and the first of those is the conflict: the users
// stored after it are removed, and its conflict is found as CreateUser finds
// it, among the stored users and those before it in the list. Outside Tx the
// call is a transaction of its own (REPEATABLE READ in PostgreSQL, so that
// those reads see what the INSERT saw); inside Tx, no statement fails, and
// the users the call stored are removed before it returns the conflict, so
// that the transaction goes on.
func (s *Store) CreateUsers(ctx context.Context, users []identity.User) ([]identity.User, error) {
	if len(users) == 0 {
		return nil, nil
	}
	out := make([]identity.User, len(users))
	var given []int // the users whose ID the caller gave
	for i, u := range users {
		u = u.Clone()
		if u.ID == "" {
			u.ID = identity.NewID()
		} else {
			given = append(given, i)
		}
		u.Created, u.Updated, u.Version = stamp(u.Created), stamp(u.Updated), 1
		out[i] = u
	}
	err := s.updateSnapshot(ctx, func(c conn) error {
		taken, err := s.takenID(ctx, c, out, given)
		if err != nil {
			return err
		}
		var args []any
		for start := 0; start < taken; {
			size := usersSize(taken - start)
			chunk := out[start : start+userListSizes[size]]
			args = args[:0]
			for _, u := range chunk {
				args = appendUserValues(append(args, s.tenant, u.ID), u)
			}
			res, err := c.exec(ctx, usersStmts[size].insert, args...)
			if err != nil {
				return c.d.mapErr(err, "create users")
			}
			n, err := res.RowsAffected()
			if err != nil {
				return c.d.mapErr(err, "create users")
			}
			if int(n) != len(chunk) {
				return s.usersConflict(ctx, c, out, start, len(chunk))
			}
			start += len(chunk)
		}
		if taken < len(out) {
			if err := s.undoCall(ctx, c, out[:taken]); err != nil {
				return err
			}
			return &identity.ItemError{Index: taken, Err: &identity.ConflictError{Resource: "user", Field: "id"}}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// takenID returns the index of the first user whose ID a user before it in
// the list or a stored user has, or len(users) if there is none. Only the
// IDs the caller gave, those of the users given indexes, can be taken.
func (s *Store) takenID(ctx context.Context, c conn, users []identity.User, given []int) (int, error) {
	if len(given) == 0 {
		return len(users), nil
	}
	first := len(users)
	seen := make(map[string]struct{}, len(given))
	ids := make([]string, 0, len(given))
	for _, i := range given {
		id := users[i].ID
		if _, ok := seen[id]; ok {
			first = i
			break
		}
		seen[id] = struct{}{}
		ids = append(ids, id)
	}
	stored, err := s.storedIDs(ctx, c, ids)
	if err != nil {
		return 0, err
	}
	for _, i := range given {
		if i >= first {
			break
		}
		if _, ok := stored[users[i].ID]; ok {
			return i, nil
		}
	}
	return first, nil
}

// storedIDs returns those of ids that a user of the tenant has.
func (s *Store) storedIDs(ctx context.Context, c conn, ids []string) (map[string]struct{}, error) {
	stored := make(map[string]struct{})
	for start := 0; start < len(ids); {
		size := usersSize(len(ids) - start)
		found, err := queryIDs(ctx, c, usersStmts[size].stored, idArgs(s.tenant, ids[start:start+userListSizes[size]]))
		if err != nil {
			return nil, c.d.mapErr(err, "create users")
		}
		for _, id := range found {
			stored[id] = struct{}{}
		}
		start += userListSizes[size]
	}
	return stored, nil
}

// idArgs returns the arguments of a statement that takes the tenant and ids.
func idArgs(tenant string, ids []string) []any {
	args := make([]any, 0, 1+len(ids))
	args = append(args, tenant)
	for _, id := range ids {
		args = append(args, id)
	}
	return args
}

// usersConflict finds why the INSERT of users[start:start+n] stored fewer
// than n users, and undoes what the call stored: all of users[:start], and
// those of the chunk now stored. It returns the *identity.ConflictError of
// the first user of the chunk not stored, in an *identity.ItemError with its
// index.
func (s *Store) usersConflict(ctx context.Context, c conn, users []identity.User, start, n int) error {
	chunk := make([]string, n)
	for i, u := range users[start : start+n] {
		chunk[i] = u.ID
	}
	isStored, err := s.storedIDs(ctx, c, chunk)
	if err != nil {
		return err
	}
	first := -1
	var after []string // the chunk's users stored after the first skipped
	for i := start; i < start+n; i++ {
		_, ok := isStored[users[i].ID]
		switch {
		case !ok && first < 0:
			first = i
		case ok && first >= 0:
			after = append(after, users[i].ID)
		}
	}
	if first < 0 {
		return fmt.Errorf("sqlstore: create users: fewer users stored than inserted, yet all %d are there", n)
	}
	if err := s.undoUsers(ctx, c, after); err != nil {
		return err
	}
	err = s.userConflict(ctx, c, identity.User{}, users[first])
	var ce *identity.ConflictError
	if err != nil && !errors.As(err, &ce) {
		return err
	}
	if err := s.undoCall(ctx, c, users[:first]); err != nil {
		return err
	}
	if ce == nil {
		// The INSERT and the reads saw different states, which the
		// transaction's isolation rules out.
		return fmt.Errorf("sqlstore: create users: user %d was not stored, yet no other user holds its values", first)
	}
	return &identity.ItemError{Index: first, Err: ce}
}

// undoCall removes the users a failed CreateUsers stored, when it runs
// inside Tx: outside, its own transaction is rolled back.
func (s *Store) undoCall(ctx context.Context, c conn, users []identity.User) error {
	if s.tx == nil {
		return nil
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return s.undoUsers(ctx, c, ids)
}

// undoUsers removes the users ids, which CreateUsers has just stored: they
// have no links, memberships or invitations yet.
func (s *Store) undoUsers(ctx context.Context, c conn, ids []string) error {
	for start := 0; start < len(ids); {
		size := usersSize(len(ids) - start)
		if _, err := c.exec(ctx, usersStmts[size].undo, idArgs(s.tenant, ids[start:start+userListSizes[size]])...); err != nil {
			return c.d.mapErr(err, "create users: undo")
		}
		start += userListSizes[size]
	}
	return nil
}

// userConflict returns a *identity.ConflictError for the first of u's unique
// values (ID, email, userName) that another user holds, where the value
// differs from old's; nil if none does. The email counts only while u is
// active, and is held only by another active user: restoring u (old
// inactive) checks it even when it is unchanged.
func (s *Store) userConflict(ctx context.Context, c conn, old, u identity.User) error {
	email, oldEmail := identity.NormalizeEmail(u.Email), identity.NormalizeEmail(old.Email)
	switch {
	case !u.Active:
		email = ""
	case !old.Active:
		oldEmail = ""
	}
	checks := []struct {
		field, column, old, new string
	}{
		{"id", "id", old.ID, u.ID},
		{"email", "email_key", oldEmail, email},
		{"userName", "user_name_key", identity.NormalizeUserName(old.UserName), identity.NormalizeUserName(u.UserName)},
	}
	for _, ch := range checks {
		if ch.new == "" || ch.new == ch.old {
			continue
		}
		taken, err := c.exists(ctx, userTaken[ch.column], s.tenant, ch.new, old.ID)
		if err != nil {
			return c.d.mapErr(err, "check "+ch.field)
		}
		if taken {
			return &identity.ConflictError{Resource: "user", Field: ch.field}
		}
	}
	return nil
}

// User returns the user with the id, or identity.ErrNotFound.
func (s *Store) User(ctx context.Context, id string) (identity.User, error) {
	return s.userWhere(ctx, "user "+id, userByID, id)
}

// UserByEmail returns the user whose email equals email under
// identity.NormalizeEmail: the active one, else the one updated last; or
// identity.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (identity.User, error) {
	key := identity.NormalizeEmail(email)
	if key == "" {
		return identity.User{}, notFound("user by email")
	}
	return s.userWhere(ctx, "user by email", userByEmail, key)
}

// UserByUserName returns the user whose userName equals name under
// identity.NormalizeUserName, or identity.ErrNotFound.
func (s *Store) UserByUserName(ctx context.Context, name string) (identity.User, error) {
	key := identity.NormalizeUserName(name)
	if key == "" {
		return identity.User{}, notFound("user by userName")
	}
	return s.userWhere(ctx, "user by userName", userByUserName, key)
}

// UserByExternalID returns the user with the smallest ID of those with the
// external ID, or identity.ErrNotFound.
//
// Deprecated: an externalID is not unique; use UsersByExternalID.
func (s *Store) UserByExternalID(ctx context.Context, externalID string) (identity.User, error) {
	if externalID == "" {
		return identity.User{}, notFound("user by externalID")
	}
	return s.userWhere(ctx, "user by externalID", userByExternalID, externalID)
}

// UsersByEmail returns the users whose email equals email under
// identity.NormalizeEmail, active or not, ordered by ID.
func (s *Store) UsersByEmail(ctx context.Context, email string) ([]identity.User, error) {
	key := identity.NormalizeEmail(email)
	if key == "" {
		return nil, nil
	}
	return s.usersWhere(ctx, "users by email", usersByEmail, key)
}

// UsersByExternalID returns the users with the external ID, ordered by ID.
func (s *Store) UsersByExternalID(ctx context.Context, externalID string) ([]identity.User, error) {
	if externalID == "" {
		return nil, nil
	}
	return s.usersWhere(ctx, "users by externalID", usersByExternalID, externalID)
}

// usersWhere returns the users query selects, given the tenant and arg.
func (s *Store) usersWhere(ctx context.Context, what, query, arg string) ([]identity.User, error) {
	c := s.reader()
	rows, err := c.query(ctx, query, s.tenant, arg)
	if err != nil {
		return nil, c.d.mapErr(err, what)
	}
	defer rows.Close()
	var out []identity.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, c.d.mapErr(err, what)
		}
		out = append(out, u)
	}
	return out, c.d.mapErr(rows.Err(), what)
}

// UserByLink returns the user linked to (source, subject), or
// identity.ErrNotFound.
func (s *Store) UserByLink(ctx context.Context, source, subject string) (identity.User, error) {
	return s.userWhere(ctx, "user by link", userByLink, source, subject)
}

// userWhere returns the user query selects, given the tenant and args.
func (s *Store) userWhere(ctx context.Context, what, query string, args ...any) (identity.User, error) {
	c := s.reader()
	u, err := scanUser(c.row(ctx, query, append([]any{s.tenant}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return identity.User{}, notFound(what)
	}
	return u, c.d.mapErr(err, what)
}

// UpdateUser changes a user atomically (see identity.UserStore). The row is
// locked from the read to the write (SQLite's write lock; FOR UPDATE in
// PostgreSQL). Updated is stored as fn leaves it (the core sets it). Outside
// Tx, fn may be called again if PostgreSQL reports a deadlock.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*identity.User) error) (identity.User, error) {
	var out identity.User
	err := s.update(ctx, func(c conn) error {
		old, err := scanUser(c.row(ctx, userByID+c.d.forUpdate(), s.tenant, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("user " + id)
		}
		if err != nil {
			return c.d.mapErr(err, "update user")
		}
		u := old.Clone()
		if err := fn(&u); err != nil {
			return err
		}
		u.ID, u.Created, u.Version, u.Updated = old.ID, old.Created, old.Version+1, stamp(u.Updated)
		if err := s.userConflict(ctx, c, old, u); err != nil {
			return err
		}
		if _, err := c.exec(ctx, updateUser, append(userValues(u), s.tenant, id)...); err != nil {
			return c.d.mapErr(err, "update user")
		}
		out = u.Clone()
		return nil
	})
	if err != nil {
		return identity.User{}, err
	}
	return out, nil
}

// DeleteUser removes the user with its links, memberships and invitations,
// or returns identity.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.update(ctx, func(c conn) error {
		// The foreign keys cascade too; deleting explicitly keeps a database
		// whose connections run without foreign_keys (a host's own, via New)
		// consistent.
		for _, query := range deleteUserRows {
			if _, err := c.exec(ctx, query, s.tenant, id); err != nil {
				return c.d.mapErr(err, "delete user")
			}
		}
		res, err := c.exec(ctx, deleteUser, s.tenant, id)
		if err != nil {
			return c.d.mapErr(err, "delete user")
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return c.d.mapErr(err, "delete user")
			}
			return notFound("user " + id)
		}
		return nil
	})
}

var userSorts = map[identity.UserSort]string{
	identity.SortByID:          "u.id",
	identity.SortByUserName:    "u.user_name",
	identity.SortByEmail:       "u.email",
	identity.SortByDisplayName: "u.display_name",
	identity.SortByFamilyName:  "u.family_name",
	identity.SortByCreated:     "u.created",
	identity.SortByUpdated:     "u.updated",
}

// pageBounds returns the LIMIT and OFFSET of a query: a Limit of 0 or less is
// identity.DefaultLimit, a negative Offset is 0.
func pageBounds(limit, offset int) (int, int) {
	if limit <= 0 {
		limit = identity.DefaultLimit
	}
	return limit, max(offset, 0)
}

func invalid(field, msg string) error {
	return &identity.ValidationError{Fields: []identity.FieldError{{Field: field, Message: msg}}}
}
