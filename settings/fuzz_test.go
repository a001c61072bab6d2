package settings_test

import (
	"encoding/json"
	"testing"

	"github.com/rollcall/rollcall/settings"
)

// FuzzSettingsJSON reads settings as a client sends them: reading and
// validating never panics, and valid settings survive a seal and an open.
func FuzzSettingsJSON(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"directory":{"groupLimit":5,"invitationTTL":"48h"}}`,
		`{"saml":[{"name":"okta","idpMetadataURL":"https://idp/md","entityID":"e","acsURL":"https://sp/acs","syncGroups":true}],"scim":{"enabled":true,"syncGroups":true}}`,
		`{"oauth":[{"name":"g","kind":"google","clientID":"c","clientSecret":"s","redirectURL":"https://sp/cb"}]}`,
		`{"oauth":[{"name":"g","kind":"google","clientID":"c","clientSecret":{"set":true},"redirectURL":"https://sp/cb"}]}`,
		`{"google":{"enabled":true,"keyJSON":{"sealed":"v1:k:AAAA"},"admin":"a@b"}}`,
		`{"saml":[{"name":"x","idpMetadata":"<EntityDescriptor><X509Certificate>MII=</X509Certificate></EntityDescriptor>","keys":[{"id":"k","certificate":"x","status":"active"}]}]}`,
	} {
		f.Add([]byte(seed))
	}
	k, err := settings.NewKeyring("k", map[string][]byte{"k": make([]byte, 32)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s settings.Settings
		if json.Unmarshal(data, &s) != nil {
			return
		}
		_ = s.CertificateWarnings(now)
		if s.Validate() != nil || s.KeepSecrets(settings.Settings{}) != nil {
			return
		}
		sealed, err := settings.Seal(k, "t", s)
		if err != nil {
			t.Fatalf("seal of valid settings: %v", err)
		}
		back, err := settings.Open(k, "t", sealed)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if d := settings.Diff(s, back); len(d) != 0 {
			t.Fatalf("round trip changed %v", d)
		}
	})
}

// FuzzOpen reads stored settings as a store gives them back: a row altered
// or damaged is an error, never a panic, and never opens with a secret.
func FuzzOpen(f *testing.F) {
	k, err := settings.NewKeyring("k", map[string][]byte{"k": make([]byte, 32)})
	if err != nil {
		f.Fatal(err)
	}
	s := settings.Settings{Google: &settings.Google{KeyJSON: settings.NewSecret([]byte("key")), Admin: "a@b"}}
	sealed, err := settings.Seal(k, "t", s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add([]byte(`{"google":{"keyJSON":{"sealed":"v1:k:"}}}`))
	f.Add([]byte(`{"google":{"keyJSON":{"sealed":"v1:x:AAAA"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := settings.Open(k, "t", data)
		if err == nil && got.Google != nil && got.Google.KeyJSON.IsSet() && string(got.Google.KeyJSON.Value()) != "key" {
			t.Fatalf("opened a secret that was never sealed: %q", got.Google.KeyJSON.Value())
		}
	})
}
