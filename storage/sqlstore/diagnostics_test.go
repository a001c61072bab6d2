package sqlstore

import (
	"fmt"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/storagetest"
)

func TestDiagnosticsConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storagetest.RunDiagnostics(t, func(t *testing.T, clock identity.Clock) func(string) identity.DiagnosticsLog {
				db := b.open(t, Options{Clock: clock})
				return func(tenant string) identity.DiagnosticsLog { return db.Diagnostics(tenant) }
			})
		})
	}
}

// BenchmarkDiagnostics times what a sign-in adds (RecordAttempt) and an
// admin's lookup by user in a log of 10,000 entries (Attempts).
func BenchmarkDiagnostics(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			log := be.open(b, Options{}).Diagnostics("acme")
			a := identity.Attempt{Connection: "saml:entra", Step: identity.StepACS, Outcome: identity.OutcomeFailure,
				Reason: "audience", Detail: "AudienceRestriction does not name this SP", Subject: "s", Email: "ann@example.com", Reference: "REF"}
			b.Run("RecordAttempt", func(b *testing.B) {
				for b.Loop() {
					if _, err := log.RecordAttempt(b.Context(), a); err != nil {
						b.Fatal(err)
					}
				}
			})
			for i := 0; i < 10_000; i++ {
				a.Email, a.Reference = fmt.Sprintf("user%d@example.com", i%500), fmt.Sprintf("REF%d", i)
				if _, err := log.RecordAttempt(b.Context(), a); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("AttemptsByUser", func(b *testing.B) {
				for b.Loop() {
					as, err := log.Attempts(b.Context(), identity.AttemptQuery{User: "user7@example.com", Limit: 50})
					if err != nil || len(as) == 0 {
						b.Fatal(len(as), err)
					}
				}
			})
			b.Run("AttemptsByReference", func(b *testing.B) {
				for b.Loop() {
					as, err := log.Attempts(b.Context(), identity.AttemptQuery{Reference: "REF4242"})
					if err != nil || len(as) != 1 {
						b.Fatal(len(as), err)
					}
				}
			})
		})
	}
}
