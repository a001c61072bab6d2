package identity

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// ListUsers returns one page of the users of s that match q: the store's own
// answer where s is a UserSearcher, else the core's, from UsersAfter. The
// core's reads every user the query's GroupID selects (all of them without
// one) a thousand at a time, keeps those that pass q.Holds, and sorts them
// when q asks for another order than the ascending ID; with that order and
// NoTotal it stops at the end of the page. So a small store answers every
// query alike, and a large one should be a UserSearcher. It returns an error
// matching ErrInvalid for an unknown SortBy, for After with another order
// than the ascending ID, and for a condition that UserCond.Check refuses.
func ListUsers(ctx context.Context, s UserStore, q UserQuery) (UserPage, error) {
	if us, ok := s.(UserSearcher); ok {
		return us.ListUsers(ctx, q)
	}
	return scanUsers(ctx, s, q)
}

// scanChunk is how many users the core's ListUsers reads with one
// UsersAfter.
const scanChunk = 1000

// Holds reports whether u passes q's filters (Active, Search and Match), as
// a store must decide it: the reference for the stores in storage/. Search
// holds when strings.ToLower of the email, userName, given, family or
// display name contains strings.ToLower(Search).
func (q UserQuery) Holds(u User) bool {
	if q.Active != nil && u.Active != *q.Active {
		return false
	}
	for _, c := range q.Match {
		if !c.Holds(u) {
			return false
		}
	}
	if q.Search == "" {
		return true
	}
	search := strings.ToLower(q.Search)
	for _, f := range [...]string{u.Email, u.UserName, u.GivenName, u.FamilyName, u.DisplayName} {
		if strings.Contains(strings.ToLower(f), search) {
			return true
		}
	}
	return false
}

// Check returns an error matching ErrInvalid if a store may refuse q: an
// unknown SortBy, After with another order than the ascending ID, or a
// condition that UserCond.Check refuses.
func (q UserQuery) Check() error {
	if userOrder(q.SortBy) == nil {
		return queryError("sortBy", fmt.Sprintf("unknown sort %q", q.SortBy))
	}
	if q.After != "" && (q.SortBy != SortByID || q.Descending) {
		return queryError("after", "keyset paging needs the ascending ID order")
	}
	if strings.ContainsRune(q.Search, 0) {
		return queryError("search", "contains a NUL character")
	}
	for _, c := range q.Match {
		if err := c.Check(); err != nil {
			return err
		}
	}
	return nil
}

func queryError(field, msg string) error {
	v := &ValidationError{}
	v.Add(field, msg)
	return v
}

// userOrder returns how SortBy s compares two users, the ID breaking the
// tie; nil for an unknown sort.
func userOrder(s UserSort) func(a, b *User) int {
	var by func(a, b *User) int
	switch s {
	case SortByID:
		by = func(a, b *User) int { return 0 }
	case SortByUserName:
		by = func(a, b *User) int { return strings.Compare(a.UserName, b.UserName) }
	case SortByEmail:
		by = func(a, b *User) int { return strings.Compare(a.Email, b.Email) }
	case SortByDisplayName:
		by = func(a, b *User) int { return strings.Compare(a.DisplayName, b.DisplayName) }
	case SortByFamilyName:
		by = func(a, b *User) int { return strings.Compare(a.FamilyName, b.FamilyName) }
	case SortByCreated:
		by = func(a, b *User) int { return a.Created.Compare(b.Created) }
	case SortByUpdated:
		by = func(a, b *User) int { return a.Updated.Compare(b.Updated) }
	default:
		return nil
	}
	return func(a, b *User) int {
		if c := by(a, b); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	}
}

// scanUsers answers q from s.UsersAfter: see ListUsers.
func scanUsers(ctx context.Context, s UserStore, q UserQuery) (UserPage, error) {
	if err := q.Check(); err != nil {
		return UserPage{}, err
	}
	limit, offset := q.Limit, max(q.Offset, 0)
	if limit <= 0 {
		limit = DefaultLimit
	}
	// In the ascending ID order the page is the matches after q.After,
	// past the offset; every other order sorts every match first.
	keyed := q.SortBy == SortByID && !q.Descending
	var page, all []User
	total := 0
	after := ""
	if keyed && q.NoTotal {
		after = q.After // nothing before it is counted or listed
	}
	for {
		chunk, err := s.UsersAfter(ctx, q.GroupID, after, scanChunk)
		if err != nil {
			return UserPage{}, fmt.Errorf("identity: list users: %w", err)
		}
		for _, u := range chunk {
			if !q.Holds(u) {
				continue
			}
			total++
			switch {
			case !keyed:
				all = append(all, u)
			case u.ID <= q.After:
			case offset > 0:
				offset--
			case len(page) < limit:
				page = append(page, u)
			}
		}
		if len(chunk) < scanChunk || keyed && q.NoTotal && len(page) == limit {
			break
		}
		after = chunk[len(chunk)-1].ID
	}
	if !keyed {
		order := userOrder(q.SortBy)
		slices.SortFunc(all, func(a, b User) int {
			if q.Descending {
				return order(&b, &a)
			}
			return order(&a, &b)
		})
		from := min(offset, len(all))
		page = all[from : from+min(limit, len(all)-from)]
	}
	if q.NoTotal {
		total = 0
	}
	return UserPage{Users: page, Total: total}, nil
}

// storeReader reads a Store as a Reader: ListUsers is the core's (see
// ListUsers), and the BulkReader methods are the store's, or the one-row
// reads where it has none.
type storeReader struct{ Store }

func (r storeReader) ListUsers(ctx context.Context, q UserQuery) (UserPage, error) {
	return ListUsers(ctx, r.Store, q)
}

func (r storeReader) UsersByLinks(ctx context.Context, source string, subjects []string) (map[string]User, error) {
	if b, ok := r.Store.(BulkReader); ok {
		return b.UsersByLinks(ctx, source, subjects)
	}
	return linkedOneByOne(ctx, r, source, subjects)
}

func (r storeReader) MemberIDs(ctx context.Context, groupIDs []string) (map[string][]string, error) {
	if b, ok := r.Store.(BulkReader); ok {
		return b.MemberIDs(ctx, groupIDs)
	}
	return membersOneByOne(ctx, r, groupIDs)
}

var _ BulkReader = storeReader{}
