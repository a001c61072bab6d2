package saml_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/saml"
	"github.com/rollcall/rollcall/storage/memory"
)

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}

// A connection signs in a user from an IdP-initiated AD FS response; the
// first login creates the user and its memberOf groups. (The fixture is
// pinned in time: the package's tests set crewjam's global clock to it.)
func ExampleConnection_ACS() {
	key, cert := must2(saml.LoadKeyPair(must(os.ReadFile("testdata/keys/sp.crt")), must(os.ReadFile("testdata/keys/sp.key"))))
	conn := must(saml.New(saml.Config{
		Name:        "acme",
		IdPMetadata: must(os.ReadFile("testdata/idp-metadata.xml")),
		EntityID:    "https://sp.example.test/saml/acme/metadata",
		ACSURL:      "https://sp.example.test/saml/acme/acs",
		Key:         key,
		Certificate: cert,
		Preset:      saml.PresetADFS, // memberOf as an LDAP array

		AllowIDPInitiated: true, // the response names no request
	}, identity.Deps{Clock: fixedClock{}}))

	db := memory.New()
	dir := must(identity.New(db.Tenant("acme"), identity.Config{Tenant: "acme", GroupSource: groups.SAMLSource("acme"), Clock: fixedClock{}}))
	keys := db.Keys("acme", fixedClock{})
	ctx := context.Background()

	response := base64.StdEncoding.EncodeToString(must(os.ReadFile("testdata/responses/adfs-idp-initiated.xml")))
	res := must(conn.ACS(ctx, dir, keys, saml.Post{SAMLResponse: response, RelayState: "/desks"}))
	fmt.Println(res.User.Email, res.Created, res.RelayState, res.Expires.Format(time.RFC3339))
	fmt.Println(res.Groups.Create)
	// Output:
	// john.smith@example.test true /desks 2026-01-02T11:04:05Z
	// [Smith, John Desk Admins]
}

// A host mounts the three handlers on its own mux, resolving the tenant and
// connection of each request.
func ExampleHandler() {
	tenants := map[string]identity.Tenant{}                        // by host name, filled from the host's configuration
	conns := map[*identity.Directory]map[string]*saml.Connection{} // by tenant and name
	h, err := saml.NewHandler(saml.HandlerConfig{
		Resolve: func(r *http.Request) (identity.Tenant, error) {
			t, ok := tenants[r.Host]
			if !ok {
				return t, fmt.Errorf("no tenant at %q: %w", r.Host, identity.ErrNotFound)
			}
			return t, nil
		},
		Connection: func(_ context.Context, t identity.Tenant, name string) (*saml.Connection, error) {
			if c := conns[t.Directory][name]; c != nil {
				return c, nil
			}
			return nil, fmt.Errorf("no SAML connection %q: %w", name, identity.ErrNotFound)
		},
		SignedIn: func(w http.ResponseWriter, r *http.Request, res saml.Result) {
			// Set the host's own session cookie, to expire at res.Expires.
			to := res.RelayState
			if to == "" {
				to = "/"
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /saml/{connection}/metadata", h.Metadata())
	mux.Handle("GET /saml/{connection}/login", h.Login())
	mux.Handle("POST /saml/{connection}/acs", h.ACS())
}

// fixedClock is the time the fixtures were received.
type fixedClock struct{}

func (fixedClock) Now() time.Time { return time.Date(2026, 1, 2, 3, 4, 15, 0, time.UTC) }

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		log.Fatal(err)
	}
	return a, b
}
