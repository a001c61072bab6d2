package storagetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// stepClock is an identity.Clock that stands still until step moves it.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now implements identity.Clock.
func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// RunKeyStore runs the conformance suite of identity.KeyStore, one subtest
// per case. newKeyStore is called once per subtest: it returns an empty
// KeyStore that judges expiry by clock (a fake the suite steps), with its
// cleanup registered on t. The suite steps the clock well past each expiry,
// never onto it, so a store may treat the instant of expiry either way.
func RunKeyStore(t *testing.T, newKeyStore func(t *testing.T, clock identity.Clock) identity.KeyStore) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, ks identity.KeyStore, clock *stepClock)
	}{
		{"SetIfAbsent", testSetIfAbsent},
		{"Expiry", testKeyExpiry},
		{"TakeOnce", testTakeOnce},
		{"TakeExpired", testTakeExpired},
		{"DeleteExpired", testDeleteExpired},
		{"ConcurrentSetIfAbsent", testConcurrentSetIfAbsent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := &stepClock{now: base}
			c.run(t, newKeyStore(t, clock), clock)
		})
	}
}

func mustSet(t *testing.T, ks identity.KeyStore, key, value string, expires time.Time, want bool) {
	t.Helper()
	ok, err := ks.SetIfAbsent(t.Context(), key, []byte(value), expires)
	if err != nil {
		t.Fatalf("SetIfAbsent(%q): %v", key, err)
	}
	if ok != want {
		t.Errorf("SetIfAbsent(%q, %q) = %v, want %v", key, value, ok, want)
	}
}

func wantTake(t *testing.T, ks identity.KeyStore, key, want string) {
	t.Helper()
	got, err := ks.Take(t.Context(), key)
	if err != nil {
		t.Errorf("Take(%q): %v", key, err)
		return
	}
	if string(got) != want {
		t.Errorf("Take(%q) = %q, want %q", key, got, want)
	}
}

func wantTakeNotFound(t *testing.T, ks identity.KeyStore, key string) {
	t.Helper()
	_, err := ks.Take(t.Context(), key)
	wantNotFound(t, fmt.Sprintf("Take(%q)", key), err)
}

func testSetIfAbsent(t *testing.T, ks identity.KeyStore, clock *stepClock) {
	expires := clock.Now().Add(time.Hour)
	value := []byte("first")
	ok, err := ks.SetIfAbsent(t.Context(), "assertion-1", value, expires)
	if err != nil || !ok {
		t.Fatalf("SetIfAbsent of a new key = %v, %v; want true", ok, err)
	}
	value[0] = 'F' // the store keeps its own copy
	clock.step(30 * time.Minute)
	mustSet(t, ks, "assertion-1", "second", expires.Add(time.Hour), false)
	mustSet(t, ks, "assertion-2", "other", expires, true)
	wantTake(t, ks, "assertion-1", "first")
	wantTake(t, ks, "assertion-2", "other")
}

func testKeyExpiry(t *testing.T, ks identity.KeyStore, clock *stepClock) {
	mustSet(t, ks, "state", "old", clock.Now().Add(time.Minute), true)
	clock.step(59 * time.Second)
	mustSet(t, ks, "state", "early", clock.Now().Add(time.Minute), false)
	clock.step(2 * time.Second)
	mustSet(t, ks, "state", "new", clock.Now().Add(time.Minute), true)
	wantTake(t, ks, "state", "new")
}

func testTakeOnce(t *testing.T, ks identity.KeyStore, clock *stepClock) {
	mustSet(t, ks, "once", "value", clock.Now().Add(time.Minute), true)
	wantTake(t, ks, "once", "value")
	wantTakeNotFound(t, ks, "once")
	wantTakeNotFound(t, ks, "never-set")
	// A taken key may be set again.
	mustSet(t, ks, "once", "again", clock.Now().Add(time.Minute), true)
	wantTake(t, ks, "once", "again")
}

func testTakeExpired(t *testing.T, ks identity.KeyStore, clock *stepClock) {
	mustSet(t, ks, "stale", "value", clock.Now().Add(time.Minute), true)
	mustSet(t, ks, "fresh", "value", clock.Now().Add(time.Hour), true)
	clock.step(time.Minute + time.Second)
	wantTakeNotFound(t, ks, "stale")
	wantTake(t, ks, "fresh", "value")
}

func testDeleteExpired(t *testing.T, ks identity.KeyStore, clock *stepClock) {
	ctx := t.Context()
	mustSet(t, ks, "k1", "1", clock.Now().Add(time.Minute), true)
	mustSet(t, ks, "k2", "2", clock.Now().Add(2*time.Minute), true)
	mustSet(t, ks, "k3", "3", clock.Now().Add(time.Hour), true)
	if n, err := ks.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("DeleteExpired before any expiry = %d, %v; want 0", n, err)
	}
	clock.step(3 * time.Minute)
	if n, err := ks.DeleteExpired(ctx); err != nil || n != 2 {
		t.Errorf("DeleteExpired = %d, %v; want 2", n, err)
	}
	if n, err := ks.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("DeleteExpired again = %d, %v; want 0", n, err)
	}
	wantTake(t, ks, "k3", "3")
	wantTakeNotFound(t, ks, "k1")
}

func testConcurrentSetIfAbsent(t *testing.T, ks identity.KeyStore, clock *stepClock) {
	expires := clock.Now().Add(time.Hour)
	var won atomic.Int64
	var wg sync.WaitGroup
	for w := range 2 * workers {
		wg.Go(func() {
			ok, err := ks.SetIfAbsent(t.Context(), "contended", []byte(fmt.Sprint(w)), expires)
			if err != nil {
				t.Errorf("SetIfAbsent: %v", err)
			}
			if ok {
				won.Add(1)
			}
			// And a key of its own, which it always gets.
			if ok, err := ks.SetIfAbsent(t.Context(), fmt.Sprintf("own-%d", w), []byte("x"), expires); err != nil || !ok {
				t.Errorf("SetIfAbsent of a key no one else sets = %v, %v; want true", ok, err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Errorf("%d concurrent SetIfAbsent calls of one key: %d reported true, want 1", 2*workers, won.Load())
	}
}
