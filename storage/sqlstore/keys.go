package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rollcall/rollcall/identity"
)

var (
	// setKey inserts the key, or replaces an expired holder; it returns a
	// row only when it did either.
	setKey = prep("INSERT INTO rollcall_keys (tenant, name, value, expires) VALUES (?, ?, ?, ?) " +
		"ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value, expires = excluded.expires " +
		"WHERE rollcall_keys.expires <= ? RETURNING 1")
	takeKey           = prep("DELETE FROM rollcall_keys WHERE tenant = ? AND name = ? RETURNING value, expires")
	deleteExpiredKeys = prep("DELETE FROM rollcall_keys WHERE tenant = ? AND expires <= ?")
)

// KeyStore is the identity.KeyStore of one tenant, from DB.Keys. Each method
// is one statement, atomic on its own; expiry is judged by the clock given to
// DB.Keys, else the DB's Clock: a key has expired once the clock reaches its
// expiry.
type KeyStore struct {
	db     *DB
	tenant string
	clock  identity.Clock // nil: the DB's
}

// now is the key store's time, as stored.
func (k *KeyStore) now() time.Time {
	if k.clock == nil {
		return k.db.now()
	}
	return k.clock.Now().UTC().Truncate(time.Microsecond)
}

// SetIfAbsent stores value under key until expires and reports true, or
// reports false and changes nothing if the key is held and not expired. An
// expired holder is replaced.
func (k *KeyStore) SetIfAbsent(ctx context.Context, key string, value []byte, expires time.Time) (bool, error) {
	if value == nil {
		value = []byte{}
	}
	now := k.now()
	var set bool
	err := k.db.retryStmt(ctx, func(c conn) error {
		var one int
		err := c.row(ctx, setKey, k.tenant, key, value, micros(expires), micros(now)).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			set = false
			return nil
		}
		set = err == nil
		return c.d.mapErr(err, "set key")
	})
	return set, err
}

// Take removes the key and returns its value, or returns identity.ErrNotFound
// if the key is absent or expired. Of two concurrent takers, one gets it.
func (k *KeyStore) Take(ctx context.Context, key string) ([]byte, error) {
	now := k.now()
	var value []byte
	err := k.db.retryStmt(ctx, func(c conn) error {
		var expires int64
		err := c.row(ctx, takeKey, k.tenant, key).Scan(&value, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("key")
		}
		if err != nil {
			return c.d.mapErr(err, "take key")
		}
		if expires <= micros(now) {
			value = nil
			return notFound("key")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if value == nil {
		value = []byte{}
	}
	return value, nil
}

// DeleteExpired removes the tenant's expired keys and returns how many.
func (k *KeyStore) DeleteExpired(ctx context.Context) (int, error) {
	var n int64
	err := k.db.retryStmt(ctx, func(c conn) error {
		res, err := c.exec(ctx, deleteExpiredKeys, k.tenant, micros(k.now()))
		if err != nil {
			return c.d.mapErr(err, "delete expired keys")
		}
		n, err = res.RowsAffected()
		return c.d.mapErr(err, "delete expired keys")
	})
	return int(n), err
}
