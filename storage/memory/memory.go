// Package memory keeps rollcall's directory data in memory: the store for
// tests, examples and hosts that need no persistence.
package memory

import (
	"sync"

	"github.com/rollcall/rollcall/identity"
)

// DB holds the data of every tenant. It is safe for concurrent use. Its zero
// value is not usable: call New.
//
// Nothing is written to disk, and nothing is ever trimmed: a tenant's event
// log and its users live as long as the DB.
type DB struct {
	mu      sync.Mutex
	tenants map[string]*Store
	keys    map[string]*keys
	leases  leaseTable
	hooks   webhookTables
}

// New returns an empty DB.
func New() *DB {
	return &DB{tenants: make(map[string]*Store), keys: make(map[string]*keys)}
}

// Tenant returns the Store of the tenant with the id, creating it empty the
// first time; the same id always gives the same *Store.
func (db *DB) Tenant(id string) *Store {
	db.mu.Lock()
	defer db.mu.Unlock()
	s := db.tenants[id]
	if s == nil {
		s = newStore()
		db.tenants[id] = s
	}
	return s
}

// Keys returns a KeyStore over the keys of the tenant with the id, which
// judges expiry by clock (the system clock if nil), as sqlstore.DB.Keys
// takes them. KeyStores of one tenant
// share their keys, whatever their clocks; the tenants' keys are apart.
func (db *DB) Keys(tenant string, clock identity.Clock) *KeyStore {
	db.mu.Lock()
	defer db.mu.Unlock()
	k := db.keys[tenant]
	if k == nil {
		k = &keys{m: make(map[string]keyEntry)}
		db.keys[tenant] = k
	}
	if clock == nil {
		clock = systemClock{}
	}
	return &KeyStore{k: k, clock: clock}
}
