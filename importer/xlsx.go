package importer

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// checkZip refuses an archive whose parts would inflate past limit, going by
// the sizes its directory declares; archive/zip fails a part that inflates
// past its declared size, and the readers also stop at limit bytes.
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

// Limits of the XLSX reader, beyond the Config's: they bound what it holds
// in memory whatever the file claims.
const (
	// maxXLSXMeta caps the parts read whole before the sheet: the
	// workbook, its relationships and the styles.
	maxXLSXMeta = 16 << 20
	// maxSharedText and maxSharedStrings cap the shared-strings table,
	// which is held in memory: its text and its number of strings.
	maxSharedText    = 64 << 20
	maxSharedStrings = 1 << 22
	// maxStyles caps the cell formats (cellXfs) of the styles part.
	maxStyles = 1 << 16
	// maxSheetRow is the largest row number a sheet may have (Excel's is
	// 1,048,576, LibreOffice's 16,777,216).
	maxSheetRow = 1 << 24
)

// xlsxSource streams the first sheet of an XLSX workbook through the XML
// scanner the ODS reader uses: every malformed token, damaged part or read
// error is an error, never an early end. Cells come as the spreadsheet shows
// them (numbers formatted as XLS cells are: dates ISO, zero-padded codes,
// percentages).
type xlsxSource struct {
	rc    io.ReadCloser
	dec   *xmlScanner
	part  string
	wb    *workbook
	sst   *sharedStrings
	row   int
	cells []string
	total int // cells returned so far, against maxCells
	done  bool
	inRow bool
	val   []byte
}

func newXLSXSource(file io.ReaderAt, size int64, limit int64) (RowSource, error) {
	zr, err := openZip(file, size)
	if err != nil {
		return nil, unreadable(FormatXLSX, "the ZIP archive is damaged", err)
	}
	if err := checkZip(zr, limit); err != nil {
		return nil, err
	}
	parts := map[string]*zip.File{}
	for _, f := range zr.File {
		parts[f.Name] = f
	}
	sheetPart, date1904, err := xlsxFirstSheet(parts)
	if err != nil {
		return nil, err
	}
	rels, err := xlsxRels(parts, "xl/_rels/workbook.xml.rels")
	if err != nil {
		return nil, err
	}
	wb := &workbook{formats: map[uint16]string{}, date1904: date1904}
	if p := rels.byType("styles", "xl/styles.xml"); parts[p] != nil {
		if err := readStyles(parts[p], wb); err != nil {
			return nil, err
		}
	}
	sst := &sharedStrings{}
	if p := rels.byType("sharedStrings", "xl/sharedStrings.xml"); parts[p] != nil {
		if err := sst.read(parts[p], limit); err != nil {
			return nil, err
		}
	}
	target, ok := rels.byID[sheetPart]
	if !ok {
		return nil, unreadable(FormatXLSX, "the workbook's first sheet has no part", nil)
	}
	zf := parts[target]
	if zf == nil {
		return nil, unreadable(FormatXLSX, fmt.Sprintf("the workbook has no part %s", target), nil)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, unreadable(FormatXLSX, "cannot open "+target, err)
	}
	return &xlsxSource{rc: rc, dec: newXMLScanner(&limitReader{r: rc, n: limit, limit: limit}), part: target, wb: wb, sst: sst}, nil
}

// xmlPart opens a part for the scanner, refusing one over max bytes.
func xmlPart(f *zip.File, max int64) (*xmlScanner, io.Closer, error) {
	if f.UncompressedSize64 > uint64(max) {
		return nil, nil, &LimitError{What: f.Name + " size", Limit: max}
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, unreadable(FormatXLSX, "cannot open "+f.Name, err)
	}
	return newXMLScanner(&limitReader{r: rc, n: max, limit: max}), rc, nil
}

// partErr names the part in an error of the scanner or the archive.
func partErr(name string, err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return le
	}
	var fe *FileError
	if errors.As(err, &fe) {
		return fe
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return unreadable(FormatXLSX, name+" is damaged", err)
}

// xlsxFirstSheet reads xl/workbook.xml: the relationship id of the first
// sheet, and whether dates count from 1904.
func xlsxFirstSheet(parts map[string]*zip.File) (rid string, date1904 bool, err error) {
	f := parts["xl/workbook.xml"]
	if f == nil {
		return "", false, unreadable(FormatXLSX, "the workbook has no xl/workbook.xml", nil)
	}
	dec, c, err := xmlPart(f, maxXLSXMeta)
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if rid == "" {
				return "", false, unreadable(FormatXLSX, "the workbook has no sheet", nil)
			}
			return rid, date1904, nil
		}
		if err != nil {
			return "", false, partErr(f.Name, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "workbookPr":
			v := localAttr(se, "date1904")
			date1904 = v == "1" || v == "true"
		case "sheet":
			if rid == "" {
				for _, a := range se.Attr {
					if a.Name.Local == "id" && a.Name.Space != "" {
						rid = a.Value
					}
				}
				if rid == "" {
					return "", false, unreadable(FormatXLSX, "the workbook's first sheet has no relationship id", nil)
				}
			}
		}
	}
}

// localAttr returns the value of the unprefixed attribute local, or "".
func localAttr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// xlsxRelations are the relationships of the workbook: targets (part names)
// by id and by type.
type xlsxRelations struct {
	byID   map[string]string
	byKind map[string]string
}

// byType returns the part of the first relationship of a type (the last
// element of its URI), or def.
func (r *xlsxRelations) byType(kind, def string) string {
	if p, ok := r.byKind[kind]; ok {
		return p
	}
	return def
}

func xlsxRels(parts map[string]*zip.File, name string) (*xlsxRelations, error) {
	rels := &xlsxRelations{byID: map[string]string{}, byKind: map[string]string{}}
	f := parts[name]
	if f == nil {
		return nil, unreadable(FormatXLSX, "the workbook has no "+name, nil)
	}
	dec, c, err := xmlPart(f, maxXLSXMeta)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return rels, nil
		}
		if err != nil {
			return nil, partErr(f.Name, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Relationship" || len(rels.byID) >= maxStyles {
			continue
		}
		target := localAttr(se, "Target")
		if strings.HasPrefix(target, "/") {
			target = strings.TrimPrefix(target, "/")
		} else {
			target = path.Join("xl", target)
		}
		rels.byID[localAttr(se, "Id")] = target
		typ := localAttr(se, "Type")
		kind := typ[strings.LastIndexByte(typ, '/')+1:]
		if _, ok := rels.byKind[kind]; !ok {
			rels.byKind[kind] = target
		}
	}
}

// readStyles reads the number formats of the styles part and the format of
// each cell style (cellXfs) into wb, as the XLS reader has them.
func readStyles(f *zip.File, wb *workbook) error {
	dec, c, err := xmlPart(f, maxXLSXMeta)
	if err != nil {
		return err
	}
	defer c.Close()
	inXfs := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return partErr(f.Name, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "numFmt":
				id, err := strconv.ParseUint(localAttr(t, "numFmtId"), 10, 16)
				if err == nil && len(wb.formats) < maxStyles {
					wb.formats[uint16(id)] = localAttr(t, "formatCode")
				}
			case "cellXfs":
				inXfs = true
			case "xf":
				if inXfs && len(wb.xfFormat) < maxStyles {
					id, _ := strconv.ParseUint(localAttr(t, "numFmtId"), 10, 16)
					wb.xfFormat = append(wb.xfFormat, uint16(id))
				}
			}
		case xml.EndElement:
			if t.Name.Local == "cellXfs" {
				inXfs = false
			}
		}
	}
}

// sharedStrings holds the shared-strings table compactly: the text of every
// string in chunks of a megabyte, and for each string its place there.
type sharedStrings struct {
	chunks [][]byte
	// at packs chunk<<41 | offset<<21 | length.
	at   []uint64
	text int
}

const sstChunk = 1 << 20

func (s *sharedStrings) add(b []byte) error {
	if len(s.at) >= maxSharedStrings {
		return &LimitError{What: "shared strings", Limit: maxSharedStrings}
	}
	if s.text += len(b); s.text > maxSharedText {
		return &LimitError{What: "shared-strings text (bytes)", Limit: maxSharedText}
	}
	b = b[:min(len(b), maxCellText)]
	n := len(s.chunks)
	if n == 0 || len(s.chunks[n-1])+len(b) > sstChunk {
		s.chunks = append(s.chunks, make([]byte, 0, sstChunk))
		n++
	}
	c := s.chunks[n-1]
	s.at = append(s.at, uint64(n-1)<<41|uint64(len(c))<<21|uint64(len(b)))
	s.chunks[n-1] = append(c, b...)
	return nil
}

// get returns string i, and false if there is none.
func (s *sharedStrings) get(i int) (string, bool) {
	if i < 0 || i >= len(s.at) {
		return "", false
	}
	a := s.at[i]
	c, off, n := a>>41, (a>>21)&(1<<20-1), a&(1<<21-1)
	return string(s.chunks[c][off : off+n]), true
}

// read reads the shared-strings part: the text of each si, its runs joined,
// phonetic readings (rPh) left out.
func (s *sharedStrings) read(f *zip.File, limit int64) error {
	rc, err := f.Open()
	if err != nil {
		return unreadable(FormatXLSX, "cannot open "+f.Name, err)
	}
	defer rc.Close()
	dec := newXMLScanner(&limitReader{r: rc, n: limit, limit: limit})
	var cur []byte
	inSI, inT, inPh := false, false, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if inSI {
				return partErr(f.Name, io.ErrUnexpectedEOF)
			}
			return nil
		}
		if err != nil {
			return partErr(f.Name, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				inSI, cur = true, cur[:0]
			case "rPh":
				inPh++
			case "t":
				inT = inSI && inPh == 0
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "si":
				if err := s.add(cur); err != nil {
					return err
				}
				inSI = false
			case "rPh":
				inPh = max(inPh-1, 0)
			case "t":
				inT = false
			}
		case xml.CharData:
			if inT && len(cur) < maxCellText {
				cur = append(cur, t...)
			}
		}
	}
}

func (s *xlsxSource) Close() error { return s.rc.Close() }

func (s *xlsxSource) err(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	var le *LimitError
	if errors.As(err, &le) {
		return le
	}
	var fe *FileError
	if errors.As(err, &fe) {
		return fe
	}
	msg := s.part + " is damaged"
	switch {
	case s.inRow:
		msg = fmt.Sprintf("%s is damaged in row %d", s.part, s.row)
	case s.row > 0:
		msg = fmt.Sprintf("%s is damaged after row %d", s.part, s.row)
	}
	return unreadable(FormatXLSX, msg, err)
}

// Next returns the next row that has a value. The sheet must end with its
// closing tag: a sheet cut short is an error.
func (s *xlsxSource) Next() (int, []string, error) {
	for !s.done {
		tok, err := s.dec.Token()
		if err != nil {
			return 0, nil, s.err(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "row" {
				continue
			}
			row := s.row + 1
			if v := localAttr(t, "r"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n <= s.row {
					return 0, nil, s.err(fmt.Errorf("row number %q after row %d", v, s.row))
				}
				row = n
			}
			if row > maxSheetRow {
				return 0, nil, &LimitError{What: "row number", Limit: maxSheetRow}
			}
			s.row, s.inRow = row, true
			if err := s.readRow(); err != nil {
				return 0, nil, err
			}
			s.inRow = false
			if len(s.cells) > 0 {
				return s.row, s.cells, nil
			}
		case xml.EndElement:
			if t.Name.Local == "sheetData" || t.Name.Local == "worksheet" {
				s.done = true
			}
		}
	}
	return 0, nil, io.EOF
}

// readRow reads the cells of a row up to its end into s.cells, without
// trailing empty cells.
func (s *xlsxSource) readRow() error {
	s.cells = s.cells[:0]
	col, size := 0, 0
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return s.err(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "c" {
				if err := s.skip(); err != nil {
					return err
				}
				continue
			}
			if ref := localAttr(t, "r"); ref != "" {
				c, ok := cellColumn(ref)
				if !ok {
					return s.err(fmt.Errorf("cell reference %q in row %d", ref, s.row))
				}
				col = c
			} else {
				col++
			}
			if col > maxColumns {
				return &LimitError{What: "columns", Limit: maxColumns}
			}
			v, err := s.readCell(t)
			if err != nil {
				return err
			}
			if v == "" {
				continue
			}
			if size += len(v); size > maxRowText {
				return &LimitError{What: "row size", Limit: maxRowText}
			}
			if s.total += max(col-len(s.cells), 1); s.total > maxCells {
				return &LimitError{What: "cells", Limit: maxCells}
			}
			for len(s.cells) < col {
				s.cells = append(s.cells, "")
			}
			s.cells[col-1] = v
		case xml.EndElement:
			return nil
		}
	}
}

// cellColumn returns the 1-based column of a cell reference such as "AB12".
func cellColumn(ref string) (int, bool) {
	col, i := 0, 0
	for ; i < len(ref) && ref[i] >= 'A' && ref[i] <= 'Z'; i++ {
		if col = col*26 + int(ref[i]-'A'+1); col > maxColumns {
			return maxColumns + 1, true
		}
	}
	if i == 0 {
		return 0, false
	}
	return col, true
}

// skip reads to the end of the element just started.
func (s *xlsxSource) skip() error {
	for depth := 1; depth > 0; {
		tok, err := s.dec.Token()
		if err != nil {
			return s.err(err)
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

// readCell reads a c element up to its end and returns what it shows.
func (s *xlsxSource) readCell(se xml.StartElement) (string, error) {
	s.val = s.val[:0]
	inV, inT, inPh, depth := false, false, 0, 0
	for depth >= 0 {
		tok, err := s.dec.Token()
		if err != nil {
			return "", s.err(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch t.Name.Local {
			case "v":
				inV = depth == 1
			case "t":
				inT = inPh == 0
			case "rPh":
				inPh++
			}
		case xml.EndElement:
			depth--
			switch t.Name.Local {
			case "v":
				inV = false
			case "t":
				inT = false
			case "rPh":
				inPh = max(inPh-1, 0)
			}
		case xml.CharData:
			if (inV || inT) && len(s.val) < maxCellText {
				s.val = append(s.val, t...)
			}
		}
	}
	return s.value(se)
}

// value turns the text of a cell into what the spreadsheet shows, by its
// type (t) and style (s).
func (s *xlsxSource) value(se xml.StartElement) (string, error) {
	v := string(s.val)
	switch localAttr(se, "t") {
	case "s":
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return "", s.err(fmt.Errorf("cell %s: shared string %q", localAttr(se, "r"), v))
		}
		str, ok := s.sst.get(i)
		if !ok {
			return "", s.err(fmt.Errorf("cell %s: no shared string %d", localAttr(se, "r"), i))
		}
		return str, nil
	case "b":
		switch strings.TrimSpace(v) {
		case "1", "true":
			return "true", nil
		case "0", "false":
			return "false", nil
		}
		return v, nil
	case "d":
		return isoDate(v), nil
	case "str", "inlineStr", "e":
		return v, nil
	}
	if strings.TrimSpace(v) == "" {
		return "", nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return v, nil
	}
	xf, _ := strconv.ParseUint(localAttr(se, "s"), 10, 16)
	return s.wb.format(f, uint16(xf)), nil
}

// maxZipEntries caps the entries of an XLSX or ODS archive: archive/zip
// holds a header of a few hundred bytes for each, and a 50 MB archive could
// list half a million. A workbook has a few dozen.
const maxZipEntries = 10000

// openZip opens an archive after checking the number of entries its end
// record declares, before archive/zip reads them all.
func openZip(file io.ReaderAt, size int64) (*zip.Reader, error) {
	n, ok := zipEntries(file, size)
	if ok && n > maxZipEntries {
		return nil, &LimitError{What: "entries of the ZIP archive", Limit: maxZipEntries}
	}
	return zip.NewReader(file, size)
}

// zipEntries reads the number of entries from the end of central directory
// record (or its ZIP64 form); ok is false if there is none, which
// archive/zip then reports.
func zipEntries(file io.ReaderAt, size int64) (n uint64, ok bool) {
	const eocdLen, locatorLen = 22, 20
	tail := make([]byte, min(size, 65535+eocdLen))
	start := size - int64(len(tail))
	if _, err := file.ReadAt(tail, start); err != nil && err != io.EOF {
		return 0, false
	}
	i := bytes.LastIndex(tail, []byte("PK\x05\x06"))
	if i < 0 || len(tail)-i < eocdLen {
		return 0, false
	}
	n = uint64(binary.LittleEndian.Uint16(tail[i+10:]))
	if n != 0xFFFF {
		return n, true
	}
	// ZIP64: the locator before the record gives the offset of the ZIP64
	// end record, whose entry count is at 32.
	if i < locatorLen || string(tail[i-locatorLen:i-locatorLen+4]) != "PK\x06\x07" {
		return n, true
	}
	off := int64(binary.LittleEndian.Uint64(tail[i-locatorLen+8:]))
	var rec [40]byte
	if off < 0 || off > size-int64(len(rec)) {
		return 0, false
	}
	if _, err := file.ReadAt(rec[:], off); err != nil || string(rec[:4]) != "PK\x06\x06" {
		return 0, false
	}
	return binary.LittleEndian.Uint64(rec[32:]), true
}
