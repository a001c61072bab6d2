package identity_test

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/rollcall/rollcall/identity"
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
