package sqlstore

// Benchmarks; the figures and the command are in docs/storage.md. They run
// only with -bench, and the large ones not with -short.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

var benchBackends = []struct {
	name string
	open func(tb testing.TB, opts Options) *DB
}{
	{"sqlite", openSQLiteFile},
	{"postgres", openPostgres},
}

// bulkUsers inserts n users into the tenant with plain INSERTs in
// transactions of batch rows: the quick way to fill a database for a
// benchmark. User i has the email user<i>@example.com.
func bulkUsers(tb testing.TB, db *DB, tenant string, n, batch int) []string {
	tb.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	for start := 0; start < n; start += batch {
		err := db.runTx(ctx, txWrite, func(c conn) error {
			stmt, err := c.q.(*sql.Tx).PrepareContext(ctx, c.d.rebind(insertUser))
			if err != nil {
				return err
			}
			defer stmt.Close()
			for i := start; i < min(start+batch, n); i++ {
				u := identity.User{
					ID: identity.NewID(), UserName: fmt.Sprintf("user%07d", i), Email: fmt.Sprintf("user%07d@example.com", i),
					GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", i%1000), DisplayName: fmt.Sprintf("User %d", i),
					Active: true, ExternalID: fmt.Sprintf("ext-%07d", i),
					Attributes: map[string]string{identity.AttrDepartment: "Dept " + fmt.Sprint(i%50)},
					Created:    time.Now(), Updated: time.Now(), Version: 1,
				}
				ids[i] = u.ID
				if _, err := stmt.ExecContext(ctx, append([]any{tenant, u.ID}, userValues(u)...)...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("bulk insert: %v", err)
		}
	}
	return ids
}

// upsertUsers creates or updates n users by external ID, batch per
// transaction, as an import does: find the user, then create or update.
func upsertUsers(tb testing.TB, s *Store, n, batch int, display string) (created, updated int) {
	ctx := context.Background()
	for start := 0; start < n; start += batch {
		var c, u int
		err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
			c, u = 0, 0
			for i := start; i < min(start+batch, n); i++ {
				ext := fmt.Sprintf("ext-%07d", i)
				old, err := tx.UserByExternalID(ctx, ext)
				switch {
				case errors.Is(err, identity.ErrNotFound):
					_, err = tx.CreateUser(ctx, identity.User{
						UserName: fmt.Sprintf("user%07d", i), Email: fmt.Sprintf("user%07d@example.com", i),
						DisplayName: display, Active: true, ExternalID: ext,
						Attributes: map[string]string{identity.AttrDepartment: "Sales"},
					})
					c++
				case err == nil:
					_, err = tx.UpdateUser(ctx, old.ID, func(u *identity.User) error {
						u.DisplayName = display
						return nil
					})
					u++
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("upsert: %v", err)
		}
		created, updated = created+c, updated+u
	}
	return created, updated
}

// BenchmarkUpsertUsers upserts 100,000 users in transactions of 1,000 into
// an empty database (every user created), then again (every user updated).
func BenchmarkUpsertUsers(b *testing.B) {
	if testing.Short() {
		b.Skip("100k users: not with -short")
	}
	const total, batch = 100_000, 1_000
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			var createTime, updateTime time.Duration
			for range b.N {
				b.StopTimer()
				db := be.open(b, Options{})
				s := db.Tenant("bench")
				b.StartTimer()
				t0 := time.Now()
				if c, _ := upsertUsers(b, s, total, batch, "first"); c != total {
					b.Fatalf("created %d users, want %d", c, total)
				}
				t1 := time.Now()
				if _, u := upsertUsers(b, s, total, batch, "second"); u != total {
					b.Fatalf("updated %d users, want %d", u, total)
				}
				createTime += t1.Sub(t0)
				updateTime += time.Since(t1)
			}
			b.ReportMetric(float64(total*b.N)/createTime.Seconds(), "creates/s")
			b.ReportMetric(float64(total*b.N)/updateTime.Seconds(), "updates/s")
			b.ReportMetric(float64(2*total*b.N)/(createTime+updateTime).Seconds(), "users/s")
		})
	}
}

// BenchmarkUserByEmail looks users up by email in a SQLite database of 10k
// and of 1M users. The data is built once, before the timed runs.
func BenchmarkUserByEmail(b *testing.B) {
	if testing.Short() {
		b.Skip("1M users: not with -short")
	}
	for _, n := range []int{10_000, 1_000_000} {
		db := openSQLiteFile(b, Options{})
		start := time.Now()
		bulkUsers(b, db, "bench", n, 50_000)
		// Another tenant of the same size, so that the tenant filter works.
		bulkUsers(b, db, "other", min(n, 10_000), 50_000)
		b.Logf("%d users inserted in %v", n, time.Since(start).Round(time.Millisecond))
		s := db.Tenant("bench")
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				i := rand.N(n)
				u, err := s.UserByEmail(ctx, fmt.Sprintf("USER%07d@example.com", i))
				if err != nil || u.UserName != fmt.Sprintf("user%07d", i) {
					b.Fatalf("UserByEmail(%d) = %s, %v", i, u.UserName, err)
				}
			}
		})
	}
}

// BenchmarkConcurrentAddMember has 16 goroutines add 250 users each to one
// group, and checks that every membership is stored.
func BenchmarkConcurrentAddMember(b *testing.B) {
	const writers, each = 16, 250
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b, Options{})
			s := db.Tenant("bench")
			ids := bulkUsers(b, db, "bench", writers*each, 5_000)
			ctx := context.Background()
			var elapsed time.Duration
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				g, err := s.CreateGroup(ctx, identity.Group{Name: fmt.Sprintf("busy %d", i), Kind: groups.External, Source: "scim"})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						for _, id := range ids[w*each : (w+1)*each] {
							if added, err := s.AddMember(ctx, g.ID, id); err != nil || !added {
								b.Errorf("AddMember = %v, %v", added, err)
								return
							}
						}
					})
				}
				wg.Wait()
				elapsed += time.Since(t0)
				b.StopTimer()
				p, err := s.ListUsers(ctx, identity.UserQuery{GroupID: g.ID, Limit: 1})
				if err != nil || p.Total != writers*each {
					b.Fatalf("the group has %d members, %v; want %d: members were lost", p.Total, err, writers*each)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(writers*each*b.N)/elapsed.Seconds(), "members/s")
		})
	}
}

// BenchmarkAddMembers adds 150,000 memberships in one transaction of a SQLite
// file, with AddMember once per membership and with AddMembers a list per
// group at a time. It does so in two orders:
//
//   - import: 100,000 users and 10 groups; each user is in one group, every
//     other user in a second one; the users come 1,000 at a time in the
//     order they were created, and each group gets its members of the
//     thousand in one AddMembers, as an import adds a batch of rows.
//   - groups: 10,000 users into each of 15 groups, one group after another,
//     1,000 users per AddMembers.
//
// In the import order both indexes of the memberships grow at their ends;
// in the groups order each membership lands somewhere inside the index by
// user, which costs SQLite more whichever way it is added.
func BenchmarkAddMembers(b *testing.B) {
	if testing.Short() {
		b.Skip("150k memberships: not with -short")
	}
	type call struct {
		group int
		ids   []string
	}
	orders := []struct {
		name          string
		users, groups int
		// calls returns the lists to add, in order.
		calls func(ids []string) []call
	}{
		{"import", 100_000, 10, func(ids []string) []call {
			var calls []call
			for start := 0; start < len(ids); start += 1_000 {
				lists := make([][]string, 10)
				for i := start; i < min(start+1_000, len(ids)); i++ {
					lists[i%10] = append(lists[i%10], ids[i])
					if i%2 == 0 {
						lists[(i+3)%10] = append(lists[(i+3)%10], ids[i])
					}
				}
				for g, list := range lists {
					calls = append(calls, call{g, list})
				}
			}
			return calls
		}},
		{"groups", 10_000, 15, func(ids []string) []call {
			var calls []call
			for g := range 15 {
				for start := 0; start < len(ids); start += 1_000 {
					calls = append(calls, call{g, ids[start:min(start+1_000, len(ids))]})
				}
			}
			return calls
		}},
	}
	ways := []struct {
		name string
		add  func(ctx context.Context, tx identity.Store, groupID string, ids []string) (int, error)
	}{
		{"AddMember", func(ctx context.Context, tx identity.Store, groupID string, ids []string) (int, error) {
			n := 0
			for _, id := range ids {
				added, err := tx.AddMember(ctx, groupID, id)
				if err != nil {
					return n, err
				}
				if added {
					n++
				}
			}
			return n, nil
		}},
		{"AddMembers", func(ctx context.Context, tx identity.Store, groupID string, ids []string) (int, error) {
			added, err := tx.(*Store).AddMembers(ctx, groupID, ids)
			return len(added), err
		}},
	}
	for _, o := range orders {
		for _, w := range ways {
			b.Run(o.name+"/"+w.name, func(b *testing.B) {
				ctx := context.Background()
				var elapsed time.Duration
				var memberships int
				for range b.N {
					b.StopTimer()
					db := openSQLiteFile(b, Options{})
					s := db.Tenant("bench")
					ids := bulkUsers(b, db, "bench", o.users, 50_000)
					gids := make([]string, o.groups)
					for i := range gids {
						g, err := s.CreateGroup(ctx, identity.Group{Name: fmt.Sprintf("group %d", i), Kind: groups.Internal, Source: "import"})
						if err != nil {
							b.Fatal(err)
						}
						gids[i] = g.ID
					}
					calls, want := o.calls(ids), 0
					for _, c := range calls {
						want += len(c.ids)
					}
					b.StartTimer()
					t0 := time.Now()
					err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
						total := 0
						for _, c := range calls {
							n, err := w.add(ctx, tx, gids[c.group], c.ids)
							if err != nil {
								return err
							}
							total += n
						}
						if total != want {
							return fmt.Errorf("%d memberships added, want %d", total, want)
						}
						return nil
					})
					elapsed += time.Since(t0)
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					p, err := s.ListUsers(ctx, identity.UserQuery{GroupID: gids[len(gids)-1], Limit: 1})
					if err != nil || p.Total == 0 {
						b.Fatalf("the last group has %d members, %v", p.Total, err)
					}
					memberships += want
					b.StartTimer()
				}
				b.ReportMetric(float64(elapsed.Nanoseconds())/float64(memberships), "ns/membership")
			})
		}
	}
}

// importUsers returns n users such as a file import creates: an email that
// is also the userName, names, and five attributes.
func importUsers(n int) []identity.User {
	now := time.Now()
	users := make([]identity.User, n)
	for i := range users {
		email := fmt.Sprintf("user%06d@example.com", i)
		users[i] = identity.User{
			UserName: email, Email: email, GivenName: "Françoise", FamilyName: fmt.Sprintf("O'Brien %d", i%1000),
			Active: i%10 != 0,
			Attributes: map[string]string{
				identity.AttrDepartment: fmt.Sprintf("Dept %d", i%50), identity.AttrPhone: fmt.Sprintf("(555) %03d-%04d", i%1000, i%10000),
				identity.AttrEmployeeNumber: fmt.Sprint(100_000 + i), "hireDate": "2017-04-06", "zip": fmt.Sprint(10_000 + i%90_000),
			},
			Created: now, Updated: now,
		}
	}
	return users
}

// BenchmarkCreateUsers creates 100,000 users in one transaction of a SQLite
// file, with CreateUser once per user and with one CreateUsers.
func BenchmarkCreateUsers(b *testing.B) {
	if testing.Short() {
		b.Skip("100k users: not with -short")
	}
	const total = 100_000
	ways := []struct {
		name   string
		create func(ctx context.Context, tx identity.Store, users []identity.User) (int, error)
	}{
		{"CreateUser", func(ctx context.Context, tx identity.Store, users []identity.User) (int, error) {
			for i, u := range users {
				if _, err := tx.CreateUser(ctx, u); err != nil {
					return i, err
				}
			}
			return len(users), nil
		}},
		{"CreateUsers", func(ctx context.Context, tx identity.Store, users []identity.User) (int, error) {
			created, err := tx.(*Store).CreateUsers(ctx, users)
			return len(created), err
		}},
	}
	users := importUsers(total)
	for _, w := range ways {
		b.Run(w.name, func(b *testing.B) {
			ctx := context.Background()
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				s := openSQLiteFile(b, Options{}).Tenant("bench")
				b.StartTimer()
				t0 := time.Now()
				err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
					n, err := w.create(ctx, tx, users)
					if err == nil && n != total {
						err = fmt.Errorf("%d users created, want %d", n, total)
					}
					return err
				})
				elapsed += time.Since(t0)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if p, err := s.ListUsers(ctx, identity.UserQuery{Limit: 1}); err != nil || p.Total != total {
					b.Fatalf("ListUsers: Total %d, %v; want %d", p.Total, err, total)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(total*b.N), "ns/user")
		})
	}
}

// BenchmarkAppendEvents appends 250,000 events in one call in one
// transaction of a SQLite file, as an import of 100,000 users with 150,000
// memberships records them.
func BenchmarkAppendEvents(b *testing.B) {
	const total = 250_000
	now := time.Now()
	events := make([]identity.Event, total)
	for i := range events {
		events[i] = identity.Event{Type: identity.UserCreated, Source: identity.SourceImport, UserID: identity.NewID(), Time: now}
		if i >= 100_000 {
			events[i].Type, events[i].GroupID = identity.MemberAdded, identity.NewID()
		}
	}
	ctx := context.Background()
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		s := openSQLiteFile(b, Options{}).Tenant("bench")
		b.StartTimer()
		t0 := time.Now()
		err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
			return tx.(identity.EventLog).AppendEvents(ctx, events)
		})
		elapsed += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if events[total-1].Seq != total {
			b.Fatalf("the last event has Seq %d, want %d", events[total-1].Seq, total)
		}
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(total*b.N), "ns/event")
}

// BenchmarkAttributesJSON writes the attributes of the users an import
// creates, with json.Marshal and with attributesJSON.
func BenchmarkAttributesJSON(b *testing.B) {
	users := importUsers(1_000)
	users[1].Attributes[identity.AttrDepartment] = "東京"
	users[2].Attributes[identity.AttrDepartment] = "R&D"
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if out, _ := json.Marshal(users[i%len(users)].Attributes); len(out) == 0 {
				b.Fatal("no output")
			}
		}
	})
	b.Run("attributesJSON", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if out := attributesJSON(users[i%len(users)].Attributes); len(out) == 0 {
				b.Fatal("no output")
			}
		}
	})
}
