package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
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
