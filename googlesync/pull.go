package googlesync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"

	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"

	"github.com/rollcall/rollcall/identity"
)

// Page sizes: the API's maxima.
const (
	groupPage  = 200
	memberPage = 200
	userPage   = 500
	// getLimit is the most unknown users fetched one by one (Users.Get);
	// more are found by listing the account's users, 500 a page.
	getLimit = 20
)

// Member types and statuses of the Directory API.
const (
	typeUser      = "USER"
	typeGroup     = "GROUP"
	typeCustomer  = "CUSTOMER"
	typeExternal  = "EXTERNAL"
	statusSuspend = "SUSPENDED"
)

// gUser is a Google user as pulled.
type gUser struct {
	ID, Email              string
	Given, Family, Display string
	// Profile is true when the names come from the Users API: a user the
	// directory does not know yet.
	Profile   bool
	Suspended bool
	// Gone is true when the Users API no longer knows the user.
	Gone bool
	// External is true for an EXTERNAL member: the Users API does not know
	// them.
	External bool
	// listed is true for a user of the account's full listing (for an
	// included CUSTOMER member).
	listed bool
}

// gGroup is a Google group as pulled, with its members' Google IDs (users
// only, nested groups expanded), sorted.
type gGroup struct {
	ID, Email, Name string
	Members         []string
	// everyone is set by an included CUSTOMER member: every user of the
	// account is a member.
	everyone bool
}

// pulled is everything a sync read from Google.
type pulled struct {
	groups []gGroup
	users  map[string]*gUser
}

// pull reads the groups, their members and the unknown users. It changes
// nothing; any failure returns an error and the sync stops.
func (s *Syncer) pull(ctx context.Context, c *counter, rep *Report) (*pulled, error) {
	groups, err := s.listGroups(ctx, c)
	if err != nil {
		return nil, err
	}
	raw, err := s.listMembers(ctx, c, groups)
	if err != nil {
		return nil, err
	}
	p := &pulled{users: make(map[string]*gUser)}
	everyone := false // a CUSTOMER member is included: every user is a member
	for _, g := range groups {
		ids, all, err := s.expand(g, raw, p.users, rep)
		if err != nil {
			return nil, err
		}
		everyone = everyone || all
		p.groups = append(p.groups, gGroup{ID: g.Id, Email: g.Email, Name: g.Name, Members: ids, everyone: all})
	}
	if err := s.fetchUsers(ctx, c, p.users, everyone); err != nil {
		return nil, err
	}
	// Drop the users that cannot be members: suspended, or gone.
	for i := range p.groups {
		g := &p.groups[i]
		ids := g.Members
		if g.everyone {
			for id, u := range p.users {
				if u.listed {
					ids = append(ids, id)
				}
			}
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		kept := ids[:0:0]
		for _, id := range ids {
			u := p.users[id]
			switch {
			case u.Gone:
				rep.Skipped.Unknown++
			case u.Suspended:
				rep.Skipped.Suspended++
			default:
				kept = append(kept, id)
			}
		}
		g.Members = kept
		rep.Memberships += len(g.Members)
	}
	rep.Groups = len(p.groups)
	for _, u := range p.users {
		if !u.Gone && !u.Suspended {
			rep.Users++
		}
	}
	return p, nil
}

// match reports whether a group passes Config.GroupFilter.
func (s *Syncer) match(g *admin.Group) bool {
	if s.cfg.GroupFilter == "" {
		return true
	}
	pat := strings.ToLower(s.cfg.GroupFilter)
	for _, v := range []string{g.Email, g.Name} {
		if ok, _ := path.Match(pat, strings.ToLower(v)); ok {
			return true
		}
	}
	return false
}

// listGroups lists the account's (or domain's) groups that pass the filter,
// every page.
func (s *Syncer) listGroups(ctx context.Context, c *counter) ([]*admin.Group, error) {
	var out []*admin.Group
	seen := make(map[string]bool)
	token := ""
	for {
		var page *admin.Groups
		err := s.call(ctx, c, "list groups", func(ctx context.Context) error {
			call := s.svc.Groups.List().MaxResults(groupPage).Context(ctx).
				Fields("nextPageToken", "groups(id,email,name)")
			if s.cfg.Domain != "" {
				call.Domain(s.cfg.Domain)
			} else {
				call.Customer(s.cfg.Customer)
			}
			if token != "" {
				call.PageToken(token)
			}
			var err error
			page, err = call.Do()
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, g := range page.Groups {
			if g == nil || g.Id == "" || seen[g.Id] || !s.match(g) {
				continue
			}
			seen[g.Id] = true
			out = append(out, g)
		}
		if page.NextPageToken == "" {
			return out, nil
		}
		token = page.NextPageToken
	}
}

// listMembers lists the members of the groups, every page, and with
// Config.Nested those of the groups nested in them, each group once.
func (s *Syncer) listMembers(ctx context.Context, c *counter, groups []*admin.Group) (map[string][]*admin.Member, error) {
	raw := make(map[string][]*admin.Member, len(groups))
	var mu sync.Mutex
	next := make([]string, 0, len(groups))
	for _, g := range groups {
		next = append(next, g.Id)
	}
	queued := make(map[string]bool, len(next))
	for _, id := range next {
		queued[id] = true
	}
	for len(next) > 0 {
		err := s.parallel(ctx, next, func(ctx context.Context, id string) error {
			members, err := s.members(ctx, c, id)
			if err != nil {
				return err
			}
			mu.Lock()
			raw[id] = members
			mu.Unlock()
			return nil
		})
		if err != nil {
			return nil, err
		}
		if !s.cfg.Nested {
			break
		}
		var more []string
		for _, id := range next {
			for _, m := range raw[id] {
				if m.Type == typeGroup && m.Id != "" && !queued[m.Id] {
					queued[m.Id] = true
					more = append(more, m.Id)
				}
			}
		}
		next = more
	}
	return raw, nil
}

// members lists the members of one group, every page.
func (s *Syncer) members(ctx context.Context, c *counter, groupID string) ([]*admin.Member, error) {
	var out []*admin.Member
	token := ""
	for {
		var page *admin.Members
		err := s.call(ctx, c, "list members of group "+groupID, func(ctx context.Context) error {
			call := s.svc.Members.List(groupID).MaxResults(memberPage).Context(ctx).
				Fields("nextPageToken", "members(id,email,type,status)")
			if token != "" {
				call.PageToken(token)
			}
			var err error
			page, err = call.Do()
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, page.Members...)
		if page.NextPageToken == "" {
			return out, nil
		}
		token = page.NextPageToken
	}
}

// expand returns the Google IDs of the user members of g, nested groups
// expanded with Config.Nested (each group once, so a cycle ends), and
// whether a CUSTOMER member makes every user a member. It records the users
// it meets in users, and counts what the policies skip.
func (s *Syncer) expand(g *admin.Group, raw map[string][]*admin.Member, users map[string]*gUser, rep *Report) ([]string, bool, error) {
	var ids []string
	all := false
	visited := map[string]bool{g.Id: true}
	var walk func(groupID string) error
	walk = func(groupID string) error {
		for _, m := range raw[groupID] {
			if m == nil {
				continue
			}
			switch m.Type {
			case typeUser:
				if m.Id == "" {
					continue
				}
				u := users[m.Id]
				if u == nil {
					u = &gUser{ID: m.Id, Email: m.Email}
					users[m.Id] = u
				}
				if m.Status == statusSuspend {
					u.Suspended = true
				}
				ids = append(ids, m.Id)
			case typeGroup:
				if !s.cfg.Nested {
					rep.Skipped.Groups++
					continue
				}
				if visited[m.Id] {
					continue
				}
				visited[m.Id] = true
				if err := walk(m.Id); err != nil {
					return err
				}
			case typeCustomer:
				switch s.cfg.CustomerMembers {
				case Skip:
					rep.Skipped.Customer++
				case Refuse:
					return fmt.Errorf("group %s has a CUSTOMER member: %w", g.Email, ErrRefused)
				case Include:
					all = true
				}
			case typeExternal:
				switch s.cfg.ExternalMembers {
				case Skip:
					rep.Skipped.External++
				case Refuse:
					return fmt.Errorf("group %s has the EXTERNAL member %s: %w", g.Email, m.Email, ErrRefused)
				case Include:
					if m.Id == "" || m.Email == "" {
						rep.Skipped.External++
						continue
					}
					if users[m.Id] == nil {
						users[m.Id] = &gUser{ID: m.Id, Email: m.Email, External: true}
					}
					ids = append(ids, m.Id)
				}
			}
		}
		return nil
	}
	if err := walk(g.Id); err != nil {
		return nil, false, err
	}
	return ids, all, nil
}

// fetchUsers reads the profiles of the users the directory does not know
// yet: one by one when few, else by listing the account's users (every page
// when all is set, for a CUSTOMER member). A user the API no longer knows is
// marked Gone.
func (s *Syncer) fetchUsers(ctx context.Context, c *counter, users map[string]*gUser, all bool) error {
	reader := s.dir.Reader()
	var unknown []string
	for id, u := range users {
		if u.Suspended || u.External {
			continue // never created, or not in the Users API
		}
		_, err := reader.UserByLink(ctx, Source, id)
		if errors.Is(err, identity.ErrNotFound) {
			unknown = append(unknown, id)
			continue
		}
		if err != nil {
			return fmt.Errorf("read the directory: %w", err)
		}
	}
	slices.Sort(unknown)
	if len(unknown) == 0 && !all {
		return nil
	}
	if all || len(unknown) > getLimit {
		want := make(map[string]bool, len(unknown))
		for _, id := range unknown {
			want[id] = true
		}
		if err := s.listUsers(ctx, c, users, want, all); err != nil {
			return err
		}
		unknown = unknown[:0]
		for id := range want {
			unknown = append(unknown, id)
		}
		slices.Sort(unknown)
	}
	var mu sync.Mutex
	return s.parallel(ctx, unknown, func(ctx context.Context, id string) error {
		var u *admin.User
		err := s.call(ctx, c, "get user "+id, func(ctx context.Context) error {
			var err error
			u, err = s.svc.Users.Get(id).Context(ctx).
				Fields("id", "primaryEmail", "name(givenName,familyName,fullName)", "suspended").Do()
			return err
		})
		var gerr *googleapi.Error
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.As(err, &gerr) && gerr.Code == http.StatusNotFound:
			users[id].Gone = true
			return nil
		case err != nil:
			return err
		}
		setProfile(users, id, u)
		return nil
	})
}

// listUsers lists the account's (or domain's) users, every page while all is
// set, else until every user in want is found; it deletes from want the
// users it found.
func (s *Syncer) listUsers(ctx context.Context, c *counter, users map[string]*gUser, want map[string]bool, all bool) error {
	token := ""
	for {
		var page *admin.Users
		err := s.call(ctx, c, "list users", func(ctx context.Context) error {
			call := s.svc.Users.List().MaxResults(userPage).Context(ctx).
				Fields("nextPageToken", "users(id,primaryEmail,name(givenName,familyName,fullName),suspended)")
			if s.cfg.Domain != "" {
				call.Domain(s.cfg.Domain)
			} else {
				call.Customer(s.cfg.Customer)
			}
			if token != "" {
				call.PageToken(token)
			}
			var err error
			page, err = call.Do()
			return err
		})
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			if u == nil || u.Id == "" {
				continue
			}
			if want[u.Id] || all {
				delete(want, u.Id)
				setProfile(users, u.Id, u)
				users[u.Id].listed = all
			}
		}
		if page.NextPageToken == "" || (!all && len(want) == 0) {
			return nil
		}
		token = page.NextPageToken
	}
}

// setProfile records what the Users API says of a user.
func setProfile(users map[string]*gUser, id string, u *admin.User) {
	g := users[id]
	if g == nil {
		g = &gUser{ID: id}
		users[id] = g
	}
	g.Profile = true
	if u.PrimaryEmail != "" {
		g.Email = u.PrimaryEmail
	}
	if u.Name != nil {
		g.Given, g.Family, g.Display = u.Name.GivenName, u.Name.FamilyName, u.Name.FullName
	}
	g.Suspended = g.Suspended || u.Suspended
}

// parallel runs fn for every key, at most Config.Concurrency at once, and
// returns the first error; the others' contexts are then cancelled.
func (s *Syncer) parallel(ctx context.Context, keys []string, fn func(ctx context.Context, key string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	sem := make(chan struct{}, s.cfg.Concurrency)
loop:
	for _, k := range keys {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, k); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
