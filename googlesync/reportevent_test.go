package googlesync_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/googlesync"
)

// TestReportFieldsRoundTrip: a report written as an event's fields reads
// back the same, its changes (names with quotes and spaces too) up to
// MaxEventChanges, with the count of those left out, and the error's text.
func TestReportFieldsRoundTrip(t *testing.T) {
	r := googlesync.Report{
		DryRun: true, Forced: true, Start: time.Date(2026, 12, 6, 4, 0, 0, 123_000_000, time.UTC),
		Duration: 1500 * time.Millisecond, PullDuration: 700 * time.Millisecond,
		Groups: 1, Users: 2, Memberships: 3, GroupsCreated: 4, GroupsConverted: 5, GroupsUpdated: 6, GroupsEmptied: 7,
		MembersAdded: 8, MembersRemoved: 9, UsersCreated: 10, UsersUpdated: 11, UsersRestored: 12, UsersDeactivated: 13,
		Skipped:  googlesync.Skipped{Customer: 14, External: 15, Groups: 16, Suspended: 17, Unknown: 18, Conflicts: 19},
		APICalls: 20, Retries: 21,
		Changes: []googlesync.Change{
			{Action: googlesync.GroupCreate, Group: `Eng "core" team`},
			{Action: googlesync.MemberAdd, Group: "a b", User: "ada@acme.example"},
			{Action: googlesync.UserCreate, User: "grace@acme.example"},
		},
	}
	fields := googlesync.ReportFields(r, errors.New("googlesync: the pull came back empty"))
	got, errText, omitted, err := googlesync.ReadReportFields(append(fields, "later=field"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) || errText != "googlesync: the pull came back empty" || omitted != 0 {
		t.Errorf("read back\n%+v, %q, %d\nwant\n%+v", got, errText, omitted, r)
	}

	r.Changes = nil
	for i := range googlesync.MaxEventChanges + 5 {
		r.Changes = append(r.Changes, googlesync.Change{Action: googlesync.MemberAdd, Group: "g", User: fmt.Sprintf("u%d@acme.example", i)})
	}
	got, errText, omitted, err = googlesync.ReadReportFields(googlesync.ReportFields(r, nil))
	if err != nil || errText != "" || omitted != 5 || len(got.Changes) != googlesync.MaxEventChanges ||
		got.Changes[99].User != "u99@acme.example" {
		t.Errorf("%d changes kept, %d omitted, error %q, %v; want %d, 5, none", len(got.Changes), omitted, errText, err, googlesync.MaxEventChanges)
	}

	long := strings.Repeat("é", 1000)
	_, errText, _, _ = googlesync.ReadReportFields(googlesync.ReportFields(r, errors.New(long)))
	if len(errText) > 1000 || !strings.HasPrefix(long, errText) || errText == "" {
		t.Errorf("a long error is kept as %d bytes, want at most 1000 of its start, valid UTF-8", len(errText))
	}

	for _, bad := range []string{"membersAdded=x", "dryRun=maybe", "start=yesterday", `change=member.add "g`, `change=member.add "g""u"`, "change=x"} {
		if _, _, _, err := googlesync.ReadReportFields([]string{bad}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
