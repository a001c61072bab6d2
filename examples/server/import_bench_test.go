package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/internal/floorbench"
	"github.com/rollcall/rollcall/storage/sqlstore"
)

// importRounds is how many times BenchmarkImportCSVFloor alternates the
// import and its floor.
const importRounds = 3

// BenchmarkImportCSVFloor imports the 100k-row CSV of the importer's
// benchmarks (sh importer/testdata/make-bench.sh) into a new SQLite file, as
// the import API does, against its floor: the same rows, read back from the
// imported database, inserted into a new database with the same schema and
// pragmas in one transaction, a prepared INSERT a table, through
// database/sql. It alternates the two, importRounds times, and reports the
// median times and their ratio.
func BenchmarkImportCSVFloor(b *testing.B) {
	path := filepath.Join("..", "..", "importer", "testdata", "bench", "users_100k.csv")
	if _, err := os.Stat(path); err != nil {
		b.Skipf("%s is missing: run sh importer/testdata/make-bench.sh", path)
	}
	ctx := context.Background()
	var imports, floors []float64
	var rows int
	for range importRounds {
		for range b.N {
			dbPath := filepath.Join(b.TempDir(), "import.db")
			took := importCSV(b, ctx, path, dbPath)
			tables := readTables(b, dbPath)
			took2, n := insertFloor(b, ctx, filepath.Join(b.TempDir(), "floor.db"), tables)
			imports, floors, rows = append(imports, took.Seconds()), append(floors, took2.Seconds()), n
		}
	}
	i, f := floorbench.Median(imports), floorbench.Median(floors)
	b.ReportMetric(i, "import-s")
	b.ReportMetric(f, "raw-s")
	b.ReportMetric(i/f, "import/raw")
	b.ReportMetric(float64(rows), "rows")
	b.ReportMetric(0, "ns/op")
}

// importCSV imports the file into a new SQLite database at dbPath and
// returns how long the import took.
func importCSV(b *testing.B, ctx context.Context, path, dbPath string) time.Duration {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	db, err := sqlstore.OpenSQLite(ctx, dbPath, sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	dir, err := identity.New(db.Tenant("bench"), identity.Config{Tenant: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	im, err := importer.New(importer.Config{KeepUnknownColumns: true}, identity.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	res, err := im.Import(ctx, dir, f, st.Size(), importer.Options{Filename: "users_100k.csv"})
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Created) != 100_000 {
		b.Fatalf("the import created %d users, want 100000", len(res.Created))
	}
	return took
}

// table is the rows of one table, read back.
type table struct {
	name    string
	columns []string
	rows    [][]any
}

// readTables reads every rollcall table of the SQLite database at dbPath
// but the schema's versions and the user search index (its triggers fill it
// again as the users are inserted): users and groups first, which the others
// refer to.
func readTables(b *testing.B, dbPath string) []table {
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	names, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rollcall_%' AND name <> 'rollcall_schema' " +
		"AND name NOT LIKE 'rollcall\\_user\\_search%' ESCAPE '\\' " +
		"ORDER BY CASE name WHEN 'rollcall_users' THEN 0 WHEN 'rollcall_groups' THEN 1 ELSE 2 END, name")
	if err != nil {
		b.Fatal(err)
	}
	var tables []table
	for names.Next() {
		var t table
		if err := names.Scan(&t.name); err != nil {
			b.Fatal(err)
		}
		tables = append(tables, t)
	}
	names.Close()
	for i := range tables {
		t := &tables[i]
		rows, err := db.Query("SELECT * FROM " + t.name)
		if err != nil {
			b.Fatal(err)
		}
		t.columns, _ = rows.Columns()
		for rows.Next() {
			vals := make([]any, len(t.columns))
			ptrs := make([]any, len(vals))
			for j := range vals {
				ptrs[j] = &vals[j]
			}
			if err := rows.Scan(ptrs...); err != nil {
				b.Fatal(err)
			}
			t.rows = append(t.rows, vals)
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		rows.Close()
	}
	return tables
}

// insertFloor inserts the tables' rows into a new database at dbPath,
// migrated by OpenSQLite and then opened again as OpenSQLite opens its write
// connection, in one transaction, and returns how long that took and how
// many rows it inserted.
func insertFloor(b *testing.B, ctx context.Context, dbPath string, tables []table) (time.Duration, int) {
	store, err := sqlstore.OpenSQLite(ctx, dbPath, sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	store.Close()
	db, err := sql.Open("sqlite", dbPath+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=cache_size(-16384)"+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=temp_store(2)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	n := 0
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range tables {
		st, err := tx.PrepareContext(ctx, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", t.name,
			strings.Join(t.columns, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(t.columns)), ", ")))
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range t.rows {
			if _, err := st.ExecContext(ctx, r...); err != nil {
				b.Fatalf("%s: %v", t.name, err)
			}
			n++
		}
		st.Close()
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start), n
}
