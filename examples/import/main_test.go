package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/importer"
)

func TestRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "rollcall.db")
	file := filepath.Join("..", "..", "importer", "testdata", "users.xlsx")
	for _, dry := range []bool{true, false} {
		var out, errOut bytes.Buffer
		args := []string{"-db", db, "-keep-unknown", file}
		if dry {
			args = append(args, "-dry-run")
		}
		if err := run(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("%v: %s", err, errOut.String())
		}
		var res importer.Result
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		if res.DryRun != dry || !slices.Equal(res.Created, []int{2, 3, 4, 6, 7, 9}) || res.Filename != "users.xlsx" {
			t.Fatalf("%s", out.String())
		}
	}
	// Everything is there now.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-db", db, "-keep-unknown", "-update", file}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var res importer.Result
	json.Unmarshal(out.Bytes(), &res)
	if len(res.Created) != 0 || !slices.Equal(res.Skipped, []int{2, 3, 4, 6, 7, 9}) {
		t.Fatalf("%s", out.String())
	}
}

// A Windows-1252 file is refused unless -encoding names it.
func TestRunEncoding(t *testing.T) {
	db := filepath.Join(t.TempDir(), "rollcall.db")
	file := filepath.Join("..", "..", "importer", "testdata", "users_cp1252.csv")
	err := run(context.Background(), []string{"-db", db, "-keep-unknown", "-dry-run", file}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "not UTF-8") {
		t.Fatalf("without -encoding: %v", err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-db", db, "-keep-unknown", "-encoding", "windows-1252", file}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var res importer.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Encoding != "windows-1252" || len(res.Created) != 6 {
		t.Fatalf("%v: %s", err, out.String())
	}
}

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	b := &progressBar{w: &out, tty: true}
	b.update(importer.Progress{Phase: "read", Read: 1000})
	b.update(importer.Progress{Phase: "check", Read: 1000, Checked: 1000}) // a dry run: no total
	b.update(importer.Progress{Phase: "check", Read: 2000, Checked: 2000, Total: 2000})
	b.update(importer.Progress{Phase: "apply", Read: 2000, Checked: 2000, Applied: 2000, Total: 2000})
	b.done()
	got := out.String()
	if strings.Contains(got, "/0 rows") {
		t.Errorf("output %q shows a total of 0", got)
	}
	for _, want := range []string{"\rreading  1000 rows", "\rchecking 1000 rows", "\rchecking [" + strings.Repeat("#", 40) + "] 2000/2000 rows", "\rapplying [" + strings.Repeat("#", 40) + "] 2000/2000 rows\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output %q lacks %q", got, want)
		}
	}
	// Not a terminal: nothing is drawn.
	out.Reset()
	quiet := &progressBar{w: &out}
	quiet.update(importer.Progress{Phase: "apply", Applied: 1, Total: 1})
	quiet.done()
	if out.Len() != 0 {
		t.Errorf("drew %q on a file", out.String())
	}
}
