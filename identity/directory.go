package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"time"

	"github.com/rollcall/rollcall/groups"
)

// Source names used by the packages of this module. SAML and OAuth sources are
// named per connection: "saml:<connection>", "oauth:<provider>".
const (
	SourceManual = "manual"
	SourceImport = "import"
	SourceSCIM   = groups.SourceSCIM
	SourceGoogle = groups.SourceGoogle
)

// EmailTrust tells when a source's email may find an existing user.
type EmailTrust int

const (
	// EmailNever: the source's email never finds an existing user.
	EmailNever EmailTrust = iota
	// EmailIfVerified: only an email the source marks verified (Claims or
	// User.EmailVerified) finds an existing user: OAuth, where the provider
	// says whether it checked the address.
	EmailIfVerified
	// EmailTrusted: the source's email finds an existing user: a configured
	// SAML IdP, SCIM, Google, file import.
	EmailTrusted
)

// SourcePolicy is what one source may do in a tenant.
type SourcePolicy struct {
	// Create lets the source create users it cannot resolve (just in time).
	Create bool
	// Email tells when the source's email finds an existing user.
	Email EmailTrust
	// Restore lets the source reactivate a deactivated user.
	Restore bool
	// Deactivate lets the source deactivate a user (Tx.Deactivate, or
	// Active set false by Tx.UpdateUser).
	Deactivate bool
	// Delete lets the source delete a user (Tx.DeleteUser).
	Delete bool
	// VerifiesEmail marks an email the source sets (on a user it creates, or
	// as a new address) verified: the source vouches that it reaches the
	// person. An IdP does; an admin typing an address or a file does not.
	VerifiesEmail bool
}

// DefaultPolicy returns the policy of a source that Config.Sources does not
// list: manual, import, scim and google may create, are trusted for email and
// may restore and deactivate, and scim and google verify the emails they
// set; manual and scim may delete; saml:* may create, is trusted for email
// and verifies it, but may not restore, deactivate or delete; oauth:* may
// create and finds existing users only by a verified email (Claims say
// which); any other source may do nothing but resolve users by link: it may
// not create, restore, deactivate or delete.
func DefaultPolicy(source Source) SourcePolicy {
	switch {
	case source == SourceManual:
		return SourcePolicy{Create: true, Email: EmailTrusted, Restore: true, Deactivate: true, Delete: true}
	case source == SourceImport:
		return SourcePolicy{Create: true, Email: EmailTrusted, Restore: true, Deactivate: true}
	case source == SourceSCIM:
		return SourcePolicy{Create: true, Email: EmailTrusted, Restore: true, Deactivate: true, Delete: true, VerifiesEmail: true}
	case source == SourceGoogle:
		return SourcePolicy{Create: true, Email: EmailTrusted, Restore: true, Deactivate: true, VerifiesEmail: true}
	case source.Kind() == "saml":
		return SourcePolicy{Create: true, Email: EmailTrusted, VerifiesEmail: true}
	case source.Kind() == "oauth":
		return SourcePolicy{Create: true, Email: EmailIfVerified}
	}
	return SourcePolicy{}
}

// Config configures the Directory of one tenant. The zero Config is usable:
// default policies, no group source, password login allowed.
type Config struct {
	// Tenant names the tenant in events and logs.
	Tenant string
	// Sources overrides the policy of a source by its name.
	Sources map[string]SourcePolicy
	// GroupSource is the one source that syncs external groups for the tenant
	// ("scim", "google", "saml:<connection>" or "oauth:<provider>"); empty
	// for none. Claims from
	// other sources leave groups alone.
	GroupSource string
	// GroupLimit caps the groups one claim may carry: more is an error and
	// nothing is applied. Zero means groups.DefaultLimit (100).
	GroupLimit int
	// InvitationTTL is how long an invitation stays valid. Zero means 7 days.
	InvitationTTL time.Duration
	// SSOOnly turns password login off for the tenant: invitations still
	// verify the email, but PasswordLogin reports false.
	SSOOnly bool
	// Clock tells the time; nil means the system clock.
	Clock Clock
	// Events receives the events of every committed change; nil discards.
	Events EventSink
	// Logger receives warnings; nil discards.
	Logger *slog.Logger
}

// Directory is the provisioning core of one tenant: every source makes its
// changes through it, so that identity resolution, group rules, validation and
// events are the same for all. It is safe for concurrent use and cheap to
// create, so a host may build one per request.
type Directory struct {
	store  Store
	cfg    Config
	clock  Clock
	logger *slog.Logger
}

// New returns the Directory of the tenant whose data store holds. It returns an
// error if the configuration is invalid.
func New(store Store, cfg Config) (*Directory, error) {
	if store == nil {
		return nil, errors.New("identity: nil Store")
	}
	if cfg.GroupSource != "" && !groups.ValidSource(cfg.GroupSource) {
		return nil, fmt.Errorf("identity: GroupSource %q: want %q, %q, \"saml:<connection>\" or \"oauth:<provider>\"", cfg.GroupSource, groups.SourceSCIM, groups.SourceGoogle)
	}
	if cfg.GroupLimit < 0 {
		return nil, fmt.Errorf("identity: negative GroupLimit %d", cfg.GroupLimit)
	}
	if cfg.GroupLimit == 0 {
		cfg.GroupLimit = groups.DefaultLimit
	}
	if cfg.InvitationTTL < 0 {
		return nil, fmt.Errorf("identity: negative InvitationTTL %s", cfg.InvitationTTL)
	}
	if cfg.InvitationTTL == 0 {
		cfg.InvitationTTL = 7 * 24 * time.Hour
	}
	d := &Directory{store: store, cfg: cfg, clock: cfg.Clock, logger: cfg.Logger}
	if d.clock == nil {
		d.clock = SystemClock
	}
	if d.logger == nil {
		d.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d.logger = d.logger.With("tenant", cfg.Tenant)
	return d, nil
}

// Tenant returns the tenant's name from the Config.
func (d *Directory) Tenant() string { return d.cfg.Tenant }

// GroupSource returns the tenant's group source, or "".
func (d *Directory) GroupSource() string { return d.cfg.GroupSource }

// PasswordLogin reports whether the tenant allows password login.
func (d *Directory) PasswordLogin() bool { return !d.cfg.SSOOnly }

// Policy returns the policy of a source.
func (d *Directory) Policy(source Source) SourcePolicy {
	if p, ok := d.cfg.Sources[string(source)]; ok {
		return p
	}
	return DefaultPolicy(source)
}

// Reader returns a read-only view of the tenant's data: changes go through
// Do. Under the context of a running Do (the one given to its function, or
// one made from it) it reads through that transaction, so it sees the
// transaction's own changes and never waits for the lock a store may hold
// for it (storage/memory does).
func (d *Directory) Reader() Reader { return dirReader{d} }

// Events returns up to limit events after the cursor, from the store's
// EventLog; under the context of a running Do, through its transaction. It
// returns errors.ErrUnsupported if the store keeps no log.
func (d *Directory) Events(ctx context.Context, after int64, limit int) ([]Event, error) {
	log, ok := d.reading(ctx).(EventLog)
	if !ok {
		return nil, fmt.Errorf("identity: the store keeps no event log: %w", errors.ErrUnsupported)
	}
	return log.Events(ctx, after, limit)
}

// Reader is the read side of a Store.
type Reader interface {
	User(ctx context.Context, id string) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)
	UserByUserName(ctx context.Context, name string) (User, error)
	UserByExternalID(ctx context.Context, externalID string) (User, error)
	UsersByEmail(ctx context.Context, email string) ([]User, error)
	UsersByExternalID(ctx context.Context, externalID string) ([]User, error)
	UserByLink(ctx context.Context, source, subject string) (User, error)
	ListUsers(ctx context.Context, q UserQuery) (UserPage, error)
	Links(ctx context.Context, userID string) ([]Link, error)
	Group(ctx context.Context, id string) (Group, error)
	GroupByName(ctx context.Context, name string) (Group, error)
	GroupByExternalID(ctx context.Context, externalID string) (Group, error)
	GroupsByExternalID(ctx context.Context, externalID string) ([]Group, error)
	ListGroups(ctx context.Context, q GroupQuery) (GroupPage, error)
	UserGroups(ctx context.Context, userID string) ([]Group, error)
}

var errDryRun = errors.New("identity: dry run")

// Do runs fn in one transaction on behalf of source: every change fn makes
// through tx is stored, with its events, when fn returns nil, and none when it
// returns an error, which Do returns. The events go to the Config's sink after
// the commit. fn may be called more than once (see Store.Tx), so it must not
// act outside tx.
//
// The context fn gets carries the transaction: the Directory's Reader reads
// through it, and a Do (or a method of the Directory) of the same store
// called under it runs inside it and commits with it; its error must end
// fn, as a store need not undo part of a transaction. A DryRun under it
// returns ErrInvalid.
func (d *Directory) Do(ctx context.Context, source Source, fn func(ctx context.Context, tx *Tx) error) error {
	return d.run(ctx, source, false, fn)
}

// DryRun runs fn as Do does, then undoes everything: fn sees the effect of its
// own changes, and nothing is stored or emitted.
func (d *Directory) DryRun(ctx context.Context, source Source, fn func(ctx context.Context, tx *Tx) error) error {
	return d.run(ctx, source, true, fn)
}

func (d *Directory) run(ctx context.Context, source Source, dry bool, fn func(ctx context.Context, tx *Tx) error) error {
	if source == "" {
		return fmt.Errorf("identity: empty source: %w", ErrInvalid)
	}
	if parent := d.running(ctx); parent != nil {
		return d.nested(ctx, parent, source, dry, fn)
	}
	var committed []Event
	err := d.store.Tx(ctx, func(ctx context.Context, s Store) error {
		tx := &Tx{d: d, store: s, source: source, name: string(source), actor: ActorFrom(ctx), policy: d.Policy(source)}
		ctx = context.WithValue(ctx, txKey{}, tx)
		if err := fn(ctx, tx); err != nil {
			return err
		}
		if dry {
			return errDryRun
		}
		events := tx.events.all()
		if log, ok := s.(EventLog); ok && len(events) > 0 {
			if err := log.AppendEvents(ctx, events); err != nil {
				return fmt.Errorf("identity: record events: %w", err)
			}
		}
		committed = events
		return nil
	})
	if dry && errors.Is(err, errDryRun) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.cfg.Events != nil && len(committed) > 0 {
		d.cfg.Events.Emit(ctx, committed)
	}
	return nil
}

// nested runs a Do called under the context of a running Do of the same
// store: in the running transaction (Store.Tx called on a transaction's
// Store), so that it neither waits for that transaction nor commits apart
// from it. Its events join the running transaction's, to be recorded and
// emitted with them. A store need not undo a nested part alone, so the
// error of a nested Do must end the running one; and a DryRun cannot nest.
func (d *Directory) nested(ctx context.Context, parent *Tx, source Source, dry bool, fn func(ctx context.Context, tx *Tx) error) error {
	if dry {
		return fmt.Errorf("identity: a dry run cannot run inside a running Do: %w", ErrInvalid)
	}
	err := parent.store.Tx(ctx, func(ctx context.Context, s Store) error {
		tx := &Tx{d: d, store: s, source: source, name: string(source), actor: ActorFrom(ctx), policy: d.Policy(source)}
		ctx = context.WithValue(ctx, txKey{}, tx)
		if err := fn(ctx, tx); err != nil {
			return err
		}
		for _, e := range tx.events.all() {
			parent.events.add(e)
		}
		return nil
	})
	// The groups the running transaction knows may have changed.
	parent.groups = nil
	return err
}

// txKey is the context key of the running transaction: its value is the
// *Tx that Do's function runs with.
type txKey struct{}

// running returns the transaction of the Directory's store that ctx runs
// under, or nil.
func (d *Directory) running(ctx context.Context) *Tx {
	tx, _ := ctx.Value(txKey{}).(*Tx)
	if tx == nil || !sameStore(tx.d.store, d.store) {
		return nil
	}
	return tx
}

// reading returns the store to read through under ctx: the running
// transaction's, else the Directory's.
func (d *Directory) reading(ctx context.Context) Store {
	if tx := d.running(ctx); tx != nil {
		return tx.store
	}
	return d.store
}

// sameStore reports whether a and b are one store. A host's Store of a type
// that cannot be compared is the same only as itself, which it cannot tell:
// such stores are never taken for one another.
func sameStore(a, b Store) bool {
	if a == nil || b == nil {
		return false
	}
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// dirReader is the read-only view Directory.Reader returns.
type dirReader struct{ d *Directory }

func (r dirReader) User(ctx context.Context, id string) (User, error) {
	return r.d.reading(ctx).User(ctx, id)
}
func (r dirReader) UserByEmail(ctx context.Context, email string) (User, error) {
	return r.d.reading(ctx).UserByEmail(ctx, email)
}
func (r dirReader) UserByUserName(ctx context.Context, name string) (User, error) {
	return r.d.reading(ctx).UserByUserName(ctx, name)
}
func (r dirReader) UserByExternalID(ctx context.Context, externalID string) (User, error) {
	return r.d.reading(ctx).UserByExternalID(ctx, externalID)
}
func (r dirReader) UsersByEmail(ctx context.Context, email string) ([]User, error) {
	return r.d.reading(ctx).UsersByEmail(ctx, email)
}
func (r dirReader) UsersByExternalID(ctx context.Context, externalID string) ([]User, error) {
	return r.d.reading(ctx).UsersByExternalID(ctx, externalID)
}
func (r dirReader) UserByLink(ctx context.Context, source, subject string) (User, error) {
	return r.d.reading(ctx).UserByLink(ctx, source, subject)
}
func (r dirReader) ListUsers(ctx context.Context, q UserQuery) (UserPage, error) {
	return ListUsers(ctx, r.d.reading(ctx), q)
}
func (r dirReader) Links(ctx context.Context, userID string) ([]Link, error) {
	return r.d.reading(ctx).Links(ctx, userID)
}
func (r dirReader) Group(ctx context.Context, id string) (Group, error) {
	return r.d.reading(ctx).Group(ctx, id)
}
func (r dirReader) GroupByName(ctx context.Context, name string) (Group, error) {
	return r.d.reading(ctx).GroupByName(ctx, name)
}
func (r dirReader) GroupByExternalID(ctx context.Context, externalID string) (Group, error) {
	return r.d.reading(ctx).GroupByExternalID(ctx, externalID)
}
func (r dirReader) GroupsByExternalID(ctx context.Context, externalID string) ([]Group, error) {
	return r.d.reading(ctx).GroupsByExternalID(ctx, externalID)
}
func (r dirReader) ListGroups(ctx context.Context, q GroupQuery) (GroupPage, error) {
	return r.d.reading(ctx).ListGroups(ctx, q)
}
func (r dirReader) UserGroups(ctx context.Context, userID string) ([]Group, error) {
	return r.d.reading(ctx).UserGroups(ctx, userID)
}

// readOnly is a Reader over a store that hides its writes: the embedded
// interface carries the Reader's methods only.
type readOnly struct{ Reader }

// Tx is one transaction of the core on behalf of one source. It is valid only
// inside the function given to Do or DryRun; pass its methods the context that
// function runs under. It is not safe for concurrent use.
type Tx struct {
	d      *Directory
	store  Store
	source Source
	name   string // source, as stored
	actor  string
	policy SourcePolicy
	events eventBuf
	groups map[string]Group // see managed
}

// eventBuf collects a transaction's events in chunks, so that a change of
// many rows (an import, a sync) never copies what it collected so far.
type eventBuf struct {
	chunks [][]Event
	n      int
}

const eventChunk = 256

func (b *eventBuf) add(e Event) {
	if len(b.chunks) == 0 || len(b.chunks[len(b.chunks)-1]) >= eventChunk {
		capacity := eventChunk
		if len(b.chunks) == 0 {
			capacity = 4 // most transactions record a few events
		}
		b.chunks = append(b.chunks, make([]Event, 0, capacity))
	}
	last := &b.chunks[len(b.chunks)-1]
	*last = append(*last, e)
	b.n++
}

// all returns the events in order, in one slice.
func (b *eventBuf) all() []Event {
	switch len(b.chunks) {
	case 0:
		return nil
	case 1:
		return b.chunks[0]
	}
	out := make([]Event, 0, b.n)
	for _, c := range b.chunks {
		out = append(out, c...)
	}
	return out
}

// Source returns the source the transaction acts for.
func (tx *Tx) Source() Source { return tx.source }

// Reader returns the transaction's read-only view of the data, which
// includes its own changes.
func (tx *Tx) Reader() Reader { return readOnly{storeReader{tx.store}} }

func (tx *Tx) now() time.Time { return tx.d.clock.Now().UTC() }

func (tx *Tx) emit(t EventType, userID, groupID string, fields ...string) {
	tx.events.add(Event{
		Type: t, Tenant: tx.d.cfg.Tenant, Source: tx.name, Actor: tx.actor,
		UserID: userID, GroupID: groupID, Fields: fields, Time: tx.now(),
	})
}

// Each method of Directory below runs one method of Tx in its own transaction.

// CreateUser runs Tx.CreateUser in its own transaction.
func (d *Directory) CreateUser(ctx context.Context, source Source, u User, opts CreateOptions) (created User, err error) {
	err = d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		created, err = tx.CreateUser(ctx, u, opts)
		return err
	})
	return created, err
}

// UpdateUser runs Tx.UpdateUser in its own transaction.
func (d *Directory) UpdateUser(ctx context.Context, source Source, id string, ifVersion int64, fn func(*User) error) (updated User, err error) {
	err = d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		updated, err = tx.UpdateUser(ctx, id, ifVersion, fn)
		return err
	})
	return updated, err
}

// Deactivate runs Tx.Deactivate in its own transaction.
func (d *Directory) Deactivate(ctx context.Context, source Source, id string) (u User, err error) {
	err = d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		u, err = tx.Deactivate(ctx, id)
		return err
	})
	return u, err
}

// Restore runs Tx.Restore in its own transaction.
func (d *Directory) Restore(ctx context.Context, source Source, id string) (u User, err error) {
	err = d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		u, err = tx.Restore(ctx, id)
		return err
	})
	return u, err
}

// DeleteUser runs Tx.DeleteUser in its own transaction.
func (d *Directory) DeleteUser(ctx context.Context, source Source, id string) error {
	return d.Do(ctx, source, func(ctx context.Context, tx *Tx) error { return tx.DeleteUser(ctx, id) })
}

// Upsert runs Tx.Upsert in its own transaction.
func (d *Directory) Upsert(ctx context.Context, source Source, u User, opts UpsertOptions) (got User, outcome Outcome, err error) {
	err = d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		got, outcome, err = tx.Upsert(ctx, u, opts)
		return err
	})
	return got, outcome, err
}

// SignIn runs Tx.SignIn in its own transaction.
func (d *Directory) SignIn(ctx context.Context, source Source, c Claims) (res SignInResult, err error) {
	err = d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		res, err = tx.SignIn(ctx, c)
		return err
	})
	return res, err
}

// Invite runs Tx.Invite in its own transaction.
func (d *Directory) Invite(ctx context.Context, source Source, userID string) (token string, expires time.Time, err error) {
	err = d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		token, expires, err = tx.Invite(ctx, userID)
		return err
	})
	return token, expires, err
}

// AcceptInvitation runs Tx.AcceptInvitation in its own transaction, on behalf
// of the manual source.
func (d *Directory) AcceptInvitation(ctx context.Context, token string) (u User, err error) {
	err = d.Do(ctx, Manual, func(ctx context.Context, tx *Tx) error {
		u, err = tx.AcceptInvitation(ctx, token)
		return err
	})
	return u, err
}

// SetUserGroups runs Tx.SetUserGroups in its own transaction.
func (d *Directory) SetUserGroups(ctx context.Context, source Source, userID string, claim groups.Claim) (plan groups.Plan, err error) {
	err = d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		plan, err = tx.SetUserGroups(ctx, userID, claim)
		return err
	})
	return plan, err
}

// CreateGroup runs Tx.CreateGroup in its own transaction.
func (d *Directory) CreateGroup(ctx context.Context, source Source, name, externalID string) (g Group, err error) {
	err = d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		g, err = tx.CreateGroup(ctx, name, externalID)
		return err
	})
	return g, err
}

// AddMember runs Tx.AddMember in its own transaction.
func (d *Directory) AddMember(ctx context.Context, source Source, groupID, userID string) (added bool, err error) {
	err = d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		added, err = tx.AddMember(ctx, groupID, userID)
		return err
	})
	return added, err
}

// RemoveMember runs Tx.RemoveMember in its own transaction.
func (d *Directory) RemoveMember(ctx context.Context, source Source, groupID, userID string) (removed bool, err error) {
	err = d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		removed, err = tx.RemoveMember(ctx, groupID, userID)
		return err
	})
	return removed, err
}
