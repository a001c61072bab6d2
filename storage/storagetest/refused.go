package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// refusedCase is one write method refused inside a transaction: refuse makes
// the refused call and checks its error; the case then writes a user inside
// the same transaction and commits, and check looks at what the refused
// call must have left as it was.
type refusedCase struct {
	name   string
	refuse func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture)
	check  func(t *testing.T, s identity.Store, f *refusedFixture)
}

// refusedFixture is what every case starts from: two users, a group holding
// one of them, a link and an invitation.
type refusedFixture struct {
	a, b identity.User
	g    identity.Group
}

var errRefusedFn = errors.New("storagetest: fn refuses")

func refusedCases() []refusedCase {
	return []refusedCase{
		{"CreateUser", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			_, err := tx.CreateUser(ctx, identity.User{Email: "A@example.com", UserName: "fresh", Active: true})
			wantConflict(t, "CreateUser with a taken email", err, "user", "email")
		}, func(t *testing.T, s identity.Store, f *refusedFixture) {
			_, err := s.UserByUserName(t.Context(), "fresh")
			wantNotFound(t, "UserByUserName of the refused user", err)
		}},
		{"CreateUsers", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			_, err := bulkOf(t, tx).CreateUsers(ctx, []identity.User{{UserName: "fresh"}, {UserName: "B"}})
			wantConflict(t, "CreateUsers with a taken userName", err, "user", "userName")
		}, func(t *testing.T, s identity.Store, f *refusedFixture) {
			_, err := s.UserByUserName(t.Context(), "fresh")
			wantNotFound(t, "UserByUserName of a user of the refused list", err)
		}},
		{"UpdateUserConflict", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			_, err := tx.UpdateUser(ctx, f.a.ID, func(u *identity.User) error {
				u.Email, u.DisplayName = f.b.Email, "changed"
				return nil
			})
			wantConflict(t, "UpdateUser to a taken email", err, "user", "email")
		}, checkUserKept},
		{"UpdateUserFnError", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			_, err := tx.UpdateUser(ctx, f.a.ID, func(u *identity.User) error {
				u.DisplayName = "changed"
				return errRefusedFn
			})
			if !errors.Is(err, errRefusedFn) {
				t.Errorf("UpdateUser whose fn fails: error %v, want fn's", err)
			}
		}, checkUserKept},
		{"UpdateUserNotFound", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			_, err := tx.UpdateUser(ctx, "no-such-user", func(u *identity.User) error { return nil })
			wantNotFound(t, "UpdateUser of a missing user", err)
		}, checkUserKept},
		{"DeleteUser", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			wantNotFound(t, "DeleteUser of a missing user", tx.DeleteUser(ctx, "no-such-user"))
		}, checkUserKept},
		{"CreateLink", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			err := tx.CreateLink(ctx, identity.Link{Source: "scim", Subject: "a-sub", UserID: f.b.ID, Created: at(1)})
			wantConflict(t, "CreateLink of a linked subject", err, "link", "")
		}, func(t *testing.T, s identity.Store, f *refusedFixture) {
			wantLinks(t, s, f.b.ID)
		}},
		{"DeleteLink", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			wantNotFound(t, "DeleteLink of a missing link", tx.DeleteLink(ctx, "scim", "no-such-subject"))
		}, func(t *testing.T, s identity.Store, f *refusedFixture) {
			if got, err := s.UserByLink(t.Context(), "scim", "a-sub"); err != nil || got.ID != f.a.ID {
				t.Errorf("UserByLink after a refused DeleteLink = %s, %v; want %s", got.ID, err, f.a.ID)
			}
		}},
		{"CreateGroup", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			_, err := tx.CreateGroup(ctx, identity.Group{Name: "STAFF", Kind: groups.Internal})
			wantConflict(t, "CreateGroup with a taken name", err, "group", "name")
		}, checkGroupKept},
		{"UpdateGroupConflict", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			other, err := tx.CreateGroup(ctx, identity.Group{Name: "Other", Kind: groups.Internal})
			if err != nil {
				t.Fatalf("CreateGroup: %v", err)
			}
			_, err = tx.UpdateGroup(ctx, other.ID, func(g *identity.Group) error { g.Name = "staff"; return nil })
			wantConflict(t, "UpdateGroup to a taken name", err, "group", "name")
		}, checkGroupKept},
		{"UpdateGroupFnError", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			_, err := tx.UpdateGroup(ctx, f.g.ID, func(g *identity.Group) error { g.Name = "changed"; return errRefusedFn })
			if !errors.Is(err, errRefusedFn) {
				t.Errorf("UpdateGroup whose fn fails: error %v, want fn's", err)
			}
		}, checkGroupKept},
		{"DeleteGroup", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			wantNotFound(t, "DeleteGroup of a missing group", tx.DeleteGroup(ctx, "no-such-group"))
		}, checkGroupKept},
		{"AddMember", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			_, err := tx.AddMember(ctx, f.g.ID, "no-such-user")
			wantNotFound(t, "AddMember of a missing user", err)
		}, checkGroupKept},
		{"AddMembers", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			_, err := bulkOf(t, tx).AddMembers(ctx, f.g.ID, []string{f.b.ID, "no-such-user"})
			wantNotFound(t, "AddMembers with a missing user", err)
		}, checkGroupKept},
		{"RemoveMember", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			if removed, err := tx.RemoveMember(ctx, f.g.ID, f.b.ID); err != nil || removed {
				t.Errorf("RemoveMember of a membership that does not exist = %v, %v; want false, nil", removed, err)
			}
		}, checkGroupKept},
		{"CreateInvitation", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			err := tx.CreateInvitation(ctx, identity.Invitation{Hash: hashOf("b-token"), UserID: "no-such-user", Expires: at(60), Created: at(0)})
			wantNotFound(t, "CreateInvitation for a missing user", err)
			err = tx.CreateInvitation(ctx, identity.Invitation{Hash: hashOf("a-token"), UserID: f.b.ID, Expires: at(60), Created: at(0)})
			wantConflict(t, "CreateInvitation with a taken hash", err, "invitation", "hash")
		}, checkInvitationKept},
		{"TakeInvitation", func(ctx context.Context, t *testing.T, tx identity.Store, f *refusedFixture) {
			_, err := tx.TakeInvitation(ctx, hashOf("no-such-token"))
			wantNotFound(t, "TakeInvitation of a missing hash", err)
		}, checkInvitationKept},
	}
}

func checkUserKept(t *testing.T, s identity.Store, f *refusedFixture) {
	t.Helper()
	got, err := s.User(t.Context(), f.a.ID)
	if err != nil {
		t.Fatalf("User after a refused write: %v", err)
	}
	checkUser(t, "user after a refused write", got, f.a)
}

func checkGroupKept(t *testing.T, s identity.Store, f *refusedFixture) {
	t.Helper()
	got, err := s.Group(t.Context(), f.g.ID)
	if err != nil {
		t.Fatalf("Group after a refused write: %v", err)
	}
	checkGroup(t, "group after a refused write", got, f.g)
	wantUsers(t, s, identity.UserQuery{GroupID: f.g.ID}, 1, f.a.ID)
}

func checkInvitationKept(t *testing.T, s identity.Store, f *refusedFixture) {
	t.Helper()
	inv, err := s.TakeInvitation(t.Context(), hashOf("a-token"))
	if err != nil || inv.UserID != f.a.ID {
		t.Errorf("TakeInvitation after a refused write = %q, %v; want %s's", inv.UserID, err, f.a.ID)
	}
	_, err = s.TakeInvitation(t.Context(), hashOf("b-token"))
	wantNotFound(t, "TakeInvitation of the refused invitation", err)
}

// testTxRefusedWrite checks, for every write method, what Store.Tx
// promises: a write the store refuses inside a transaction changes nothing
// and leaves the transaction usable, so that a good write after it is
// committed. A store on a database that aborts the transaction on a failed
// statement fails here unless it runs each write in a savepoint.
func testTxRefusedWrite(t *testing.T, open Opener) {
	for i, c := range refusedCases() {
		t.Run(c.name, func(t *testing.T) {
			ctx := t.Context()
			s := open("refused-" + string(rune('a'+i)))
			if c.name == "CreateUsers" || c.name == "AddMembers" {
				_ = bulkOf(t, s)
			}
			f := &refusedFixture{
				a: mustUser(t, s, identity.User{Email: "a@example.com", UserName: "a", DisplayName: "A", Active: true, Created: at(0), Updated: at(0)}),
				b: mustUser(t, s, identity.User{Email: "b@example.com", UserName: "b", Active: true, Created: at(0), Updated: at(0)}),
			}
			f.g = mustGroup(t, s, identity.Group{Name: "Staff", Kind: groups.Internal, Created: at(0), Updated: at(0)})
			mustAdd(t, s, f.g.ID, f.a.ID)
			mustLink(t, s, identity.Link{Source: "scim", Subject: "a-sub", UserID: f.a.ID, Created: at(0)})
			if err := s.CreateInvitation(ctx, identity.Invitation{Hash: hashOf("a-token"), UserID: f.a.ID, Expires: at(60), Created: at(0)}); err != nil {
				t.Fatalf("CreateInvitation: %v", err)
			}
			var goodID string
			err := s.Tx(ctx, func(ctx context.Context, tx identity.Store) error {
				c.refuse(ctx, t, tx, f)
				// The transaction goes on: it reads, and a good write
				// after the refused one is kept.
				if got, err := tx.User(ctx, f.a.ID); err != nil || got.ID != f.a.ID {
					t.Errorf("User after a refused %s = %s, %v; want %s", c.name, got.ID, err, f.a.ID)
				}
				good, err := tx.CreateUser(ctx, identity.User{Email: "good@example.com", UserName: "good", Active: true, Created: at(2), Updated: at(2)})
				if err != nil {
					return err
				}
				goodID = good.ID
				_, err = tx.AddMember(ctx, f.g.ID, good.ID)
				return err
			})
			if err != nil {
				t.Fatalf("Tx with a refused %s, then good writes: %v", c.name, err)
			}
			if got, err := s.UserByEmail(ctx, "good@example.com"); err != nil || got.ID != goodID {
				t.Errorf("UserByEmail of the user written after a refused %s = %s, %v; want %s", c.name, got.ID, err, goodID)
			}
			if removed, err := s.RemoveMember(ctx, f.g.ID, goodID); err != nil || !removed {
				t.Errorf("the membership written after a refused %s: RemoveMember = %v, %v; want true", c.name, removed, err)
			}
			c.check(t, s, f)
		})
	}
}
