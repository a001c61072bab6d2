package memory_test

import (
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/storage/storagetest"
)

func TestSettingsConformance(t *testing.T) {
	storagetest.RunSettings(t, func(t *testing.T, k *settings.Keyring, clock identity.Clock) storagetest.SettingsBackend {
		db := memory.New()
		st := memory.NewSettings(db, k, clock)
		return storagetest.SettingsBackend{
			Settings:    st,
			Open:        func(tenant string) identity.Store { return db.Tenant(tenant) },
			Keys:        func(tenant string) identity.KeyStore { return db.Keys(tenant, clock) },
			WithKeyring: func(k *settings.Keyring) settings.Store { return st.WithKeyring(k) },
		}
	})
}
