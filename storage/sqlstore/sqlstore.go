// Package sqlstore keeps the directory in SQLite or PostgreSQL through
// database/sql: one implementation of identity.Store, identity.EventLog and
// identity.KeyStore for both.
//
// SQLite (modernc.org/sqlite, pure Go) is the embedded default; PostgreSQL
// (github.com/jackc/pgx/v5 through its database/sql adapter) is the path for a
// host that runs on more than one machine. The schema is created and upgraded
// by embedded, forward-only migrations when a database is opened. Every row
// carries its tenant and every query filters by it: a Store sees one tenant
// only. Times are stored as microseconds since the Unix epoch, UTC, in both
// dialects, so a stored time reads back the same on either.
//
// Transactions: a SQLite database has one writer at a time; OpenSQLite gives
// writes one connection and reads a pool of their own (WAL). In PostgreSQL,
// Store.Tx runs at SERIALIZABLE and the other methods at READ COMMITTED with
// row locks where they read and write (AddMembers and CreateUsers at
// REPEATABLE READ); a serialization failure or a deadlock is retried, at
// most Options.MaxRetries times, calling fn again.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"

	"github.com/rollcall/rollcall/identity"
)

var (
	_ identity.Store        = (*Store)(nil)
	_ identity.EventLog     = (*Store)(nil)
	_ identity.UserSearcher = (*Store)(nil)
	_ identity.KeyStore     = (*KeyStore)(nil)
)

// Dialect names the SQL database behind a DB.
type Dialect int

const (
	// SQLite is modernc.org/sqlite, registered as driver "sqlite".
	SQLite Dialect = iota + 1
	// Postgres is PostgreSQL through github.com/jackc/pgx/v5/stdlib, driver
	// "pgx".
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// DefaultMaxRetries is how many times a transaction is retried after a
// serialization failure or deadlock when Options.MaxRetries is 0.
const DefaultMaxRetries = 5

// Options configures a DB. The zero value is ready to use.
type Options struct {
	// Clock judges the KeyStore's expiry and dates the migrations. Nil means
	// the system clock. (The store keeps the Created and Updated times it is
	// given: the core sets them.)
	Clock identity.Clock
	// Logger receives migrations at Info and retries at Debug. Nil discards.
	Logger *slog.Logger
	// MaxRetries is how many times a transaction is run again after a
	// serialization failure or a deadlock (PostgreSQL SQLSTATE 40001 or
	// 40P01; SQLite SQLITE_BUSY). 0 means DefaultMaxRetries; a negative value
	// means never.
	MaxRetries int
	// MaxConns is, for OpenPostgres, the most connections the DB opens and
	// keeps open; 0 means DefaultMaxConns. Connections idle for
	// ConnMaxIdleTime are closed. (A SQLite file has one writing connection
	// and max(4, GOMAXPROCS) reading ones; New leaves the pool of a *sql.DB
	// to the host.)
	MaxConns int
}

// DefaultMaxConns is Options.MaxConns when it is 0: enough for the
// concurrent requests of a replica, far below PostgreSQL's default
// max_connections of 100.
const DefaultMaxConns = 16

// ConnMaxIdleTime is how long OpenPostgres keeps a connection that no
// request uses, so that a burst's connections are not opened again for each
// request (database/sql keeps only 2 idle connections unless told) and do
// not linger long after it.
const ConnMaxIdleTime = 5 * time.Minute

// DB is an open rollcall database. It is safe for concurrent use; a host keeps
// one per database and takes a Store per tenant from it.
type DB struct {
	dialect Dialect
	// wdb runs transactions and writes. For a SQLite file it has one
	// connection, so writers queue in Go rather than on SQLite's busy lock.
	wdb *sql.DB
	// rdb runs reads outside a transaction: a separate pool of read-only
	// connections for a SQLite file, else wdb.
	rdb *sql.DB
	// wstmts and rstmts hold the statements prepared on wdb and rdb, for
	// SQLite; nil for PostgreSQL.
	wstmts, rstmts *stmtCache
	owned          bool
	clock          identity.Clock
	log            *slog.Logger
	maxRetries     int
	// attempts commits the diagnostics entries of a SQLite DB in batches,
	// and the queued entries (QueueAttempt) of either dialect.
	attempts attemptBatcher
}

// OpenSQLite opens (creating if needed) the SQLite database at path and
// migrates it. Path ":memory:" is a private in-memory database on one
// connection, gone when the DB is closed. A file is opened in WAL mode with
// synchronous=NORMAL, a busy timeout of 5 s, foreign keys on and a page cache
// of up to 16 MiB per connection; writes go through one connection (BEGIN
// IMMEDIATE) that keeps its temporary files in memory (temp_store=MEMORY: a
// statement that writes many rows journals the pages it changes there, not
// in a temporary file), reads through a pool of up to max(4, GOMAXPROCS) read-only
// connections. Path may also be a "file:" URI (not an in-memory one).
func OpenSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	if strings.Contains(path, "?") && !strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlstore: sqlite path %q: a path with '?' must be given as a file: URI", path)
	}
	memory := path == "" || path == ":memory:"
	if memory {
		path = ":memory:"
	}
	params := "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=cache_size(-16384)"
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	open := func(extra string, conns int) (*sql.DB, error) {
		db, err := sql.Open("sqlite", path+sep+params+extra)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: open sqlite %q: %w", path, err)
		}
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return db, nil
	}
	w, err := open("&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=temp_store(2)&_txlock=immediate", 1)
	if err != nil {
		return nil, err
	}
	r := w
	if !memory {
		if r, err = open("&_pragma=query_only(1)", max(4, runtime.GOMAXPROCS(0))); err != nil {
			w.Close()
			return nil, err
		}
	}
	db := newDB(SQLite, w, r, opts)
	db.owned = true
	if err := db.start(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenPostgres connects to PostgreSQL with a pgx connection string (a URL or
// key=value pairs; a search_path parameter selects the schema) and migrates
// the database. It keeps up to Options.MaxConns connections open.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*DB, error) {
	w, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	conns := opts.MaxConns
	if conns <= 0 {
		conns = DefaultMaxConns
	}
	w.SetMaxOpenConns(conns)
	w.SetMaxIdleConns(conns)
	w.SetConnMaxIdleTime(ConnMaxIdleTime)
	db := newDB(Postgres, w, w, opts)
	db.owned = true
	if err := db.start(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// New uses db, a database the host opened with the "sqlite" driver of
// modernc.org/sqlite or the "pgx" driver of github.com/jackc/pgx/v5/stdlib,
// and migrates it. Close does not close db.
//
// For SQLite the host should open db as OpenSQLite does: with
// _pragma=busy_timeout(5000), _pragma=foreign_keys(1), _txlock=immediate and,
// for a file, _pragma=journal_mode(WAL) and _pragma=temp_store(2); and for
// ":memory:" with SetMaxOpenConns(1). Without _txlock=immediate, concurrent
// writers fail with SQLITE_BUSY more often and are retried; without
// temp_store(2), the statements that write many rows (CreateUsers,
// AddMembers) spill their statement journals to temporary files, which is
// slower.
func New(ctx context.Context, db *sql.DB, dialect Dialect, opts Options) (*DB, error) {
	if db == nil {
		return nil, errors.New("sqlstore: New: nil *sql.DB")
	}
	if dialect != SQLite && dialect != Postgres {
		return nil, fmt.Errorf("sqlstore: New: unknown dialect %v", dialect)
	}
	d := newDB(dialect, db, db, opts)
	if err := d.start(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func newDB(d Dialect, w, r *sql.DB, opts Options) *DB {
	db := &DB{dialect: d, wdb: w, rdb: r, clock: opts.Clock, log: opts.Logger, maxRetries: opts.MaxRetries}
	if db.clock == nil {
		db.clock = systemClock{}
	}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case db.maxRetries == 0:
		db.maxRetries = DefaultMaxRetries
	case db.maxRetries < 0:
		db.maxRetries = 0
	}
	return db
}

// start migrates the database and, for SQLite, prepares the statements.
func (db *DB) start(ctx context.Context) error {
	if err := db.migrate(ctx); err != nil {
		return err
	}
	if db.dialect != SQLite {
		return nil
	}
	db.wstmts = &stmtCache{pool: db.wdb}
	if err := db.wstmts.warm(ctx, false); err != nil {
		return fmt.Errorf("sqlstore: prepare: %w", err)
	}
	if db.rdb != db.wdb {
		db.rstmts = &stmtCache{pool: db.rdb}
		if err := db.rstmts.warm(ctx, true); err != nil {
			return fmt.Errorf("sqlstore: prepare: %w", err)
		}
	}
	return nil
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Dialect reports the database's dialect.
func (db *DB) Dialect() Dialect { return db.dialect }

// Tenant returns the store of one tenant. It is cheap: a host may call it per
// request.
func (db *DB) Tenant(id string) *Store { return &Store{db: db, tenant: id} }

// Keys returns the key store of one tenant, which judges expiry by clock: nil
// means the DB's (Options.Clock). memory.DB.Keys takes the same arguments.
func (db *DB) Keys(tenant string, clock identity.Clock) *KeyStore {
	return &KeyStore{db: db, tenant: tenant, clock: clock}
}

// Close writes the diagnostics entries queued (DiagnosticsLog.QueueAttempt),
// then closes the connections that OpenSQLite or OpenPostgres made. It does
// not close a *sql.DB given to New. Stores of a closed DB return errors.
func (db *DB) Close() error {
	db.attempts.close(db)
	db.wstmts.close()
	db.rstmts.close()
	if !db.owned {
		return nil
	}
	err := db.wdb.Close()
	if db.rdb != db.wdb {
		err = errors.Join(err, db.rdb.Close())
	}
	return err
}

// now returns the clock's time as it will be stored: UTC, to the microsecond.
func (db *DB) now() time.Time { return db.clock.Now().UTC().Truncate(time.Microsecond) }
