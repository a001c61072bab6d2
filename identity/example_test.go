package identity_test

import (
	"context"
	"fmt"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// A host opens the store of a tenant, builds its Directory, and hands every
// change to it: here an admin's manual user and the first SAML sign-in of the
// same person, whose memberOf claim brings two external groups.
func Example() {
	ctx := context.Background()
	store := memory.New().Tenant("acme")
	dir, err := identity.New(store, identity.Config{Tenant: "acme", GroupSource: "saml:entra"})
	if err != nil {
		panic(err)
	}

	// An admin creates Ada and invites her.
	ada, err := dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "ada@acme.example", GivenName: "Ada"}, identity.CreateOptions{})
	if err != nil {
		panic(err)
	}
	if _, _, err := dir.Invite(ctx, identity.SourceManual, ada.ID); err != nil {
		panic(err)
	}

	// Ada signs in through the tenant's SAML IdP.
	names, err := groups.Parse(groups.FormatDN, []string{"CN=Staff,OU=Groups,DC=acme", `CN=Smith\, John,OU=Groups,DC=acme`}, 0)
	if err != nil {
		panic(err)
	}
	res, err := dir.SignIn(ctx, "saml:entra", identity.Claims{
		Subject: "persistent-id-42", Email: "Ada@acme.example", GivenName: "Ada", FamilyName: "Lovelace",
		Groups: groups.Received(names...),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.User.ID == ada.ID, res.Linked, res.User.EmailVerified)
	fmt.Println(res.Groups.Create)
	// Output:
	// true true true
	// [Staff Smith, John]
}
