package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// workers is how many goroutines each concurrency case runs.
const workers = 16

func testConcurrentMembers(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	g := mustGroup(t, s, identity.Group{Name: "Busy", Kind: groups.External, Source: "scim"})
	shared := mustUser(t, s, identity.User{UserName: "shared"})
	// Each worker owns four users: it adds all four and removes the second
	// and fourth, three times over. All of them add and remove the shared
	// user, whose last change is a removal.
	own := make([][]string, workers)
	var want []string
	for w := range own {
		for i := range 4 {
			u := mustUser(t, s, identity.User{UserName: fmt.Sprintf("w%02d-%d", w, i)})
			own[w] = append(own[w], u.ID)
			if i%2 == 0 {
				want = append(want, u.ID)
			}
		}
	}
	var added, removed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range 3 {
				for _, id := range own[w] {
					if _, err := s.AddMember(ctx, g.ID, id); err != nil {
						t.Errorf("AddMember: %v", err)
						return
					}
				}
				ok, err := s.AddMember(ctx, g.ID, shared.ID)
				if err != nil {
					t.Errorf("AddMember(shared): %v", err)
					return
				}
				if ok {
					added.Add(1)
				}
				for _, id := range []string{own[w][1], own[w][3]} {
					if ok, err := s.RemoveMember(ctx, g.ID, id); err != nil || !ok {
						t.Errorf("RemoveMember of a member only this goroutine changes = %v, %v; want true", ok, err)
						return
					}
				}
				ok, err = s.RemoveMember(ctx, g.ID, shared.ID)
				if err != nil {
					t.Errorf("RemoveMember(shared): %v", err)
					return
				}
				if ok {
					removed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	slices.Sort(want)
	wantUsers(t, s, identity.UserQuery{GroupID: g.ID}, len(want), want...)
	for w := range own {
		for i, id := range own[w] {
			if i%2 == 0 {
				wantUserGroups(t, s, id, g.ID)
			} else {
				wantUserGroups(t, s, id)
			}
		}
	}
	wantUserGroups(t, s, shared.ID)
	if added.Load() == 0 || added.Load() != removed.Load() {
		t.Errorf("the shared user was added %d times and removed %d times; want as many removals as additions, and some",
			added.Load(), removed.Load())
	}
}

func testConcurrentUpdateUser(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	u := mustUser(t, s, identity.User{UserName: "counter", Attributes: map[string]string{"counter": "0"}})
	const each = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			key := fmt.Sprintf("worker%02d", w)
			for range each {
				_, err := s.UpdateUser(ctx, u.ID, func(u *identity.User) error {
					n, err := strconv.Atoi(u.Attributes["counter"])
					if err != nil {
						return err
					}
					mine, _ := strconv.Atoi(u.Attributes[key])
					u.Attributes["counter"] = strconv.Itoa(n + 1)
					u.Attributes[key] = strconv.Itoa(mine + 1)
					return nil
				})
				if err != nil {
					t.Errorf("UpdateUser: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	const updates = workers * each
	if got.Attributes["counter"] != strconv.Itoa(updates) {
		t.Errorf("counter = %s after %d concurrent increments: updates were lost", got.Attributes["counter"], updates)
	}
	if got.Version != 1+updates {
		t.Errorf("Version = %d after %d updates, want %d", got.Version, updates, 1+updates)
	}
	for w := range workers {
		if key := fmt.Sprintf("worker%02d", w); got.Attributes[key] != strconv.Itoa(each) {
			t.Errorf("attribute %s = %q, want %d", key, got.Attributes[key], each)
		}
	}
}

func testConcurrentCreateUser(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	var created atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			_, err := s.CreateUser(ctx, identity.User{Email: "race@example.com", UserName: fmt.Sprintf("racer%02d", w), Active: true})
			switch {
			case err == nil:
				created.Add(1)
			case !errors.Is(err, identity.ErrConflict):
				t.Errorf("CreateUser: %v, want nil or ErrConflict", err)
			}
		})
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Errorf("%d concurrent CreateUser calls with one email stored %d users, want 1", workers, created.Load())
	}
	if p := listUsers(t, s, identity.UserQuery{}); p.Total != 1 {
		t.Errorf("ListUsers: Total %d, want 1", p.Total)
	}
}

func testConcurrentTxCreate(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(tenantA)
	var created atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			createdHere := false
			err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
				createdHere = false // fn may run again after a serialization failure
				_, err := tx.UserByEmail(ctx, "once@example.com")
				if err == nil || !errors.Is(err, identity.ErrNotFound) {
					return err
				}
				if _, err := tx.CreateUser(ctx, identity.User{Email: "once@example.com", UserName: fmt.Sprintf("once%02d", w), Active: true}); err != nil {
					return err
				}
				createdHere = true
				return nil
			})
			switch {
			case err == nil:
				if createdHere {
					created.Add(1)
				}
			case !errors.Is(err, identity.ErrConflict):
				t.Errorf("Tx: %v, want nil or ErrConflict", err)
			}
		})
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Errorf("%d concurrent read-then-create transactions created %d users, want 1", workers, created.Load())
	}
	if p := listUsers(t, s, identity.UserQuery{}); p.Total != 1 {
		t.Errorf("ListUsers: Total %d, want 1", p.Total)
	}
}
