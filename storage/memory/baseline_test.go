package memory_test

import (
	"fmt"
	"testing"
)

// BenchmarkGoMap is the floor under BenchmarkUserByEmail: a bare Go map from
// an email to a small record, looked up in the same order, at 10k and 1M
// entries. What it loses from 10k to 1M is main memory and page walks, not
// the index; no store built on Go's heap looks up faster than this.
func BenchmarkGoMap(b *testing.B) {
	type rec struct {
		id, email, name string
		version         int64
	}
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			m := make(map[string]*rec, size.n)
			keys := make([]string, size.n)
			for i := range size.n {
				keys[i] = fmt.Sprintf("user%07d@acme.example", i)
				m[keys[i]] = &rec{id: fmt.Sprint(i), email: keys[i], name: "User", version: 1}
			}
			i := 0
			var sum int64
			for b.Loop() {
				r := m[keys[i%len(keys)]]
				sum += r.version + int64(len(r.name))
				i += 7919
			}
			if sum == 0 {
				b.Fatal("no lookup found its record")
			}
		})
	}
}
