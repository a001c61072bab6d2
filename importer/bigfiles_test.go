package importer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
)

// TestBigFilesAgree reads the 100k-row benchmark files (make-bench.sh) and
// checks that every cell of the XLSX, ODS and XLS equals the CSV's, booleans
// aside (text in the CSV, booleans in the spreadsheets). It takes a minute,
// so it runs only with ROLLCALL_BIGFILES=1.
func TestBigFilesAgree(t *testing.T) {
	if os.Getenv("ROLLCALL_BIGFILES") == "" {
		t.Skip("set ROLLCALL_BIGFILES=1 and run sh importer/testdata/make-bench.sh")
	}
	im, _ := importer.New(importer.Config{}, identity.Deps{})
	open := func(name string) map[int][]string {
		f, err := os.Open(filepath.Join("testdata", "bench", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		format, err := importer.Detect(f, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		return readAll(t, im, format, f, st.Size())
	}
	want := open("users_100k.csv")
	for _, name := range []string{"users_100k.xls", "users_100k.ods", "users_100k.xlsx"} {
		got := open(name)
		bad := 0
		for row, cells := range got {
			w := want[row]
			if len(w) > 0 && w[len(w)-1] == "" {
				w = w[:len(w)-1]
			}
			same := len(cells) == len(w)
			for i := 0; same && i < len(w); i++ {
				same = cells[i] == w[i] || strings.EqualFold(cells[i], w[i]) && (w[i] == "true" || w[i] == "false")
			}
			if !same {
				if bad++; bad <= 5 {
					t.Errorf("%s row %d: %q, want %q", name, row, cells, w)
				}
			}
		}
		t.Logf("%s: %d rows, %d differ", name, len(got), bad)
	}
}
