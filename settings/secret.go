package settings

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Secret is a value a tenant's admin writes and nobody reads back: an SP
// private key, an OAuth client secret, a Google service account key. Its
// JSON never holds the value: a set Secret is written {"set":true}, an unset
// one null. It is read from a JSON string (the new value; "" clears it), or
// from {"set":true}, which keeps the value stored before (see KeepSecrets),
// so that a client may send back what it read. At rest a Store keeps it
// sealed with the host's Keyring.
type Secret struct {
	value  []byte
	keep   bool   // {"set":true}: the stored value, not known here
	sealed string // the stored form, only inside Seal and Open
}

// NewSecret returns a Secret holding v.
func NewSecret(v []byte) Secret {
	if len(v) == 0 {
		return Secret{}
	}
	return Secret{value: bytes.Clone(v)}
}

// Value returns a copy of the secret's value; nil if unset or kept.
func (s Secret) Value() []byte { return bytes.Clone(s.value) }

// IsSet reports whether the secret holds a value or keeps the stored one.
func (s Secret) IsSet() bool { return len(s.value) > 0 || s.keep || s.sealed != "" }

// Kept reports whether the secret stands for the value stored before.
func (s Secret) Kept() bool { return s.keep }

// Equal reports whether s and o hold the same value, in constant time.
func (s Secret) Equal(o Secret) bool {
	return s.keep == o.keep && len(s.value) == len(o.value) && subtleEqual(s.value, o.value)
}

// String never shows the value.
func (s Secret) String() string {
	if s.IsSet() {
		return "[secret]"
	}
	return "[unset]"
}

// GoString never shows the value.
func (s Secret) GoString() string { return "settings.Secret" + s.String() }

// LogValue never shows the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

func (s Secret) clone() Secret { s.value = bytes.Clone(s.value); return s }

type secretJSON struct {
	Set    bool   `json:"set,omitempty"`
	Sealed string `json:"sealed,omitempty"`
}

// MarshalJSON writes {"set":true} or null: never the value.
func (s Secret) MarshalJSON() ([]byte, error) {
	switch {
	case s.sealed != "":
		return json.Marshal(secretJSON{Sealed: s.sealed})
	case s.IsSet():
		return []byte(`{"set":true}`), nil
	}
	return []byte("null"), nil
}

// UnmarshalJSON reads a string (the value), {"set":true} (keep the stored
// value), {"set":false} or null (unset).
func (s *Secret) UnmarshalJSON(b []byte) error {
	*s = Secret{}
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err == nil {
		*s = NewSecret([]byte(v))
		return nil
	}
	var o secretJSON
	if err := json.Unmarshal(b, &o); err != nil {
		return errors.New("settings: secret: want a string, {\"set\":true} or null")
	}
	s.keep, s.sealed = o.Set && o.Sealed == "", o.Sealed
	return nil
}

// Keyring seals secrets at rest with AES-256-GCM. Each sealed value names the
// ID of its key, so a host rotates by adding a key and making it primary:
// values sealed with an older key still open, and a Store's Reencrypt
// seals them again with the primary key. Keys come from the host (an
// environment variable, a KMS): never from the database they protect.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
}

var validKeyID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ErrSealed is returned when a sealed value cannot be opened: its key is
// not in the Keyring, or it was altered or moved from another tenant.
var ErrSealed = errors.New("settings: sealed secret cannot be opened")

// NewKeyring returns a Keyring that seals with keys[primary] and opens with
// any of keys. Each key is 32 random bytes; IDs are letters, digits, '.',
// '_' and '-'.
func NewKeyring(primary string, keys map[string][]byte) (*Keyring, error) {
	if _, ok := keys[primary]; !ok {
		return nil, fmt.Errorf("settings: keyring: primary key %q is not among the keys", primary)
	}
	k := &Keyring{primary: primary, aeads: make(map[string]cipher.AEAD, len(keys))}
	for id, key := range keys {
		if !validKeyID.MatchString(id) {
			return nil, fmt.Errorf("settings: keyring: key ID %q: want letters, digits, '.', '_' or '-'", id)
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("settings: keyring: key %q: want 32 bytes, have %d", id, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if k.aeads[id], err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Primary returns the ID of the key that seals.
func (k *Keyring) Primary() string { return k.primary }

// sealPrefix starts every sealed value: "v1:<key ID>:<base64 nonce|ciphertext>".
const sealPrefix = "v1:"

func (k *Keyring) seal(aad string, plain []byte) (string, error) {
	a := k.aeads[k.primary]
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := a.Seal(nonce, nonce, plain, []byte(aad))
	return sealPrefix + k.primary + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// open returns the value and the ID of the key it was sealed with.
func (k *Keyring) open(aad, sealed string) ([]byte, string, error) {
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	id, data, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return nil, "", fmt.Errorf("%w: malformed", ErrSealed)
	}
	a, ok := k.aeads[id]
	if !ok {
		return nil, id, fmt.Errorf("%w: key %q is not in the keyring", ErrSealed, id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil || len(raw) < a.NonceSize() {
		return nil, id, fmt.Errorf("%w: malformed", ErrSealed)
	}
	plain, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], []byte(aad))
	if err != nil {
		return nil, id, fmt.Errorf("%w: key %q: authentication failed", ErrSealed, id)
	}
	return plain, id, nil
}

// secretRef is one secret of a Settings and its stable path.
type secretRef struct {
	path string
	s    *Secret
}

// secrets lists the secrets of s, by paths that name connections and keys
// by name, so that they survive a reordering.
func (s *Settings) secrets() []secretRef {
	var refs []secretRef
	for i := range s.SAML {
		c := &s.SAML[i]
		for j := range c.Keys {
			refs = append(refs, secretRef{fmt.Sprintf("saml[%s].keys[%s].key", c.Name, c.Keys[j].ID), &c.Keys[j].Key})
		}
	}
	for i := range s.OAuth {
		refs = append(refs, secretRef{fmt.Sprintf("oauth[%s].clientSecret", s.OAuth[i].Name), &s.OAuth[i].ClientSecret})
	}
	if s.Google != nil {
		refs = append(refs, secretRef{"google.keyJSON", &s.Google.KeyJSON})
	}
	return refs
}

// KeepSecrets gives each secret of s that keeps its stored value
// ({"set":true}) the value of the same secret in old: the same connection
// (by name) and field. It returns a *identity.ValidationError naming a kept
// secret that old does not hold.
func (s *Settings) KeepSecrets(old Settings) error {
	prev := make(map[string]*Secret)
	for _, r := range old.secrets() {
		prev[r.path] = r.s
	}
	var verr validation
	for _, r := range s.secrets() {
		if !r.s.keep {
			continue
		}
		p, ok := prev[r.path]
		if !ok || p.keep || len(p.value) == 0 {
			verr.add(r.path, "no stored value to keep: give the value")
			continue
		}
		*r.s = p.clone()
	}
	return verr.err()
}

// aad binds a sealed value to its tenant: a value copied to another tenant's
// row does not open.
func aad(tenant string) string { return "rollcall/settings/" + tenant }

// Seal returns the stored form of s: its JSON, with each secret sealed by k
// for the tenant. A secret that still keeps its stored value (see
// KeepSecrets) is an error.
func Seal(k *Keyring, tenant string, s Settings) ([]byte, error) {
	c := s.Clone()
	for _, r := range c.secrets() {
		if r.s.keep {
			return nil, fmt.Errorf("settings: seal: %s keeps a value not given", r.path)
		}
		if len(r.s.value) == 0 {
			*r.s = Secret{}
			continue
		}
		sealed, err := k.seal(aad(tenant), r.s.value)
		if err != nil {
			return nil, fmt.Errorf("settings: seal %s: %w", r.path, err)
		}
		*r.s = Secret{sealed: sealed}
	}
	return json.Marshal(c)
}

// Open reads what Seal wrote, opening each secret with k.
func Open(k *Keyring, tenant string, data []byte) (Settings, error) {
	s, _, err := open(k, tenant, data)
	return s, err
}

// open also reports whether a secret was sealed with another key than the
// primary one.
func open(k *Keyring, tenant string, data []byte) (Settings, bool, error) {
	var s Settings
	if err := json.Unmarshal(data, &s); err != nil {
		return Settings{}, false, fmt.Errorf("settings: open: %w", err)
	}
	stale := false
	for _, r := range s.secrets() {
		if r.s.sealed == "" {
			*r.s = Secret{}
			continue
		}
		v, id, err := k.open(aad(tenant), r.s.sealed)
		if err != nil {
			return Settings{}, false, fmt.Errorf("settings: open %s: %w", r.path, err)
		}
		stale = stale || id != k.primary
		*r.s = Secret{value: v}
	}
	return s, stale, nil
}

// Reseal returns data sealed again with k's primary key, and whether it
// changed: false when every secret was sealed with the primary key already.
func Reseal(k *Keyring, tenant string, data []byte) ([]byte, bool, error) {
	s, stale, err := open(k, tenant, data)
	if err != nil || !stale {
		return data, false, err
	}
	out, err := Seal(k, tenant, s)
	return out, err == nil, err
}
