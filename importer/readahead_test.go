package importer

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// countingSource yields rows 1..n, each of row%5 cells "r.c", reusing its
// slice as a RowSource may; it panics at row panicAt.
type countingSource struct {
	n, row, panicAt int
	cells           []string
}

func (s *countingSource) Next() (int, []string, error) {
	if s.row == s.n {
		return 0, nil, io.EOF
	}
	s.row++
	if s.row == s.panicAt {
		panic("damaged")
	}
	s.cells = s.cells[:0]
	for c := range s.row % 5 {
		s.cells = append(s.cells, strconv.Itoa(s.row)+"."+strconv.Itoa(c))
	}
	return s.row, s.cells, nil
}

func (s *countingSource) Close() error { return nil }

func TestReadAhead(t *testing.T) {
	src, stop := newReadAhead(&countingSource{n: 1000})
	defer stop()
	for want := 1; ; want++ {
		row, cells, err := src.Next()
		if err == io.EOF {
			if want != 1001 {
				t.Fatalf("EOF after %d rows", want-1)
			}
			break
		}
		if err != nil || row != want || len(cells) != want%5 {
			t.Fatalf("row %d: %d %q %v", want, row, cells, err)
		}
		for c, v := range cells {
			if v != strconv.Itoa(want)+"."+strconv.Itoa(c) {
				t.Fatalf("row %d cell %d: %q", want, c, v)
			}
		}
	}
	// After the end the error stays.
	if _, _, err := src.Next(); err != io.EOF {
		t.Fatalf("after the end: %v", err)
	}
}

func TestReadAheadPanicAndStop(t *testing.T) {
	src, stop := newReadAhead(&countingSource{n: 1000, panicAt: 300})
	var err error
	rows := 0
	for err == nil {
		_, _, err = src.Next()
		rows++
	}
	if rows != 300 || err == nil || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("after %d rows: %v", rows, err)
	}
	stop()
	stop() // twice is fine
	if _, ok := src.(*readAhead); !ok {
		t.Skip("a single processor: the source is read without a goroutine")
	}

	// Stopping early ends the reading goroutine, and Next then fails.
	src, stop = newReadAhead(&countingSource{n: 1 << 30})
	if _, _, err := src.Next(); err != nil {
		t.Fatal(err)
	}
	stop()
	select {
	case <-src.(*readAhead).done:
	default:
		t.Fatal("the reading goroutine still runs after stop")
	}
	if _, _, err := src.Next(); !errors.Is(err, errStopped) {
		t.Fatalf("Next after stop: %v", err)
	}
}
