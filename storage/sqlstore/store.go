package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// Store is the identity.Store of one tenant, from DB.Tenant. It also
// implements identity.EventLog. Inside Tx it is bound to the transaction.
type Store struct {
	db     *DB
	tenant string
	// tx is the transaction of Tx's fn, nil outside.
	tx *conn
}

// Tenant returns the tenant the store was opened for.
func (s *Store) Tenant() string { return s.tenant }

// Tx runs fn in a transaction (see identity.Store). In PostgreSQL the
// transaction is SERIALIZABLE, and fn is called again, at most
// Options.MaxRetries times, after a serialization failure or a deadlock. A
// Store bound to a transaction runs tx.Tx in that same transaction.
func (s *Store) Tx(ctx context.Context, fn func(ctx context.Context, tx identity.Store) error) error {
	if s.tx != nil {
		return fn(ctx, s)
	}
	return s.db.runTx(ctx, txSerial, func(c conn) error {
		return fn(ctx, &Store{db: s.db, tenant: s.tenant, tx: &c})
	})
}

// update runs fn in s's transaction, or in a transaction of its own (READ
// COMMITTED in PostgreSQL) that is retried after a serialization failure or a
// deadlock.
func (s *Store) update(ctx context.Context, fn func(c conn) error) error {
	if s.tx != nil {
		return fn(*s.tx)
	}
	return s.db.runTx(ctx, txWrite, fn)
}

// updateSnapshot is update for a write whose later reads must see the
// state its first statement saw: outside Tx, the transaction is REPEATABLE
// READ in PostgreSQL.
func (s *Store) updateSnapshot(ctx context.Context, fn func(c conn) error) error {
	if s.tx != nil {
		return fn(*s.tx)
	}
	return s.db.runTx(ctx, txSnapshot, fn)
}

// stmt runs fn in s's transaction, or else with no transaction: for a write
// made of one statement, perhaps followed by reads that explain its result.
func (s *Store) stmt(ctx context.Context, fn func(c conn) error) error {
	if s.tx != nil {
		return fn(*s.tx)
	}
	return s.db.retryStmt(ctx, fn)
}

// reader returns where a single read runs: s's transaction, or the read pool.
func (s *Store) reader() conn {
	if s.tx != nil {
		return *s.tx
	}
	return s.db.on(s.db.rdb, nil)
}

// snapshot runs fn, which reads more than once, on one state of the
// database: s's transaction, or a read-only one.
func (s *Store) snapshot(ctx context.Context, fn func(c conn) error) error {
	if s.tx != nil {
		return fn(*s.tx)
	}
	return s.db.runTx(ctx, txRead, fn)
}

// micros is the stored form of a time.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is the time a stored value stands for, in UTC.
func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// stamp is t as it will read back: UTC, to the microsecond.
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// notFound wraps identity.ErrNotFound with what was looked for.
func notFound(what string) error { return fmt.Errorf("sqlstore: %s: %w", what, identity.ErrNotFound) }
