package importer_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollcall/rollcall/importer"
)

// A hostile file is made by the test: a name, how to write it, and the
// error it must get (the What of a *LimitError, or text of a *FileError).
type hostile struct {
	name, file string
	write      func(*zipParts)
	csv        func(io.Writer)
	limit      string // a *LimitError with this What
	unreadable string // else a *FileError saying this
	// large marks a file of over 100 MB before compression, or of
	// millions of tokens: the race detector's run leaves it to the run
	// without it.
	large bool
}

// zipParts writes the parts of an archive, streamed, with the best
// compression, so that a few hundred kilobytes inflate to gigabytes.
type zipParts struct{ zw *zip.Writer }

func (z *zipParts) part(name string, chunks ...func(io.Writer)) {
	w, err := z.zw.Create(name)
	if err != nil {
		panic(err)
	}
	for _, c := range chunks {
		c(w)
	}
}

func text(s string) func(io.Writer) { return func(w io.Writer) { io.WriteString(w, s) } }

// repeat writes s n times.
func repeat(s string, n int) func(io.Writer) {
	return func(w io.Writer) {
		block := strings.Repeat(s, max(1, (64<<10)/len(s)))
		per := len(block) / len(s)
		for ; n >= per; n -= per {
			io.WriteString(w, block)
		}
		io.WriteString(w, strings.Repeat(s, n))
	}
}

func (h hostile) bytes() []byte {
	var buf bytes.Buffer
	if h.csv != nil {
		h.csv(&buf)
		return buf.Bytes()
	}
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestCompression) })
	h.write(&zipParts{zw})
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

const (
	sheetHead = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`
	sheetTail = `</sheetData></worksheet>`
	odsHead   = `<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table>`
	odsTail   = `</table:table></office:spreadsheet></office:body></office:document-content>`
	emailRow  = `<row r="1"><c t="inlineStr"><is><t>email</t></is></c></row>`
)

func xlsxParts(z *zipParts, sst func(io.Writer), sheet ...func(io.Writer)) {
	z.part("xl/workbook.xml", text(xlsxWorkbook))
	rels := xlsxRels
	if sst != nil {
		rels = strings.Replace(rels, "</Relationships>", `<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`, 1)
		z.part("xl/sharedStrings.xml", sst)
	}
	z.part("xl/_rels/workbook.xml.rels", text(rels))
	z.part("xl/worksheets/sheet1.xml", sheet...)
}

func odsParts(z *zipParts, content ...func(io.Writer)) {
	z.part("mimetype", text("application/vnd.oasis.opendocument.spreadsheet"))
	z.part("content.xml", content...)
}

// hostiles are the files of the reported attacks, and others of their
// kind: each is refused early, naming the limit, or read in bounded memory.
var hostiles = []hostile{
	{name: "xlsx whitespace 900 MiB", large: true, file: "w.xlsx", limit: "length of one XML text or attribute (bytes)", write: func(z *zipParts) {
		xlsxParts(z, nil, text(sheetHead+emailRow), repeat(" ", 900<<20), text(sheetTail))
	}},
	{name: "xlsx long cell text 200 MiB", large: true, file: "t.xlsx", limit: "length of one XML text or attribute (bytes)", write: func(z *zipParts) {
		xlsxParts(z, nil, text(sheetHead+emailRow+`<row r="2"><c t="inlineStr"><is><t>`), repeat("a", 200<<20), text(`</t></is></c></row>`+sheetTail))
	}},
	{name: "xlsx 5M shared strings", large: true, file: "s.xlsx", limit: "shared strings", write: func(z *zipParts) {
		xlsxParts(z, repeat("<si><t>x</t></si>", 5<<20), text(sheetHead+emailRow+sheetTail))
	}},
	{name: "xlsx 100 MiB of shared-string text", large: true, file: "st.xlsx", limit: "shared-strings text (bytes)", write: func(z *zipParts) {
		xlsxParts(z, func(w io.Writer) {
			for range 100 {
				io.WriteString(w, "<si><t>")
				repeat("b", 1<<20)(w)
				io.WriteString(w, "</t></si>")
			}
		}, text(sheetHead+emailRow+sheetTail))
	}},
	{name: "xlsx 16,384 columns a row", file: "c.xlsx", limit: "cells", write: func(z *zipParts) {
		xlsxParts(z, nil, text(sheetHead+emailRow), func(w io.Writer) {
			for i := range 3000 {
				fmt.Fprintf(w, `<row r="%d"><c r="XFD%d"><v>1</v></c></row>`, i+2, i+2)
			}
		}, text(sheetTail))
	}},
	{name: "xlsx deep XML", file: "d.xlsx", limit: "depth of XML elements", write: func(z *zipParts) {
		xlsxParts(z, nil, text(sheetHead+emailRow+`<row r="2"><c><v>`), repeat("<x>", 4<<20), text(sheetTail))
	}},
	{name: "xlsx 200k sheets", file: "m.xlsx", write: func(z *zipParts) {
		z.part("xl/workbook.xml", text(`<workbook xmlns:r="r"><sheets>`), repeat(`<sheet name="s" r:id="rId1"/>`, 200000), text(`</sheets></workbook>`))
		z.part("xl/_rels/workbook.xml.rels", text(xlsxRels))
		z.part("xl/worksheets/sheet1.xml", text(sheetHead+emailRow+`<row r="2"><c t="inlineStr"><is><t>a@acme.example</t></is></c></row>`+sheetTail))
	}},
	{name: "xlsx 20M empty rows", large: true, file: "r.xlsx", limit: "row number", write: func(z *zipParts) {
		xlsxParts(z, nil, text(sheetHead+emailRow), repeat("<row/>", 20<<20), text(sheetTail))
	}},
	{name: "xlsx 20,000 entries", file: "e.xlsx", limit: "entries of the ZIP archive", write: func(z *zipParts) {
		xlsxParts(z, nil, text(sheetHead+emailRow+sheetTail))
		for i := range 20000 {
			if _, err := z.zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("xl/media/%d", i), Method: zip.Store}); err != nil {
				panic(err)
			}
		}
	}},
	{name: "xlsx zip bomb (declared)", large: true, file: "b.xlsx", limit: "uncompressed size", write: func(z *zipParts) {
		xlsxParts(z, nil, text(sheetHead), repeat("<row/>", 200<<20), text(sheetTail))
	}},
	{name: "ods row repeated 999,000 times", file: "r.ods", limit: "repeats of a row with values (number-rows-repeated)", write: func(z *zipParts) {
		odsParts(z, text(odsHead+`<table:table-row>`+odsCell("email")+`</table:table-row><table:table-row table:number-rows-repeated="999000">`+odsCell("x")+`</table:table-row>`+odsTail))
	}},
	{name: "ods 2^24 rows of 16,384 cells", file: "g.ods", limit: "repeats of a row with values (number-rows-repeated)", write: func(z *zipParts) {
		odsParts(z, text(odsHead+`<table:table-row>`+odsCell("email")+`</table:table-row><table:table-row table:number-rows-repeated="16777216"><table:table-cell table:number-columns-repeated="16384"><text:p>x</text:p></table:table-cell></table:table-row>`+odsTail))
	}},
	{name: "ods rows of 16,384 cells", file: "w.ods", limit: "cells", write: func(z *zipParts) {
		odsParts(z, text(odsHead+`<table:table-row>`+odsCell("email")+`</table:table-row>`),
			repeat(`<table:table-row table:number-rows-repeated="1000"><table:table-cell table:number-columns-repeated="16384"><text:p>x</text:p></table:table-cell></table:table-row>`+
				`<table:table-row><table:table-cell/></table:table-row>`, 3), text(odsTail))
	}},
	{name: "ods runs of 2^24 empty rows", file: "e.ods", limit: "row number", write: func(z *zipParts) {
		odsParts(z, text(odsHead+`<table:table-row>`+odsCell("email")+`</table:table-row>`),
			repeat(`<table:table-row table:number-rows-repeated="16777216"><table:table-cell/></table:table-row>`, 1<<20), text(odsTail))
	}},
	{name: "ods whitespace 900 MiB", large: true, file: "s.ods", limit: "length of one XML text or attribute (bytes)", write: func(z *zipParts) {
		odsParts(z, text(odsHead+`<table:table-row>`+odsCell("email")+`</table:table-row><table:table-row><table:table-cell><text:p>`), repeat(" ", 900<<20), text(`</text:p></table:table-cell></table:table-row>`+odsTail))
	}},
	{name: "csv 999,999 rows with errors", file: "e.csv", limit: "rows with errors", csv: func(w io.Writer) {
		io.WriteString(w, "email\n")
		repeat("x\n", 999999)(w)
	}},
	{name: "csv 40 MB line of commas", file: "c.csv", limit: "columns", csv: func(w io.Writer) {
		io.WriteString(w, "email\n")
		repeat(",", 40<<20)(w)
	}},
	{name: "csv 40 MB quoted field", file: "q.csv", limit: "row size", csv: func(w io.Writer) {
		io.WriteString(w, "email,lastName\na@acme.example,\"")
		repeat("x", 40<<20)(w)
		io.WriteString(w, "\"\n")
	}},
}

// peakHeap runs fn and returns the largest heap (live objects and garbage
// not yet collected) seen while it ran, above the heap before, sampled
// every millisecond.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	base := s[0].Value.Uint64()
	peak := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		sample := []metrics.Sample{{Name: s[0].Name}}
		for {
			select {
			case <-done:
				return
			case <-t.C:
				metrics.Read(sample)
				peak = max(peak, sample[0].Value.Uint64())
			}
		}
	})
	fn()
	close(done)
	wg.Wait()
	metrics.Read(s)
	return max(peak, s[0].Value.Uint64()) - base
}

// heapBound is the documented bound of one import's memory, for any file
// under the default size limit (docs/import.md).
const heapBound = 256 << 20

func (h hostile) check(t testing.TB, err error) {
	t.Helper()
	var le *importer.LimitError
	var fe *importer.FileError
	switch {
	case h.limit != "":
		if !errors.As(err, &le) || le.What != h.limit {
			t.Errorf("%s: %v, want the limit of %s", h.name, err, h.limit)
		}
	case h.unreadable != "":
		if !errors.As(err, &fe) || !strings.Contains(fe.Error(), h.unreadable) {
			t.Errorf("%s: %v, want unreadable, %s", h.name, err, h.unreadable)
		}
	case err != nil:
		t.Errorf("%s: %v", h.name, err)
	}
}

// Every hostile file is refused with the limit it breaks (or read), in a
// bounded heap, two at once in under twice the bound.
func TestHostileFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("makes gigabytes of compressed input")
	}
	e := newEnv(t, importer.Config{})
	for _, h := range hostiles {
		t.Run(h.name, func(t *testing.T) {
			if h.large && raceEnabled {
				t.Skip("takes minutes under the race detector")
			}
			b := h.bytes()
			if len(b) > importer.DefaultMaxFileSize {
				t.Fatalf("%d bytes, over the size limit", len(b))
			}
			var err error
			peak := peakHeap(func() { _, err = e.run(t, h.file, string(b), importer.Options{DryRun: true}) })
			h.check(t, err)
			if peak > heapBound {
				t.Errorf("peak heap %d MiB, over %d MiB", peak>>20, heapBound>>20)
			}
			var errs [2]error
			peak = peakHeap(func() {
				var wg sync.WaitGroup
				for i := range errs {
					wg.Go(func() { _, errs[i] = e.run(t, h.file, string(b), importer.Options{Deactivate: true}) })
				}
				wg.Wait()
			})
			for _, err := range errs {
				h.check(t, err)
			}
			if peak > 2*heapBound {
				t.Errorf("two at once: peak heap %d MiB, over %d MiB", peak>>20, 2*heapBound>>20)
			}
		})
	}
}

// BenchmarkHostile reports the peak heap of the import of each hostile
// file (a real import, one at a time), beyond the file itself:
//
//	go test ./importer -run '^$' -bench Hostile -benchtime 1x
func BenchmarkHostile(b *testing.B) {
	for _, h := range hostiles {
		b.Run(strings.ReplaceAll(h.name, " ", "_"), func(b *testing.B) {
			e := newEnv(b, importer.Config{})
			file := h.bytes()
			var peak uint64
			for b.Loop() {
				var err error
				peak = max(peak, peakHeap(func() {
					_, err = e.im.Import(b.Context(), e.dir, bytes.NewReader(file), int64(len(file)), importer.Options{Filename: h.file, Deactivate: true})
				}))
				h.check(b, err)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(len(file)), "file-B")
		})
	}
}
