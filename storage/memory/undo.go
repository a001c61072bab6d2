package memory

import "slices"

// undoLog records how to reverse each change a transaction makes. A nil
// *undoLog records nothing: the changes of a call outside Tx are final as
// soon as they are made.
type undoLog struct {
	fns []func()
}

// add records f, which reverses the change about to be made.
func (l *undoLog) add(f func()) {
	if l != nil {
		l.fns = append(l.fns, f)
	}
}

// mark returns a position to roll back to.
func (l *undoLog) mark() int { return len(l.fns) }

// rollback reverses, newest first, every change recorded since mark.
func (l *undoLog) rollback(mark int) {
	for i := len(l.fns) - 1; i >= mark; i-- {
		l.fns[i]()
		l.fns[i] = nil
	}
	l.fns = l.fns[:mark]
}

// put sets m[k] = v and records how to restore what m held under k.
func put[K comparable, V any](l *undoLog, m map[K]V, k K, v V) {
	if l != nil {
		old, had := m[k]
		l.add(func() {
			if had {
				m[k] = old
			} else {
				delete(m, k)
			}
		})
	}
	m[k] = v
}

// del deletes m[k] and records how to put it back.
func del[K comparable, V any](l *undoLog, m map[K]V, k K) {
	old, had := m[k]
	if !had {
		return
	}
	if l != nil {
		l.add(func() { m[k] = old })
	}
	delete(m, k)
}

// putIn sets m[k1][k2] = v, creating the inner map if needed. Every change
// goes through put, so the undo log restores the very map objects it saw.
func putIn[K1, K2 comparable, V any](l *undoLog, m map[K1]map[K2]V, k1 K1, k2 K2, v V) {
	inner := m[k1]
	if inner == nil {
		inner = make(map[K2]V)
		put(l, m, k1, inner)
	}
	put(l, inner, k2, v)
}

// delIn deletes m[k1][k2], and the inner map once it is empty.
func delIn[K1, K2 comparable, V any](l *undoLog, m map[K1]map[K2]V, k1 K1, k2 K2) {
	inner := m[k1]
	if inner == nil {
		return
	}
	del(l, inner, k2)
	if len(inner) == 0 {
		del(l, m, k1)
	}
}

// idIndex is a sorted slice of record IDs: every live ID, and perhaps some
// IDs of records deleted since the last compaction (tombstones), which readers
// skip by checking the record map. Keeping tombstones makes a delete O(1) and
// lets a rolled-back transaction leave the index alone: undoing a create
// leaves a tombstone, and undoing a delete calls ensure.
type idIndex struct {
	ids []string
}

// ensure inserts id unless it is present. IDs from identity.NewID grow with
// time, so this is nearly always an append.
func (x *idIndex) ensure(id string) {
	if n := len(x.ids); n == 0 || x.ids[n-1] < id {
		x.ids = append(x.ids, id)
		return
	}
	i, found := slices.BinarySearch(x.ids, id)
	if !found {
		x.ids = slices.Insert(x.ids, i, id)
	}
}

// after returns the position of the first ID greater than id.
func (x *idIndex) after(id string) int {
	i, found := slices.BinarySearch(x.ids, id)
	if found {
		i++
	}
	return i
}

// compact drops the tombstones once they outnumber the live IDs, so that a
// scan never does more than twice the work it must and compaction's O(n)
// cost is spread over at least n/2 deletes.
func (x *idIndex) compact(live int, alive func(id string) bool) {
	dead := len(x.ids) - live
	if dead < 64 || dead < live {
		return
	}
	x.ids = slices.DeleteFunc(x.ids, func(id string) bool { return !alive(id) })
}
