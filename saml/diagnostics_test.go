package saml

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/storage/sqlstore"
)

// withDiagnostics rebuilds e's connection with a diagnostics log.
func (e *env) withDiagnostics(t *testing.T, log identity.DiagnosticsLog, edit func(*Config)) {
	t.Helper()
	cfg := testConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	conn, err := New(cfg, identity.Deps{Clock: e.clock, Logger: e.conn.logger, Diagnostics: log})
	if err != nil {
		t.Fatal(err)
	}
	e.conn = conn
}

func lastAttempt(t *testing.T, log identity.DiagnosticsLog) identity.Attempt {
	t.Helper()
	as, err := log.Attempts(context.Background(), identity.AttemptQuery{Limit: 1})
	if err != nil || len(as) != 1 {
		t.Fatalf("Attempts = %v, %v", as, err)
	}
	return as[0]
}

// Every response the ACS handles is in the diagnostics log with its typed
// reason, and with the subject and email once they were verified.
func TestDiagnosticsReasons(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*Config)
		xml     func(t *testing.T) string
		pending bool
		reason  string
		subject string
	}{
		{"success", nil, func(t *testing.T) string { return fixtureXML(t, "both-signed") }, true, "", "jane-persistent-7f3a"},
		{"signature", nil, func(t *testing.T) string { return strings.Replace(fixtureXML(t, "both-signed"), ">Jane<", ">Eve<", 1) }, true, ReasonSignature, ""},
		{"audience", nil, func(t *testing.T) string { return fixtureXML(t, "wrong-audience") }, true, ReasonAudience, ""},
		{"expired", nil, func(t *testing.T) string { return fixtureXML(t, "expired") }, true, ReasonExpired, ""},
		{"in_response_to", nil, func(t *testing.T) string { return fixtureXML(t, "both-signed") }, false, ReasonInResponseTo, ""},
		{"subject (AD FS without NameID)", func(c *Config) { c.Preset = PresetADFS }, func(t *testing.T) string { return fixtureXML(t, "adfs-no-nameid") }, true, ReasonSubject, ""},
		{"group_limit", func(c *Config) { c.GroupLimit = 2 }, func(t *testing.T) string { return fixtureXML(t, "both-signed") }, true, ReasonGroupLimit, "jane-persistent-7f3a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			log := memory.NewDiagnostics(e.clock)
			e.withDiagnostics(t, log, tc.edit)
			if tc.pending {
				e.pending(t, fixtureRequest, "/desks")
			}
			res, err := e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(tc.xml(t)), Binding: testBinding, Reference: "REF-" + tc.name})
			a := lastAttempt(t, log)
			if a.Connection != "saml:acme" || a.Step != identity.StepACS || a.Reference != "REF-"+tc.name || !a.Time.Equal(received) {
				t.Errorf("attempt %+v", a)
			}
			if a.Reason != tc.reason || a.Reason != Reason(err) || a.Subject != tc.subject {
				t.Errorf("reason %q subject %q, want %q %q (err %v)", a.Reason, a.Subject, tc.reason, tc.subject, err)
			}
			if tc.reason == "" {
				if a.Outcome != identity.OutcomeSuccess || a.UserID != res.User.ID || a.Email != "jane.doe@example.test" {
					t.Errorf("success recorded as %+v", a)
				}
				// The same response again: a replay.
				e.pending(t, fixtureRequest, "/desks")
				_, err := e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(tc.xml(t)), Binding: testBinding})
				if a := lastAttempt(t, log); a.Reason != ReasonReplay || a.Outcome != identity.OutcomeFailure || err == nil {
					t.Errorf("replay recorded as %+v", a)
				}
			} else if a.Outcome != identity.OutcomeFailure || a.Detail == "" {
				t.Errorf("failure recorded as %+v", a)
			}
		})
	}
}

// The handler shows the browser the reference the diagnostics log keeps.
func TestDiagnosticsReference(t *testing.T) {
	e := newEnv(t, nil)
	log := memory.NewDiagnostics(e.clock)
	e.withDiagnostics(t, log, nil)
	w := postForm(e.mux(nil), "/saml/acme/acs", url.Values{"SAMLResponse": {b64(fixtureXML(t, "wrong-audience"))}})
	ref := regexp.MustCompile(`reference ([A-Z2-7]{10})`).FindStringSubmatch(w.Body.String())
	if w.Code != http.StatusForbidden || ref == nil {
		t.Fatalf("%d %q", w.Code, w.Body)
	}
	as, err := log.Attempts(context.Background(), identity.AttemptQuery{Reference: ref[1]})
	if err != nil || len(as) != 1 || as[0].Reason != ReasonInResponseTo && as[0].Reason != ReasonBinding {
		t.Errorf("attempt of reference %s: %+v, %v", ref[1], as, err)
	}
	if !strings.Contains(e.log.String(), "reference="+ref[1]) {
		t.Errorf("the log lacks the reference:\n%s", e.log)
	}
}

// Neither the response, nor its assertion, signature or attribute values
// that are not recorded, nor the browser binding enter the stored rows: the
// SQLite files of a diagnostics log are grepped for them after a success and
// a failure.
func TestDiagnosticsNoSecrets(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "diag.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	e.withDiagnostics(t, db.Diagnostics("acme"), nil)
	resp := fixtureXML(t, "encrypted")
	e.pending(t, fixtureRequest, "/desks")
	if _, err := e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(resp), Binding: testBinding, Reference: "R1"}); err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(fixtureXML(t, "both-signed"), ">Jane<", ">Eve<", 1)
	e.pending(t, fixtureRequest, "/desks")
	if _, err := e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(tampered), Binding: testBinding, Reference: "R2"}); err == nil {
		t.Fatal("tampered response accepted")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var stored []byte
	files, _ := os.ReadDir(dir)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, b...)
	}
	if !bytes.Contains(stored, []byte("jane-persistent-7f3a")) || !bytes.Contains(stored, []byte("R2")) {
		t.Fatal("the rows are not in the files grepped")
	}
	sigs := regexp.MustCompile(`<ds:SignatureValue>([^<]{40})`).FindAllStringSubmatch(tampered, -1)
	ciphers := regexp.MustCompile(`<xenc:CipherValue>([^<]{40})`).FindAllStringSubmatch(resp, -1)
	secrets := []string{b64(resp)[:60], b64(tampered)[:60], "<saml:Assertion", "Facilities", "6f1c2b9e-0d6a-4d5e-9a7b-2f8c1e3d4a5b", testBinding}
	for _, m := range append(sigs, ciphers...) {
		secrets = append(secrets, m[1])
	}
	if len(secrets) < 8 {
		t.Fatalf("fixture: %d secrets", len(secrets))
	}
	for _, s := range secrets {
		if bytes.Contains(stored, []byte(s)) {
			t.Errorf("the diagnostics log stores %q", s)
		}
	}
}
