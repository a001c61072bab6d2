package tenant_test

import (
	"context"
	"fmt"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/tenant"
)

// A host keeps its tenants' settings in a store and resolves each request's
// tenant to its live sources; a change is in force at the next request.
func Example() {
	ctx := context.Background()
	db := memory.New()
	keyring, _ := settings.NewKeyring("k1", map[string][]byte{"k1": make([]byte, 32)}) // from the host's secrets, not this
	rt, err := tenant.New(tenant.Config{
		Settings: memory.NewSettings(db, keyring, nil),
		Stores:   func(id string) identity.Store { return db.Tenant(id) },
		Keys:     func(id string) identity.KeyStore { return db.Keys(id, nil) },
	})
	if err != nil {
		panic(err)
	}
	if _, err := rt.Create(ctx, "acme", settings.Settings{SCIM: &settings.SCIM{Enabled: true}}); err != nil {
		panic(err)
	}
	src, _ := rt.Resolve(ctx, "acme")
	fmt.Println(src.Tenant, src.Version, src.SCIM != nil)

	if _, err := rt.Update(ctx, "acme", src.Version, func(s *settings.Settings) error { s.SCIM.Enabled = false; return nil }); err != nil {
		panic(err)
	}
	src, _ = rt.Resolve(ctx, "acme")
	fmt.Println(src.Tenant, src.Version, src.SCIM != nil)

	_, err = rt.Resolve(ctx, "nobody")
	fmt.Println(err)
	// Output:
	// acme 1 true
	// acme 2 false
	// tenant: unknown tenant: not found
}
