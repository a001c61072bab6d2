package identity

import (
	"context"
	"errors"
	"fmt"
)

// BulkReader is an optional ability of a Store (found by type assertion):
// reads of many rows in one call, which a batch plan makes instead of one
// read a row. For a store without it the core makes the one-row reads.
type BulkReader interface {
	// UsersByLinks returns, by subject, the user linked to (source,
	// subject) for each of the subjects that has a link.
	UsersByLinks(ctx context.Context, source string, subjects []string) (map[string]User, error)
	// MemberIDs returns, by group ID, the IDs of the members of each of the
	// groups, in ID order; a group that does not exist has none.
	MemberIDs(ctx context.Context, groupIDs []string) (map[string][]string, error)
}

// usersByLinks is BulkReader.UsersByLinks through r, or one UserByLink a
// subject where r has no bulk path.
func usersByLinks(ctx context.Context, r Reader, source string, subjects []string) (map[string]User, error) {
	if b, ok := r.(BulkReader); ok {
		return b.UsersByLinks(ctx, source, subjects)
	}
	return linkedOneByOne(ctx, r, source, subjects)
}

// linkedOneByOne is usersByLinks with one UserByLink a subject.
func linkedOneByOne(ctx context.Context, r Reader, source string, subjects []string) (map[string]User, error) {
	out := make(map[string]User)
	for _, s := range subjects {
		u, err := r.UserByLink(ctx, source, s)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("identity: find user by link: %w", err)
		}
		out[s] = u
	}
	return out, nil
}

// memberIDs is BulkReader.MemberIDs through r, or one member listing a
// group where r has no bulk path.
func memberIDs(ctx context.Context, r Reader, groupIDs []string) (map[string][]string, error) {
	if b, ok := r.(BulkReader); ok {
		return b.MemberIDs(ctx, groupIDs)
	}
	return membersOneByOne(ctx, r, groupIDs)
}

// membersOneByOne is memberIDs with one member listing a group.
func membersOneByOne(ctx context.Context, r Reader, groupIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(groupIDs))
	for _, id := range groupIDs {
		q := UserQuery{GroupID: id, Limit: 1000, NoTotal: true}
		for {
			page, err := r.ListUsers(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("identity: list members: %w", err)
			}
			for _, u := range page.Users {
				out[id] = append(out[id], u.ID)
			}
			if len(page.Users) < q.Limit {
				break
			}
			q.After = page.Users[len(page.Users)-1].ID
		}
	}
	return out, nil
}

func (r readOnly) UsersByLinks(ctx context.Context, source string, subjects []string) (map[string]User, error) {
	return usersByLinks(ctx, r.Reader, source, subjects)
}

func (r readOnly) MemberIDs(ctx context.Context, groupIDs []string) (map[string][]string, error) {
	return memberIDs(ctx, r.Reader, groupIDs)
}

func (r dirReader) UsersByLinks(ctx context.Context, source string, subjects []string) (map[string]User, error) {
	return usersByLinks(ctx, storeReader{r.d.reading(ctx)}, source, subjects)
}

func (r dirReader) MemberIDs(ctx context.Context, groupIDs []string) (map[string][]string, error) {
	return memberIDs(ctx, storeReader{r.d.reading(ctx)}, groupIDs)
}

var (
	_ BulkReader = readOnly{}
	_ BulkReader = dirReader{}
)

// createUsers is BulkUserCreator.CreateUsers on s, or one CreateUser a
// user where s has no bulk path: the users created before one that fails
// are deleted again, so that it stores all or none too.
func createUsers(ctx context.Context, s Store, users []User) ([]User, error) {
	if b, ok := s.(BulkUserCreator); ok {
		return b.CreateUsers(ctx, users)
	}
	created := make([]User, 0, len(users))
	for i, u := range users {
		c, err := s.CreateUser(ctx, u)
		if err != nil {
			for _, done := range created {
				if derr := s.DeleteUser(ctx, done.ID); derr != nil {
					return nil, fmt.Errorf("%w (and removing the users created failed: %v)", &ItemError{Index: i, Err: err}, derr)
				}
			}
			return nil, &ItemError{Index: i, Err: err}
		}
		created = append(created, c)
	}
	return created, nil
}

// addMembers is BulkMemberAdder.AddMembers on s, or one AddMember a user
// where s has no bulk path: the group and every user are found first, so
// that it adds nobody when one is missing.
func addMembers(ctx context.Context, s Store, groupID string, userIDs []string) ([]string, error) {
	if b, ok := s.(BulkMemberAdder); ok {
		return b.AddMembers(ctx, groupID, userIDs)
	}
	if _, err := s.Group(ctx, groupID); err != nil {
		return nil, fmt.Errorf("group %s: %w", groupID, err)
	}
	for _, id := range userIDs {
		if _, err := s.User(ctx, id); err != nil {
			return nil, fmt.Errorf("user %s: %w", id, err)
		}
	}
	var added []string
	for _, id := range userIDs {
		ok, err := s.AddMember(ctx, groupID, id)
		if err != nil {
			return nil, err
		}
		if ok {
			added = append(added, id)
		}
	}
	return added, nil
}
