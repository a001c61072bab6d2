package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "server.json")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig("", env(nil))
	require.NoError(t, err)
	assert.Equal(t, defaults(), cfg)
	assert.Equal(t, "default", cfg.Tenant)
	assert.Empty(t, cfg.AdminToken, "run generates one")
	assert.Equal(t, 5*time.Second, cfg.HTTP.ReadHeaderTimeout.D())
	assert.Equal(t, 7*24*time.Hour, cfg.Directory.InvitationTTL.D())

	// An empty object is the defaults too.
	cfg, err = loadConfig(writeConfig(t, `{}`), env(nil))
	require.NoError(t, err)
	assert.Equal(t, defaults(), cfg)
}

func TestConfigFile(t *testing.T) {
	path := writeConfig(t, `{
		"tenant": "acme",
		"adminToken": "from-the-file-0123456789",
		"logLevel": "debug",
		"http": {"readHeaderTimeout": "2s", "shutdownTimeout": "1m"},
		"directory": {"invitationTTL": "72h", "ssoOnly": true, "groupLimit": 20}
	}`)
	cfg, err := loadConfig(path, env(nil))
	require.NoError(t, err)
	assert.Equal(t, "acme", cfg.Tenant)
	assert.Equal(t, "from-the-file-0123456789", cfg.AdminToken)
	assert.Equal(t, "debug", cfg.LogLevel)
	assert.Equal(t, 2*time.Second, cfg.HTTP.ReadHeaderTimeout.D())
	assert.Equal(t, time.Minute, cfg.HTTP.ShutdownTimeout.D())
	assert.Equal(t, 30*time.Second, cfg.HTTP.ReadTimeout.D(), "fields left out keep their defaults")
	assert.Equal(t, 72*time.Hour, cfg.Directory.InvitationTTL.D())
	assert.True(t, cfg.Directory.SSOOnly)
	assert.Equal(t, 20, cfg.Directory.GroupLimit)

	// The environment overrides the file's secret.
	cfg, err = loadConfig(path, env(map[string]string{EnvAdminToken: "from-the-environment-0123"}))
	require.NoError(t, err)
	assert.Equal(t, "from-the-environment-0123", cfg.AdminToken)
}

// An OpenID provider on a loopback host may use http (Keycloak's start-dev);
// https is accepted everywhere.
func TestConfigIssuerLoopback(t *testing.T) {
	for _, issuer := range []string{
		"http://localhost:8080/realms/x", "http://LOCALHOST./realms/x", "http://kc.localhost:8080/realms/x",
		"http://127.0.0.1:8080/realms/x", "http://127.9.9.9/realms/x", "http://[::1]:8080/realms/x",
		"https://kc.example/realms/x",
	} {
		t.Run(issuer, func(t *testing.T) {
			cfg, err := loadConfig(writeConfig(t, `{"oauth": {"keycloak": {"clientID": "x", "issuer": "`+issuer+`"}}}`), env(nil))
			require.NoError(t, err)
			assert.Equal(t, issuer, cfg.OAuth["keycloak"].Issuer)
		})
	}
}

// An OAuth provider with syncGroups is the group source "oauth:<name>",
// under the one-source rule.
func TestConfigOAuthGroupSource(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, `{"oauth": {"okta": {"clientID": "x", "issuer": "https://acme.okta.example",
		"syncGroups": true, "groupsClaim": "roles", "groupFormat": "csv"}}}`), env(nil))
	require.NoError(t, err)
	source, err := cfg.groupSource()
	require.NoError(t, err)
	assert.Equal(t, "oauth:okta", source)
	assert.Equal(t, "roles", cfg.OAuth["okta"].GroupsClaim)

	for _, tc := range []struct{ content, want string }{
		{`{"scim": {"token": "scim-token-0123456789"}, "oauth": {"okta": {"clientID": "x", "issuer": "https://o.example", "syncGroups": true}}}`,
			`"oauth:okta" and "scim" are both configured to sync groups`},
		{`{"saml": {"entra": {"idpMetadataFile": "m.xml", "certFile": "c", "keyFile": "k", "syncGroups": true}}, "oauth": {"okta": {"clientID": "x", "issuer": "https://o.example", "syncGroups": true}}}`,
			`"saml:entra" and "oauth:okta"`},
		{`{"oauth": {"okta": {"clientID": "x", "issuer": "https://o.example", "groupFormat": "ldap"}}}`, `field "oauth.okta.groupFormat"`},
		{`{"oauth": {"okta": {"clientID": "x", "issuer": "https://o.example", "groupsClaim": "_claim_names"}}}`, `field "oauth.okta.groupsClaim"`},
	} {
		_, err := loadConfig(writeConfig(t, tc.content), env(nil))
		assert.ErrorContains(t, err, tc.want)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          string
	}{
		{"unknown field", `{"tenat": "acme"}`, `unknown field "tenat"`},
		{"unknown nested field", `{"http": {"readTimeot": "5s"}}`, `unknown field "http.readTimeot"`},
		{"wrong case", `{"Tenant": "acme"}`, `unknown field "Tenant" (did you mean "tenant"?)`},
		{"bad duration", `{"http": {"shutdownTimeout": "ten seconds"}}`, `field "http.shutdownTimeout": want a duration such as "10s"`},
		{"duration as a number", `{"directory": {"invitationTTL": 3600}}`, `field "directory.invitationTTL"`},
		{"negative duration", `{"http": {"idleTimeout": "-1s"}}`, `field "http.idleTimeout": must not be negative`},
		{"wrong type", `{"directory": {"ssoOnly": "yes"}}`, `field "directory.ssoOnly": want bool`},
		{"bad tenant", `{"tenant": "a/b"}`, `field "tenant"`},
		{"short token", `{"adminToken": "hunter2"}`, `field "adminToken" (or ROLLCALL_ADMIN_TOKEN): must be at least 16 characters`},
		{"bad log level", `{"logLevel": "loud"}`, `field "logLevel"`},
		{"negative group limit", `{"directory": {"groupLimit": -1}}`, `field "directory.groupLimit"`},
		{"bad base URL", `{"baseURL": "desks.example"}`, `field "baseURL"`},
		{"short SCIM token", `{"scim": {"token": "short"}}`, `field "scim.token" (or ROLLCALL_SCIM_TOKEN): must be at least 16 characters`},
		{"SCIM token is the admin token", `{"adminToken": "the-same-token-0123", "scim": {"token": "the-same-token-0123"}}`, `must not be the admin token`},
		{"unknown SCIM field", `{"scim": {"tokn": "x"}}`, `unknown field "scim.tokn"`},
		{"unknown SAML field", `{"saml": {"entra": {"idpMetadataUrl": "https://idp.example"}}}`, `unknown field "saml.entra.idpMetadataUrl" (did you mean "idpMetadataURL"?)`},
		{"SAML field of the wrong type", `{"saml": {"entra": {"syncGroups": "yes"}}}`, `field "saml.entra.syncGroups": want bool`},
		{"SAML bad duration", `{"saml": {"entra": {"sessionLifetime": "a day"}}}`, `field "saml.entra.sessionLifetime"`},
		{"SAML bad name", `{"saml": {"en tra": {}}}`, `field "saml.en tra": a connection's name`},
		{"SAML no metadata", `{"saml": {"entra": {"certFile": "c", "keyFile": "k"}}}`, `field "saml.entra": set exactly one of idpMetadata, idpMetadataFile and idpMetadataURL`},
		{"SAML two metadata", `{"saml": {"entra": {"idpMetadata": "<x/>", "idpMetadataFile": "m.xml"}}}`, `set exactly one`},
		{"SAML metadata over http", `{"saml": {"entra": {"idpMetadataURL": "http://idp.example/md"}}}`, `field "saml.entra.idpMetadataURL": want an https URL`},
		{"SAML no key", `{"saml": {"entra": {"idpMetadataFile": "m.xml", "certFile": "c"}}}`, `field "saml.entra": certFile and keyFile`},
		{"SAML bad ACS URL", `{"saml": {"entra": {"idpMetadataFile": "m.xml", "acsURL": "/acs"}}}`, `field "saml.entra.acsURL"`},
		{"SAML unknown preset", `{"saml": {"entra": {"idpMetadataFile": "m.xml", "certFile": "c", "keyFile": "k", "preset": "azure"}}}`, `field "saml.entra.preset": unknown preset "azure"`},
		{"SAML bad group format", `{"saml": {"entra": {"idpMetadataFile": "m.xml", "certFile": "c", "keyFile": "k", "groupFormat": "ldap"}}}`, `field "saml.entra.groupFormat"`},
		{"OAuth bad name", `{"oauth": {"Google": {"clientID": "x"}}}`, `field "oauth.Google": a provider's name`},
		{"OAuth no client ID", `{"oauth": {"google": {}}}`, `field "oauth.google.clientID": required`},
		{"OAuth issuer of a built-in", `{"oauth": {"google": {"clientID": "x", "issuer": "https://evil.example"}}}`, `field "oauth.google.issuer"`},
		{"OAuth no issuer", `{"oauth": {"keycloak": {"clientID": "x"}}}`, `field "oauth.keycloak.issuer": required`},
		{"OAuth issuer over http", `{"oauth": {"keycloak": {"clientID": "x", "issuer": "http://kc.example/realms/a"}}}`, `want an https URL`},
		{"OAuth issuer over http, localhost lookalike", `{"oauth": {"keycloak": {"clientID": "x", "issuer": "http://localhost.evil.example/realms/a"}}}`, `want an https URL`},
		{"OAuth issuer over http, 127.0.0.1 lookalike", `{"oauth": {"keycloak": {"clientID": "x", "issuer": "http://127.0.0.1.nip.io/realms/a"}}}`, `want an https URL`},
		{"OAuth issuer over http, private address", `{"oauth": {"keycloak": {"clientID": "x", "issuer": "http://10.0.0.5:8080/realms/a"}}}`, `want an https URL`},
		{"OAuth microsoft without tenant", `{"oauth": {"microsoft": {"clientID": "x"}}}`, `field "oauth.microsoft.tenant": required`},
		{"OAuth tenant of another", `{"oauth": {"google": {"clientID": "x", "allowedTenants": ["t"]}}}`, `for microsoft only`},
		{"OAuth bad redirect", `{"oauth": {"google": {"clientID": "x", "redirectURL": "callback"}}}`, `field "oauth.google.redirectURL"`},
		{"OAuth domains not a list", `{"oauth": {"google": {"clientID": "x", "allowedDomains": "acme.example"}}}`, `field "oauth.google.allowedDomains": want []string`},
		{"a connection not an object", `{"saml": {"entra": 5}}`, `field "saml.entra": want main.SAMLConnection`},
		{"negative import size", `{"import": {"maxFileSize": -1}}`, `field "import.maxFileSize"`},
		{"negative threshold", `{"import": {"threshold": -0.5}}`, `field "import.threshold"`},
		{"not JSON", "{\n\"tenant\": acme}", `line 2: invalid JSON`},
		{"not an object", `["tenant"]`, `want a JSON object`},
		{"empty file", ``, `empty file`},
		{"two objects", `{} {}`, `want one JSON object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.content)
			_, err := loadConfig(path, env(nil))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), path, "the error names the file")
		})
	}

	_, err := loadConfig(filepath.Join(t.TempDir(), "missing.json"), env(nil))
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = loadConfig("", env(map[string]string{EnvSCIMToken: "short"}))
	assert.ErrorContains(t, err, EnvSCIMToken)
	_, err = loadConfig(filepath.Join(t.TempDir(), "missing.json"), env(nil))
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = loadConfig("", env(map[string]string{EnvAdminToken: "short"}))
	assert.ErrorContains(t, err, EnvAdminToken)
}

func TestConfigSources(t *testing.T) {
	path := writeConfig(t, `{
		"baseURL": "https://desks.example/",
		"scim": {"token": "scim-token-from-the-file", "hardDelete": true},
		"saml": {"entra": {"idpMetadataURL": "https://login.example/md.xml", "certFile": "sp.crt", "keyFile": "sp.key",
			"preset": "entra", "groupFormat": "list", "sessionLifetime": "8h"}},
		"oauth": {
			"google": {"clientID": "g", "clientSecret": "from-the-file", "allowedDomains": ["acme.example"]},
			"microsoft": {"clientID": "m", "tenant": "organizations", "allowedTenants": ["tid-1"]},
			"my-idp": {"clientID": "k", "issuer": "https://kc.example/realms/acme", "redirectURL": "https://other.example/cb"}
		},
		"import": {"maxFileSize": 1048576, "threshold": 1}
	}`)
	cfg, err := loadConfig(path, env(map[string]string{
		"ROLLCALL_OAUTH_GOOGLE_SECRET": "from-the-environment",
		"ROLLCALL_OAUTH_MY_IDP_SECRET": "kc-secret",
	}))
	require.NoError(t, err)
	assert.Equal(t, "https://desks.example", cfg.BaseURL, "the trailing slash is dropped")
	assert.Equal(t, "scim-token-from-the-file", cfg.SCIM.Token)
	assert.True(t, cfg.SCIM.HardDelete)
	entra := cfg.SAML["entra"]
	assert.Equal(t, "https://desks.example/saml/entra/metadata", entra.EntityID)
	assert.Equal(t, "https://desks.example/saml/entra/acs", entra.ACSURL)
	assert.Equal(t, 8*time.Hour, entra.SessionLifetime.D())
	assert.False(t, entra.SyncGroups)
	assert.Equal(t, "from-the-environment", cfg.OAuth["google"].ClientSecret, "the environment wins")
	assert.Equal(t, "kc-secret", cfg.OAuth["my-idp"].ClientSecret)
	assert.Empty(t, cfg.OAuth["microsoft"].ClientSecret)
	assert.Equal(t, "https://desks.example/oauth/google/callback", cfg.OAuth["google"].RedirectURL)
	assert.Equal(t, "https://other.example/cb", cfg.OAuth["my-idp"].RedirectURL)
	assert.Equal(t, int64(1<<20), cfg.Import.MaxFileSize)
	assert.Equal(t, 1.0, cfg.Import.Threshold)
	source, err := cfg.groupSource()
	require.NoError(t, err)
	assert.Equal(t, "scim", source)

	// The defaults of a connection with only what is required.
	cfg, err = loadConfig(writeConfig(t, `{"saml": {"okta": {"idpMetadataFile": "m.xml", "certFile": "c", "keyFile": "k"}}}`), env(nil))
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8080/saml/okta/acs", cfg.SAML["okta"].ACSURL)
	assert.Equal(t, 24*time.Hour, cfg.SAML["okta"].SessionLifetime.D())
	assert.Equal(t, int64(50<<20), cfg.Import.MaxFileSize)
	assert.Equal(t, 0.5, cfg.Import.Threshold)
}

// TestREADMEConfig loads the full example configuration of README.md: every
// field it shows exists and its values are valid.
func TestREADMEConfig(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "A full example (the values are examples")
	require.True(t, ok, "README.md has the full example")
	_, rest, ok = strings.Cut(rest, "```json\n")
	require.True(t, ok)
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	// It configures SCIM and Google, two group sources, as the README says;
	// the error it quotes is the real one.
	_, err = loadConfig(writeConfig(t, example), env(nil))
	require.Error(t, err)
	_, msg, _ := strings.Cut(err.Error(), "groups: ")
	assert.Contains(t, strings.Join(strings.Fields(string(readme)), " "), msg)

	// Without the Google section, every field is valid.
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(example), &raw))
	delete(raw, "google")
	b, err := json.Marshal(raw)
	require.NoError(t, err)
	cfg, err := loadConfig(writeConfig(t, string(b)), env(nil))
	require.NoError(t, err)
	assert.Equal(t, "acme", cfg.Tenant)
	assert.Len(t, cfg.SAML, 2)
	assert.Len(t, cfg.OAuth, 3)
	source, err := cfg.groupSource()
	require.NoError(t, err)
	assert.Equal(t, "scim", source)

	// And without the SCIM token, Google is the group source.
	require.NoError(t, json.Unmarshal([]byte(example), &raw))
	delete(raw["scim"].(map[string]any), "token")
	b, err = json.Marshal(raw)
	require.NoError(t, err)
	cfg, err = loadConfig(writeConfig(t, string(b)), env(nil))
	require.NoError(t, err)
	source, err = cfg.groupSource()
	require.NoError(t, err)
	assert.Equal(t, "google", source)
	assert.True(t, cfg.Google.DryRun)
}
