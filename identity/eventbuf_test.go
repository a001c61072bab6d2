package identity

import "testing"

func TestEventBufKeepsOrder(t *testing.T) {
	for _, n := range []int{0, 1, 4, 5, eventChunk, eventChunk + 1, 3*eventChunk + 7} {
		var b eventBuf
		for i := range n {
			b.add(Event{Seq: int64(i)})
		}
		all := b.all()
		if len(all) != n {
			t.Fatalf("n=%d: all() has %d events", n, len(all))
		}
		for i, e := range all {
			if e.Seq != int64(i) {
				t.Fatalf("n=%d: event %d has Seq %d", n, i, e.Seq)
			}
		}
	}
}
