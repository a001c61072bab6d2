// Package scim is a SCIM 2.0 service provider (RFC 7643, RFC 7644) for Entra
// ID, Okta, Ping and any other client: an http.Handler that makes every change
// through the tenant's identity.Directory.
package scim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// Credentials are what a tenant's SCIM client may authenticate with: the
// SHA-256 of each bearer token the tenant accepts (more than one while a
// token is rotated), and the issuers whose JWTs it accepts. Tokens
// themselves are never kept.
type Credentials struct {
	TokenHashes [][]byte
	// Issuers, when set, also let in JWT bearer tokens that one of them
	// accepts (Entra ID's client credentials; see NewIssuer).
	Issuers []*Issuer
}

// ErrUnknownTenant is what Config.Resolve or Config.Credentials may return
// (or wrap) when the request names no tenant it knows: the client gets a
// 401, as for a bad token, so that tenants cannot be probed. It matches
// identity.ErrNotFound, which is answered alike.
var ErrUnknownTenant = fmt.Errorf("scim: unknown tenant: %w", identity.ErrNotFound)

// Config configures a Handler. Resolve and Credentials are required; the
// zero value of every other field is the documented default.
type Config struct {
	// Resolve returns the tenant of a request: from its host, a path
	// segment the host's mux extracted, or the bearer token itself (see
	// TokenTenants). An error matching identity.ErrNotFound (or
	// ErrUnknownTenant) answers 401, as a bad token does; any other error
	// is a 500. The Tenant's Diagnostics, when set, records the request
	// (else Deps.Diagnostics does).
	Resolve identity.Resolver
	// Credentials returns what the tenant's client may authenticate with
	// (see Tokens). The Handler accepts the request only if the SHA-256 of
	// its bearer token equals one of the TokenHashes, compared in constant
	// time, or one of the Issuers accepts it. An error matching
	// identity.ErrNotFound answers 401; any other error is a 500.
	Credentials func(r *http.Request, t identity.Tenant) (Credentials, error)

	// HardDelete is what DELETE /Users/{id} does by default now (RFC 7644,
	// section 3.6: the user is deleted through the core, a later GET is a
	// 404, and the userName is free again).
	//
	// Deprecated: it has no effect; see KeepDeleted.
	HardDelete bool

	// KeepDeleted makes DELETE /Users/{id} keep a tombstone instead of
	// deleting the row: the user is deactivated, leaves the SCIM-managed
	// groups, gives up its userName (kept under Attributes["scim.deleted.userName"])
	// and externalId, and is marked with Attributes["scim.deleted"]. SCIM
	// sees a tombstone as gone: a GET is a 404, lists and filters leave it
	// out, and its userName can be created again. The host still has the
	// record (and its events). DELETE /Groups/{id} always deletes.
	KeepDeleted bool

	// PatchNoContent makes every successful PATCH answer 204 No Content. By
	// default a group PATCH answers 204 unless the request asks for
	// attributes (attributes or excludedAttributes: then 200 with those),
	// and a user PATCH answers 200 with the user, built from the update
	// without another read (RFC 7644, section 3.5.2 allows both).
	PatchNoContent bool

	// Limit, when set, is asked before each authenticated request of a
	// tenant (its Directory.Tenant() name); if it returns false the client
	// gets 429 with Retry-After set to retryAfter (rounded up to seconds,
	// at least 1).
	Limit func(r *http.Request, tenant string) (allow bool, retryAfter time.Duration)

	// BaseURL is the absolute URL the handler is mounted at, such as
	// "https://app.example.com/scim/v2", used in meta.location and $ref. When
	// empty it is derived from the request: its scheme (https if TLS), Host
	// and the prefix http.StripPrefix removed.
	BaseURL string

	// MaxBodyBytes caps a request body; 0 means 8 MiB (a PUT of a group of
	// about 100,000 members).
	MaxBodyBytes int64

	// MaxResults caps the count of one page of a list; 0 means 1000.
	MaxResults int
}

// Handler serves SCIM 2.0 for the tenants that Config.Resolve finds. Mount
// it under any prefix with http.StripPrefix:
//
//	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", h))
type Handler struct {
	cfg     Config
	logger  *slog.Logger
	diag    identity.DiagnosticsLog
	filters filterCache
}

// New returns a Handler, or an error if cfg is incomplete. deps.Logger
// receives request errors (Warn for 5xx, Debug for the rest; tokens are
// never logged); deps.Diagnostics records the requests of a tenant whose
// Tenant has no Diagnostics of its own.
func New(cfg Config, deps identity.Deps) (*Handler, error) {
	if cfg.Resolve == nil || cfg.Credentials == nil {
		return nil, errors.New("scim: Config.Resolve and Config.Credentials are required")
	}
	if cfg.MaxBodyBytes < 0 || cfg.MaxResults < 0 {
		return nil, errors.New("scim: negative MaxBodyBytes or MaxResults")
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 8 << 20
	}
	if cfg.MaxResults == 0 {
		cfg.MaxResults = 1000
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, logger: logger, diag: deps.Diagnostics}, nil
}

// TokenHash returns the SHA-256 of a bearer token: what a host stores
// instead of the token, and hands back in Credentials.TokenHashes.
func TokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Tokens returns a Config.Credentials function that gives every tenant the
// tokens of these hashes: for a host with one tenant.
func Tokens(hashes ...[]byte) func(*http.Request, identity.Tenant) (Credentials, error) {
	c := Credentials{TokenHashes: hashes}
	return func(*http.Request, identity.Tenant) (Credentials, error) { return c, nil }
}

// TokenTenants returns the Config.Resolve and Config.Credentials of a host
// that gives all its tenants one SCIM URL and finds the tenant by the hash
// of the request's bearer token. lookup gets the SHA-256 of the token (a
// lookup by hash of a random token leaks nothing through its timing) and
// returns the tenant that holds it, or an error matching
// identity.ErrNotFound. Use the two together: the Credentials accept the
// token the lookup found the tenant by.
func TokenTenants(lookup func(ctx context.Context, tokenHash []byte) (identity.Tenant, error)) (identity.Resolver, func(*http.Request, identity.Tenant) (Credentials, error)) {
	resolve := func(r *http.Request) (identity.Tenant, error) {
		tok, ok := BearerToken(r)
		if !ok {
			return identity.Tenant{}, ErrUnknownTenant
		}
		return lookup(r.Context(), TokenHash(tok))
	}
	creds := func(r *http.Request, _ identity.Tenant) (Credentials, error) {
		tok, ok := BearerToken(r)
		if !ok {
			return Credentials{}, ErrUnknownTenant
		}
		return Credentials{TokenHashes: [][]byte{TokenHash(tok)}}, nil
	}
	return resolve, creds
}

// BearerToken returns the token of the request's "Authorization: Bearer"
// header (RFC 6750, section 2.1; the scheme in any case), and false if there
// is none or it is empty.
func BearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// authenticate returns the request's tenant, or false after answering 401
// (or 500).
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (identity.Tenant, bool) {
	tok, ok := BearerToken(r)
	if !ok {
		h.unauthorized(w, r, "missing bearer token")
		return identity.Tenant{}, false
	}
	t, err := h.cfg.Resolve(r)
	var creds Credentials
	if err == nil {
		creds, err = h.cfg.Credentials(r, t)
	}
	if errors.Is(err, identity.ErrNotFound) {
		h.unauthorized(w, r, "unknown tenant")
		return identity.Tenant{}, false
	}
	if err != nil {
		h.logger.Warn("scim: resolve tenant", "err", err)
		h.writeError(w, r, errorf(http.StatusInternalServerError, "", "internal error"))
		return identity.Tenant{}, false
	}
	sum := TokenHash(tok)
	match := 0
	for _, want := range creds.TokenHashes {
		match |= subtle.ConstantTimeCompare(sum, want)
	}
	if match != 1 && !h.verifyJWT(r, creds, tok) || t.Directory == nil {
		h.unauthorized(w, r, "bad token")
		h.recordRequest(r, t, errBadToken)
		return identity.Tenant{}, false
	}
	return t, true
}

func (h *Handler) unauthorized(w http.ResponseWriter, r *http.Request, why string) {
	h.logger.Debug("scim: unauthorized", "reason", why, "remote", r.RemoteAddr)
	w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
	h.writeError(w, r, errorf(http.StatusUnauthorized, "", "authentication required"))
}

// request is one authenticated request.
type request struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	dir  *identity.Directory
	base string
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	dir := t.Directory
	if h.cfg.Limit != nil {
		if ok, after := h.cfg.Limit(r, dir.Tenant()); !ok {
			secs := int64((after + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
			h.writeError(w, r, errorf(http.StatusTooManyRequests, "", "too many requests"))
			return
		}
	}
	req := &request{h: h, w: w, r: r, dir: dir, base: h.baseURL(r)}
	err := req.route()
	if err != nil {
		h.writeErrorTo(t.LoggerOr(h.logger), w, r, err)
	}
	h.recordRequest(r, t, err)
}

// baseURL is Config.BaseURL, or the URL the handler is mounted at.
func (h *Handler) baseURL(r *http.Request) string {
	if h.cfg.BaseURL != "" {
		return h.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	prefix := ""
	orig := r.RequestURI
	if i := strings.IndexAny(orig, "?#"); i >= 0 {
		orig = orig[:i]
	}
	if strings.HasPrefix(orig, "http://") || strings.HasPrefix(orig, "https://") {
		if i := strings.Index(orig[8:], "/"); i >= 0 {
			orig = orig[8+i:]
		}
	}
	if p := r.URL.EscapedPath(); strings.HasSuffix(orig, p) {
		prefix = strings.TrimSuffix(orig[:len(orig)-len(p)], "/")
	}
	return scheme + "://" + r.Host + prefix
}

// route dispatches the request by its path, case-insensitively and with or
// without a trailing slash.
func (q *request) route() error {
	path := strings.Trim(q.r.URL.Path, "/")
	seg := strings.Split(path, "/")
	if path == "" {
		seg = nil
	}
	m := q.r.Method
	if len(seg) == 0 {
		return errorf(http.StatusNotFound, "", "no resource at this path")
	}
	first := strings.ToLower(seg[0])
	switch {
	case first == ".search" && len(seg) == 1:
		return q.onlyMethod(http.MethodPost, q.rootSearch)
	case first == "users" || first == "groups":
		rt := userType
		if first == "groups" {
			rt = groupType
		}
		switch len(seg) {
		case 1:
			switch m {
			case http.MethodGet:
				return q.list(rt, q.listParams)
			case http.MethodPost:
				return q.create(rt)
			}
			return q.methodNotAllowed("GET, POST")
		case 2:
			if strings.EqualFold(seg[1], ".search") {
				return q.onlyMethod(http.MethodPost, func() error { return q.list(rt, q.searchParams) })
			}
			id := seg[1]
			switch m {
			case http.MethodGet:
				return q.get(rt, id)
			case http.MethodPut:
				return q.put(rt, id)
			case http.MethodPatch:
				return q.patch(rt, id)
			case http.MethodDelete:
				return q.delete(rt, id)
			}
			return q.methodNotAllowed("GET, PUT, PATCH, DELETE")
		}
	case first == "serviceproviderconfig" && len(seg) == 1:
		return q.onlyMethod(http.MethodGet, func() error {
			q.writeJSON(http.StatusOK, serviceProviderConfig(q.base, q.h.cfg.MaxResults))
			return nil
		})
	case first == "resourcetypes":
		return q.onlyMethod(http.MethodGet, func() error { return q.discovery(seg, resourceTypesDocs(q.base)) })
	case first == "schemas":
		return q.onlyMethod(http.MethodGet, func() error { return q.discovery(seg, schemasDocs(q.base)) })
	case first == "me", first == "bulk":
		return errorf(http.StatusNotImplemented, "", "/%s is not supported", seg[0])
	}
	return errorf(http.StatusNotFound, "", "no resource at this path")
}

func (q *request) onlyMethod(m string, f func() error) error {
	if q.r.Method != m {
		return q.methodNotAllowed(m)
	}
	return f()
}

func (q *request) methodNotAllowed(allow string) error {
	q.w.Header().Set("Allow", allow)
	return errorf(http.StatusMethodNotAllowed, "", "method %s not allowed here", q.r.Method)
}

// readJSON decodes the request body into v, numbers kept as json.Number.
func (q *request) readJSON(v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(q.w, q.r.Body, q.h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "", "the body is larger than %d bytes", mbe.Limit)
		}
		return badRequest(ScimInvalidSyntax, "cannot read the body")
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes one JSON value, numbers kept as json.Number. Text that
// is not UTF-8 is refused, naming the attribute, rather than stored as U+FFFD.
func decodeJSON(body []byte, v any) error {
	if err := identity.CheckJSONText(body); err != nil {
		return badRequest(ScimInvalidValue, "%s", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return badRequest(ScimInvalidSyntax, "the body is not valid JSON: %s", err)
	}
	if dec.More() {
		return badRequest(ScimInvalidSyntax, "the body holds more than one JSON value")
	}
	return nil
}

func (q *request) writeJSON(status int, v any) {
	writeJSON(q.w, status, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"schemas":["` + URIError + `"],"status":"500","detail":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	w.Write(b)
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	h.writeErrorTo(h.logger, w, r, err)
}

// writeErrorTo is writeError with the logger of the request's tenant.
func (h *Handler) writeErrorTo(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	e, known := statusOf(err)
	switch {
	case !known || e.Status >= 500 && e.Status != http.StatusNotImplemented:
		log.Warn("scim: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	default:
		log.Debug("scim: request refused", "method", r.Method, "path", r.URL.Path, "status", e.Status, "err", err)
	}
	body := map[string]any{"schemas": []string{URIError}, "status": strconv.Itoa(e.Status), "detail": e.Detail}
	if e.ScimType != "" {
		body["scimType"] = e.ScimType
	}
	writeJSON(w, e.Status, body)
}

// ifMatch returns the version an If-Match header asks for: 0 for none or
// "*". A malformed one is a 412: it matches no version.
func ifMatch(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	v = strings.TrimPrefix(v, "W/")
	v = strings.Trim(v, `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, errorf(http.StatusPreconditionFailed, "", "If-Match names no version of this resource")
	}
	return n, nil
}
