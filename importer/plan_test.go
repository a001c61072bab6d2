package importer_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
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
	for _, m := range []struct{ source, group, user string }{
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
			if _, err := t.Store.CreateUser(ctx, identity.User{Email: "late@acme.example", UserName: "late@acme.example"}); err != nil {
				return nil, err
			}
		}
	}
	return t.Store.CreateUsers(ctx, users)
}

// TestCoreRefusesPlannedUser: the row the core refuses fails alone; the
// users around it are created and join their group, the refused one not.
func TestCoreRefusesPlannedUser(t *testing.T) {
	ctx := context.Background()
	dir, err := identity.New(lateStore{memory.New().Tenant("acme")}, identity.Config{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	im, _ := importer.New(importer.Config{})
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
