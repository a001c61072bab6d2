package memory_test

import (
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/storage/storagetest"
)

func TestLeaseStore(t *testing.T) {
	storagetest.RunLeaseStore(t, func(t *testing.T, clock identity.Clock) identity.LeaseStore {
		return memory.New().Leases(clock)
	})
}
