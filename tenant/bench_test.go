package tenant_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/tenant"
)

// BenchmarkResolveCached resolves requests to cached tenants among 10,000,
// with the system clock and the default PollInterval: the cost a request
// pays between version checks.
func BenchmarkResolveCached(b *testing.B) {
	const n = 10000
	ctx := context.Background()
	db := memory.New()
	store := memory.NewSettings(db, keyring(b), nil)
	rt, err := tenant.New(tenant.Config{
		Settings: store,
		Stores:   func(id string) identity.Store { return db.Tenant(id) },
		Keys:     func(id string) identity.KeyStore { return db.Keys(id, nil) },
	})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("tenant-%05d", i)
		if _, err := rt.Create(ctx, ids[i], settings.Settings{SCIM: &settings.SCIM{Enabled: true}}); err != nil {
			b.Fatal(err)
		}
		if _, err := rt.Resolve(ctx, ids[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i = (i + 7919) % n
			if _, err := rt.Resolve(ctx, ids[i]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	// The machine may be shared: the process's CPU time per resolve says
	// what a resolve costs whatever else runs.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time the process used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
