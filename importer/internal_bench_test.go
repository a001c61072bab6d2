package importer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// BenchmarkCheckCSV reads and checks the 100k-row CSV into records, without
// the core: the importer's own share of a CSV import.
func BenchmarkCheckCSV(b *testing.B) {
	path := filepath.Join("testdata", "bench", "users_100k.csv")
	f, err := os.Open(path)
	if err != nil {
		b.Skipf("%s is missing: run sh importer/testdata/make-bench.sh", path)
	}
	defer f.Close()
	st, _ := f.Stat()
	b.SetBytes(st.Size())
	im, _ := New(Config{KeepUnknownColumns: true}, identity.Deps{})
	for b.Loop() {
		var enc string
		s, err := im.read(f, st.Size(), Options{Filename: "users_100k.csv"}, &enc)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(s.records)), "rows")
	}
}
