package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// sniffSize is how much of a text file decides its delimiter.
const sniffSize = 64 << 10

// Encodings a text file may have, as TextEncoding names them.
const (
	EncodingUTF8        = "utf-8"
	EncodingUTF16LE     = "utf-16le"
	EncodingUTF16BE     = "utf-16be"
	EncodingWindows1252 = "windows-1252"
)

// TextEncoding tells the encoding of delimited text: a BOM decides (UTF-8,
// UTF-16LE, UTF-16BE); without one, valid UTF-8 is UTF-8 and anything else
// Windows-1252.
func TextEncoding(file io.ReaderAt, size int64) (string, error) {
	var bom [3]byte
	n, err := file.ReadAt(bom[:], 0)
	if err != nil && err != io.EOF {
		return "", err
	}
	switch b := bom[:n]; {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return EncodingUTF8, nil
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return EncodingUTF16LE, nil
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return EncodingUTF16BE, nil
	}
	ok, err := validUTF8(io.NewSectionReader(file, 0, size))
	if err != nil {
		return "", err
	}
	if ok {
		return EncodingUTF8, nil
	}
	return EncodingWindows1252, nil
}

// validUTF8 reads r to the end and reports whether it is valid UTF-8.
func validUTF8(r io.Reader) (bool, error) {
	buf := make([]byte, 64<<10)
	carry := 0
	for {
		n, err := io.ReadFull(r, buf[carry:])
		n += carry
		end := n
		if err == nil {
			// Keep an incomplete rune at the end for the next round.
			for i := 1; i < utf8.UTFMax && i <= n; i++ {
				if c := buf[n-i]; c >= 0xC0 {
					if !utf8.FullRune(buf[n-i : n]) {
						end = n - i
					}
					break
				} else if c < 0x80 {
					break
				}
			}
		}
		if !utf8.Valid(buf[:end]) {
			return false, nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		carry = copy(buf, buf[end:n])
	}
}

// decoder returns a reader of the file as UTF-8, without its BOM.
func decoder(file io.ReaderAt, size int64) (io.Reader, error) {
	enc, err := TextEncoding(file, size)
	if err != nil {
		return nil, err
	}
	return decoderFor(file, size, enc), nil
}

// decoderFor returns a reader of the file in the encoding enc as UTF-8,
// without its BOM.
func decoderFor(file io.ReaderAt, size int64, enc string) io.Reader {
	r := io.NewSectionReader(file, 0, size)
	var dec *encoding.Decoder
	switch enc {
	case EncodingUTF8:
		return skipBOM(r)
	case EncodingUTF16LE:
		dec = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()
	case EncodingUTF16BE:
		dec = unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder()
	default:
		dec = charmap.Windows1252.NewDecoder()
	}
	return transform.NewReader(r, dec)
}

func skipBOM(r *io.SectionReader) io.Reader {
	var b [3]byte
	if n, _ := r.ReadAt(b[:], 0); n == 3 && b == [3]byte{0xEF, 0xBB, 0xBF} {
		return io.NewSectionReader(r, 3, r.Size()-3)
	}
	return r
}

// SniffDelimiter picks the delimiter of delimited text from its first lines:
// of comma, semicolon, tab and pipe (outside quotes), the one whose most
// common non-zero count per line covers the most lines; ties go in that
// order. It returns ',' when none appears.
func SniffDelimiter(sample string) rune {
	const maxLines = 20
	cands := []rune{',', ';', '\t', '|'}
	// counts[c][line] = occurrences of cands[c] in that line.
	counts := make([][]int, len(cands))
	line := make([]int, len(cands))
	lines := 0
	inQuote := false
	flush := func() {
		any := false
		for i := range line {
			any = any || line[i] > 0
		}
		if any {
			for i := range cands {
				counts[i] = append(counts[i], line[i])
			}
			lines++
		}
		clear(line)
	}
	for _, c := range sample {
		if lines >= maxLines {
			break
		}
		switch {
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '\n':
			flush()
		default:
			for i, d := range cands {
				if c == d {
					line[i]++
				}
			}
		}
	}
	if lines < maxLines && !inQuote {
		flush()
	}
	best, bestScore := ',', 0
	for i, d := range cands {
		freq := map[int]int{}
		for _, n := range counts[i] {
			if n > 0 {
				freq[n]++
			}
		}
		score := 0
		for _, f := range freq {
			score = max(score, f)
		}
		if score > bestScore {
			best, bestScore = d, score
		}
	}
	return best
}

// csvSource reads delimited text.
type csvSource struct {
	r       *csv.Reader
	enc     string           // the encoding read, for openText's sources
	reopen  func() io.Reader // the text again, to locate a textError
	header  []string         // the first record, to name a column
	row     int              // spreadsheet row of the last record
	endLine int              // line the last record ended on
	cells   []string
}

// newCSVSource reads delimited text in the encoding TextEncoding tells.
func newCSVSource(file io.ReaderAt, size int64) (RowSource, error) {
	dec, err := decoder(file, size)
	if err != nil {
		return nil, err
	}
	return csvSourceOf(dec)
}

// errNotUTF8 is what a text error (*textError) for a byte that is not
// UTF-8 matches.
var errNotUTF8 = errors.New("importer: the text is not UTF-8")

// textError is the first byte of delimited text that cannot be read: one
// that is not UTF-8, or a NUL (binary data). Off counts the bytes of the
// text (as decoded, BOM left out) before it; Row and Column, where known,
// say where it is (see locate).
type textError struct {
	Off         int64
	NUL         bool
	Row, Column int
	Header      string
}

func (e *textError) Error() string {
	where := fmt.Sprintf("at byte %d", e.Off)
	if e.Row > 0 {
		where = fmt.Sprintf("in row %d, column %d", e.Row, e.Column)
		if e.Header != "" {
			where += fmt.Sprintf(" (%s)", e.Header)
		}
	}
	if e.NUL {
		return "the file is binary, not CSV: a NUL byte " + where
	}
	return "the text is not UTF-8: the first byte that is not is " + where +
		"; save the file as UTF-8, or import it with encoding=windows-1252"
}

// Is makes errors.Is(err, errNotUTF8) true for a byte that is not UTF-8.
func (e *textError) Is(target error) bool { return target == errNotUTF8 && !e.NUL }

// openText opens delimited text in the encoding its BOM names; without a
// BOM, in enc: "" or utf-8 (strict: a byte that is not UTF-8 is a
// *textError), windows-1252, utf-16le or utf-16be. Every encoding is checked
// for NUL bytes.
func openText(file io.ReaderAt, size int64, enc string) (*csvSource, error) {
	head := make([]byte, min(size, 4096))
	n, err := file.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	switch b := head[:n]; {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		enc = EncodingUTF8
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		enc = EncodingUTF16LE
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		enc = EncodingUTF16BE
	case utf16Order(b) != "":
		enc = utf16Order(b)
	case enc == "":
		enc = EncodingUTF8
	default:
		enc = strings.ToLower(enc)
	}
	switch enc {
	case EncodingUTF8, EncodingWindows1252, EncodingUTF16LE, EncodingUTF16BE:
	default:
		return nil, &FileError{Format: FormatCSV, Message: fmt.Sprintf("unknown encoding %q: use utf-8 or windows-1252", enc)}
	}
	open := func() io.Reader { return decoderFor(file, size, enc) }
	src, err := csvSourceOf(&utf8Checker{r: open(), nul: true})
	if err != nil {
		return nil, err
	}
	src.enc, src.reopen = enc, open
	return src, nil
}

// utf8Checker passes text on and fails with a *textError at the first byte
// that is not valid UTF-8 (or, with nul, a NUL byte), after passing on the
// bytes before it; a rune split between two reads is checked whole.
type utf8Checker struct {
	r       io.Reader
	nul     bool
	err     *textError // once failed, every read fails the same
	off     int64      // bytes passed on
	pending []byte     // the start of a rune the last read ended in
}

func (c *utf8Checker) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	b := p[:n]
	skip := 0 // bytes of b that complete the pending rune
	if len(c.pending) > 0 && len(b) > 0 {
		// Complete the split rune with the first bytes of this read.
		k := min(utf8.UTFMax-len(c.pending), len(b))
		joined := append(c.pending[:len(c.pending):len(c.pending)], b[:k]...)
		if !utf8.FullRune(joined) {
			if err == io.EOF {
				return 0, c.fail(-int64(len(c.pending)), false)
			}
			c.pending = joined
			c.off += int64(n)
			return n, err
		}
		r, size := utf8.DecodeRune(joined)
		if r == utf8.RuneError && size <= 1 {
			return 0, c.fail(-int64(len(c.pending)), false)
		}
		skip = size - len(c.pending)
		c.pending = nil
	}
	// Keep an incomplete rune at the end for the next read.
	end := len(b)
	for i := 1; i < utf8.UTFMax && i <= len(b)-skip; i++ {
		if x := b[len(b)-i]; x >= 0xC0 {
			if !utf8.FullRune(b[len(b)-i:]) {
				end = len(b) - i
			}
			break
		} else if x < 0x80 {
			break
		}
	}
	if i := invalidAt(b[skip:end], c.nul); i >= 0 {
		nul := b[skip+i] == 0
		c.off += int64(skip + i)
		return skip + i, c.fail(0, nul)
	}
	c.pending = append(c.pending, b[end:]...)
	if err == io.EOF && len(c.pending) > 0 {
		// The text ends inside a rune, which starts len(pending) bytes
		// before the end.
		c.off += int64(n)
		return end, c.fail(-int64(len(c.pending)), false)
	}
	c.off += int64(n)
	return n, err
}

func (c *utf8Checker) fail(delta int64, nul bool) error {
	c.err = &textError{Off: c.off + delta, NUL: nul}
	return c.err
}

// invalidAt returns the index of the first byte of b that is not UTF-8 (or,
// with nul, is NUL), or -1.
func invalidAt(b []byte, nul bool) int {
	if nul {
		if i := bytes.IndexByte(b, 0); i >= 0 {
			if j := invalidAt(b[:i], false); j >= 0 {
				return j
			}
			return i
		}
	}
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// locate finds the row and column of the byte at off of text that reads
// (decoded) with comma as its delimiter: the text before it is read as
// the import reads it, and the byte lies in the last field.
func locate(text io.Reader, comma rune, off int64) (row, col int) {
	prefix, _ := io.ReadAll(io.LimitReader(text, off))
	src, err := csvSourceOf(io.MultiReader(bytes.NewReader(prefix), strings.NewReader("x")))
	if err != nil {
		return 0, 0
	}
	src.r.Comma = comma
	for {
		r, cells, err := src.Next()
		if err != nil {
			if row == 0 {
				// The text before the byte does not parse (a quote left
				// open): count its lines and delimiters instead.
				line := prefix[bytes.LastIndexByte(prefix, '\n')+1:]
				row, col = bytes.Count(prefix, []byte{'\n'})+1, bytes.Count(line, []byte(string(comma)))+1
			}
			return row, col
		}
		row, col = r, len(cells)
	}
}

// csvSourceOf sniffs the delimiter of UTF-8 text and reads its records.
func csvSourceOf(dec io.Reader) (*csvSource, error) {
	br := bufio.NewReaderSize(dec, sniffSize)
	sample, err := br.Peek(sniffSize)
	var te *textError
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull && !errors.As(err, &te) {
		return nil, unreadable(FormatCSV, "cannot decode the text", err)
	}
	comma := SniffDelimiter(string(sample))
	r := csv.NewReader(&fieldLimiter{r: br, comma: byte(comma), limit: maxColumns})
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	return &csvSource{r: r}, nil
}

func (s *csvSource) Next() (int, []string, error) {
	rec, err := s.r.Read()
	if err != nil {
		if errors.Is(err, errOpenQuote) {
			return 0, nil, unreadable(FormatCSV, fmt.Sprintf("a quote that opens a cell after row %d is never closed: the rest of the file would be that one cell", s.row), nil)
		}
		var te *textError
		if errors.As(err, &te) && s.reopen != nil {
			te.Row, te.Column = locate(s.reopen(), s.r.Comma, te.Off)
			if te.Column > 0 && te.Column <= len(s.header) {
				te.Header = s.header[te.Column-1]
			}
			return 0, nil, &FileError{Format: FormatCSV, Message: te.Error()}
		}
		return 0, nil, err
	}
	// encoding/csv skips blank lines; a spreadsheet shows them as rows, so
	// count them from the line the record starts on.
	start, _ := s.r.FieldPos(0)
	s.row += 1 + max(start-s.endLine-1, 0)
	last, _ := s.r.FieldPos(len(rec) - 1)
	s.endLine = last + strings.Count(rec[len(rec)-1], "\n")
	s.cells = append(s.cells[:0], rec...)
	if s.row == 1 && s.reopen != nil {
		s.header = slices.Clone(rec)
	}
	return s.row, s.cells, nil
}

func (s *csvSource) Close() error { return nil }

// fieldLimiter passes delimited text on to encoding/csv and fails with a
// *LimitError as soon as a record has more than limit fields: csv.Reader
// would otherwise hold a record of any width (a 40 MB line of commas is 40
// million fields, gigabytes of string headers) before the reader could count
// them. It follows csv.Reader's quoting with LazyQuotes, so that it counts
// the fields csv.Reader returns; comma is an ASCII delimiter.
type fieldLimiter struct {
	r      io.Reader
	comma  byte
	limit  int
	fields int // delimiters seen in the current record
	size   int // bytes of the current record before this read
	state  uint8
}

// States of fieldLimiter.
const (
	flFieldStart = iota // at the start of a field
	flUnquoted          // in a field that does not start with a quote
	flQuoted            // in a quoted field
	flQuote             // a quote in a quoted field: its end, or an escape
	flQuoteCR           // that quote, then a CR: a line end if LF follows
)

// countFields counts the delimiters of seg, text outside quotes, into
// l.fields, and returns the index of the one that reaches the limit, or -1.
func (l *fieldLimiter) countFields(seg []byte) int {
	k := bytes.Count(seg, []byte{l.comma})
	if l.fields+k >= l.limit {
		// Find where the limit is reached, byte by byte.
		for j, c := range seg {
			if c == l.comma {
				if l.fields++; l.fields >= l.limit {
					return j
				}
			}
		}
	}
	l.fields += k
	return -1
}

func (l *fieldLimiter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	recStart := 0 // where the current record starts in p
	for i := 0; i < n; i++ {
		if l.state == flFieldStart || l.state == flUnquoted {
			var lerr error
			if i, lerr = l.countUnquoted(p[:n], i); lerr != nil {
				return i, lerr
			}
			if i == n {
				break
			}
		}
		c := p[i]
		// Inside a field most bytes are text: skip them in a tight loop.
		switch l.state {
		case flUnquoted:
			for c != l.comma && c != '\n' && i+1 < n {
				i++
				c = p[i]
			}
		case flQuoted:
			j := bytes.IndexByte(p[i:n], '"')
			if j < 0 {
				i = n
				continue
			}
			i += j
			c = '"'
		}
		recEnd, full := l.step(c)
		if full {
			return i, &LimitError{What: "columns", Limit: int64(l.limit)}
		}
		if recEnd {
			l.fields, l.state, l.size, recStart = 0, flFieldStart, 0, i+1
		}
	}
	if l.size += n - recStart; l.size > maxRowText {
		// encoding/csv would hold the record whole, and its copies.
		return n, &LimitError{What: "row size", Limit: maxRowText}
	}
	if err == io.EOF && l.state == flQuoted {
		// encoding/csv with LazyQuotes would take the rest of the file
		// as one cell, and the rows in it would go missing.
		return n, errOpenQuote
	}
	return n, err
}

// countUnquoted counts, outside quotes, the delimiters of p[i:] up to the
// line's end or the next quote with the bytes package's fast loops, and
// returns the offset after them. It fails with a *LimitError, at the
// offset of the delimiter that reaches the limit.
func (l *fieldLimiter) countUnquoted(p []byte, i int) (int, error) {
	seg := p[i:]
	if nl := bytes.IndexByte(seg, '\n'); nl >= 0 {
		seg = seg[:nl]
	}
	if q := bytes.IndexByte(seg, '"'); q >= 0 {
		seg = seg[:q]
	}
	if len(seg) == 0 {
		return i, nil
	}
	if j := l.countFields(seg); j >= 0 {
		return i + j, &LimitError{What: "columns", Limit: int64(l.limit)}
	}
	if seg[len(seg)-1] == l.comma {
		l.state = flFieldStart
	} else {
		l.state = flUnquoted
	}
	return i + len(seg), nil
}

// step moves the state on by the byte c. It reports whether c ends the
// record (the caller resets the count), and whether c is the delimiter that
// reaches the limit.
func (l *fieldLimiter) step(c byte) (recEnd, full bool) {
	if l.state == flQuoteCR {
		if c == '\n' {
			return true, false
		}
		l.state = flQuoted // the quote was a bare one, the CR text
	}
	switch l.state {
	case flFieldStart, flUnquoted:
		switch {
		case c == l.comma:
			return false, l.delimiter()
		case c == '\n':
			return true, false
		case c == '"' && l.state == flFieldStart:
			l.state = flQuoted
		default:
			l.state = flUnquoted
		}
	case flQuoted:
		if c == '"' {
			l.state = flQuote
		}
	case flQuote:
		switch c {
		case '"':
			l.state = flQuoted // an escaped quote
		case l.comma:
			return false, l.delimiter()
		case '\n':
			return true, false
		case '\r':
			l.state = flQuoteCR
		default:
			l.state = flQuoted // LazyQuotes: a bare quote in the field
		}
	}
	return false, false
}

// delimiter counts a delimiter outside quotes and reports whether it
// reaches the limit.
func (l *fieldLimiter) delimiter() bool {
	l.state = flFieldStart
	l.fields++
	return l.fields >= l.limit
}

// errOpenQuote: a quoted field that is never closed.
var errOpenQuote = errors.New("importer: a quoted field is never closed")
