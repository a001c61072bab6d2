package googlesync

import (
	"errors"
	"fmt"
	"time"
)

// Errors a sync returns, checked with errors.Is. A sync that returns one of
// them changed nothing.
var (
	// ErrBusy: a sync of this Syncer is already running.
	ErrBusy = errors.New("googlesync: a sync of this tenant is running")
	// ErrEmptyPull: the pull found no group, or no member in any group, and
	// the sync was not forced.
	ErrEmptyPull = errors.New("googlesync: the pull came back empty")
	// ErrThreshold: the sync would remove more than Config.MaxRemove of the
	// synced memberships or users and was not forced; a *ThresholdError says
	// how much.
	ErrThreshold = errors.New("googlesync: removal threshold exceeded")
	// ErrRefused: a member's type is set to Refuse.
	ErrRefused = errors.New("googlesync: member refused by policy")
)

// ThresholdError tells how much a refused sync would have removed. It matches
// ErrThreshold.
type ThresholdError struct {
	// What is "memberships" or "users".
	What string
	// Remove of Of would go; Limit is Config.MaxRemove.
	Remove, Of int
	Limit      float64
}

func (e *ThresholdError) Error() string {
	return fmt.Sprintf("googlesync: the sync would remove %d of %d %s, over the limit of %.0f%%; force it to apply",
		e.Remove, e.Of, e.What, e.Limit*100)
}

// Is makes errors.Is(err, ErrThreshold) true.
func (e *ThresholdError) Is(target error) bool { return target == ErrThreshold }

// Report tells what one sync did, or with DryRun what it would have done. A
// sync that fails returns the Report so far: the API calls and the pull's
// counts, and no changes.
type Report struct {
	Tenant string
	DryRun bool
	Forced bool
	Start  time.Time
	// Duration is the time the sync took, pull and apply; PullDuration the
	// pull's part.
	Duration, PullDuration time.Duration

	// Groups counts the Google groups synced; Users the Google users that
	// are members of one of them; Memberships the memberships received.
	Groups, Users, Memberships int

	GroupsCreated   int
	GroupsConverted int // internal (or other source's) groups that became Google's
	GroupsUpdated   int // renamed, or given a new Google ID
	GroupsEmptied   int // Google groups of the directory no longer received: members removed
	MembersAdded    int
	MembersRemoved  int
	UsersCreated    int
	UsersUpdated    int // profile or email changed, or restored
	UsersRestored   int
	// UsersDeactivated counts suspended users and, with DeactivateLeavers,
	// leavers.
	UsersDeactivated int

	// Skipped counts what the policies left out.
	Skipped Skipped

	// APICalls counts the requests sent to the Directory API, retries
	// included; Retries counts the retries alone.
	APICalls int
	Retries  int

	// Changes lists, on a dry run only, every change the sync would make:
	// the plan. A real sync's changes are the core's events.
	Changes []Change
}

// Change is one change of a dry run's plan.
type Change struct {
	// Action is one of the Group* and Member*, User* constants.
	Action string
	// Group is the group's name (for group and member changes); User the
	// user's email (for user and member changes).
	Group, User string
}

// Actions of a Change.
const (
	GroupCreate    = "group.create"
	GroupConvert   = "group.convert"
	GroupUpdate    = "group.update"
	MemberAdd      = "member.add"
	MemberRemove   = "member.remove"
	UserCreate     = "user.create"
	UserUpdate     = "user.update"
	UserRestore    = "user.restore"
	UserDeactivate = "user.deactivate"
)

// Skipped counts the members a sync left out, by reason.
type Skipped struct {
	Customer  int // CUSTOMER members (policy Skip)
	External  int // EXTERNAL members (policy Skip)
	Groups    int // GROUP members when Config.Nested is false
	Suspended int // suspended users' memberships
	Unknown   int // users the Users API no longer knows (deleted since)
	// Conflicts counts users whose email belongs to a user linked to another
	// Google ID, or to a user the source's policy does not let an email find
	// (identity.SourcePolicy.Email), or is not valid (they are skipped), and
	// users whose new email is taken (they keep the old one).
	Conflicts int
}
