package importer

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// drain reads up to 10,000 rows of a source and checks what it returns.
func drain(t *testing.T, src RowSource) {
	t.Helper()
	defer src.Close()
	last := 0
	for range 10000 {
		row, cells, err := src.Next()
		if err != nil {
			return
		}
		if row <= last {
			t.Fatalf("row %d after %d", row, last)
		}
		last = row
		if len(cells) > maxColumns {
			t.Fatalf("%d cells", len(cells))
		}
	}
}

func fixtureBytes(f *testing.F, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzCSV(f *testing.F) {
	for _, name := range []string{"users.csv", "users_semicolon_bom.csv", "users_unicode.txt", "users_cp1252.csv"} {
		f.Add(fixtureBytes(f, name))
	}
	f.Add([]byte("a;b\n\"x\n\ny\";2\n\n\n1;2"))
	f.Add([]byte("email,name\nada@x.de,M\xfcller\n"))
	f.Add([]byte("email\na\x00b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		SniffDelimiter(string(b))
		if src, err := newCSVSource(bytes.NewReader(b), int64(len(b))); err == nil {
			drain(t, src)
		}
		// As an import reads it: UTF-8 unless a BOM says otherwise, and
		// a byte that is not (or a NUL) an error that says where.
		src, err := openText(bytes.NewReader(b), int64(len(b)), "")
		if err != nil {
			return
		}
		defer src.Close()
		for range 10000 {
			_, _, err := src.Next()
			if err == nil {
				continue
			}
			var fe *FileError
			if errors.As(err, &fe) && (strings.Contains(fe.Message, "not UTF-8") || strings.Contains(fe.Message, "binary")) && !strings.Contains(fe.Message, "in row") {
				t.Fatalf("no row for %v", err)
			}
			if src.enc == EncodingUTF8 && !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) && err == io.EOF && (!utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0) {
				t.Fatalf("text that is not UTF-8 (or has a NUL) read to its end")
			}
			return
		}
	})
}

// FuzzXLSX reads a workbook whose sheet and shared strings are the input,
// or the input as a whole file.
func FuzzXLSX(f *testing.F) {
	f.Add([]byte(`<worksheet><sheetData><row r="1"><c t="s"><v>0</v></c><c t="inlineStr"><is><t>x</t></is></c></row><row><c r="C2" s="0"><v>1.5</v></c></row></sheetData></worksheet>`),
		[]byte(`<sst><si><t>email</t></si><si><r><t>a</t></r><rPh><t>b</t></rPh></si></sst>`), false)
	f.Add([]byte(`<worksheet><sheetData><row r="1"><c t="s"><v>0</v></c>`), []byte(`<sst><si><t>R&D</t></si></sst>`), false)
	f.Add(fixtureBytes(f, "users.xlsx"), []byte{}, true)
	f.Fuzz(func(t *testing.T, sheet, sst []byte, whole bool) {
		b := sheet
		if !whole {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for _, p := range []struct{ name, data string }{
				{"xl/workbook.xml", `<workbook xmlns:r="r"><sheets><sheet r:id="rId1"/></sheets></workbook>`},
				{"xl/_rels/workbook.xml.rels", `<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="x/sharedStrings" Target="sharedStrings.xml"/></Relationships>`},
				{"xl/worksheets/sheet1.xml", string(sheet)},
				{"xl/sharedStrings.xml", string(sst)},
			} {
				w, _ := zw.Create(p.name)
				w.Write([]byte(p.data))
			}
			zw.Close()
			b = buf.Bytes()
		}
		src, err := newXLSXSource(bytes.NewReader(b), int64(len(b)), 1<<20)
		if err != nil {
			return
		}
		drain(t, src)
	})
}

func FuzzODS(f *testing.F) {
	f.Add([]byte(testContent))
	zr, err := zip.NewReader(bytes.NewReader(fixtureBytes(f, "users.ods")), int64(len(fixtureBytes(f, "users.ods"))))
	if err != nil {
		f.Fatal(err)
	}
	for _, zf := range zr.File {
		if zf.Name == "content.xml" && !testing.Short() {
			rc, _ := zf.Open()
			b, _ := io.ReadAll(rc)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		drain(t, newODSReader(io.NopCloser(bytes.NewReader(b)), 1<<20))
	})
}

func FuzzXLS(f *testing.F) {
	f.Add(testWorkbook(), false)
	f.Add(fixtureBytes(f, "users.xls"), true)
	f.Fuzz(func(t *testing.T, b []byte, compound bool) {
		var src RowSource
		var err error
		if compound {
			Detect(bytes.NewReader(b), int64(len(b)))
			src, err = newXLSSource(bytes.NewReader(b), int64(len(b)))
		} else {
			src, err = parseXLS(b)
		}
		if err != nil {
			return
		}
		drain(t, src)
	})
}

type xmlTok struct {
	kind  byte
	name  xml.Name
	attrs string
	text  string
}

// tokens lists the start, end and text tokens of a token source, adjacent
// text merged and whitespace-only text dropped.
func tokens(next func() (xml.Token, error)) ([]xmlTok, error) {
	var out []xmlTok
	for {
		tok, err := next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			attrs := ""
			for _, a := range t.Attr {
				attrs += a.Name.Space + ":" + a.Name.Local + "=" + a.Value + ";"
			}
			out = append(out, xmlTok{kind: 's', name: t.Name, attrs: attrs})
		case xml.EndElement:
			out = append(out, xmlTok{kind: 'e', name: t.Name})
		case xml.CharData:
			if n := len(out); n > 0 && out[n-1].kind == 't' {
				out[n-1].text += string(t)
			} else {
				out = append(out, xmlTok{kind: 't', text: string(t)})
			}
		}
	}
}

// FuzzXMLScanner checks the XLSX and ODS readers' tokenizer against
// encoding/xml: the same tokens as RawToken, and an error where Token finds
// one (an end tag that does not match, an element left open).
func FuzzXMLScanner(f *testing.F) {
	f.Add([]byte(testContent))
	f.Add([]byte(`<a x="1 &amp; 2" y='&#x5c71;'>t&lt;x<!-- c --><?p i?><b/>&#65;</a>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if bytes.Contains(b, []byte("<![CDATA[")) {
			return
		}
		dec := xml.NewDecoder(bytes.NewReader(b))
		want, err := tokens(dec.RawToken)
		if err != nil {
			return
		}
		// The scanner checks the nesting as Token does, not RawToken.
		_, strictErr := tokens(xml.NewDecoder(bytes.NewReader(b)).Token)
		sc := newXMLScanner(bytes.NewReader(b))
		got, err := tokens(sc.Token)
		var le *LimitError
		switch {
		case err != nil && errors.As(err, &le):
			return
		case err != nil && strictErr == nil:
			t.Fatalf("scanner: %v on input encoding/xml reads", err)
		case err == nil && strictErr != nil:
			t.Fatalf("scanner reads input encoding/xml refuses: %v", strictErr)
		case err != nil:
			return
		}
		trim := func(ts []xmlTok) []xmlTok {
			var out []xmlTok
			for _, x := range ts {
				if x.kind == 't' && strings.TrimSpace(x.text) == "" {
					continue
				}
				out = append(out, x)
			}
			return out
		}
		want, got = trim(want), trim(got)
		if len(want) != len(got) {
			t.Fatalf("%d tokens, want %d:\n%v\n%v", len(got), len(want), got, want)
		}
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("token %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

// FuzzPlainText checks checkText's one-loop test against the checks it
// stands for.
func FuzzPlainText(f *testing.F) {
	for _, s := range []string{"", "Ada", "Müller", "山田", "a\tb", "a\x7fb", "a\u0085b", "\xc2", "\xc2\x9f", "é\n", "\xff", "x\u009fy", "\u00a0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
		if got := plainText(s); got != want {
			t.Fatalf("plainText(%q) = %v, want %v", s, got, want)
		}
	})
}

// FuzzGroupsCell checks that group names survive joinGroups and
// splitGroups, as they must between an export and an import.
func FuzzGroupsCell(f *testing.F) {
	f.Add("Sales, EMEA", "Support", `"Quoted" team`)
	f.Add(`a"b`, ",", `""`)
	f.Add("x", "", "y")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var names []string
		for _, n := range []string{a, b, c} {
			if n = strings.TrimSpace(n); n != "" && plainText(n) {
				names = append(names, n)
			}
		}
		var got []string
		for n := range splitGroups(joinGroups(names)) {
			if n = strings.TrimSpace(n); n != "" {
				got = append(got, n)
			}
		}
		if !slices.Equal(got, names) {
			t.Fatalf("names %q became %q through %q", names, got, joinGroups(names))
		}
	})
}

func TestSplitGroups(t *testing.T) {
	for cell, want := range map[string][]string{
		"Sales, EMEA":            {"Sales", " EMEA"},
		`"Sales, EMEA", Support`: {"Sales, EMEA", " Support"},
		` "Sales, EMEA" ,x`:      {"Sales, EMEA ", "x"},
		`"say ""hi""",b`:         {`say "hi"`, "b"},
		`O"Brien,"open`:          {`O"Brien`, "open"},
		"a,,b,":                  {"a", "", "b"},
		`"unterminated, quote`:   {"unterminated, quote"},
	} {
		var got []string
		for n := range splitGroups(cell) {
			got = append(got, n)
		}
		if !slices.Equal(got, want) {
			t.Errorf("splitGroups(%q) = %q, want %q", cell, got, want)
		}
	}
}
