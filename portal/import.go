package portal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
)

// pendingTTL is how long a previewed file waits for its apply.
const pendingTTL = 15 * time.Minute

// pendingImport is a file previewed and not yet applied, or applied and its
// result kept for download.
type pendingImport struct {
	tenant  string
	data    []byte
	opts    importer.Options
	preview *importer.Result
	result  *importer.Result // set once applied
	expires time.Time
}

// pendingImports keeps previewed files in memory, under a cap on their bytes;
// past it the oldest go. In memory only: a host with several instances
// routes a tenant's admin to one of them, or the apply finds nothing and
// asks for the file again.
type pendingImports struct {
	mu    sync.Mutex
	max   int64
	size  int64
	clock identity.Clock
	byID  map[string]*pendingImport
	order []string // oldest first
}

func newPendingImports(max int64, clock identity.Clock) *pendingImports {
	return &pendingImports{max: max, clock: clock, byID: map[string]*pendingImport{}}
}

func (p *pendingImports) put(pi *pendingImport) (string, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweep()
	for p.size+int64(len(pi.data)) > p.max && len(p.order) > 0 {
		p.drop(p.order[0])
	}
	pi.expires = p.clock.Now().Add(pendingTTL)
	p.byID[id] = pi
	p.order = append(p.order, id)
	p.size += int64(len(pi.data))
	return id, nil
}

// get returns the pending import of the tenant with the id, or nil.
func (p *pendingImports) get(tenant, id string) *pendingImport {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweep()
	pi := p.byID[id]
	if pi == nil || pi.tenant != tenant {
		return nil
	}
	return pi
}

// applied keeps only the result of an applied import: the file is dropped.
func (p *pendingImports) applied(id string, res *importer.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pi := p.byID[id]; pi != nil {
		p.size -= int64(len(pi.data))
		pi.data, pi.result = nil, res
	}
}

func (p *pendingImports) sweep() {
	now := p.clock.Now()
	for len(p.order) > 0 && now.After(p.byID[p.order[0]].expires) {
		p.drop(p.order[0])
	}
}

func (p *pendingImports) drop(id string) {
	if pi := p.byID[id]; pi != nil {
		p.size -= int64(len(pi.data))
		delete(p.byID, id)
	}
	p.order = slices.DeleteFunc(p.order, func(s string) bool { return s == id })
}

type importData struct {
	Enabled bool
	ID      string
	Options importer.Options
	Result  *importer.Result
	Rows    []errorRow
	Changed bool // the tenant changed between the preview and the apply
}

// errorRow is one row with errors, its columns in order.
type errorRow struct {
	Row     int
	Columns []errorColumn
}

type errorColumn struct {
	Column   string
	Messages []string
}

func errorRows(res *importer.Result) []errorRow {
	var rows []errorRow
	for _, n := range slices.Sorted(maps.Keys(res.ErrorMessages)) {
		r := errorRow{Row: n}
		for _, col := range slices.Sorted(maps.Keys(res.ErrorMessages[n])) {
			r.Columns = append(r.Columns, errorColumn{Column: col, Messages: res.ErrorMessages[n][col]})
		}
		rows = append(rows, r)
	}
	return rows
}

// importer returns the request tenant's importer: its own, else the
// Config's; nil when the import is off.
func (h *Handler) importer(c *call) *importer.Importer {
	if c.tenant.Importer != nil {
		return c.tenant.Importer
	}
	return h.cfg.Importer
}

func (h *Handler) importPage(c *call) error {
	h.render(c.w, c.r, http.StatusOK, "import", c.page("Import and export", &importData{Enabled: h.importer(c) != nil}))
	return nil
}

func (h *Handler) template(c *call) error {
	format, err := fileFormat(c.r)
	if err != nil {
		return err
	}
	c.w.Header().Set("Content-Type", importer.ContentType(format))
	c.w.Header().Set("Content-Disposition", `attachment; filename="users-template.`+format+`"`)
	return importer.Template(format, c.w)
}

func (h *Handler) export(c *call) error {
	format, err := fileFormat(c.r)
	if err != nil {
		return err
	}
	c.w.Header().Set("Content-Type", importer.ContentType(format))
	c.w.Header().Set("Content-Disposition", `attachment; filename="users.`+format+`"`)
	return importer.Export(c.ctx, c.dir().Reader(), format, c.w)
}

func fileFormat(r *http.Request) (string, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "", "csv":
		return "csv", nil
	case "xlsx":
		return "xlsx", nil
	default:
		return "", errBadRequestf("the format %q is neither csv nor xlsx", f)
	}
}

// preview reads the uploaded file and shows its dry run: what applying it
// would do. The file waits in memory for the apply.
func (h *Handler) preview(c *call) error {
	im := h.importer(c)
	if im == nil {
		return identity.ErrNotFound
	}
	limit := im.Config().MaxFileSize
	c.r.Body = http.MaxBytesReader(c.w, c.r.Body, limit+1<<20)
	if err := c.r.ParseMultipartForm(8 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errBadRequestf("the file is larger than %s", sizeText(limit))
		}
		return errBadRequestf("the upload could not be read; choose the file again")
	}
	defer func() { _ = c.r.MultipartForm.RemoveAll() }()
	f, fh, err := c.r.FormFile("file")
	if err != nil {
		return errBadRequestf("choose a file to import")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return errBadRequestf("the file is larger than %s", sizeText(limit))
	}
	opts := importer.Options{Filename: fh.Filename, Update: c.r.PostFormValue("update") != "",
		Deactivate: c.r.PostFormValue("deactivate") != "", Restore: c.r.PostFormValue("restore") != ""}
	res, err := h.dryRun(c, data, opts)
	if err != nil {
		return err
	}
	id, err := h.pending.put(&pendingImport{tenant: c.dir().Tenant(), data: data, opts: opts, preview: res})
	if err != nil {
		return err
	}
	d := &importData{Enabled: true, ID: id, Options: opts, Result: res, Rows: errorRows(res)}
	h.render(c.w, c.r, http.StatusOK, "import", c.page("Import preview", d))
	return nil
}

func (h *Handler) dryRun(c *call, data []byte, opts importer.Options) (*importer.Result, error) {
	opts.DryRun = true
	im := h.importer(c)
	if im == nil {
		return nil, identity.ErrNotFound
	}
	res, err := im.Import(c.ctx, c.dir(), bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		return nil, importError(err)
	}
	return res, nil
}

// sizeText writes a size limit for the admin: "10 MB", "512 KB", "900 bytes".
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// importError turns a file's error into words for the admin.
func importError(err error) error {
	var te *importer.ThresholdError
	switch {
	case errors.As(err, &te):
		return errBadRequestf("%v. Nothing was changed", err)
	case errors.Is(err, importer.ErrUnreadable), errors.Is(err, importer.ErrUnknownFormat), errors.Is(err, importer.ErrTooLarge):
		return errBadRequestf("the file cannot be imported: %v", err)
	}
	return err
}

// apply applies the previewed file, if the tenant has not changed since the
// preview: the file is planned again first, and a plan that differs from the
// preview is shown instead, to be applied on a second look.
func (h *Handler) apply(c *call) error {
	id := c.r.PostFormValue("id")
	pi := h.pending.get(c.dir().Tenant(), id)
	if pi == nil || pi.data == nil {
		return errBadRequestf("this preview is no longer kept; upload the file again")
	}
	again, err := h.dryRun(c, pi.data, pi.opts)
	if err != nil {
		return err
	}
	if !sameResult(again, pi.preview) {
		pi.preview = again
		d := &importData{Enabled: true, ID: id, Options: pi.opts, Result: again, Rows: errorRows(again), Changed: true}
		h.render(c.w, c.r, http.StatusConflict, "import", c.page("Import preview", d))
		return nil
	}
	res, err := h.importer(c).Import(c.ctx, c.dir(), bytes.NewReader(pi.data), int64(len(pi.data)), pi.opts)
	if err != nil {
		return importError(err)
	}
	h.pending.applied(id, res)
	d := &importData{Enabled: true, ID: id, Options: pi.opts, Result: res, Rows: errorRows(res)}
	h.render(c.w, c.r, http.StatusOK, "import", c.page("Import applied", d))
	return nil
}

// sameResult compares a dry run with another, the DryRun flag aside.
func sameResult(a, b *importer.Result) bool {
	x, y := *a, *b
	x.DryRun, y.DryRun = false, false
	return reflect.DeepEqual(x, y)
}

// result serves an import's result as the reference's JSON.
func (h *Handler) result(c *call) error {
	pi := h.pending.get(c.dir().Tenant(), c.r.PathValue("id"))
	if pi == nil {
		return identity.ErrNotFound
	}
	res := pi.result
	if res == nil {
		res = pi.preview
	}
	c.w.Header().Set("Content-Type", "application/json")
	c.w.Header().Set("Content-Disposition", `attachment; filename="import-result.json"`)
	if err := json.NewEncoder(c.w).Encode(res); err != nil {
		return fmt.Errorf("portal: result: %w", err)
	}
	return nil
}
