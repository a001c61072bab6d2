package oauth_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/storage/sqlstore"
)

func lastAttempt(t *testing.T, log identity.DiagnosticsLog) identity.Attempt {
	t.Helper()
	as, err := log.Attempts(context.Background(), identity.AttemptQuery{Limit: 1})
	if err != nil || len(as) != 1 {
		t.Fatalf("Attempts = %v, %v", as, err)
	}
	return as[0]
}

// Every callback is in the diagnostics log with its typed reason, and with
// the subject and email once the ID token was verified.
func TestDiagnosticsReasons(t *testing.T) {
	for _, tc := range []struct {
		name    string
		claims  map[string]any
		setup   func(f *fakeOP)
		reason  string
		subject string
	}{
		{"success", map[string]any{"sub": "d-1", "email": "ann@example.com", "email_verified": true}, nil, "", "d-1"},
		{"domain_not_allowed", map[string]any{"sub": "d-2", "email": "bob@other.org", "email_verified": true}, nil, oauth.ReasonDomainNotAllowed, "d-2"},
		{"email_unverified", map[string]any{"sub": "d-3", "email": "cat@example.com"}, nil, oauth.ReasonEmailUnverified, "d-3"},
		{"token expired", map[string]any{"sub": "d-4", "exp": 1}, nil, oauth.ReasonToken, ""},
		{"provider down", map[string]any{"sub": "d-5"}, func(f *fakeOP) { f.keysStatus = http.StatusBadGateway }, oauth.ReasonProvider, ""},
		{"exchange", map[string]any{"sub": "d-6"}, func(f *fakeOP) { f.challenge = "other" }, oauth.ReasonExchange, ""},
		{"group_overage", map[string]any{"sub": "d-7", "email": "dan@example.com", "email_verified": true, "hasgroups": true}, nil, oauth.ReasonGroupOverage, "d-7"},
		{"group_limit", map[string]any{"sub": "d-8", "email": "eve@example.com", "email_verified": true, "groups": []string{"a", "b", "c"}}, nil, oauth.ReasonGroupLimit, "d-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := memory.NewDiagnostics(nil)
			tn, f := groupTenant(t, "oauth:corp", oauth.Config{AllowedDomains: []string{"example.com"}, GroupLimit: 2}, identity.Deps{Diagnostics: log})
			tc.claims["iss"] = f.URL
			login := tn.begin()
			f.mu.Lock()
			f.claims = tc.claims
			if tc.setup != nil {
				tc.setup(f)
			}
			f.mu.Unlock()
			res, err := tn.conn.Finish(context.Background(), tn.dir, tn.keys, oauth.Callback{State: login.State, Code: "code-1", BrowserState: login.State, Reference: "REF1"})
			a := lastAttempt(t, log)
			if a.Connection != "oauth:corp" || a.Step != identity.StepCallback || a.Reference != "REF1" || !a.Time.Equal(tn.clock.Now().UTC()) {
				t.Errorf("attempt %+v", a)
			}
			if a.Reason != tc.reason || a.Reason != oauth.Reason(err) || a.Subject != tc.subject {
				t.Errorf("reason %q subject %q, want %q %q (err %v)", a.Reason, a.Subject, tc.reason, tc.subject, err)
			}
			if tc.reason == "" && (a.Outcome != identity.OutcomeSuccess || a.UserID != res.User.ID || a.UserID == "" || a.Email != "ann@example.com") {
				t.Errorf("success recorded as %+v", a)
			}
			if tc.reason != "" && (a.Outcome != identity.OutcomeFailure || a.Detail == "") {
				t.Errorf("failure recorded as %+v", a)
			}

			// A replayed callback is a state failure.
			_, err = tn.conn.Finish(context.Background(), tn.dir, tn.keys, oauth.Callback{State: login.State, Code: "code-1", BrowserState: login.State})
			if a := lastAttempt(t, log); a.Reason != oauth.ReasonState || err == nil {
				t.Errorf("replay recorded as %+v", a)
			}
		})
	}
	// A login that cannot start (discovery down) is recorded at the login step.
	log := memory.NewDiagnostics(nil)
	conn, err := oauth.New(oauth.Config{Provider: oauth.Discover("corp", "http://127.0.0.1:1"), ClientID: "c", RedirectURL: "https://app.example/cb"}, identity.Deps{Diagnostics: log, HTTPClient: &http.Client{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Begin(context.Background(), nil, ""); err == nil {
		t.Fatal("Begin with discovery down")
	}
	if a := lastAttempt(t, log); a.Step != identity.StepLogin || a.Reason != oauth.ReasonProvider {
		t.Errorf("login recorded as %+v", a)
	}
}

// Neither the ID token, the access token, the code, the state nor the client
// secret enter the stored rows: the SQLite files of a diagnostics log are
// grepped for them after a success and failures.
func TestDiagnosticsNoSecrets(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "diag.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeOP(t, identitytest.NewClock())
	tn := newTenant(t, f, oauth.Config{Provider: oauth.Discover("corp", f.URL), AllowedDomains: []string{"example.com"}}, identity.Deps{Diagnostics: db.Diagnostics("acme")})
	var states []string
	for _, claims := range []map[string]any{
		{"iss": f.URL, "sub": "n-1", "email": "ann@example.com", "email_verified": true},
		{"iss": f.URL, "sub": "n-2", "email": "bob@other.org", "email_verified": true},
		{"iss": f.URL, "sub": "n-3", "exp": 1},
	} {
		login := tn.begin()
		states = append(states, login.State)
		f.mu.Lock()
		f.claims = claims
		f.mu.Unlock()
		tn.conn.Finish(context.Background(), tn.dir, tn.keys, oauth.Callback{State: login.State, Code: "code-1", BrowserState: login.State, Reference: "R-" + claims["sub"].(string)})
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var stored []byte
	files, _ := os.ReadDir(dir)
	for _, fi := range files {
		b, err := os.ReadFile(filepath.Join(dir, fi.Name()))
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, b...)
	}
	if !bytes.Contains(stored, []byte("R-n-2")) || !bytes.Contains(stored, []byte("bob@other.org")) {
		t.Fatal("the rows are not in the files grepped")
	}
	if len(f.idTokens) != 3 {
		t.Fatalf("%d ID tokens issued", len(f.idTokens))
	}
	secrets := append([]string{clientSecret, "code-1", "at-1"}, states...)
	for _, tok := range f.idTokens {
		parts := strings.Split(tok, ".")
		secrets = append(secrets, tok[:40], parts[1][:40], parts[2][:40])
	}
	for _, s := range secrets {
		if bytes.Contains(stored, []byte(s)) {
			t.Errorf("the diagnostics log stores %q", s)
		}
	}
}
