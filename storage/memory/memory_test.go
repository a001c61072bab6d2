package memory_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/storage/storagetest"
)

func newBackend(t *testing.T) storagetest.Opener {
	db := memory.New()
	return func(tenant string) identity.Store { return db.Tenant(tenant) }
}

func TestConformance(t *testing.T) { storagetest.Run(t, newBackend) }

// A store without its optional abilities, as a host's first store is: the
// core lists its users from UsersAfter, and the suite holds.
func TestConformanceScanOnly(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Opener {
		open := newBackend(t)
		return func(tenant string) identity.Store { return storagetest.ScanOnly(open(tenant)) }
	})
}

func TestEventLog(t *testing.T) { storagetest.RunEventLog(t, newBackend) }

func TestKeyStore(t *testing.T) {
	storagetest.RunKeyStore(t, func(t *testing.T, clock identity.Clock) identity.KeyStore {
		return memory.New().Keys("tenant", clock)
	})
}

func TestTenant(t *testing.T) {
	db := memory.New()
	if db.Tenant("a") != db.Tenant("a") {
		t.Error("Tenant gave two Stores for one tenant")
	}
	if db.Tenant("a") == db.Tenant("b") {
		t.Error("Tenant gave one Store for two tenants")
	}
	// Concurrent first opens of a tenant agree.
	stores := make([]*memory.Store, 8)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i] = db.Tenant("c") })
	}
	wg.Wait()
	for _, s := range stores {
		if s != stores[0] {
			t.Fatal("concurrent Tenant calls gave different Stores")
		}
	}
}

func TestKeys(t *testing.T) {
	ctx := t.Context()
	db := memory.New()
	exp := time.Now().Add(time.Hour)
	if ok, err := db.Keys("a", nil).SetIfAbsent(ctx, "k", []byte("v"), exp); err != nil || !ok {
		t.Fatalf("SetIfAbsent with the system clock = %v, %v", ok, err)
	}
	if ok, _ := db.Keys("b", nil).SetIfAbsent(ctx, "k", []byte("w"), exp); !ok {
		t.Error("tenant b sees tenant a's key")
	}
	if v, err := db.Keys("a", nil).Take(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("Take through another KeyStore of the tenant = %q, %v; want v", v, err)
	}
	// An expired key is gone for the system clock.
	if ok, _ := db.Keys("a", nil).SetIfAbsent(ctx, "old", []byte("v"), time.Now().Add(-time.Second)); !ok {
		t.Fatal("SetIfAbsent of an already expired key")
	}
	if _, err := db.Keys("a", nil).Take(ctx, "old"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Take of an expired key: %v, want ErrNotFound", err)
	}
}

func TestTxUseAfterEnd(t *testing.T) {
	ctx := t.Context()
	s := memory.New().Tenant("a")
	var kept identity.Store
	if err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error { kept = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.CreateUser(ctx, identity.User{UserName: "late"}); err == nil {
		t.Error("a transaction's Store worked after Tx returned")
	}
	if p, _ := s.ListUsers(ctx, identity.UserQuery{}); p.Total != 0 {
		t.Errorf("%d users after a late write", p.Total)
	}
}

func TestTxPanicRollsBack(t *testing.T) {
	ctx := t.Context()
	s := memory.New().Tenant("a")
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Tx swallowed fn's panic")
			}
		}()
		_ = s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
			if _, err := tx.CreateUser(ctx, identity.User{Email: "p@example.com"}); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if _, err := s.UserByEmail(ctx, "p@example.com"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("UserByEmail after a panicking Tx: %v, want ErrNotFound", err)
	}
	// The lock was released.
	if _, err := s.CreateUser(ctx, identity.User{Email: "p@example.com"}); err != nil {
		t.Errorf("CreateUser after a panicking Tx: %v", err)
	}
}

func TestNestedTxSavepoint(t *testing.T) {
	ctx := t.Context()
	s := memory.New().Tenant("a")
	errInner := errors.New("inner")
	err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		if _, err := tx.CreateUser(ctx, identity.User{Email: "outer@example.com"}); err != nil {
			return err
		}
		err := tx.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
			if _, err := tx.CreateUser(ctx, identity.User{Email: "inner@example.com"}); err != nil {
				return err
			}
			return errInner
		})
		if !errors.Is(err, errInner) {
			t.Errorf("nested Tx returned %v, want fn's error", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByEmail(ctx, "outer@example.com"); err != nil {
		t.Errorf("outer user: %v", err)
	}
	if _, err := s.UserByEmail(ctx, "inner@example.com"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("inner user of a failed nested Tx: %v, want ErrNotFound", err)
	}
}

func TestListUsersInvalid(t *testing.T) {
	ctx := t.Context()
	s := memory.New().Tenant("a")
	for _, q := range []identity.UserQuery{
		{SortBy: "shoeSize"},
		{SortBy: identity.SortByEmail, After: "x"},
		{Descending: true, After: "x"},
	} {
		if _, err := s.ListUsers(ctx, q); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("ListUsers(%+v): %v, want ErrInvalid", q, err)
		}
	}
}

func TestListHugeBounds(t *testing.T) {
	ctx := t.Context()
	db := memory.New()
	s := db.Tenant("a")
	u, err := s.CreateUser(ctx, identity.User{UserName: "only"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.CreateGroup(ctx, identity.Group{Name: "only"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddMember(ctx, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, q := range []identity.UserQuery{
		{Limit: math.MaxInt},
		{Offset: math.MaxInt},
		{Offset: math.MaxInt, Limit: math.MaxInt, After: "0"},
		{GroupID: g.ID, Limit: math.MaxInt},
		{GroupID: g.ID, Offset: math.MaxInt, Limit: math.MaxInt},
		{SortBy: identity.SortByEmail, Offset: math.MaxInt - 1, Limit: math.MaxInt},
	} {
		p, err := s.ListUsers(ctx, q)
		if err != nil || p.Total != 1 {
			t.Errorf("ListUsers(%+v) = %+v, %v", q, p, err)
		}
	}
	if p, err := s.ListGroups(ctx, identity.GroupQuery{Offset: math.MaxInt, Limit: math.MaxInt}); err != nil || p.Total != 1 || len(p.Groups) != 0 {
		t.Errorf("ListGroups with huge bounds = %+v, %v", p, err)
	}
	if err := s.AppendEvents(ctx, make([]identity.Event, 2)); err != nil {
		t.Fatal(err)
	}
	if evs, err := s.Events(ctx, 0, math.MaxInt); err != nil || len(evs) != 2 {
		t.Errorf("Events(0, MaxInt) = %d events, %v", len(evs), err)
	}
}

// TestIndexTombstones deletes most users, in and out of transactions, so
// that the ID index holds tombstones and is compacted, and checks every
// listing against the users left.
func TestIndexTombstones(t *testing.T) {
	ctx := t.Context()
	s := memory.New().Tenant("a")
	var ids []string
	for i := range 300 {
		u, err := s.CreateUser(ctx, identity.User{UserName: fmt.Sprintf("u%03d", i), Active: i%2 == 0})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	check := func(live []string) {
		t.Helper()
		p, err := s.ListUsers(ctx, identity.UserQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range p.Users {
			got = append(got, u.ID)
		}
		if !slices.Equal(got, live) || p.Total != len(live) {
			t.Fatalf("ListUsers: %d users (Total %d), want %d", len(got), p.Total, len(live))
		}
		for _, q := range []identity.UserQuery{{Offset: 3, Limit: 5}, {Descending: true, Offset: 2, Limit: 4}, {After: live[len(live)/2], Limit: 3}} {
			p, err := s.ListUsers(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			switch {
			case q.After != "":
				want = live[len(live)/2+1 : len(live)/2+4]
			case q.Descending:
				rev := slices.Clone(live)
				slices.Reverse(rev)
				want = rev[2:6]
			default:
				want = live[3:8]
			}
			got = got[:0]
			for _, u := range p.Users {
				got = append(got, u.ID)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ListUsers(%+v) = %v, want %v", q, got, want)
			}
		}
	}
	// A rolled-back delete of everything leaves every user.
	_ = s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		for _, id := range ids {
			if err := tx.DeleteUser(ctx, id); err != nil {
				return err
			}
		}
		return errors.New("roll back")
	})
	check(ids)
	var live []string
	for i, id := range ids {
		if i%5 == 0 {
			live = append(live, id)
			continue
		}
		if err := s.DeleteUser(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	check(live)
}

// population is a tenant with n users, built once per size for the
// benchmarks.
type population struct {
	s      *memory.Store
	emails []string // each user's email, in another case than stored
	ids    []string // sorted
	build  time.Duration
}

var (
	popMu sync.Mutex
	pops  = map[int]*population{}
)

func populate(b *testing.B, n int) *population {
	popMu.Lock()
	defer popMu.Unlock()
	if p := pops[n]; p != nil {
		return p
	}
	ctx := context.Background()
	start := time.Now()
	s := memory.New().Tenant("bench")
	p := &population{s: s, emails: make([]string, n), ids: make([]string, n)}
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		u, err := s.CreateUser(ctx, identity.User{
			UserName:    fmt.Sprintf("user%07d@example.com", i),
			Email:       fmt.Sprintf("user%07d@example.com", i),
			ExternalID:  fmt.Sprintf("ext-%07d", i),
			GivenName:   "Given",
			FamilyName:  fmt.Sprintf("Family%d", i%1000),
			DisplayName: fmt.Sprintf("User %d", i),
			Active:      true,
			Created:     created,
			Updated:     created,
		})
		if err != nil {
			b.Fatal(err)
		}
		p.emails[i] = fmt.Sprintf(" USER%07d@Example.com", i)
		p.ids[i] = u.ID
	}
	slices.Sort(p.ids)
	p.build = time.Since(start)
	pops[n] = p
	return p
}

var sizes = []struct {
	name string
	n    int
}{{"10k", 10_000}, {"1M", 1_000_000}}

// BenchmarkUserByEmail looks users up by email (normalised on each call) in
// tenants of 10k and 1M users. The build-s metric is how long it took to
// create the users.
func BenchmarkUserByEmail(b *testing.B) {
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			p := populate(b, size.n)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if _, err := p.s.UserByEmail(ctx, p.emails[i%len(p.emails)]); err != nil {
					b.Fatal(err)
				}
				i += 7919 // a prime: visits users all over the tenant
			}
			// After the loop: b.Loop's first call resets the metrics.
			b.ReportMetric(p.build.Seconds(), "build-s")
		})
	}
}

// BenchmarkUserByEmailWorkingSet looks up a working set of 10k users spread
// over a tenant of 1M, against a tenant of 10k: the cost of the index itself,
// with the memory a lookup touches staying the same size. Over the whole 1M,
// as in BenchmarkUserByEmail/1M, nearly every lookup also waits for main
// memory (and, in a virtual machine, for page walks), which no index avoids.
func BenchmarkUserByEmailWorkingSet(b *testing.B) {
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			p := populate(b, size.n)
			step := size.n / 10_000
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if _, err := p.s.UserByEmail(ctx, p.emails[(i%10_000)*step]); err != nil {
					b.Fatal(err)
				}
				i += 7919
			}
		})
	}
}

// BenchmarkListUsersAfter reads a page of 100 users by keyset in the middle
// of tenants of 10k and 1M users.
func BenchmarkListUsersAfter(b *testing.B) {
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			p := populate(b, size.n)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				q := identity.UserQuery{After: p.ids[i%len(p.ids)], Limit: 100}
				if _, err := p.s.ListUsers(ctx, q); err != nil {
					b.Fatal(err)
				}
				i += 7919
			}
		})
	}
}

// TestEventSeqNoHoles checks what the memory store promises beyond the
// suite: a rolled-back transaction gives its numbers back.
func TestEventSeqNoHoles(t *testing.T) {
	ctx := t.Context()
	s := memory.New().Tenant("a")
	if err := s.AppendEvents(ctx, []identity.Event{{Type: identity.UserCreated}}); err != nil {
		t.Fatal(err)
	}
	_ = s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		if err := tx.(identity.EventLog).AppendEvents(ctx, make([]identity.Event, 3)); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	evs := []identity.Event{{Type: identity.UserUpdated}}
	if err := s.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if evs[0].Seq != 2 {
		t.Errorf("Seq after a rolled-back transaction = %d, want 2", evs[0].Seq)
	}
}

// The Store called with the context of its own running Tx reads and writes
// in that transaction instead of waiting for the lock the Tx holds: a
// rollback undoes those writes too.
func TestStoreInsideItsTx(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := memory.New().Tenant("acme")
	for _, commit := range []bool{false, true} {
		done := make(chan error, 1)
		go func() {
			done <- s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
				a, err := tx.CreateUser(ctx, identity.User{Email: "a@example.com"})
				if err != nil {
					return err
				}
				if got, err := s.UserByEmail(ctx, "A@example.com"); err != nil || got.ID != a.ID {
					return fmt.Errorf("Store.UserByEmail inside the Tx = %q, %v; want %q", got.ID, err, a.ID)
				}
				if _, err := s.CreateUser(ctx, identity.User{Email: "b@example.com"}); err != nil {
					return err
				}
				if err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
					_, err := tx.CreateUser(ctx, identity.User{Email: "c@example.com"})
					return err
				}); err != nil {
					return err
				}
				if page, err := s.ListUsers(ctx, identity.UserQuery{}); err != nil || page.Total != 3 {
					return fmt.Errorf("Store.ListUsers inside the Tx: %d users, %v; want 3", page.Total, err)
				}
				if !commit {
					return errors.New("roll back")
				}
				return nil
			})
		}()
		select {
		case err := <-done:
			if commit && err != nil {
				t.Fatal(err)
			}
			if !commit && (err == nil || err.Error() != "roll back") {
				t.Fatalf("Tx = %v, want the rollback", err)
			}
		case <-ctx.Done():
			t.Fatal("the Store called inside its own Tx waits for ever")
		}
		page, err := s.ListUsers(context.Background(), identity.UserQuery{})
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if commit {
			want = 3
		}
		if page.Total != want {
			t.Errorf("commit %v: %d users stored, want %d", commit, page.Total, want)
		}
	}
}
