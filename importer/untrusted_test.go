package importer_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
)

func (e *env) countUsers(t testing.TB) int {
	t.Helper()
	page, err := e.dir.Reader().ListUsers(context.Background(), identity.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return page.Total
}

func (e *env) activeCount(t testing.TB) int {
	t.Helper()
	active := true
	page, err := e.dir.Reader().ListUsers(context.Background(), identity.UserQuery{Active: &active})
	if err != nil {
		t.Fatal(err)
	}
	return page.Total
}

// zipOf writes an archive of the given parts, in order.
func zipOf(t testing.TB, parts ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < len(parts); i += 2 {
		w, err := zw.Create(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(parts[i+1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const (
	xlsxWorkbook = `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="users" sheetId="1" r:id="rId1"/></sheets></workbook>`
	xlsxRels     = `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`
)

// xlsxOf is a workbook whose first sheet has the rows given, each an XML
// fragment of cells, or the rest of the sheet, as it is, when rows is one
// string that starts with "<sheetData".
func xlsxOf(t testing.TB, rows ...string) []byte {
	t.Helper()
	var sheet strings.Builder
	sheet.WriteString(`<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
	if len(rows) == 1 && strings.HasPrefix(rows[0], "<sheetData") {
		sheet.WriteString(rows[0]) // as it is, cut short perhaps
		return zipOf(t, "xl/workbook.xml", xlsxWorkbook, "xl/_rels/workbook.xml.rels", xlsxRels, "xl/worksheets/sheet1.xml", sheet.String())
	} else {
		sheet.WriteString("<sheetData>")
		for i, r := range rows {
			fmt.Fprintf(&sheet, `<row r="%d">%s</row>`, i+1, r)
		}
		sheet.WriteString("</sheetData>")
	}
	sheet.WriteString("</worksheet>")
	return zipOf(t, "xl/workbook.xml", xlsxWorkbook, "xl/_rels/workbook.xml.rels", xlsxRels, "xl/worksheets/sheet1.xml", sheet.String())
}

func inline(s string) string { return `<c t="inlineStr"><is><t>` + s + `</t></is></c>` }

// odsOf is an ODS document whose table has the rows given as XML.
func odsOf(t testing.TB, rows string) []byte {
	t.Helper()
	return zipOf(t, "mimetype", "application/vnd.oasis.opendocument.spreadsheet", "content.xml",
		`<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table>`+
			rows+`</table:table></office:spreadsheet></office:body></office:document-content>`)
}

func odsCell(s string) string {
	return `<table:table-cell><text:p>` + s + `</text:p></table:table-cell>`
}

// A damaged file of any format, imported with deactivate, changes nothing
// and fails with an error (422) that names the part and, where known, the
// row: no reader ends early without an error.
func TestDamagedFileDeactivatesNobody(t *testing.T) {
	xls, err := os.ReadFile(filepath.Join("testdata", "users.xls"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file string
		content    []byte
		want       []string
	}{
		{"xlsx entity", "u.xlsx", xlsxOf(t, inline("email"), inline("ann@acme.example"), inline("bob&nbsp;@acme.example"), inline("cy@acme.example")),
			[]string{"xl/worksheets/sheet1.xml", "row 3"}},
		{"xlsx bare ampersand", "u.xlsx", xlsxOf(t, inline("email"), inline("ann@acme.example"), inline("R&D")), []string{"xl/worksheets/sheet1.xml", "row 3"}},
		{"xlsx cut short", "u.xlsx", xlsxOf(t, `<sheetData><row r="1">`+inline("email")+`</row><row r="2">`+inline("ann@acme.example")+`</row>`), []string{"xl/worksheets/sheet1.xml"}},
		{"xlsx missing shared string", "u.xlsx", xlsxOf(t, inline("email"), `<c t="s"><v>7</v></c>`), []string{"row 2", "shared string"}},
		{"ods entity", "u.ods", odsOf(t, `<table:table-row>`+odsCell("email")+`</table:table-row><table:table-row>`+odsCell("ann@acme.example")+`</table:table-row><table:table-row>`+odsCell("bob&nbsp;@x")+`</table:table-row>`), []string{"content.xml"}},
		{"ods cut short", "u.ods", zipOf(t, "mimetype", "application/vnd.oasis.opendocument.spreadsheet", "content.xml", `<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table><table:table-row>`+odsCell("email")+`</table:table-row><table:table-row>`+odsCell("ann@acme.example")+`</table:table-row>`), []string{"content.xml"}},
		{"xls truncated", "u.xls", xls[:len(xls)*3/4], []string{"xls"}},
		{"csv not utf-8", "u.csv", []byte("email,lastName\nann@acme.example,Ann\nbob@acme.example,M\xfcller\n"), []string{"row 3, column 2 (lastName)"}},
		{"csv NUL", "u.csv", []byte("email,lastName\nann@acme.example,Ann\nbob@acme.example,B\x00b\n"), []string{"binary, not CSV", "row 3, column 2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, importer.Config{Threshold: 1})
			for _, email := range []string{"zed@acme.example", "yan@acme.example", "cy@acme.example"} {
				e.create(t, identity.User{Email: email}, true)
			}
			for _, dry := range []bool{false, true} {
				_, err := e.run(t, c.file, string(c.content), importer.Options{Deactivate: true, DryRun: dry})
				if !errors.Is(err, importer.ErrUnreadable) {
					t.Fatalf("dry run %v: %v, want unreadable", dry, err)
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("dry run %v: %q does not say %q", dry, err, w)
					}
				}
			}
			if n, a := e.countUsers(t), e.activeCount(t); n != 3 || a != 3 {
				t.Fatalf("%d users, %d active after a damaged file", n, a)
			}
		})
	}
}
