package importer

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// OpenDocument namespaces.
const (
	nsTable  = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
	nsText   = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
	nsOffice = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
)

// maxColumns caps the cells of a row: LibreOffice's own limit is 16,384
// columns.
const maxColumns = 16384

// maxCells caps the cells a spreadsheet reader returns in all, repeated
// rows and columns counted as often as they repeat (1,000,000 rows of 32
// columns): a file that declares more is refused as soon as it does.
const maxCells = 1 << 25

// maxRowRepeat caps number-rows-repeated on a row that has values: every
// copy after the first is a duplicate of it, so a larger count is a forged
// file (a 500-byte document would otherwise make a million rows).
const maxRowRepeat = 1000

// maxCellText and maxRowText cap the text of a cell and of a row; a cell's
// text beyond the first is dropped, a longer row is an error.
const (
	maxCellText = 1 << 20
	maxRowText  = 16 << 20
)

// odsSource streams the first table of an ODS document's content.xml. It
// never expands a run of empty rows or cells (LibreOffice writes the rest of
// the sheet as a million-row run): empty rows only move the row number, and
// empty cells are counted and written out only when a value follows them.
type odsSource struct {
	rc      io.ReadCloser
	dec     *xmlScanner
	row     int // number of the last row read
	repeat  int // further copies of cells to return
	total   int // cells returned so far, against maxCells
	cells   []string
	inTable bool
	done    bool
	text    strings.Builder
	// The document's prefixes of the namespaces, from its root element:
	// the scanner, like encoding/xml's RawToken, leaves names unresolved.
	table, txt, office string
	root               bool
}

func newODSSource(file io.ReaderAt, size int64, limit int64) (RowSource, error) {
	zr, err := openZip(file, size)
	if err != nil {
		return nil, unreadable(FormatODS, "the ZIP archive is damaged", err)
	}
	var content, manifest *zip.File
	for _, f := range zr.File {
		switch f.Name {
		case "content.xml":
			content = f
		case "META-INF/manifest.xml":
			manifest = f
		}
	}
	if manifest != nil && encryptedODF(manifest) {
		return nil, unreadable(FormatODS, "the file is password-protected: save it without a password", nil)
	}
	if content == nil {
		return nil, unreadable(FormatODS, "the document has no content.xml", nil)
	}
	if content.UncompressedSize64 > uint64(limit) {
		return nil, &LimitError{What: "uncompressed size", Limit: limit}
	}
	rc, err := content.Open()
	if err != nil {
		return nil, unreadable(FormatODS, "cannot open content.xml", err)
	}
	return newODSReader(rc, limit), nil
}

// encryptedODF reports whether the manifest of an ODF package describes
// encrypted entries (a document saved with a password): each has a
// manifest:encryption-data element.
func encryptedODF(manifest *zip.File) bool {
	if manifest.UncompressedSize64 > 1<<20 {
		return false
	}
	rc, err := manifest.Open()
	if err != nil {
		return false
	}
	defer rc.Close()
	dec := xml.NewDecoder(io.LimitReader(rc, 1<<20))
	for {
		tok, err := dec.RawToken()
		if err != nil {
			return false
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "encryption-data" {
			return true
		}
	}
}

// newODSReader reads rows from a content.xml stream, stopping with a
// *LimitError after limit bytes.
func newODSReader(rc io.ReadCloser, limit int64) *odsSource {
	lr := &limitReader{r: rc, n: limit, limit: limit}
	return &odsSource{rc: rc, dec: newXMLScanner(lr), table: "table", txt: "text", office: "office"}
}

// token returns the next raw token; the root element's namespace
// declarations set the prefixes the reader looks for.
func (s *odsSource) token() (xml.Token, error) {
	tok, err := s.dec.Token()
	if se, ok := tok.(xml.StartElement); ok && !s.root {
		s.root = true
		for _, a := range se.Attr {
			if a.Name.Space != "xmlns" {
				continue
			}
			switch a.Value {
			case nsTable:
				s.table = a.Name.Local
			case nsText:
				s.txt = a.Name.Local
			case nsOffice:
				s.office = a.Name.Local
			}
		}
	}
	return tok, err
}

// skip reads to the end of the element just started.
func (s *odsSource) skip() error {
	for depth := 1; depth > 0; {
		tok, err := s.dec.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

// limitReader fails with a *LimitError past its limit, where io.LimitReader
// would end quietly.
type limitReader struct {
	r        io.Reader
	n, limit int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, &LimitError{What: "uncompressed size", Limit: l.limit}
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

func (s *odsSource) Close() error { return s.rc.Close() }

func attr(se xml.StartElement, space, local string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Local == local && a.Name.Space == space {
			return a.Value, true
		}
	}
	return "", false
}

// maxRepeat caps a number-*-repeated attribute: no sheet has more rows
// (LibreOffice's largest sheets have 16,777,216), and a larger count, which
// only a forged file has, must not overflow the sums of runs.
const maxRepeat = 1 << 24

// repeated reads a number-*-repeated attribute: at least 1, at most
// maxRepeat.
func repeated(se xml.StartElement, prefix, local string) int {
	v, ok := attr(se, prefix, local)
	if !ok {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	return min(n, maxRepeat)
}

func (s *odsSource) Next() (int, []string, error) {
	if s.repeat > 0 {
		s.repeat--
		s.row++
		return s.row, s.cells, nil
	}
	for !s.done {
		tok, err := s.token()
		if err == io.EOF {
			if !s.inTable {
				return 0, nil, unreadable(FormatODS, "the document has no table", nil)
			}
			return 0, nil, s.xmlErr(io.ErrUnexpectedEOF)
		}
		if err != nil {
			return 0, nil, s.xmlErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case t.Name.Space != s.table:
			case t.Name.Local == "table":
				s.inTable = true
			case !s.inTable:
			case t.Name.Local == "table-row":
				n := repeated(t, s.table, "number-rows-repeated")
				empty, err := s.readRow()
				if err != nil {
					return 0, nil, err
				}
				if !empty && n > maxRowRepeat {
					return 0, nil, &LimitError{What: "repeats of a row with values (number-rows-repeated)", Limit: maxRowRepeat}
				}
				if s.row+n > maxSheetRow {
					// No sheet has more rows: only a forged file gets
					// here, by runs of empty rows that cost nothing to read
					// and nothing to write.
					return 0, nil, &LimitError{What: "row number", Limit: maxSheetRow}
				}
				if empty {
					s.row += n
					continue
				}
				if s.total += n * len(s.cells); s.total > maxCells {
					return 0, nil, &LimitError{What: "cells", Limit: maxCells}
				}
				s.row++
				s.repeat = n - 1
				return s.row, s.cells, nil
			case t.Name.Local == "shapes", t.Name.Local == "table-columns", t.Name.Local == "table-column",
				t.Name.Local == "table-source", t.Name.Local == "scenario", t.Name.Local == "named-expressions":
				if err := s.skip(); err != nil {
					return 0, nil, s.xmlErr(err)
				}
			}
		case xml.EndElement:
			if t.Name.Space == s.table && t.Name.Local == "table" {
				s.done = true
			}
		}
	}
	return 0, nil, io.EOF
}

func (s *odsSource) xmlErr(err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return le
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if s.row > 0 {
		return unreadable(FormatODS, fmt.Sprintf("content.xml is not valid after row %d", s.row), err)
	}
	return unreadable(FormatODS, "content.xml is not valid", err)
}

// readRow reads the cells of a table-row up to its end into s.cells, with
// trailing empty cells left out. It reports whether the row is empty.
func (s *odsSource) readRow() (bool, error) {
	s.cells = s.cells[:0]
	pending := 0 // empty cells not yet written
	size := 0
	for {
		tok, err := s.token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return false, s.xmlErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != s.table || (t.Name.Local != "table-cell" && t.Name.Local != "covered-table-cell") {
				if err := s.skip(); err != nil {
					return false, s.xmlErr(err)
				}
				continue
			}
			n := repeated(t, s.table, "number-columns-repeated")
			var v string
			if t.Name.Local == "covered-table-cell" {
				// Hidden under a merged cell: the user sees nothing there.
				if err := s.skip(); err != nil {
					return false, s.xmlErr(err)
				}
			} else if v, err = s.readCell(t); err != nil {
				return false, err
			}
			if v == "" {
				// Capped, so that no run of empty cells can overflow pending.
				pending = min(pending+n, maxColumns+1)
				continue
			}
			if len(s.cells)+pending+n > maxColumns {
				return false, &LimitError{What: "columns", Limit: maxColumns}
			}
			if size += n * len(v); size > maxRowText {
				return false, &LimitError{What: "row size", Limit: maxRowText}
			}
			for ; pending > 0; pending-- {
				s.cells = append(s.cells, "")
			}
			for range n {
				s.cells = append(s.cells, v)
			}
		case xml.EndElement:
			return len(s.cells) == 0, nil
		}
	}
}

// readCell reads a table-cell up to its end and returns what the user sees:
// typed values in their ISO or plain form, else the text of its paragraphs.
func (s *odsSource) readCell(se xml.StartElement) (string, error) {
	typ, _ := attr(se, s.office, "value-type")
	s.text.Reset()
	paragraphs := 0
	depth := 0
	inP := 0
	for {
		tok, err := s.token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", s.xmlErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space == s.office && t.Name.Local == "annotation" {
				if err := s.skip(); err != nil {
					return "", s.xmlErr(err)
				}
				continue
			}
			depth++
			if s.isParagraph(t.Name) {
				if paragraphs > 0 && inP == 0 {
					s.text.WriteByte('\n')
				}
				paragraphs++
				inP++
				continue
			}
			s.cellSpace(t)
		case xml.EndElement:
			if depth == 0 {
				return cellValue(se, s.office, typ, s.text.String()), nil
			}
			depth--
			if s.isParagraph(t.Name) {
				inP--
			}
		case xml.CharData:
			if inP > 0 && s.text.Len() < maxCellText {
				s.text.Write(t)
			}
		}
	}
}

// isParagraph reports whether name is a paragraph or a heading of text.
func (s *odsSource) isParagraph(name xml.Name) bool {
	return name.Space == s.txt && (name.Local == "p" || name.Local == "h")
}

// cellSpace writes the spaces, tab or line break that an element of a
// cell's text stands for (text:s, text:tab, text:line-break), within
// maxCellText; other elements write nothing.
func (s *odsSource) cellSpace(t xml.StartElement) {
	if t.Name.Space != s.txt {
		return
	}
	switch t.Name.Local {
	case "s":
		c := 1
		if v, ok := attr(t, s.txt, "c"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n <= maxAttrValue {
				c = n
			}
		}
		for range c {
			if s.text.Len() < maxCellText {
				s.text.WriteByte(' ')
			}
		}
	case "tab":
		if s.text.Len() < maxCellText {
			s.text.WriteByte('\t')
		}
	case "line-break":
		if s.text.Len() < maxCellText {
			s.text.WriteByte('\n')
		}
	}
}

func cellValue(se xml.StartElement, office, typ, text string) string {
	switch typ {
	case "float":
		if v, ok := attr(se, office, "value"); ok {
			return formatNumber(v, text)
		}
	case "date":
		if v, ok := attr(se, office, "date-value"); ok {
			return isoDate(v)
		}
	case "boolean":
		if v, ok := attr(se, office, "boolean-value"); ok {
			if b, err := strconv.ParseBool(v); err == nil {
				return strconv.FormatBool(b)
			}
		}
	}
	// string, percentage, currency, time: the text as displayed.
	return text
}

// formatNumber writes a number without exponent or spurious ".0"; text is
// the fallback for a value that is not a number. Displayed digits that mean
// the same number (a zip code formatted 00000) are kept as displayed.
func formatNumber(v, text string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return text
	}
	if text != "" && len(text) < 16 && strings.Trim(text, "0123456789") == "" {
		if n, err := strconv.ParseFloat(text, 64); err == nil && n == f {
			return text
		}
	}
	return formatFloat(f)
}

// formatFloat writes f as a spreadsheet shows it in a general format: at most
// 15 significant digits, no exponent below 1e21, no trailing zeros.
func formatFloat(f float64) string {
	r, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 15, 64), 64)
	if err != nil {
		r = f
	}
	if r == 0 {
		return "0"
	}
	if abs := max(r, -r); abs >= 1e21 || abs < 1e-9 {
		return strconv.FormatFloat(r, 'g', -1, 64)
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// isoDate shortens an ISO date-time with no time to the date.
func isoDate(v string) string {
	if d, t, ok := strings.Cut(v, "T"); ok {
		if strings.Trim(t, "0:.") == "" {
			return d
		}
	}
	return v
}
