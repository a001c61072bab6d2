package settings_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var (
	keyOnce sync.Once
	spKey   settings.SPKey
	keyErr  error
)

// valid returns settings with one source of each kind, valid.
func valid(t testing.TB) settings.Settings {
	t.Helper()
	keyOnce.Do(func() { spKey, keyErr = settings.GenerateSPKey("https://sp.example/acme", settings.KeyActive, now, 0) })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	key := spKey
	return settings.Settings{
		Directory: settings.Directory{GroupLimit: 50, InvitationTTL: settings.Duration(48 * time.Hour)},
		SAML: []settings.SAML{{
			Name: "okta", IdPMetadataURL: "https://idp.example/md", EntityID: "https://sp.example/acme",
			ACSURL: "https://sp.example/saml/okta/acs", Keys: []settings.SPKey{key}, Preset: "okta", SyncGroups: true,
		}},
		OAuth: []settings.OAuth{{
			Name: "google", Kind: settings.KindGoogle, ClientID: "cid", ClientSecret: settings.NewSecret([]byte("s3cr3t-client")),
			RedirectURL: "https://sp.example/oauth/google/callback", AllowedDomains: []string{"acme.example"},
		}},
		SCIM:   &settings.SCIM{Enabled: true},
		Google: &settings.Google{KeyJSON: settings.NewSecret([]byte(`{"private_key":"g-key"}`)), Admin: "admin@acme.example"},
	}
}

func fields(t *testing.T, err error) []string {
	t.Helper()
	var v *identity.ValidationError
	if !errors.As(err, &v) || !errors.Is(err, identity.ErrInvalid) {
		t.Fatalf("err = %v, want a *identity.ValidationError", err)
	}
	var out []string
	for _, f := range v.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestValidateValid(t *testing.T) {
	s := valid(t)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := s.GroupSource(); got != "saml:okta" {
		t.Errorf("GroupSource = %q, want saml:okta", got)
	}
	s.Diagnostics = settings.Diagnostics{MaxAge: settings.Duration(24 * time.Hour), MaxEntries: 100}
	if err := s.Validate(); err != nil {
		t.Errorf("diagnostics bounds of a day and 100 entries: %v", err)
	}
	var zero settings.Settings
	if err := zero.Validate(); err != nil || zero.GroupSource() != "" {
		t.Errorf("zero settings: %v, %q", err, zero.GroupSource())
	}
}

func TestValidateNamesFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*settings.Settings)
		want   string
	}{
		{"group limit", func(s *settings.Settings) { s.Directory.GroupLimit = -1 }, "directory.groupLimit"},
		{"saml acs", func(s *settings.Settings) { s.SAML[0].ACSURL = "/acs" }, "saml[0].acsURL"},
		{"saml metadata both", func(s *settings.Settings) { s.SAML[0].IdPMetadata = "<x/>" }, "saml[0].idpMetadata"},
		{"saml metadata http", func(s *settings.Settings) { s.SAML[0].IdPMetadataURL = "http://idp/md" }, "saml[0].idpMetadataURL"},
		{"saml name", func(s *settings.Settings) { s.SAML[0].Name = "a b" }, "saml[0].name"},
		{"saml dup", func(s *settings.Settings) { s.SAML = append(s.SAML, s.SAML[0]); s.SAML[1].SyncGroups = false }, "saml[1].name"},
		{"saml preset", func(s *settings.Settings) { s.SAML[0].Preset = "nope" }, "saml[0].preset"},
		{"saml nameid", func(s *settings.Settings) { s.SAML[0].NameIDFormat = "x" }, "saml[0].nameIDFormat"},
		{"saml transient", func(s *settings.Settings) {
			s.SAML[0].NameIDFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
		}, "saml[0].subjectAttribute"},
		{"saml group format", func(s *settings.Settings) { s.SAML[0].GroupFormat = "xml" }, "saml[0].groupFormat"},
		{"saml session", func(s *settings.Settings) { s.SAML[0].SessionLifetime = -1 }, "saml[0].sessionLifetime"},
		{"saml key cert", func(s *settings.Settings) { s.SAML[0].Keys[0].Certificate = "junk" }, "saml[0].keys[0].certificate"},
		{"saml key status", func(s *settings.Settings) { s.SAML[0].Keys[0].Status = "old" }, "saml[0].keys[0].status"},
		{"saml key mismatch", func(s *settings.Settings) {
			other, _ := settings.GenerateSPKey("x", settings.KeyActive, now, 0)
			s.SAML[0].Keys[0].Key = other.Key
		}, "saml[0].keys[0].key"},
		{"oauth kind", func(s *settings.Settings) { s.OAuth[0].Kind = "saml" }, "oauth[0].kind"},
		{"oauth name", func(s *settings.Settings) { s.OAuth[0].Name = "Google" }, "oauth[0].name"},
		{"oauth client", func(s *settings.Settings) { s.OAuth[0].ClientID = "" }, "oauth[0].clientID"},
		{"oauth redirect", func(s *settings.Settings) { s.OAuth[0].RedirectURL = "cb" }, "oauth[0].redirectURL"},
		{"oauth domain", func(s *settings.Settings) { s.OAuth[0].AllowedDomains = []string{"a@b"} }, "oauth[0].allowedDomains[0]"},
		{"oauth tenants", func(s *settings.Settings) { s.OAuth[0].AllowedTenants = []string{"t"} }, "oauth[0].allowedTenants"},
		{"oauth ms tenant", func(s *settings.Settings) { s.OAuth[0].Kind = settings.KindMicrosoft }, "oauth[0].tenant"},
		{"oauth oidc issuer", func(s *settings.Settings) { s.OAuth[0].Kind = settings.KindOIDC }, "oauth[0].issuer"},
		{"oauth pattern", func(s *settings.Settings) { s.OAuth[0].IssuerPattern = "(" }, "oauth[0].issuerPattern"},
		{"oauth ttl", func(s *settings.Settings) { s.OAuth[0].LoginTTL = -1 }, "oauth[0].loginTTL"},
		{"scim", func(s *settings.Settings) { s.SCIM.MaxResults = -1 }, "scim"},
		{"google key", func(s *settings.Settings) { s.Google.Enabled = true; s.Google.KeyJSON = settings.Secret{} }, "google.keyJSON"},
		{"google admin", func(s *settings.Settings) { s.Google.Enabled = true; s.Google.Admin = "admin" }, "google.admin"},
		{"google policy", func(s *settings.Settings) { s.Google.ExternalMembers = "maybe" }, "google.externalMembers"},
		{"google suspended", func(s *settings.Settings) { s.Google.Suspended = "skip" }, "google.suspended"},
		{"google filter", func(s *settings.Settings) { s.Google.GroupFilter = "[" }, "google.groupFilter"},
		{"import", func(s *settings.Settings) { s.Import.Threshold = -0.5 }, "import"},
		{"diagnostics age negative", func(s *settings.Settings) { s.Diagnostics.MaxAge = -1 }, "diagnostics.maxAge"},
		{"diagnostics age tiny", func(s *settings.Settings) { s.Diagnostics.MaxAge = settings.Duration(time.Second) }, "diagnostics.maxAge"},
		{"diagnostics age huge", func(s *settings.Settings) {
			s.Diagnostics.MaxAge = settings.Duration(settings.MaxDiagnosticsAge + time.Hour)
		}, "diagnostics.maxAge"},
		{"diagnostics entries negative", func(s *settings.Settings) { s.Diagnostics.MaxEntries = -5 }, "diagnostics.maxEntries"},
		{"diagnostics entries huge", func(s *settings.Settings) {
			s.Diagnostics.MaxEntries = settings.MaxDiagnosticsEntries + 1
		}, "diagnostics.maxEntries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := valid(t)
			tc.change(&s)
			got := fields(t, s.Validate())
			if !slices.Contains(got, tc.want) {
				t.Errorf("fields = %v, want %s among them", got, tc.want)
			}
		})
	}
}

func TestValidateOneGroupSource(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*settings.Settings)
		both   [2]string
	}{
		{"scim and saml", func(s *settings.Settings) { s.SCIM.SyncGroups = true }, [2]string{"scim", "saml:okta"}},
		{"google and saml", func(s *settings.Settings) { s.Google.Enabled = true }, [2]string{"google", "saml:okta"}},
		{"saml and oauth", func(s *settings.Settings) { s.OAuth[0].SyncGroups = true }, [2]string{"saml:okta", "oauth:google"}},
		{"two saml", func(s *settings.Settings) {
			c := s.SAML[0]
			c.Name = "entra"
			s.SAML = append(s.SAML, c)
		}, [2]string{"saml:okta", "saml:entra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := valid(t)
			tc.change(&s)
			err := s.Validate()
			if got := fields(t, err); !slices.Equal(got, []string{"groupSource"}) {
				t.Fatalf("fields = %v, want [groupSource]", got)
			}
			for _, name := range tc.both {
				if !strings.Contains(err.Error(), `"`+name+`"`) {
					t.Errorf("error %q does not name %s", err, name)
				}
			}
		})
	}
	// A SCIM that is off, with SyncGroups, is not a group source.
	s := valid(t)
	s.SCIM = &settings.SCIM{SyncGroups: true}
	if err := s.Validate(); err != nil {
		t.Errorf("disabled SCIM with syncGroups: %v", err)
	}
	s.SAML[0].SyncGroups = false
	s.OAuth[0].SyncGroups = true
	if err := s.Validate(); err != nil || s.GroupSource() != "oauth:google" {
		t.Errorf("oauth group source: %v, %q", err, s.GroupSource())
	}
}

func TestSecretJSONIsWriteOnly(t *testing.T) {
	s := valid(t)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cr3t-client", "g-key", "PRIVATE KEY"} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("JSON holds %q: %s", secret, b)
		}
	}
	if !bytes.Contains(b, []byte(`"clientSecret":{"set":true}`)) {
		t.Errorf("JSON does not say the client secret is set: %s", b)
	}
	// Read back, the secrets keep their stored values.
	var back settings.Settings
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.OAuth[0].ClientSecret.Kept() || back.OAuth[0].ClientSecret.Value() != nil {
		t.Fatalf("read back: %#v", back.OAuth[0].ClientSecret)
	}
	if err := back.KeepSecrets(s); err != nil {
		t.Fatal(err)
	}
	if got := string(back.OAuth[0].ClientSecret.Value()); got != "s3cr3t-client" {
		t.Errorf("kept secret = %q", got)
	}
	// A string sets a new value; a kept secret with nothing stored is an error.
	var in settings.OAuth
	if err := json.Unmarshal([]byte(`{"clientSecret":"new"}`), &in); err != nil || string(in.ClientSecret.Value()) != "new" {
		t.Errorf("string secret: %v %q", err, in.ClientSecret.Value())
	}
	var fresh settings.Settings
	json.Unmarshal(b, &fresh)
	if got := fields(t, fresh.KeepSecrets(settings.Settings{})); !slices.Contains(got, "oauth[google].clientSecret") {
		t.Errorf("keep with nothing stored: %v", got)
	}
	if got := s.OAuth[0].ClientSecret.String() + " " + s.OAuth[0].ClientSecret.GoString(); strings.Contains(got, "s3cr3t") {
		t.Errorf("formatting shows the secret: %s", got)
	}
}

func keyring(t testing.TB, primary string, ids ...string) *settings.Keyring {
	t.Helper()
	keys := map[string][]byte{}
	for i, id := range ids {
		keys[id] = bytes.Repeat([]byte{byte(i + 1)}, 32)
	}
	k, err := settings.NewKeyring(primary, keys)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpenRotate(t *testing.T) {
	s := valid(t)
	k1 := keyring(t, "k1", "k1")
	data, err := settings.Seal(k1, "acme", s)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cr3t-client", "g-key", "PRIVATE KEY"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("sealed form holds %q", secret)
		}
	}
	if !bytes.Contains(data, []byte(`"v1:k1:`)) {
		t.Errorf("sealed form names no key ID: %s", data)
	}
	got, err := settings.Open(k1, "acme", data)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.OAuth[0].ClientSecret.Value()) != "s3cr3t-client" || string(got.Google.KeyJSON.Value()) != `{"private_key":"g-key"}` {
		t.Errorf("opened secrets differ")
	}
	if d := settings.Diff(s, got); len(d) != 0 {
		t.Errorf("opened settings differ: %v", d)
	}
	// Another tenant's row does not open.
	if _, err := settings.Open(k1, "other", data); !errors.Is(err, settings.ErrSealed) {
		t.Errorf("open as another tenant: %v", err)
	}
	// Rotation: k2 primary, k1 still opens; Reseal moves to k2.
	k2 := keyring(t, "k2", "k1", "k2")
	if _, err := settings.Open(k2, "acme", data); err != nil {
		t.Fatal(err)
	}
	again, changed, err := settings.Reseal(k2, "acme", data)
	if err != nil || !changed || bytes.Contains(again, []byte("v1:k1:")) || !bytes.Contains(again, []byte("v1:k2:")) {
		t.Fatalf("reseal: changed %v err %v", changed, err)
	}
	if _, changed, _ := settings.Reseal(k2, "acme", again); changed {
		t.Error("a second reseal changed it again")
	}
	if _, err := settings.Open(keyring(t, "k2", "k2"), "acme", data); !errors.Is(err, settings.ErrSealed) {
		t.Errorf("open without the old key: %v", err)
	}
	// A client may not send a sealed value.
	var in settings.Settings
	json.Unmarshal(again, &in)
	if got := fields(t, in.Validate()); !slices.Contains(got, "oauth[google].clientSecret") {
		t.Errorf("sealed input accepted: %v", got)
	}
}

func TestNewKeyringRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		primary string
		keys    map[string][]byte
	}{
		"short key":   {"a", map[string][]byte{"a": make([]byte, 16)}},
		"no primary":  {"b", map[string][]byte{"a": make([]byte, 32)}},
		"bad key id":  {"a:b", map[string][]byte{"a:b": make([]byte, 32)}},
		"empty rings": {"", nil},
	} {
		if _, err := settings.NewKeyring(tc.primary, tc.keys); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDiffAndApply(t *testing.T) {
	old := valid(t)
	got, changed, err := settings.Apply(old, func(s *settings.Settings) error {
		s.SAML[0].ACSURL = "https://sp.example/saml/okta/acs2"
		s.OAuth[0].ClientSecret = settings.NewSecret([]byte("rotated"))
		s.SCIM = nil
		s.OAuth = append(s.OAuth, settings.OAuth{Name: "webex", Kind: settings.KindWebex, ClientID: "w", RedirectURL: "https://sp.example/cb"})
		s.Version = 99
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"oauth[google].clientSecret", "oauth[webex]", "saml[okta].acsURL", "scim"}
	if !slices.Equal(changed, want) {
		t.Errorf("changed = %v, want %v", changed, want)
	}
	if got.Version != old.Version {
		t.Errorf("Apply kept a changed version %d", got.Version)
	}
	for _, f := range changed {
		if strings.Contains(f, "rotated") {
			t.Errorf("a field shows a secret: %s", f)
		}
	}
	if _, _, err := settings.Apply(old, func(s *settings.Settings) error { s.SAML[0].EntityID = ""; return nil }); !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("invalid change: %v", err)
	}
	if d := settings.Diff(old, old.Clone()); len(d) != 0 {
		t.Errorf("clone differs: %v", d)
	}
}

func TestRolloverAndWarnings(t *testing.T) {
	s := valid(t)
	s.SAML[0].Keys = nil
	if made, err := s.EnsureKeys(now); err != nil || !made || s.SAML[0].Key(settings.KeyActive) == nil {
		t.Fatalf("EnsureKeys: %v %v", made, err)
	}
	first := s.SAML[0].Key(settings.KeyActive).ID
	c := &s.SAML[0]
	if err := c.CompleteRollover(); err == nil {
		t.Error("rollover completed with no next key")
	}
	if err := c.StartRollover(now, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("with a next key: %v", err)
	}
	next := c.Key(settings.KeyNext).ID
	if err := c.CompleteRollover(); err != nil {
		t.Fatal(err)
	}
	if c.Key(settings.KeyActive).ID != next || c.Key(settings.KeyRetired).ID != first || c.Key(settings.KeyNext) != nil {
		t.Errorf("after rollover: %+v", c.Keys)
	}
	c.PruneRetired()
	if len(c.Keys) != 1 {
		t.Errorf("after prune: %d keys", len(c.Keys))
	}
	if w := s.CertificateWarnings(now); len(w) != 0 {
		t.Errorf("fresh keys warn: %+v", w)
	}
	notAfter := c.Keys[0].NotAfter
	for _, tc := range []struct {
		at   time.Time
		want time.Duration
	}{
		{notAfter.Add(-31 * 24 * time.Hour), 0},
		{notAfter.Add(-29 * 24 * time.Hour), 30 * 24 * time.Hour},
		{notAfter.Add(-6 * 24 * time.Hour), 7 * 24 * time.Hour},
	} {
		w := s.CertificateWarnings(tc.at)
		switch {
		case tc.want == 0 && len(w) != 0, tc.want != 0 && (len(w) != 1 || w[0].Within != tc.want):
			t.Errorf("at %v: %+v, want within %v", tc.at, w, tc.want)
		}
		if len(w) == 1 {
			ev := w[0].Event("acme", tc.at)
			if ev.Type != settings.CertificateExpiring || ev.Source != "saml:okta" || ev.Fields[0] != "sp:"+c.Keys[0].ID {
				t.Errorf("event %+v", ev)
			}
		}
	}
}
