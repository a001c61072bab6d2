package sqlstore

import (
	"context"

	"github.com/rollcall/rollcall/identity"
)

var _ identity.BulkReader = (*Store)(nil)

// bulkChunk is how many values one statement of a bulk read looks up.
const bulkChunk = 500

// prefixed scans a row whose first column is a key, then a user.
type prefixed struct {
	r   scanner
	key *string
}

func (p prefixed) Scan(dest ...any) error { return p.r.Scan(append([]any{p.key}, dest...)...) }

// UsersByLinks implements identity.BulkReader: one statement per 500
// subjects.
func (s *Store) UsersByLinks(ctx context.Context, source string, subjects []string) (map[string]identity.User, error) {
	out := make(map[string]identity.User, len(subjects))
	err := s.snapshot(ctx, func(c conn) error {
		clear(out)
		for start := 0; start < len(subjects); start += bulkChunk {
			chunk := subjects[start:min(len(subjects), start+bulkChunk)]
			args := make([]any, 0, len(chunk)+2)
			args = append(args, s.tenant, source)
			for _, subject := range chunk {
				args = append(args, subject)
			}
			rows, err := c.query(ctx, "SELECT l.subject, "+userCols+" FROM rollcall_links l JOIN rollcall_users u "+
				"ON u.tenant = l.tenant AND u.id = l.user_id WHERE l.tenant = ? AND l.source = ? AND l.subject IN ("+
				placeholders(len(chunk))+")", args...)
			if err != nil {
				return c.d.mapErr(err, "users by links")
			}
			var subject string
			for rows.Next() {
				u, err := scanUser(prefixed{rows, &subject})
				if err != nil {
					rows.Close()
					return c.d.mapErr(err, "users by links")
				}
				out[subject] = u
			}
			if err := rows.Close(); err != nil {
				return c.d.mapErr(err, "users by links")
			}
			if err := rows.Err(); err != nil {
				return c.d.mapErr(err, "users by links")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MemberIDs implements identity.BulkReader: one statement per 500 groups.
func (s *Store) MemberIDs(ctx context.Context, groupIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(groupIDs))
	err := s.snapshot(ctx, func(c conn) error {
		clear(out)
		for start := 0; start < len(groupIDs); start += bulkChunk {
			chunk := groupIDs[start:min(len(groupIDs), start+bulkChunk)]
			args := make([]any, 0, len(chunk)+1)
			args = append(args, s.tenant)
			for _, id := range chunk {
				args = append(args, id)
			}
			rows, err := c.query(ctx, "SELECT group_id, user_id FROM rollcall_members WHERE tenant = ? AND group_id IN ("+
				placeholders(len(chunk))+") ORDER BY group_id, user_id", args...)
			if err != nil {
				return c.d.mapErr(err, "member IDs")
			}
			var g, u string
			for rows.Next() {
				if err := rows.Scan(&g, &u); err != nil {
					rows.Close()
					return c.d.mapErr(err, "member IDs")
				}
				out[g] = append(out[g], u)
			}
			if err := rows.Close(); err != nil {
				return c.d.mapErr(err, "member IDs")
			}
			if err := rows.Err(); err != nil {
				return c.d.mapErr(err, "member IDs")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var (
	_ identity.BulkUserCreator = (*Store)(nil)
	_ identity.BulkMemberAdder = (*Store)(nil)
)
