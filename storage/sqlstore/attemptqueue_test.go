package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/storagetest"
)

// countAttempts counts the tenant's rows in the table, read past the log
// (whose reads write what is queued first).
func countAttempts(t *testing.T, db *DB, tenant string) int {
	t.Helper()
	var n int
	if err := db.on(db.rdb, nil).row(context.Background(), "SELECT count(*) FROM rollcall_attempts WHERE tenant = ?", tenant).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A queued entry is written with no read to prompt it: by the timer, a few
// milliseconds after it was queued.
func TestQueueAttemptWrittenWithoutRead(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t, Options{})
			db.Diagnostics("acme").QueueAttempt(identity.Attempt{Connection: "scim", Detail: "POST /Users"})
			deadline := time.Now().Add(10 * time.Second)
			for countAttempts(t, db, "acme") != 1 {
				if time.Now().After(deadline) {
					t.Fatal("the queued entry was not written within 10 s")
				}
				time.Sleep(queueWindow)
			}
			if db.attempts.busy() {
				t.Error("the batcher still counts the entry written as queued")
			}
		})
	}
}

// Close writes what is queued: a database opened again reads it.
func TestQueueAttemptClose(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rollcall.db")
	db, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"a", "b", "c"} {
		db.Diagnostics("acme").QueueAttempt(identity.Attempt{Connection: "scim", Reference: ref})
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Diagnostics("acme").Attempts(ctx, identity.AttemptQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Reference != "c" || got[2].Reference != "a" {
		t.Errorf("after Close and open: %+v, want c, b, a", got)
	}
}

// Past maxQueued entries waiting, QueueAttempt writes the entry before it
// returns: the queue does not grow past it.
func TestQueueAttemptBounded(t *testing.T) {
	db := openSQLiteFile(t, Options{})
	db.attempts.mu.Lock()
	db.attempts.queued = maxQueued // as if that many were waiting
	db.attempts.mu.Unlock()
	db.Diagnostics("acme").QueueAttempt(identity.Attempt{Connection: "scim"})
	n := countAttempts(t, db, "acme")
	db.attempts.mu.Lock()
	db.attempts.queued -= maxQueued
	pending := len(db.attempts.pending)
	db.attempts.mu.Unlock()
	if n != 1 || pending != 0 {
		t.Errorf("with the queue full: %d rows written on return, %d pending; want 1, 0", n, pending)
	}
}

// Deleting a tenant first writes its queued entries, which then go with
// it: none is written after.
func TestDeleteTenantTakesQueuedAttempts(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db := b.open(t, Options{})
			st := db.Settings(storagetest.SettingsKeyring(t))
			if _, err := st.Create(ctx, "acme", settings.Settings{}); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				db.Diagnostics("acme").QueueAttempt(identity.Attempt{Connection: "scim"})
			}
			if err := st.DeleteTenant(ctx, "acme"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(4 * queueWindow) // past the timer that would have written them
			if n := countAttempts(t, db, "acme"); n != 0 {
				t.Errorf("%d entries of the deleted tenant, want 0", n)
			}
		})
	}
}

// While a long transaction holds SQLite's write connection, a read of the
// log waits for the entries queued before it at most readWait, or until its
// context ends, and then reads what is written; the entry shows once the
// connection is free.
func TestQueueAttemptReadDoesNotWaitForTheWriter(t *testing.T) {
	db := openSQLiteFile(t, Options{})
	ctx := context.Background()
	held, err := db.wdb.Conn(ctx) // the one write connection
	if err != nil {
		t.Fatal(err)
	}
	log := db.Diagnostics("acme")
	log.QueueAttempt(identity.Attempt{Connection: "scim", Reference: "queued"})

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := log.Attempts(short, identity.AttemptQuery{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Attempts with a 50 ms deadline, the writer held: %v, want the deadline", err)
	}
	if d := time.Since(start); d > readWait/2 {
		t.Errorf("Attempts with a 50 ms deadline took %v", d)
	}

	start = time.Now()
	got, err := log.Attempts(ctx, identity.AttemptQuery{})
	if d := time.Since(start); err != nil || len(got) != 0 || d < readWait || d > readWait+time.Second {
		t.Errorf("Attempts, the writer held: %d entries, %v, after %v; want none, after about %v", len(got), err, d, readWait)
	}

	held.Close()
	got, err = log.Attempts(ctx, identity.AttemptQuery{})
	if err != nil || len(got) != 1 || got[0].Reference != "queued" {
		t.Errorf("Attempts once the writer is free: %+v, %v; want the queued entry", got, err)
	}
}
