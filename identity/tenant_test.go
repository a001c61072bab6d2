package identity_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/storage/memory"
)

func TestFixedResolver(t *testing.T) {
	dir, err := identity.New(memory.New().Tenant("acme"), identity.Config{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	want := identity.Tenant{Directory: dir}
	got, err := identity.Fixed(want)(httptest.NewRequest("GET", "/", nil))
	if err != nil || got.Directory != dir {
		t.Fatalf("Fixed: got %+v, %v; want the tenant given", got, err)
	}
}

func TestTenantLoggerOr(t *testing.T) {
	fallback, own := slog.New(slog.DiscardHandler), slog.New(slog.DiscardHandler)
	if (identity.Tenant{}).LoggerOr(fallback) != fallback {
		t.Error("a Tenant without a Logger: want the fallback")
	}
	if (identity.Tenant{Logger: own}).LoggerOr(fallback) != own {
		t.Error("a Tenant with a Logger: want its own")
	}
}

// Defaults fills the zero fields of Deps and keeps the set ones.
func TestDepsDefaults(t *testing.T) {
	made := 0
	client := func() *http.Client { made++; return &http.Client{} }
	d := identity.Deps{}.Defaults(client)
	if d.Clock == nil || d.Logger == nil || d.HTTPClient == nil || made != 1 {
		t.Fatalf("zero Deps: %+v, client made %d times", d, made)
	}
	if d.Diagnostics != nil {
		t.Errorf("Diagnostics %v, want nil", d.Diagnostics)
	}
	own := &http.Client{}
	logger := slog.New(slog.DiscardHandler)
	clock := identitytest.NewClock()
	d = identity.Deps{Clock: clock, Logger: logger, HTTPClient: own}.Defaults(client)
	if d.Clock != clock || d.Logger != logger || d.HTTPClient != own || made != 1 {
		t.Errorf("set Deps changed: %+v, client made %d times", d, made)
	}
}
