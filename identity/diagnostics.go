package identity

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Attempt is one entry of a tenant's diagnostics log: a sign-in attempt
// (SAML, OAuth) or a SCIM request, kept so that the tenant's admin can find
// the attempt a user reports (by its reference, user or connection) and read
// why it failed. It never holds an assertion, a token, a code or a secret:
// only the fields below, which a source fills from what it verified.
type Attempt struct {
	// Seq is the entry's cursor, set by the log: greater than any before.
	Seq int64
	// Time is when the attempt was made.
	Time time.Time
	// Connection is the source it came through: "saml:entra",
	// "oauth:google", "scim".
	Connection string
	// Step is where in the protocol it ended: StepLogin, StepACS,
	// StepCallback, StepRequest.
	Step string
	// Outcome is OutcomeSuccess or OutcomeFailure.
	Outcome AttemptOutcome
	// Reason is the typed reason of a failure, as the source names it
	// ("signature", "audience", "expired", "in_response_to", "replay",
	// "domain_not_allowed", "email_unverified", "group_limit",
	// "group_overage", SCIM's "uniqueness", "invalidFilter"...); empty on
	// success.
	Reason string
	// Detail is a short explanation for the admin: the error's message,
	// cut to MaxAttemptDetail bytes.
	Detail string
	// Subject and Email say whom the attempt was for, when the source
	// verified them; UserID is the user signed in or refused, when known.
	Subject string
	Email   string
	UserID  string
	// Reference is the reference shown on the error page.
	Reference string
}

// AttemptOutcome is how an attempt ended.
type AttemptOutcome string

// The outcomes of an attempt.
const (
	OutcomeSuccess AttemptOutcome = "success"
	OutcomeFailure AttemptOutcome = "failure"
)

// The steps of an attempt.
const (
	StepLogin    = "login"    // the start of an SSO login, before the IdP
	StepACS      = "acs"      // SAML: the response posted to the ACS
	StepCallback = "callback" // OAuth: the provider's redirect back
	StepRequest  = "request"  // SCIM: one request
)

// Limits of an Attempt's fields: NormalizeAttempt cuts longer values.
const (
	MaxAttemptField  = 256  // Connection, Step, Reason, Email, UserID, Reference
	MaxAttemptDetail = 512  // Detail
	MaxAttemptSubj   = 1024 // Subject
)

// Bounds of a diagnostics log: entries older than the age or beyond the
// count, the oldest first, are pruned.
const (
	DefaultDiagnosticsMaxAge     = 7 * 24 * time.Hour
	DefaultDiagnosticsMaxEntries = 10_000
)

// MaxAttemptsPage is the most entries one Attempts call returns.
const MaxAttemptsPage = 1000

// AttemptLimit returns the page size of q: DefaultLimit for <= 0, at most
// MaxAttemptsPage.
func AttemptLimit(q AttemptQuery) int {
	switch {
	case q.Limit <= 0:
		return DefaultLimit
	case q.Limit > MaxAttemptsPage:
		return MaxAttemptsPage
	}
	return q.Limit
}

// AttemptQuery selects entries of a diagnostics log, newest first. The zero
// query returns the newest DefaultLimit entries.
type AttemptQuery struct {
	// Connection keeps the entries of one source ("saml:entra").
	Connection string
	// Outcome keeps the successes or the failures.
	Outcome AttemptOutcome
	// User keeps the entries whose UserID, Subject or Email (compared by
	// NormalizeEmail) equals it.
	User string
	// Reference keeps the entry shown with that reference.
	Reference string
	// Before pages: only entries with a Seq less than it; 0 means from the
	// newest.
	Before int64
	// Limit caps the entries returned; <= 0 means DefaultLimit, and more
	// than MaxAttemptsPage means MaxAttemptsPage.
	Limit int
}

// DiagnosticsLog is a tenant's log of attempts, opened per tenant like a
// KeyStore. It is bounded by PruneAttempts, which a host calls from its
// background sweep (see PruneDiagnostics). Writes are not part of the
// directory's transactions: a failed sign-in records its attempt too.
type DiagnosticsLog interface {
	// RecordAttempt appends a (see NormalizeAttempt) and returns it as
	// stored, with its Seq, and Time in UTC.
	RecordAttempt(ctx context.Context, a Attempt) (Attempt, error)
	// Attempts returns the entries q selects, newest first.
	Attempts(ctx context.Context, q AttemptQuery) ([]Attempt, error)
	// PruneAttempts deletes the entries whose Time is before before, then
	// the oldest entries beyond the newest keep (keep <= 0: no cap), and
	// returns how many it deleted.
	PruneAttempts(ctx context.Context, before time.Time, keep int) (int, error)
}

// An AttemptQueue is a DiagnosticsLog that can take an entry without its
// caller waiting for the write, for a source that records every request (a
// SCIM server) and whose client should not wait on the log. QueueAttempt
// returns at once; the log writes the entry soon after (the SQL store within
// a few milliseconds), in one commit with the entries queued meanwhile, and
// its own reads (Attempts, PruneAttempts) first wait, for a bounded time
// (the SQL store's: a second), for what is queued, so that an entry queued
// in a process is seen by the reads that follow in that process unless the
// store cannot write for that long. What is queued when the process ends without closing the log
// is lost. A log that cannot keep up, or is closed, records the entry before
// QueueAttempt returns, so what is queued stays bounded.
type AttemptQueue interface {
	DiagnosticsLog
	QueueAttempt(a Attempt)
}

// QueueAttempt records a in log: queued if log is an AttemptQueue, else by
// RecordAttempt, an error of which is returned. ctx is RecordAttempt's.
func QueueAttempt(ctx context.Context, log DiagnosticsLog, a Attempt) error {
	if q, ok := log.(AttemptQueue); ok {
		q.QueueAttempt(a)
		return nil
	}
	_, err := log.RecordAttempt(ctx, a)
	return err
}

// NormalizeAttempt returns a as a log stores it: Time in UTC (now if zero),
// each text field valid UTF-8 with no control character, and cut to its
// limit (MaxAttemptField, MaxAttemptDetail, MaxAttemptSubj) on a rune
// boundary. Every DiagnosticsLog applies it.
func NormalizeAttempt(a Attempt, now time.Time) Attempt {
	if a.Time.IsZero() {
		a.Time = now
	}
	a.Time = a.Time.UTC()
	for _, f := range []struct {
		s     *string
		limit int
	}{
		{&a.Connection, MaxAttemptField}, {&a.Step, MaxAttemptField}, {&a.Reason, MaxAttemptField},
		{&a.Email, MaxAttemptField}, {&a.UserID, MaxAttemptField}, {&a.Reference, MaxAttemptField},
		{(*string)(&a.Outcome), MaxAttemptField}, {&a.Detail, MaxAttemptDetail}, {&a.Subject, MaxAttemptSubj},
	} {
		*f.s = attemptText(*f.s, f.limit)
	}
	return a
}

// attemptText makes s valid UTF-8 without control characters, at most limit
// bytes.
func attemptText(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// MatchAttempt reports whether a is selected by q's filters (not its paging):
// for stores that filter in memory.
func MatchAttempt(a Attempt, q AttemptQuery) bool {
	switch {
	case q.Connection != "" && a.Connection != q.Connection,
		q.Outcome != "" && a.Outcome != q.Outcome,
		q.Reference != "" && a.Reference != q.Reference,
		q.Before > 0 && a.Seq >= q.Before:
		return false
	}
	if q.User != "" {
		return a.UserID == q.User || a.Subject == q.User ||
			a.Email != "" && NormalizeEmail(a.Email) == NormalizeEmail(q.User)
	}
	return true
}

// PruneDiagnostics applies the bounds to a log: entries older than maxAge
// (zero: DefaultDiagnosticsMaxAge) and beyond maxEntries (zero:
// DefaultDiagnosticsMaxEntries) are deleted. A host calls it from its
// background sweep, for each tenant.
func PruneDiagnostics(ctx context.Context, log DiagnosticsLog, clock Clock, maxAge time.Duration, maxEntries int) (int, error) {
	if maxAge <= 0 {
		maxAge = DefaultDiagnosticsMaxAge
	}
	if maxEntries <= 0 {
		maxEntries = DefaultDiagnosticsMaxEntries
	}
	if clock == nil {
		clock = SystemClock
	}
	return log.PruneAttempts(ctx, clock.Now().Add(-maxAge), maxEntries)
}

// LastAttempts returns the newest success and the newest failure of a
// connection in log (nil where there is none): its health as its sign-ins
// show it, as far back as the log keeps.
func LastAttempts(ctx context.Context, log DiagnosticsLog, connection string) (success, failure *Attempt, err error) {
	for _, o := range []struct {
		outcome AttemptOutcome
		dst     **Attempt
	}{{OutcomeSuccess, &success}, {OutcomeFailure, &failure}} {
		as, err := log.Attempts(ctx, AttemptQuery{Connection: connection, Outcome: o.outcome, Limit: 1})
		if err != nil {
			return nil, nil, err
		}
		if len(as) == 1 {
			*o.dst = &as[0]
		}
	}
	return success, failure, nil
}
