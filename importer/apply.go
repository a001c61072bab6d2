package importer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// An import plans every row before it changes anything. The plan reads the
// tenant and decides each row (created, updated, skipped or an error) and
// whom Deactivate hits; it writes nothing. A real run reads the whole file,
// then plans and carries the plan out through the core in one transaction:
// users first, then the memberships group by group. Its Result is the
// plan's, less any row the core still refuses (a conflict no check could
// see). A dry run plans each row as it is read, through the Directory's
// reader and outside any transaction, and keeps only the Result: it never
// holds the file's rows.

// apply plans the checked rows and carries the plan out.
func (im *Importer) apply(ctx context.Context, dir *identity.Directory, s *sheet, opts Options) (*Result, error) {
	var res *Result
	err := dir.Do(ctx, identity.Import, func(ctx context.Context, tx *identity.Tx) error {
		// This may run again if the store retries: start afresh.
		p := im.newPlanner(dir, tx.Reader(), s.header, opts, true)
		p.steps = make([]step, 0, len(s.records))
		if err := p.preload(ctx, len(s.records)); err != nil {
			return err
		}
		for _, r := range s.records {
			if err := p.next(ctx, r); err != nil {
				return err
			}
		}
		if err := p.finish(ctx); err != nil {
			return err
		}
		if err := p.execute(ctx, tx); err != nil {
			return err
		}
		res = p.result()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// preview is a dry run: it reads, checks and plans the rows of src one by
// one.
func (im *Importer) preview(ctx context.Context, dir *identity.Directory, src RowSource, format string, size int64, opts Options) (*Result, error) {
	var p *planner
	var rec record
	err := im.rows(src, format, size, func(h *header) error {
		p = im.newPlanner(dir, dir.Reader(), h, opts, false)
		p.res = newResult(opts)
		return p.preload(ctx, 0)
	}, func(h *header, row int, cells []string) (*record, error) {
		// One record, with its slices, serves every row: the plan keeps
		// none of it.
		rec = record{attrs: rec.attrs[:0], groups: rec.groups[:0]}
		h.fill(&rec, row, cells)
		return &rec, nil
	}, func(r *record) error {
		return p.next(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	if err := p.finish(ctx); err != nil {
		return nil, err
	}
	return p.result(), nil
}

// outcome is what the plan decided for a row.
type outcome int8

const (
	failed outcome = iota
	created
	updated
	skipped
)

// step is the plan of one row.
type step struct {
	r   *record
	out outcome
	// errs are the row's errors found against the tenant (the record's own
	// stay in r.errs, which a retried transaction must not see changed).
	errs map[string][]string
	// cur is the existing user of an updated row; userFields whether the
	// user's fields change (else only memberships do).
	cur        identity.User
	userFields bool
	restore    bool
	// joins counts the groups the user joins; leave lists the internal
	// groups the user leaves.
	joins int
	leave []identity.Group
	// id is the user's ID once created.
	id string
}

func (st *step) fail(col, msg string) {
	if st.errs == nil {
		st.errs = map[string][]string{}
	}
	st.errs[col] = append(st.errs[col], msg)
}

// plannedGroup is a group a row names: g.ID is "" while it does not exist.
type plannedGroup struct {
	g identity.Group
	// members lists the users (step indexes) who join it, in row order.
	members []int
}

type planner struct {
	im     *Importer
	rd     identity.Reader
	header *header
	opts   Options
	policy identity.SourcePolicy
	// groupSource is the tenant's group source, whose groups the import
	// may not assign (identity.MayManage).
	groupSource string
	// keep keeps every step, to be carried out; else (a dry run) each
	// step goes into res as soon as it is planned.
	keep  bool
	steps []step
	res   *Result
	rows  int
	// listed holds the email of every row, for Deactivate.
	listed map[string]bool
	groups map[string]*plannedGroup // by groups.Key
	named  map[string]*plannedGroup // by the names rows give, as given
	order  []string                 // keys of groups, in the order rows name them
	// users are the tenant's users, read up front when Deactivate needs
	// them all or the file is about as large as the tenant; byEmail and
	// byUserName then find them.
	users      []identity.User
	byEmail    map[string]int
	byUserName map[string]bool
	// missing are the users Deactivate hits.
	missing []identity.User
}

func (im *Importer) newPlanner(dir *identity.Directory, rd identity.Reader, h *header, opts Options, keep bool) *planner {
	p := &planner{
		im: im, rd: rd, header: h, opts: opts, keep: keep,
		policy: dir.Policy(identity.Import), groupSource: dir.GroupSource(),
		groups: map[string]*plannedGroup{}, named: map[string]*plannedGroup{},
	}
	if opts.Deactivate {
		p.listed = map[string]bool{}
	}
	return p
}

func (p *planner) progress(phase string, n, total int) {
	if p.opts.Progress != nil && (n%1000 == 0 || n == total) {
		pr := Progress{Phase: phase, Read: max(n, total), Total: total, Checked: total}
		if phase == "check" {
			pr.Checked = n
		} else {
			pr.Applied = n
		}
		p.opts.Progress(pr)
	}
}

// preload reads every user of the tenant up front when Deactivate needs
// them all, or when a file of rows rows is at least half as large as the
// tenant: one pass instead of two lookups a row. When the rows are not
// counted yet (rows is 0), a tenant of up to smallTenant users is read.
func (p *planner) preload(ctx context.Context, rows int) error {
	if !p.opts.Deactivate {
		if rows > 0 && rows < 1000 {
			return nil
		}
		page, err := p.rd.ListUsers(ctx, identity.UserQuery{Limit: 1})
		if err != nil {
			return fmt.Errorf("importer: count users: %w", err)
		}
		if rows == 0 && page.Total > smallTenant || rows > 0 && page.Total > 2*rows {
			return nil
		}
	}
	p.byEmail, p.byUserName = map[string]int{}, map[string]bool{}
	after := ""
	for {
		page, err := p.rd.ListUsers(ctx, identity.UserQuery{After: after, Limit: 1000})
		if err != nil {
			return fmt.Errorf("importer: list users: %w", err)
		}
		for _, u := range page.Users {
			if u.Email != "" {
				p.byEmail[identity.NormalizeEmail(u.Email)] = len(p.users)
			}
			p.byUserName[identity.NormalizeUserName(u.UserName)] = true
			p.users = append(p.users, u)
		}
		if len(page.Users) < 1000 {
			return nil
		}
		after = page.Users[len(page.Users)-1].ID
	}
}

// smallTenant is the size of a tenant a dry run reads up front.
const smallTenant = 10000

// next plans one row.
func (p *planner) next(ctx context.Context, r *record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.listed != nil && r.key != "" {
		p.listed[strings.Clone(r.key)] = true
	}
	i := len(p.steps)
	st := &step{r: r}
	if p.keep {
		p.steps = append(p.steps, step{r: r})
		st = &p.steps[i]
	}
	if err := p.planRow(ctx, st, i); err != nil {
		return err
	}
	p.rows++
	if !p.keep {
		p.res.add(st)
	}
	p.progress("check", p.rows, cap(p.steps)) // a real run made room for every row read; a dry run, 0
	return nil
}

// finish finds whom Deactivate hits, once every row is planned.
func (p *planner) finish(ctx context.Context) error {
	if p.opts.Progress != nil {
		p.opts.Progress(Progress{Phase: "check", Read: p.rows, Checked: p.rows, Total: p.rows})
	}
	if !p.opts.Deactivate {
		return nil
	}
	return p.findMissing(ctx)
}

// findMissing finds the active users the file does not list (rows with
// errors count as listed), less the protected ones, and refuses more than
// the threshold. A row lists the user of its email or, when no user has
// that email, the user whose userName it is (the row is an error then, but
// names that user). A user
// without an email (provisioned by SCIM with a userName only, say) is never
// missing: no row can list them by their email.
func (p *planner) findMissing(ctx context.Context) error {
	active := 0
	for _, u := range p.users {
		if !u.Active {
			continue
		}
		active++
		if u.Email == "" || p.listed[identity.NormalizeEmail(u.Email)] || p.listedByUserName(u) {
			continue
		}
		if p.im.cfg.Protect != nil && p.im.cfg.Protect(ctx, p.rd, u) {
			continue
		}
		p.missing = append(p.missing, u)
	}
	if p.opts.Force {
		return nil
	}
	fuse := identity.Fuse{MaxDeactivate: p.im.cfg.Threshold, MaxRemove: 1}
	if err := fuse.Judge(len(p.missing), active, 0, 0); err != nil {
		return &ThresholdError{Deactivate: len(p.missing), Active: active, Threshold: p.im.cfg.Threshold}
	}
	return nil
}

// listedByUserName reports whether a row gives u's userName as its email
// while no user has that email: the row is an error (the email is taken as
// a userName), but it names u.
func (p *planner) listedByUserName(u identity.User) bool {
	k := identity.NormalizeUserName(u.UserName)
	if !p.listed[k] {
		return false
	}
	_, byEmail := p.byEmail[k]
	return !byEmail
}

// lookup finds the user of a row's email by the core's rules
// (identity.Resolve: the import has no subject, so by email where its
// policy trusts it), and reports whether the email is some user's userName.
func (p *planner) lookup(ctx context.Context, r *record) (cur identity.User, found, nameTaken bool, err error) {
	if p.byEmail != nil {
		i, found := p.byEmail[r.key]
		if found && p.policy.TrustsEmail(false) {
			return p.users[i], true, false, nil
		}
		return cur, false, !found && p.byUserName[identity.NormalizeUserName(r.email)], nil
	}
	cur, how, err := identity.Resolve(ctx, p.rd, identity.Import, p.policy, "", r.email, false)
	if err != nil {
		return cur, false, false, fmt.Errorf("importer: row %d: find user: %w", r.row, err)
	}
	if how != identity.FoundNone {
		return cur, true, false, nil
	}
	// The core makes the email the userName of a new user: it must be free.
	_, err = p.rd.UserByUserName(ctx, r.email)
	if err == nil {
		return cur, false, true, nil
	}
	if !errors.Is(err, identity.ErrNotFound) {
		return cur, false, false, fmt.Errorf("importer: row %d: find user: %w", r.row, err)
	}
	return cur, false, false, nil
}

// planRow decides one row, the i-th.
func (p *planner) planRow(ctx context.Context, st *step, i int) error {
	r := st.r
	if r.errs != nil {
		return nil // failed
	}
	cur, found, nameTaken, err := p.lookup(ctx, r)
	if err != nil {
		return err
	}
	switch {
	case nameTaken:
		st.fail(ColEmail, "The email is already the user name of another user.")
	case !found && !p.policy.Create:
		st.fail(ColEmail, "The import may not create users.")
	}
	touchGroups := p.header.has[ColGroups] && (!found || p.opts.Update)
	if touchGroups {
		if err := p.checkGroups(ctx, st); err != nil {
			return err
		}
	}
	if st.errs != nil {
		return nil
	}
	if !found {
		st.out = created
		p.join(st, i, r.groups)
		return nil
	}

	st.cur = cur
	st.restore = p.opts.Restore && !cur.Active && r.active != no
	if !p.opts.Update && !st.restore {
		st.out = skipped
		return nil
	}
	if st.restore && !p.policy.Restore {
		st.fail(ColEmail, "The import may not restore users.")
		return nil
	}
	changes, err := identity.Changes(cur, p.updated(st))
	var ve *identity.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			st.fail(columnOf(f.Field), fmt.Sprintf("The %s %s.", label(columnOf(f.Field)), f.Message))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("importer: row %d: %w", r.row, err)
	}
	st.userFields = len(changes) > 0
	if touchGroups {
		if err := p.planGroups(ctx, st, i); err != nil {
			return err
		}
	}
	if st.userFields || st.joins > 0 || len(st.leave) > 0 {
		st.out = updated
	} else {
		st.out = skipped
	}
	return nil
}

// updated returns the user as an updated row leaves it.
func (p *planner) updated(st *step) identity.User {
	u := st.cur.Clone()
	if p.opts.Update {
		overwrite(&u, st.r, p.header)
	}
	if st.restore {
		u.Active = true
	}
	return u
}

// overwrite sets the fields of the columns the file has; an empty cell
// clears the field. The email is the key and stays as stored.
func overwrite(u *identity.User, r *record, h *header) {
	if h.has[ColFirstName] {
		u.GivenName = r.given
	}
	if h.has[ColLastName] {
		u.FamilyName = r.family
	}
	if h.has[ColDisplayName] {
		u.DisplayName = r.display
	}
	if len(r.attrs) > 0 {
		attrs := maps.Clone(u.Attributes)
		if attrs == nil {
			attrs = map[string]string{}
		}
		for _, a := range r.attrs {
			if a.value == "" {
				delete(attrs, a.key)
			} else {
				attrs[a.key] = a.value
			}
		}
		u.Attributes = attrs
	}
	if r.active == no {
		u.Active = false
	}
}

// group returns the planned group of a name, reading it from the store the
// first time.
func (p *planner) group(ctx context.Context, name string) (*plannedGroup, error) {
	if pg, ok := p.named[name]; ok {
		return pg, nil
	}
	k := groups.Key(name)
	if pg, ok := p.groups[k]; ok {
		p.named[name] = pg
		return pg, nil
	}
	g, err := p.rd.GroupByName(ctx, name)
	if errors.Is(err, identity.ErrNotFound) {
		g, err = identity.Group{Name: name, Kind: groups.Internal}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("importer: find group: %w", err)
	}
	pg := &plannedGroup{g: g}
	p.groups[k] = pg
	p.named[name] = pg
	p.order = append(p.order, k)
	return pg, nil
}

// checkGroups refuses the row if a group it names is external: those belong
// to the tenant's identity provider.
func (p *planner) checkGroups(ctx context.Context, st *step) error {
	for _, name := range st.r.groups {
		pg, err := p.group(ctx, name)
		if err != nil {
			return err
		}
		if g := pg.g; g.ID != "" && identity.MayManage(identity.Import, p.groupSource, g) != nil {
			st.fail(ColGroups, fmt.Sprintf("The group %q is managed by the identity provider (%s) and cannot be assigned by import.", g.Name, g.Source))
		}
	}
	return nil
}

// join plans the memberships of step i in the named groups, which
// checkGroups has looked up.
func (p *planner) join(st *step, i int, names []string) {
	if p.keep {
		for _, name := range names {
			pg := p.named[name]
			pg.members = append(pg.members, i)
		}
	}
	st.joins += len(names)
}

// planGroups plans an existing user's memberships by the core's rule
// (identity.PlanUserGroups): the row's groups the user is not in yet are
// joined, the groups the import may change (internal ones) that the row
// does not name are left. External groups are never touched.
func (p *planner) planGroups(ctx context.Context, st *step, i int) error {
	current, err := p.rd.UserGroups(ctx, st.cur.ID)
	if err != nil {
		return fmt.Errorf("importer: row %d: read groups: %w", st.r.row, err)
	}
	ids := make([]string, len(st.r.groups))
	for j, name := range st.r.groups {
		ids[j] = p.named[name].g.ID
	}
	joins, leave := identity.PlanUserGroups(identity.Import, p.groupSource, current, st.r.groups, ids)
	p.join(st, i, joins)
	st.leave = leave
	return nil
}

// execute carries the plan out through the core: users, then memberships
// group by group, then deactivations.
func (p *planner) execute(ctx context.Context, tx *identity.Tx) error {
	done := 0
	var create []int
	for i := range p.steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		st := &p.steps[i]
		switch st.out {
		case created:
			create = append(create, i)
			continue
		case updated:
			if err := p.update(ctx, tx, st); err != nil {
				return err
			}
		}
		// Memberships are counted with their rows' users: they are few
		// statements per group.
		if done++; done < len(p.steps) {
			p.progress("apply", done, len(p.steps))
		}
	}
	for len(create) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := create[:min(len(create), createChunk)]
		refused, err := p.create(ctx, tx, chunk)
		if err != nil {
			return err
		}
		if refused >= 0 {
			// Nobody was stored: the users before the refused one go in
			// again without it.
			create = append(slices.Clone(chunk[:refused]), create[refused+1:]...)
			done++
			continue
		}
		create = create[len(chunk):]
		if done += len(chunk); done < len(p.steps) {
			p.progress("apply", done, len(p.steps))
		}
	}
	for _, k := range p.order {
		if err := p.executeGroup(ctx, tx, p.groups[k]); err != nil {
			return err
		}
	}
	for _, u := range p.missing {
		if _, err := tx.Deactivate(ctx, u.ID); err != nil {
			return fmt.Errorf("importer: deactivate user %s: %w", u.ID, err)
		}
	}
	if len(p.steps) > 0 {
		p.progress("apply", len(p.steps), len(p.steps))
	}
	return nil
}

// createChunk is how many new users one call of Tx.CreateUsers stores.
const createChunk = 1000

// create stores the new users of the steps idx in one call of the core,
// all or none. If the core refuses one (a conflict no check could see), that
// row fails, nobody is stored, and create returns its place in idx; else -1.
func (p *planner) create(ctx context.Context, tx *identity.Tx, idx []int) (refused int, err error) {
	users := make([]identity.NewUser, len(idx))
	for j, i := range idx {
		r := p.steps[i].r
		users[j] = identity.NewUser{User: r.user(), Options: identity.CreateOptions{Inactive: r.active == no}}
	}
	stored, err := tx.CreateUsers(ctx, users)
	if err == nil {
		for j, i := range idx {
			p.steps[i].id = stored[j].ID
		}
		return -1, nil
	}
	var ie *identity.ItemError
	if !errors.As(err, &ie) || ie.Index < 0 || ie.Index >= len(idx) {
		return 0, fmt.Errorf("importer: create users: %w", err)
	}
	if err := p.refused(ctx, &p.steps[idx[ie.Index]], ie.Err); err != nil {
		return 0, err
	}
	return ie.Index, nil
}

// update changes an existing user as the plan says.
func (p *planner) update(ctx context.Context, tx *identity.Tx, st *step) error {
	r := st.r
	st.id = st.cur.ID
	if st.userFields {
		_, err := tx.UpdateUser(ctx, st.cur.ID, st.cur.Version, func(u *identity.User) error {
			if p.opts.Update {
				overwrite(u, r, p.header)
			}
			if st.restore {
				u.Active = true
			}
			return nil
		})
		if err != nil {
			return p.refused(ctx, st, err)
		}
	}
	for _, g := range st.leave {
		if _, err := tx.RemoveMember(ctx, g.ID, st.cur.ID); err != nil {
			return fmt.Errorf("importer: row %d: remove from group %q: %w", r.row, g.Name, err)
		}
	}
	return nil
}

// executeGroup creates a group that does not exist yet and adds the users
// the rows name, in one call of the core.
func (p *planner) executeGroup(ctx context.Context, tx *identity.Tx, pg *plannedGroup) error {
	var ids []string
	for _, i := range pg.members {
		if st := &p.steps[i]; st.out != failed {
			ids = append(ids, st.id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if pg.g.ID == "" {
		g, err := tx.CreateGroup(ctx, pg.g.Name, "")
		if err != nil {
			return fmt.Errorf("importer: create group %q: %w", pg.g.Name, err)
		}
		pg.g = g
	}
	if _, err := tx.AddMembers(ctx, pg.g.ID, ids); err != nil {
		return fmt.Errorf("importer: add to group %q: %w", pg.g.Name, err)
	}
	return nil
}

// refused handles an error of the core on a row's first change: the row is
// refused when the core refused the values (validation, policy, a conflict
// the checks could not see) and the transaction can go on; anything else
// ends the import.
func (p *planner) refused(ctx context.Context, st *step, err error) error {
	r := st.r
	var ve *identity.ValidationError
	switch {
	case errors.As(err, &ve):
		for _, f := range ve.Fields {
			st.fail(columnOf(f.Field), fmt.Sprintf("The %s %s.", label(columnOf(f.Field)), f.Message))
		}
	case errors.Is(err, identity.ErrNotAllowed):
		st.fail(ColEmail, "The import may not change this user.")
	case errors.Is(err, identity.ErrConflict), errors.Is(err, identity.ErrVersionMismatch):
		// Make sure the store still works before going on.
		if _, perr := p.rd.UserByEmail(ctx, r.email); perr != nil && !errors.Is(perr, identity.ErrNotFound) {
			return fmt.Errorf("importer: row %d: %w (and the transaction cannot go on: %v)", r.row, err, perr)
		}
		var ce *identity.ConflictError
		switch {
		case errors.As(err, &ce):
			st.fail(ColEmail, fmt.Sprintf("Another user has this %s.", ce.Field))
		case errors.Is(err, identity.ErrConflict):
			st.fail(ColEmail, "Another user has this email.")
		default:
			st.fail(ColEmail, "The user changed while the file was imported.")
		}
	default:
		return fmt.Errorf("importer: row %d: %w", r.row, err)
	}
	st.out = failed
	return nil
}

// result reports the plan, as carried out.
func (p *planner) result() *Result {
	res := p.res
	if res == nil {
		res = newResult(p.opts)
		for i := range p.steps {
			res.add(&p.steps[i])
		}
	}
	res.Deleted = len(p.missing)
	res.Rows = p.rows
	return res
}

// add reports one row.
func (res *Result) add(st *step) {
	switch st.out {
	case created:
		res.Created = append(res.Created, st.r.row)
	case updated:
		res.Updated = append(res.Updated, st.r.row)
	case skipped:
		res.Skipped = append(res.Skipped, st.r.row)
	default:
		res.Errors = append(res.Errors, st.r.row)
		for _, errs := range []map[string][]string{st.r.errs, st.errs} {
			for _, col := range slices.Sorted(maps.Keys(errs)) {
				for _, m := range errs[col] {
					res.ErrorMessages.add(st.r.row, col, m)
				}
			}
		}
	}
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
