package importer_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
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
		{"xlsx end tag missing", "u.xlsx", xlsxOf(t, inline("email"), `<c t="inlineStr"><is><t>ann@acme.example</t></is>`, inline("cy@acme.example")), []string{"xl/worksheets/sheet1.xml", "row 2"}},
		{"ods end tag missing", "u.ods", odsOf(t, `<table:table-row>`+odsCell("email")+`</table:table-row><table:table-row><table:table-cell><text:p>ann@acme.example</table:table-cell></table:table-row><table:table-row>`+odsCell("cy@acme.example")+`</table:table-row>`), []string{"content.xml"}},
		{"xlsx cut short", "u.xlsx", xlsxOf(t, `<sheetData><row r="1">`+inline("email")+`</row><row r="2">`+inline("ann@acme.example")+`</row>`), []string{"xl/worksheets/sheet1.xml"}},
		{"xlsx missing shared string", "u.xlsx", xlsxOf(t, inline("email"), `<c t="s"><v>7</v></c>`), []string{"row 2", "shared string"}},
		{"ods entity", "u.ods", odsOf(t, `<table:table-row>`+odsCell("email")+`</table:table-row><table:table-row>`+odsCell("ann@acme.example")+`</table:table-row><table:table-row>`+odsCell("bob&nbsp;@x")+`</table:table-row>`), []string{"content.xml"}},
		{"ods cut short", "u.ods", zipOf(t, "mimetype", "application/vnd.oasis.opendocument.spreadsheet", "content.xml", `<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table><table:table-row>`+odsCell("email")+`</table:table-row><table:table-row>`+odsCell("ann@acme.example")+`</table:table-row>`), []string{"content.xml"}},
		{"xls truncated", "u.xls", xls[:len(xls)*3/4], []string{"xls"}},
		{"csv quote never closed", "u.csv", []byte("email,lastName\nann@acme.example,\"Ann\nbob@acme.example,Bob\ncy@acme.example,Cy\n"), []string{"after row 1", "never closed"}},
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

// post sends a multipart body made by build to the import endpoint.
func post(t *testing.T, url, contentType string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/users/import", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The import endpoint's answers at its edges.
func TestHTTPEdges(t *testing.T) {
	e := newEnv(t, importer.Config{})
	ts := newServer(t, e)

	// A text field named file is no file: 400 naming the field, not an
	// empty import answered 200.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("file", "email\nada@acme.example\n")
	mw.Close()
	if status, msg := post(t, ts.URL, mw.FormDataContentType(), body.Bytes()); status != 400 || !strings.Contains(msg, `"file"`) {
		t.Errorf("text field named file: %d %s", status, msg)
	}
	// A browser's form with no file chosen sends an empty file part with
	// an empty filename: that is a missing file (422), not a text field.
	if resp, msg := upload(t, ts.URL, "", nil, nil); resp.StatusCode != 422 || !strings.Contains(string(msg), "empty") {
		t.Errorf("empty file part: %d %s", resp.StatusCode, msg)
	}
	// multipart without a boundary: 422, as the docs say.
	if status, msg := post(t, ts.URL, "multipart/form-data", body.Bytes()); status != 422 || !strings.Contains(msg, "file") {
		t.Errorf("no boundary: %d %s", status, msg)
	}
	// A wrong method: 405 with Allow.
	resp, err := http.Get(ts.URL + "/api/v1/users/import")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET import: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// A NUL byte: 422, "the file is binary, not CSV".
	resp, msg := upload(t, ts.URL, "u.csv", []byte("email\nada@acme.example\nb\x00b@acme.example\n"), nil)
	if resp.StatusCode != 422 || !strings.Contains(string(msg), "the file is binary, not CSV") || !strings.Contains(string(msg), "row 3, column 1 (email)") {
		t.Errorf("NUL: %d %s", resp.StatusCode, msg)
	}
	// Windows-1252: refused unless named, then read as such and reported.
	cp := []byte("email,lastName\nada@acme.example,M\xfcller\n")
	if resp, msg := upload(t, ts.URL, "u.csv", cp, nil); resp.StatusCode != 422 || !strings.Contains(string(msg), "row 2, column 2 (lastName)") {
		t.Errorf("Windows-1252 unnamed: %d %s", resp.StatusCode, msg)
	}
	if resp, msg := upload(t, ts.URL, "u.csv", cp, map[string]string{"encoding": "latin-9"}); resp.StatusCode != 422 || !strings.Contains(string(msg), `"encoding"`) {
		t.Errorf("unknown encoding: %d %s", resp.StatusCode, msg)
	}
	resp, msg = upload(t, ts.URL, "u.csv", cp, map[string]string{"encoding": "windows-1252"})
	var res importer.Result
	if err := json.Unmarshal(msg, &res); resp.StatusCode != 200 || err != nil || res.Encoding != "windows-1252" || len(res.Created) != 1 {
		t.Fatalf("Windows-1252 named: %d %s", resp.StatusCode, msg)
	}
	if u := e.user(t, "ada@acme.example"); u.FamilyName != "Müller" {
		t.Errorf("family name %q", u.FamilyName)
	}
}

// An upload is unlinked as soon as it is open, so that a crash leaves no
// personal data on disk, and a new Handler sweeps what an earlier run left.
func TestHTTPUploadLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"rollcall-import-123", "rollcall-export-9", "keep.csv"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("ada@acme.example"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	listDir := func() []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	seen := -1
	e := newEnv(t, importer.Config{Threshold: 1, Protect: func(context.Context, identity.Reader, identity.User) bool {
		// Asked while the upload is being imported.
		seen = len(listDir())
		return false
	}})
	e.create(t, identity.User{Email: "old@acme.example"}, true)
	h, err := importer.NewHandler(importer.HandlerConfig{
		Importer: e.im, TempDir: dir,
		Resolve: identity.Fixed(identity.Tenant{Directory: e.dir}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := listDir(); len(got) != 1 || got[0] != "keep.csv" {
		t.Fatalf("after the sweep: %q", got)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	resp, msg := upload(t, ts.URL, "u.csv", []byte("email\nada@acme.example\n"), map[string]string{"deactivate": "1"})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, msg)
	}
	if seen != 1 {
		t.Errorf("%d files in the upload directory while importing, want only keep.csv", seen)
	}
	if got := listDir(); len(got) != 1 {
		t.Errorf("after the import: %q", got)
	}
}

// One Windows-1252 byte in an otherwise UTF-8 file is no reason to read
// the whole file as Windows-1252 (José would become JosÃ©): the file is
// refused, naming the row and column of that byte, and nothing changes.
func TestMixedEncodingRefused(t *testing.T) {
	e := newEnv(t, importer.Config{})
	e.create(t, identity.User{Email: "jose@acme.example", GivenName: "José"}, true)
	file := "email,firstName\njose@acme.example,José\nrene@acme.example,Ren\xe9\n"
	for _, dry := range []bool{true, false} {
		_, err := e.run(t, "u.csv", file, importer.Options{Update: true, DryRun: dry})
		if !errors.Is(err, importer.ErrUnreadable) || !strings.Contains(err.Error(), "row 3, column 2 (firstName)") {
			t.Fatalf("dry run %v: %v", dry, err)
		}
	}
	if u := e.user(t, "jose@acme.example"); u.GivenName != "José" || e.countUsers(t) != 1 {
		t.Fatalf("%+v, %d users", u, e.countUsers(t))
	}
}

// UTF-16 without a BOM is recognised, and the result says so.
func TestUTF16WithoutBOM(t *testing.T) {
	for _, order := range []string{"utf-16le", "utf-16be"} {
		e := newEnv(t, importer.Config{})
		var b bytes.Buffer
		for _, r := range "email\tlastName\r\nada@acme.example\tMüller\r\n" {
			if order == "utf-16le" {
				b.Write([]byte{byte(r), byte(r >> 8)})
			} else {
				b.Write([]byte{byte(r >> 8), byte(r)})
			}
		}
		res := e.mustRun(t, "u.txt", b.String(), importer.Options{})
		if res.Encoding != order || len(res.Created) != 1 {
			t.Fatalf("%s: %s", order, jsonOf(t, res))
		}
		if u := e.user(t, "ada@acme.example"); u.FamilyName != "Müller" {
			t.Fatalf("%s: %q", order, u.FamilyName)
		}
	}
}

// Rows with errors are capped: a file of little else is refused, and with
// deactivate changes nothing.
func TestMaxErrorRows(t *testing.T) {
	e := newEnv(t, importer.Config{MaxErrorRows: 2, Threshold: 1})
	e.create(t, identity.User{Email: "old@acme.example"}, true)
	res := e.mustRun(t, "u.csv", "email\nada@acme.example\nx\ny\n", importer.Options{DryRun: true})
	if len(res.Errors) != 2 {
		t.Fatalf("%s", jsonOf(t, res))
	}
	_, err := e.run(t, "u.csv", "email\nada@acme.example\nx\ny\nada@acme.example\n", importer.Options{Deactivate: true})
	var le *importer.LimitError
	if !errors.As(err, &le) || le.What != "rows with errors" || le.Limit != 2 {
		t.Fatalf("%v", err)
	}
	if e.countUsers(t) != 1 || e.activeCount(t) != 1 {
		t.Fatal("the refused file changed the tenant")
	}
}
