package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/storagetest"
)

func TestLeaseConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storagetest.RunLeaseStore(t, func(t *testing.T, clock identity.Clock) identity.LeaseStore {
				return b.open(t, Options{Clock: clock}).Leases()
			})
		})
	}
}

// TestLeaseTwoProcesses has two DBs on one database, as two replicas would,
// race for one lease many times: each time exactly one wins.
func TestLeaseTwoProcesses(t *testing.T) {
	opens := map[string]func(t *testing.T) (*DB, *DB){
		"sqlite": func(t *testing.T) (*DB, *DB) {
			path := filepath.Join(t.TempDir(), "rollcall.db")
			return openPath(t, path), openPath(t, path)
		},
		"postgres": func(t *testing.T) (*DB, *DB) {
			dsn := postgresSchema(t)
			return openDSN(t, dsn), openDSN(t, dsn)
		},
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) {
			a, b := open(t)
			for round := range 20 {
				job := fmt.Sprintf("job-%d", round)
				var won atomic.Int64
				var wg sync.WaitGroup
				for i, db := range []*DB{a, b, a, b} {
					wg.Go(func() {
						_, ok, err := db.Leases().Acquire(t.Context(), job, fmt.Sprintf("owner-%d", i), time.Minute)
						if err != nil {
							t.Errorf("Acquire: %v", err)
						}
						if ok {
							won.Add(1)
						}
					})
				}
				wg.Wait()
				if won.Load() != 1 {
					t.Fatalf("round %d: %d winners, want 1", round, won.Load())
				}
			}
		})
	}
}

func openPath(t *testing.T, path string) *DB {
	t.Helper()
	db, err := OpenSQLite(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openDSN(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := OpenPostgres(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
