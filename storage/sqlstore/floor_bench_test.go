package sqlstore

// The floor of a user create: what database/sql itself allows, beside what
// the core does, in the same run. The figures and the command are in
// docs/benchmarks.md.

import (
	"context"
	"database/sql"
	"fmt"
	"runtime/metrics"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
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
// floorRounds rounds, and reports the medians and their ratio.
func BenchmarkCreateFloor(b *testing.B) {
	for _, be := range benchBackends {
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
				floors, cores := alternate(b, callers, func(ctx context.Context) error { return raw.create(ctx, "bench") }, core)
				reportFloor(b, "core", floors, cores)
			})
		}
	}
}

// floorRounds is how many times a floor benchmark alternates the floor and
// the layer it measures.
const floorRounds = 5

// round is what one run of a way measured.
type round struct {
	rate       float64 // creates a second
	cpu        float64 // µs of the process's CPU time (user and system) a create
	goroutines float64 // goroutines started a create
}

// alternate runs floor and layer b.N times each, over callers goroutines,
// floorRounds times, and returns what each round measured.
func alternate(b *testing.B, callers int, floor, layer func(ctx context.Context) error) (floors, layers []round) {
	for range floorRounds {
		floors = append(floors, runCallers(b, callers, floor))
		layers = append(layers, runCallers(b, callers, layer))
	}
	return floors, layers
}

// reportFloor reports the medians of the rounds of the floor and of the
// layer, and the layer's share of the floor. The rates tell the goal; the CPU
// time and goroutines a create, which a busy machine changes less, tell why.
func reportFloor(b *testing.B, layer string, floors, layers []round) {
	get := func(rs []round, f func(round) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return median(v)
	}
	rate := func(r round) float64 { return r.rate }
	fr, lr := get(floors, rate), get(layers, rate)
	b.ReportMetric(fr, "raw/s")
	b.ReportMetric(lr, layer+"/s")
	b.ReportMetric(lr/fr, layer+"/raw")
	b.ReportMetric(get(floors, func(r round) float64 { return r.cpu }), "raw-cpu-µs/op")
	b.ReportMetric(get(layers, func(r round) float64 { return r.cpu }), layer+"-cpu-µs/op")
	b.ReportMetric(get(floors, func(r round) float64 { return r.goroutines }), "raw-goroutines/op")
	b.ReportMetric(get(layers, func(r round) float64 { return r.goroutines }), layer+"-goroutines/op")
	b.ReportMetric(0, "ns/op")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// runCallers runs create b.N times over callers goroutines and measures it.
func runCallers(b *testing.B, callers int, create func(ctx context.Context) error) round {
	ctx := context.Background()
	var next atomic.Int64
	cpu0, g0 := processCPU(), goroutinesCreated()
	start := time.Now()
	errs := make(chan error, callers)
	for range callers {
		go func() {
			for next.Add(1) <= int64(b.N) {
				if err := create(ctx); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range callers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	n := float64(b.N)
	return round{
		rate:       n / elapsed.Seconds(),
		cpu:        float64((processCPU() - cpu0).Microseconds()) / n,
		goroutines: float64(goroutinesCreated()-g0-uint64(callers)) / n,
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
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
