package sqlstore

// The floor of a user create: what database/sql itself allows, beside what
// the core does, in the same run. The figures and the command are in
// docs/benchmarks.md.

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/internal/floorbench"
)

// floorSeq numbers the users the floor benchmarks create, so that every
// email is new.
var floorSeq atomic.Int64

// floorUser is the user a SCIM create stores: a userName that is the email,
// a name, active.
func floorUser() identity.User {
	i := floorSeq.Add(1)
	email := fmt.Sprintf("floor%d@example.com", i)
	return identity.User{UserName: email, Email: email, GivenName: "N", FamilyName: "U", Active: true}
}

// rawCreate is the floor: one transaction that inserts the user row and its
// event row with statements prepared once, through database/sql with the
// store's driver, DSN, pragmas and schema, and nothing else.
type rawCreate struct {
	db          *sql.DB
	opts        *sql.TxOptions
	user, event *sql.Stmt
	postgres    bool
}

func newRawCreate(tb testing.TB, db *DB) *rawCreate {
	ctx := context.Background()
	user, err := db.wdb.PrepareContext(ctx, db.dialect.rebind(insertUser))
	if err != nil {
		tb.Fatal(err)
	}
	// The event's cursor as the store assigns it: in PostgreSQL from the
	// transaction's ID, in SQLite from AUTOINCREMENT.
	event, err := db.wdb.PrepareContext(ctx, db.dialect.rebind(insertEventsQuery(db.dialect, 1)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { user.Close(); event.Close() })
	opts := &sql.TxOptions{}
	if db.dialect == Postgres {
		opts.Isolation = sql.LevelReadCommitted
	}
	return &rawCreate{db: db.wdb, opts: opts, user: user, event: event, postgres: db.dialect == Postgres}
}

func (r *rawCreate) create(ctx context.Context, tenant string) error {
	u := floorUser()
	now := time.Now().UTC().Truncate(time.Microsecond)
	u.ID, u.Created, u.Updated, u.Version = identity.NewID(), now, now, 1
	tx, err := r.db.BeginTx(ctx, r.opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.StmtContext(ctx, r.user).ExecContext(ctx, append([]any{tenant, u.ID}, userValues(u)...)...); err != nil {
		return err
	}
	args := []any{tenant, string(identity.UserCreated), identity.SourceSCIM, "", u.ID, "", "null", micros(now)}
	if r.postgres {
		args = append(args, int64(0)) // the first event of the transaction
	}
	rows, err := tx.StmtContext(ctx, r.event).QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return tx.Commit()
}

// BenchmarkCreateFloor creates users one transaction each: "raw" is the
// floor (rawCreate), "core" is identity.Directory.CreateUser on the store,
// which runs Directory.Do and Tx.CreateUser. With callers=8, eight goroutines
// create at once. Each run alternates the two, b.N creates each, for
// floorbench.Rounds rounds, and reports the medians and their ratio.
//
// "sqlite-unindexed" is SQLite without the user search index's triggers
// (dropUserSearchTriggers), the floor included: the two measured on the
// schema as it was before that index, in the same run as the others.
func BenchmarkCreateFloor(b *testing.B) {
	backends := append(benchBackends[:len(benchBackends):len(benchBackends)], struct {
		name string
		open func(tb testing.TB, opts Options) *DB
	}{"sqlite-unindexed", func(tb testing.TB, opts Options) *DB {
		db := openSQLiteFile(tb, opts)
		dropUserSearchTriggers(tb, db.wdb)
		return db
	}})
	for _, be := range backends {
		for _, callers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/callers=%d", be.name, callers), func(b *testing.B) {
				db := be.open(b, Options{})
				raw := newRawCreate(b, db)
				dir, err := identity.New(db.Tenant("bench"), identity.Config{Tenant: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				core := func(ctx context.Context) error {
					_, err := dir.CreateUser(ctx, identity.SourceSCIM, floorUser(), identity.CreateOptions{})
					return err
				}
				floorbench.Compare(b, callers, "core", func(ctx context.Context) error { return raw.create(ctx, "bench") }, core)
			})
		}
	}
}

// dropUserSearchTriggers drops the triggers that keep SQLite's user search
// index (the migration user_search), for a benchmark of writes without that
// index: the database's search answers are wrong after it.
func dropUserSearchTriggers(tb testing.TB, db *sql.DB) {
	tb.Helper()
	for _, t := range []string{"insert", "update", "delete"} {
		if _, err := db.Exec("DROP TRIGGER rollcall_users_search_" + t); err != nil {
			tb.Fatal(err)
		}
	}
}
