package main

import (
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// started runs run in the background as main does, and returns the address it
// listens on, its stderr and a function that stops it and returns run's error.
func started(t *testing.T, args []string, vars map[string]string) (addr string, stderr *syncBuffer, stop func() error) {
	t.Helper()
	if !slices.Contains(args, "-db") && !slices.Contains(args, "-postgres") {
		args = append(slices.Clip(args), "-db", filepath.Join(t.TempDir(), "rollcall.db"))
	}
	ctx, cancel := context.WithCancel(t.Context())
	stderr = &syncBuffer{}
	listening := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, env(vars), stderr, func(a net.Addr) { listening <- a }) }()
	select {
	case a := <-listening:
		addr = a.String()
	case err := <-done:
		cancel()
		t.Fatalf("run returned before listening: %v\n%s", err, stderr)
	}
	var once bool
	var result error
	stop = func() error {
		if !once {
			once = true
			cancel()
			result = <-done
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return addr, stderr, stop
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func TestRunServesAndShutsDown(t *testing.T) {
	addr, stderr, stop := started(t, []string{"-addr", "127.0.0.1:0"}, nil)

	status, body := get(t, "http://"+addr+"/healthz", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok", body)

	// The generated token is printed once, with how to use it, and works.
	out := stderr.String()
	m := regexp.MustCompile(`Authorization: Bearer ([A-Za-z0-9_-]{43})' http://` + regexp.QuoteMeta(addr) + `/api/v1/users`).FindStringSubmatch(out)
	require.NotNil(t, m, "stderr: %s", out)
	token := m[1]
	status, _ = get(t, "http://"+addr+"/api/v1/users", token)
	assert.Equal(t, http.StatusOK, status)
	status, _ = get(t, "http://"+addr+"/api/v1/users", "")
	assert.Equal(t, http.StatusUnauthorized, status)

	require.NoError(t, stop(), "a shutdown by context is not an error")
	assert.Contains(t, stderr.String(), "shutting down")
	assert.Equal(t, 2, strings.Count(stderr.String(), token), "printed once: the token line and the curl line, never logged")
	_, err := net.Dial("tcp", addr)
	assert.Error(t, err, "the listener is closed")
}

func TestRunWithTokenFromEnvironment(t *testing.T) {
	addr, stderr, stop := started(t, []string{"-addr", "127.0.0.1:0"}, map[string]string{EnvAdminToken: testToken})
	status, _ := get(t, "http://"+addr+"/api/v1/users", testToken)
	assert.Equal(t, http.StatusOK, status)
	require.NoError(t, stop())
	assert.NotContains(t, stderr.String(), "generated")
	assert.NotContains(t, stderr.String(), testToken)
}

func TestRunConfigFile(t *testing.T) {
	path := writeConfig(t, `{"tenant": "acme", "adminToken": "file-token-0123456789"}`)
	addr, stderr, stop := started(t, []string{"-config", path, "-addr", "127.0.0.1:0"}, nil)
	status, _ := get(t, "http://"+addr+"/api/v1/users", "file-token-0123456789")
	assert.Equal(t, http.StatusOK, status)
	require.NoError(t, stop())
	assert.Contains(t, stderr.String(), "tenant=acme")
}

func TestRunErrors(t *testing.T) {
	ctx := t.Context()
	err := run(ctx, []string{"-config", writeConfig(t, `{"tenat": "x"}`)}, env(nil), io.Discard, nil)
	assert.ErrorContains(t, err, `unknown field "tenat"`)

	err = run(ctx, []string{"-h"}, env(nil), io.Discard, nil)
	assert.ErrorIs(t, err, flag.ErrHelp)

	err = run(ctx, []string{"extra"}, env(nil), io.Discard, nil)
	assert.ErrorContains(t, err, "unexpected arguments")

	// The address is taken.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = run(ctx, []string{"-addr", ln.Addr().String(), "-db", ":memory:"}, env(nil), io.Discard, nil)
	assert.Error(t, err)
}
