package scim_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/scim"
	"github.com/rollcall/rollcall/storage/sqlstore"
)

// benchBase is when the seeded users were created; user i was last
// changed i seconds later.
var benchBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seedUsers100k stores n users in batches: user<i>@example.com, every
// 100th at @x.example and named "Xavier <i>" (the others "User <i>"), every
// 10th with a second, home address kept as JSON.
func seedBenchUsers(b *testing.B, store identity.Store, n int) {
	ctx := b.Context()
	batch := make([]identity.User, 0, 1000)
	for i := range n {
		email, name := fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("User %d", i)
		if i%100 == 50 {
			email, name = fmt.Sprintf("user%d@x.example", i), fmt.Sprintf("Xavier %d", i)
		}
		u := identity.User{ID: identity.NewID(), UserName: email, Email: email, DisplayName: name, Active: true,
			Created: benchBase, Updated: benchBase.Add(time.Duration(i) * time.Second), Version: 1}
		if i%10 == 0 {
			u.Attributes = map[string]string{"scim.emails": fmt.Sprintf(`[{"primary":true,"type":"work","value":%q},{"type":"home","value":"user%d@home.example"}]`, email, i)}
		}
		batch = append(batch, u)
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := store.(identity.BulkUserCreator).CreateUsers(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

type sqliteBench struct {
	h   http.Handler
	dir *identity.Directory
	raw *sql.DB // the same file, as sqlstore's read pool opens it
}

var sqliteBenches = map[string]*sqliteBench{}

// newSQLiteBench opens (once per key) a SQLite file with n users and a SCIM
// handler over it.
func newSQLiteBench(b *testing.B, key string, n int, cfg scim.Config) *sqliteBench {
	benchMu.Lock()
	defer benchMu.Unlock()
	if e := sqliteBenches[key]; e != nil {
		return e
	}
	path := filepath.Join(b.TempDir(), "bench.db")
	db, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	store := db.Tenant("bench")
	seedBenchUsers(b, store, n)
	dir, err := identity.New(store, identity.Config{Tenant: "bench", GroupSource: identity.SourceSCIM})
	if err != nil {
		b.Fatal(err)
	}
	cfg.Resolve, cfg.Credentials = identity.Fixed(identity.Tenant{Directory: dir}), scim.Tokens(scim.TokenHash(testToken))
	h, err := scim.New(cfg, identity.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=cache_size(-16384)&_pragma=query_only(1)")
	if err != nil {
		b.Fatal(err)
	}
	e := &sqliteBench{h: h, dir: dir, raw: raw}
	sqliteBenches[key] = e
	return e
}

func (e *sqliteBench) serve(b *testing.B, method, target, body string, want int) {
	(&benchEnv{h: e.h}).serve(b, method, target, body, want)
}

// rawPage runs what a hand-written query of the filter costs: the count
// and the first page of 100 in ID order, in one read transaction, every
// column scanned.
func (e *sqliteBench) rawPage(b *testing.B, where string, args ...any) {
	ctx := b.Context()
	tx, err := e.raw.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	args = append([]any{"bench"}, args...)
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM rollcall_users u WHERE u.tenant = ? AND "+where, args...).Scan(&total); err != nil {
		b.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT u.id, u.user_name, u.email, u.email_verified, u.given_name, u.family_name, u.display_name, "+
		"u.active, u.external_id, u.attributes, u.created, u.updated, u.version FROM rollcall_users u WHERE u.tenant = ? AND "+where+
		" ORDER BY u.id LIMIT 100", args...)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id, un, em, gn, fn, dn, ext, attrs string
		var ev, act bool
		var cr, up, ver int64
		if err := rows.Scan(&id, &un, &em, &ev, &gn, &fn, &dn, &act, &ext, &attrs, &cr, &up, &ver); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil || total == 0 || n == 0 {
		b.Fatalf("raw query: %v, total %d, page %d", err, total, n)
	}
}

// The three filters of a tenant of 100,000 users, through SCIM (pushed to
// the store, the rest in Go, one page of 100) and as the SQL a person would
// write for them alone, on the same SQLite file.
func BenchmarkFilter100kSQLite(b *testing.B) {
	const n = 100_000
	e := newSQLiteBench(b, "filter100k", n, scim.Config{})
	after := benchBase.Add(time.Duration(n-n/100) * time.Second)
	cases := []struct {
		name, filter, where string
		args                []any
	}{
		{"displayName co", `displayName co "x"`, `u.display_name LIKE '%x%'`, nil},
		{"lastModified gt", `meta.lastModified gt "` + after.Format(time.RFC3339) + `"`, `u.updated > ?`, []any{after.UnixMicro()}},
		{"emails work co", `emails[type eq "work" and value co "@x"]`,
			`(json_extract(u.attributes, '$."scim.emails"') IS NULL AND u.email LIKE '%@x%' AND COALESCE(json_extract(u.attributes, '$."emailType"'), 'work') = 'work'
			  OR EXISTS (SELECT 1 FROM json_each(json_extract(u.attributes, '$."scim.emails"')) m
			             WHERE json_extract(m.value, '$.type') = 'work' AND json_extract(m.value, '$.value') LIKE '%@x%'))`, nil},
	}
	for _, c := range cases {
		b.Run(c.name+"/scim", func(b *testing.B) {
			target := "/Users?count=100&filter=" + url.QueryEscape(c.filter)
			for b.Loop() {
				e.serve(b, "GET", target, "", 200)
			}
		})
		b.Run(c.name+"/sql", func(b *testing.B) {
			for b.Loop() {
				e.rawPage(b, c.where, c.args...)
			}
		})
	}
}

// A PATCH adding one member, default configuration (204), to a group of
// 100 and of 100,000 members: the cost must not follow the group's size.
func BenchmarkPatchMemberAddSize(b *testing.B) {
	for _, store := range []string{"memory", "sqlite"} {
		for _, size := range []int{100, 100_000} {
			b.Run(fmt.Sprintf("%s/members=%d", store, size), func(b *testing.B) {
				benchMemberAdd(b, store, size)
			})
		}
	}
}

func benchMemberAdd(b *testing.B, kind string, size int) {
	key := fmt.Sprintf("members-%s-%d", kind, size)
	var h http.Handler
	var dir *identity.Directory
	if kind == "memory" {
		e := newBenchEnv(b, key, size, scim.Config{})
		h, dir = e.h, e.dir
	} else {
		e := newSQLiteBench(b, key, size, scim.Config{})
		h, dir = e.h, e.dir
	}
	ctx := b.Context()
	benchMu.Lock()
	gid := benchGroups[key]
	if gid == "" {
		err := dir.Do(ctx, identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
			g, err := tx.CreateGroup(ctx, "Everyone", "")
			if err != nil {
				return err
			}
			gid = g.ID
			page, err := tx.Reader().ListUsers(ctx, identity.UserQuery{Limit: size})
			if err != nil {
				return err
			}
			ids := make([]string, len(page.Users))
			for i, u := range page.Users {
				ids[i] = u.ID
			}
			_, err = tx.AddMembers(ctx, gid, ids)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		benchGroups[key] = gid
	}
	benchMu.Unlock()
	extra := newUsers(b, dir, b.N)
	e := &benchEnv{h: h}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.serve(b, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+extra[i]+`"}]}]}`, 204)
	}
}

var benchGroups = map[string]string{}

// newUsers creates n users outside every group, for the benchmark to add.
func newUsers(b *testing.B, dir *identity.Directory, n int) []string {
	ids := make([]string, 0, n)
	err := dir.Do(b.Context(), identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		for range n {
			name := fmt.Sprintf("extra%d@example.com", benchSeq.Add(1))
			u, err := tx.CreateUser(ctx, identity.User{UserName: name}, identity.CreateOptions{})
			if err != nil {
				return err
			}
			ids = append(ids, u.ID)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return ids
}

// BenchmarkThroughput sends SCIM requests over HTTP on 127.0.0.1 (one
// client, keep-alive) to the handler on SQLite and on PostgreSQL (10,000
// users), and the same requests to a bare net/http handler that answers the
// same status, headers and JSON without doing anything: the floor. The
// ratio of the two req/s is the share of the floor SCIM reaches.
func BenchmarkThroughput(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			var store identity.Store
			if kind == "sqlite" {
				store = openSQLite(b)
			} else {
				store = openPostgres(b)
			}
			seedBenchUsers(b, store, 10_000)
			dir, err := identity.New(store, identity.Config{Tenant: "acme", GroupSource: identity.SourceSCIM})
			if err != nil {
				b.Fatal(err)
			}
			h, err := scim.New(scim.Config{Resolve: identity.Fixed(identity.Tenant{Directory: dir}), Credentials: scim.Tokens(scim.TokenHash(testToken))}, identity.Deps{})
			if err != nil {
				b.Fatal(err)
			}
			g, err := dir.CreateGroup(b.Context(), identity.SourceSCIM, "Everyone", "")
			if err != nil {
				b.Fatal(err)
			}
			throughput(b, h, dir, g.ID)
		})
	}
}

func throughput(b *testing.B, h http.Handler, dir *identity.Directory, gid string) {
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	client := srv.Client()
	get := func(i int) (string, string, string) {
		return "GET", "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "user%d@example.com"`, (i*7919)%10_000)), ""
	}
	post := func(int) (string, string, string) {
		i := benchSeq.Add(1)
		return "POST", "/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"tp%d@example.com","name":{"givenName":"N","familyName":"U"},"emails":[{"value":"tp%d@example.com","type":"work","primary":true}],"active":true}`, i, i)
	}
	var extra []string
	patch := func(i int) (string, string, string) {
		return "PATCH", "/Groups/" + gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"` + extra[i%len(extra)] + `"}]}]}`
	}
	for _, c := range []struct {
		name string
		req  func(int) (string, string, string)
	}{{"userName eq GET", get}, {"POST", post}, {"group PATCH", patch}} {
		// The floor answers what the handler answered to the first request.
		if c.name == "group PATCH" {
			extra = newUsers(b, dir, 1)
		}
		method, target, body := c.req(0)
		first := send(b, client, srv.URL, method, target, body)
		floor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			for k, v := range first.Header {
				if k != "Date" && k != "Content-Length" {
					w.Header()[k] = v
				}
			}
			w.WriteHeader(first.StatusCode)
			w.Write(first.body)
		}))
		b.Cleanup(floor.Close)
		for _, side := range []struct {
			name string
			url  string
		}{{"scim", srv.URL}, {"floor", floor.URL}} {
			b.Run(c.name+"/"+side.name, func(b *testing.B) {
				if c.name == "group PATCH" && side.name == "scim" {
					extra = newUsers(b, dir, b.N)
				}
				fc := floor.Client()
				if side.name == "scim" {
					fc = client
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					m, t, body := c.req(i)
					if r := send(b, fc, side.url, m, t, body); r.StatusCode != first.StatusCode {
						b.Fatalf("%s %s: %d %s", m, t, r.StatusCode, r.body)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
		}
	}
}

type sent struct {
	*http.Response
	body []byte
}

func send(b *testing.B, c *http.Client, base, method, target, body string) sent {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+target, rd)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	io.Copy(&buf, resp.Body)
	resp.Body.Close()
	return sent{resp, buf.Bytes()}
}
