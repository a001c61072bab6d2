// Package importer imports users from CSV, TXT, ODS, XLS and XLSX files through
// the provisioning core, and exports them again as CSV or XLSX.
package importer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// Default limits of a Config.
const (
	DefaultMaxFileSize     = 50 << 20
	DefaultMaxRows         = 1_000_000
	DefaultMaxUncompressed = 1 << 30
	DefaultMaxErrorRows    = 10_000
	DefaultThreshold       = 0.5
)

// Config configures an Importer. The zero Config is usable: 50 MB files, 1M
// rows, 1 GiB of uncompressed XLSX/ODS parts, 10,000 rows with errors,
// unknown columns refused, no user protected, deactivation of more than half
// the active users refused without Force.
type Config struct {
	// MaxFileSize caps the size of an uploaded file in bytes. Zero means
	// DefaultMaxFileSize.
	MaxFileSize int64
	// MaxRows caps the data rows of a file (blank rows not counted). Zero
	// means DefaultMaxRows.
	MaxRows int
	// MaxUncompressed caps the bytes the parts of an XLSX or ODS archive may
	// inflate to (zip bombs). Zero means DefaultMaxUncompressed.
	MaxUncompressed int64
	// MaxErrorRows caps the rows whose cells have errors (an invalid email,
	// a value too long, a duplicate): past it the file is refused with a
	// *LimitError, as a file that is no list of users. Each row with errors
	// costs memory (its messages, in the Result) and answer size: a 2 MB file
	// of a million invalid rows took 1.5 GB. Zero means
	// DefaultMaxErrorRows.
	MaxErrorRows int
	// KeepUnknownColumns stores a column the importer does not know as an
	// attribute of the user, named by its header. When false (the default) an
	// unknown column makes the whole file an error that names it.
	KeepUnknownColumns bool
	// Protect, when set, is asked about every user the import would
	// deactivate; a user for whom it returns true is left active (the admin
	// running the import, say). Read the tenant's data through rd (a
	// user's groups, say), never through the Directory: in a real run rd is
	// the transaction's view, and the Directory may wait for the
	// transaction to end (storage/memory holds a lock for it); in a dry run
	// rd is the Directory's reader, outside any transaction.
	Protect func(ctx context.Context, rd identity.Reader, u identity.User) bool
	// Threshold is the share of the tenant's active users an import may
	// deactivate without Options.Force: more is refused with a
	// *ThresholdError. Zero means DefaultThreshold (half); 1 or more never
	// refuses.
	Threshold float64
}

// Importer imports and exports the users of a tenant. It is safe for
// concurrent use.
type Importer struct {
	cfg Config
	log *slog.Logger
}

// New returns an Importer. It returns an error if the Config is invalid.
// deps.Logger receives a line per import; nil discards. The time of an
// import's changes is its Directory's.
func New(cfg Config, deps identity.Deps) (*Importer, error) {
	if cfg.MaxFileSize < 0 || cfg.MaxRows < 0 || cfg.MaxUncompressed < 0 || cfg.MaxErrorRows < 0 || cfg.Threshold < 0 {
		return nil, errors.New("importer: negative limit in Config")
	}
	if cfg.MaxFileSize == 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.MaxRows == 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.MaxUncompressed == 0 {
		cfg.MaxUncompressed = DefaultMaxUncompressed
	}
	if cfg.MaxErrorRows == 0 {
		cfg.MaxErrorRows = DefaultMaxErrorRows
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = DefaultThreshold
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Importer{cfg: cfg, log: log}, nil
}

// Config returns the Importer's configuration, with the defaults filled in.
func (im *Importer) Config() Config { return im.cfg }

// Options are the flags of one import.
type Options struct {
	// Filename is the name of the uploaded file, reported in the Result. Its
	// extension, when it names a known format, must agree with the content.
	Filename string
	// Update overwrites the existing users found in the file; else they are
	// skipped.
	Update bool
	// Deactivate deactivates the active users the file does not list.
	Deactivate bool
	// Restore reactivates the deactivated users the file lists.
	Restore bool
	// DryRun computes the same Result and stores nothing, emits nothing. It
	// reads through the Directory's reader, outside any transaction, and
	// keeps nothing of the rows but the Result.
	DryRun bool
	// Force lets Deactivate go over the Config's Threshold.
	Force bool
	// Encoding is the encoding of a text file (CSV, TXT) without a BOM:
	// "" or EncodingUTF8 (the default), EncodingWindows1252, or
	// EncodingUTF16LE or EncodingUTF16BE (which are also recognised without
	// being named). A BOM decides over it. Text read as UTF-8 that is not
	// valid UTF-8 is refused with a *FileError naming the row and column of
	// the first byte that is not: the encoding is never guessed.
	Encoding string
	// Progress, when set, is called as rows are read and applied: every
	// 1,000 rows and once at the end of each phase. It runs on the importing
	// goroutine and must be quick.
	Progress func(Progress)
}

// Progress tells how far an import has come.
type Progress struct {
	// Phase is "read" while the file is parsed, "check" while its rows are
	// compared with the tenant's users (all a dry run does after reading),
	// then "apply" while the core makes the changes.
	Phase string
	// Read counts the data rows read so far; Checked the rows compared with
	// the tenant; Applied the rows the core has processed (created, updated,
	// skipped or refused).
	Read, Checked, Applied int
	// Total is the number of data rows, known once the file is read; 0 while
	// reading.
	Total int
}

// Result is the outcome of an import, field for field the JSON of the
// reference API. Row numbers are spreadsheet rows: the header is row 1.
type Result struct {
	DryRun        bool          `json:"dryRun"`
	Created       []int         `json:"created"`
	Updated       []int         `json:"updated"`
	Deleted       int           `json:"deleted"`
	Skipped       []int         `json:"skipped"`
	Errors        []int         `json:"errors"`
	ErrorMessages ErrorMessages `json:"errorMessages"`
	Rows          int           `json:"rows"`
	Filename      string        `json:"filename"`
	// Encoding is the encoding a text file was read in (utf-8,
	// windows-1252, utf-16le, utf-16be); empty for a spreadsheet. It is not
	// in the reference's JSON, which it extends.
	Encoding string `json:"encoding,omitempty"`
}

func newResult(opts Options) *Result {
	return &Result{
		DryRun: opts.DryRun, Filename: opts.Filename,
		Created: []int{}, Updated: []int{}, Skipped: []int{}, Errors: []int{},
		ErrorMessages: ErrorMessages{},
	}
}

// Import reads the file and applies it to the tenant of dir on behalf of
// identity.SourceImport, in one transaction: every row is applied or none
// is. With opts.DryRun every row is checked and planned as for real, and
// nothing is written: the Result is the one a real run would give on the
// tenant as it is. Problems with
// single rows are reported in the Result; the error is for the file as a
// whole: *FileError (unreadable, unknown format, bad header; matches
// ErrUnreadable or ErrUnknownFormat), *LimitError (matches ErrTooLarge),
// *ThresholdError, or an error of the store.
func (im *Importer) Import(ctx context.Context, dir *identity.Directory, file io.ReaderAt, size int64, opts Options) (*Result, error) {
	start := time.Now()
	opts.Progress = forward(opts.Progress)
	var res *Result
	var err error
	enc := ""
	if opts.DryRun {
		res, err = im.dryRun(ctx, dir, file, size, opts, &enc)
	} else {
		var s *sheet
		if s, err = im.read(file, size, opts, &enc); err == nil {
			res, err = im.apply(ctx, dir, s, opts)
		}
	}
	if err != nil {
		im.log.Warn("import failed", "tenant", dir.Tenant(), "source", identity.SourceImport, "file", opts.Filename, "dryRun", opts.DryRun, "err", err)
		return nil, err
	}
	res.Encoding = enc
	im.log.Info("import", "tenant", dir.Tenant(), "source", identity.SourceImport, "file", opts.Filename,
		"dryRun", opts.DryRun, "rows", res.Rows, "created", len(res.Created), "updated", len(res.Updated),
		"skipped", len(res.Skipped), "errors", len(res.Errors), "deleted", res.Deleted, "took", time.Since(start))
	return res, nil
}

// dryRun reads and plans the file row by row; enc gets the encoding of a
// text file.
func (im *Importer) dryRun(ctx context.Context, dir *identity.Directory, file io.ReaderAt, size int64, opts Options, enc *string) (*Result, error) {
	src, format, err := im.open(file, size, opts.Filename, opts.Encoding)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	*enc = textEncoding(src)
	return im.preview(ctx, dir, src, format, size, opts)
}

// textEncoding returns the encoding a text source reads, or "".
func textEncoding(src RowSource) string {
	if c, ok := src.(*csvSource); ok {
		return c.enc
	}
	return ""
}

// forward passes on the reports of progress that go forward only, so that
// a reader that starts again never shows progress going back.
func forward(progress func(Progress)) func(Progress) {
	if progress == nil {
		return nil
	}
	var last Progress
	return func(p Progress) {
		if p.Phase == last.Phase && (p.Read < last.Read || p.Checked < last.Checked || p.Applied < last.Applied) {
			return
		}
		last = p
		progress(p)
	}
}

// read parses the whole file into rows of the import's columns; enc gets
// the encoding of a text file.
func (im *Importer) read(file io.ReaderAt, size int64, opts Options, enc *string) (*sheet, error) {
	src, format, err := im.open(file, size, opts.Filename, opts.Encoding)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	*enc = textEncoding(src)
	return im.parse(src, format, size, opts.Progress)
}
