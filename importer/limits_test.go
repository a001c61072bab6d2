package importer_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/importer"
)

// bomb returns a small archive whose part inflates to n bytes.
func bomb(t *testing.T, marker string, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	switch marker {
	case "ods":
		w, _ := zw.Create("mimetype")
		w.Write([]byte("application/vnd.oasis.opendocument.spreadsheet"))
		w, _ = zw.Create("content.xml")
		w.Write([]byte(`<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"><!--`))
		w.Write(bytes.Repeat([]byte(" "), n))
	case "xlsx":
		w, _ := zw.Create("xl/workbook.xml")
		w.Write([]byte("<workbook/>"))
		w, _ = zw.Create("xl/worksheets/sheet1.xml")
		w.Write(bytes.Repeat([]byte(" "), n))
	}
	zw.Close()
	return buf.Bytes()
}

func TestZipBombs(t *testing.T) {
	e := newEnv(t, importer.Config{MaxUncompressed: 1 << 20})
	for _, format := range []string{"ods", "xlsx"} {
		b := bomb(t, format, 8<<20)
		if len(b) > 100<<10 {
			t.Fatalf("bomb of %d bytes", len(b))
		}
		_, err := e.run(t, "bomb."+format, string(b), importer.Options{})
		var le *importer.LimitError
		if !errors.As(err, &le) || le.What != "uncompressed size" {
			t.Errorf("%s: %v", format, err)
		}
	}
}

// A content.xml that declares other prefixes reads the same.
func TestODSPrefixes(t *testing.T) {
	const doc = `<?xml version="1.0"?><o:document-content xmlns:o="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:t="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:x="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><o:body><o:spreadsheet><t:table><t:table-row><t:table-cell><x:p>email</x:p></t:table-cell></t:table-row><t:table-row><t:table-cell o:value-type="string"><x:p>a@acme.example</x:p></t:table-cell></t:table-row></t:table></o:spreadsheet></o:body></o:document-content>`
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("mimetype")
	w.Write([]byte("application/vnd.oasis.opendocument.spreadsheet"))
	w, _ = zw.Create("content.xml")
	w.Write([]byte(doc))
	zw.Close()
	e := newEnv(t, importer.Config{})
	res := e.mustRun(t, "p.ods", buf.String(), importer.Options{})
	if len(res.Created) != 1 || res.Created[0] != 2 {
		t.Fatalf("%s", jsonOf(t, res))
	}
	_, err := e.run(t, "p.ods", strings.Replace(buf.String(), "content.xml", "contenX.xml", -1), importer.Options{})
	if !errors.Is(err, importer.ErrUnreadable) {
		t.Fatalf("no content.xml: %v", err)
	}
}
