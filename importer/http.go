package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/rollcall/rollcall/identity"
)

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// Importer does the work; required.
	Importer *Importer
	// Resolve returns the request's tenant; required. The host
	// authenticates the request (bearer token, session) before the Handler
	// runs, and resolves the tenant here. An error matching
	// identity.ErrNotFound answers 404, identity.ErrNotAllowed 403, any other
	// 500.
	Resolve identity.Resolver
	// TempDir holds uploads while they are read; "" means os.TempDir().
	TempDir string
	// Logger receives request failures; nil discards.
	Logger *slog.Logger
}

// Handler serves the reference's import API; a host mounts it on its own mux
// behind its authentication:
//
//	POST /api/v1/users/import                       multipart: file, update, deactivate, restore, dry_run, force
//	GET  /api/v1/users/export?format=csv|xlsx
//	GET  /api/v1/users/import/template?format=csv|xlsx
//
// It routes by the end of the path, so it works under any prefix.
type Handler struct {
	cfg HandlerConfig
	log *slog.Logger
}

// NewHandler returns a Handler. It returns an error if Importer or Resolve
// is missing.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Importer == nil || cfg.Resolve == nil {
		return nil, errors.New("importer: HandlerConfig needs Importer and Resolve")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if n, err := SweepTemp(cfg.TempDir); err != nil {
		log.Warn("import: sweep temporary files", "dir", cfg.TempDir, "err", err)
	} else if n > 0 {
		log.Info("import: removed temporary files left by an earlier run", "dir", cfg.TempDir, "files", n)
	}
	return &Handler{cfg: cfg, log: log}, nil
}

// Name patterns of the temporary files of uploads and exports.
const (
	tempImport = "rollcall-import-*"
	tempExport = "rollcall-export-*"
)

// createTemp creates a temporary file and unlinks it at once where the
// system allows it (not on Windows): the open file stays readable and
// writable, and a crash leaves no personal data behind.
func createTemp(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // fails on Windows: closeTemp removes it then
	return f, nil
}

// closeTemp closes a file of createTemp and removes it if it is still there.
func closeTemp(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// SweepTemp removes the temporary files of uploads and exports that an
// earlier run left in dir ("" is os.TempDir()), and returns how many. Files
// of a running import are unlinked as soon as they are created (except on
// Windows, where an open file cannot be removed and is skipped), so a sweep
// never disturbs one. NewHandler calls it.
func SweepTemp(dir string) (int, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	n := 0
	var errs []error
	for _, pattern := range []string{tempImport, tempExport} {
		names, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return n, err
		}
		for _, name := range names {
			if st, err := os.Lstat(name); err != nil || !st.Mode().IsRegular() {
				continue
			}
			if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case strings.HasSuffix(p, "/users/import/template"):
		h.get(w, r, h.template)
	case strings.HasSuffix(p, "/users/export"):
		h.get(w, r, h.export)
	case strings.HasSuffix(p, "/users/import"):
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		h.importFile(w, r)
	default:
		writeError(w, http.StatusNotFound, "not found")
	}
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, fn func(http.ResponseWriter, *http.Request, string)) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = FormatCSV
	}
	if format != FormatCSV && format != FormatXLSX {
		writeError(w, http.StatusUnprocessableEntity, "The format must be csv or xlsx.")
		return
	}
	fn(w, r, format)
}

func (h *Handler) template(w http.ResponseWriter, r *http.Request, format string) {
	w.Header().Set("Content-Type", ContentType(format))
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="users-template.%s"`, format))
	if err := Template(format, w); err != nil {
		h.log.Error("import template", "err", err)
	}
}

func (h *Handler) export(w http.ResponseWriter, r *http.Request, format string) {
	dir, ok := h.directory(w, r)
	if !ok {
		return
	}
	// Write to a temporary file first, so that a failure can still answer
	// with an error status.
	tmp, err := createTemp(h.cfg.TempDir, tempExport)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer closeTemp(tmp)
	if err := Export(r.Context(), dir.Reader(), format, tmp); err != nil {
		h.fail(w, r, err)
		return
	}
	size, _ := tmp.Seek(0, io.SeekCurrent)
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ContentType(format))
	w.Header().Set("Content-Length", fmt.Sprint(size))
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="users.%s"`, format))
	io.Copy(w, tmp)
}

func (h *Handler) directory(w http.ResponseWriter, r *http.Request) (*identity.Directory, bool) {
	t, err := h.cfg.Resolve(r)
	switch {
	case err == nil && t.Directory != nil:
		return t.Directory, true
	case errors.Is(err, identity.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	case errors.Is(err, identity.ErrNotAllowed):
		writeError(w, http.StatusForbidden, "forbidden")
	default:
		h.log.Error("import: resolve tenant", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
	return nil, false
}

// flag reads a boolean form field: 1/0, true/false (any case), empty or
// absent for false.
func flag(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false":
		return false, true
	case "1", "true":
		return true, true
	}
	return false, false
}

func (h *Handler) importFile(w http.ResponseWriter, r *http.Request) {
	dir, ok := h.directory(w, r)
	if !ok {
		return
	}
	limit := h.cfg.Importer.cfg.MaxFileSize
	r.Body = http.MaxBytesReader(w, r.Body, limit+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		// No form data (or no boundary to read it by), so no file: the
		// reference's validation error.
		writeJSON(w, http.StatusUnprocessableEntity, validation("file", "The file field is required: send multipart/form-data with a file."))
		return
	}
	var (
		tmp   *os.File
		size  int64
		name  string
		flags = map[string]string{}
	)
	defer func() {
		if tmp != nil {
			closeTemp(tmp)
		}
	}()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			h.readFailed(w, err)
			return
		}
		field := part.FormName()
		switch {
		case field == "file" && tmp == nil:
			name = part.FileName()
			_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
			if _, isFile := params["filename"]; !isFile {
				// A text field named file: importing its text as an
				// empty file would answer 200 with nothing done.
				writeJSON(w, http.StatusBadRequest, validation("file", "The file field must be a file upload (a part with a filename), not a text field."))
				return
			}
			if tmp, err = createTemp(h.cfg.TempDir, tempImport); err != nil {
				h.fail(w, r, err)
				return
			}
			size, err = io.Copy(tmp, io.LimitReader(part, limit+1))
			if err != nil {
				h.readFailed(w, err)
				return
			}
			if size > limit {
				writeError(w, http.StatusRequestEntityTooLarge, (&LimitError{What: "file size", Limit: limit}).Error())
				return
			}
		case field == "file":
			// Which of several files to import is a guess (PHP, under the
			// reference, keeps the last): refuse rather than import the wrong
			// one, with deactivate set perhaps.
			writeJSON(w, http.StatusUnprocessableEntity, validation("file", "The file field must be a single file."))
			return
		default:
			v, err := io.ReadAll(io.LimitReader(part, 1024))
			if err != nil {
				h.readFailed(w, err)
				return
			}
			flags[field] = string(v)
		}
		part.Close()
	}
	if tmp == nil {
		writeJSON(w, http.StatusUnprocessableEntity, validation("file", "The file field is required."))
		return
	}
	opts, bad := formOptions(name, flags)
	if bad != nil {
		writeJSON(w, http.StatusUnprocessableEntity, *bad)
		return
	}
	res, err := h.cfg.Importer.Import(r.Context(), dir, tmp, size, opts)
	if err != nil {
		h.importFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// formOptions reads the flags and the encoding of an upload's form, or
// returns the validation error of the first bad one.
func formOptions(name string, flags map[string]string) (Options, *errorBody) {
	opts := Options{Filename: name}
	switch enc := strings.ToLower(strings.TrimSpace(flags["encoding"])); enc {
	case "", EncodingUTF8, EncodingWindows1252, EncodingUTF16LE, EncodingUTF16BE:
		opts.Encoding = enc
	default:
		bad := validation("encoding", "The encoding field must be utf-8 or windows-1252.")
		return opts, &bad
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"update", &opts.Update}, {"deactivate", &opts.Deactivate}, {"restore", &opts.Restore}, {"dry_run", &opts.DryRun}, {"force", &opts.Force}} {
		v, ok := flag(flags[f.name])
		if !ok {
			bad := validation(f.name, fmt.Sprintf("The %s field must be true or false.", f.name))
			return opts, &bad
		}
		*f.dst = v
	}
	return opts, nil
}

func (h *Handler) readFailed(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, "The request is too large.")
		return
	}
	writeError(w, http.StatusBadRequest, "The upload could not be read.")
}

// statusOf maps the importer's errors to HTTP statuses.
var statusOf = []struct {
	err    error
	status int
}{
	{ErrTooLarge, http.StatusRequestEntityTooLarge},
	{ErrUnknownFormat, http.StatusUnsupportedMediaType},
	{ErrUnreadable, http.StatusUnprocessableEntity},
	{ErrThreshold, http.StatusUnprocessableEntity},
}

func (h *Handler) importFailed(w http.ResponseWriter, r *http.Request, err error) {
	for _, s := range statusOf {
		if errors.Is(err, s.err) {
			writeError(w, s.status, err.Error())
			return
		}
	}
	h.fail(w, r, err)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return
	}
	h.log.Error("import", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

type errorBody struct {
	Message string              `json:"message"`
	Errors  map[string][]string `json:"errors,omitempty"`
}

func validation(field, msg string) errorBody {
	return errorBody{Message: msg, Errors: map[string][]string{field: {msg}}}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
