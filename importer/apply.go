package importer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// apply runs the checked rows through the core in one transaction.
func (im *Importer) apply(ctx context.Context, dir *identity.Directory, s *sheet, opts Options) (*Result, error) {
	var res *Result
	fn := func(ctx context.Context, tx *identity.Tx) error {
		// fn may run again if the store retries: start afresh.
		res = newResult(opts)
		a := &applier{im: im, tx: tx, rd: tx.Reader(), sheet: s, opts: opts, res: res, groups: map[string]identity.Group{}}
		return a.run(ctx)
	}
	var err error
	if opts.DryRun {
		err = dir.DryRun(ctx, identity.SourceImport, fn)
	} else {
		err = dir.Do(ctx, identity.SourceImport, fn)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

type applier struct {
	im     *Importer
	tx     *identity.Tx
	rd     identity.Reader
	sheet  *sheet
	opts   Options
	res    *Result
	groups map[string]identity.Group // by groups.Key; ID "" for a name no group has yet
	// With a file about as large as the tenant, every user is read once
	// up front instead of looked up row by row.
	byEmail    map[string]identity.User
	byUserName map[string]bool
}

func (a *applier) run(ctx context.Context) error {
	// Find whom Deactivate would hit before anything changes, so that the
	// threshold compares with the tenant as it was.
	var missing []identity.User
	if a.opts.Deactivate {
		var err error
		if missing, err = a.missing(ctx); err != nil {
			return err
		}
	} else if len(a.sheet.records) >= 1000 {
		page, err := a.rd.ListUsers(ctx, identity.UserQuery{Limit: 1})
		if err != nil {
			return fmt.Errorf("importer: count users: %w", err)
		}
		if page.Total <= 2*len(a.sheet.records) {
			if err := a.eachUser(ctx, func(identity.User) {}); err != nil {
				return err
			}
		}
	}
	total := len(a.sheet.records)
	for i, r := range a.sheet.records {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.row(ctx, r); err != nil {
			return err
		}
		if a.opts.Progress != nil && ((i+1)%1000 == 0 || i+1 == total) {
			a.opts.Progress(Progress{Phase: "apply", Read: total, Applied: i + 1, Total: total})
		}
	}
	for _, u := range missing {
		if _, err := a.tx.Deactivate(ctx, u.ID); err != nil {
			return fmt.Errorf("importer: deactivate user %s: %w", u.ID, err)
		}
		a.res.Deleted++
	}
	a.res.Rows = total
	return nil
}

// missing returns the active users the file does not list (rows with errors
// count as listed), less the protected ones, and refuses more than the
// threshold. A user without an email (provisioned by SCIM with a userName
// only, say) can never be listed, so is never missing.
func (a *applier) missing(ctx context.Context) ([]identity.User, error) {
	listed := make(map[string]bool, len(a.sheet.records))
	for _, r := range a.sheet.records {
		if r.key != "" {
			listed[r.key] = true
		}
	}
	var out []identity.User
	active := 0
	err := a.eachUser(ctx, func(u identity.User) {
		if !u.Active {
			return
		}
		active++
		if u.Email == "" || listed[identity.NormalizeEmail(u.Email)] {
			return
		}
		if a.im.cfg.Protect != nil && a.im.cfg.Protect(ctx, a.rd, u) {
			return
		}
		out = append(out, u)
	})
	if err != nil {
		return nil, err
	}
	if !a.opts.Force && a.im.cfg.Threshold < 1 && float64(len(out)) > a.im.cfg.Threshold*float64(active) {
		return nil, &ThresholdError{Deactivate: len(out), Active: active, Threshold: a.im.cfg.Threshold}
	}
	return out, nil
}

// eachUser calls fn with every user of the tenant, and keeps them in
// byEmail and byUserName for the rows to find.
func (a *applier) eachUser(ctx context.Context, fn func(identity.User)) error {
	a.byEmail, a.byUserName = map[string]identity.User{}, map[string]bool{}
	after := ""
	for {
		page, err := a.rd.ListUsers(ctx, identity.UserQuery{After: after, Limit: 1000})
		if err != nil {
			return fmt.Errorf("importer: list users: %w", err)
		}
		for _, u := range page.Users {
			if u.Email != "" {
				a.byEmail[identity.NormalizeEmail(u.Email)] = u
			}
			a.byUserName[identity.NormalizeUserName(u.UserName)] = true
			fn(u)
		}
		if len(page.Users) < 1000 {
			return nil
		}
		after = page.Users[len(page.Users)-1].ID
	}
}

// lookup finds the user of a row's email, and reports whether the email is
// some user's userName.
func (a *applier) lookup(ctx context.Context, r *record) (cur identity.User, found, nameTaken bool, err error) {
	if a.byEmail != nil {
		cur, found = a.byEmail[r.key]
		return cur, found, !found && a.byUserName[identity.NormalizeUserName(r.email)], nil
	}
	cur, err = a.rd.UserByEmail(ctx, r.email)
	found = err == nil
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		return cur, false, false, fmt.Errorf("importer: row %d: find user: %w", r.row, err)
	}
	if found {
		return cur, true, false, nil
	}
	// The core makes the email the userName of a new user: it must be free.
	_, err = a.rd.UserByUserName(ctx, r.email)
	if err == nil {
		return cur, false, true, nil
	}
	if !errors.Is(err, identity.ErrNotFound) {
		return cur, false, false, fmt.Errorf("importer: row %d: find user: %w", r.row, err)
	}
	return cur, false, false, nil
}

func (a *applier) fail(r *record) {
	a.res.Errors = append(a.res.Errors, r.row)
	for _, col := range slices.Sorted(maps.Keys(r.errs)) {
		for _, m := range r.errs[col] {
			a.res.ErrorMessages.add(r.row, col, m)
		}
	}
}

// row applies one record. Every check that can refuse the row runs before the
// first change, so that a refused row changes nothing and the transaction
// stays usable (a failed statement aborts a PostgreSQL transaction).
func (a *applier) row(ctx context.Context, r *record) error {
	if r.errs != nil {
		a.fail(r)
		return nil
	}
	// Errors found from here on belong to this attempt: the store may run
	// the transaction again.
	c := *r
	r = &c
	cur, found, nameTaken, err := a.lookup(ctx, r)
	if err != nil {
		return err
	}
	if nameTaken {
		r.fail(ColEmail, "The email is already the user name of another user.")
	}
	touchGroups := a.sheet.header.has[ColGroups] && (!found || a.opts.Update)
	if touchGroups {
		if err := a.checkGroups(ctx, r); err != nil {
			return err
		}
	}
	if r.errs != nil {
		a.fail(r)
		return nil
	}

	if !found {
		u, err := a.tx.CreateUser(ctx, r.user, identity.CreateOptions{Inactive: r.active != nil && !*r.active})
		if err != nil {
			return a.refused(ctx, r, err)
		}
		if _, _, err := a.setGroups(ctx, r, u.ID, nil); err != nil {
			return err
		}
		a.res.Created = append(a.res.Created, r.row)
		return nil
	}

	restore := a.opts.Restore && !cur.Active && (r.active == nil || *r.active)
	if !a.opts.Update && !restore {
		a.res.Skipped = append(a.res.Skipped, r.row)
		return nil
	}
	h := a.sheet.header
	u, err := a.tx.UpdateUser(ctx, cur.ID, 0, func(u *identity.User) error {
		if a.opts.Update {
			overwrite(u, r, h)
		}
		if restore {
			u.Active = true
		}
		return nil
	})
	if err != nil {
		return a.refused(ctx, r, err)
	}
	changed := u.Version != cur.Version
	if touchGroups {
		added, removed, err := a.setGroups(ctx, r, cur.ID, &cur)
		if err != nil {
			return err
		}
		changed = changed || added+removed > 0
	}
	if changed {
		a.res.Updated = append(a.res.Updated, r.row)
	} else {
		a.res.Skipped = append(a.res.Skipped, r.row)
	}
	return nil
}

// overwrite sets the fields of the columns the file has; an empty cell
// clears the field. The email is the key and stays as stored.
func overwrite(u *identity.User, r *record, h *header) {
	if h.has[ColFirstName] {
		u.GivenName = r.user.GivenName
	}
	if h.has[ColLastName] {
		u.FamilyName = r.user.FamilyName
	}
	if h.has[ColDisplayName] {
		u.DisplayName = r.user.DisplayName
	}
	if len(r.user.Attributes) > 0 {
		attrs := maps.Clone(u.Attributes)
		if attrs == nil {
			attrs = map[string]string{}
		}
		for k, v := range r.user.Attributes {
			if v == "" {
				delete(attrs, k)
			} else {
				attrs[k] = v
			}
		}
		u.Attributes = attrs
	}
	if r.active != nil && !*r.active {
		u.Active = false
	}
}

// refused handles an error of the core on a row's first change: the row is
// refused when the core refused the values (validation, policy, a conflict
// the checks could not see) and the transaction can go on; anything else
// ends the import.
func (a *applier) refused(ctx context.Context, r *record, err error) error {
	var ve *identity.ValidationError
	switch {
	case errors.As(err, &ve):
		for _, f := range ve.Fields {
			r.fail(columnOf(f.Field), fmt.Sprintf("The %s %s.", label(columnOf(f.Field)), f.Message))
		}
	case errors.Is(err, identity.ErrNotAllowed):
		r.fail(ColEmail, "The import may not change this user.")
	case errors.Is(err, identity.ErrConflict):
		// Make sure the store still works before going on.
		if _, perr := a.rd.UserByEmail(ctx, r.email); perr != nil && !errors.Is(perr, identity.ErrNotFound) {
			return fmt.Errorf("importer: row %d: %w (and the transaction cannot go on: %v)", r.row, err, perr)
		}
		var ce *identity.ConflictError
		field := "email"
		if errors.As(err, &ce) {
			field = ce.Field
		}
		r.fail(ColEmail, fmt.Sprintf("Another user has this %s.", field))
	default:
		return fmt.Errorf("importer: row %d: %w", r.row, err)
	}
	a.fail(r)
	return nil
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

// group returns the group of a name, from the cache or the store; ID "" if
// there is none yet.
func (a *applier) group(ctx context.Context, name string) (identity.Group, error) {
	k := groups.Key(name)
	if g, ok := a.groups[k]; ok {
		return g, nil
	}
	g, err := a.rd.GroupByName(ctx, name)
	if errors.Is(err, identity.ErrNotFound) {
		g, err = identity.Group{Name: name, Kind: groups.Internal}, nil
	}
	if err != nil {
		return identity.Group{}, fmt.Errorf("importer: find group: %w", err)
	}
	a.groups[k] = g
	return g, nil
}

// checkGroups refuses the row if a group it names is external: those belong
// to the tenant's identity provider.
func (a *applier) checkGroups(ctx context.Context, r *record) error {
	for _, name := range r.groups {
		g, err := a.group(ctx, name)
		if err != nil {
			return err
		}
		if g.Kind == groups.External {
			r.fail(ColGroups, fmt.Sprintf("The group %q is managed by the identity provider (%s) and cannot be assigned by import.", g.Name, g.Source))
		}
	}
	return nil
}

// setGroups makes the user a member of the row's internal groups, creating
// the missing ones, and, for an existing user (cur set), ends the
// memberships of internal groups the row does not name.
func (a *applier) setGroups(ctx context.Context, r *record, userID string, cur *identity.User) (added, removed int, err error) {
	want := make(map[string]bool, len(r.groups))
	for _, name := range r.groups {
		k := groups.Key(name)
		want[k] = true
		g, err := a.group(ctx, name)
		if err != nil {
			return 0, 0, err
		}
		if g.ID == "" {
			if g, err = a.tx.CreateGroup(ctx, name, ""); err != nil {
				return 0, 0, fmt.Errorf("importer: row %d: create group %q: %w", r.row, name, err)
			}
			a.groups[k] = g
		}
		ok, err := a.tx.AddMember(ctx, g.ID, userID)
		if err != nil {
			return 0, 0, fmt.Errorf("importer: row %d: add to group %q: %w", r.row, name, err)
		}
		if ok {
			added++
		}
	}
	if cur == nil {
		return added, 0, nil
	}
	current, err := a.rd.UserGroups(ctx, userID)
	if err != nil {
		return 0, 0, fmt.Errorf("importer: row %d: read groups: %w", r.row, err)
	}
	for _, g := range current {
		if g.Kind != groups.Internal || want[groups.Key(g.Name)] {
			continue
		}
		ok, err := a.tx.RemoveMember(ctx, g.ID, userID)
		if err != nil {
			return 0, 0, fmt.Errorf("importer: row %d: remove from group %q: %w", r.row, g.Name, err)
		}
		if ok {
			removed++
		}
	}
	return added, removed, nil
}
