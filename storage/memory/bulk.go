package memory

import (
	"context"
	"slices"

	"github.com/rollcall/rollcall/identity"
)

var (
	_ identity.BulkReader = (*Store)(nil)
	_ identity.BulkReader = (*txStore)(nil)
)

// UsersByLinks implements identity.BulkReader.
func (s *Store) UsersByLinks(ctx context.Context, source string, subjects []string) (map[string]identity.User, error) {
	return read(ctx, s, func(d *data) (map[string]identity.User, error) { return d.usersByLinks(source, subjects), nil })
}

// MemberIDs implements identity.BulkReader.
func (s *Store) MemberIDs(ctx context.Context, groupIDs []string) (map[string][]string, error) {
	return read(ctx, s, func(d *data) (map[string][]string, error) { return d.memberIDs(groupIDs), nil })
}

func (t *txStore) UsersByLinks(ctx context.Context, source string, subjects []string) (map[string]identity.User, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.d.usersByLinks(source, subjects), nil
}

func (t *txStore) MemberIDs(ctx context.Context, groupIDs []string) (map[string][]string, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.d.memberIDs(groupIDs), nil
}

func (d *data) usersByLinks(source string, subjects []string) map[string]identity.User {
	out := make(map[string]identity.User, len(subjects))
	for _, subject := range subjects {
		if lk := d.links[linkKey{source, subject}]; lk != nil {
			if u := d.users[lk.UserID]; u != nil {
				out[subject] = u.Clone()
			}
		}
	}
	return out
}

func (d *data) memberIDs(groupIDs []string) map[string][]string {
	out := make(map[string][]string, len(groupIDs))
	for _, g := range groupIDs {
		m := d.members[g]
		if len(m) == 0 {
			continue
		}
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		out[g] = ids
	}
	return out
}

var (
	_ identity.BulkUserCreator = (*Store)(nil)
	_ identity.BulkMemberAdder = (*Store)(nil)
	_ identity.BulkUserCreator = (*txStore)(nil)
	_ identity.BulkMemberAdder = (*txStore)(nil)
)
