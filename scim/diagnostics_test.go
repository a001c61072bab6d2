package scim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/scim"
	"github.com/rollcall/rollcall/storage/memory"
)

// Each request of the tenant's client is in its diagnostics log with its
// outcome and typed reason; bodies and tokens never are.
func TestRequestsRecorded(t *testing.T) {
	log := memory.NewDiagnostics(nil)
	var e *env
	e = newEnv(t, func(c *scim.Config, _ *identity.Config) {
		c.Resolve = func(r *http.Request) (identity.Tenant, error) {
			return identity.Tenant{Directory: e.dir, Diagnostics: log}, nil
		}
	})
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.example","emails":[{"value":"ada@acme.example","primary":true}]}`
	created := e.do(http.MethodPost, "/Users", body).must(t, http.StatusCreated)
	e.do(http.MethodPost, "/Users", body).must(t, http.StatusConflict)
	e.do(http.MethodGet, `/Users?filter=userName%20eq`, "").must(t, http.StatusBadRequest)
	e.doToken("not-the-token", http.MethodGet, "/Users", "").must(t, http.StatusUnauthorized)

	got, err := log.Attempts(context.Background(), identity.AttemptQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d entries, want 4: %+v", len(got), got)
	}
	// Newest first.
	want := []struct {
		outcome identity.AttemptOutcome
		reason  string
	}{
		{identity.OutcomeFailure, scim.ReasonBadToken},
		{identity.OutcomeFailure, "invalidFilter"},
		{identity.OutcomeFailure, "uniqueness"},
		{identity.OutcomeSuccess, ""},
	}
	for i, w := range want {
		a := got[i]
		if a.Outcome != w.outcome || a.Reason != w.reason || a.Connection != "scim" || a.Step != identity.StepRequest {
			t.Errorf("entry %d: %+v, want %s %q", i, a, w.outcome, w.reason)
		}
		for _, secret := range []string{testToken, "not-the-token", `"schemas"`} {
			if strings.Contains(a.Detail, secret) {
				t.Errorf("entry %d holds %q: %+v", i, secret, a)
			}
		}
	}
	if got[3].Detail != "POST /Users" || created.str("id") == "" {
		t.Errorf("the create's entry: %+v", got[3])
	}
}
