package sqlstore

import (
	"cmp"
	"context"
	"slices"

	"github.com/rollcall/rollcall/identity"
)

// EmailCollision is a user whose email, in the canonical form of
// identity.NormalizeEmail, is the email of another active user, found when
// the database was migrated to that form (schema version 3): two users who
// were apart under the old comparison (trimmed and lower-cased only) and are
// one mailbox under the new one ("j@müller.de" and "j@xn--mller-kva.de",
// "ＡＤＡ@example.com" and "ada@example.com").
//
// The migration does not fail on them. HolderID keeps the address; UserID
// keeps being found by its old key until the collision is resolved: its email
// changed, or it or the holder deactivated or deleted. Until then a change to
// UserID that leaves both active is refused as a conflict on "email".
type EmailCollision struct {
	UserID   string
	HolderID string
	// EmailKey is the canonical form both addresses share.
	EmailKey string
	// Found is when the migration found it.
	Found int64
}

// EmailCollisions returns the tenant's email collisions that are not yet
// resolved, ordered by UserID. See EmailCollision.
func (s *Store) EmailCollisions(ctx context.Context) ([]EmailCollision, error) {
	var out []EmailCollision
	err := s.snapshot(ctx, func(c conn) error {
		out = nil
		rows, err := c.query(ctx, "SELECT x.user_id, x.holder_id, x.email_key, x.found, u.email, u.email_key, u.active "+
			"FROM rollcall_email_collisions x JOIN rollcall_users u ON u.tenant = x.tenant AND u.id = x.user_id "+
			"WHERE x.tenant = ? ORDER BY x.user_id", s.tenant)
		if err != nil {
			return c.d.mapErr(err, "email collisions")
		}
		defer rows.Close()
		for rows.Next() {
			var (
				x          EmailCollision
				email, key string
				active     bool
			)
			if err := rows.Scan(&x.UserID, &x.HolderID, &x.EmailKey, &x.Found, &email, &key, &active); err != nil {
				return c.d.mapErr(err, "email collisions")
			}
			// A change of the user stores its canonical key: resolved.
			if active && key != identity.NormalizeEmail(email) {
				out = append(out, x)
			}
		}
		return c.d.mapErr(rows.Err(), "email collisions")
	})
	return out, err
}

// emailRow is one user as canonicalEmails reads it.
type emailRow struct {
	tenant, id, email, oldKey, newKey string
	active                            bool
}

// canonicalEmails is the Go step of the migration to canonical email keys:
// it sets every user's email_key to identity.NormalizeEmail of the email,
// except where active users would then share a key. Of those, the user whose
// key it was already, else the one with the smallest ID, takes it; the
// others keep their old key and are recorded in rollcall_email_collisions.
func canonicalEmails(ctx context.Context, db *DB, c conn) error {
	rows, err := c.q.QueryContext(ctx, "SELECT tenant, id, email, email_key, active FROM rollcall_users WHERE email <> '' ORDER BY tenant, id")
	if err != nil {
		return err
	}
	var users []emailRow
	for rows.Next() {
		var r emailRow
		if err := rows.Scan(&r.tenant, &r.id, &r.email, &r.oldKey, &r.active); err != nil {
			rows.Close()
			return err
		}
		r.newKey = identity.NormalizeEmail(r.email)
		users = append(users, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	collisions := keepApart(users)
	update := c.d.rebind("UPDATE rollcall_users SET email_key = ? WHERE tenant = ? AND id = ?")
	for _, r := range users {
		if r.newKey == r.oldKey {
			continue
		}
		if _, err := c.q.ExecContext(ctx, update, r.newKey, r.tenant, r.id); err != nil {
			return err
		}
	}
	insert := c.d.rebind("INSERT INTO rollcall_email_collisions (tenant, user_id, holder_id, email_key, found) VALUES (?, ?, ?, ?, ?)")
	now := db.now().UnixMicro()
	for _, x := range collisions {
		if _, err := c.q.ExecContext(ctx, insert, x.tenant, x.UserID, x.HolderID, x.EmailKey, now); err != nil {
			return err
		}
		db.log.WarnContext(ctx, "sqlstore: two active users share an email in its canonical form; kept apart until resolved",
			"tenant", x.tenant, "user", x.UserID, "holder", x.HolderID)
	}
	return nil
}

// tenantCollision is an EmailCollision with its tenant.
type tenantCollision struct {
	tenant string
	EmailCollision
}

// keepApart sets newKey back to oldKey for every active user whose new key
// another active user of its tenant takes, and returns those users.
func keepApart(users []emailRow) []tenantCollision {
	type key struct{ tenant, email string }
	sets := make(map[key][]int)
	for i, r := range users {
		if r.active && r.newKey != "" {
			k := key{r.tenant, r.newKey}
			sets[k] = append(sets[k], i)
		}
	}
	var out []tenantCollision
	for k, set := range sets {
		if len(set) < 2 {
			continue
		}
		holder := set[0] // the smallest ID: users are in ID order
		for _, i := range set {
			if users[i].oldKey == k.email {
				holder = i
				break
			}
		}
		for _, i := range set {
			if i == holder {
				continue
			}
			users[i].newKey = users[i].oldKey
			if _, taken := sets[key{k.tenant, users[i].oldKey}]; taken {
				// The old key is another user's canonical key (it cannot
				// be, NormalizeEmail being idempotent, but never two).
				users[i].newKey = ""
			}
			out = append(out, tenantCollision{k.tenant, EmailCollision{
				UserID: users[i].id, HolderID: users[holder].id, EmailKey: k.email,
			}})
		}
	}
	slices.SortFunc(out, func(a, b tenantCollision) int {
		return cmp.Or(cmp.Compare(a.tenant, b.tenant), cmp.Compare(a.UserID, b.UserID))
	})
	return out
}
