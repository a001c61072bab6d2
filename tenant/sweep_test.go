package tenant_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/tenant"
)

// TestPruneDiagnosticsPerTenant: a tenant whose settings bound its
// diagnostics log to 100 entries is pruned to its newest 100, while another
// tenant, on the defaults, keeps every entry.
func TestPruneDiagnosticsPerTenant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	logs := map[string]*memory.DiagnosticsLog{"acme": memory.NewDiagnostics(e.clock), "beta": memory.NewDiagnostics(e.clock)}
	rt, err := tenant.New(tenant.Config{
		Settings:    e.store,
		Stores:      func(id string) identity.Store { return e.db.Tenant(id) },
		Keys:        func(id string) identity.KeyStore { return e.db.Keys(id, e.clock) },
		Clock:       e.clock,
		Diagnostics: func(id string) identity.DiagnosticsLog { return logs[id] },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Create(ctx, "acme", settings.Settings{Diagnostics: settings.Diagnostics{MaxEntries: 100}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Create(ctx, "beta", settings.Settings{}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"acme", "beta"} {
		for i := range 150 {
			if _, err := logs[id].RecordAttempt(ctx, identity.Attempt{Connection: "saml:okta", Step: "acs",
				Outcome: identity.OutcomeSuccess, Subject: fmt.Sprintf("u%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := rt.PruneDiagnostics(ctx)
	if err != nil || n != 50 {
		t.Fatalf("pruned %d (%v), want 50", n, err)
	}
	count := func(id string) (int, string) {
		as, err := logs[id].Attempts(ctx, identity.AttemptQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		oldest := ""
		if len(as) > 0 {
			oldest = as[len(as)-1].Subject
		}
		return len(as), oldest
	}
	if got, oldest := count("acme"); got != 100 || oldest != "u50" {
		t.Errorf("acme keeps %d entries, the oldest %q; want 100, from u50", got, oldest)
	}
	if got, _ := count("beta"); got != 150 {
		t.Errorf("beta keeps %d entries, want its 150 (default bounds)", got)
	}

	// The age bound: a day, for beta now.
	if _, err := rt.Update(ctx, "beta", 0, func(s *settings.Settings) error {
		s.Diagnostics.MaxAge = settings.Duration(24 * time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(25 * time.Hour)
	if _, err := logs["beta"].RecordAttempt(ctx, identity.Attempt{Connection: "saml:okta", Step: "acs",
		Outcome: identity.OutcomeFailure, Subject: "late"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.PruneDiagnostics(ctx); err != nil {
		t.Fatal(err)
	}
	if got, oldest := count("beta"); got != 1 || oldest != "late" {
		t.Errorf("beta keeps %d entries (oldest %q) after a day, want the 1 recorded since", got, oldest)
	}
	if got, _ := count("acme"); got != 100 {
		t.Errorf("acme keeps %d entries after a day, want 100 (its age bound is the default 7 days)", got)
	}
}
