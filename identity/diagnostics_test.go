package identity_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// FuzzNormalizeAttempt: whatever a source puts in an attempt (an IdP's
// NameID, a provider's error description), the stored fields are valid
// UTF-8, free of control characters and within their limits, and short
// clean values are kept as they are. Run:
// go test -run '^$' -fuzz FuzzNormalizeAttempt ./identity/
func FuzzNormalizeAttempt(f *testing.F) {
	f.Add("saml:entra", "detail\nwith\x00controls", "subj\xff", "Ann@Example.com")
	f.Add("oauth:g", strings.Repeat("é", 600), strings.Repeat("x", 2000), "")
	f.Fuzz(func(t *testing.T, conn, detail, subject, email string) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
		a := identity.NormalizeAttempt(identity.Attempt{Connection: conn, Detail: detail, Subject: subject, Email: email}, now)
		for _, f := range []struct {
			in, out string
			limit   int
		}{
			{conn, a.Connection, identity.MaxAttemptField}, {detail, a.Detail, identity.MaxAttemptDetail},
			{subject, a.Subject, identity.MaxAttemptSubj}, {email, a.Email, identity.MaxAttemptField},
		} {
			if len(f.out) > f.limit || !utf8.ValidString(f.out) || strings.ContainsFunc(f.out, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("%q normalized to %q", f.in, f.out)
			}
			clean := utf8.ValidString(f.in) && !strings.ContainsFunc(f.in, func(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError })
			if clean && len(f.in) <= f.limit && f.out != f.in {
				t.Fatalf("clean %q changed to %q", f.in, f.out)
			}
		}
		if !a.Time.Equal(now) || a.Time.Location() != time.UTC {
			t.Fatalf("Time %v", a.Time)
		}
	})
}

func TestAttemptLimit(t *testing.T) {
	for in, want := range map[int]int{0: identity.DefaultLimit, -5: identity.DefaultLimit, 7: 7, 5000: identity.MaxAttemptsPage} {
		if got := identity.AttemptLimit(identity.AttemptQuery{Limit: in}); got != want {
			t.Errorf("AttemptLimit(%d) = %d, want %d", in, got, want)
		}
	}
}

// QueueAttempt on a log that cannot queue (the memory store's) records the
// entry before it returns.
func TestQueueAttemptRecordsWhereNoQueue(t *testing.T) {
	log := memory.NewDiagnostics(nil)
	if _, ok := any(log).(identity.AttemptQueue); ok {
		t.Skip("the memory log queues: this case needs a log that does not")
	}
	if err := identity.QueueAttempt(t.Context(), log, identity.Attempt{Connection: "scim", Reference: "r1"}); err != nil {
		t.Fatal(err)
	}
	got, err := log.Attempts(t.Context(), identity.AttemptQuery{})
	if err != nil || len(got) != 1 || got[0].Reference != "r1" {
		t.Errorf("Attempts after QueueAttempt = %+v, %v; want the entry", got, err)
	}
}
