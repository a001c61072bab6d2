package identity

import (
	"context"
	"fmt"
)

// A batch as large as the directory (a file import of every user, say)
// would read the directory a user at a time, several times a listed user.
// PlanBatch reads every user once instead, when the batch lists at least
// half as many users as the directory holds, or must read them all anyway
// (Batch.DeactivateMissing), and finds users by email and userName in
// memory: an indexedReader.

// indexMin is the smallest batch for which PlanBatch counts the directory
// to decide whether to read it whole.
const indexMin = 1000

// indexedReader is a Reader whose lookups of users by email and userName
// answer from every user read up front, by the rules of the Store's.
type indexedReader struct {
	Reader
	// shared makes the lookups return the users of all as they are, maps
	// included: the plan's own reads, which never change a user. Else they
	// return copies (the Reader handed to Batch.Protect).
	shared     bool
	all        []User
	byID       map[string]int
	byEmail    map[string]int // NormalizeEmail -> index in all
	byUserName map[string]int // NormalizeUserName -> index in all
}

// indexUsers returns r, or an indexedReader over r where the batch is
// large enough for one read of every user to pay.
func indexUsers(ctx context.Context, r Reader, b Batch) (Reader, error) {
	if !b.DeactivateMissing && len(b.Users) < indexMin {
		return r, nil
	}
	page, err := r.ListUsers(ctx, UserQuery{Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("identity: count users: %w", err)
	}
	if !b.DeactivateMissing && page.Total > 2*len(b.Users) {
		return r, nil
	}
	// Total is a hint: the directory may change while it is read.
	n := min(max(page.Total, 0), 1<<20)
	ix := &indexedReader{Reader: r, shared: true, all: make([]User, 0, n),
		byID: make(map[string]int, n), byEmail: make(map[string]int, n), byUserName: make(map[string]int, n)}
	err = eachUser(ctx, r, func(u User) {
		i := len(ix.all)
		ix.all = append(ix.all, u)
		ix.byID[u.ID] = i
		if u.UserName != "" {
			ix.byUserName[NormalizeUserName(u.UserName)] = i
		}
		if u.Email == "" {
			return
		}
		k := NormalizeEmail(u.Email)
		if j, ok := ix.byEmail[k]; !ok || firstByEmail(u, ix.all[j]) {
			ix.byEmail[k] = i
		}
	})
	if err != nil {
		return nil, err
	}
	return ix, nil
}

// firstByEmail reports whether UserByEmail prefers a to b of the same
// email: the active one, else the one updated last, else the smaller ID.
func firstByEmail(a, b User) bool {
	switch {
	case a.Active != b.Active:
		return a.Active
	case !a.Updated.Equal(b.Updated):
		return a.Updated.After(b.Updated)
	}
	return a.ID < b.ID
}

// cloning returns the index as a Reader whose lookups return copies.
func (ix *indexedReader) cloning() *indexedReader {
	c := *ix
	c.shared = false
	return &c
}

// user returns the i-th user, shared or copied.
func (ix *indexedReader) user(i int) User {
	if ix.shared {
		return ix.all[i]
	}
	return ix.all[i].Clone()
}

func (ix *indexedReader) User(_ context.Context, id string) (User, error) {
	if i, ok := ix.byID[id]; ok {
		return ix.user(i), nil
	}
	return User{}, ErrNotFound
}

// UsersByLinks and MemberIDs keep the bulk path of the Reader underneath,
// where it has one (BulkReader).
func (ix *indexedReader) UsersByLinks(ctx context.Context, source string, subjects []string) (map[string]User, error) {
	return usersByLinks(ctx, ix.Reader, source, subjects)
}

func (ix *indexedReader) MemberIDs(ctx context.Context, groupIDs []string) (map[string][]string, error) {
	return memberIDs(ctx, ix.Reader, groupIDs)
}

func (ix *indexedReader) UserByEmail(_ context.Context, email string) (User, error) {
	if i, ok := ix.byEmail[NormalizeEmail(email)]; ok && email != "" {
		return ix.user(i), nil
	}
	return User{}, ErrNotFound
}

func (ix *indexedReader) UserByUserName(_ context.Context, name string) (User, error) {
	if i, ok := ix.byUserName[NormalizeUserName(name)]; ok && name != "" {
		return ix.user(i), nil
	}
	return User{}, ErrNotFound
}

// hasEmail reports whether a user has the email of key (normalised).
func (ix *indexedReader) hasEmail(key string) bool {
	_, ok := ix.byEmail[key]
	return ok
}
