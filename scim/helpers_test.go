package scim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/scim"
	"github.com/rollcall/rollcall/storage/memory"
)

const testToken = "secret-token-of-acme"

// env is a handler over one tenant of a memory store.
type env struct {
	t      *testing.T
	h      http.Handler
	dir    *identity.Directory
	sink   *identitytest.Sink
	prefix string
}

type envOpt func(*scim.Config, *identity.Config)

// newStore opens the store newEnv uses: a memory store, unless a test
// swaps it (see sqlite_test.go).
var newStore = func(t testing.TB) identity.Store { return memory.New().Tenant("acme") }

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	return newEnvOn(t, newStore(t), opts...)
}

func newEnvOn(t testing.TB, store identity.Store, opts ...envOpt) *env {
	t.Helper()
	sink := &identitytest.Sink{}
	icfg := identity.Config{Tenant: "acme", GroupSource: identity.SourceSCIM, Clock: identitytest.NewClock(), Events: sink}
	var cfg scim.Config
	for _, o := range opts {
		o(&cfg, &icfg)
	}
	dir, err := identity.New(store, icfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Resolve == nil {
		cfg.Resolve = identity.Fixed(identity.Tenant{Directory: dir})
	}
	if cfg.Credentials == nil {
		cfg.Credentials = scim.Tokens(scim.TokenHash(testToken))
	}
	h, err := scim.New(cfg, identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", h))
	tt, _ := t.(*testing.T)
	return &env{t: tt, h: mux, dir: dir, sink: sink, prefix: "/scim/v2"}
}

// resp is a response: its status, headers and body decoded.
type resp struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (e *env) do(method, path, body string, hdr ...string) resp {
	return e.doToken(testToken, method, path, body, hdr...)
}

func (e *env) doToken(token, method, path, body string, hdr ...string) resp {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "http://example.test"+e.prefix+path, rd)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	out := resp{Status: w.Code, Header: w.Header(), Raw: w.Body.String()}
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &out.Body); err != nil && e.t != nil {
			e.t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, w.Body.String())
		}
	}
	return out
}

// must fails the test unless the response has the status.
func (r resp) must(t *testing.T, status int) resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Raw)
	}
	return r
}

func (r resp) str(path string) string {
	v := r.get(path)
	s, _ := v.(string)
	return s
}

// get walks a dotted path of keys and list indexes ("emails.0.value").
func (r resp) get(path string) any {
	return walk(r.Body, path)
}

func walk(v any, path string) any {
	for _, k := range splitPath(path) {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := 0
			for _, c := range k {
				if c < '0' || c > '9' {
					return nil
				}
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// splitPath splits on dots, keeping URNs (which contain no dots after the
// last colon-separated "2.0") whole when quoted with {}.
func splitPath(p string) []string {
	var out []string
	for p != "" {
		if strings.HasPrefix(p, "{") {
			end := strings.Index(p, "}")
			out = append(out, p[1:end])
			p = strings.TrimPrefix(p[end+1:], ".")
			continue
		}
		k, rest, _ := strings.Cut(p, ".")
		out = append(out, k)
		p = rest
	}
	return out
}

func (r resp) total() int {
	n, _ := r.Body["totalResults"].(float64)
	return int(n)
}

func (r resp) resources() []any {
	l, _ := r.Body["Resources"].([]any)
	return l
}

// createUser creates a user over SCIM and returns its id.
func (e *env) createUser(t *testing.T, userName string) string {
	t.Helper()
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName + `","emails":[{"value":"` + userName + `","type":"work","primary":true}],"active":true}`
	return e.do("POST", "/Users", body).must(t, 201).str("id")
}

func (e *env) createGroup(t *testing.T, name string, members ...string) string {
	t.Helper()
	var ms []string
	for _, m := range members {
		ms = append(ms, `{"value":"`+m+`"}`)
	}
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"` + name + `","members":[` + strings.Join(ms, ",") + `]}`
	return e.do("POST", "/Groups", body).must(t, 201).str("id")
}

// memberIDs returns the ids of a group's members, read from the core.
func (e *env) memberIDs(t *testing.T, groupID string) map[string]bool {
	t.Helper()
	page, err := e.dir.Reader().ListUsers(t.Context(), identity.UserQuery{GroupID: groupID, Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, u := range page.Users {
		out[u.ID] = true
	}
	return out
}
