package identity_test

import (
	"context"
	"fmt"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// A host opens a tenant's store, builds its Directory and hands it every
// change: here an admin's user, then her first SAML sign-in, whose memberOf
// claim brings two external groups.
func Example() {
	ctx := context.Background()
	dir, err := identity.New(memory.New().Tenant("acme"), identity.Config{Tenant: "acme", GroupSource: "saml:entra"})
	if err != nil {
		panic(err)
	}
	ada, err := dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "ada@acme.example"}, identity.CreateOptions{})
	if err != nil {
		panic(err)
	}
	memberOf := []string{"CN=Staff,OU=Groups,DC=acme", `CN=Smith\, John,OU=Groups,DC=acme`}
	names, err := groups.Parse(groups.FormatDN, memberOf, 0)
	if err != nil {
		panic(err)
	}
	res, err := dir.SignIn(ctx, "saml:entra", identity.Claims{
		Subject: "persistent-id-42", Email: "Ada@acme.example", GivenName: "Ada", Groups: groups.Received(names...),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.User.ID == ada.ID, res.Linked, res.User.EmailVerified, res.Groups.Create)
	// Output: true true true [Staff Smith, John]
}
