package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rollcall/rollcall/identity"
)

var _ identity.KeyStore = (*KeyStore)(nil)

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

type keyEntry struct {
	value   []byte
	expires time.Time
}

// keys are the short-lived keys of one tenant.
type keys struct {
	mu sync.Mutex
	m  map[string]keyEntry
}

// KeyStore implements identity.KeyStore in memory for one tenant; get one
// from DB.Keys. A key is expired from its expiry time on. It is safe for
// concurrent use. Expired keys stay in memory until Take or SetIfAbsent meets
// them or DeleteExpired removes them.
type KeyStore struct {
	k     *keys
	clock identity.Clock
}

func expired(e keyEntry, now time.Time) bool { return !now.Before(e.expires) }

// SetIfAbsent implements identity.KeyStore. It keeps a copy of value.
func (s *KeyStore) SetIfAbsent(ctx context.Context, key string, value []byte, expires time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := s.clock.Now()
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	if e, ok := s.k.m[key]; ok && !expired(e, now) {
		return false, nil
	}
	s.k.m[key] = keyEntry{value: slices.Clone(value), expires: expires}
	return true, nil
}

// Take implements identity.KeyStore.
func (s *KeyStore) Take(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	e, ok := s.k.m[key]
	if !ok {
		return nil, fmt.Errorf("memory: key: %w", identity.ErrNotFound)
	}
	delete(s.k.m, key)
	if expired(e, now) {
		return nil, fmt.Errorf("memory: key expired: %w", identity.ErrNotFound)
	}
	return e.value, nil
}

// DeleteExpired implements identity.KeyStore. It looks at every key.
func (s *KeyStore) DeleteExpired(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := s.clock.Now()
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	n := 0
	for key, e := range s.k.m {
		if expired(e, now) {
			delete(s.k.m, key)
			n++
		}
	}
	return n, nil
}
