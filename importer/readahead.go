package importer

import (
	"fmt"
	"runtime"
	"sync"
)

// readAhead reads the rows of a RowSource on a goroutine of its own, a
// batch ahead of the rows being checked and planned: on two cores, parsing
// the file and checking its rows overlap. Next is for one goroutine; stop
// must be called before the source is closed.
type readAhead struct {
	src      RowSource
	stopOnce sync.Once
	out      chan *aheadBatch
	free     chan *aheadBatch
	quit     chan struct{}
	done     chan struct{}
	cur      *aheadBatch
	next     int // the row of cur that Next returns next
	start    int // where that row's cells start in cur.cells
}

// aheadBatch is a run of rows: row i has the number rows[i] and the cells
// cells[ends[i-1]:ends[i]]. err is what the source said after the last one
// (io.EOF at the end of the file).
type aheadBatch struct {
	rows  []int
	ends  []int
	cells []string
	err   error
}

// aheadRows is how many rows a batch holds.
const aheadRows = 256

// newReadAhead starts reading src ahead, or returns src itself on a single
// processor, where reading ahead gains nothing.
func newReadAhead(src RowSource) (RowSource, func()) {
	if runtime.GOMAXPROCS(0) < 2 {
		return src, func() {}
	}
	a := &readAhead{
		src:  src,
		out:  make(chan *aheadBatch, 1),
		free: make(chan *aheadBatch, 3),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	for range 3 {
		a.free <- &aheadBatch{}
	}
	go a.read()
	return a, a.stop
}

func (a *readAhead) read() {
	defer close(a.done)
	for {
		var b *aheadBatch
		select {
		case b = <-a.free:
		case <-a.quit:
			return
		}
		b.rows, b.ends, b.cells, b.err = b.rows[:0], b.ends[:0], b.cells[:0], nil
		a.fill(b)
		select {
		case a.out <- b:
		case <-a.quit:
			return
		}
		if b.err != nil {
			return
		}
	}
}

// fill reads up to aheadRows rows into b. A panic of the source (a reader
// library's, on a damaged file) becomes b's error, as it would reach the
// caller of Next.
func (a *readAhead) fill(b *aheadBatch) {
	defer func() {
		if v := recover(); v != nil {
			b.err = fmt.Errorf("importer: the reader failed: %v", v)
		}
	}()
	for len(b.rows) < aheadRows {
		row, cells, err := a.src.Next()
		if err != nil {
			b.err = err
			return
		}
		b.rows = append(b.rows, row)
		b.cells = append(b.cells, cells...)
		b.ends = append(b.ends, len(b.cells))
	}
}

func (a *readAhead) Next() (int, []string, error) {
	for a.cur == nil || a.next == len(a.cur.rows) {
		if a.cur != nil {
			if a.cur.err != nil {
				return 0, nil, a.cur.err
			}
			a.free <- a.cur
		}
		a.cur, a.next, a.start = <-a.out, 0, 0
	}
	i := a.next
	cells := a.cur.cells[a.start:a.cur.ends[i]]
	a.next, a.start = i+1, a.cur.ends[i]
	return a.cur.rows[i], cells, nil
}

// stop ends the reading goroutine and waits for it.
func (a *readAhead) stop() {
	a.stopOnce.Do(func() {
		close(a.quit)
		<-a.done
	})
}

// Close stops reading ahead; the source is its owner's to close.
func (a *readAhead) Close() error {
	a.stop()
	return nil
}
