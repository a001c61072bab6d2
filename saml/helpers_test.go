package saml

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/storage/memory"
)

// The fixtures of testdata/ were issued at identitytest.Epoch (see make.js);
// the SP receives them ten seconds later.
var (
	issued   = identitytest.Epoch
	received = issued.Add(10 * time.Second)
)

const (
	fixtureRequest = "id-request-1" // the InResponseTo of the fixtures
	spEntityID     = "https://sp.example.test/saml/acme/metadata"
	spACS          = "https://sp.example.test/saml/acme/acs"
	idpEntityID    = "https://idp.example.test/metadata"
	testBinding    = "browser-binding-1" // the browser binding of pending requests
)

// TestMain sets crewjam's global clocks once, for every test: crewjam has no
// per-ServiceProvider clock (see the package comment).
func TestMain(m *testing.M) {
	crewjam.TimeNow = func() time.Time { return received }
	crewjam.Clock = dsig.NewFakeClockAt(received)
	os.Exit(m.Run())
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureXML returns a response of testdata/responses.
func fixtureXML(t testing.TB, name string) string {
	return strings.TrimSpace(string(readFile(t, "responses/"+name+".xml")))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// env is one tenant "acme" with one connection "acme" to the samlify IdP.
type env struct {
	conn  *Connection
	dir   *identity.Directory
	keys  *memory.KeyStore
	db    *memory.DB
	clock *identitytest.Clock
	sink  *identitytest.Sink
	log   *bytes.Buffer
}

func testConfig(t testing.TB) Config {
	key, cert, err := LoadKeyPair(readFile(t, "keys/sp.crt"), readFile(t, "keys/sp.key"))
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Name:        "acme",
		IdPMetadata: readFile(t, "idp-metadata.xml"),
		EntityID:    spEntityID,
		ACSURL:      spACS,
		Key:         key,
		Certificate: cert,
		Preset:      PresetEntra,
	}
}

// newEnv returns an env whose tenant has this connection as its group
// source; edit changes the connection's config first.
func newEnv(t testing.TB, edit func(*Config)) *env {
	t.Helper()
	cfg := testConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	e := &env{db: memory.New(), clock: identitytest.NewClock(), sink: &identitytest.Sink{}, log: &bytes.Buffer{}}
	e.clock.Set(received)
	logger := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	e.conn, err = New(cfg, identity.Deps{Clock: e.clock, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e.dir, err = identity.New(e.db.Tenant("acme"), identity.Config{
		Tenant: "acme", GroupSource: "saml:acme", Clock: e.clock, Events: e.sink, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.keys = e.db.Keys("acme", e.clock)
	return e
}

// pending marks a request ID as issued by this SP to the browser of
// testBinding, as Login does.
func (e *env) pending(t testing.TB, id, relay string) {
	t.Helper()
	if _, err := e.keys.SetIfAbsent(context.Background(), e.conn.requestKey(id), pendingValue(testBinding, relay), e.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// post posts a response (XML) to the ACS, with the fixtures' request pending.
func (e *env) post(t testing.TB, xml string) (Result, error) {
	t.Helper()
	e.pending(t, fixtureRequest, "/desks")
	return e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(xml), Binding: testBinding})
}

func (e *env) groupNames(t testing.TB, userID string) []string {
	t.Helper()
	gs, err := e.dir.Reader().UserGroups(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
	}
	return names
}
