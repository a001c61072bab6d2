package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newReplica serves the operator API and the tenants over the SQLite file
// at path, as one more replica of a host: replicas on one file share every
// tenant's data, settings and event log. Its background work is made, not
// run: the operator's sync now runs under its leases.
func newReplica(t *testing.T, path string) *testServer {
	t.Helper()
	cfg, err := loadConfig("", env(map[string]string{EnvAdminToken: testToken}))
	require.NoError(t, err)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	where := storeFlags{sqlite: path}
	stores, closeStore, err := openStore(context.Background(), where, logger)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, closeStore()) })
	s, err := newServer(cfg, stores, logger)
	require.NoError(t, err)
	// The tenants' Google endpoint is the fake, on the loopback.
	op, err := openOperator(s, stores.db, where, env(map[string]string{EnvConnectionAllow: "127.0.0.0/8"}))
	require.NoError(t, err)
	require.NotNil(t, op)
	_, err = newBackground(s, op, env(nil)) // for the operator's sync now; not run
	require.NoError(t, err)
	ts := httptest.NewServer(op.wrap(s.handler()))
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, logs: logs}
}

// TestGoogleSyncReportSharedByReplicas: a runtime tenant's Google sync run
// through one server is the last report read through another on the same
// database, and through a server started afterwards: the report is the
// tenant's sync.completed event, not the memory of the process that ran it.
func TestGoogleSyncReportSharedByReplicas(t *testing.T) {
	api, _ := fakeGoogle(t)
	key, err := os.ReadFile(googleKeyFile(t, api.URL+"/token"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "rollcall.db")
	a, b := newReplica(t, path), newReplica(t, path)
	tokA := a.newTenant(t, "acme", map[string]any{"google": map[string]any{
		"enabled": true, "keyJSON": string(key), "admin": "admin@acme.example", "endpoint": api.URL,
	}})
	res := b.call(t, "POST", "/api/v1/tenants/acme/admin-tokens", nil)
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	tokB := decode[map[string]any](t, res)["token"].(string)

	res = b.callAs(t, tokB, "GET", "/t/acme/api/v1/google/sync", nil)
	assert.Equal(t, http.StatusNotFound, res.status, "no sync yet: %s", res.body)

	// A dry run through A, read through B.
	res = a.callAs(t, tokA, "POST", "/t/acme/api/v1/google/sync", map[string]any{"dryRun": true})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	dry := decode[syncJSON](t, res)
	require.True(t, dry.DryRun)
	require.NotEmpty(t, dry.Changes)
	res = b.callAs(t, tokB, "GET", "/t/acme/api/v1/google/sync", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	got := decode[syncJSON](t, res)
	assert.True(t, got.DryRun)
	assert.Equal(t, dry.Changes, got.Changes, "the dry run's plan")
	assert.Equal(t, dry.Groups, got.Groups)
	assert.Equal(t, dry.MembersAdded, got.MembersAdded)
	assert.Equal(t, dry.Start.UnixMilli(), got.Start.UnixMilli())
	assert.Zero(t, got.ChangesOmitted)

	// A sync through B, by the operator API: read through A.
	res = b.call(t, "POST", "/api/v1/tenants/acme/google/sync", nil)
	require.Equal(t, http.StatusNoContent, res.status, "%s", res.body)
	res = a.callAs(t, tokA, "GET", "/t/acme/api/v1/google/sync", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	done := decode[syncJSON](t, res)
	assert.False(t, done.DryRun)
	assert.Equal(t, 1, done.GroupsCreated)
	assert.Equal(t, 1, done.MembersAdded)
	assert.Empty(t, done.Error)

	// A server started afterwards (a restart) reads it too, and so does the
	// health.
	c := newReplica(t, path)
	res = c.call(t, "POST", "/api/v1/tenants/acme/admin-tokens", nil)
	require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
	tokC := decode[map[string]any](t, res)["token"].(string)
	res = c.callAs(t, tokC, "GET", "/t/acme/api/v1/google/sync", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, 1, decode[syncJSON](t, res).MembersAdded)
	res = c.callAs(t, tokC, "GET", "/t/acme/api/v1/settings/health", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, done.Finished.UnixMilli(), decode[healthJSON](t, res).Google.LastSync.UnixMilli())

	// Each sync is an event of the tenant's log.
	res = c.call(t, "GET", "/api/v1/tenants/acme/events?type=sync.completed", nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	evs := decode[struct {
		Events []map[string]any `json:"events"`
	}](t, res).Events
	n := 0
	for _, e := range evs {
		if e["type"] == "sync.completed" {
			n++
			assert.Equal(t, "google", e["source"])
		}
	}
	assert.Equal(t, 2, n, "%s", res.body)
}
