package importer

import (
	"errors"
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

// aheadRows is how many rows a batch holds, and aheadCells how many cells
// it holds at most (rows of thousands of cells make short batches): the
// batches in flight never hold more than a few megabytes.
const (
	aheadRows  = 256
	aheadCells = 1 << 16
)

// newReadAhead starts reading src ahead, or returns src itself on a single
// processor, where reading ahead gains nothing.
func newReadAhead(src RowSource) (RowSource, func()) {
	if runtime.GOMAXPROCS(0) < 2 {
		return recovering{src}, func() {}
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

// fill reads up to aheadRows rows into b.
func (a *readAhead) fill(b *aheadBatch) {
	src := recovering{a.src}
	for len(b.rows) < aheadRows && len(b.cells) < aheadCells {
		row, cells, err := src.Next()
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
	select {
	case <-a.quit:
		return 0, nil, errStopped
	default:
	}
	for a.cur == nil || a.next == len(a.cur.rows) {
		if a.cur != nil {
			if a.cur.err != nil {
				return 0, nil, a.cur.err
			}
			a.free <- a.cur
			a.cur = nil
		}
		select {
		case a.cur = <-a.out:
			a.next, a.start = 0, 0
		case <-a.quit:
			return 0, nil, errStopped
		}
	}
	i := a.next
	end := a.cur.ends[i]
	cells := a.cur.cells[a.start:end:end]
	a.next, a.start = i+1, end
	return a.cur.rows[i], cells, nil
}

// errStopped is what Next returns once the read-ahead is stopped.
var errStopped = errors.New("importer: reading stopped")

// recovering turns a panic of a RowSource's Next (a reader library's, on a
// damaged file) into an error, read ahead or not.
type recovering struct{ RowSource }

func (r recovering) Next() (row int, cells []string, err error) {
	defer func() {
		if v := recover(); v != nil {
			row, cells, err = 0, nil, fmt.Errorf("importer: the reader failed: %v", v)
		}
	}()
	return r.RowSource.Next()
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
