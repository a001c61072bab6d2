// Package floorbench measures a layer of the product against its floor (what
// the database or the standard library itself allows) in one run, as the
// write benchmarks of docs/benchmarks.md do: the two alternate, b.N
// operations each, for Rounds rounds, and the medians and their ratio are
// reported. It is imported by benchmarks only.
package floorbench

import (
	"context"
	"runtime/metrics"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Rounds is how many times Compare alternates the floor and the layer.
const Rounds = 5

// Round is what one run of a way measured.
type Round struct {
	Rate       float64 // operations a second
	CPU        float64 // µs of the process's CPU time (user and system) an operation
	Goroutines float64 // goroutines started an operation
}

// Compare runs floor and layer b.N times each, over workers goroutines,
// Rounds times, and reports the medians of both as "raw" and layer ("core",
// "http"): rates, the layer's share of the floor's rate, and the CPU time and
// goroutines an operation, which a busy machine changes less.
func Compare(b *testing.B, workers int, layer string, floor, fn func(ctx context.Context) error) {
	var floors, layers []Round
	for range Rounds {
		floors = append(floors, Run(b, workers, floor))
		layers = append(layers, Run(b, workers, fn))
	}
	get := func(rs []Round, f func(Round) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return Median(v)
	}
	rate := func(r Round) float64 { return r.Rate }
	fr, lr := get(floors, rate), get(layers, rate)
	b.ReportMetric(fr, "raw/s")
	b.ReportMetric(lr, layer+"/s")
	b.ReportMetric(lr/fr, layer+"/raw")
	b.ReportMetric(get(floors, func(r Round) float64 { return r.CPU }), "raw-cpu-µs/op")
	b.ReportMetric(get(layers, func(r Round) float64 { return r.CPU }), layer+"-cpu-µs/op")
	b.ReportMetric(get(floors, func(r Round) float64 { return r.Goroutines }), "raw-goroutines/op")
	b.ReportMetric(get(layers, func(r Round) float64 { return r.Goroutines }), layer+"-goroutines/op")
	b.ReportMetric(0, "ns/op")
}

// Run runs op b.N times over workers goroutines and measures it.
func Run(b *testing.B, workers int, op func(ctx context.Context) error) Round {
	ctx := context.Background()
	var next atomic.Int64
	cpu0, g0 := ProcessCPU(), goroutinesCreated()
	start := time.Now()
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for next.Add(1) <= int64(b.N) {
				if err := op(ctx); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	n := float64(b.N)
	return Round{
		Rate:       n / elapsed.Seconds(),
		CPU:        float64((ProcessCPU() - cpu0).Microseconds()) / n,
		Goroutines: float64(goroutinesCreated()-g0-uint64(workers)) / n,
	}
}

// Median returns the median of v (the upper one of an even count).
func Median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// ProcessCPU is the CPU time the process has used, user and system.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// goroutinesCreated is the number of goroutines the process has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
