package importer_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
)

// fixture is testdata/users.csv as a spreadsheet shows it, by row.
var fixture = map[int][]string{
	1: {"email", "firstName", "lastName", "displayName", "department", "phone", "employeeNumber", "active", "groups", "hireDate", "zip"},
	2: {"anna.mueller@example.com", "Anna", "Müller", "", "Entwicklung", "030 1234567", "100001", "true", "Berlin,Staff", "2020-10-05", "01067"},
	3: {"lukasz@example.com", "Łukasz", "Dvořák", "Łukasz D.", "Ops", "06526624009", "100002", "false", "Staff", "2019-01-31", "80331"},
	4: {"yamada@example.com", "太郎", "山田", "山田太郎", "東京", "+81 3 1234 5678", "100003", "true", "東京", "2021-12-24", "00501"},
	6: {"oleg@example.com", "Олег", "Петров", "", "Sales", "(555) 010-0199", "100004", "true", "", "2018-07-01", "10115"},
	7: {"francoise@example.com", "Françoise", "Côté", "", "Marketing", "0049 89 1234", "100005", "false", "Staff, Paris", "2022-02-28", "75001"},
	8: {"not-an-email", "Bad", "Row", "", "Ops", "0123", "100006", "true", "", "2020-01-01", "00000"},
	9: {"nguyen@example.com", "Nguyễn", "Văn An", "", "Ops", "0912 345 678", "100007", "true", "Hà Nội", "2023-03-15", "70000"},
}

// fixtureFiles lists the fixtures, by format, with how they differ from
// users.csv: text exports keep TRUE/FALSE as text, and Windows-1252 cannot
// hold every name.
var fixtureFiles = []struct {
	file, format string
	cp1252       bool
}{
	{"users.csv", importer.FormatCSV, false},
	{"users_semicolon_bom.csv", importer.FormatCSV, false},
	{"users_unicode.txt", importer.FormatCSV, false},
	{"users_cp1252.csv", importer.FormatCSV, true},
	{"users.xlsx", importer.FormatXLSX, false},
	{"users.ods", importer.FormatODS, false},
	{"users.xls", importer.FormatXLS, false},
}

func openFixture(t testing.TB, name string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	return f, st.Size()
}

// readAll reads a file's rows, trailing empty cells left out.
func readAll(t testing.TB, im *importer.Importer, format string, f io.ReaderAt, size int64) map[int][]string {
	t.Helper()
	src, err := im.OpenFormat(format, f, size)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rows := map[int][]string{}
	for {
		row, cells, err := src.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		cells = slices.Clone(cells)
		for len(cells) > 0 && cells[len(cells)-1] == "" {
			cells = cells[:len(cells)-1]
		}
		if len(cells) > 0 {
			rows[row] = cells
		}
	}
}

func TestFixtureCells(t *testing.T) {
	im, _ := importer.New(importer.Config{}, identity.Deps{})
	for _, fx := range fixtureFiles {
		t.Run(fx.file, func(t *testing.T) {
			f, size := openFixture(t, fx.file)
			format, err := importer.Detect(f, size)
			if err != nil || format != fx.format {
				t.Fatalf("Detect = %q, %v", format, err)
			}
			got := readAll(t, im, format, f, size)
			if len(got) != len(fixture) {
				t.Errorf("%d rows, want %d: %v", len(got), len(fixture), got)
			}
			for row, want := range fixture {
				cells := got[row]
				if len(cells) != len(want) {
					t.Errorf("row %d: %q, want %q", row, cells, want)
					continue
				}
				for i, w := range want {
					c := cells[i]
					if c == "TRUE" || c == "FALSE" {
						c = strings.ToLower(c) // text stays text
					}
					if fx.cp1252 && strings.ContainsRune(c, '?') {
						continue // lost when the file was written
					}
					if c != w {
						t.Errorf("row %d col %d: %q, want %q", row, i+1, c, w)
					}
				}
			}
		})
	}
}

func TestFixtureImport(t *testing.T) {
	for _, fx := range fixtureFiles {
		t.Run(fx.file, func(t *testing.T) {
			e := newEnv(t, importer.Config{KeepUnknownColumns: true})
			f, size := openFixture(t, fx.file)
			opts := importer.Options{Filename: fx.file}
			if fx.cp1252 {
				opts.Encoding = importer.EncodingWindows1252
			}
			res, err := e.im.Import(t.Context(), e.dir, f, size, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Created, []int{2, 3, 4, 6, 7, 9}) || !slices.Equal(res.Errors, []int{8}) || res.Rows != 7 {
				t.Fatalf("%s", jsonOf(t, res))
			}
			anna := e.user(t, "anna.mueller@example.com")
			if anna.FamilyName != "Müller" || anna.Attributes["phone"] != "030 1234567" || anna.Attributes["zip"] != "01067" ||
				anna.Attributes["hireDate"] != "2020-10-05" || anna.Attributes["employeeNumber"] != "100001" || !anna.Active {
				t.Errorf("anna: %+v", anna)
			}
			if u := e.user(t, "lukasz@example.com"); u.Active || u.Attributes["phone"] != "06526624009" {
				t.Errorf("lukasz: %+v", u)
			}
		})
	}
}

func TestDetectByContent(t *testing.T) {
	e := newEnv(t, importer.Config{})
	f, size := openFixture(t, "users.ods")
	_, err := e.im.Import(t.Context(), e.dir, f, size, importer.Options{Filename: "users.xlsx"})
	if !errors.Is(err, importer.ErrUnknownFormat) || !strings.Contains(err.Error(), "ODS") {
		t.Fatalf("%v", err)
	}
}

// Excel writes a date typed into a cell with the built-in format 14, which
// it shows in the reader's locale (10/5/2020, 05.10.2020) and excelize as
// mm-dd-yy: the import reads it as an ISO date, as it does in the other
// formats.
func TestXLSXBuiltinDateIsISO(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	f.SetCellValue("Sheet1", "A1", "email")
	f.SetCellValue("Sheet1", "B1", "hired")
	f.SetCellValue("Sheet1", "A2", "ada@example.com")
	f.SetCellValue("Sheet1", "B2", time.Date(2020, 10, 5, 0, 0, 0, 0, time.UTC))
	style, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		t.Fatal(err)
	}
	f.SetCellStyle("Sheet1", "B2", "B2", style)
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	im, _ := importer.New(importer.Config{}, identity.Deps{})
	rows := readAll(t, im, importer.FormatXLSX, bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if got := rows[2]; !slices.Equal(got, []string{"ada@example.com", "2020-10-05"}) {
		t.Fatalf("row 2: %q", got)
	}
}

// A Windows-1252 file whose first byte outside ASCII comes late (after the
// first 64 KB) is refused, naming that byte's row and column, unless the
// import names the encoding; then it is read as Windows-1252, in a dry run
// and for real, and the result says so.
func TestWindows1252Late(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("email,lastName\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "user%05d@acme.example,Smith\n", i)
	}
	b.WriteString("last@acme.example,M\xfcller\n") // ü in Windows-1252
	for _, dry := range []bool{true, false} {
		e := newEnv(t, importer.Config{})
		_, err := e.run(t, "users.csv", b.String(), importer.Options{DryRun: dry})
		if !errors.Is(err, importer.ErrUnreadable) || !strings.Contains(err.Error(), "row 5002, column 2 (lastName)") || !strings.Contains(err.Error(), "encoding=windows-1252") {
			t.Fatalf("dry run %v: %v", dry, err)
		}
		if n := e.countUsers(t); n != 0 {
			t.Fatalf("dry run %v: %d users after a refused file", dry, n)
		}
		res := e.mustRun(t, "users.csv", b.String(), importer.Options{DryRun: dry, Encoding: importer.EncodingWindows1252})
		if res.Encoding != importer.EncodingWindows1252 || len(res.Created) != 5001 || len(res.Errors) != 0 {
			t.Fatalf("dry run %v: created %d, errors %v", dry, len(res.Created), res.ErrorMessages)
		}
		if !dry {
			if u := e.user(t, "last@acme.example"); u.FamilyName != "Müller" {
				t.Fatalf("family name %q", u.FamilyName)
			}
		}
	}
}

// Progress never goes back, though a Windows-1252 file is read twice.
func TestProgressForwardOnSecondReading(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("email,lastName\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "user%05d@acme.example,Smith\n", i)
	}
	b.WriteString("last@acme.example,M\xfcller\n")
	for _, dry := range []bool{true, false} {
		e := newEnv(t, importer.Config{})
		var last importer.Progress
		calls := 0
		e.mustRun(t, "u.csv", b.String(), importer.Options{DryRun: dry, Encoding: importer.EncodingWindows1252, Progress: func(p importer.Progress) {
			calls++
			if p.Phase == last.Phase && (p.Read < last.Read || p.Checked < last.Checked || p.Applied < last.Applied) {
				t.Errorf("dry run %v: progress went back from %+v to %+v", dry, last, p)
			}
			last = p
		}})
		if calls == 0 || last.Total != 5001 {
			t.Errorf("dry run %v: %d calls, last %+v", dry, calls, last)
		}
	}
}
