package sqlstore

import (
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/storagetest"
)

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			newBackend := func(t *testing.T) storagetest.Opener {
				db := b.open(t, Options{})
				return func(tenant string) identity.Store { return db.Tenant(tenant) }
			}
			t.Run("Store", func(t *testing.T) { storagetest.Run(t, newBackend) })
			t.Run("EventLog", func(t *testing.T) { storagetest.RunEventLog(t, newBackend) })
			t.Run("KeyStore", func(t *testing.T) {
				storagetest.RunKeyStore(t, func(t *testing.T, clock identity.Clock) identity.KeyStore {
					return b.open(t, Options{Clock: clock}).Keys("tenant-a", nil)
				})
			})
			// The clock given to Keys, as memory.DB.Keys takes it.
			t.Run("KeyStoreClock", func(t *testing.T) {
				storagetest.RunKeyStore(t, func(t *testing.T, clock identity.Clock) identity.KeyStore {
					return b.open(t, Options{}).Keys("tenant-a", clock)
				})
			})
		})
	}
}
