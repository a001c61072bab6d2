package memory_test

import (
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/storage/storagetest"
)

func TestDiagnostics(t *testing.T) {
	storagetest.RunDiagnostics(t, func(t *testing.T, clock identity.Clock) func(string) identity.DiagnosticsLog {
		logs := map[string]*memory.DiagnosticsLog{}
		return func(tenant string) identity.DiagnosticsLog {
			if logs[tenant] == nil {
				logs[tenant] = memory.NewDiagnostics(clock)
			}
			return logs[tenant]
		}
	})
}
