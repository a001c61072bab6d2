package identity

import (
	"context"
	"time"
)

// KeyStore keeps short-lived keys that every instance of a host must see: SAML
// assertion IDs for replay protection, the pending state of an SSO login. A
// host opens one per tenant, like a Store. Expiry is judged by the store's own
// Clock.
//
// Several packages share a tenant's KeyStore, so each prefixes its keys with
// its name and purpose: "saml:request:<id>", "saml:assertion:<id>",
// "oauth:state:<hash>". A host should call DeleteExpired now and then: anyone
// can start a login, and each start leaves a key until it expires.
type KeyStore interface {
	// SetIfAbsent stores value under key until expires and reports true, or
	// reports false and changes nothing if the key is held and not expired.
	SetIfAbsent(ctx context.Context, key string, value []byte, expires time.Time) (bool, error)
	// Take removes the key and returns its value, so that it is used once. It
	// returns ErrNotFound if the key is absent or expired.
	Take(ctx context.Context, key string) ([]byte, error)
	// DeleteExpired removes the expired keys and returns how many.
	DeleteExpired(ctx context.Context) (int, error)
}
