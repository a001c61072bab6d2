package scim

import (
	"context"
	"errors"

	"github.com/rollcall/rollcall/identity"
)

// Attributes keys of a tombstone (Config.KeepDeleted): the mark, and the
// userName and externalId the user gave up.
const (
	attrDeleted           = "scim.deleted"
	attrDeletedUserName   = "scim.deleted.userName"
	attrDeletedExternalID = "scim.deleted.externalId"
)

// isDeleted reports whether u is a tombstone, which SCIM sees as gone.
func isDeleted(u identity.User) bool { return u.Attributes[attrDeleted] != "" }

// live returns what a lookup returned, with a tombstone turned into
// ErrNotFound.
func live(u identity.User, err error) (identity.User, error) {
	if err == nil && isDeleted(u) {
		return identity.User{}, identity.ErrNotFound
	}
	return u, err
}

// tombstone keeps a deleted user's record while SCIM sees it gone: it
// leaves the SCIM-managed groups, is deactivated, and gives up its userName
// and externalId so that both can be used again.
func tombstone(ctx context.Context, tx *identity.Tx, u identity.User) error {
	gs, err := scimGroups(ctx, tx.Reader(), u.ID)
	if err != nil {
		return err
	}
	for _, g := range gs {
		if _, err := tx.RemoveMember(ctx, g.ID, u.ID); err != nil {
			return err
		}
	}
	if u.Active {
		if _, err := tx.Deactivate(ctx, u.ID); err != nil {
			return err
		}
	}
	_, err = tx.UpdateUser(ctx, u.ID, 0, func(v *identity.User) error {
		if v.Attributes == nil {
			v.Attributes = map[string]string{}
		}
		v.Attributes[attrDeleted] = "true"
		v.Attributes[attrDeletedUserName] = v.UserName
		if v.ExternalID != "" {
			v.Attributes[attrDeletedExternalID] = v.ExternalID
		}
		v.UserName = "deleted-" + v.ID
		v.ExternalID = ""
		return nil
	})
	return err
}

// liveUser returns ErrNotFound for an id that is no user's or a tombstone's.
func liveUser(ctx context.Context, rd identity.Reader, id string) error {
	_, err := live(rd.User(ctx, id))
	if errors.Is(err, identity.ErrNotFound) {
		return identity.ErrNotFound
	}
	return err
}
