package importer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/storage/memory"
)

// planEnv is a tenant with a user for every case the plan decides.
func planEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, importer.Config{})
	ctx := context.Background()
	ada := e.create(t, identity.User{Email: "ada@acme.example", GivenName: "Ada", FamilyName: "Lovelace", Attributes: map[string]string{"department": "Math"}}, true)
	e.create(t, identity.User{Email: "bob@acme.example", GivenName: "Bob", FamilyName: "Builder"}, false)
	carl := e.create(t, identity.User{Email: "carl@acme.example", GivenName: "Carl", FamilyName: "Sagan"}, true)
	e.create(t, identity.User{Email: "dora@acme.example"}, true)
	e.create(t, identity.User{Email: "other@acme.example", UserName: "taken@acme.example"}, true)
	e.create(t, identity.User{Email: "eve@acme.example"}, false)
	eng, err := e.dir.CreateGroup(ctx, identity.SourceManual, "Engineering", "")
	if err != nil {
		t.Fatal(err)
	}
	sales, err := e.dir.CreateGroup(ctx, identity.SourceManual, "Sales", "")
	if err != nil {
		t.Fatal(err)
	}
	staff, err := e.dir.CreateGroup(ctx, identity.SourceSCIM, "SCIM-Staff", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		source      identity.Source
		group, user string
	}{
		{identity.SourceManual, eng.ID, ada.ID},
		{identity.SourceManual, sales.ID, carl.ID},
		{identity.SourceManual, eng.ID, carl.ID},
		{identity.SourceSCIM, staff.ID, carl.ID},
	} {
		if _, err := e.dir.AddMember(ctx, m.source, m.group, m.user); err != nil {
			t.Fatal(err)
		}
	}
	e.sink.Reset()
	return e
}

const planCSV = "email,firstName,lastName,department,active,groups\n" +
	"ada@acme.example,Ada,Lovelace,Math,,Engineering\n" + // 2: nothing changes
	"bob@acme.example,Bob,Builder,,true,Sales\n" + // 3: inactive, joins Sales
	"carl@acme.example,Carl,Sagan,,,\"sales, New Team\"\n" + // 4: leaves Engineering, joins New Team
	"taken@acme.example,T,T,,,\n" + // 5: the email is another user's userName
	"new@acme.example,New,User,Ops,false,\"New Team,engineering\"\n" + // 6: created inactive
	"bad-email,,,,,\n" + // 7: invalid email
	"ADA@acme.example,Ada,,,,\n" + // 8: duplicate of row 2
	"x@acme.example,,,,,SCIM-Staff\n" + // 9: an external group
	",,,,,\n" + // 10: blank
	"y@acme.example,Y,,,maybe,\n" + // 11: active is not a boolean
	"eve@acme.example,Eve,,,false,\n" + // 12: gets a first name, stays inactive
	"z@acme.example,Zed,,,,Brand New\n" // 13: created, with a new group

// TestDryRunAgreesWithRealRun runs the same file with every combination of
// flags, first as a dry run, then for real on a fresh tenant, and wants the
// same Result.
func TestDryRunAgreesWithRealRun(t *testing.T) {
	for mask := range 16 {
		opts := importer.Options{Update: mask&1 != 0, Deactivate: mask&2 != 0, Restore: mask&4 != 0, Force: mask&8 != 0}
		t.Run(fmt.Sprintf("update=%v,deactivate=%v,restore=%v,force=%v", opts.Update, opts.Deactivate, opts.Restore, opts.Force), func(t *testing.T) {
			dryEnv := planEnv(t)
			dryOpts := opts
			dryOpts.DryRun = true
			dry, err := dryEnv.run(t, "plan.csv", planCSV, dryOpts)
			if err != nil {
				t.Fatal(err)
			}
			if ev := dryEnv.sink.Events(); len(ev) != 0 {
				t.Fatalf("dry run emitted %v", dryEnv.sink.Types())
			}
			realEnv := planEnv(t)
			real, err := realEnv.run(t, "plan.csv", planCSV, opts)
			if err != nil {
				t.Fatal(err)
			}
			dry.DryRun = false
			if a, b := jsonOf(t, dry), jsonOf(t, real); a != b {
				t.Fatalf("dry run:\n%s\nreal run:\n%s", a, b)
			}
			// Changes and events agree with the Result: a skipped row
			// changes nothing.
			if slices.Contains(real.Skipped, 2) {
				for _, ev := range realEnv.sink.Events() {
					if ev.UserID == realEnv.user(t, "ada@acme.example").ID {
						t.Errorf("skipped row 2 emitted %+v", ev)
					}
				}
			}
		})
	}
}

// TestPlanDecisions pins what update, restore and deactivate do with each
// row of planCSV.
func TestPlanDecisions(t *testing.T) {
	e := planEnv(t)
	res := e.mustRun(t, "plan.csv", planCSV, importer.Options{Update: true, Deactivate: true, Restore: true})
	want := map[string][]int{"created": {6, 13}, "updated": {3, 4, 12}, "skipped": {2}, "errors": {5, 7, 8, 9, 11}}
	got := map[string][]int{"created": res.Created, "updated": res.Updated, "skipped": res.Skipped, "errors": res.Errors}
	if fmt.Sprint(got) != fmt.Sprint(want) || res.Deleted != 1 || res.Rows != 11 {
		t.Fatalf("got %v, deleted %d, rows %d; want %v, deleted 1, rows 11\n%s", got, res.Deleted, res.Rows, want, jsonOf(t, res))
	}
	for row, col := range map[int]string{5: importer.ColEmail, 7: importer.ColEmail, 8: importer.ColEmail, 9: importer.ColGroups, 11: importer.ColActive} {
		if len(res.ErrorMessages[row][col]) == 0 {
			t.Errorf("row %d: no message for %s: %v", row, col, res.ErrorMessages[row])
		}
	}
	ctx := context.Background()
	names := func(email string) []string {
		gs, err := e.dir.Reader().UserGroups(ctx, e.user(t, email).ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range gs {
			out = append(out, g.Name)
		}
		slices.Sort(out)
		return out
	}
	if u := e.user(t, "bob@acme.example"); !u.Active || fmt.Sprint(names("bob@acme.example")) != "[Sales]" {
		t.Errorf("bob: active %v, groups %v", u.Active, names("bob@acme.example"))
	}
	// carl keeps the external group, leaves Engineering, joins New Team.
	if got := fmt.Sprint(names("carl@acme.example")); got != "[New Team SCIM-Staff Sales]" {
		t.Errorf("carl's groups: %s", got)
	}
	if u := e.user(t, "new@acme.example"); u.Active || u.Attributes["department"] != "Ops" || fmt.Sprint(names("new@acme.example")) != "[Engineering New Team]" {
		t.Errorf("new: %+v in %v", u, names("new@acme.example"))
	}
	if u := e.user(t, "eve@acme.example"); u.Active || u.GivenName != "Eve" {
		t.Errorf("eve: %+v", u)
	}
	if e.user(t, "dora@acme.example").Active {
		t.Error("dora was not deactivated")
	}
	// Row 5 names other by userName: an error row, yet it lists other.
	if !e.user(t, "other@acme.example").Active {
		t.Error("other was deactivated though row 5 names them")
	}
	g, err := e.dir.Reader().GroupByName(ctx, "brand new")
	if err != nil || g.Kind != groups.Internal || g.Name != "Brand New" {
		t.Errorf("group Brand New: %+v, %v", g, err)
	}
	// Every change is an event; rows that fail or are skipped have none.
	counts := map[identity.EventType]int{}
	for _, ev := range e.sink.Events() {
		counts[ev.Type]++
	}
	if counts[identity.UserCreated] != 2 || counts[identity.UserDeactivated] != 1 || counts[identity.UserRestored] != 1 ||
		counts[identity.MemberAdded] != 5 || counts[identity.MemberRemoved] != 1 || counts[identity.GroupCreated] != 2 {
		t.Errorf("events: %v", counts)
	}
}

// lateStore creates a user with the email late@acme.example inside the
// import's transaction just before the import stores its new users: a
// conflict the plan could not see.
type lateStore struct{ *memory.Store }

type lateTx struct{ identity.Store }

func (s lateStore) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, tx identity.Store) error { return fn(ctx, lateTx{tx}) })
}

func (t lateTx) CreateUsers(ctx context.Context, users []identity.User) ([]identity.User, error) {
	for _, u := range users {
		if u.Email == "late@acme.example" {
			if _, err := t.Store.CreateUser(ctx, identity.User{Email: "late@acme.example", UserName: "late@acme.example", Active: true}); err != nil {
				return nil, err
			}
		}
	}
	return t.Store.(identity.BulkUserCreator).CreateUsers(ctx, users)
}

// TestCoreRefusesPlannedUser: the row the core refuses fails alone; the
// users around it are created and join their group, the refused one not.
func TestCoreRefusesPlannedUser(t *testing.T) {
	ctx := context.Background()
	dir, err := identity.New(lateStore{memory.New().Tenant("acme")}, identity.Config{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	im, _ := importer.New(importer.Config{}, identity.Deps{})
	file := "email,groups\na@acme.example,Team\nb@acme.example,Team\nlate@acme.example,Team\nc@acme.example,Team\n"
	res, err := im.Import(ctx, dir, strings.NewReader(file), int64(len(file)), importer.Options{Filename: "users.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Created, []int{2, 3, 5}) || !slices.Equal(res.Errors, []int{4}) ||
		!slices.Equal(res.ErrorMessages[4][importer.ColEmail], []string{"Another user has this email."}) {
		t.Fatalf("%s", jsonOf(t, res))
	}
	team, err := dir.Reader().GroupByName(ctx, "team")
	if err != nil {
		t.Fatal(err)
	}
	page, err := dir.Reader().ListUsers(ctx, identity.UserQuery{GroupID: team.ID})
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	for _, u := range page.Users {
		members = append(members, u.Email)
	}
	slices.Sort(members)
	if !slices.Equal(members, []string{"a@acme.example", "b@acme.example", "c@acme.example"}) {
		t.Fatalf("Team: %v", members)
	}
}

// agree runs file as a dry run and for real, each on a tenant of its own
// from build, and wants the same Result, or the same error.
func agree(t *testing.T, build func() *env, file string, opts importer.Options) *importer.Result {
	t.Helper()
	dryOpts := opts
	dryOpts.DryRun = true
	dry, derr := build().run(t, "u.csv", file, dryOpts)
	real, rerr := build().run(t, "u.csv", file, opts)
	if fmt.Sprint(derr) != fmt.Sprint(rerr) {
		t.Fatalf("dry run: %v; real run: %v", derr, rerr)
	}
	if rerr != nil {
		return nil
	}
	dry.DryRun = false
	if a, b := jsonOf(t, dry), jsonOf(t, real); a != b {
		t.Fatalf("dry run:\n%s\nreal run:\n%s", a, b)
	}
	return real
}

// A header cell with a line break (Alt+Enter in Excel) cannot name an
// attribute: the plan refuses the rows that would set it, as the core would.
func TestAgreeOnBadAttributeName(t *testing.T) {
	build := func() *env { return newEnv(t, importer.Config{KeepUnknownColumns: true}) }
	res := agree(t, build, "email,\"Cost\nCenter\"\nnew@acme.example,42\n", importer.Options{})
	if !slices.Equal(res.Errors, []int{2}) || len(res.ErrorMessages[2]["Cost\nCenter"]) != 1 {
		t.Fatalf("%s", jsonOf(t, res))
	}
}

// A tenant over the size a dry run reads up front (it looks rows up one by
// one) and a file of more than half of it (the real run reads the tenant up
// front): both ways of finding users agree, with every flag.
func TestAgreeOnLargeTenant(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 16 tenants of 10,050 users")
	}
	build := func() *env {
		e := newEnv(t, importer.Config{})
		ctx := context.Background()
		err := e.dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
			var users []identity.NewUser
			for i := range 10050 {
				u := identity.User{Email: fmt.Sprintf("u%05d@acme.example", i), GivenName: "U"}
				switch i % 7 {
				case 1:
					u = identity.User{UserName: fmt.Sprintf("name%05d@acme.example", i)} // a userName only
				case 2:
					u.UserName = fmt.Sprintf("alias%05d@acme.example", i)
				}
				users = append(users, identity.NewUser{User: u, Options: identity.CreateOptions{Inactive: i%5 == 0}})
			}
			_, err := tx.CreateUsers(ctx, users)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.dir.CreateGroup(ctx, identity.SourceSCIM, "Ext", ""); err != nil {
			t.Fatal(err)
		}
		return e
	}
	var b strings.Builder
	b.WriteString("email,firstName,active,groups\n")
	for i := range 5100 {
		switch i % 6 {
		case 0:
			fmt.Fprintf(&b, "u%05d@acme.example,V,,Team\n", i)
		case 1:
			fmt.Fprintf(&b, "name%05d@acme.example,V,,\n", i) // a userName: an error
		case 2:
			fmt.Fprintf(&b, "alias%05d@acme.example,V,,\n", i)
		case 3:
			fmt.Fprintf(&b, "new%05d@acme.example,N,false,\"Team, B\"\n", i)
		case 4:
			fmt.Fprintf(&b, "u%05d@acme.example,U,true,Ext\n", i) // an external group: an error
		case 5:
			fmt.Fprintf(&b, "U%05d@ACME.example,,,\n", i-5) // a duplicate of the row before last
		}
	}
	for mask := range 8 {
		opts := importer.Options{Update: mask&1 != 0, Restore: mask&2 != 0, Deactivate: mask&4 != 0, Force: true}
		t.Run(fmt.Sprintf("update=%v,restore=%v,deactivate=%v", opts.Update, opts.Restore, opts.Deactivate), func(t *testing.T) {
			res := agree(t, build, b.String(), opts)
			// Every kind of row is there: 850 new ones at least, 850
			// duplicates, some userNames.
			if len(res.Created) < 850 || len(res.Errors) <= 850 || res.Rows != 5100 {
				t.Fatalf("created %d, errors %d, rows %d", len(res.Created), len(res.Errors), res.Rows)
			}
		})
	}
}

// The threshold refuses a dry run as it refuses the real one; Protect
// counts in both.
func TestAgreeOnThresholdAndProtect(t *testing.T) {
	protect := importer.Config{Protect: func(ctx context.Context, rd identity.Reader, u identity.User) bool {
		return u.Email == "carl@acme.example"
	}}
	build := func() *env {
		e := planEnv(t)
		e.im, _ = importer.New(protect, identity.Deps{})
		return e
	}
	// ada is listed, carl protected: dora and other would go, 2 of 4 active.
	res := agree(t, build, "email\nada@acme.example\n", importer.Options{Deactivate: true})
	if res.Deleted != 2 {
		t.Fatalf("%s", jsonOf(t, res))
	}
	// Nobody listed, carl protected: 3 of 4 is over half.
	agree(t, build, "email\nnew@acme.example\n", importer.Options{Deactivate: true})
	if _, err := build().run(t, "u.csv", "email\nnew@acme.example\n", importer.Options{Deactivate: true, DryRun: true}); !errors.As(err, new(*importer.ThresholdError)) {
		t.Fatalf("dry run over the threshold: %v", err)
	}
	res = agree(t, build, "email\nnew@acme.example\n", importer.Options{Deactivate: true, Force: true})
	if res.Deleted != 3 {
		t.Fatalf("%s", jsonOf(t, res))
	}
}

// A row that finds its user by email does not also list another user whose
// userName is that email: that user is missing from the file.
func TestUserNameListsOnlyWithoutEmailMatch(t *testing.T) {
	e := newEnv(t, importer.Config{Threshold: 1})
	e.create(t, identity.User{Email: "alice@acme.example", UserName: "y-sso"}, true)
	e.create(t, identity.User{Email: "x@old.example", UserName: "alice@acme.example"}, true)
	e.create(t, identity.User{Email: "admin@acme.example"}, true)
	res := e.mustRun(t, "u.csv", "email\nalice@acme.example\nadmin@acme.example\n", importer.Options{Deactivate: true})
	if res.Deleted != 1 || e.user(t, "x@old.example").Active {
		t.Fatalf("x@old.example is not in the file: deleted %d, active %v\n%s", res.Deleted, e.user(t, "x@old.example").Active, jsonOf(t, res))
	}
}

// TestPolicyMessages: where the tenant's policy for the import refuses a
// create, a restore or a deactivation, the row's message comes from the
// core's *identity.PolicyError, and the dry run says the same.
func TestPolicyMessages(t *testing.T) {
	ctx := context.Background()
	for _, dry := range []bool{true, false} {
		sink := &identitytest.Sink{}
		dir, err := identity.New(memory.New().Tenant("acme"), identity.Config{Tenant: "acme", Events: sink,
			Sources: map[string]identity.SourcePolicy{"import": {Email: identity.EmailTrusted}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []struct {
			email  string
			active bool
		}{{"gone@acme.example", false}, {"here@acme.example", true}} {
			if _, err := dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: u.email}, identity.CreateOptions{Inactive: !u.active}); err != nil {
				t.Fatal(err)
			}
		}
		sink.Reset()
		im, _ := importer.New(importer.Config{}, identity.Deps{})
		file := "email,active\nnew@acme.example,\ngone@acme.example,\nhere@acme.example,false\n"
		res, err := im.Import(ctx, dir, strings.NewReader(file), int64(len(file)), importer.Options{Filename: "p.csv", Update: true, Restore: true, DryRun: dry})
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]string{2: "The import may not create users.", 3: "The import may not restore users.", 4: "The import may not change this user."}
		for row, msg := range want {
			if got := res.ErrorMessages[row][importer.ColEmail]; !slices.Equal(got, []string{msg}) {
				t.Errorf("dry=%v row %d: %q, want %q", dry, row, got, msg)
			}
		}
		if !slices.Equal(res.Errors, []int{2, 3, 4}) || len(sink.Events()) != 0 {
			t.Fatalf("dry=%v: %s, events %v", dry, jsonOf(t, res), sink.Types())
		}
	}
}
