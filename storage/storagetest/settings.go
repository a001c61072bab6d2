package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
)

// SettingsBackend is a settings.Store over a fresh database, with the
// directory stores of its tenants.
type SettingsBackend struct {
	Settings settings.Store
	// Open opens a tenant's directory store of the same database; Keys its
	// key store.
	Open Opener
	Keys func(tenant string) identity.KeyStore
	// WithKeyring returns a settings store of the same database that seals
	// with another keyring (for rotation).
	WithKeyring func(k *settings.Keyring) settings.Store
}

// SettingsKeyring returns the keyring the suite seals with: one key, id
// "k1", unless more ids are given (the first is primary).
func SettingsKeyring(tb testing.TB, ids ...string) *settings.Keyring {
	tb.Helper()
	if len(ids) == 0 {
		ids = []string{"k1"}
	}
	keys := map[string][]byte{}
	for _, id := range ids {
		keys[id] = bytes.Repeat([]byte(id[len(id)-1:]), 32)
	}
	k, err := settings.NewKeyring(ids[0], keys)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// SettingsSecrets are the secret values of SettingsFixture: a test that reads
// a store's raw rows looks for them.
var SettingsSecrets = []string{"client-secret-7c1f", "google-key-9a2e"}

// SettingsFixture returns valid settings with an OAuth client secret and a
// Google service account key (SettingsSecrets).
func SettingsFixture() settings.Settings {
	return settings.Settings{
		Directory: settings.Directory{GroupLimit: 20},
		OAuth: []settings.OAuth{{
			Name: "google", Kind: settings.KindGoogle, ClientID: "cid",
			ClientSecret: settings.NewSecret([]byte(SettingsSecrets[0])), RedirectURL: "https://sp.example/cb",
		}},
		SCIM:   &settings.SCIM{Enabled: true},
		Google: &settings.Google{KeyJSON: settings.NewSecret([]byte(SettingsSecrets[1])), Admin: "admin@acme.example"},
	}
}

// RunSettings runs the conformance suite of settings.Store. newBackend makes
// a fresh database whose stores seal with k and stamp with clock.
func RunSettings(t *testing.T, newBackend func(t *testing.T, k *settings.Keyring, clock identity.Clock) SettingsBackend) {
	t.Helper()
	for _, c := range []struct {
		name string
		run  func(t *testing.T, b SettingsBackend)
	}{
		{"CreateRead", testSettingsCreateRead},
		{"Update", testSettingsUpdate},
		{"UpdateConcurrent", testSettingsUpdateConcurrent},
		{"KeepSecrets", testSettingsKeepSecrets},
		{"Tokens", testSettingsTokens},
		{"DeleteTenant", testSettingsDeleteTenant},
		{"Reencrypt", testSettingsReencrypt},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newBackend(t, SettingsKeyring(t), clockAt(settingsEpoch)))
		})
	}
}

var settingsEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fixedClock struct{ t atomic.Pointer[time.Time] }

func clockAt(t time.Time) *fixedClock {
	c := &fixedClock{}
	c.t.Store(&t)
	return c
}

func (c *fixedClock) Now() time.Time { return *c.t.Load() }

// eventsOf returns the events of a tenant's log, of the types given.
func eventsOf(t *testing.T, b SettingsBackend, tenant string, types ...identity.EventType) []identity.Event {
	t.Helper()
	log, ok := b.Open(tenant).(identity.EventLog)
	if !ok {
		return nil
	}
	evs, err := log.Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(evs, func(e identity.Event) bool { return !slices.Contains(types, e.Type) })
}

func testSettingsCreateRead(t *testing.T, b SettingsBackend) {
	ctx := identity.WithActor(context.Background(), "operator@host")
	st := b.Settings
	if _, err := st.Settings(ctx, "acme"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("Settings of no tenant: %v", err)
	}
	if _, err := st.Version(ctx, "acme"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("Version of no tenant: %v", err)
	}
	bad := SettingsFixture()
	bad.OAuth[0].RedirectURL = "nope"
	var verr *identity.ValidationError
	if _, err := st.Create(ctx, "acme", bad); !errors.As(err, &verr) || verr.Fields[0].Field != "oauth[0].redirectURL" {
		t.Fatalf("Create invalid: %v", err)
	}
	got, err := st.Create(ctx, "acme", SettingsFixture())
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || !got.Updated.Equal(settingsEpoch) {
		t.Errorf("created version %d updated %v", got.Version, got.Updated)
	}
	var conflict *identity.ConflictError
	if _, err := st.Create(ctx, "acme", settings.Settings{}); !errors.As(err, &conflict) || conflict.Resource != "tenant" {
		t.Errorf("second Create: %v", err)
	}
	read, err := st.Settings(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if d := settings.Diff(SettingsFixture(), read); len(d) != 0 || read.Version != 1 {
		t.Errorf("read back differs in %v (version %d)", d, read.Version)
	}
	if string(read.OAuth[0].ClientSecret.Value()) != SettingsSecrets[0] {
		t.Errorf("secret read back wrong")
	}
	if _, err := st.Create(ctx, "beta", settings.Settings{}); err != nil {
		t.Fatal(err)
	}
	tenants, err := st.Tenants(ctx)
	if err != nil || len(tenants) != 2 || tenants[0].ID != "acme" || tenants[1].ID != "beta" || tenants[0].Version != 1 {
		t.Errorf("Tenants = %+v, %v", tenants, err)
	}
	if evs := eventsOf(t, b, "acme", settings.TenantCreated); evs != nil && (len(evs) != 1 || evs[0].Actor != "operator@host" || evs[0].Source != settings.EventSource) {
		t.Errorf("created events %+v", evs)
	}
}

func testSettingsUpdate(t *testing.T, b SettingsBackend) {
	ctx := identity.WithActor(context.Background(), "admin@acme")
	st := b.Settings
	if _, err := st.Update(ctx, "acme", 0, func(*settings.Settings) error { return nil }); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("Update of no tenant: %v", err)
	}
	if _, err := st.Create(ctx, "acme", SettingsFixture()); err != nil {
		t.Fatal(err)
	}
	got, err := st.Update(ctx, "acme", 1, func(s *settings.Settings) error {
		s.Directory.SSOOnly = true
		s.OAuth[0].ClientSecret = settings.NewSecret([]byte("rotated-secret-1"))
		return nil
	})
	if err != nil || got.Version != 2 {
		t.Fatalf("Update: version %d, %v", got.Version, err)
	}
	if _, err := st.Update(ctx, "acme", 1, func(s *settings.Settings) error { s.Directory.GroupLimit = 3; return nil }); !errors.Is(err, identity.ErrVersionMismatch) {
		t.Errorf("stale Update: %v", err)
	}
	if v, _ := st.Version(ctx, "acme"); v != 2 {
		t.Errorf("version after stale update %d", v)
	}
	same, err := st.Update(ctx, "acme", 0, func(s *settings.Settings) error { return nil })
	if err != nil || same.Version != 2 {
		t.Errorf("no-change Update: version %d, %v", same.Version, err)
	}
	boom := errors.New("boom")
	if _, err := st.Update(ctx, "acme", 0, func(s *settings.Settings) error { s.Disabled = true; return boom }); !errors.Is(err, boom) {
		t.Errorf("fn error: %v", err)
	}
	if _, err := st.Update(ctx, "acme", 0, func(s *settings.Settings) error { s.SCIM.MaxResults = -1; return nil }); !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("invalid Update: %v", err)
	}
	if _, err := st.Update(ctx, "acme", 2, func(s *settings.Settings) error { s.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if ts, _ := st.Tenants(ctx); len(ts) != 1 || !ts[0].Disabled || ts[0].Version != 3 {
		t.Errorf("Tenants after disable: %+v", ts)
	}
	evs := eventsOf(t, b, "acme", settings.SettingsChanged)
	if evs == nil {
		return
	}
	if len(evs) != 2 || evs[0].Actor != "admin@acme" ||
		!slices.Equal(evs[0].Fields, []string{"directory.ssoOnly", "oauth[google].clientSecret"}) ||
		!slices.Equal(evs[1].Fields, []string{"disabled"}) {
		t.Fatalf("events %+v", evs)
	}
	raw, _ := json.Marshal(evs)
	if bytes.Contains(raw, []byte("rotated-secret-1")) || bytes.Contains(raw, []byte(SettingsSecrets[0])) {
		t.Error("an event holds a secret")
	}
}

func testSettingsUpdateConcurrent(t *testing.T, b SettingsBackend) {
	ctx := context.Background()
	if _, err := b.Settings.Create(ctx, "acme", settings.Settings{}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var won atomic.Int32
	for range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := b.Settings.Update(ctx, "acme", 0, func(s *settings.Settings) error { s.Directory.GroupLimit++; return nil })
			if err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			_, err := b.Settings.Update(ctx, "acme", 1, func(s *settings.Settings) error { s.Import.MaxRows++; return nil })
			if err == nil {
				won.Add(1)
			} else if !errors.Is(err, identity.ErrVersionMismatch) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s, err := b.Settings.Settings(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if s.Directory.GroupLimit != n || won.Load() > 1 || s.Version != int64(1+n)+int64(won.Load()) {
		t.Errorf("groupLimit %d, version %d, stale writers that won %d", s.Directory.GroupLimit, s.Version, won.Load())
	}
}

func testSettingsKeepSecrets(t *testing.T, b SettingsBackend) {
	ctx := context.Background()
	if _, err := b.Settings.Create(ctx, "acme", SettingsFixture()); err != nil {
		t.Fatal(err)
	}
	cur, _ := b.Settings.Settings(ctx, "acme")
	// What a client reads and sends back keeps the stored secrets.
	wire, _ := json.Marshal(cur)
	for _, sec := range SettingsSecrets {
		if bytes.Contains(wire, []byte(sec)) {
			t.Fatalf("the JSON a client reads holds %q", sec)
		}
	}
	var in settings.Settings
	if err := json.Unmarshal(wire, &in); err != nil {
		t.Fatal(err)
	}
	in.Directory.GroupLimit = 7
	got, err := b.Settings.Update(ctx, "acme", in.Version, func(s *settings.Settings) error { *s = in; return nil })
	if err != nil {
		t.Fatal(err)
	}
	got, _ = b.Settings.Settings(ctx, "acme")
	if string(got.OAuth[0].ClientSecret.Value()) != SettingsSecrets[0] || string(got.Google.KeyJSON.Value()) != SettingsSecrets[1] || got.Directory.GroupLimit != 7 {
		t.Errorf("secrets not kept")
	}
	// A kept secret of a new provider has nothing to keep.
	in = settings.Settings{}
	if err := json.Unmarshal(wire, &in); err != nil {
		t.Fatal(err)
	}
	in.OAuth = append(in.OAuth, in.OAuth[0])
	in.OAuth[1].Name = "other"
	_, err = b.Settings.Update(ctx, "acme", 0, func(s *settings.Settings) error { *s = in; return nil })
	var verr *identity.ValidationError
	if !errors.As(err, &verr) || verr.Fields[0].Field != "oauth[other].clientSecret" {
		t.Errorf("kept secret with nothing stored: %v", err)
	}
}

func testSettingsTokens(t *testing.T, b SettingsBackend) {
	ctx := context.Background()
	for _, tenant := range []string{"acme", "beta"} {
		if _, err := b.Settings.Create(ctx, tenant, settings.Settings{}); err != nil {
			t.Fatal(err)
		}
	}
	now := settingsEpoch
	if _, _, err := settings.IssueToken(ctx, b.Settings, "nobody", "x", now, time.Time{}); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("token of no tenant: %v", err)
	}
	tokA, recA, err := settings.IssueToken(ctx, b.Settings, "acme", "Entra", now, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	tokB, _, err := settings.IssueToken(ctx, b.Settings, "beta", "Okta", now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Settings.CreateToken(ctx, settings.Token{ID: "dup", Tenant: "acme", Name: "d", Hash: recA.Hash, Created: now}); !errors.Is(err, identity.ErrConflict) {
		t.Errorf("duplicate hash: %v", err)
	}
	list, err := b.Settings.Tokens(ctx, "acme")
	if err != nil || len(list) != 1 || list[0].Name != "Entra" || list[0].ID != recA.ID || !bytes.Equal(list[0].Hash, settings.HashToken(tokA)) {
		t.Fatalf("Tokens = %+v, %v", list, err)
	}
	if strings.Contains(fmt.Sprint(list), tokA) {
		t.Error("the token is kept")
	}
	later := now.Add(2 * time.Minute)
	got, err := settings.CheckToken(ctx, b.Settings, "acme", tokA, later)
	if err != nil || got.ID != recA.ID {
		t.Fatalf("CheckToken: %v", err)
	}
	if list, _ := b.Settings.Tokens(ctx, "acme"); !list[0].LastUsed.Equal(later) {
		t.Errorf("LastUsed = %v, want %v", list[0].LastUsed, later)
	}
	for name, tc := range map[string]struct {
		tenant, token string
		at            time.Time
	}{
		"other tenant": {"beta", tokA, now},
		"unknown":      {"acme", tokA + "x", now},
		"expired":      {"beta", tokB, now.Add(time.Hour)},
	} {
		if _, err := settings.CheckToken(ctx, b.Settings, tc.tenant, tc.token, tc.at); !errors.Is(err, settings.ErrBadToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := settings.CheckToken(ctx, b.Settings, "beta", tokB, now.Add(59*time.Minute)); err != nil {
		t.Errorf("unexpired token: %v", err)
	}
	if err := b.Settings.DeleteToken(ctx, "beta", recA.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("revoke another tenant's token: %v", err)
	}
	if err := b.Settings.DeleteToken(ctx, "acme", recA.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := settings.CheckToken(ctx, b.Settings, "acme", tokA, later); !errors.Is(err, settings.ErrBadToken) {
		t.Errorf("revoked token: %v", err)
	}
	if evs := eventsOf(t, b, "acme", settings.TokenIssued, settings.TokenRevoked); evs != nil && len(evs) != 2 {
		t.Errorf("token events %+v", evs)
	}
}

// FillTenant gives a tenant a row of every kind: user, link, group, member,
// invitation, events, key, token.
func FillTenant(t *testing.T, b SettingsBackend, tenant string) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.Settings.Create(ctx, tenant, SettingsFixture()); err != nil {
		t.Fatal(err)
	}
	dir, err := identity.New(b.Open(tenant), identity.Config{Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	u, err := dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "ada@" + tenant + ".example"}, identity.CreateOptions{Subject: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := dir.CreateGroup(ctx, identity.SourceManual, "Staff", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddMember(ctx, identity.SourceManual, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dir.Invite(ctx, identity.SourceManual, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Keys(tenant).SetIfAbsent(ctx, "saml:request:1", []byte("x"), settingsEpoch.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := settings.IssueToken(ctx, b.Settings, tenant, "scim", settingsEpoch, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

func testSettingsDeleteTenant(t *testing.T, b SettingsBackend) {
	ctx := context.Background()
	FillTenant(t, b, "acme")
	FillTenant(t, b, "beta")
	if err := b.Settings.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := b.Settings.DeleteTenant(ctx, "acme"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	for tenant, want := range map[string]int{"acme": 0, "beta": 1} {
		s := b.Open(tenant)
		users, err := identity.ListUsers(ctx, s, identity.UserQuery{})
		if err != nil || users.Total != want {
			t.Errorf("%s: %d users, %v", tenant, users.Total, err)
		}
		gs, _ := s.ListGroups(ctx, identity.GroupQuery{})
		toks, _ := b.Settings.Tokens(ctx, tenant)
		_, setErr := b.Settings.Settings(ctx, tenant)
		if gs.Total != want || len(toks) != want || errors.Is(setErr, identity.ErrNotFound) != (want == 0) {
			t.Errorf("%s: %d groups, %d tokens, settings %v", tenant, gs.Total, len(toks), setErr)
		}
		if _, err := s.UserByLink(ctx, identity.SourceManual, "ada"); errors.Is(err, identity.ErrNotFound) != (want == 0) {
			t.Errorf("%s: link: %v", tenant, err)
		}
		if log, ok := s.(identity.EventLog); ok {
			evs, _ := log.Events(ctx, 0, 100)
			if (len(evs) == 0) != (want == 0) {
				t.Errorf("%s: %d events", tenant, len(evs))
			}
		}
		_, err = b.Keys(tenant).Take(ctx, "saml:request:1")
		if errors.Is(err, identity.ErrNotFound) != (want == 0) {
			t.Errorf("%s: key: %v", tenant, err)
		}
	}
	// The tenant can be made again, empty.
	if _, err := b.Settings.Create(ctx, "acme", settings.Settings{}); err != nil {
		t.Fatal(err)
	}
}

func testSettingsReencrypt(t *testing.T, b SettingsBackend) {
	ctx := context.Background()
	if _, err := b.Settings.Create(ctx, "acme", SettingsFixture()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Settings.Create(ctx, "beta", settings.Settings{}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Settings.Reencrypt(ctx); err != nil || n != 0 {
		t.Errorf("Reencrypt with one key: %d, %v", n, err)
	}
	rotated := b.WithKeyring(SettingsKeyring(t, "k2", "k1"))
	if n, err := rotated.Reencrypt(ctx); err != nil || n != 1 {
		t.Fatalf("Reencrypt after rotation: %d, %v (want 1: beta has no secret)", n, err)
	}
	onlyNew := b.WithKeyring(SettingsKeyring(t, "k2"))
	s, err := onlyNew.Settings(ctx, "acme")
	if err != nil || string(s.Google.KeyJSON.Value()) != SettingsSecrets[1] || s.Version != 1 {
		t.Errorf("after reencrypt, the new key alone: version %d, %v", s.Version, err)
	}
	if _, err := b.Settings.Settings(ctx, "acme"); !errors.Is(err, settings.ErrSealed) {
		t.Errorf("the old key alone: %v", err)
	}
}
