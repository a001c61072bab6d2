package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"

	"github.com/rollcall/rollcall/identity"
)

var (
	// insertLink reads the user in the same statement, so that a user
	// deleted at the same time is never left with a link.
	insertLink = prep("INSERT INTO rollcall_links (tenant, source, subject, user_id, created) " +
		"SELECT u.tenant, ?, ?, u.id, ? FROM rollcall_users u WHERE u.tenant = ? AND u.id = ? ON CONFLICT DO NOTHING")
	linkExists       = prep("SELECT 1 FROM rollcall_links WHERE tenant = ? AND source = ? AND subject = ?")
	linkOfUserSource = prep("SELECT 1 FROM rollcall_links WHERE tenant = ? AND user_id = ? AND source = ?")
	userLinks        = prep("SELECT source, subject, user_id, created FROM rollcall_links WHERE tenant = ? AND user_id = ? ORDER BY source")
	deleteLink       = prep("DELETE FROM rollcall_links WHERE tenant = ? AND source = ? AND subject = ?")
	insertInvitation = prep("INSERT INTO rollcall_invitations (tenant, hash, user_id, expires, created) " +
		"SELECT u.tenant, ?, u.id, ?, ? FROM rollcall_users u WHERE u.tenant = ? AND u.id = ? ON CONFLICT DO NOTHING")
	takeInvitation    = prep("DELETE FROM rollcall_invitations WHERE tenant = ? AND hash = ? RETURNING user_id, expires, created")
	deleteInvitations = prep("DELETE FROM rollcall_invitations WHERE tenant = ? AND user_id = ?")
)

// CreateLink links (l.Source, l.Subject) to l.UserID (see
// identity.UserStore). A conflict names Field "subject" when the pair is
// linked already and "source" when the user has a link from l.Source.
func (s *Store) CreateLink(ctx context.Context, l identity.Link) error {
	created := stamp(l.Created)
	return s.stmt(ctx, func(c conn) error {
		for range 3 {
			res, err := c.exec(ctx, insertLink, l.Source, l.Subject, micros(created), s.tenant, l.UserID)
			if err != nil {
				return c.d.mapErr(err, "create link")
			}
			n, err := res.RowsAffected()
			if err != nil || n == 1 {
				return c.d.mapErr(err, "create link")
			}
			for _, check := range []struct {
				query string
				args  []any
				err   error
			}{
				{userExists, []any{s.tenant, l.UserID}, nil},
				{linkExists, []any{s.tenant, l.Source, l.Subject}, &identity.ConflictError{Resource: "link", Field: "subject"}},
				{linkOfUserSource, []any{s.tenant, l.UserID, l.Source}, &identity.ConflictError{Resource: "link", Field: "source"}},
			} {
				ok, err := c.exists(ctx, check.query, check.args...)
				switch {
				case err != nil:
					return c.d.mapErr(err, "create link")
				case check.err == nil && !ok:
					return notFound("user " + l.UserID)
				case check.err != nil && ok:
					return check.err
				}
			}
		}
		return errors.New("sqlstore: create link: a conflicting link came and went; try again")
	})
}

// Links returns the links of a user, ordered by source.
func (s *Store) Links(ctx context.Context, userID string) ([]identity.Link, error) {
	c := s.reader()
	rows, err := c.query(ctx, userLinks, s.tenant, userID)
	if err != nil {
		return nil, c.d.mapErr(err, "links")
	}
	defer rows.Close()
	var links []identity.Link
	for rows.Next() {
		var (
			l       identity.Link
			created int64
		)
		if err := rows.Scan(&l.Source, &l.Subject, &l.UserID, &created); err != nil {
			return nil, c.d.mapErr(err, "links")
		}
		l.Created = fromMicros(created)
		links = append(links, l)
	}
	if err := rows.Err(); err != nil {
		return nil, c.d.mapErr(err, "links")
	}
	return links, nil
}

// DeleteLink removes the link (source, subject), or returns
// identity.ErrNotFound.
func (s *Store) DeleteLink(ctx context.Context, source, subject string) error {
	return s.stmt(ctx, func(c conn) error {
		res, err := c.exec(ctx, deleteLink, s.tenant, source, subject)
		if err != nil {
			return c.d.mapErr(err, "delete link")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return c.d.mapErr(err, "delete link")
		}
		if n == 0 {
			return notFound("link")
		}
		return nil
	})
}

// CreateInvitation stores an invitation. It returns identity.ErrNotFound if
// the user does not exist, and a *identity.ConflictError (Resource
// "invitation", Field "hash") if an invitation has the hash already.
func (s *Store) CreateInvitation(ctx context.Context, inv identity.Invitation) error {
	created := stamp(inv.Created)
	hash := inv.Hash
	if hash == nil {
		hash = []byte{}
	}
	return s.stmt(ctx, func(c conn) error {
		res, err := c.exec(ctx, insertInvitation, hash, micros(inv.Expires), micros(created), s.tenant, inv.UserID)
		if err != nil {
			return c.d.mapErr(err, "create invitation")
		}
		n, err := res.RowsAffected()
		if err != nil || n == 1 {
			return c.d.mapErr(err, "create invitation")
		}
		ok, err := c.exists(ctx, userExists, s.tenant, inv.UserID)
		switch {
		case err != nil:
			return c.d.mapErr(err, "create invitation")
		case !ok:
			return notFound("user " + inv.UserID)
		}
		return &identity.ConflictError{Resource: "invitation", Field: "hash"}
	})
}

// TakeInvitation removes and returns the invitation with the hash, expired
// or not, or returns identity.ErrNotFound. One DELETE ... RETURNING: of two
// concurrent takers, one gets it.
func (s *Store) TakeInvitation(ctx context.Context, hash []byte) (identity.Invitation, error) {
	if hash == nil {
		hash = []byte{}
	}
	inv := identity.Invitation{Hash: bytes.Clone(hash)}
	err := s.stmt(ctx, func(c conn) error {
		var expires, created int64
		err := c.row(ctx, takeInvitation, s.tenant, hash).Scan(&inv.UserID, &expires, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("invitation")
		}
		if err != nil {
			return c.d.mapErr(err, "take invitation")
		}
		inv.Expires, inv.Created = fromMicros(expires), fromMicros(created)
		return nil
	})
	if err != nil {
		return identity.Invitation{}, err
	}
	return inv, nil
}

// DeleteInvitations removes every invitation of a user.
func (s *Store) DeleteInvitations(ctx context.Context, userID string) error {
	return s.stmt(ctx, func(c conn) error {
		_, err := c.exec(ctx, deleteInvitations, s.tenant, userID)
		return c.d.mapErr(err, "delete invitations")
	})
}
