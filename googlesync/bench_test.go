package googlesync

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// benchAccount is 10,000 users in 1,000 groups of 30: each group holds its
// own ten users and the next two groups' ten, so each user is in three
// groups (30,000 memberships).
func benchAccount() *fakeAPI {
	f := newFakeAPI()
	const users, groups = 10000, 1000
	for i := range users {
		f.users[fmt.Sprintf("u%05d", i)] = fakeUser{ID: fmt.Sprintf("u%05d", i), Email: fmt.Sprintf("user%05d@example.com", i), Given: "User", Family: fmt.Sprint(i)}
	}
	for g := range groups {
		var ms []string
		for d := range 3 {
			for k := range 10 {
				ms = append(ms, fmt.Sprintf("u:u%05d", ((g+d)%groups)*10+k))
			}
		}
		f.addGroup(fmt.Sprintf("g%04d", g), fmt.Sprintf("team%04d@example.com", g), fmt.Sprintf("Team %04d", g), ms...)
	}
	return f
}

// The pagination minimum for benchAccount: 5 pages of 200 groups, one page
// of members per group, and 20 pages of 500 users on the first sync only.
const (
	benchSteadyCalls = 1000/200 + 1000
	benchFirstCalls  = benchSteadyCalls + 10000/500
)

func BenchmarkSync(b *testing.B) {
	api := benchAccount()
	e := newEnv(b, api, Config{MaxRemove: 1})
	newDir := func() *identity.Directory {
		dir, err := identity.New(memory.New().Tenant("bench"), identity.Config{Tenant: "bench", GroupSource: "google"})
		if err != nil {
			b.Fatal(err)
		}
		return dir
	}
	check := func(b *testing.B, rep Report, err error, calls int) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
		if rep.APICalls != calls || rep.Memberships != 30000 || rep.Users != 10000 {
			b.Fatalf("%d API calls (want %d), %d memberships, %d users", rep.APICalls, calls, rep.Memberships, rep.Users)
		}
	}
	b.Run("first", func(b *testing.B) {
		var rep Report
		var pull time.Duration
		for b.Loop() {
			b.StopTimer()
			s, dir := e.newSyncer(b, Config{}), newDir()
			b.StartTimer()
			var err error
			rep, err = s.Sync(context.Background(), dir)
			check(b, rep, err, benchFirstCalls)
			pull += rep.PullDuration
		}
		b.ReportMetric(float64(rep.APICalls), "calls/op")
		b.ReportMetric(float64(pull.Nanoseconds())/float64(b.N), "pull-ns/op")
	})
	b.Run("steady", func(b *testing.B) {
		s, dir := e.newSyncer(b, Config{}), newDir()
		rep, err := s.Sync(context.Background(), dir)
		check(b, rep, err, benchFirstCalls)
		var pull time.Duration
		for b.Loop() {
			rep, err = s.Sync(context.Background(), dir)
			check(b, rep, err, benchSteadyCalls)
			pull += rep.PullDuration
			if rep.MembersAdded+rep.UsersUpdated != 0 {
				b.Fatalf("steady sync changed: %+v", rep)
			}
		}
		b.ReportMetric(float64(rep.APICalls), "calls/op")
		b.ReportMetric(float64(pull.Nanoseconds())/float64(b.N), "pull-ns/op")
	})
}
