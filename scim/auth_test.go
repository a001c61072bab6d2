package scim_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/scim"
	"github.com/rollcall/rollcall/storage/memory"
)

type tenants struct {
	dirs   map[string]*identity.Directory
	hashes map[string][]byte
}

func newTenants(t *testing.T, names ...string) *tenants {
	db := memory.New()
	ts := &tenants{dirs: map[string]*identity.Directory{}, hashes: map[string][]byte{}}
	for _, n := range names {
		d, err := identity.New(db.Tenant(n), identity.Config{Tenant: n, GroupSource: identity.SourceSCIM})
		if err != nil {
			t.Fatal(err)
		}
		ts.dirs[n] = d
		ts.hashes[n] = scim.TokenHash("token-of-" + n)
	}
	return ts
}

// Tenants named in the URL (/scim/v2/{tenant}/...), each with its token.
func TestTenantIsolationByURL(t *testing.T) {
	ts := newTenants(t, "acme", "globex")
	h, err := scim.New(scim.Config{
		Resolve: func(r *http.Request) (identity.Tenant, error) {
			d, ok := ts.dirs[r.PathValue("tenant")]
			if !ok {
				return identity.Tenant{}, scim.ErrUnknownTenant
			}
			return identity.Tenant{Directory: d}, nil
		},
		Credentials: func(_ *http.Request, t identity.Tenant) (scim.Credentials, error) {
			return scim.Credentials{TokenHashes: [][]byte{ts.hashes[t.Directory.Tenant()]}}, nil
		},
	}, identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/scim/v2/{tenant}/", func(w http.ResponseWriter, r *http.Request) {
		http.StripPrefix("/scim/v2/"+r.PathValue("tenant"), h).ServeHTTP(w, r)
	})
	call := func(token, method, path, body string) resp {
		e := &env{t: t, h: mux, prefix: "/scim/v2"}
		return e.doToken(token, method, path, body)
	}
	id := call("token-of-acme", "POST", "/acme/Users", `{"userName":"a@acme.test"}`).must(t, 201).str("id")
	if loc := call("token-of-acme", "GET", "/acme/Users/"+id, "").must(t, 200).str("meta.location"); loc != "http://example.test/scim/v2/acme/Users/"+id {
		t.Errorf("location %q", loc)
	}
	// globex's token on acme's URL, and acme's on globex's.
	call("token-of-globex", "GET", "/acme/Users/"+id, "").must(t, 401)
	call("token-of-globex", "PATCH", "/acme/Users/"+id, `{"Operations":[{"op":"replace","path":"active","value":false}]}`).must(t, 401)
	call("token-of-globex", "DELETE", "/acme/Users/"+id, "").must(t, 401)
	call("token-of-acme", "GET", "/globex/Users", "").must(t, 401)
	// globex's URL with its own token does not see acme's user.
	call("token-of-globex", "GET", "/globex/Users/"+id, "").must(t, 404)
	if r := call("token-of-globex", "GET", "/globex/Users?filter=userName+eq+%22a@acme.test%22", "").must(t, 200); r.total() != 0 {
		t.Errorf("globex sees acme: %s", r.Raw)
	}
	call("token-of-globex", "PUT", "/globex/Users/"+id, `{"userName":"stolen"}`).must(t, 404)
	// Unknown tenant, no token, bad token: 401 with WWW-Authenticate.
	for _, c := range [][2]string{{"token-of-acme", "/initech/Users"}, {"", "/acme/Users"}, {"nope", "/acme/Users"}} {
		r := call(c[0], "GET", c[1], "").must(t, 401)
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
		}
	}
	u, err := ts.dirs["acme"].Reader().User(t.Context(), id)
	if err != nil || !u.Active || u.UserName != "a@acme.test" {
		t.Errorf("acme's user changed: %+v %v", u, err)
	}
}

// One URL for every tenant: the token finds the tenant.
func TestTenantIsolationByToken(t *testing.T) {
	ts := newTenants(t, "acme", "globex")
	var cfg scim.Config
	cfg.Resolve, cfg.Credentials = scim.TokenTenants(func(_ context.Context, hash []byte) (identity.Tenant, error) {
		for n, want := range ts.hashes {
			if bytes.Equal(want, hash) {
				return identity.Tenant{Directory: ts.dirs[n]}, nil
			}
		}
		return identity.Tenant{}, identity.ErrNotFound
	})
	h, err := scim.New(cfg, identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, h: h}
	id := e.doToken("token-of-acme", "POST", "/Users", `{"userName":"a@acme.test"}`).must(t, 201).str("id")
	gid := e.doToken("token-of-acme", "POST", "/Groups", `{"displayName":"A"}`).must(t, 201).str("id")
	e.doToken("token-of-globex", "GET", "/Users/"+id, "").must(t, 404)
	e.doToken("token-of-globex", "GET", "/Groups/"+gid, "").must(t, 404)
	e.doToken("token-of-globex", "PATCH", "/Groups/"+gid, `{"Operations":[{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]}`).must(t, 404)
	if r := e.doToken("token-of-globex", "GET", "/Users", "").must(t, 200); r.total() != 0 {
		t.Errorf("globex sees acme: %s", r.Raw)
	}
	// globex cannot add acme's user to its own group either.
	g2 := e.doToken("token-of-globex", "POST", "/Groups", `{"displayName":"B"}`).must(t, 201).str("id")
	e.doToken("token-of-globex", "PATCH", "/Groups/"+g2, `{"Operations":[{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]}`).must(t, 400)
	e.doToken("token-of-initech", "GET", "/Users", "").must(t, 401)
	e.doToken("", "GET", "/Users", "").must(t, 401)
}

func TestTenantErrors(t *testing.T) {
	h, _ := scim.New(scim.Config{
		Resolve:     func(*http.Request) (identity.Tenant, error) { return identity.Tenant{}, errors.New("db down") },
		Credentials: scim.Tokens(scim.TokenHash(testToken)),
	}, identity.Deps{})
	(&env{t: t, h: h}).do("GET", "/Users", "").must(t, 500)
	// A tenant known, its credentials not readable: 500; not found: 401.
	for err, code := range map[error]int{errors.New("db down"): 500, identity.ErrNotFound: 401} {
		h, _ := scim.New(scim.Config{
			Resolve: identity.Fixed(identity.Tenant{Directory: newEnv(t).dir}),
			Credentials: func(*http.Request, identity.Tenant) (scim.Credentials, error) {
				return scim.Credentials{TokenHashes: [][]byte{scim.TokenHash(testToken)}}, err
			},
		}, identity.Deps{})
		(&env{t: t, h: h}).do("GET", "/Users", "").must(t, code)
	}
	if _, err := scim.New(scim.Config{}, identity.Deps{}); err == nil {
		t.Error("New without Resolve and Credentials")
	}
}

func TestRateLimit(t *testing.T) {
	var tenant string
	e := newEnv(t, func(c *scim.Config, _ *identity.Config) {
		c.Limit = func(r *http.Request, tn string) (bool, time.Duration) {
			tenant = tn
			return r.Method == http.MethodGet, 1500 * time.Millisecond
		}
	})
	e.do("GET", "/Users", "").must(t, 200)
	r := e.do("POST", "/Users", `{"userName":"a@example.com"}`).must(t, 429)
	if r.Header.Get("Retry-After") != "2" || tenant != "acme" {
		t.Errorf("Retry-After %q, tenant %q", r.Header.Get("Retry-After"), tenant)
	}
	// Unauthenticated requests are refused before the limiter is asked.
	tenant = ""
	e.doToken("bad", "POST", "/Users", `{}`).must(t, 401)
	if tenant != "" {
		t.Error("limiter asked for an unauthenticated request")
	}
}

func TestMaxBodyBytes(t *testing.T) {
	e := newEnv(t, func(c *scim.Config, _ *identity.Config) { c.MaxBodyBytes = 100 })
	e.do("POST", "/Users", `{"userName":"`+strings.Repeat("a", 200)+`"}`).must(t, 413)
}

func TestBaseURL(t *testing.T) {
	e := newEnv(t, func(c *scim.Config, _ *identity.Config) { c.BaseURL = "https://app.example.com/scim/v2/" })
	r := e.do("POST", "/Users", `{"userName":"a@example.com"}`).must(t, 201)
	if r.Header.Get("Location") != "https://app.example.com/scim/v2/Users/"+r.str("id") {
		t.Errorf("Location %q", r.Header.Get("Location"))
	}
	_ = httptest.NewRecorder
}
