package identity_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// A test sign-in reports what the sign-in would do and writes nothing but
// its connection.tested event.
func TestTestSignInWritesNothing(t *testing.T) {
	ctx := context.Background()
	dir, err := identity.New(memory.New().Tenant("acme"), identity.Config{Tenant: "acme", GroupSource: "saml:entra"})
	if err != nil {
		t.Fatal(err)
	}
	ada, err := dir.CreateUser(ctx, identity.Manual, identity.User{Email: "ada@acme.example", GivenName: "Ada"}, identity.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := dir.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	claims := identity.Claims{Subject: "ada-1", Email: "ada@acme.example", GivenName: "Ada", FamilyName: "Lovelace",
		Groups: groups.Received("Staff")}
	test, err := dir.TestSignIn(ctx, identity.SAML("entra"), claims)
	if err != nil {
		t.Fatal(err)
	}
	if test.Err != nil || test.Resolved != identity.ResolvedByEmail || test.User.ID != ada.ID {
		t.Errorf("test = %+v, want found by email as %s", test, ada.ID)
	}
	if !slices.Contains(test.Changed, "familyName") {
		t.Errorf("changed %v, want familyName", test.Changed)
	}
	if !slices.Equal(test.Groups.Create, []string{"Staff"}) {
		t.Errorf("group plan %+v, want Staff created", test.Groups)
	}
	// Nothing written: no link, no group, no change of the user.
	if links, _ := dir.Reader().Links(ctx, ada.ID); len(links) != 0 {
		t.Errorf("links after a test: %+v", links)
	}
	if _, err := dir.Reader().GroupByName(ctx, "Staff"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("group after a test: %v", err)
	}
	if u, _ := dir.Reader().User(ctx, ada.ID); u.FamilyName != "" || u.Version != ada.Version {
		t.Errorf("user after a test: %+v", u)
	}
	after, err := dir.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)+1 {
		t.Fatalf("events: %d before, %d after, want one more", len(before), len(after))
	}
	last := after[len(after)-1]
	if last.Type != identity.ConnectionTested || last.Source != "saml:entra" || last.UserID != ada.ID {
		t.Errorf("the test's event: %+v", last)
	}

	// A second subject for the same email would be refused: reported, not
	// returned as an error.
	if _, err := dir.SignIn(ctx, identity.SAML("entra"), claims); err != nil {
		t.Fatal(err)
	}
	other := claims
	other.Subject = "ada-2"
	test, err = dir.TestSignIn(ctx, identity.SAML("entra"), other)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(test.Err, identity.ErrConflict) || test.Resolved != "" {
		t.Errorf("second subject: %+v, want a conflict", test)
	}
	// The linked user signs in by link; a deactivated one is refused.
	if test, _ = dir.TestSignIn(ctx, identity.SAML("entra"), claims); test.Resolved != identity.ResolvedByLink || test.Err != nil {
		t.Errorf("by link: %+v", test)
	}
	if _, err := dir.Deactivate(ctx, identity.Manual, ada.ID); err != nil {
		t.Fatal(err)
	}
	if test, _ = dir.TestSignIn(ctx, identity.SAML("entra"), claims); !errors.Is(test.Err, identity.ErrDeactivated) {
		t.Errorf("deactivated: %+v, want ErrDeactivated", test)
	}
	// A new person would be created just in time.
	test, err = dir.TestSignIn(ctx, identity.SAML("entra"), identity.Claims{Subject: "bob-1", Email: "bob@acme.example"})
	if err != nil || test.Resolved != identity.ResolvedNew || test.User.Email != "bob@acme.example" {
		t.Errorf("new: %+v, %v", test, err)
	}
	if _, err := dir.Reader().UserByEmail(ctx, "bob@acme.example"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("bob after a test: %v", err)
	}
}
