package importer_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
)

func newServer(t *testing.T, e *env) *httptest.Server {
	t.Helper()
	h, err := importer.NewHandler(importer.HandlerConfig{
		Importer: e.im,
		Resolve:  identity.Fixed(identity.Tenant{Directory: e.dir}),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/users/", h)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func upload(t *testing.T, url, filename string, content []byte, fields map[string]string) (*http.Response, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", filename)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/users/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// The reference's curl example, flags as it sends them.
func TestHTTPImportReference(t *testing.T) {
	e := referenceEnv(t)
	ts := newServer(t, e)
	resp, body := upload(t, ts.URL, "users.csv", []byte(referenceCSV), map[string]string{"update": "1", "deactivate": "0", "restore": "1", "dry_run": "0"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var want, got any
	json.Unmarshal([]byte(referenceJSON), &want)
	json.Unmarshal(body, &got)
	if jsonOf(t, got) != jsonOf(t, want) {
		t.Fatalf("got %s", body)
	}
}

func TestHTTPStatuses(t *testing.T) {
	e := newEnv(t, importer.Config{MaxFileSize: 1000})
	ts := newServer(t, e)
	for _, c := range []struct {
		name    string
		file    string
		content []byte
		fields  map[string]string
		status  int
	}{
		{"too large", "u.csv", bytes.Repeat([]byte("a"), 2000), nil, 413},
		{"unknown", "u.bin", []byte{0, 1, 2, 3, 0, 0}, nil, 415},
		{"mismatch", "u.xls", []byte("email\na@b.de\n"), nil, 415},
		{"unreadable zip", "u.xlsx", []byte("PK\x03\x04garbage"), nil, 422},
		{"no email column", "u.csv", []byte("name\nx\n"), nil, 422},
		{"bad flag", "u.csv", []byte("email\na@b.de\n"), map[string]string{"update": "maybe"}, 422},
		{"true flag", "u.csv", []byte("email\na@b.de\n"), map[string]string{"update": "true", "dry_run": "TRUE"}, 200},
	} {
		resp, body := upload(t, ts.URL, c.file, c.content, c.fields)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.status)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("%s: body %q", c.name, body)
		}
	}
	resp, _ := http.Get(ts.URL + "/api/v1/users/import")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET import: %d", resp.StatusCode)
	}
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

func TestExportThenImportSkipsEveryRow(t *testing.T) {
	for _, format := range []string{"csv", "xlsx"} {
		t.Run(format, func(t *testing.T) {
			e := newEnv(t, importer.Config{})
			ts := newServer(t, e)
			e.mustRun(t, "seed.csv", "email,first name,last name,display name,department,phone,employee number,active,groups\n"+
				"ada@acme.example,Ada,Lövelace,,=cmd|' /C calc'!A0,+49 30 1234,007,true,\"Berlin, Staff\"\n"+
				"bob@acme.example,Bob,山田,Bob Y.,@SUM(1),0301234,-12,false,\n"+
				"cy@acme.example,Łukasz,Müller,,\tTab,,,1,"+`"Staff,""Sales, EMEA"", """"""Quoted"""" team"""`+"\n", importer.Options{})
			// An external group stays out of the export.
			ext, _ := e.dir.CreateGroup(context.Background(), "scim", "Okta", "")
			e.dir.AddMember(context.Background(), "scim", ext.ID, e.user(t, "ada@acme.example").ID)
			file := get(t, ts.URL+"/api/v1/users/export?format="+format)
			if format == "csv" {
				if !bytes.HasPrefix(file, []byte("\uFEFF")) {
					t.Error("no BOM")
				}
				recs, err := csv.NewReader(bytes.NewReader(file[3:])).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				for _, rec := range recs {
					for _, c := range rec {
						if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
							t.Errorf("cell %q not neutralised", c)
						}
					}
				}
				i := slices.IndexFunc(recs, func(r []string) bool { return r[0] == "ada@acme.example" })
				if i < 0 || !slices.Contains(recs[i], "Berlin, Staff") || !slices.Contains(recs[i], "'=cmd|' /C calc'!A0") {
					t.Errorf("export %q", recs)
				}
			}
			resp, body := upload(t, ts.URL, "users."+format, file, map[string]string{"update": "1"})
			var res importer.Result
			if err := json.Unmarshal(body, &res); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if !slices.Equal(res.Skipped, []int{2, 3, 4}) || res.Rows != 3 {
				t.Fatalf("%s", body)
			}
			// Names with a comma or a leading quote came through whole.
			gs, err := e.dir.Reader().UserGroups(context.Background(), e.user(t, "cy@acme.example").ID)
			var names []string
			for _, g := range gs {
				names = append(names, g.Name)
			}
			slices.Sort(names)
			if err != nil || !slices.Equal(names, []string{`"Quoted" team`, "Sales, EMEA", "Staff"}) {
				t.Fatalf("cy's groups %q, %v", names, err)
			}
		})
	}
}

func TestTemplates(t *testing.T) {
	e := newEnv(t, importer.Config{})
	ts := newServer(t, e)
	for _, format := range []string{"csv", "xlsx"} {
		file := get(t, ts.URL+"/api/v1/users/import/template?format="+format)
		res := e.mustRun(t, "template."+format, string(file), importer.Options{DryRun: true})
		if !slices.Equal(res.Created, []int{2}) {
			t.Fatalf("%s: %s", format, jsonOf(t, res))
		}
	}
	e.mustRun(t, "template.csv", string(get(t, ts.URL+"/api/v1/users/import/template")), importer.Options{})
	if u := e.user(t, "ada.lovelace@example.com"); u.Attributes["employeeNumber"] != "00042" {
		t.Fatalf("%+v", u)
	}
}

// A request without form data has no file field, and two files are refused
// rather than one of them imported (with deactivate, the wrong one would
// deactivate the users of the other).
func TestHTTPFileField(t *testing.T) {
	e := newEnv(t, importer.Config{})
	ts := newServer(t, e)
	var two bytes.Buffer
	mw := multipart.NewWriter(&two)
	for _, name := range []string{"a.csv", "b.csv"} {
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write([]byte("email\n" + name + "@acme.example\n"))
	}
	mw.Close()
	for _, c := range []struct {
		name, contentType, body string
	}{
		{"form", "application/x-www-form-urlencoded", "update=1"},
		{"no body", "", ""},
		{"two files", mw.FormDataContentType(), two.String()},
	} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/users/import", strings.NewReader(c.body))
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body struct{ Errors map[string][]string }
		if json.Unmarshal(b, &body); resp.StatusCode != http.StatusUnprocessableEntity || len(body.Errors["file"]) != 1 {
			t.Errorf("%s: %d %s, want 422 with an error for file", c.name, resp.StatusCode, b)
		}
	}
	if page, _ := e.dir.Reader().ListUsers(context.Background(), identity.UserQuery{Limit: 10}); len(page.Users) != 0 {
		t.Errorf("%d users imported", len(page.Users))
	}
}
