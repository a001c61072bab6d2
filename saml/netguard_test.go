package saml

import (
	"errors"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/netguard"
)

// TestMetadataURLGuarded fetches the IdP metadata through a netguard
// client given as Deps.HTTPClient: refused on loopback by default, fetched
// once the host allows loopback.
func TestMetadataURLGuarded(t *testing.T) {
	s := newMetadataServer(t, readFile(t, "idp-metadata.xml"))
	cfg := testConfig(t)
	cfg.IdPMetadata = nil
	cfg.IdPMetadataURL = s.URL + "/metadata"
	cfg.MetadataRefresh = time.Hour
	tlsConfig := s.Client().Transport.(*http.Transport).TLSClientConfig
	client := func(g *netguard.Guard) *http.Client {
		c := g.Client()
		c.Transport.(*http.Transport).TLSClientConfig = tlsConfig
		return c
	}

	conn, err := New(cfg, identity.Deps{HTTPClient: client(netguard.New(netguard.Config{}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Refresh(t.Context()); !errors.Is(err, netguard.ErrBlocked) {
		t.Errorf("Refresh from a loopback URL through the guard: %v, want netguard.ErrBlocked", err)
	}
	if s.hits.Load() != 0 {
		t.Errorf("the metadata server was reached %d times", s.hits.Load())
	}

	allow := netguard.New(netguard.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	conn, err = New(cfg, identity.Deps{HTTPClient: client(allow)})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Refresh(t.Context()); err != nil {
		t.Errorf("Refresh with loopback allowed: %v", err)
	}
}
