package identity

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// A batch source (Google sync, say) does not change the directory step by
// step: it hands the core a Batch, the state it wants, and the core plans
// the changes with PlanBatch (read-only, over a Reader), judges the plan
// with one Fuse, and applies it with Tx.ApplyBatch in one transaction.
// Directory.Reconcile does all three; its dry run is the plan.

// Batch is the desired state of a batch source: the users it lists, its
// groups with their members, and what a user it no longer lists means.
type Batch struct {
	// Users are the users the source lists, each resolved by the rules of
	// the core: by the link (source, Subject), then by email where the
	// source is trusted for it and while that user has no link from the
	// source, else created where the source may create.
	Users []BatchUser
	// Groups are the source's groups as the source has them now: external
	// groups of the tenant's group source. The source's groups of the
	// directory that are not listed are emptied. Groups need the source to
	// be the tenant's group source, else PlanBatch returns ErrNotAllowed.
	Groups []BatchGroup
	// Update overwrites a found user's email and names with the listed
	// user's non-empty ones and merges its attributes; else found users
	// keep their profile.
	Update bool
	// Restore reactivates the listed users who are deactivated, where the
	// source's policy allows it.
	Restore bool
	// DeactivateSuspended deactivates the users listed as Suspended.
	DeactivateSuspended bool
	// DeactivateLeavers deactivates the active users who were members of
	// the source's groups and are members of none of them now; a suspended
	// user is no leaver.
	DeactivateLeavers bool
	// SourceLabel names the source in the name a group that is no longer
	// listed takes when a listed group is renamed to its name: "<name>
	// (removed from <SourceLabel>)". Empty means the source's name.
	SourceLabel string
	// NamePrefix starts the names the core makes up for groups when no
	// other is free: "<NamePrefix>removed-<id>", "<NamePrefix>rename-<id>".
	// Empty means the source's name and "-".
	NamePrefix string
	// KeepEmails makes the listed email a key only: a found user keeps
	// their email and userName (a file import, whose email column finds
	// the user).
	KeepEmails bool
	// DeactivateMissing deactivates the active users the batch does not
	// name: a user is named by a listed user's email (a listed user with
	// Err included), by being found, or by their userName where a listed
	// email is no user's email. A user without an email is never missing:
	// no listed email names them. Protect, if set, keeps the users it
	// reports. The fuse counts every active user as synced.
	DeactivateMissing bool
	Protect           func(ctx context.Context, r Reader, u User) bool
	// SkipRefused lets Tx.ApplyBatch go on past a user the core refuses
	// when the plan is applied (a conflict with a write the plan could not
	// see): the step becomes a UserRefuse with the error, the user joins
	// no group, and the batch goes on. Else ApplyBatch returns the error.
	SkipRefused bool
	// Progress, if set, is told how many of the plan's users ApplyBatch
	// has carried out, of how many.
	Progress func(done, total int)
}

// BatchUser is one user a batch source lists.
type BatchUser struct {
	// Subject is the user's stable identifier at the source: BatchGroup
	// names members by it, and the user is linked to it. Required.
	Subject string
	// User holds the email, names and attributes the source has for the
	// user. Empty names leave the stored ones alone; EmailVerified says
	// whether the source checked the email (see SourcePolicy.Email).
	User User
	// Inactive creates a user the directory does not know deactivated.
	Inactive bool
	// Suspended is a user the source keeps but has suspended: found by
	// link only, never created or changed, no member of any group, and
	// deactivated with Batch.DeactivateSuspended.
	Suspended bool
	// Err refuses the user before any rule: the source found its entry
	// wrong (a bad row of a file). The user is a UserRefuse step with Err,
	// and its email still names a user for Batch.DeactivateMissing.
	Err error
	// Clear names the fields ("givenName", "familyName", "displayName")
	// whose empty value clears the stored one with Batch.Update; other
	// empty names leave the stored ones. An attribute of User.Attributes
	// with an empty value is removed.
	Clear []string
	// SetGroups says that Groups are all the groups the user is to be in
	// among those the source may manage (MayManage): a created user joins
	// them; with Batch.Update a found user joins those they are not in and
	// leaves the others the source may manage. A group named that does
	// not exist is created as an internal group; one the source may not
	// manage refuses the user (a *PolicyError). Without Batch.Update a
	// found user's groups stay.
	SetGroups bool
	Groups    []string
}

// BatchGroup is one group of a batch source.
type BatchGroup struct {
	// ExternalID is the group's stable identifier at the source. Required.
	ExternalID string
	// Name is the group's name at the source. The group that holds a name
	// keeps it: a group whose Name is empty, or held by another group of
	// the batch, takes AltName instead (for Google, its email, which no two
	// groups share).
	Name, AltName string
	// Members are the Subjects of the group's members; a subject the
	// batch does not list, or lists as Suspended, is left out.
	Members []string
}

// UserAction is what a plan does to one listed user.
type UserAction int

const (
	// UserKeep: the user exists and nothing changes (a link may be added).
	UserKeep UserAction = iota
	// UserCreate: a new user.
	UserCreate
	// UserUpdate: the user exists and changes (or is restored).
	UserUpdate
	// UserRefuse: the user cannot be resolved or changed; Err says why.
	UserRefuse
)

// UserStep is the plan of one listed user.
type UserStep struct {
	Subject string
	Action  UserAction
	// Current is the user found (zero for UserCreate and some refusals);
	// Want the user as the plan leaves them (without ID for UserCreate).
	Current, Want User
	// Link links the found user to Subject: found by email.
	Link bool
	// Restore is set when the plan reactivates the user.
	Restore bool
	// KeepEmail is set when the listed email is taken by another user or
	// is not valid: the stored email stays.
	KeepEmail bool
	// Err is why a UserRefuse step is refused: a *ConflictError, a
	// *ValidationError or ErrNotAllowed.
	Err error
	// Inactive creates the user deactivated.
	Inactive bool
	// Index is the user's place in Batch.Users.
	Index int
	// Join names the groups (as the batch gives them; see
	// BatchPlan.Named) the user joins, Leave the groups they leave: the
	// plan of BatchUser.SetGroups.
	Join  []string
	Leave []Group
}

// Changes reports whether the step changes anything: the user, or their
// groups.
func (st UserStep) Changes() bool {
	return st.Action == UserCreate || st.Action == UserUpdate || st.Action == UserKeep && len(st.Join)+len(st.Leave) > 0
}

// GroupAction is what a plan does to one group's record.
type GroupAction int

const (
	// GroupKeep: the group exists under its name and ExternalID.
	GroupKeep GroupAction = iota
	// GroupCreate: a new external group.
	GroupCreate
	// GroupConvert: a group of the name that is not the source's (an
	// internal one) becomes the source's.
	GroupConvert
	// GroupRename: the source's group is renamed, or takes a new
	// ExternalID (re-created at the source).
	GroupRename
	// GroupRemoved: the source's group is no longer listed: it is emptied,
	// and renamed when a listed group takes its name (NewName).
	GroupRemoved
)

// GroupStep is the plan of one group.
type GroupStep struct {
	Action GroupAction
	// ExternalID and Name are the group's at the source (Name as the plan
	// gives it); Current is the directory's group (zero for GroupCreate).
	ExternalID, Name string
	Current          Group
	// NewName is the name a removed group gives up its name for.
	NewName string
	// Members are the group's members in the directory now, by ID.
	Members []string
	// Remove lists the members (IDs) that leave; Add the subjects of the
	// listed users who join, in the source's order.
	Remove, Add []string
}

// BatchPlan is what a batch changes, computed from a Batch and the
// directory before anything is written: a dry run's answer, and what
// Tx.ApplyBatch carries out.
type BatchPlan struct {
	Source Source
	Users  []UserStep
	Groups []GroupStep
	// Named are the groups the users' BatchUser.Groups name and some user
	// joins: GroupCreate (an internal group) or GroupKeep, Name as the
	// batch first gives it. Their members join by UserStep.Join.
	Named []GroupStep
	// Deactivate lists the users the plan deactivates (suspended users,
	// leavers and missing users), by ID, sorted.
	Deactivate []User
	// The fuse's figures: the memberships of the source's groups now and
	// how many of them go; the users the source syncs (members of its
	// groups now, and the known suspended users).
	Memberships, Removals, Synced int
	// Empty is set when the batch lists no user and no group member.
	Empty bool
	// Emails holds the email of every user the plan names by ID: the
	// members of the groups, the found users.
	Emails map[string]string

	batch  Batch
	policy SourcePolicy
}

// Fuse is the one safety check of every batch source's plan: a plan that
// would deactivate or remove more than the limits allow, or an empty batch,
// is refused before anything is written.
type Fuse struct {
	// MaxDeactivate is the largest share of Synced users a plan may
	// deactivate, MaxRemove the largest share of the memberships it may
	// remove; 1 or more turns the check off, and 0 refuses any.
	MaxDeactivate, MaxRemove float64
	// AllowEmpty lets an empty batch through: it would empty every group
	// of the source.
	AllowEmpty bool
}

// ErrFuse is matched by the *FuseError of a plan the Fuse refuses.
var ErrFuse = errors.New("identity: the safety fuse refused the plan")

// ErrEmptyBatch is returned for an empty batch the Fuse does not allow.
var ErrEmptyBatch = fmt.Errorf("identity: the batch is empty: %w", ErrFuse)

// FuseError tells how much a refused plan would have changed. It matches
// ErrFuse.
type FuseError struct {
	// What is "memberships" or "users".
	What string
	// Remove of Of would go; Limit is the Fuse's.
	Remove, Of int
	Limit      float64
}

func (e *FuseError) Error() string {
	return fmt.Sprintf("identity: the plan would remove %d of %d %s, over the limit of %.0f%%", e.Remove, e.Of, e.What, e.Limit*100)
}

// Is makes errors.Is(err, ErrFuse) true.
func (e *FuseError) Is(target error) bool { return target == ErrFuse }

// Check judges the plan: it returns ErrEmptyBatch or a *FuseError, or nil.
func (p *BatchPlan) Check(f Fuse) error {
	if p.Empty && !f.AllowEmpty {
		return ErrEmptyBatch
	}
	return f.Judge(len(p.Deactivate), p.Synced, p.Removals, p.Memberships)
}

// Judge judges figures of a change as Check judges a plan's: deactivate of
// synced users, removals of memberships. It returns a *FuseError (the
// memberships first), or nil. A source that plans on its own terms (a file
// import) judges its figures with it, so that one fuse judges every batch.
func (f Fuse) Judge(deactivate, synced, removals, memberships int) error {
	if over(removals, memberships, f.MaxRemove) {
		return &FuseError{What: "memberships", Remove: removals, Of: memberships, Limit: f.MaxRemove}
	}
	if over(deactivate, synced, f.MaxDeactivate) {
		return &FuseError{What: "users", Remove: deactivate, Of: synced, Limit: f.MaxDeactivate}
	}
	return nil
}

// over reports whether n of of is more than the share limit allows.
func over(n, of int, limit float64) bool {
	return limit < 1 && n > 0 && float64(n) > limit*float64(of)
}

// BatchCounts counts what a batch did, or with a dry run would do.
type BatchCounts struct {
	UsersCreated, UsersUpdated, UsersRestored, UsersDeactivated  int
	UsersRefused                                                 int
	GroupsCreated, GroupsConverted, GroupsUpdated, GroupsEmptied int
	MembersAdded, MembersRemoved                                 int
}

// Counts counts the plan's changes: what applying it does.
func (p *BatchPlan) Counts() BatchCounts {
	var c BatchCounts
	for k := range p.Users {
		st := &p.Users[k]
		switch st.Action {
		case UserCreate:
			c.UsersCreated++
		case UserUpdate:
			c.UsersUpdated++
			if st.Restore {
				c.UsersRestored++
			}
		case UserRefuse:
			c.UsersRefused++
			continue
		}
		c.MembersAdded += len(st.Join)
		c.MembersRemoved += len(st.Leave)
	}
	for _, g := range p.Named {
		if g.Action == GroupCreate {
			c.GroupsCreated++
		}
	}
	for _, g := range p.Groups {
		switch g.Action {
		case GroupCreate:
			c.GroupsCreated++
		case GroupConvert:
			c.GroupsConverted++
		case GroupRename:
			c.GroupsUpdated++
		case GroupRemoved:
			if g.NewName != "" {
				c.GroupsUpdated++
			}
			if len(g.Remove) > 0 {
				c.GroupsEmptied++
			}
		}
		c.MembersAdded += len(g.Add)
		c.MembersRemoved += len(g.Remove)
	}
	c.UsersDeactivated = len(p.Deactivate)
	return c
}

// CountEvents counts what a batch did from the events of the transaction
// that applied plan: users created, updated (or restored), restored and
// deactivated; groups created, converted and updated; memberships added and
// removed; and the plan's removed groups that lost members.
func CountEvents(events []Event, plan *BatchPlan) BatchCounts {
	ec := newEventCounter(plan)
	for i := range events {
		ec.add(&events[i])
	}
	return ec.counts(plan)
}

// eventCounter counts the events of a batch's transaction one by one.
type eventCounter struct {
	c                                  BatchCounts
	updated, renamed, emptied, removed map[string]bool
}

func newEventCounter(plan *BatchPlan) *eventCounter {
	ec := &eventCounter{updated: make(map[string]bool), renamed: make(map[string]bool), emptied: make(map[string]bool), removed: make(map[string]bool)}
	for _, g := range plan.Groups {
		if g.Action == GroupRemoved {
			ec.removed[g.Current.ID] = true
		}
	}
	return ec
}

func (ec *eventCounter) add(e *Event) {
	c := &ec.c
	switch e.Type {
	case UserCreated:
		c.UsersCreated++
	case UserUpdated:
		ec.updated[e.UserID] = true
	case UserRestored:
		ec.updated[e.UserID] = true
		c.UsersRestored++
	case UserDeactivated:
		c.UsersDeactivated++
	case GroupCreated:
		c.GroupsCreated++
	case GroupConverted:
		c.GroupsConverted++
	case GroupUpdated:
		ec.renamed[e.GroupID] = true
	case MemberAdded:
		c.MembersAdded++
	case MemberRemoved:
		c.MembersRemoved++
		if ec.removed[e.GroupID] {
			ec.emptied[e.GroupID] = true
		}
	}
}

func (ec *eventCounter) counts(plan *BatchPlan) BatchCounts {
	c := ec.c
	c.UsersUpdated, c.GroupsUpdated, c.GroupsEmptied = len(ec.updated), len(ec.renamed), len(ec.emptied)
	for k := range plan.Users {
		st := &plan.Users[k]
		if st.Action == UserRefuse {
			c.UsersRefused++
		}
	}
	return c
}

// countTx counts what the transaction did, as CountEvents, without
// copying its events.
func countTx(tx *Tx, plan *BatchPlan) BatchCounts {
	ec := newEventCounter(plan)
	for _, chunk := range tx.events.chunks {
		for i := range chunk {
			ec.add(&chunk[i])
		}
	}
	return ec.counts(plan)
}

// ReconcileOptions tunes Directory.Reconcile.
type ReconcileOptions struct {
	// Fuse judges the plan before anything is written.
	Fuse Fuse
	// DryRun returns the plan and writes nothing.
	DryRun bool
}

// Reconcile brings the directory to the state a batch source wants, on
// behalf of source: it plans the batch (PlanBatch), judges the plan with
// opts.Fuse and applies it in one transaction (Tx.ApplyBatch). It returns
// the plan and what was done, counted from the transaction's events. With
// opts.DryRun the plan is made through the Directory's Reader, nothing is
// written, and the counts are the plan's. It returns the errors of
// PlanBatch, Check and ApplyBatch.
func (d *Directory) Reconcile(ctx context.Context, source Source, b Batch, opts ReconcileOptions) (*BatchPlan, BatchCounts, error) {
	if opts.DryRun {
		plan, err := d.PlanBatch(ctx, d.Reader(), source, b)
		if err != nil {
			return nil, BatchCounts{}, err
		}
		if err := plan.Check(opts.Fuse); err != nil {
			return plan, BatchCounts{}, err
		}
		return plan, plan.Counts(), nil
	}
	var plan *BatchPlan
	var counts BatchCounts
	err := d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		var err error
		if plan, err = d.PlanBatch(ctx, tx.Reader(), source, b); err != nil {
			return err
		}
		if err := plan.Check(opts.Fuse); err != nil {
			return err
		}
		if err := tx.ApplyBatch(ctx, plan); err != nil {
			return err
		}
		counts = countTx(tx, plan)
		return nil
	})
	if err != nil {
		return plan, BatchCounts{}, err
	}
	return plan, counts, nil
}

// Events returns the events the transaction has recorded so far, in order:
// what it changed.
func (tx *Tx) Events() []Event { return slices.Clone(tx.events.all()) }

// PlanBatch plans a batch of source over r, which it only reads: the
// Directory's Reader for a dry run, a transaction's for the plan that
// transaction applies. Each listed user is resolved by the rules of the
// core (a user that cannot be is a UserRefuse step, not an error); groups
// are matched by ExternalID, then by name (converting a group that is not
// the source's), and the group that holds a name keeps it. It returns
// ErrNotAllowed when the batch has groups and source is not the tenant's
// group source, an *ItemError (its Index in Batch.Groups, wrapping a
// *ConflictError) for a listed group whose ExternalID an earlier listed
// group has too or two of the source's groups have, and the Reader's
// errors. Only the source's groups are matched by ExternalID.
// The plan may share the attribute maps of b's users (a UserStep's Want)
// and of the users it read (Current): PlanBatch and Tx.ApplyBatch never
// change them, and a caller that changes one should copy it first.
func (d *Directory) PlanBatch(ctx context.Context, r Reader, source Source, b Batch) (*BatchPlan, error) {
	if len(b.Groups) > 0 && string(source) != d.cfg.GroupSource {
		return nil, fmt.Errorf("identity: %q is not the tenant's group source (%q): %w", source, d.cfg.GroupSource, ErrNotAllowed)
	}
	r, err := indexUsers(ctx, r, b)
	if err != nil {
		return nil, err
	}
	pl := &batchPlanner{
		BatchPlan: &BatchPlan{Source: source, batch: b, policy: d.Policy(source), Emails: make(map[string]string),
			Users: make([]UserStep, 0, len(b.Users))},
		r: r, local: make(map[string]string), suspended: make(map[string]bool),
		deactivate: make(map[string]User), claims: make(map[string]claim, len(b.Users)),
		groupSource: d.cfg.GroupSource,
	}
	if b.SourceLabel == "" {
		pl.batch.SourceLabel = string(source)
	}
	if b.NamePrefix == "" {
		pl.batch.NamePrefix = string(source) + "-"
	}
	if string(source) == d.cfg.GroupSource {
		pl.known = make(map[string]User) // for planGroups
	}
	if err := pl.planUsers(ctx); err != nil {
		return nil, err
	}
	if string(source) == d.cfg.GroupSource {
		if err := pl.planGroups(ctx); err != nil {
			return nil, err
		}
	}
	if err := pl.planUserGroups(ctx); err != nil {
		return nil, err
	}
	if err := pl.planMissing(ctx); err != nil {
		return nil, err
	}
	pl.Empty = len(b.Users) == 0 && !slices.ContainsFunc(b.Groups, func(g BatchGroup) bool { return len(g.Members) > 0 })
	ids := slices.Sorted(maps.Keys(pl.deactivate))
	for _, id := range ids {
		pl.Deactivate = append(pl.Deactivate, pl.deactivate[id])
	}
	return pl.BatchPlan, nil
}

// batchPlanner holds what PlanBatch works out on the way.
type batchPlanner struct {
	*BatchPlan
	r Reader
	// local maps the subject of a found user to their ID.
	local map[string]string
	// suspended holds the IDs of the known suspended users; suspendedKnown
	// counts those the fuse counts as synced.
	suspended      map[string]bool
	suspendedKnown []string
	deactivate     map[string]User
	// claims maps the emails and userNames the plan gives (to created
	// users, or as new emails), normalised, to the listed users that take
	// them.
	claims map[string]claim
	// linked holds the users found by link, by subject; known every user
	// the plan has read, by ID, where it plans the source's groups (else
	// nil).
	linked map[string]User
	known  map[string]User
	// groupSource is the tenant's group source.
	groupSource string
}
