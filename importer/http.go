package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/rollcall/rollcall/identity"
)

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// Importer does the work; required.
	Importer *Importer
	// Directory returns the Directory of the request's tenant; required. The
	// host authenticates the request (bearer token, session) before the
	// Handler runs, and resolves the tenant here. An error matching
	// identity.ErrNotFound answers 404, identity.ErrNotAllowed 403, any other
	// 500.
	Directory func(*http.Request) (*identity.Directory, error)
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

// NewHandler returns a Handler. It returns an error if Importer or Directory
// is missing.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Importer == nil || cfg.Directory == nil {
		return nil, errors.New("importer: HandlerConfig needs Importer and Directory")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, log: log}, nil
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
	tmp, err := os.CreateTemp(h.cfg.TempDir, "rollcall-export-*")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
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
	dir, err := h.cfg.Directory(r)
	switch {
	case err == nil && dir != nil:
		return dir, true
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
	if errors.Is(err, http.ErrNotMultipart) {
		// No form data, so no file: the reference's validation error.
		writeJSON(w, http.StatusUnprocessableEntity, validation("file", "The file field is required."))
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "The request must be multipart/form-data with a file.")
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
			tmp.Close()
			os.Remove(tmp.Name())
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
			if tmp, err = os.CreateTemp(h.cfg.TempDir, "rollcall-import-*"); err != nil {
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
	opts := Options{Filename: name}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"update", &opts.Update}, {"deactivate", &opts.Deactivate}, {"restore", &opts.Restore}, {"dry_run", &opts.DryRun}, {"force", &opts.Force}} {
		v, ok := flag(flags[f.name])
		if !ok {
			writeJSON(w, http.StatusUnprocessableEntity, validation(f.name, fmt.Sprintf("The %s field must be true or false.", f.name)))
			return
		}
		*f.dst = v
	}
	res, err := h.cfg.Importer.Import(r.Context(), dir, tmp, size, opts)
	if err != nil {
		h.importFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
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
