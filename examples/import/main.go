// Command import imports users from a CSV, TXT, ODS, XLS or XLSX file into a
// rollcall database, as a host's command line would, and prints the result as
// the JSON of the import API.
//
//	go run ./examples/import -db rollcall.db users.xlsx -dry-run
//
// Flags may come before or after the file. A long file shows a progress bar
// on stderr when stderr is a terminal.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/storage/sqlstore"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "import:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		db          = fs.String("db", "rollcall.db", "SQLite database file (created and migrated if missing)")
		tenant      = fs.String("tenant", "default", "tenant to import into")
		update      = fs.Bool("update", false, "overwrite existing users (else they are skipped)")
		deactivate  = fs.Bool("deactivate", false, "deactivate active users missing from the file")
		restore     = fs.Bool("restore", false, "reactivate deactivated users present in the file")
		dryRun      = fs.Bool("dry-run", false, "compute the result, store nothing")
		force       = fs.Bool("force", false, "deactivate even more than half of the active users")
		keepUnknown = fs.Bool("keep-unknown", false, "store unknown columns as user attributes instead of refusing the file")
		encoding    = fs.String("encoding", "", "encoding of a CSV or TXT file without a BOM: utf-8 (the default) or windows-1252")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: import [flags] FILE")
		fs.PrintDefaults()
	}
	// Let flags follow the file name too.
	var files []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		fs.Usage()
		return errors.New("want exactly one file")
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()

	f, err := os.Open(files[0])
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}

	sdb, err := sqlstore.OpenSQLite(ctx, *db, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer sdb.Close()
	dir, err := identity.New(sdb.Tenant(*tenant), identity.Config{Tenant: *tenant})
	if err != nil {
		return err
	}
	im, err := importer.New(importer.Config{KeepUnknownColumns: *keepUnknown}, identity.Deps{})
	if err != nil {
		return err
	}
	bar := newProgressBar(stderr)
	res, err := im.Import(ctx, dir, f, st.Size(), importer.Options{
		Filename: st.Name(), Update: *update, Deactivate: *deactivate, Restore: *restore,
		DryRun: *dryRun, Force: *force, Encoding: *encoding, Progress: bar.update,
	})
	bar.done()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// progressBar draws the import's progress on a terminal, from the first
// callback on: the importer calls back every 1,000 rows, so a short file
// draws nothing.
type progressBar struct {
	w     io.Writer
	tty   bool
	drawn bool
	last  time.Time
}

func newProgressBar(w io.Writer) *progressBar {
	b := &progressBar{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
		}
	}
	return b
}

func (b *progressBar) update(p importer.Progress) {
	if !b.tty || (p.Phase == "read" && p.Total > 0 && !b.drawn) {
		return
	}
	if now := time.Now(); now.Sub(b.last) < 100*time.Millisecond && p.Applied != p.Total && p.Checked != p.Total {
		return
	} else {
		b.last = now
	}
	b.drawn = true
	if p.Phase == "read" {
		fmt.Fprintf(b.w, "\rreading  %d rows", p.Read)
		return
	}
	if p.Total == 0 {
		// A dry run checks the rows as it reads them: no total yet.
		fmt.Fprintf(b.w, "\rchecking %d rows", p.Checked)
		return
	}
	verb, done := "applying", p.Applied
	if p.Phase == "check" {
		verb, done = "checking", p.Checked
	}
	const width = 40
	n := 0
	if p.Total > 0 {
		n = done * width / p.Total
	}
	fmt.Fprintf(b.w, "\r%s [%s%s] %d/%d rows", verb, strings.Repeat("#", n), strings.Repeat(".", width-n), done, p.Total)
}

func (b *progressBar) done() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}
