package importer

import (
	"archive/zip"
	"errors"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// checkZip refuses an archive whose parts would inflate past limit, going by
// the sizes its directory declares; the readers also stop at limit bytes
// actually inflated, since a directory may lie.
func checkZip(zr *zip.Reader, limit int64) error {
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
		if total > uint64(limit) {
			return &LimitError{What: "uncompressed size", Limit: limit}
		}
	}
	return nil
}

// xlsxSource reads the first sheet of an XLSX workbook with excelize's
// streaming row iterator, which gives cells as the spreadsheet displays them.
type xlsxSource struct {
	f    *excelize.File
	rows *excelize.Rows
	row  int
}

// xlsxInMemory is the size of the largest part of an XLSX file that
// excelize reads into memory: files of up to some 30,000 rows.
const xlsxInMemory = 4 << 20

func newXLSXSource(file io.ReaderAt, size int64, limit int64) (RowSource, error) {
	zr, err := zip.NewReader(file, size)
	if err != nil {
		return nil, unreadable(FormatXLSX, "the ZIP archive is damaged", err)
	}
	if err := checkZip(zr, limit); err != nil {
		return nil, err
	}
	f, err := excelize.OpenReader(io.NewSectionReader(file, 0, size), excelize.Options{
		UnzipSizeLimit: limit,
		// excelize keeps a part up to this size in memory and puts a
		// larger one in a temporary file. A shared-strings part in memory
		// is decoded whole (about 200 MB at peak for 100k rows); from a
		// file, excelize keeps only each string's offset and reads it
		// when a cell needs it: 60 MB, for a third more time.
		UnzipXMLSizeLimit: min(limit, xlsxInMemory),
		// The built-in date formats 14 and 22 (what Excel gives a typed
		// date) show in the reader's locale; excelize writes them
		// mm-dd-yy. Read them as ISO dates, as the other formats are.
		ShortDatePattern: "yyyy-mm-dd",
	})
	if err != nil {
		if strings.Contains(err.Error(), "size limit") || errors.Is(err, excelize.ErrOptionsUnzipSizeLimit) {
			return nil, &LimitError{What: "uncompressed size", Limit: limit}
		}
		return nil, unreadable(FormatXLSX, "cannot open the workbook", err)
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		f.Close()
		return nil, unreadable(FormatXLSX, "the workbook has no sheet", nil)
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		f.Close()
		return nil, unreadable(FormatXLSX, "cannot read the first sheet", err)
	}
	return &xlsxSource{f: f, rows: rows}, nil
}

func (s *xlsxSource) Next() (int, []string, error) {
	for s.rows.Next() {
		s.row++
		cells, err := s.rows.Columns()
		if err != nil {
			return 0, nil, err
		}
		if len(cells) == 0 {
			continue
		}
		for i, c := range cells {
			// A boolean cell displays as TRUE or FALSE.
			switch c {
			case "TRUE":
				cells[i] = "true"
			case "FALSE":
				cells[i] = "false"
			}
		}
		return s.row, cells, nil
	}
	if err := s.rows.Error(); err != nil {
		return 0, nil, err
	}
	return 0, nil, io.EOF
}

func (s *xlsxSource) Close() error {
	err := s.rows.Close()
	return errors.Join(err, s.f.Close())
}
