package main

import (
	"os"
	"path/filepath"
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
	_, err = loadConfig("", env(map[string]string{EnvAdminToken: "short"}))
	assert.ErrorContains(t, err, EnvAdminToken)
}
