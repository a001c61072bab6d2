package googlesync

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxEventChanges caps the changes of a dry run that ReportFields writes:
// the event of a sync is a summary, and a dry run's whole plan is its
// caller's (Report.Changes).
const MaxEventChanges = 100

// maxEventError caps the text of a failed sync's error in its event.
const maxEventError = 1000

// counts lists the report's counts by their field names, in the order
// ReportFields writes them.
func (r *Report) counts() []struct {
	name string
	n    *int
} {
	return []struct {
		name string
		n    *int
	}{
		{"groups", &r.Groups}, {"users", &r.Users}, {"memberships", &r.Memberships},
		{"groupsCreated", &r.GroupsCreated}, {"groupsConverted", &r.GroupsConverted},
		{"groupsUpdated", &r.GroupsUpdated}, {"groupsEmptied", &r.GroupsEmptied},
		{"membersAdded", &r.MembersAdded}, {"membersRemoved", &r.MembersRemoved},
		{"usersCreated", &r.UsersCreated}, {"usersUpdated", &r.UsersUpdated},
		{"usersRestored", &r.UsersRestored}, {"usersDeactivated", &r.UsersDeactivated},
		{"skipped.customer", &r.Skipped.Customer}, {"skipped.external", &r.Skipped.External},
		{"skipped.groups", &r.Skipped.Groups}, {"skipped.suspended", &r.Skipped.Suspended},
		{"skipped.unknown", &r.Skipped.Unknown}, {"skipped.conflicts", &r.Skipped.Conflicts},
		{"apiCalls", &r.APICalls}, {"retries", &r.Retries},
	}
}

// ReportFields writes a sync's report, and its error if it failed, as the
// Fields of its identity.SyncCompleted event (identity.Directory.RecordSync):
// "name=value" for each flag, time and count ("dryRun=true",
// "start=<RFC 3339>", "durationMs=…", "membersAdded=1", "skipped.external=0"…),
// "changes=<n>" and the first MaxEventChanges changes of a dry run as
// "change=<action> <quoted group> <quoted user>", and "error=<text>" (cut to
// 1000 bytes). ReadReportFields reads them back.
func ReportFields(r Report, err error) []string {
	out := []string{
		"dryRun=" + strconv.FormatBool(r.DryRun), "forced=" + strconv.FormatBool(r.Forced),
		"start=" + r.Start.UTC().Format(time.RFC3339Nano),
		"durationMs=" + strconv.FormatInt(r.Duration.Milliseconds(), 10),
		"pullDurationMs=" + strconv.FormatInt(r.PullDuration.Milliseconds(), 10),
	}
	for _, c := range r.counts() {
		out = append(out, c.name+"="+strconv.Itoa(*c.n))
	}
	out = append(out, "changes="+strconv.Itoa(len(r.Changes)))
	for i, c := range r.Changes {
		if i == MaxEventChanges {
			break
		}
		out = append(out, "change="+c.Action+" "+strconv.Quote(c.Group)+" "+strconv.Quote(c.User))
	}
	if err != nil {
		msg := strings.ToValidUTF8(err.Error(), "\uFFFD")
		if len(msg) > maxEventError {
			msg = strings.ToValidUTF8(msg[:maxEventError], "")
		}
		out = append(out, "error="+msg)
	}
	return out
}

// ReadReportFields reads the Fields ReportFields wrote: the report (its
// Changes the ones kept), the error's text ("" for a sync that succeeded),
// and how many changes the fields left out. A field it does not know is
// skipped, so that a later version may add some; a known field with a value
// it cannot read is an error naming it.
func ReadReportFields(fields []string) (r Report, errText string, omitted int, err error) {
	counts := map[string]*int{}
	for _, c := range r.counts() {
		counts[c.name] = c.n
	}
	total := 0
	for _, f := range fields {
		name, v, _ := strings.Cut(f, "=")
		if n, ok := counts[name]; ok {
			*n, err = strconv.Atoi(v)
		} else {
			err = r.readField(name, v, &total, &errText)
		}
		if err != nil {
			return Report{}, "", 0, fmt.Errorf("googlesync: report field %q: %w", name, err)
		}
	}
	return r, errText, max(total-len(r.Changes), 0), nil
}

// readField reads one field of ReadReportFields other than a count.
func (r *Report) readField(name, v string, total *int, errText *string) error {
	var err error
	switch name {
	case "dryRun":
		r.DryRun, err = strconv.ParseBool(v)
	case "forced":
		r.Forced, err = strconv.ParseBool(v)
	case "start":
		r.Start, err = time.Parse(time.RFC3339Nano, v)
	case "durationMs", "pullDurationMs":
		var ms int64
		ms, err = strconv.ParseInt(v, 10, 64)
		d := &r.Duration
		if name == "pullDurationMs" {
			d = &r.PullDuration
		}
		*d = time.Duration(ms) * time.Millisecond
	case "changes":
		*total, err = strconv.Atoi(v)
	case "change":
		var c Change
		c, err = readChange(v)
		r.Changes = append(r.Changes, c)
	case "error":
		*errText = v
	}
	return err
}

// readChange reads "<action> <quoted group> <quoted user>".
func readChange(v string) (Change, error) {
	action, rest, ok := strings.Cut(v, " ")
	if !ok {
		return Change{}, fmt.Errorf("want an action, a group and a user")
	}
	group, err := strconv.QuotedPrefix(rest)
	if err != nil || len(rest) == len(group) || rest[len(group)] != ' ' {
		return Change{}, fmt.Errorf("want a quoted group, then a quoted user")
	}
	user := rest[len(group)+1:]
	c := Change{Action: action}
	if c.Group, err = strconv.Unquote(group); err == nil {
		c.User, err = strconv.Unquote(user)
	}
	return c, err
}
