package settings

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// Token is a SCIM bearer token of a tenant. The token itself is shown once,
// by IssueToken; a store keeps only its SHA-256.
type Token struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// Name tells the admin what the token is for ("Entra provisioning").
	Name string `json:"name"`
	// Hash is the SHA-256 of the token.
	Hash     []byte    `json:"-"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"lastUsed,omitzero"`
	// Expires, when set, is when the token stops working.
	Expires time.Time `json:"expires,omitzero"`
}

// TokenPrefix starts every SCIM token IssueToken makes, so that a leaked one
// is recognised by secret scanners.
const TokenPrefix = "rcscim_"

// ErrBadToken is what CheckToken returns for a token that is unknown, of
// another tenant, or expired: one error for all, so that none is told apart.
var ErrBadToken = errors.New("settings: bad SCIM token")

// HashToken returns the SHA-256 of a token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// IssueToken makes a new SCIM token of 32 random bytes for the tenant, stores
// its hash, and returns the token (to show once) with its record. A zero
// expires means it never expires. The store records a TokenIssued event.
func IssueToken(ctx context.Context, ts TokenStore, tenant, name string, now, expires time.Time) (string, Token, error) {
	if strings.TrimSpace(name) == "" || len(name) > 200 {
		var v validation
		v.add("name", "want 1 to 200 characters")
		return "", Token{}, v.err()
	}
	if !expires.IsZero() && !expires.After(now) {
		var v validation
		v.add("expires", "must be in the future")
		return "", Token{}, v.err()
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", Token{}, err
	}
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	t := Token{
		ID: identity.NewID(), Tenant: tenant, Name: name, Hash: HashToken(tok),
		Created: now.UTC().Truncate(time.Microsecond), Expires: expires.UTC().Truncate(time.Microsecond),
	}
	if err := ts.CreateToken(ctx, t); err != nil {
		return "", Token{}, fmt.Errorf("settings: issue token: %w", err)
	}
	return tok, t, nil
}

// TouchEvery is how stale a token's LastUsed may be before CheckToken writes
// it again: a busy SCIM client does not write at each request.
const TouchEvery = time.Minute

// CheckToken returns the record of the tenant's token, or ErrBadToken: it
// looks the token up by its hash, compares the hash and the tenant in
// constant time, refuses an expired token, and updates LastUsed at most once
// per TouchEvery.
func CheckToken(ctx context.Context, ts TokenStore, tenant, token string, now time.Time) (Token, error) {
	h := HashToken(token)
	t, err := ts.TokenByHash(ctx, h)
	if errors.Is(err, identity.ErrNotFound) {
		return Token{}, ErrBadToken
	}
	if err != nil {
		return Token{}, err
	}
	ok := subtle.ConstantTimeCompare(t.Hash, h) & subtle.ConstantTimeCompare([]byte(t.Tenant), []byte(tenant))
	if ok != 1 || (!t.Expires.IsZero() && !now.Before(t.Expires)) {
		return Token{}, ErrBadToken
	}
	if now.Sub(t.LastUsed) >= TouchEvery {
		if err := ts.TouchToken(ctx, t.Tenant, t.ID, now); err != nil && !errors.Is(err, identity.ErrNotFound) {
			return Token{}, err
		}
		t.LastUsed = now.UTC().Truncate(time.Microsecond)
	}
	return t, nil
}
