package sqlstore

import (
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
