package importer

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/richardlehane/mscfb"
)

// BIFF8 record types the reader uses ([MS-XLS] 2.3).
const (
	recFormula    = 0x0006
	recEOF        = 0x000A
	recDateMode   = 0x0022
	recFilePass   = 0x002F
	recContinue   = 0x003C
	recCodePage   = 0x0042
	recBoundSheet = 0x0085
	recMulRK      = 0x00BD
	recRString    = 0x00D6
	recXF         = 0x00E0
	recSST        = 0x00FC
	recLabelSST   = 0x00FD
	recNumber     = 0x0203
	recLabel      = 0x0204
	recBoolErr    = 0x0205
	recString     = 0x0207
	recRK         = 0x027E
	recFormat     = 0x041E
	recBOF        = 0x0809
)

// xlsSource reads the first worksheet of an Excel 97-2003 (BIFF8) workbook:
// the compound file is opened with mscfb, the records are parsed here.
type xlsSource struct {
	wb       *workbook
	recs     biffRecords
	row      int // row (0-based) of the cells being collected; -1 before the first
	cells    []string
	pending  *xlsCell // first cell of the next row
	strCell  *xlsCell // formula cell waiting for its STRING record
	depth    int      // nested substreams (charts) inside the sheet
	finished bool
	flushed  bool // the last row has been returned
	total    int  // cells set so far, against maxCells
}

type xlsCell struct {
	row, col int
	v        string
}

func newXLSSource(file io.ReaderAt, size int64) (src RowSource, err error) {
	defer func() {
		// mscfb trusts the sizes in the file; a damaged one must not take
		// the server down.
		if p := recover(); p != nil {
			src, err = nil, unreadable(FormatXLS, "the compound file is damaged", fmt.Errorf("%v", p))
		}
	}()
	doc, err := mscfb.New(file)
	if err != nil {
		return nil, unreadable(FormatXLS, "the compound file is damaged", err)
	}
	var stream []byte
	for entry, err := doc.Next(); err == nil; entry, err = doc.Next() {
		switch entry.Name {
		case "Workbook":
			if stream, err = io.ReadAll(io.LimitReader(entry, size)); err != nil {
				return nil, unreadable(FormatXLS, "cannot read the Workbook stream", err)
			}
		case "Book":
			if stream == nil {
				return nil, unreadable(FormatXLS, "an Excel 5.0/95 workbook: save it as Excel 97-2003 or later", nil)
			}
		case "EncryptedPackage":
			return nil, unreadable(FormatXLS, "the file is password-protected", nil)
		}
	}
	if stream == nil {
		return nil, unreadable(FormatXLS, "the file has no Workbook stream: not an Excel workbook", nil)
	}
	return parseXLS(stream)
}

// encryptedOLE reports whether a compound file holds an encrypted
// package (a password-protected XLSX, DOCX...).
func encryptedOLE(file io.ReaderAt) (enc bool) {
	defer func() {
		if recover() != nil {
			enc = false
		}
	}()
	doc, err := mscfb.New(file)
	if err != nil {
		return false
	}
	for entry, err := doc.Next(); err == nil; entry, err = doc.Next() {
		if entry.Name == "EncryptedPackage" {
			return true
		}
	}
	return false
}

// parseXLS reads the workbook globals of a BIFF8 Workbook stream and returns
// the reader of its first worksheet.
func parseXLS(stream []byte) (*xlsSource, error) {
	wb, err := readGlobals(stream)
	if err != nil {
		return nil, err
	}
	s := &xlsSource{wb: wb, recs: biffRecords{b: stream, pos: wb.sheetPos}, row: -1}
	typ, data, ok := s.recs.next()
	if !ok || typ != recBOF || len(data) < 4 || binary.LittleEndian.Uint16(data[2:]) != 0x0010 {
		return nil, unreadable(FormatXLS, "the first worksheet does not start where the workbook says", nil)
	}
	return s, nil
}

// biffRecords iterates the records of a stream.
type biffRecords struct {
	b   []byte
	pos int
}

func (r *biffRecords) next() (uint16, []byte, bool) {
	if r.pos < 0 || r.pos+4 > len(r.b) {
		return 0, nil, false
	}
	typ := binary.LittleEndian.Uint16(r.b[r.pos:])
	n := int(binary.LittleEndian.Uint16(r.b[r.pos+2:]))
	start := r.pos + 4
	if start+n > len(r.b) {
		return 0, nil, false
	}
	r.pos = start + n
	return typ, r.b[start : start+n], true
}

// continues returns the data of the CONTINUE records that follow.
func (r *biffRecords) continues() [][]byte {
	var segs [][]byte
	for {
		save := r.pos
		typ, data, ok := r.next()
		if !ok || typ != recContinue {
			r.pos = save
			return segs
		}
		segs = append(segs, data)
	}
}

type workbook struct {
	sst      []string
	xfFormat []uint16          // number format of each XF
	formats  map[uint16]string // custom number formats by index
	date1904 bool
	codepage uint16
	sheetPos int
}

func readGlobals(stream []byte) (*workbook, error) {
	recs := biffRecords{b: stream}
	typ, data, ok := recs.next()
	if !ok || typ != recBOF || len(data) < 4 {
		if ok && (typ == 0x0209 || typ == 0x0409 || typ == 0x0809) && len(data) >= 2 && binary.LittleEndian.Uint16(data) < 0x0600 {
			return nil, unreadable(FormatXLS, "an Excel 95 or older workbook: save it as Excel 97-2003 or later", nil)
		}
		return nil, unreadable(FormatXLS, "the Workbook stream does not start with a BOF record", nil)
	}
	if v := binary.LittleEndian.Uint16(data); v != 0x0600 {
		return nil, unreadable(FormatXLS, fmt.Sprintf("BIFF version %#x: only Excel 97-2003 (BIFF8) is read", v), nil)
	}
	wb := &workbook{formats: map[uint16]string{}, sheetPos: -1}
	for {
		typ, data, ok := recs.next()
		if !ok {
			return nil, unreadable(FormatXLS, "the workbook globals end early", nil)
		}
		switch typ {
		case recEOF:
			if wb.sheetPos < 0 {
				return nil, unreadable(FormatXLS, "the workbook has no worksheet", nil)
			}
			return wb, nil
		case recFilePass:
			return nil, unreadable(FormatXLS, "the file is password-protected", nil)
		case recCodePage:
			if len(data) >= 2 {
				wb.codepage = binary.LittleEndian.Uint16(data)
			}
		case recDateMode:
			wb.date1904 = len(data) >= 2 && binary.LittleEndian.Uint16(data) == 1
		case recFormat:
			if len(data) >= 2 {
				r := segReader{segs: [][]byte{data[2:]}}
				wb.formats[binary.LittleEndian.Uint16(data)] = r.str16(wb)
			}
		case recXF:
			if len(data) >= 4 {
				wb.xfFormat = append(wb.xfFormat, binary.LittleEndian.Uint16(data[2:]))
			}
		case recSST:
			if len(data) < 8 {
				return nil, unreadable(FormatXLS, "the shared string table is damaged", nil)
			}
			segs := append([][]byte{data[8:]}, recs.continues()...)
			n := int(binary.LittleEndian.Uint32(data[4:]))
			wb.sst = readSST(segs, n, wb)
		case recBoundSheet:
			// lbPlyPos, hsState, dt (0: worksheet), name.
			if len(data) >= 6 && data[5] == 0 && wb.sheetPos < 0 {
				wb.sheetPos = int(binary.LittleEndian.Uint32(data))
			}
		}
	}
}

// readSST reads up to n strings of the shared string table.
func readSST(segs [][]byte, n int, wb *workbook) []string {
	total := 0
	for _, s := range segs {
		total += len(s)
	}
	// Every string takes 3 bytes at least: do not trust n beyond that.
	out := make([]string, 0, min(n, total/3+1))
	r := segReader{segs: segs}
	for range n {
		if r.eof() {
			break
		}
		out = append(out, r.richString())
	}
	return out
}

// segReader reads a record and its CONTINUE records as one run of bytes,
// except that a string's characters split at a record boundary go on with a
// new flags byte ([MS-XLS] 2.5.293 XLUnicodeRichExtendedString).
type segReader struct {
	segs [][]byte
	i    int
	pos  int
	bad  bool
	buf  []uint16
	sb   strings.Builder
}

func (r *segReader) eof() bool {
	for r.i < len(r.segs) && r.pos >= len(r.segs[r.i]) {
		r.i++
		r.pos = 0
	}
	return r.i >= len(r.segs) || r.bad
}

func (r *segReader) byte() byte {
	if r.eof() {
		r.bad = true
		return 0
	}
	b := r.segs[r.i][r.pos]
	r.pos++
	return b
}

func (r *segReader) u16() int { return int(r.byte()) | int(r.byte())<<8 }

func (r *segReader) u32() int {
	return r.u16() | r.u16()<<16
}

func (r *segReader) skip(n int) {
	for n > 0 && !r.eof() {
		k := min(n, len(r.segs[r.i])-r.pos)
		r.pos += k
		n -= k
	}
	if n > 0 {
		r.bad = true
	}
}

// chars reads cch characters, 16-bit if high, switching width at record
// boundaries as the flags byte there says.
func (r *segReader) chars(cch int, high bool) string {
	r.sb.Reset()
	for cch > 0 {
		if r.i < len(r.segs) && r.pos >= len(r.segs[r.i]) {
			// The characters go on in the next CONTINUE record, after a new
			// flags byte.
			r.i++
			r.pos = 0
			if r.i >= len(r.segs) || len(r.segs[r.i]) == 0 {
				r.bad = true
				break
			}
			high = r.segs[r.i][0]&1 != 0
			r.pos = 1
		}
		if r.i >= len(r.segs) {
			r.bad = true
			break
		}
		seg := r.segs[r.i][r.pos:]
		if high {
			k := min(cch, len(seg)/2)
			if k == 0 {
				r.bad = true
				break
			}
			r.buf = r.buf[:0]
			for j := range k {
				r.buf = append(r.buf, binary.LittleEndian.Uint16(seg[2*j:]))
			}
			for _, c := range utf16.Decode(r.buf) {
				r.sb.WriteRune(c)
			}
			r.pos += 2 * k
			cch -= k
		} else {
			k := min(cch, len(seg))
			// Compressed characters are UTF-16 code units with a zero high
			// byte: Latin-1, whatever the code page.
			for _, c := range seg[:k] {
				r.sb.WriteRune(rune(c))
			}
			r.pos += k
			cch -= k
		}
	}
	return r.sb.String()
}

// richString reads an XLUnicodeRichExtendedString (the SST's strings).
func (r *segReader) richString() string {
	cch := r.u16()
	flags := r.byte()
	runs, ext := 0, 0
	if flags&0x08 != 0 {
		runs = r.u16()
	}
	if flags&0x04 != 0 {
		ext = r.u32()
	}
	s := r.chars(cch, flags&1 != 0)
	r.skip(4*runs + ext)
	return s
}

// str16 reads an XLUnicodeString: a 16-bit count, flags, characters.
func (r *segReader) str16(wb *workbook) string {
	cch := r.u16()
	flags := r.byte()
	if flags&0x08 != 0 || flags&0x04 != 0 {
		// Rich or extended strings only appear in the SST; be lenient.
		return r.richStringAfter(cch, flags)
	}
	return r.chars(cch, flags&1 != 0)
}

func (r *segReader) richStringAfter(cch int, flags byte) string {
	runs, ext := 0, 0
	if flags&0x08 != 0 {
		runs = r.u16()
	}
	if flags&0x04 != 0 {
		ext = r.u32()
	}
	s := r.chars(cch, flags&1 != 0)
	r.skip(4*runs + ext)
	return s
}

func (s *xlsSource) Close() error { return nil }

func (s *xlsSource) Next() (int, []string, error) {
	if s.pending != nil {
		c := s.pending
		s.pending = nil
		s.row = c.row
		s.cells = s.cells[:0]
		if err := s.set(c); err != nil {
			return 0, nil, err
		}
	}
	for !s.finished {
		typ, data, ok := s.recs.next()
		if !ok {
			return 0, nil, unreadable(FormatXLS, "the worksheet ends early", nil)
		}
		if s.nested(typ) {
			continue
		}
		cells, err := s.cellsOf(typ, data)
		if err != nil {
			return 0, nil, err
		}
		if typ != recMulRK && typ != recString && len(cells) == 1 {
			cells[0].row = int(binary.LittleEndian.Uint16(data))
			cells[0].col = int(binary.LittleEndian.Uint16(data[2:]))
		}
		if done, err := s.place(cells); err != nil {
			return 0, nil, err
		} else if done {
			return s.row + 1, s.cells, nil
		}
	}
	if !s.flushed && s.row >= 0 && len(s.cells) > 0 {
		s.flushed = true
		return s.row + 1, s.cells, nil
	}
	return 0, nil, io.EOF
}

// nested follows the BOF and EOF records of the substreams in the worksheet
// (a chart's) and of the worksheet's own end, and reports whether the record
// of type typ is not a cell of the worksheet.
func (s *xlsSource) nested(typ uint16) bool {
	switch typ {
	case recBOF:
		s.depth++
		return true
	case recEOF:
		if s.depth > 0 {
			s.depth--
		} else {
			s.finished = true
		}
		return true
	}
	return s.depth > 0 // a chart's records
}

// place adds the cells of one record to the current row. It reports done
// when a cell starts the next row: the current row is then complete, and
// that cell is pending.
func (s *xlsSource) place(cells []xlsCell) (done bool, err error) {
	for i := range cells {
		c := &cells[i]
		if c.v == "" {
			continue
		}
		switch {
		case c.row == s.row || s.row < 0:
			s.row = c.row
			if err := s.set(c); err != nil {
				return false, err
			}
		case c.row > s.row:
			if len(cells) > i+1 {
				// MULRK holds one row only, so this cannot happen.
				return false, unreadable(FormatXLS, "a MULRK record spans rows", nil)
			}
			s.pending = c
			return true, nil
		default:
			return false, unreadable(FormatXLS, fmt.Sprintf("cell records out of order at row %d", c.row+1), nil)
		}
	}
	return false, nil
}

// cellsOf decodes the cells of a record of type typ. A cell's row and column
// are set only for a MULRK or a STRING record; the caller sets them for a
// record of one cell.
func (s *xlsSource) cellsOf(typ uint16, data []byte) ([]xlsCell, error) {
	var cells []xlsCell
	switch typ {
	case recLabelSST:
		if len(data) >= 10 {
			i := int(binary.LittleEndian.Uint32(data[6:]))
			if i < 0 || i >= len(s.wb.sst) {
				// A damaged file: reading the cell as empty could
				// drop the email of a row.
				return nil, unreadable(FormatXLS, fmt.Sprintf("the worksheet is damaged: a cell of row %d refers to shared string %d of %d",
					int(binary.LittleEndian.Uint16(data))+1, i, len(s.wb.sst)), nil)
			}
			cells = append(cells, xlsCell{v: s.wb.sst[i]})
		}
	case recLabel, recRString:
		if len(data) >= 9 {
			r := segReader{segs: append([][]byte{data[6:]}, s.recs.continues()...)}
			cells = append(cells, xlsCell{v: r.str16(s.wb)})
		}
	case recNumber:
		if len(data) >= 14 {
			f := math.Float64frombits(binary.LittleEndian.Uint64(data[6:]))
			cells = append(cells, xlsCell{v: s.wb.format(f, binary.LittleEndian.Uint16(data[4:]))})
		}
	case recRK:
		if len(data) >= 10 {
			f := rk(binary.LittleEndian.Uint32(data[6:]))
			cells = append(cells, xlsCell{v: s.wb.format(f, binary.LittleEndian.Uint16(data[4:]))})
		}
	case recMulRK:
		cells = s.mulRK(data)
	case recBoolErr:
		if len(data) >= 8 {
			cells = append(cells, xlsCell{v: boolErr(data[6], data[7] != 0)})
		}
	case recFormula:
		if len(data) >= 20 {
			cells = s.formula(data)
		}
	case recString:
		if s.strCell != nil {
			r := segReader{segs: append([][]byte{data}, s.recs.continues()...)}
			c := *s.strCell
			c.v = r.str16(s.wb)
			s.strCell = nil
			cells = append(cells, c)
		}
	}
	return cells, nil
}

// mulRK decodes a MULRK record: numbers in consecutive cells of one row.
func (s *xlsSource) mulRK(data []byte) []xlsCell {
	if len(data) < 6 {
		return nil
	}
	var cells []xlsCell
	row := int(binary.LittleEndian.Uint16(data))
	col := int(binary.LittleEndian.Uint16(data[2:]))
	for p := 4; p+6 <= len(data)-2; p += 6 {
		xf := binary.LittleEndian.Uint16(data[p:])
		f := rk(binary.LittleEndian.Uint32(data[p+2:]))
		cells = append(cells, xlsCell{row: row, col: col, v: s.wb.format(f, xf)})
		col++
	}
	return cells
}

// formula decodes the cached result of a FORMULA record of at least 20
// bytes. A string result is in the STRING record that follows: formula
// keeps its cell in s.strCell and returns none.
func (s *xlsSource) formula(data []byte) []xlsCell {
	res := data[6:14]
	switch {
	case res[6] != 0xFF || res[7] != 0xFF:
		f := math.Float64frombits(binary.LittleEndian.Uint64(res))
		return []xlsCell{{v: s.wb.format(f, binary.LittleEndian.Uint16(data[4:]))}}
	case res[0] == 0:
		s.strCell = &xlsCell{row: int(binary.LittleEndian.Uint16(data)), col: int(binary.LittleEndian.Uint16(data[2:]))}
	case res[0] == 1:
		return []xlsCell{{v: boolErr(res[2], false)}}
	case res[0] == 2:
		return []xlsCell{{v: boolErr(res[2], true)}}
	}
	return nil
}

func (s *xlsSource) set(c *xlsCell) error {
	if c.col >= maxColumns {
		return &LimitError{What: "columns", Limit: maxColumns}
	}
	// The empty cells before it count: a 14-byte record far to the right
	// would otherwise make 16,384 cells.
	if s.total += max(c.col+1-len(s.cells), 1); s.total > maxCells {
		return &LimitError{What: "cells", Limit: maxCells}
	}
	for len(s.cells) <= c.col {
		s.cells = append(s.cells, "")
	}
	s.cells[c.col] = c.v
	return nil
}

// rk decodes an RK number ([MS-XLS] 2.5.217).
func rk(v uint32) float64 {
	var f float64
	if v&2 != 0 {
		f = float64(int32(v) >> 2)
	} else {
		f = math.Float64frombits(uint64(v&0xFFFFFFFC) << 32)
	}
	if v&1 != 0 {
		f /= 100
	}
	return f
}

func boolErr(v byte, isErr bool) string {
	if !isErr {
		return strconv.FormatBool(v != 0)
	}
	switch v {
	case 0x00:
		return "#NULL!"
	case 0x07:
		return "#DIV/0!"
	case 0x0F:
		return "#VALUE!"
	case 0x17:
		return "#REF!"
	case 0x1D:
		return "#NAME?"
	case 0x24:
		return "#NUM!"
	case 0x2A:
		return "#N/A"
	}
	return "#ERR!"
}

// format writes a number as the cell's XF shows it: dates and times in ISO
// form, zero-padded integers for formats such as 00000, else plain.
func (wb *workbook) format(f float64, xf uint16) string {
	if int(xf) >= len(wb.xfFormat) {
		return formatFloat(f)
	}
	ifmt := wb.xfFormat[xf]
	kind, pad := builtinKind(ifmt), 0
	if code, ok := wb.formats[ifmt]; ok {
		kind, pad = formatKind(code)
	}
	switch kind {
	case kindDate, kindDateTime, kindTime:
		if t, ok := serialTime(f, wb.date1904); ok {
			switch {
			case kind == kindTime:
				return t.Format("15:04:05")
			case kind == kindDateTime && t.Hour()+t.Minute()+t.Second() > 0:
				return t.Format("2006-01-02T15:04:05")
			}
			return t.Format("2006-01-02")
		}
	case kindPercent:
		return formatFloat(f*100) + "%"
	}
	if pad > 0 && f == math.Trunc(f) && f >= 0 && f < 1e15 {
		s := strconv.FormatInt(int64(f), 10)
		if len(s) < pad {
			s = strings.Repeat("0", pad-len(s)) + s
		}
		return s
	}
	return formatFloat(f)
}

const (
	kindNumber = iota
	kindDate
	kindDateTime
	kindTime
	kindPercent
)

func builtinKind(ifmt uint16) int {
	switch {
	case ifmt == 14 || ifmt >= 15 && ifmt <= 17 || ifmt >= 27 && ifmt <= 31 || ifmt >= 34 && ifmt <= 36 || ifmt >= 50 && ifmt <= 58:
		return kindDate
	case ifmt == 22:
		return kindDateTime
	case ifmt >= 18 && ifmt <= 21 || ifmt >= 32 && ifmt <= 33 || ifmt >= 45 && ifmt <= 47:
		return kindTime
	case ifmt == 9 || ifmt == 10:
		return kindPercent
	}
	return kindNumber
}

// formatKind classifies a number format code by its first section, leaving
// out quoted text, escaped characters and [colour] or [$-locale] brackets. A
// code of zeros only (00000) pads integers to its length.
func formatKind(code string) (kind, pad int) {
	if sec, _, ok := strings.Cut(code, ";"); ok {
		code = sec
	}
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		switch c := code[i]; c {
		case '"':
			j := strings.IndexByte(code[i+1:], '"')
			if j < 0 {
				i = len(code)
			} else {
				i += j + 1
			}
		case '\\', '_', '*':
			i++
		case '[':
			j := strings.IndexByte(code[i:], ']')
			if j < 0 {
				i = len(code)
				continue
			}
			inner := strings.ToLower(code[i+1 : i+j])
			if inner == "h" || inner == "hh" || inner == "m" || inner == "mm" || inner == "s" || inner == "ss" {
				b.WriteString(inner)
			}
			i += j
		default:
			b.WriteByte(c)
		}
	}
	s := strings.ToLower(b.String())
	if s == "general" || s == "" {
		return kindNumber, 0
	}
	if strings.Trim(s, "0") == "" {
		return kindNumber, len(s)
	}
	hasDate := strings.ContainsAny(s, "dy") || strings.Contains(s, "m") && !strings.ContainsAny(s, "hs")
	hasTime := strings.ContainsAny(s, "hs")
	switch {
	case hasDate && hasTime:
		return kindDateTime, 0
	case hasDate:
		return kindDate, 0
	case hasTime:
		return kindTime, 0
	case strings.Contains(s, "%"):
		return kindPercent, 0
	}
	return kindNumber, 0
}

// serialTime converts a spreadsheet date serial number.
func serialTime(f float64, date1904 bool) (time.Time, bool) {
	if f < 0 || f > 2958465 || math.IsNaN(f) {
		return time.Time{}, false
	}
	base := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	switch {
	case date1904:
		base = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)
	case f < 61:
		// Excel counts 1900-02-29, which did not exist.
		base = time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	days := math.Floor(f)
	secs := math.Round((f - days) * 86400)
	return base.AddDate(0, 0, int(days)).Add(time.Duration(secs) * time.Second), true
}
