package memory

import (
	"cmp"
	"slices"
	"strings"

	"github.com/rollcall/rollcall/identity"
)

// pageBounds returns the limit and offset of a query, defaults applied.
func pageBounds(limit, offset int) (int, int) {
	if limit <= 0 {
		limit = identity.DefaultLimit
	}
	return limit, max(offset, 0)
}

// window returns the bounds of the page of n items that skips offset items
// from start and holds at most limit, without overflowing on huge values.
func window(n, start, offset, limit int) (from, to int) {
	from = n
	if offset < n-start {
		from = start + offset
	}
	to = from + min(limit, n-from)
	return from, to
}

// walk returns one page of the records in the index's ID order, and how
// many records match. Without match it costs O(log n + offset + limit), or
// O(log n + limit) while the index holds no tombstone; with match it scans
// every record once to count the matches.
func walk[T any](x *idIndex, records map[string]*T, after string, offset, limit int, desc bool, match func(*T) bool) ([]*T, int) {
	ids := x.ids
	n := len(ids)
	start := 0
	if after != "" {
		start = x.after(after)
	}
	if match == nil && n == len(records) {
		// No filter and no tombstone: the page is a slice of the index.
		from, to := window(n, start, offset, limit)
		page := make([]*T, 0, to-from)
		for k := from; k < to; k++ {
			i := k
			if desc {
				i = n - 1 - k
			}
			page = append(page, records[ids[i]])
		}
		return page, len(records)
	}
	total := 0
	first := 0
	if match == nil {
		total = len(records)
		first = start
	}
	var page []*T
	for k := first; k < n; k++ {
		i := k
		if desc {
			i = n - 1 - k
		}
		r := records[ids[i]]
		if r == nil || (match != nil && !match(r)) {
			continue
		}
		if match != nil {
			total++
		}
		switch {
		case k < start:
		case offset > 0:
			offset--
		case len(page) < limit:
			page = append(page, r)
		case match == nil:
			return page, total
		}
	}
	return page, total
}

// userOrder returns how SortBy s compares two users before the ID breaks the
// tie; nil for SortByID.
func userOrder(s identity.UserSort) (func(a, b *identity.User) int, error) {
	switch s {
	case identity.SortByID:
		return nil, nil
	case identity.SortByUserName:
		return func(a, b *identity.User) int { return strings.Compare(a.UserName, b.UserName) }, nil
	case identity.SortByEmail:
		return func(a, b *identity.User) int { return strings.Compare(a.Email, b.Email) }, nil
	case identity.SortByDisplayName:
		return func(a, b *identity.User) int { return strings.Compare(a.DisplayName, b.DisplayName) }, nil
	case identity.SortByFamilyName:
		return func(a, b *identity.User) int { return strings.Compare(a.FamilyName, b.FamilyName) }, nil
	case identity.SortByCreated:
		return func(a, b *identity.User) int { return a.Created.Compare(b.Created) }, nil
	case identity.SortByUpdated:
		return func(a, b *identity.User) int { return a.Updated.Compare(b.Updated) }, nil
	}
	return nil, invalid("sortBy", "unknown order "+string(s))
}

func invalid(field, message string) error {
	e := &identity.ValidationError{}
	e.Add(field, message)
	return e
}

// userFilter returns the test of q's Active and Search, or nil if q has
// neither.
func userFilter(q identity.UserQuery) func(*identity.User) bool {
	if q.Active == nil && q.Search == "" && len(q.Match) == 0 {
		return nil
	}
	search := strings.ToLower(q.Search)
	return func(u *identity.User) bool {
		if q.Active != nil && u.Active != *q.Active {
			return false
		}
		for _, c := range q.Match {
			if !c.Holds(*u) {
				return false
			}
		}
		return search == "" ||
			contains(u.Email, search) || contains(u.UserName, search) ||
			contains(u.GivenName, search) || contains(u.FamilyName, search) ||
			contains(u.DisplayName, search)
	}
}

// contains reports whether s contains the lower-cased lower, ignoring case.
func contains(s, lower string) bool { return strings.Contains(strings.ToLower(s), lower) }

func (d *data) listUsers(q identity.UserQuery) (identity.UserPage, error) {
	order, err := userOrder(q.SortBy)
	if err != nil {
		return identity.UserPage{}, err
	}
	if q.After != "" && (order != nil || q.Descending) {
		return identity.UserPage{}, invalid("after", "keyset paging needs the ascending ID order")
	}
	if err := q.Check(); err != nil {
		return identity.UserPage{}, err
	}
	limit, offset := pageBounds(q.Limit, q.Offset)
	match := userFilter(q)

	var page []*identity.User
	var total int
	if q.GroupID == "" && order == nil {
		page, total = walk(&d.userIDs, d.users, q.After, offset, limit, q.Descending, match)
	} else {
		// Sort the matching subset only: the group's members, or the users
		// that pass the filter.
		var subset []*identity.User
		if q.GroupID != "" {
			members := d.members[q.GroupID]
			subset = make([]*identity.User, 0, len(members))
			for id := range members {
				if u := d.users[id]; match == nil || match(u) {
					subset = append(subset, u)
				}
			}
		} else {
			subset = make([]*identity.User, 0, len(d.users))
			for _, u := range d.users {
				if match == nil || match(u) {
					subset = append(subset, u)
				}
			}
		}
		slices.SortFunc(subset, func(a, b *identity.User) int {
			c := 0
			if order != nil {
				c = order(a, b)
			}
			if c == 0 {
				c = strings.Compare(a.ID, b.ID)
			}
			if q.Descending {
				c = -c
			}
			return c
		})
		total = len(subset)
		if q.After != "" {
			i, found := slices.BinarySearchFunc(subset, q.After, func(u *identity.User, id string) int { return cmp.Compare(u.ID, id) })
			if found {
				i++
			}
			subset = subset[i:]
		}
		from, to := window(len(subset), 0, offset, limit)
		page = subset[from:to]
	}
	users := make([]identity.User, len(page))
	for i, u := range page {
		users[i] = u.Clone()
	}
	return identity.UserPage{Users: users, Total: total}, nil
}

func (d *data) usersAfter(groupID, after string, limit int) ([]identity.User, error) {
	p, err := d.listUsers(identity.UserQuery{GroupID: groupID, After: after, Limit: limit, NoTotal: true})
	return p.Users, err
}

func groupFilter(q identity.GroupQuery) func(*identity.Group) bool {
	if q.Kind == "" && q.Source == "" && q.Search == "" {
		return nil
	}
	search := strings.ToLower(q.Search)
	return func(g *identity.Group) bool {
		return (q.Kind == "" || g.Kind == q.Kind) &&
			(q.Source == "" || g.Source == q.Source) &&
			(search == "" || contains(g.Name, search))
	}
}

func (d *data) listGroups(q identity.GroupQuery) identity.GroupPage {
	limit, offset := pageBounds(q.Limit, q.Offset)
	page, total := walk(&d.groupIDs, d.groups, q.After, offset, limit, false, groupFilter(q))
	out := make([]identity.Group, len(page))
	for i, g := range page {
		out[i] = *g
	}
	return identity.GroupPage{Groups: out, Total: total}
}
