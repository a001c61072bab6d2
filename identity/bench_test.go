package identity_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// BenchmarkSignIn measures the sign-in of an existing user who holds 50
// external groups and receives the same 50 again: the common case of a daily
// SSO login, on the memory store.
func BenchmarkSignIn(b *testing.B) {
	ctx := context.Background()
	dir, err := identity.New(memory.New().Tenant("bench"), identity.Config{GroupSource: "saml:entra"})
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, 50)
	for i := range names {
		names[i] = fmt.Sprintf("Group %02d", i)
	}
	claims := identity.Claims{
		Subject: "bench-subject", Email: "bench@example.com", GivenName: "Bench", FamilyName: "Mark",
		Groups: groups.Received(names...),
	}
	if _, err := dir.SignIn(ctx, "saml:entra", claims); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := dir.SignIn(ctx, "saml:entra", claims)
		if err != nil {
			b.Fatal(err)
		}
		if !res.Groups.Empty() {
			b.Fatalf("a repeated sign-in planned changes: %+v", res.Groups)
		}
	}
}
