package main

import (
	"log/slog"
	"net/http"
	"sync"

	"github.com/rollcall/rollcall/importer"
)

// tenantImports serves a runtime tenant's import API with the importer the
// runtime built from the tenant's import settings (size limits, threshold):
// one importer.Handler per tenant, made again when the tenant's settings (and
// so its importer) change.
type tenantImports struct {
	s      *server
	logger *slog.Logger

	mu sync.Mutex
	m  map[string]tenantImport // by tenant
}

type tenantImport struct {
	im *importer.Importer
	h  *importer.Handler
}

func newTenantImports(s *server) *tenantImports {
	return &tenantImports{s: s, logger: s.logger, m: map[string]tenantImport{}}
}

func (t *tenantImports) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v := viewOf(r)
	if v == nil || v.src == nil {
		writeJSON(w, http.StatusNotFound, errorJSON{Error: "not found"})
		return
	}
	if v.src.Importer == nil {
		// The runtime left it out: its settings did not build (see the
		// settings' health).
		writeJSON(w, http.StatusServiceUnavailable, errorJSON{Error: "the import of this tenant is unavailable: its import settings do not build"})
		return
	}
	h, err := t.handler(v.name, v.src.Importer)
	if err != nil {
		writeError(w, r, t.logger, err)
		return
	}
	h.ServeHTTP(w, r)
}

// handler returns the tenant's handler for im, made once per importer.
func (t *tenantImports) handler(tenant string, im *importer.Importer) (*importer.Handler, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur, ok := t.m[tenant]; ok && cur.im == im {
		return cur.h, nil
	}
	h, err := importer.NewHandler(importer.HandlerConfig{Importer: im, Resolve: t.s.resolve, Logger: t.logger})
	if err != nil {
		return nil, err
	}
	t.m[tenant] = tenantImport{im: im, h: h}
	return h, nil
}

// forget drops a deleted tenant's handler.
func (t *tenantImports) forget(tenant string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, tenant)
}
