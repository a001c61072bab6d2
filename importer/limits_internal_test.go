package importer

import (
	"encoding/binary"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// odsDoc wraps table rows in a content.xml.
func odsDoc(rows string) string {
	return `<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table>` +
		rows + `</table:table></office:spreadsheet></office:body></office:document-content>`
}

// Forged repeat counts must not overflow the reader's sums: runs of empty
// cells whose counts add up past the largest int let a row through with any
// number of cells (and a 4-byte value repeated 2^62 times passed the row
// size check as 0 bytes), and runs of empty rows wrapped the row number
// (now they pass no sheet's last row, 2^24).
func TestODSRepeatOverflow(t *testing.T) {
	const huge = "4611686018427387904" // 2^62
	cells := odsDoc(`<table:table-row><table:table-cell table:number-columns-repeated="` + huge + `"/>` +
		`<table:table-cell table:number-columns-repeated="` + huge + `"/>` +
		`<table:table-cell office:value-type="string" table:number-columns-repeated="20000"><text:p>a</text:p></table:table-cell></table:table-row>`)
	_, got, err := newODSReader(io.NopCloser(strings.NewReader(cells)), 1<<20).Next()
	var le *LimitError
	if !errors.As(err, &le) || le.What != "columns" {
		t.Fatalf("%d cells, err %v; want a columns LimitError", len(got), err)
	}

	rows := odsDoc(`<table:table-row><table:table-cell><text:p>email</text:p></table:table-cell></table:table-row>` +
		strings.Repeat(`<table:table-row table:number-rows-repeated="`+huge+`"><table:table-cell/></table:table-row>`, 3) +
		`<table:table-row><table:table-cell><text:p>a@b.de</text:p></table:table-cell></table:table-row>`)
	// Each run is capped at 2^24 rows, and a sheet has no more: the
	// second run is refused, the row number never wraps.
	src := newODSReader(io.NopCloser(strings.NewReader(rows)), 1<<20)
	if row, _, err := src.Next(); row != 1 || err != nil {
		t.Fatalf("header: row %d, %v", row, err)
	}
	if row, _, err := src.Next(); !errors.As(err, &le) || le.What != "row number" {
		t.Fatalf("row %d, err %v; want a row number LimitError", row, err)
	}
}

// A record wider than the column limit is refused while it is read, before
// encoding/csv has built it: a 16 MB line of commas once took gigabytes.
func TestCSVColumnLimit(t *testing.T) {
	for _, in := range []string{
		"email" + strings.Repeat(",", 8<<20) + "\n",
		"email\n" + strings.Repeat(`"x",`, maxColumns) + "y\n",
		"email\n" + strings.Repeat("\"\n\",", maxColumns) + "y\n", // fields with line breaks
	} {
		src, err := newCSVSource(strings.NewReader(in), int64(len(in)))
		if err != nil {
			t.Fatal(err)
		}
		for err == nil {
			_, _, err = src.Next()
		}
		var le *LimitError
		if !errors.As(err, &le) || le.What != "columns" {
			t.Fatalf("%.20q: %v, want a columns LimitError", in, err)
		}
	}
	// Exactly at the limit is fine, and quoted delimiters are no columns.
	in := "email\n" + strings.Repeat(`"a,b;c",`, maxColumns-1) + "\"x\"\"\r\n\"\r\n" + strings.Repeat(",", maxColumns-1) + "\n"
	src, err := newCSVSource(strings.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	var widths []int
	_, cells := readRows(t, src)
	for _, c := range cells {
		widths = append(widths, len(c))
	}
	if !slices.Equal(widths, []int{1, maxColumns, maxColumns}) {
		t.Fatalf("widths %v", widths)
	}
}

// fieldLimiter counts the fields encoding/csv returns: with a limit of 3 it
// fails exactly when some record has more than 3 fields, and passes the
// records before that one unchanged.
func FuzzFieldLimiter(f *testing.F) {
	for _, s := range []string{
		"a,b,c\n\"x\"\"y\",\"1,2,3\",z\n", "a,\"b\r\nc\",d,e\r\n", "a,\"b\"x,c,d\n", "a,\"b\"\r,c,d\n",
		"a,b\"c,d\n", "\"a\"\r\n,b,c,d", "x\r,\r\n\"\"\",\",,\n", "a;b;c;d\n", "\"\"\n\"\r\"\r\n,,,",
	} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, in string, d uint8) {
		comma := []rune{',', ';', '\t', '|'}[d%4]
		read := func(r io.Reader, lazy bool) ([][]string, error) {
			cr := csv.NewReader(r)
			cr.Comma, cr.FieldsPerRecord, cr.LazyQuotes = comma, -1, lazy
			var recs [][]string
			for {
				rec, err := cr.Read()
				if err == io.EOF {
					return recs, nil
				}
				if err != nil {
					return recs, err
				}
				recs = append(recs, rec)
			}
		}
		plain, perr := read(strings.NewReader(in), true)
		_, strictErr := read(strings.NewReader(in), false)
		wide := slices.IndexFunc(plain, func(r []string) bool { return len(r) > 3 })
		// Whole, and a byte at a time: every byte a boundary between reads.
		for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
			limited, lerr := read(&fieldLimiter{r: r, comma: byte(comma), limit: 3}, true)
			var le *LimitError
			switch {
			case perr != nil:
				// encoding/csv with LazyQuotes fails on no input.
			case errors.Is(lerr, errOpenQuote) && strictErr == nil:
				t.Fatalf("a quote never closed, says the limiter; encoding/csv reads it strictly")
			case errors.Is(lerr, errOpenQuote) && wide < 0:
				// encoding/csv took the rest of the text as one field: the
				// records before that one are read.
				if len(plain) == 0 || !slices.EqualFunc(limited, plain[:len(plain)-1], slices.Equal) {
					t.Fatalf("open quote: limited %q, plain %q", limited, plain)
				}
			case wide >= 0 && (!errors.As(lerr, &le) || !slices.EqualFunc(limited, plain[:wide], slices.Equal)):
				t.Fatalf("record %d has %d fields: limited %q, %v", wide, len(plain[wide]), limited, lerr)
			case wide < 0 && (lerr != nil || !slices.EqualFunc(limited, plain, slices.Equal)):
				t.Fatalf("no wide record: limited %q, %v; plain %q", limited, lerr, plain)
			}
		}
	})
}

// One text node or attribute value is held whole by the XML scanner, so it
// is capped: a 1 GiB run of text compresses to a 1 MB upload.
func TestODSLongText(t *testing.T) {
	for _, rows := range []string{
		`<table:table-row><table:table-cell><text:p>` + strings.Repeat("a", maxRowText+1) + `</text:p></table:table-cell></table:table-row>`,
		`<table:table-row><table:table-cell office:value-type="float" office:value="` + strings.Repeat("1", maxRowText+1) + `"/></table:table-row>`,
	} {
		_, cells, err := newODSReader(io.NopCloser(strings.NewReader(odsDoc(rows))), 1<<30).Next()
		var le *LimitError
		if !errors.As(err, &le) {
			t.Fatalf("%d cells, err %v; want a LimitError", len(cells), err)
		}
	}
}

// A data row costs the columns row 1 names, not its width: a header of
// 16,384 cells, most of them empty, made each of a million rows cost 16,384
// steps (seconds of CPU for a 2 MB upload).
func TestWideHeaderRowCost(t *testing.T) {
	cells := make([]string, maxColumns)
	cells[0], cells[maxColumns-1] = "email", "first name"
	h, err := parseHeader(cells, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h.used, []int{0, maxColumns - 1}) {
		t.Fatalf("used %d columns", len(h.used))
	}
	row := make([]string, maxColumns)
	row[0], row[maxColumns-1] = "a@b.de", "Ada"
	if r := h.newRecord(2, row); r.errs != nil || r.email != "a@b.de" || r.given != "Ada" {
		t.Fatalf("%+v", r)
	}
}

// utf8Checker fails exactly when the text is not valid UTF-8 or has a NUL,
// however the reads split it, and says where.
func FuzzUTF8Checker(f *testing.F) {
	for _, s := range []string{"", "abc", "Müller", "山田", "\xff", "a\xc3", "\xe6\xb1", "\xe6\xb1\xa0x", "\xf0\x9f\x98\x80", "\xed\xa0\x80", "a\x00b", "\xc3\x00", "ab\xe6\xb1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range []io.Reader{
			strings.NewReader(s), iotest.OneByteReader(strings.NewReader(s)), iotest.HalfReader(strings.NewReader(s)),
			iotest.DataErrReader(iotest.OneByteReader(strings.NewReader(s))), // the last bytes come with io.EOF
		} {
			got, err := io.ReadAll(&utf8Checker{r: r, nul: true})
			bad := invalidAt([]byte(s), true)
			var te *textError
			switch {
			case bad < 0 && (err != nil || string(got) != s):
				t.Fatalf("%q: %q, %v", s, got, err)
			case bad >= 0 && !errors.As(err, &te):
				t.Fatalf("%q is not UTF-8 or has a NUL, yet %v", s, err)
			case bad >= 0 && (te.Off != int64(bad) || te.NUL != (s[bad] == 0) || !strings.HasPrefix(string(got), s[:bad])):
				t.Fatalf("%q: %+v after %q, want the byte at %d", s, te, got, bad)
			case bad >= 0 && !te.NUL && !errors.Is(err, errNotUTF8):
				t.Fatalf("%q: %v does not match errNotUTF8", s, err)
			}
		}
	})
}

// xlsSheet returns a Workbook stream with one worksheet of the records
// sheet writes, and an SST of one string.
func xlsSheet(sheet func(s *biff)) []byte {
	var g biff
	g.rec(recBOF, uint16(0x0600), uint16(0x0005), make([]byte, 12))
	g.rec(recSST, uint32(1), uint32(1), uint8(5), uint8(0), uint8(0), "email")
	boundAt := g.Len()
	g.rec(recBoundSheet, uint32(0), uint8(0), uint8(0), uint8(6), uint8(0), "Sheet1")
	g.rec(recEOF)
	b := g.Bytes()
	binary.LittleEndian.PutUint32(b[boundAt+4:], uint32(len(b)))
	var s biff
	s.rec(recBOF, uint16(0x0600), uint16(0x0010), make([]byte, 12))
	sheet(&s)
	s.rec(recEOF)
	return append(b, s.Bytes()...)
}

// A 14-byte record at the last column makes 16,384 cells: the cells of a
// sheet are capped, empty ones before a value counted.
func TestXLSCellsCapped(t *testing.T) {
	stream := xlsSheet(func(s *biff) {
		for row := range 3000 {
			s.rec(recRK, uint16(row), uint16(maxColumns-1), uint16(0), rkInt(1))
		}
	})
	src, err := parseXLS(stream)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err = src.Next()
		if err != nil {
			break
		}
	}
	var le *LimitError
	if !errors.As(err, &le) || le.What != "cells" {
		t.Fatalf("%v, want the cells limit", err)
	}
}

// A cell that names a shared string the table does not have is a damaged
// file, not an empty cell (which could drop a row's email).
func TestXLSMissingSharedString(t *testing.T) {
	stream := xlsSheet(func(s *biff) {
		s.rec(recLabelSST, uint16(0), uint16(0), uint16(0), uint32(0))
		s.rec(recLabelSST, uint16(1), uint16(0), uint16(0), uint32(7))
	})
	src, err := parseXLS(stream)
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, _, err = src.Next()
	}
	if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "row 2 refers to shared string 7 of 1") {
		t.Fatalf("%v", err)
	}
}
