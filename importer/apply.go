package importer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/rollcall/rollcall/identity"
)

// An import is a batch of the core. The importer reads the whole file and
// turns each row into what the tenant should hold (identity.BatchUser: the
// row's email finds the user, the columns the file has set their fields,
// the groups column names all the user's internal groups); the core plans
// the batch by its rules (identity.PlanBatch), judges it with the one fuse
// of every batch source, and applies it in one transaction. A dry run is
// the plan, made through the Directory's reader: a real run on the same
// tenant makes the same plan, so their Results agree by construction. The
// Result is the plan's, less any row the core still refuses when it
// applies the plan (a conflict with a write the plan could not see).

// errRow refuses a row whose cells are wrong: its messages are the
// record's.
var errRow = errors.New("importer: the row has errors")

// preview is a dry run: it reads and checks every row of src, then plans
// them as a real run would.
func (im *Importer) preview(ctx context.Context, dir *identity.Directory, src RowSource, format string, size int64, opts Options) (*Result, error) {
	s, err := im.parse(src, format, size, opts.Progress)
	if err != nil {
		return nil, err
	}
	return im.apply(ctx, dir, s, opts)
}

// apply plans the checked rows through the core and, unless opts.DryRun,
// carries the plan out.
func (im *Importer) apply(ctx context.Context, dir *identity.Directory, s *sheet, opts Options) (*Result, error) {
	total := len(s.records)
	b := im.batch(s, opts)
	checked := false
	check := func() {
		// The core has planned every row once it applies the first.
		if !checked && opts.Progress != nil {
			opts.Progress(Progress{Phase: "check", Read: total, Checked: total, Total: total})
		}
		checked = true
	}
	if opts.Progress != nil {
		b.Progress = func(done, _ int) {
			check()
			if done%1000 == 0 && done < total {
				opts.Progress(Progress{Phase: "apply", Read: total, Checked: total, Applied: done, Total: total})
			}
		}
	}
	plan, _, err := dir.Reconcile(ctx, identity.Import, b, identity.ReconcileOptions{Fuse: im.fuse(opts), DryRun: opts.DryRun})
	var fe *identity.FuseError
	if errors.As(err, &fe) {
		return nil, &ThresholdError{Deactivate: fe.Remove, Active: fe.Of, Threshold: im.cfg.Threshold}
	}
	if err != nil {
		return nil, fmt.Errorf("importer: %w", err)
	}
	check()
	if opts.Progress != nil {
		if !opts.DryRun && total > 0 {
			opts.Progress(Progress{Phase: "apply", Read: total, Checked: total, Applied: total, Total: total})
		}
	}
	return result(s, plan, opts), nil
}

// fuse is the core's fuse as the import's threshold sets it: the share of
// the active users Deactivate may deactivate, unless opts.Force. An empty
// file is let through: the threshold judges what it deactivates.
func (im *Importer) fuse(opts Options) identity.Fuse {
	f := identity.Fuse{MaxDeactivate: im.cfg.Threshold, MaxRemove: 1, AllowEmpty: true}
	if opts.Force {
		f.MaxDeactivate = 1
	}
	return f
}

// batch is the desired state the rows give, one user a row in row order.
func (im *Importer) batch(s *sheet, opts Options) identity.Batch {
	b := identity.Batch{
		Users:  make([]identity.BatchUser, len(s.records)),
		Update: opts.Update, Restore: opts.Restore, KeepEmails: true,
		DeactivateMissing: opts.Deactivate, SkipRefused: true,
	}
	if opts.Deactivate {
		b.Protect = im.cfg.Protect
	}
	var clear []string
	for col, field := range map[string]string{ColFirstName: "givenName", ColLastName: "familyName", ColDisplayName: "displayName"} {
		if s.header.has[col] {
			clear = append(clear, field)
		}
	}
	slices.Sort(clear)
	setGroups := s.header.has[ColGroups]
	for i, r := range s.records {
		r.batchUser(&b.Users[i], setGroups, clear)
	}
	return b
}

// batchUser sets bu to the user a row lists: the columns the file has set
// the user's fields (an empty cell clears one; see overwrite) and, with
// setGroups, groups.
func (r *record) batchUser(bu *identity.BatchUser, setGroups bool, clear []string) {
	*bu = identity.BatchUser{
		User:     identity.User{Email: r.email, GivenName: r.given, FamilyName: r.family, DisplayName: r.display},
		Inactive: r.active == no, Clear: clear,
		SetGroups: setGroups, Groups: r.groups,
	}
	if r.errs != nil {
		bu.Err = errRow
	}
	if len(r.attrs) > 0 {
		bu.User.Attributes = r.attrs // the core copies what it changes
	}
}

// result reports the plan, as carried out: a row is created, updated (its
// user or groups change), skipped (nothing changes) or an error.
func result(s *sheet, plan *identity.BatchPlan, opts Options) *Result {
	res := newResult(opts)
	res.Rows = len(s.records)
	res.Deleted = len(plan.Deactivate)
	for k := range plan.Users {
		st := &plan.Users[k]
		r := s.records[st.Index]
		switch {
		case st.Action == identity.UserRefuse:
			res.Errors = append(res.Errors, r.row)
			errs := r.errs
			if errs == nil {
				errs = messages(st.Err)
			}
			for _, col := range slices.Sorted(maps.Keys(errs)) {
				for _, m := range errs[col] {
					res.ErrorMessages.add(r.row, col, m)
				}
			}
		case st.Action == identity.UserCreate:
			res.Created = append(res.Created, r.row)
		case st.Changes():
			res.Updated = append(res.Updated, r.row)
		default:
			res.Skipped = append(res.Skipped, r.row)
		}
	}
	return res
}

// messages says by column why the core refused a row.
func messages(err error) map[string][]string {
	m := map[string][]string{}
	add := func(col, msg string) { m[col] = append(m[col], msg) }
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, err := range errs {
		var ve *identity.ValidationError
		var pe *identity.PolicyError
		var ce *identity.ConflictError
		switch {
		case errors.As(err, &ve):
			for _, f := range ve.Fields {
				add(columnOf(f.Field), fmt.Sprintf("The %s %s.", label(columnOf(f.Field)), f.Message))
			}
		case errors.As(err, &pe):
			add(policyMessage(pe))
		case errors.Is(err, identity.ErrNotAllowed):
			add(ColEmail, "The import may not change this user.")
		case errors.As(err, &ce) && ce.Field == "userName":
			add(ColEmail, "The email is already the user name of another user.")
		case errors.As(err, &ce) && ce.Field != "":
			add(ColEmail, fmt.Sprintf("Another user has this %s.", ce.Field))
		case errors.Is(err, identity.ErrConflict):
			add(ColEmail, "Another user has this email.")
		case errors.Is(err, identity.ErrVersionMismatch):
			add(ColEmail, "The user changed while the file was imported.")
		default:
			add(ColEmail, "The core refused the row.")
		}
	}
	return m
}

// policyMessage says which policy of the core refused a row, and where.
func policyMessage(pe *identity.PolicyError) (col, msg string) {
	switch pe.Action {
	case identity.ActionCreate:
		return ColEmail, "The import may not create users."
	case identity.ActionRestore:
		return ColEmail, "The import may not restore users."
	case identity.ActionManageGroup:
		return ColGroups, fmt.Sprintf("The group %q is managed by the identity provider (%s) and cannot be assigned by import.", pe.Group.Name, pe.Group.Source)
	}
	return ColEmail, "The import may not change this user."
}

// columnOf maps a field of identity's ValidationError to a column.
func columnOf(field string) string {
	switch field {
	case "email", "userName":
		return ColEmail
	case "givenName":
		return ColFirstName
	case "familyName":
		return ColLastName
	case "displayName":
		return ColDisplayName
	case "attributes." + identity.AttrDepartment:
		return ColDepartment
	case "attributes." + identity.AttrPhone:
		return ColPhone
	case "attributes." + identity.AttrEmployeeNumber:
		return ColEmployeeNumber
	}
	if len(field) > len("attributes.") && field[:len("attributes.")] == "attributes." {
		return field[len("attributes."):]
	}
	return field
}
