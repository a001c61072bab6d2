package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"time"
)

// CreateOptions tunes Tx.CreateUser.
type CreateOptions struct {
	// Subject, when set, links (source, Subject) to the new user.
	Subject string
	// Inactive creates the user deactivated.
	Inactive bool
}

// errNoChange makes a store's UpdateUser store nothing when fn changed nothing.
var errNoChange = errors.New("identity: no change")

// CreateUser creates a user on behalf of the transaction's source. The user is
// active unless opts.Inactive; u.ID, Active, Created, Updated and Version are
// set by the core and the store; the email is verified if u says so or the
// source's policy VerifiesEmail. It returns a *ValidationError for bad fields,
// ErrNotAllowed if the source may not create users, and a *ConflictError if the
// email, userName, externalID or link is taken.
func (tx *Tx) CreateUser(ctx context.Context, u User, opts CreateOptions) (User, error) {
	if !tx.policy.Create {
		return User{}, fmt.Errorf("identity: source %q may not create users: %w", tx.name, ErrNotAllowed)
	}
	return tx.createUser(ctx, u, opts)
}

func (tx *Tx) createUser(ctx context.Context, u User, opts CreateOptions) (User, error) {
	u = u.Clone()
	if err := normalizeUser(&u); err != nil {
		return User{}, err
	}
	now := tx.now()
	u.ID, u.Version = "", 0
	u.Active = !opts.Inactive
	if tx.policy.VerifiesEmail && u.Email != "" {
		u.EmailVerified = true
	}
	u.Created, u.Updated = now, now
	created, err := tx.store.CreateUser(ctx, u)
	if err != nil {
		return User{}, fmt.Errorf("identity: create user: %w", err)
	}
	if opts.Subject != "" {
		if err := tx.store.CreateLink(ctx, Link{Source: tx.name, Subject: opts.Subject, UserID: created.ID, Created: now}); err != nil {
			return User{}, fmt.Errorf("identity: link new user: %w", err)
		}
	}
	tx.emit(UserCreated, created.ID, "")
	return created, nil
}

// NewUser is one user for Tx.CreateUsers, with the options CreateUser would
// take for it.
type NewUser struct {
	User    User
	Options CreateOptions
}

// CreateUsers creates users as CreateUser creates each, all or none, through
// the store's bulk path; they are all created at the same time. It returns
// them in the order given and records a UserCreated event for each, in that
// order. It returns ErrNotAllowed if the source may not create users. For a
// user that cannot be created it returns that user's error in an *ItemError
// with its index in users: a *ValidationError for bad fields (every user is
// checked before any is stored), or a *ConflictError if its userName is
// taken, or its email is taken by an active user, whether stored or before
// it in the list, or if its subject is linked already or is the subject of a
// user before it (an externalID may repeat). Then nobody is created and no
// event recorded.
func (tx *Tx) CreateUsers(ctx context.Context, users []NewUser) ([]User, error) {
	if !tx.policy.Create {
		return nil, fmt.Errorf("identity: source %q may not create users: %w", tx.name, ErrNotAllowed)
	}
	if len(users) == 0 {
		return nil, nil
	}
	now := tx.now()
	batch := make([]User, len(users))
	var subjects map[string]struct{}
	for i, nu := range users {
		u := nu.User.Clone()
		if err := normalizeUser(&u); err != nil {
			return nil, fmt.Errorf("identity: create users: %w", &ItemError{Index: i, Err: err})
		}
		u.ID, u.Version = "", 0
		u.Active = !nu.Options.Inactive
		if tx.policy.VerifiesEmail && u.Email != "" {
			u.EmailVerified = true
		}
		u.Created, u.Updated = now, now
		batch[i] = u
		if subject := nu.Options.Subject; subject != "" {
			if subjects == nil {
				subjects = make(map[string]struct{})
			}
			if _, ok := subjects[subject]; ok {
				return nil, fmt.Errorf("identity: create users: %w",
					&ItemError{Index: i, Err: &ConflictError{Resource: "link", Field: "subject"}})
			}
			subjects[subject] = struct{}{}
		}
	}
	created, err := createUsers(ctx, tx.store, batch)
	if err != nil {
		return nil, fmt.Errorf("identity: create users: %w", err)
	}
	if len(created) != len(batch) {
		return nil, fmt.Errorf("identity: create users: the store returned %d users for %d", len(created), len(batch))
	}
	for i, nu := range users {
		if nu.Options.Subject == "" {
			continue
		}
		l := Link{Source: tx.name, Subject: nu.Options.Subject, UserID: created[i].ID, Created: now}
		if err := tx.store.CreateLink(ctx, l); err != nil {
			err = &ItemError{Index: i, Err: err}
			if uerr := tx.deleteCreated(ctx, created); uerr != nil {
				return nil, fmt.Errorf("identity: link new users: %w (and removing the users created failed: %v)", err, uerr)
			}
			return nil, fmt.Errorf("identity: link new users: %w", err)
		}
	}
	for _, u := range created {
		tx.emit(UserCreated, u.ID, "")
	}
	return created, nil
}

// deleteCreated removes the users CreateUsers created, with their links,
// when one of them cannot be linked.
func (tx *Tx) deleteCreated(ctx context.Context, users []User) error {
	for _, u := range users {
		if err := tx.store.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
	}
	return nil
}

// UpdateUser changes a user atomically: fn gets a copy of the stored user and
// changes it. ifVersion, when not zero, must equal the stored version (an
// If-Match ETag), else ErrVersionMismatch. A change that leaves the user as it
// was stores nothing and returns the user unchanged. A new Email is verified
// where the source's policy VerifiesEmail, else not, unless fn sets
// EmailVerified itself. Setting Active deactivates or restores the
// user, which needs a source whose policy allows it, else ErrNotAllowed.
// It returns ErrNotFound, a *ValidationError or a *ConflictError too.
func (tx *Tx) UpdateUser(ctx context.Context, id string, ifVersion int64, fn func(*User) error) (User, error) {
	var before User
	var changed []string
	now := tx.now()
	updated, err := tx.store.UpdateUser(ctx, id, func(u *User) error {
		if ifVersion != 0 && u.Version != ifVersion {
			return fmt.Errorf("identity: user %s is at version %d, not %d: %w", id, u.Version, ifVersion, ErrVersionMismatch)
		}
		before = u.Clone()
		if err := fn(u); err != nil {
			return err
		}
		if err := normalizeUser(u); err != nil {
			return err
		}
		if !before.Active && u.Active && !tx.policy.Restore {
			return fmt.Errorf("identity: source %q may not restore users: %w", tx.name, ErrNotAllowed)
		}
		if before.Active && !u.Active && !tx.policy.Deactivate {
			return fmt.Errorf("identity: source %q may not deactivate users: %w", tx.name, ErrNotAllowed)
		}
		emailRule(tx.policy, before, u)
		changed = changedFields(before, *u)
		if len(changed) == 0 {
			return errNoChange
		}
		u.Updated = now
		return nil
	})
	if errors.Is(err, errNoChange) {
		return before, nil
	}
	if err != nil {
		return User{}, fmt.Errorf("identity: update user: %w", err)
	}
	tx.emitUserChange(id, changed, updated.Active)
	return updated, nil
}

// emitUserChange records the events of a user update: user.deactivated or
// user.restored for a change of Active, user.updated for the other fields.
func (tx *Tx) emitUserChange(id string, changed []string, active bool) {
	fields := make([]string, 0, len(changed))
	activeChanged := false
	for _, f := range changed {
		if f == "active" {
			activeChanged = true
			continue
		}
		fields = append(fields, f)
	}
	if len(fields) > 0 {
		tx.emit(UserUpdated, id, "", fields...)
	}
	if activeChanged && active {
		tx.emit(UserRestored, id, "")
	} else if activeChanged {
		tx.emit(UserDeactivated, id, "")
	}
}

// Deactivate deactivates a user, who can then no longer sign in. Deactivating
// an inactive user changes nothing. It returns ErrNotAllowed if the source
// may not deactivate users, and ErrNotFound.
func (tx *Tx) Deactivate(ctx context.Context, id string) (User, error) {
	return tx.UpdateUser(ctx, id, 0, func(u *User) error { u.Active = false; return nil })
}

// Restore reactivates a user. It returns ErrNotAllowed if the source may not
// restore users, and ErrNotFound.
func (tx *Tx) Restore(ctx context.Context, id string) (User, error) {
	return tx.UpdateUser(ctx, id, 0, func(u *User) error { u.Active = true; return nil })
}

// DeleteUser removes a user with their links, memberships and invitations,
// and records a MemberRemoved event for each group the user leaves, then
// UserDeleted. It returns ErrNotAllowed if the source may not delete users,
// and ErrNotFound.
func (tx *Tx) DeleteUser(ctx context.Context, id string) error {
	if !tx.policy.Delete {
		return fmt.Errorf("identity: source %q may not delete users: %w", tx.name, ErrNotAllowed)
	}
	gs, err := tx.store.UserGroups(ctx, id)
	if err != nil {
		return fmt.Errorf("identity: delete user: %w", err)
	}
	if err := tx.store.DeleteUser(ctx, id); err != nil {
		return fmt.Errorf("identity: delete user: %w", err)
	}
	for _, g := range gs {
		tx.emit(MemberRemoved, id, g.ID)
	}
	tx.emit(UserDeleted, id, "")
	return nil
}

// Outcome tells what Upsert did.
type Outcome int

const (
	// Skipped: the user exists and nothing changed.
	Skipped Outcome = iota
	// Created: a new user.
	Created
	// Updated: the user exists and was changed (or restored).
	Updated
)

func (o Outcome) String() string {
	switch o {
	case Created:
		return "created"
	case Updated:
		return "updated"
	}
	return "skipped"
}

// UpsertOptions tunes Tx.Upsert.
type UpsertOptions struct {
	// Subject, when set, is the user's stable identifier at the source: it
	// finds the user first, and links them when they are found by email or
	// created.
	Subject string
	// Update overwrites an existing user's profile with u's; else an existing
	// user is left as it is.
	Update bool
	// Restore reactivates an existing deactivated user (when the source's
	// policy allows it).
	Restore bool
	// Inactive creates a user that is not found deactivated (a suspended
	// account, say); it does not change an existing user.
	Inactive bool
}

// Upsert creates or updates the user a provisioning source describes (Google,
// file import). The user is found by link (opts.Subject), then by email where
// the source is trusted for it; else created where the source may create.
// With opts.Update the found user's email, userName, names and externalID are
// overwritten by u's non-empty ones and u's attributes are merged (an empty
// value removes the key). It returns what it did, and the errors of CreateUser
// and UpdateUser.
func (tx *Tx) Upsert(ctx context.Context, u User, opts UpsertOptions) (User, Outcome, error) {
	u = u.Clone()
	if err := normalizeUser(&u); err != nil {
		return User{}, Skipped, err
	}
	found, linked, err := tx.resolve(ctx, opts.Subject, u.Email, u.EmailVerified)
	if errors.Is(err, ErrNotFound) {
		created, err := tx.CreateUser(ctx, u, CreateOptions{Subject: opts.Subject, Inactive: opts.Inactive})
		return created, Created, err
	}
	if err != nil {
		return User{}, Skipped, err
	}
	if opts.Subject != "" && !linked {
		if err := tx.link(ctx, found.ID, opts.Subject); err != nil {
			return User{}, Skipped, err
		}
	}
	updated, err := tx.UpdateUser(ctx, found.ID, 0, func(cur *User) error {
		if opts.Update {
			mergeProfile(cur, u, true)
		}
		tx.confirmEmail(cur, u.Email, u.EmailVerified)
		if opts.Restore && tx.policy.Restore {
			cur.Active = true
		}
		return nil
	})
	if err != nil {
		return User{}, Skipped, err
	}
	if updated.Version != found.Version {
		return updated, Updated, nil
	}
	return updated, Skipped, nil
}

// mergeProfile copies src's non-empty names and, when withKeys, its email,
// userName and externalID into dst, and merges src's attributes (an empty
// value removes the key).
func mergeProfile(dst *User, src User, withKeys bool) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	if withKeys {
		// A userName that only repeats the email follows the email.
		if src.UserName != src.Email || NormalizeUserName(dst.UserName) == NormalizeEmail(dst.Email) {
			set(&dst.UserName, src.UserName)
		}
		set(&dst.Email, src.Email)
		set(&dst.ExternalID, src.ExternalID)
	}
	set(&dst.GivenName, src.GivenName)
	set(&dst.FamilyName, src.FamilyName)
	set(&dst.DisplayName, src.DisplayName)
	if len(src.Attributes) > 0 && (dst.Attributes == nil || mergeChanges(dst.Attributes, src.Attributes)) {
		attrs := maps.Clone(dst.Attributes)
		if attrs == nil {
			attrs = make(map[string]string, len(src.Attributes))
		}
		for k, v := range src.Attributes {
			if v == "" {
				delete(attrs, k)
			} else {
				attrs[k] = v
			}
		}
		dst.Attributes = attrs
	}
}

// mergeChanges reports whether merging the attributes src into dst changes
// dst: a key src sets to another value, or removes (an empty value).
func mergeChanges(dst, src map[string]string) bool {
	for k, v := range src {
		if cur, ok := dst[k]; v == "" && ok || v != "" && cur != v {
			return true
		}
	}
	return false
}

// trusted reports whether the source's email finds existing users.
func (tx *Tx) trusted(verified bool) bool { return tx.policy.TrustsEmail(verified) }

// vouches reports whether the source vouches for an email it gives.
func (tx *Tx) vouches(verified bool) bool { return tx.policy.Vouches(verified) }

// confirmEmail is the one rule of a found user's email: where the source
// vouches for the email it gives and that is the user's, the user's email
// is verified. Sign-in, Upsert and a batch all apply it.
func confirmEmail(p SourcePolicy, cur *User, email string, verified bool) {
	if email != "" && p.Vouches(verified) && NormalizeEmail(cur.Email) == NormalizeEmail(email) {
		cur.EmailVerified = true
	}
}

func (tx *Tx) confirmEmail(cur *User, email string, verified bool) {
	confirmEmail(tx.policy, cur, email, verified)
}

// resolve finds the user of an identity at the transaction's source by
// Resolve. It reports whether the user was found by link, and returns
// ErrNotFound, or Resolve's *ConflictError.
func (tx *Tx) resolve(ctx context.Context, subject, email string, verified bool) (User, bool, error) {
	u, found, err := Resolve(ctx, storeReader{tx.store}, tx.source, tx.policy, subject, email, verified)
	if err != nil {
		return User{}, false, err
	}
	if found == FoundNone {
		return User{}, false, ErrNotFound
	}
	return u, found == FoundByLink, nil
}

func (tx *Tx) link(ctx context.Context, userID, subject string) error {
	err := tx.store.CreateLink(ctx, Link{Source: tx.name, Subject: subject, UserID: userID, Created: tx.now()})
	if err != nil {
		return fmt.Errorf("identity: link user: %w", err)
	}
	tx.emit(UserLinked, userID, "")
	return nil
}

// Invite creates an invitation for a user and returns its token, to hand to
// the user (in an email link, say), and its expiry. Only the token's SHA-256 is
// stored. It returns ErrNotFound, or ErrDeactivated for a deactivated user.
func (tx *Tx) Invite(ctx context.Context, userID string) (string, time.Time, error) {
	u, err := tx.store.User(ctx, userID)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("identity: invite: %w", err)
	}
	if !u.Active {
		return "", time.Time{}, fmt.Errorf("identity: invite: %w", ErrDeactivated)
	}
	if u.Email == "" {
		return "", time.Time{}, &ValidationError{Fields: []FieldError{{Field: "email", Message: "is required to invite a user"}}}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("identity: invite: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := tx.now()
	inv := Invitation{Hash: hashToken(token), UserID: userID, Expires: now.Add(tx.d.cfg.InvitationTTL), Created: now}
	if err := tx.store.CreateInvitation(ctx, inv); err != nil {
		return "", time.Time{}, fmt.Errorf("identity: invite: %w", err)
	}
	tx.emit(UserInvited, userID, "")
	return token, inv.Expires, nil
}

// hashToken is how an invitation token is kept: its SHA-256. The token carries
// 256 random bits, so the lookup by hash leaks nothing an attacker can use, and
// a stolen database holds no usable token.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// ErrInvitation is returned for an invitation token that is unknown, used or
// expired; it matches ErrNotFound, and says no more on purpose.
var ErrInvitation = fmt.Errorf("identity: invitation is unknown, used or expired: %w", ErrNotFound)

// AcceptInvitation uses an invitation: once only, before it expires. It marks
// the user's email verified, voids the user's other invitations and returns
// the user; the host then lets the user set a password if PasswordLogin
// allows. It returns ErrInvitation, or ErrDeactivated.
func (tx *Tx) AcceptInvitation(ctx context.Context, token string) (User, error) {
	if token == "" {
		return User{}, ErrInvitation
	}
	inv, err := tx.store.TakeInvitation(ctx, hashToken(token))
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrInvitation
	}
	if err != nil {
		return User{}, fmt.Errorf("identity: accept invitation: %w", err)
	}
	if !tx.now().Before(inv.Expires) {
		return User{}, ErrInvitation
	}
	u, err := tx.store.User(ctx, inv.UserID)
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrInvitation
	}
	if err != nil {
		return User{}, fmt.Errorf("identity: accept invitation: %w", err)
	}
	if !u.Active {
		return User{}, fmt.Errorf("identity: accept invitation: %w", ErrDeactivated)
	}
	if err := tx.store.DeleteInvitations(ctx, u.ID); err != nil {
		return User{}, fmt.Errorf("identity: accept invitation: %w", err)
	}
	return tx.UpdateUser(ctx, u.ID, 0, func(u *User) error { u.EmailVerified = true; return nil })
}
