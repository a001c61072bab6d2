package importer

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Formats the importer reads, as Format names them.
const (
	FormatCSV  = "csv" // CSV and TXT: delimited text
	FormatXLSX = "xlsx"
	FormatODS  = "ods"
	FormatXLS  = "xls"
)

// RowSource yields the rows of the first sheet of a file, cells as the user
// sees them: text as text, numbers without a spurious ".0", dates as ISO
// dates, booleans as true or false.
type RowSource interface {
	// Next returns the next row that has cells, with its spreadsheet row
	// number (1-based; rows it skips are empty), or io.EOF after the last.
	// The slice is valid until the next call.
	Next() (row int, cells []string, err error)
	Close() error
}

var (
	magicOLE = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
	magicZip = []byte("PK\x03\x04")
)

// Detect tells the format of a file by its content: "csv", "xlsx", "ods" or
// "xls". It returns a *FileError matching ErrUnknownFormat for anything
// else, and ErrUnreadable for a ZIP or OLE file it cannot open.
func Detect(file io.ReaderAt, size int64) (string, error) {
	head := make([]byte, min(size, 8192))
	if _, err := file.ReadAt(head, 0); err != nil && err != io.EOF {
		return "", unreadable("", "cannot read the file", err)
	}
	switch {
	case len(head) == 0:
		return "", unreadable("", "the file is empty", nil)
	case bytes.HasPrefix(head, magicOLE):
		if encryptedOLE(file) {
			// An encrypted XLSX is an OLE file too: say what it is rather
			// than that it is no XLSX.
			return "", unreadable("", "the file is password-protected: save it without a password", nil)
		}
		return FormatXLS, nil
	case bytes.HasPrefix(head, magicZip) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		zr, err := openZip(file, size)
		var le *LimitError
		if errors.As(err, &le) {
			return "", le
		}
		if err != nil {
			return "", unreadable("", "the ZIP archive is damaged", err)
		}
		return zipFormat(zr)
	case looksLikeText(head):
		return FormatCSV, nil
	}
	return "", &FileError{Unknown: true, Message: "the file is not CSV, TXT, ODS, XLS or XLSX"}
}

func zipFormat(zr *zip.Reader) (string, error) {
	for _, f := range zr.File {
		switch f.Name {
		case "mimetype":
			rc, err := f.Open()
			if err != nil {
				return "", unreadable(FormatODS, "cannot read the mimetype", err)
			}
			b, _ := io.ReadAll(io.LimitReader(rc, 128))
			rc.Close()
			if strings.TrimSpace(string(b)) == "application/vnd.oasis.opendocument.spreadsheet" {
				return FormatODS, nil
			}
			return "", &FileError{Unknown: true, Message: fmt.Sprintf("an OpenDocument file of type %q, not a spreadsheet", b)}
		case "xl/workbook.xml":
			return FormatXLSX, nil
		}
	}
	return "", &FileError{Unknown: true, Message: "a ZIP archive that is neither an XLSX nor an ODS spreadsheet"}
}

// looksLikeText reports whether the start of a file can be delimited text: a
// BOM, UTF-16 without one, or few control bytes (a NUL among them is found
// again, with its row and column, as the text is read).
func looksLikeText(b []byte) bool {
	if bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}) || bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF}) {
		return true
	}
	if utf16Order(b) != "" {
		return true
	}
	bad, nul := 0, 0
	for _, c := range b {
		switch {
		case c == 0:
			nul++
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f':
			bad++
		}
	}
	return bad*100 <= len(b) && nul <= len(b)/100+1
}

// utf16Order tells UTF-16 text without a BOM by its start: mostly ASCII,
// so that one byte of nearly every pair is NUL, always the same one, and
// the other never is. It returns EncodingUTF16LE, EncodingUTF16BE or "".
func utf16Order(b []byte) string {
	b = b[:min(len(b), 4096)&^1]
	if len(b) < 8 {
		return ""
	}
	var zero [2]int
	for i, c := range b {
		if c == 0 {
			zero[i&1]++
		}
	}
	pairs := len(b) / 2
	switch {
	case zero[0] == 0 && zero[1]*10 >= pairs*9:
		return EncodingUTF16LE
	case zero[1] == 0 && zero[0]*10 >= pairs*9:
		return EncodingUTF16BE
	}
	return ""
}

// extFormat returns the format a file name's extension names, or "".
func extFormat(name string) string {
	switch strings.ToLower(path.Ext(strings.ReplaceAll(name, "\\", "/"))) {
	case ".csv", ".txt", ".tsv":
		return FormatCSV
	case ".xlsx", ".xlsm":
		return FormatXLSX
	case ".ods":
		return FormatODS
	case ".xls":
		return FormatXLS
	}
	return ""
}

// open checks the file's size, detects its format and returns its RowSource.
// Text is read in the encoding its BOM names, else in enc ("" is UTF-8, and
// a byte that is not UTF-8 is an error naming its row and column).
func (im *Importer) open(file io.ReaderAt, size int64, filename, enc string) (src RowSource, format string, err error) {
	if size > im.cfg.MaxFileSize {
		return nil, "", &LimitError{What: "file size", Limit: im.cfg.MaxFileSize}
	}
	format, err = Detect(file, size)
	if errors.Is(err, ErrUnknownFormat) && extFormat(filename) == FormatCSV {
		return nil, "", unreadable(FormatCSV, "the file is binary, not CSV", nil)
	}
	if err != nil {
		return nil, "", err
	}
	if ext := extFormat(filename); ext != "" && ext != format {
		return nil, "", &FileError{Unknown: true, Message: fmt.Sprintf("%q is named like a %s file but its content is %s", filename, strings.ToUpper(ext), strings.ToUpper(format))}
	}
	src, err = im.openFormat(format, file, size, func() (RowSource, error) { return openText(file, size, enc) })
	return src, format, err
}

// OpenFormat returns the RowSource of a file in a known format, within the
// Importer's limits. Text is read in the encoding TextEncoding tells (which
// takes text that is not UTF-8 for Windows-1252); Import never guesses so,
// and refuses such text unless Options.Encoding names its encoding.
func (im *Importer) OpenFormat(format string, file io.ReaderAt, size int64) (RowSource, error) {
	return im.openFormat(format, file, size, func() (RowSource, error) { return newCSVSource(file, size) })
}

// openFormat is OpenFormat with the CSV source openCSV opens.
func (im *Importer) openFormat(format string, file io.ReaderAt, size int64, openCSV func() (RowSource, error)) (RowSource, error) {
	var src RowSource
	var err error
	switch format {
	case FormatCSV:
		src, err = openCSV()
	case FormatXLSX:
		src, err = newXLSXSource(file, size, im.cfg.MaxUncompressed)
	case FormatODS:
		src, err = newODSSource(file, size, im.cfg.MaxUncompressed)
	case FormatXLS:
		src, err = newXLSSource(file, size)
	default:
		return nil, &FileError{Unknown: true, Message: fmt.Sprintf("unknown format %q", format)}
	}
	if err != nil {
		var fe *FileError
		var le *LimitError
		if !errors.As(err, &fe) && !errors.As(err, &le) {
			err = unreadable(format, "cannot read the file", err)
		}
		return nil, err
	}
	return src, nil
}

// sheet is a parsed file: the header and the checked records.
type sheet struct {
	header  *header
	records []*record
}

// parse reads every row of src, checks each one, and finds the duplicates.
func (im *Importer) parse(src RowSource, format string, size int64, progress func(Progress)) (*sheet, error) {
	s := &sheet{}
	var block []record
	err := im.rows(src, format, size, func(h *header) error { s.header = h; return nil }, func(h *header, row int, cells []string) (*record, error) {
		// Records are allocated a block at a time: one allocation per
		// thousand rows, and the slice of pointers grows cheaply.
		if len(block) == cap(block) {
			block = make([]record, 0, 1024)
		}
		block = block[:len(block)+1]
		r := &block[len(block)-1]
		h.fill(r, row, cells)
		return r, nil
	}, func(r *record) error {
		s.records = append(s.records, r)
		if progress != nil && len(s.records)%1000 == 0 {
			progress(Progress{Phase: "read", Read: len(s.records)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if progress != nil {
		progress(Progress{Phase: "read", Read: len(s.records), Total: len(s.records)})
	}
	return s, nil
}

// rows reads the header, then every row of src (a file of size bytes) that
// has cells: newRecord
// checks a row into a record, which fn gets after the duplicate check. It
// enforces MaxRows.
func (im *Importer) rows(src RowSource, format string, size int64, onHeader func(*header) error,
	newRecord func(h *header, row int, cells []string) (*record, error), fn func(*record) error) error {
	wrap := func(err error) error {
		var fe *FileError
		if errors.As(err, &fe) {
			if fe.Format == "" {
				fe.Format = format
			}
			return fe
		}
		var le *LimitError
		if errors.As(err, &le) {
			return le
		}
		return unreadable(format, "cannot read the file", err)
	}
	src, stop := newReadAhead(src)
	defer stop()
	row, cells, err := src.Next()
	if err == io.EOF {
		return unreadable(format, "the file has no rows", nil)
	}
	if err != nil {
		return wrap(err)
	}
	if row != 1 {
		return unreadable(format, "row 1 must be a header with an email column", nil)
	}
	h, err := parseHeader(cells, im.cfg.KeepUnknownColumns)
	if err != nil {
		return wrap(err)
	}
	if err := onHeader(h); err != nil {
		return err
	}
	// first maps each email to the row it first appears in; its keys are
	// the records' own (held to the end of the import anyway). It starts
	// at the size of a file of 100-byte rows, at most MaxRows.
	first := make(map[string]int, min(size/100, int64(im.cfg.MaxRows)))
	seen := 0 // rows read, blank ones included
	records := 0
	failed := 0 // records with errors
	for {
		row, cells, err := src.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return wrap(err)
		}
		if seen++; seen > 2*im.cfg.MaxRows+1000 {
			return &LimitError{What: "rows", Limit: int64(im.cfg.MaxRows)}
		}
		if blank(cells) {
			continue
		}
		if records++; records > im.cfg.MaxRows {
			return &LimitError{What: "rows", Limit: int64(im.cfg.MaxRows)}
		}
		r, err := newRecord(h, row, cells)
		if err != nil {
			return err
		}
		if r.key != "" {
			if prev, ok := first[r.key]; ok {
				r.fail(ColEmail, fmt.Sprintf("The email has already been given in row %d.", prev))
			} else {
				first[r.key] = row
			}
		}
		if r.errs != nil {
			if failed++; failed > im.cfg.MaxErrorRows {
				return &LimitError{What: "rows with errors", Limit: int64(im.cfg.MaxErrorRows)}
			}
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}
