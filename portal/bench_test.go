package portal_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/portal"
	"github.com/rollcall/rollcall/storage/sqlstore"
)

// BenchmarkPages renders the portal's pages for a tenant of 100k users in 5k
// groups (each user in two) on SQLite, and reports each page's 95th
// percentile besides the mean:
//
//	go test -run '^$' -bench Pages -benchtime 200x ./portal
func BenchmarkPages(b *testing.B) {
	const users, groupCount = 100_000, 5_000
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	dir, err := identity.New(db.Tenant("acme"), identity.Config{Tenant: "acme"})
	if err != nil {
		b.Fatal(err)
	}
	ids := fill(b, dir, users, groupCount)
	if err := db.Optimize(ctx); err != nil { // as a host does after a large import
		b.Fatal(err)
	}
	h, err := portal.New(portal.Config{
		Tenant: func(*http.Request) (portal.Tenant, error) {
			return portal.Tenant{Directory: dir, Keys: db.Keys("acme", nil)}, nil
		},
		SessionKey: bytes.Repeat([]byte{1}, 32),
	})
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := h.NewSetupLink(ctx, portal.Tenant{Directory: dir, Keys: db.Keys("acme", nil)}, portal.Admin{Name: "bench", Sections: portal.AllSections})
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/setup", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(rec, req)
	cookie := rec.Result().Cookies()
	if len(cookie) != 1 {
		b.Fatalf("setup: %d %v", rec.Code, cookie)
	}
	g, err := dir.Reader().GroupByName(ctx, "group-00042")
	if err != nil {
		b.Fatal(err)
	}
	for _, page := range []struct{ name, path string }{
		{"users", "/users"},
		{"users-search", "/users?q=user-0999"},
		{"users-search-wide", "/users?q=ACME"},
		{"users-search-none", "/users?q=nobody"},
		{"users-search-short", "/users?q=42"},
		{"users-search-short-none", "/users?q=zz"},
		{"users-deep", "/users?after=" + ids[users/2]},
		{"user", "/users/" + ids[12345]},
		{"groups", "/groups"},
		{"group", "/groups/" + g.ID},
		{"events", "/events"},
		{"events-filtered", "/events?type=group.created"},
		{"import", "/import"},
	} {
		b.Run(page.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, page.path, nil)
				req.AddCookie(cookie[0])
				start := time.Now()
				h.ServeHTTP(rec, req)
				took = append(took, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d\n%s", page.path, rec.Code, rec.Body)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// fill creates the users, a thousand a transaction, and the groups with two
// groups a user; it returns the users' IDs.
func fill(b *testing.B, dir *identity.Directory, users, groupCount int) []string {
	b.Helper()
	ctx := context.Background()
	ids := make([]string, 0, users)
	for start := 0; start < users; start += 1000 {
		batch := make([]identity.NewUser, 0, 1000)
		for i := start; i < start+1000 && i < users; i++ {
			batch = append(batch, identity.NewUser{User: identity.User{
				Email: fmt.Sprintf("user-%06d@acme.example", i), GivenName: "Given", FamilyName: fmt.Sprintf("Family %d", i)}})
		}
		err := dir.Do(ctx, identity.SourceImport, func(ctx context.Context, tx *identity.Tx) error {
			created, err := tx.CreateUsers(ctx, batch)
			for _, u := range created {
				ids = append(ids, u.ID)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	per := users * 2 / groupCount
	for gi := 0; gi < groupCount; gi++ {
		err := dir.Do(ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
			g, err := tx.CreateGroup(ctx, fmt.Sprintf("group-%05d", gi), "")
			if err != nil {
				return err
			}
			members := make([]string, 0, per)
			for k := 0; k < per; k++ {
				members = append(members, ids[(gi*per/2+k)%users])
			}
			_, err = tx.AddMembers(ctx, g.ID, members)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return ids
}
