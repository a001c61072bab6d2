package main

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// uploadTo posts a file to a tenant's import API with the reference's form
// fields.
func (ts *testServer) uploadTo(t *testing.T, token, path, name, content string, fields map[string]string) response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	require.NoError(t, err)
	_, err = io.WriteString(fw, content)
	require.NoError(t, err)
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	require.NoError(t, mw.Close())
	return ts.callAs(t, token, "POST", path, body.String(), "Content-Type", mw.FormDataContentType(), "Accept", "application/json")
}

// TestTenantImportSettings: a runtime tenant's import, through the admin API
// and through its portal's preview and apply, uses the limits and threshold
// of its own import settings, not the server's; another tenant keeps the
// defaults.
func TestTenantImportSettings(t *testing.T) {
	ts := newOperatorServer(t)
	acme := ts.newTenant(t, "acme", map[string]any{"import": map[string]any{"maxFileSize": 200, "maxRows": 4, "threshold": 0.2}})
	beta := ts.newTenant(t, "beta", map[string]any{})
	for _, c := range []struct{ id, token string }{{"acme", acme}, {"beta", beta}} {
		for i := 1; i <= 5; i++ {
			res := ts.callAs(t, c.token, "POST", "/t/"+c.id+"/api/v1/users", map[string]any{"email": fmt.Sprintf("u%d@acme.example", i)})
			require.Equal(t, http.StatusCreated, res.status, "%s", res.body)
		}
	}
	big := "email,firstName\n" + strings.Repeat("someone.with.a.long.name@acme.example,Someone\n", 6) // over 200 bytes
	rows := "email\nu1@acme.example\nu2@acme.example\nu3@acme.example\nu4@acme.example\nu5@acme.example\n"
	three := "email\nu1@acme.example\nu2@acme.example\nu3@acme.example\n" // deactivates 2 of 5: 40%
	deactivate := map[string]string{"deactivate": "1", "dry_run": "1"}

	// The admin API.
	res := ts.uploadTo(t, acme, "/t/acme/api/v1/users/import", "big.csv", big, nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.status, "%s", res.body)
	assert.Contains(t, string(res.body), "the file is over the limit of 200 for its file size")
	res = ts.uploadTo(t, acme, "/t/acme/api/v1/users/import", "rows.csv", rows, map[string]string{"dry_run": "1"})
	require.Equal(t, http.StatusRequestEntityTooLarge, res.status, "%s", res.body)
	assert.Contains(t, string(res.body), "the file is over the limit of 4 for its rows")
	res = ts.uploadTo(t, acme, "/t/acme/api/v1/users/import", "three.csv", three, deactivate)
	require.Equal(t, http.StatusUnprocessableEntity, res.status, "%s", res.body)
	assert.Contains(t, string(res.body), "would deactivate 2 of 5 active users, more than 20%")
	for name, file := range map[string]string{"big.csv": big, "rows.csv": rows, "three.csv": three} {
		fields := map[string]string{"dry_run": "1"}
		if name == "three.csv" {
			fields = deactivate
		}
		res = ts.uploadTo(t, beta, "/t/beta/api/v1/users/import", name, file, fields)
		assert.Equal(t, http.StatusOK, res.status, "beta, on the defaults, imports %s: %s", name, res.body)
	}

	// A change of the settings is in force at the next import.
	res = ts.call(t, "GET", "/api/v1/tenants/acme/settings", nil)
	require.Equal(t, http.StatusOK, res.status)
	st := decode[map[string]any](t, res)
	st["import"] = map[string]any{"maxFileSize": 200, "maxRows": 4, "threshold": 0.5}
	res = ts.call(t, "PUT", "/api/v1/tenants/acme/settings", st)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	res = ts.uploadTo(t, acme, "/t/acme/api/v1/users/import", "three.csv", three, deactivate)
	require.Equal(t, http.StatusOK, res.status, "a threshold of 50%% lets 40%% through: %s", res.body)
	assert.Contains(t, string(res.body), `"deleted":2`)
	st["import"] = map[string]any{"maxFileSize": 200, "maxRows": 4, "threshold": 0.2}
	delete(st, "version")
	res = ts.call(t, "PUT", "/api/v1/tenants/acme/settings", st)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)

	// The portal: its import section is on, with the tenant's settings.
	client := portalSession(t, ts, "acme")
	page, csrf := portalPage(t, client, ts.URL+"/t/acme/portal/import")
	require.Contains(t, page, `id="upload-h"`, "the import section is on for a runtime tenant")
	preview := func(name, content string, fields map[string]string) (int, string) {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, err := mw.CreateFormFile("file", name)
		require.NoError(t, err)
		_, _ = io.WriteString(fw, content)
		for k, v := range fields {
			require.NoError(t, mw.WriteField(k, v))
		}
		require.NoError(t, mw.WriteField("csrf", csrf))
		require.NoError(t, mw.Close())
		r, err := client.Post(ts.URL+"/t/acme/portal/import/preview", mw.FormDataContentType(), &body)
		require.NoError(t, err)
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	status, body := preview("big.csv", big, nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "the file is larger than 200 bytes")
	status, body = preview("rows.csv", rows, nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "the file is over the limit of 4 for its rows")
	status, body = preview("three.csv", three, map[string]string{"deactivate": "on"})
	assert.Equal(t, http.StatusBadRequest, status, "deactivates 2 of 5 active users (40%%), over 20%%: %s", body)
	assert.Contains(t, body, "would deactivate 2 of 5 active users, more than 20%")
	status, body = preview("ok.csv", "email\nu1@acme.example\nu2@acme.example\nnew@acme.example\n", nil)
	require.Equal(t, http.StatusOK, status, "deactivates none: %s", body)
	id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(body)[1]
	r, err := client.PostForm(ts.URL+"/t/acme/portal/import/apply", map[string][]string{"csrf": {csrf}, "id": {id}})
	require.NoError(t, err)
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	require.Equal(t, http.StatusOK, r.StatusCode, "%s", b)
	assert.Contains(t, string(b), `id="applied"`)
	res = ts.callAs(t, acme, "GET", "/t/acme/api/v1/users?search=new@acme.example", nil)
	assert.Contains(t, string(res.body), "new@acme.example", "the apply created the user")
}
