package importer

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// biff builds BIFF8 records.
type biff struct{ bytes.Buffer }

func (b *biff) rec(typ uint16, parts ...any) {
	var data bytes.Buffer
	for _, p := range parts {
		switch v := p.(type) {
		case []byte:
			data.Write(v)
		case string:
			data.WriteString(v)
		default:
			binary.Write(&data, binary.LittleEndian, v)
		}
	}
	binary.Write(&b.Buffer, binary.LittleEndian, typ)
	binary.Write(&b.Buffer, binary.LittleEndian, uint16(data.Len()))
	b.Write(data.Bytes())
}

func u16s(s string) []byte {
	var out []byte
	for _, c := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, c)
	}
	return out
}

func rkInt(n int32) uint32 { return uint32(n)<<2 | 2 }

// testWorkbook returns a Workbook stream with the cases that trip readers:
// an SST string split across CONTINUE records that switches from 16-bit to
// compressed characters, a rich string, dates by a built-in and a custom
// format, RK and MULRK numbers, a zero-padded format, formula results, a
// boolean, an error, and an embedded chart substream.
func testWorkbook() []byte {
	var g biff
	g.rec(recBOF, uint16(0x0600), uint16(0x0005), make([]byte, 12))
	g.rec(recCodePage, uint16(1200))
	g.rec(recDateMode, uint16(0))
	g.rec(recFormat, uint16(164), uint16(10), uint8(0), "yyyy\\-mm\\-dd")
	g.rec(recFormat, uint16(165), uint16(5), uint8(0), "00000")
	for _, ifmt := range []uint16{0, 14, 164, 165, 22} { // XF 0..4
		g.rec(recXF, uint16(0), ifmt, make([]byte, 16))
	}
	// SST: "Müller" compressed, "山田太郎" 16-bit, and "Łukasz" split across
	// a CONTINUE record: it starts 16-bit ("Łu") and goes on compressed.
	sst1 := []byte{}
	sst1 = binary.LittleEndian.AppendUint32(sst1, 4)
	sst1 = binary.LittleEndian.AppendUint32(sst1, 4)
	sst1 = append(sst1, 6, 0, 0) // cch 6, compressed
	sst1 = append(sst1, "M\xfcller"...)
	sst1 = append(sst1, 4, 0, 1) // 山田太郎, 16-bit
	sst1 = append(sst1, u16s("山田太郎")...)
	sst1 = append(sst1, 6, 0, 1) // Łukasz, 16-bit, split
	sst1 = append(sst1, u16s("Łu")...)
	cont := []byte{0} // continues compressed
	cont = append(cont, "kasz"...)
	// A rich string with 1 formatting run, then its run.
	cont = append(cont, 3, 0, 0x08, 1, 0)
	cont = append(cont, "Ops"...)
	cont = append(cont, 0, 0, 0, 0)
	g.rec(recSST, sst1)
	g.rec(recContinue, cont)
	// A chart sheet comes first; the reader takes the first worksheet.
	g.rec(recBoundSheet, uint32(0), uint8(0), uint8(2), uint8(1), uint8(0), "c")
	boundAt := g.Len()
	g.rec(recBoundSheet, uint32(0), uint8(0), uint8(0), uint8(6), uint8(0), "Sheet1")
	g.rec(recEOF)
	sheetPos := g.Len()
	b := g.Bytes()
	binary.LittleEndian.PutUint32(b[boundAt+4:], uint32(sheetPos))

	var s biff
	s.rec(recBOF, uint16(0x0600), uint16(0x0010), make([]byte, 12))
	// Row 1: header.
	s.rec(recLabel, uint16(0), uint16(0), uint16(0), uint16(4), uint8(0), "name")
	s.rec(recLabel, uint16(0), uint16(1), uint16(0), uint16(4), uint8(0), "date")
	// Row 2: SST strings, a date by format 14, RK integer, zero-padded zip.
	s.rec(recLabelSST, uint16(1), uint16(0), uint16(0), uint32(0))
	s.rec(recRK, uint16(1), uint16(1), uint16(1), rkInt(44109))
	s.rec(recMulRK, uint16(1), uint16(2), uint16(0), rkInt(100001), uint16(3), rkInt(1067), uint16(3))
	// Row 4 (row 3 empty): the split string, a custom date format, a float,
	// a date-time.
	s.rec(recLabelSST, uint16(3), uint16(0), uint16(0), uint32(2))
	s.rec(recNumber, uint16(3), uint16(1), uint16(2), math.Float64bits(44109))
	s.rec(recNumber, uint16(3), uint16(2), uint16(0), math.Float64bits(0.1+0.2))
	s.rec(recNumber, uint16(3), uint16(3), uint16(4), math.Float64bits(44109.5))
	// An embedded chart substream.
	s.rec(recBOF, uint16(0x0600), uint16(0x0020), make([]byte, 12))
	s.rec(recLabel, uint16(0), uint16(0), uint16(0), uint16(1), uint8(0), "x")
	s.rec(recEOF)
	// Row 5: formula results, a boolean, an error, a rich SST string, a
	// 16-bit LABEL.
	s.rec(recFormula, uint16(4), uint16(0), uint16(0), []byte{0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, uint16(0), uint32(0), uint16(0))
	s.rec(recString, uint16(5), uint8(0), "f-str")
	s.rec(recFormula, uint16(4), uint16(1), uint16(0), []byte{1, 0, 1, 0, 0, 0, 0xFF, 0xFF}, uint16(0), uint32(0), uint16(0))
	s.rec(recFormula, uint16(4), uint16(2), uint16(0), math.Float64bits(42), uint16(0), uint32(0), uint16(0))
	s.rec(recBoolErr, uint16(4), uint16(3), uint16(0), uint8(0), uint8(0))
	s.rec(recBoolErr, uint16(4), uint16(4), uint16(0), uint8(0x2A), uint8(1))
	s.rec(recLabelSST, uint16(4), uint16(5), uint16(0), uint32(3))
	s.rec(recLabel, uint16(4), uint16(6), uint16(0), uint16(2), uint8(1), u16s("東京"))
	s.rec(recEOF)
	return append(b, s.Bytes()...)
}

func TestXLSRecords(t *testing.T) {
	src, err := parseXLS(testWorkbook())
	if err != nil {
		t.Fatal(err)
	}
	want := map[int][]string{
		1: {"name", "date"},
		2: {"Müller", "2020-10-05", "100001", "01067"},
		4: {"Łukasz", "2020-10-05", "0.3", "2020-10-05T12:00:00"},
		5: {"f-str", "true", "42", "false", "#N/A", "Ops", "東京"},
	}
	got := map[int][]string{}
	rows, cells := readRows(t, src)
	for i, row := range rows {
		got[row] = cells[i]
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for row, w := range want {
		if !slices.Equal(got[row], w) {
			t.Errorf("row %d: %q, want %q", row, got[row], w)
		}
	}
	if src.wb.codepage != 1200 || len(src.wb.sst) != 4 || src.wb.sst[1] != "山田太郎" {
		t.Errorf("globals: %+v", src.wb)
	}
}

// content.xml with what LibreOffice writes: a header-rows group, repeated
// cells and rows, the million-row empty run at the end, covered cells,
// spaces, several paragraphs, an annotation, typed values.
const testContent = `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>
<table:table table:name="Sheet1"><table:table-column table:number-columns-repeated="1024"/>
<table:table-header-rows><table:table-row><table:table-cell office:value-type="string"><text:p>email</text:p></table:table-cell><table:table-cell><text:p>name</text:p></table:table-cell><table:table-cell table:number-columns-repeated="1022"/></table:table-row></table:table-header-rows>
<table:table-row table:number-rows-repeated="2"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>
<table:table-row><table:table-cell table:number-columns-repeated="2"/><table:table-cell office:value-type="float" office:value="100001"><text:p>100,001</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="1067"><text:p>01067</text:p></table:table-cell><table:table-cell office:value-type="date" office:date-value="2020-10-05T00:00:00"><text:p>10/05/20</text:p></table:table-cell><table:table-cell office:value-type="boolean" office:boolean-value="false"><text:p>FALSE</text:p></table:table-cell><table:table-cell table:number-columns-repeated="1018"/></table:table-row>
<table:table-row table:number-rows-repeated="2"><table:table-cell table:number-columns-spanned="2" office:value-type="string"><office:annotation><text:p>a note</text:p></office:annotation><text:p>a<text:s text:c="3"/>b<text:tab/>c</text:p><text:p><text:span>second</text:span> line</text:p></table:table-cell><table:covered-table-cell office:value-type="string"><text:p>hidden</text:p></table:covered-table-cell><table:table-cell table:number-columns-repeated="2" office:value-type="string"><text:p>rep</text:p></table:table-cell></table:table-row>
<table:table-row table:number-rows-repeated="1048570"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>
</table:table>
<table:table table:name="Sheet2"><table:table-row><table:table-cell office:value-type="string"><text:p>other sheet</text:p></table:table-cell></table:table-row></table:table>
</office:spreadsheet></office:body></office:document-content>`

func TestODSReader(t *testing.T) {
	src := newODSReader(io.NopCloser(strings.NewReader(testContent)), 1<<20)
	want := []struct {
		row   int
		cells []string
	}{
		{1, []string{"email", "name"}},
		{4, []string{"", "", "100001", "01067", "2020-10-05", "false"}},
		{5, []string{"a   b\tc\nsecond line", "", "rep", "rep"}},
		{6, []string{"a   b\tc\nsecond line", "", "rep", "rep"}},
	}
	for _, w := range want {
		row, cells, err := src.Next()
		if err != nil || row != w.row || !slices.Equal(cells, w.cells) {
			t.Fatalf("got %d %q %v, want %d %q", row, cells, err, w.row, w.cells)
		}
	}
	if _, _, err := src.Next(); err != io.EOF {
		t.Fatalf("after the last row: %v", err)
	}
	// The limit stops a large content.xml.
	src = newODSReader(io.NopCloser(strings.NewReader(testContent)), 1000)
	var err error
	for err == nil {
		_, _, err = src.Next()
	}
	if _, ok := err.(*LimitError); !ok {
		t.Fatalf("limit: %v", err)
	}
}

func TestSniffDelimiter(t *testing.T) {
	for in, want := range map[string]rune{
		"email,name\na@b.de,A\n":                 ',',
		"email;name;groups\na@b.de;Smith, J;x\n": ';',
		"email\tname\na@b.de\t\"x;y\"\n":         '\t',
		"email|name\na|b\n":                      '|',
		"email\na@b.de\n":                        ',',
		"a;b;c,d\n\"x,y,z\";1;2\n1;2;3,4\n":      ';',
	} {
		if got := SniffDelimiter(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestFormatKind(t *testing.T) {
	for code, want := range map[string]int{
		"yyyy\\-mm\\-dd": kindDate, "General": kindNumber, "0.00": kindNumber, `[$-407]DD.MM.YYYY`: kindDate,
		"h:mm:ss": kindTime, "m/d/yy h:mm": kindDateTime, `"Tag "0`: kindNumber, "0%": kindPercent, "[Red]0.00": kindNumber,
	} {
		if got, _ := formatKind(code); got != want {
			t.Errorf("%q: %d, want %d", code, got, want)
		}
	}
}

func TestCSVRowNumbers(t *testing.T) {
	in := "email,name\r\na@x.de,\"l1\r\nl2\"\r\n\r\nb@x.de,\"B\"\r\n\"c@x.de\",\"x\n\ny\"\nd@x.de,D"
	src, err := newCSVSource(strings.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := readRows(t, src)
	if !slices.Equal(rows, []int{1, 2, 4, 5, 6}) {
		t.Fatalf("rows %v", rows)
	}
}

// Entities that straddle the scanner's 64 KB buffer still decode.
func TestXMLScannerBufferEdges(t *testing.T) {
	for pad := 65520; pad < 65545; pad++ {
		in := "<a v='" + strings.Repeat("y", pad) + "&amp;'>" + strings.Repeat("x", pad) + "&amp;&#x5c71;\r\n</a>"
		sc := newXMLScanner(strings.NewReader(in))
		var text string
		var attr string
		for {
			tok, err := sc.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("pad %d: %v", pad, err)
			}
			switch v := tok.(type) {
			case xml.StartElement:
				attr = v.Attr[0].Value
			case xml.CharData:
				text += string(v)
			}
		}
		if text != strings.Repeat("x", pad)+"&山\n" || attr != strings.Repeat("y", pad)+"&" {
			t.Fatalf("pad %d: text ends %q, attr ends %q", pad, text[len(text)-8:], attr[len(attr)-3:])
		}
	}
}

// readRows reads a source to its end, failing the test on an error, and
// returns each row's number and a copy of its cells.
func readRows(t testing.TB, src RowSource) (rows []int, cells [][]string) {
	t.Helper()
	for {
		row, c, err := src.Next()
		if err == io.EOF {
			return rows, cells
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
		cells = append(cells, slices.Clone(c))
	}
}
