package importer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/storage/memory"
)

type env struct {
	dir  *identity.Directory
	sink *identitytest.Sink
	im   *importer.Importer
}

func newEnv(t testing.TB, cfg importer.Config) *env {
	t.Helper()
	sink := &identitytest.Sink{}
	dir, err := identity.New(memory.New().Tenant("acme"), identity.Config{Tenant: "acme", Clock: identitytest.NewClock(), Events: sink, GroupSource: "scim"})
	if err != nil {
		t.Fatal(err)
	}
	im, err := importer.New(cfg, identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{dir: dir, sink: sink, im: im}
}

func (e *env) create(t testing.TB, u identity.User, active bool) identity.User {
	t.Helper()
	got, err := e.dir.CreateUser(context.Background(), identity.SourceManual, u, identity.CreateOptions{Inactive: !active})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (e *env) run(t testing.TB, name, content string, opts importer.Options) (*importer.Result, error) {
	t.Helper()
	opts.Filename = name
	return e.im.Import(context.Background(), e.dir, strings.NewReader(content), int64(len(content)), opts)
}

func (e *env) mustRun(t testing.TB, name, content string, opts importer.Options) *importer.Result {
	t.Helper()
	res, err := e.run(t, name, content, opts)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res
}

func (e *env) user(t testing.TB, email string) identity.User {
	t.Helper()
	u, err := e.dir.Reader().UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("user %s: %v", email, err)
	}
	return u
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The reference's example: 7 rows, created 2 and 3, updated 4 and 6, skipped
// 5 and 8, an invalid email in row 7.
const referenceCSV = `email,firstName,lastName,department
new.one@acme.example,New,One,Sales
new.two@acme.example,New,Two,Sales
ada@acme.example,Ada,Lovelace-Byron,Research
bob@acme.example,Bob,Builder,Ops
cy@acme.example,Cy,Young,Marketing
not-an-email,Bad,Row,Ops
dee@acme.example,Dee,Dee,Ops
`

func referenceEnv(t *testing.T) *env {
	e := newEnv(t, importer.Config{})
	e.create(t, identity.User{Email: "ada@acme.example", GivenName: "Ada", FamilyName: "Lovelace", Attributes: map[string]string{"department": "Research"}}, true)
	e.create(t, identity.User{Email: "Bob@acme.example", GivenName: "Bob", FamilyName: "Builder", Attributes: map[string]string{"department": "Ops"}}, true)
	e.create(t, identity.User{Email: "cy@acme.example", GivenName: "Cy", FamilyName: "Young", Attributes: map[string]string{"department": "Sales"}}, true)
	e.create(t, identity.User{Email: "dee@acme.example", GivenName: "Dee", FamilyName: "Dee", Attributes: map[string]string{"department": "Ops"}}, true)
	e.sink.Reset()
	return e
}

const referenceJSON = `{
  "dryRun": false,
  "created": [
    2,
    3
  ],
  "updated": [
    4,
    6
  ],
  "deleted": 0,
  "skipped": [
    5,
    8
  ],
  "errors": [
    7
  ],
  "errorMessages": {
    "7": {
      "email": [
        "The email must be a valid email address."
      ]
    }
  },
  "rows": 7,
  "filename": "users.csv",
  "encoding": "utf-8"
}`

func TestReferenceExample(t *testing.T) {
	e := referenceEnv(t)
	res := e.mustRun(t, "users.csv", referenceCSV, importer.Options{Update: true})
	if got := jsonOf(t, res); got != referenceJSON {
		t.Fatalf("result:\n%s\nwant:\n%s", got, referenceJSON)
	}
	if u := e.user(t, "ada@acme.example"); u.FamilyName != "Lovelace-Byron" {
		t.Errorf("ada not updated: %+v", u)
	}
	if u := e.user(t, "new.two@acme.example"); u.GivenName != "New" || u.Attributes["department"] != "Sales" || !u.Active {
		t.Errorf("new.two: %+v", u)
	}
	if len(e.sink.Events()) == 0 {
		t.Error("no events emitted")
	}
	for _, ev := range e.sink.Events() {
		if ev.Source != identity.SourceImport {
			t.Errorf("event %v from source %q", ev.Type, ev.Source)
		}
	}
}

func TestDryRunEqualsRealRun(t *testing.T) {
	e := referenceEnv(t)
	dry := e.mustRun(t, "users.csv", referenceCSV, importer.Options{Update: true, DryRun: true})
	if len(e.sink.Events()) != 0 {
		t.Fatalf("dry run emitted %v", e.sink.Types())
	}
	if _, err := e.dir.Reader().UserByEmail(context.Background(), "new.one@acme.example"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("dry run created a user: %v", err)
	}
	if u := e.user(t, "ada@acme.example"); u.FamilyName != "Lovelace" {
		t.Fatalf("dry run updated ada: %+v", u)
	}
	real := e.mustRun(t, "users.csv", referenceCSV, importer.Options{Update: true})
	if !dry.DryRun || real.DryRun {
		t.Fatal("dryRun flag not reported")
	}
	dry.DryRun = false
	if a, b := jsonOf(t, dry), jsonOf(t, real); a != b {
		t.Fatalf("dry run:\n%s\nreal run:\n%s", a, b)
	}
}

func TestWithoutUpdateExistingAreSkipped(t *testing.T) {
	e := referenceEnv(t)
	res := e.mustRun(t, "users.csv", referenceCSV, importer.Options{})
	if !slices.Equal(res.Skipped, []int{4, 5, 6, 8}) || !slices.Equal(res.Created, []int{2, 3}) || len(res.Updated) != 0 {
		t.Fatalf("%s", jsonOf(t, res))
	}
	if u := e.user(t, "ada@acme.example"); u.FamilyName != "Lovelace" {
		t.Fatalf("ada changed without update: %+v", u)
	}
}

func TestDeactivateAndRestore(t *testing.T) {
	e := newEnv(t, importer.Config{Threshold: 1})
	e.create(t, identity.User{Email: "keep@acme.example"}, true)
	e.create(t, identity.User{Email: "gone@acme.example"}, true)
	e.create(t, identity.User{Email: "gone2@acme.example"}, true)
	e.create(t, identity.User{Email: "bad@acme.example"}, true)
	e.create(t, identity.User{Email: "back@acme.example"}, false)
	e.create(t, identity.User{Email: "still-off@acme.example"}, false)
	csv := "E-Mail;Vorname\nkeep@acme.example;Keep\nback@acme.example;Back\nbad@acme.example;\"x\ny\"\n"
	res := e.mustRun(t, "u.csv", csv, importer.Options{Deactivate: true, Restore: true})
	if res.Deleted != 2 || !slices.Equal(res.Updated, []int{3}) || !slices.Equal(res.Skipped, []int{2}) || !slices.Equal(res.Errors, []int{4}) {
		t.Fatalf("%s", jsonOf(t, res))
	}
	for email, active := range map[string]bool{"keep@acme.example": true, "gone@acme.example": false, "gone2@acme.example": false,
		"bad@acme.example": true, "back@acme.example": true, "still-off@acme.example": false} {
		if u := e.user(t, email); u.Active != active {
			t.Errorf("%s active = %v, want %v", email, u.Active, active)
		}
	}
	if got := res.ErrorMessages[4]["firstName"]; len(got) != 1 || !strings.Contains(got[0], "line breaks") {
		t.Errorf("messages: %v", res.ErrorMessages)
	}
}

// A user without an email cannot be listed in a file, so deactivate leaves
// them alone.
func TestDeactivateSparesUsersWithoutEmail(t *testing.T) {
	e := newEnv(t, importer.Config{Threshold: 1})
	kiosk := e.create(t, identity.User{UserName: "kiosk-3"}, true)
	e.create(t, identity.User{Email: "gone@acme.example"}, true)
	e.create(t, identity.User{Email: "keep@acme.example"}, true)
	res := e.mustRun(t, "u.csv", "email\nkeep@acme.example\n", importer.Options{Deactivate: true})
	if res.Deleted != 1 {
		t.Fatalf("deleted = %d, want 1: %s", res.Deleted, jsonOf(t, res))
	}
	u, err := e.dir.Reader().User(context.Background(), kiosk.ID)
	if err != nil || !u.Active {
		t.Errorf("the user without an email: active=%v, %v; want still active", u.Active, err)
	}
	if e.user(t, "gone@acme.example").Active {
		t.Error("gone@acme.example is still active")
	}
}

// Protect may read the tenant's data through the transaction's reader: here
// it keeps the members of an "Admins" group.
func TestProtectReadsThroughTheTransaction(t *testing.T) {
	protect := func(ctx context.Context, rd identity.Reader, u identity.User) bool {
		gs, err := rd.UserGroups(ctx, u.ID)
		if err != nil {
			t.Errorf("UserGroups in Protect: %v", err)
			return true
		}
		return slices.ContainsFunc(gs, func(g identity.Group) bool { return g.Name == "Admins" })
	}
	e := newEnv(t, importer.Config{Threshold: 1, Protect: protect})
	root := e.create(t, identity.User{Email: "root@acme.example"}, true)
	e.create(t, identity.User{Email: "gone@acme.example"}, true)
	e.create(t, identity.User{Email: "keep@acme.example"}, true)
	admins, err := e.dir.CreateGroup(context.Background(), identity.SourceManual, "Admins", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.AddMember(context.Background(), identity.SourceManual, admins.ID, root.ID); err != nil {
		t.Fatal(err)
	}
	res := e.mustRun(t, "u.csv", "email\nkeep@acme.example\n", importer.Options{Deactivate: true})
	if res.Deleted != 1 || !e.user(t, "root@acme.example").Active || e.user(t, "gone@acme.example").Active {
		t.Fatalf("want only gone@ deactivated: %s", jsonOf(t, res))
	}
}

func TestDeactivateThresholdAndProtect(t *testing.T) {
	var admin identity.User
	e := newEnv(t, importer.Config{Protect: func(_ context.Context, _ identity.Reader, u identity.User) bool { return u.ID == admin.ID }})
	admin = e.create(t, identity.User{Email: "admin@acme.example"}, true)
	e.create(t, identity.User{Email: "a@acme.example"}, true)
	e.create(t, identity.User{Email: "b@acme.example"}, true)
	e.create(t, identity.User{Email: "c@acme.example"}, true)
	csv := "email\na@acme.example\n"
	_, err := e.run(t, "u.csv", csv, importer.Options{Deactivate: true})
	var te *importer.ThresholdError
	if !errors.As(err, &te) || !errors.Is(err, importer.ErrThreshold) || te.Deactivate != 2 || te.Active != 4 {
		// 2 of 4 is not more than half: allowed. Make it 3 of 4 below.
		if err != nil {
			t.Fatalf("unexpected: %v", err)
		}
	}
	// That run deactivated b and c (admin protected): restore them.
	e.mustRun(t, "u.csv", "email\nb@acme.example\nc@acme.example\n", importer.Options{Restore: true})
	_, err = e.run(t, "u.csv", "email\nnobody@acme.example\n", importer.Options{Deactivate: true, DryRun: true})
	if !errors.As(err, &te) || te.Deactivate != 3 || te.Active != 4 {
		t.Fatalf("want a threshold error for 3 of 4, got %v", err)
	}
	res := e.mustRun(t, "u.csv", "email\nnobody@acme.example\n", importer.Options{Deactivate: true, Force: true})
	if res.Deleted != 3 {
		t.Fatalf("%s", jsonOf(t, res))
	}
	if !e.user(t, "admin@acme.example").Active {
		t.Fatal("protected admin deactivated")
	}
}

func TestRowRules(t *testing.T) {
	// A file of 1,000 rows or more reads the tenant's users up front.
	for _, pad := range []int{0, 1000} {
		t.Run(strconv.Itoa(pad), func(t *testing.T) { testRowRules(t, pad) })
	}
}

func testRowRules(t *testing.T, pad int) {
	e := newEnv(t, importer.Config{})
	ctx := context.Background()
	ext, err := e.dir.CreateGroup(ctx, "scim", "Okta Staff", "ext-1")
	if err != nil || ext.Kind != groups.External {
		t.Fatalf("external group: %+v %v", ext, err)
	}
	e.create(t, identity.User{Email: "taken@acme.example", UserName: "dup@acme.example"}, true)
	csv := "Email,First Name,Gruppen,Active\n" +
		"a@acme.example,A,\"Berlin, Staff\",1\n" +
		"\n" +
		"A@ACME.example,A2,,\n" +
		"b@acme.example,B,okta staff,true\n" +
		",C,,\n" +
		"d@acme.example,D,,maybe\n" +
		"dup@acme.example,Dup,,\n" +
		"e@acme.example,E,staff,false\n" +
		" , ,,\n"
	for i := range pad {
		csv += "pad" + strconv.Itoa(i) + "@acme.example,,,\n"
	}
	res := e.mustRun(t, "rules.csv", csv, importer.Options{})
	want := map[int]string{
		4: "The email has already been given in row 2.",
		5: "managed by the identity provider",
		6: "The email field is required.",
		7: "The active field must be true or false.",
		8: "The email is already the user name of another user.",
	}
	if !slices.Equal(res.Created[:2], []int{2, 9}) || res.Rows != 7+pad {
		t.Fatalf("%s", jsonOf(t, res))
	}
	for row, msg := range want {
		var all []string
		for _, m := range res.ErrorMessages[row] {
			all = append(all, m...)
		}
		if !strings.Contains(strings.Join(all, " "), msg) {
			t.Errorf("row %d: messages %v, want %q", row, all, msg)
		}
	}
	a := e.user(t, "a@acme.example")
	gs, _ := e.dir.Reader().UserGroups(ctx, a.ID)
	if len(gs) != 2 || gs[0].Kind != groups.Internal || gs[0].Source != identity.SourceImport {
		t.Fatalf("groups of a: %+v", gs)
	}
	if u := e.user(t, "e@acme.example"); u.Active {
		t.Error("active=false created an active user")
	}
	if _, err := e.dir.Reader().UserByEmail(ctx, "b@acme.example"); !errors.Is(err, identity.ErrNotFound) {
		t.Error("row with an external group was applied")
	}
}

func TestUpdateSyncsInternalGroups(t *testing.T) {
	e := newEnv(t, importer.Config{})
	e.mustRun(t, "g.csv", "email,groups\nx@acme.example,\"One, Two\"\n", importer.Options{})
	res := e.mustRun(t, "g.csv", "email,groups\nx@acme.example,\"two,Three\"\n", importer.Options{Update: true})
	if !slices.Equal(res.Updated, []int{2}) {
		t.Fatalf("%s", jsonOf(t, res))
	}
	gs, _ := e.dir.Reader().UserGroups(context.Background(), e.user(t, "x@acme.example").ID)
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Three", "Two"}) {
		t.Fatalf("groups %v", names)
	}
	res = e.mustRun(t, "g.csv", "email,groups\nx@acme.example,\"Two, three\"\n", importer.Options{Update: true})
	if !slices.Equal(res.Skipped, []int{2}) {
		t.Fatalf("%s", jsonOf(t, res))
	}
}

func TestHeaderErrors(t *testing.T) {
	e := newEnv(t, importer.Config{})
	for name, csv := range map[string]string{
		"unknown":  "email,shoe size\na@acme.example,42\n",
		"no email": "first name\nA\n",
		"empty":    "",
		"dup":      "email,E-Mail\na@acme.example,b@acme.example\n",
	} {
		_, err := e.run(t, "h.csv", csv, importer.Options{})
		if !errors.Is(err, importer.ErrUnreadable) {
			t.Errorf("%s: %v", name, err)
		} else if name == "unknown" && !strings.Contains(err.Error(), `"shoe size"`) {
			t.Errorf("unknown column not named: %v", err)
		}
	}
	keep := newEnv(t, importer.Config{KeepUnknownColumns: true})
	keep.mustRun(t, "h.csv", "email,Shoe Size\na@acme.example,42\n", importer.Options{})
	if u := keep.user(t, "a@acme.example"); u.Attributes["Shoe Size"] != "42" {
		t.Fatalf("%+v", u)
	}
}

func TestLimits(t *testing.T) {
	e := newEnv(t, importer.Config{MaxFileSize: 40, MaxRows: 2})
	_, err := e.run(t, "l.csv", "email\na@acme.example\nb@acme.example\nc@acme.example\n", importer.Options{})
	var le *importer.LimitError
	if !errors.As(err, &le) || le.What != "file size" || !errors.Is(err, importer.ErrTooLarge) {
		t.Fatalf("size: %v", err)
	}
	_, err = e.run(t, "l.csv", "email\na@x.de\nb@x.de\nc@x.de\n", importer.Options{})
	if !errors.As(err, &le) || le.What != "rows" {
		t.Fatalf("rows: %v", err)
	}
}

func TestFormatMismatchAndUnknown(t *testing.T) {
	e := newEnv(t, importer.Config{})
	_, err := e.run(t, "users.xlsx", "email\na@acme.example\n", importer.Options{})
	if !errors.Is(err, importer.ErrUnknownFormat) || !strings.Contains(err.Error(), "XLSX") {
		t.Fatalf("mismatch: %v", err)
	}
	_, err = e.run(t, "users.dat", "%PDF-1.4\x00\x01\x02", importer.Options{})
	if !errors.Is(err, importer.ErrUnknownFormat) {
		t.Fatalf("pdf: %v", err)
	}
	// Named CSV, binary content is an unreadable CSV, not another format.
	_, err = e.run(t, "users.csv", "%PDF-1.4\x00\x01\x02", importer.Options{})
	if !errors.Is(err, importer.ErrUnreadable) || !strings.Contains(err.Error(), "the file is binary, not CSV") {
		t.Fatalf("pdf named csv: %v", err)
	}
	// A text file with any other name is read by its content.
	e.mustRun(t, "users.dat", "email\na@acme.example\n", importer.Options{})
}

func TestProgress(t *testing.T) {
	e := newEnv(t, importer.Config{})
	var b bytes.Buffer
	b.WriteString("email\n")
	for i := range 2500 {
		b.WriteString("u" + string(rune('a'+i%26)) + strings.Repeat("x", i%7) + "-" + strconv.Itoa(i) + "@acme.example\n")
	}
	var last importer.Progress
	calls := 0
	_, err := e.im.Import(context.Background(), e.dir, bytes.NewReader(b.Bytes()), int64(b.Len()), importer.Options{
		Progress: func(p importer.Progress) {
			// The file is read whole before it is checked: from then on
			// the total is known (never 1000/0 rows).
			if p.Phase != "read" && p.Total != 2500 {
				t.Errorf("total unknown after reading: %+v", p)
			}
			last = p
			calls++
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if last.Phase != "apply" || last.Applied != 2500 || last.Total != 2500 || calls < 6 {
		t.Fatalf("last %+v after %d calls", last, calls)
	}
}

// retryStore runs every transaction twice, rolling the first attempt back, as
// a store does after a serialization failure.
type retryStore struct {
	*memory.Store
}

var errRetry = errors.New("retry")

func (s retryStore) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	err := s.Store.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return errRetry
	})
	if err != errRetry {
		return err
	}
	return s.Store.Tx(ctx, fn)
}

func TestRetriedTransaction(t *testing.T) {
	e := referenceEnv(t)
	dir, err := identity.New(retryStore{memory.New().Tenant("acme")}, identity.Config{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	seed := "email,firstName,lastName,department\nada@acme.example,Ada,Lovelace,Research\nbob@acme.example,Bob,Builder,Ops\ncy@acme.example,Cy,Young,Sales\ndee@acme.example,Dee,Dee,Ops\n"
	if _, err := e.im.Import(context.Background(), dir, strings.NewReader(seed), int64(len(seed)), importer.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.CreateUser(context.Background(), identity.SourceManual, identity.User{Email: "z@acme.example", UserName: "new.two@acme.example"}, identity.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	csv := referenceCSV + "x@acme.example,X,X,\"a\nb\"\n"
	res, err := e.im.Import(context.Background(), dir, strings.NewReader(csv), int64(len(csv)), importer.Options{Update: true, Filename: "users.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Created, []int{2}) || !slices.Equal(res.Errors, []int{3, 7, 9}) || len(res.ErrorMessages[3]["email"]) != 1 {
		t.Fatalf("%s", jsonOf(t, res))
	}
}

// Export neutralises formula injection and the import undoes it, but only
// what export added: a value that itself starts with a quote before = + - @
// comes back as it was, in CSV and XLSX.
func TestExportKeepsLeadingQuotes(t *testing.T) {
	for _, format := range []string{"csv", "xlsx"} {
		e := newEnv(t, importer.Config{})
		want := map[string]string{"department": "'-Sales", "phone": "''+49 30", "employeeNumber": "'=1"}
		e.create(t, identity.User{Email: "ada@acme.example", DisplayName: "'@ada", Attributes: want}, true)
		var file bytes.Buffer
		if err := importer.Export(context.Background(), e.dir.Reader(), format, &file); err != nil {
			t.Fatal(err)
		}
		res := e.mustRun(t, "users."+format, file.String(), importer.Options{Update: true})
		u := e.user(t, "ada@acme.example")
		if !slices.Equal(res.Skipped, []int{2}) || u.DisplayName != "'@ada" || !maps.Equal(u.Attributes, want) {
			t.Fatalf("%s: %s, user %+v", format, jsonOf(t, res), u)
		}
	}
}
