package googlesync

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/internal/floorbench"
	"github.com/rollcall/rollcall/storage/sqlstore"
)

// writeCounter is a tenant's SQLite store that counts the writes that change
// something, in and out of transactions.
type writeCounter struct {
	*sqlstore.Store
	n *atomic.Int64
}

func (w writeCounter) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	return w.Store.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
		return fn(ctx, writeCounter{Store: tx.(*sqlstore.Store), n: w.n})
	})
}

func (w writeCounter) count(err error, changed bool) {
	if err == nil && changed {
		w.n.Add(1)
	}
}

func (w writeCounter) CreateUser(ctx context.Context, u identity.User) (identity.User, error) {
	got, err := w.Store.CreateUser(ctx, u)
	w.count(err, true)
	return got, err
}

func (w writeCounter) CreateUsers(ctx context.Context, us []identity.User) ([]identity.User, error) {
	got, err := w.Store.CreateUsers(ctx, us)
	w.count(err, len(us) > 0)
	return got, err
}

func (w writeCounter) UpdateUser(ctx context.Context, id string, fn func(*identity.User) error) (identity.User, error) {
	got, err := w.Store.UpdateUser(ctx, id, fn)
	w.count(err, true)
	return got, err
}

func (w writeCounter) CreateLink(ctx context.Context, l identity.Link) error {
	err := w.Store.CreateLink(ctx, l)
	w.count(err, true)
	return err
}

func (w writeCounter) CreateGroup(ctx context.Context, g identity.Group) (identity.Group, error) {
	got, err := w.Store.CreateGroup(ctx, g)
	w.count(err, true)
	return got, err
}

func (w writeCounter) UpdateGroup(ctx context.Context, id string, fn func(*identity.Group) error) (identity.Group, error) {
	got, err := w.Store.UpdateGroup(ctx, id, fn)
	w.count(err, true)
	return got, err
}

func (w writeCounter) AddMember(ctx context.Context, groupID, userID string) (bool, error) {
	added, err := w.Store.AddMember(ctx, groupID, userID)
	w.count(err, added)
	return added, err
}

func (w writeCounter) AddMembers(ctx context.Context, groupID string, ids []string) ([]string, error) {
	added, err := w.Store.AddMembers(ctx, groupID, ids)
	w.count(err, len(added) > 0)
	return added, err
}

func (w writeCounter) RemoveMember(ctx context.Context, groupID, userID string) (bool, error) {
	removed, err := w.Store.RemoveMember(ctx, groupID, userID)
	w.count(err, removed)
	return removed, err
}

func (w writeCounter) AppendEvents(ctx context.Context, events []identity.Event) error {
	err := w.Store.AppendEvents(ctx, events)
	w.count(err, len(events) > 0)
	return err
}

// openSQLiteTenant returns the Directory of a Google tenant in a new SQLite
// file, and the count of its store's writes.
func openSQLiteTenant(b *testing.B) (*identity.Directory, *atomic.Int64) {
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	n := new(atomic.Int64)
	dir, err := identity.New(writeCounter{Store: db.Tenant("bench"), n: n}, identity.Config{Tenant: "bench", GroupSource: "google"})
	if err != nil {
		b.Fatal(err)
	}
	return dir, n
}

// BenchmarkSyncSQLite syncs benchAccount (10k users in 1k groups) into a
// SQLite file: first into an empty tenant, then again with nothing changed
// in Google. apply-ns/op is the sync's time less the pull's; a no-change
// sync must write nothing.
func BenchmarkSyncSQLite(b *testing.B) {
	api := benchAccount()
	e := newEnv(b, api, Config{MaxRemove: 1})
	b.Run("first", func(b *testing.B) {
		var apply time.Duration
		for b.Loop() {
			b.StopTimer()
			dir, _ := openSQLiteTenant(b)
			s := e.newSyncer(b, Config{})
			b.StartTimer()
			rep, err := s.Sync(context.Background(), dir)
			if err != nil {
				b.Fatal(err)
			}
			if rep.UsersCreated != 10000 || rep.MembersAdded != 30000 {
				b.Fatalf("first sync: %+v", rep)
			}
			apply += rep.Duration - rep.PullDuration
		}
		b.ReportMetric(float64(apply.Nanoseconds())/float64(b.N), "apply-ns/op")
	})
	b.Run("nochange", func(b *testing.B) {
		dir, writes := openSQLiteTenant(b)
		s := e.newSyncer(b, Config{})
		if _, err := s.Sync(context.Background(), dir); err != nil {
			b.Fatal(err)
		}
		var apply time.Duration
		for b.Loop() {
			writes.Store(0)
			rep, err := s.Sync(context.Background(), dir)
			if err != nil {
				b.Fatal(err)
			}
			if n := writes.Load(); n != 0 {
				b.Fatalf("a sync that changes nothing made %d writes: %+v", n, rep)
			}
			apply += rep.Duration - rep.PullDuration
		}
		b.ReportMetric(float64(apply.Nanoseconds())/float64(b.N), "apply-ns/op")
	})
}

// BenchmarkApplySQLite is the apply phase of BenchmarkSyncSQLite alone:
// Directory.Reconcile of the batch a pull of benchAccount gives, into an
// empty SQLite tenant (first) and again with nothing changed (nochange).
// Besides the time it reports the process's CPU time (cpu-ns/op), which
// other work on the machine changes less than the wall time.
func BenchmarkApplySQLite(b *testing.B) {
	api := benchAccount()
	e := newEnv(b, api, Config{MaxRemove: 1})
	var c counter
	var rep Report
	// pull reads the directory of the sync in progress, as Sync sets it.
	e.syncer.dir, e.syncer.log = e.dir, e.syncer.logger
	p, err := e.syncer.pull(context.Background(), &c, &rep)
	if err != nil {
		b.Fatal(err)
	}
	batch := e.syncer.batch(p)
	opts := identity.ReconcileOptions{Fuse: identity.Fuse{MaxRemove: 1, MaxDeactivate: 1}}
	b.Run("first", func(b *testing.B) {
		var cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			dir, _ := openSQLiteTenant(b)
			b.StartTimer()
			c0 := floorbench.ProcessCPU()
			_, counts, err := dir.Reconcile(context.Background(), identity.Google, batch, opts)
			cpu += floorbench.ProcessCPU() - c0
			if err != nil || counts.UsersCreated != 10000 || counts.MembersAdded != 30000 {
				b.Fatalf("first apply: %+v, %v", counts, err)
			}
		}
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
	b.Run("nochange", func(b *testing.B) {
		dir, writes := openSQLiteTenant(b)
		if _, _, err := dir.Reconcile(context.Background(), identity.Google, batch, opts); err != nil {
			b.Fatal(err)
		}
		var cpu time.Duration
		for b.Loop() {
			writes.Store(0)
			c0 := floorbench.ProcessCPU()
			_, counts, err := dir.Reconcile(context.Background(), identity.Google, batch, opts)
			cpu += floorbench.ProcessCPU() - c0
			if err != nil || counts != (identity.BatchCounts{}) {
				b.Fatalf("no-change apply: %+v, %v", counts, err)
			}
			if n := writes.Load(); n != 0 {
				b.Fatalf("a batch that changes nothing made %d writes", n)
			}
		}
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}
