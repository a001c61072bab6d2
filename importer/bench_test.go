package importer_test

import (
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/storage/sqlstore"
)

// The benchmark files are made by testdata/make-bench.sh and not committed.
func benchFile(b *testing.B, name string) (*os.File, int64) {
	b.Helper()
	path := filepath.Join("testdata", "bench", name)
	f, err := os.Open(path)
	if err != nil {
		b.Skipf("%s is missing: run sh importer/testdata/make-bench.sh", path)
	}
	b.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	b.SetBytes(st.Size())
	return f, st.Size()
}

// BenchmarkCSVParse is the baseline: encoding/csv alone over the file.
func BenchmarkCSVParse(b *testing.B) {
	f, size := benchFile(b, "users_100k.csv")
	for b.Loop() {
		r := csv.NewReader(io.NewSectionReader(f, 0, size))
		r.ReuseRecord = true
		r.FieldsPerRecord = -1
		n := 0
		for {
			if _, err := r.Read(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(n), "rows")
	}
}

func benchRead(b *testing.B, name, format string) {
	f, size := benchFile(b, name)
	im, _ := importer.New(importer.Config{}, identity.Deps{})
	for b.Loop() {
		src, err := im.OpenFormat(format, f, size)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, _, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		src.Close()
		b.ReportMetric(float64(n), "rows")
	}
}

// The readers alone.
func BenchmarkReadCSV(b *testing.B)  { benchRead(b, "users_100k.csv", importer.FormatCSV) }
func BenchmarkReadXLSX(b *testing.B) { benchRead(b, "users_100k.xlsx", importer.FormatXLSX) }
func BenchmarkReadODS(b *testing.B)  { benchRead(b, "users_100k.ods", importer.FormatODS) }
func BenchmarkReadXLS(b *testing.B)  { benchRead(b, "users_100k.xls", importer.FormatXLS) }

// benchDryRun imports the file as a dry run into an empty memory store: the
// whole file read, checked and planned, every row a user to create.
func benchDryRun(b *testing.B, name string) {
	f, size := benchFile(b, name)
	im, _ := importer.New(importer.Config{KeepUnknownColumns: true}, identity.Deps{})
	dir, err := identity.New(memory.New().Tenant("bench"), identity.Config{Tenant: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := im.Import(context.Background(), dir, f, size, importer.Options{Filename: name, DryRun: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Errors) > 0 {
			b.Fatalf("errors in rows %v: %v", res.Errors[:min(5, len(res.Errors))], res.ErrorMessages[res.Errors[0]])
		}
		b.ReportMetric(float64(res.Rows), "rows")
	}
}

func BenchmarkDryRunCSV(b *testing.B) { benchDryRun(b, "users_100k.csv") }

// BenchmarkDryRunCSVAgain imports the CSV into a memory tenant, then
// imports it again as a dry run with update and deactivate: every row finds
// its user, and changes nothing.
func BenchmarkDryRunCSVAgain(b *testing.B) {
	f, size := benchFile(b, "users_100k.csv")
	im, _ := importer.New(importer.Config{KeepUnknownColumns: true}, identity.Deps{})
	dir, err := identity.New(memory.New().Tenant("bench"), identity.Config{Tenant: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := im.Import(ctx, dir, f, size, importer.Options{Filename: "users_100k.csv"}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := im.Import(ctx, dir, f, size, importer.Options{Filename: "users_100k.csv", DryRun: true, Update: true, Deactivate: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Skipped) != res.Rows {
			b.Fatalf("%d of %d rows skipped; errors in rows %v", len(res.Skipped), res.Rows, res.Errors[:min(5, len(res.Errors))])
		}
		b.ReportMetric(float64(res.Rows), "rows")
	}
}
func BenchmarkDryRunXLSX(b *testing.B) { benchDryRun(b, "users_100k.xlsx") }
func BenchmarkDryRunODS(b *testing.B)  { benchDryRun(b, "users_100k.ods") }
func BenchmarkDryRunXLS(b *testing.B)  { benchDryRun(b, "users_100k.xls") }

// BenchmarkApplyCSVSQLite imports the CSV into a new SQLite file: one
// transaction of 100k created users and their group memberships.
func BenchmarkApplyCSVSQLite(b *testing.B) {
	f, size := benchFile(b, "users_100k.csv")
	im, _ := importer.New(importer.Config{KeepUnknownColumns: true}, identity.Deps{})
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		db, err := sqlstore.OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		dir, _ := identity.New(db.Tenant("bench"), identity.Config{Tenant: "bench"})
		b.StartTimer()
		res, err := im.Import(ctx, dir, f, size, importer.Options{Filename: "users_100k.csv"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(res.Created)), "created")
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}
