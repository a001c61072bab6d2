package settings

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// Events of the settings, recorded in the tenant's identity.EventLog in the
// transaction of the change. Fields name what changed ("saml[okta].acsURL",
// "oauth[google].clientSecret", "disabled"), never a secret's value.
const (
	TenantCreated   identity.EventType = "tenant.created"
	SettingsChanged identity.EventType = "settings.changed"
	// TenantDeleted is handed to the host's EventSink only (see
	// tenant.Runtime.Delete): the tenant's event log goes with its data.
	TenantDeleted identity.EventType = "tenant.deleted"
	// CertificateExpiring warns that a certificate expires within 30 or 7
	// days (see CertificateWarnings).
	CertificateExpiring identity.EventType = "certificate.expiring"
	TokenIssued         identity.EventType = "scim.token_issued"
	TokenRevoked        identity.EventType = "scim.token_revoked"
)

// EventSource is the Source of the events of settings changes.
const EventSource = "settings"

// Tenant is a tenant as a Store lists it.
type Tenant struct {
	ID       string    `json:"id"`
	Version  int64     `json:"version"`
	Disabled bool      `json:"disabled"`
	Updated  time.Time `json:"updated"`
}

// Store keeps the settings of every tenant, one versioned value each, with
// secrets sealed by the host's Keyring, and the tenants' SCIM tokens. It is
// implemented by storage/memory and storage/sqlstore, and tested by
// storage/storagetest.RunSettings.
type Store interface {
	TokenStore

	// Settings returns the tenant's settings with their secrets opened, or
	// identity.ErrNotFound if the tenant does not exist.
	Settings(ctx context.Context, tenant string) (Settings, error)
	// Version returns the version of the tenant's settings, or
	// identity.ErrNotFound: a cheap read, for a runtime that polls.
	Version(ctx context.Context, tenant string) (int64, error)
	// Tenants returns every tenant, ordered by ID.
	Tenants(ctx context.Context) ([]Tenant, error)
	// Create stores a new tenant's settings as version 1, recording a
	// TenantCreated event. It returns an *identity.ValidationError if s is
	// invalid (see Apply), and a *identity.ConflictError (Resource "tenant",
	// Field "id") if the tenant exists.
	Create(ctx context.Context, tenant string, s Settings) (Settings, error)
	// Update changes a tenant's settings atomically (see Apply): fn gets a
	// copy of the stored settings, and what it leaves is validated and stored
	// with the version one higher, with a SettingsChanged event naming the
	// fields that changed (none changed: nothing stored, no event). If
	// version is not 0 and not the stored version, it returns an error
	// matching identity.ErrVersionMismatch and stores nothing. It returns
	// identity.ErrNotFound, fn's error, or a *identity.ValidationError.
	Update(ctx context.Context, tenant string, version int64, fn func(*Settings) error) (Settings, error)
	// DeleteTenant removes every row of the tenant: settings, tokens, users,
	// groups, memberships, links, invitations, events and keys. It returns
	// identity.ErrNotFound if the tenant has no settings (and then deletes
	// nothing).
	DeleteTenant(ctx context.Context, tenant string) error
	// Reencrypt seals again with the Keyring's primary key every secret
	// sealed with another, and returns how many tenants changed. Their
	// versions do not change: the settings are the same.
	Reencrypt(ctx context.Context) (int, error)
}

// TokenStore keeps SCIM bearer tokens, as their SHA-256 only.
type TokenStore interface {
	// CreateToken stores a token and records a TokenIssued event (the
	// token's ID and name in Fields, never its hash). It returns a *identity.ConflictError
	// (Resource "token", Field "id" or "hash") if either is taken, and
	// identity.ErrNotFound if the tenant has no settings.
	CreateToken(ctx context.Context, t Token) error
	// Tokens returns the tenant's tokens, ordered by Created then ID.
	Tokens(ctx context.Context, tenant string) ([]Token, error)
	// TokenByHash returns the token with the SHA-256 hash, of any tenant, or
	// identity.ErrNotFound.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// TouchToken sets the token's LastUsed, or returns identity.ErrNotFound.
	TouchToken(ctx context.Context, tenant, id string, at time.Time) error
	// DeleteToken revokes the token, recording a TokenRevoked event, or
	// returns identity.ErrNotFound.
	DeleteToken(ctx context.Context, tenant, id string) error
}

// Apply is the atomic change every Store makes: it runs fn on a copy of old,
// gives the secrets that keep their stored value that value (KeepSecrets),
// validates the result and returns it with the names of the fields that
// changed. Version and Updated are the store's: changes fn makes to them are
// undone.
func Apply(old Settings, fn func(*Settings) error) (Settings, []string, error) {
	s := old.Clone()
	if err := fn(&s); err != nil {
		return Settings{}, nil, err
	}
	s.Version, s.Updated = old.Version, old.Updated
	if err := s.KeepSecrets(old); err != nil {
		return Settings{}, nil, err
	}
	if err := s.Validate(); err != nil {
		return Settings{}, nil, err
	}
	return s, Diff(old, s), nil
}

// ChangeEvent returns the event a Store records for a change of a tenant's
// settings: its actor from ctx (identity.WithActor).
func ChangeEvent(ctx context.Context, typ identity.EventType, tenant string, fields []string, at time.Time) identity.Event {
	return identity.Event{Type: typ, Tenant: tenant, Source: EventSource, Actor: identity.ActorFrom(ctx), Fields: fields, Time: at}
}

// Diff names the fields that differ between a and b, sorted: leaf fields by
// their JSON path, with connections and keys named by name
// ("saml[okta].acsURL"); a connection or key present in one only is named
// whole ("oauth[google]"). A secret is compared by value and named, its
// value never shown. Version and Updated are not compared.
func Diff(a, b Settings) []string {
	fa, fb := flatten(a), flatten(b)
	var out []string
	for p, v := range fa {
		if w, ok := fb[p]; !ok || w != v {
			out = append(out, p)
		}
	}
	for p := range fb {
		if _, ok := fa[p]; !ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	// A connection present in one only is named whole, not field by field.
	var whole []string
	for _, p := range out {
		if fa[p] == present || fb[p] == present {
			whole = append(whole, p)
		}
	}
	return slices.DeleteFunc(out, func(p string) bool {
		for _, w := range whole {
			if strings.HasPrefix(p, w+".") {
				return true
			}
		}
		return false
	})
}

const present = "\x00present"

// flatten maps each leaf field of s to a comparable text.
func flatten(s Settings) map[string]string {
	s.Version, s.Updated = 0, time.Time{}
	m := make(map[string]string)
	walk(m, "", reflect.ValueOf(s))
	return m
}

var secretType = reflect.TypeFor[Secret]()

func walk(m map[string]string, prefix string, v reflect.Value) {
	switch {
	case v.Type() == secretType:
		sec := v.Interface().(Secret)
		sum := sha256.Sum256(sec.value)
		m[prefix] = hex.EncodeToString(sum[:]) + sec.sealed
		return
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			m[prefix] = present
			walk(m, prefix, v.Elem())
		}
		return
	case v.Kind() == reflect.Struct && v.Type() != reflect.TypeFor[time.Time]():
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			walk(m, join(prefix, name), v.Field(i))
		}
		return
	case v.Kind() == reflect.Slice && keyed(v.Type().Elem()):
		for i := range v.Len() {
			e := v.Index(i)
			key := e.FieldByName("Name")
			if !key.IsValid() {
				key = e.FieldByName("ID")
			}
			p := prefix + "[" + key.String() + "]"
			m[p] = present
			walk(m, p, e)
		}
		return
	}
	b, _ := json.Marshal(v.Interface())
	m[prefix] = string(b)
}

func keyed(t reflect.Type) bool {
	return t == reflect.TypeFor[SAML]() || t == reflect.TypeFor[OAuth]() || t == reflect.TypeFor[SPKey]()
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
