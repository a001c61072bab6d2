package oauth

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/rollcall/rollcall/identity"
)

func TestBool(t *testing.T) {
	for in, want := range map[string]bool{
		`true`: true, `false`: false, `"true"`: true, `"TRUE"`: true, `" true "`: true, `"1"`: true,
		`"false"`: false, `"0"`: false, `1`: true, `0`: false,
	} {
		var b Bool
		if err := json.Unmarshal([]byte(in), &b); err != nil || bool(b) != want {
			t.Errorf("%s: %v, %v; want %v", in, b, err, want)
		}
	}
	for _, in := range []string{`"yes"`, `""`, `2`, `1.0`, `{}`, `[]`, `"t"`} {
		var b Bool
		if err := json.Unmarshal([]byte(in), &b); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func TestDecodeClaims(t *testing.T) {
	c, err := decodeClaims([]byte(`{"sub":"s","email":"a@b.c","email_verified":"1","xms_edov":null,"EMAIL_VERIFIED":false,"Hd":"x.y"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "s" || !c.EmailVerified.isTrue() || c.EDOV != nil || c.HostedDomain != "" {
		t.Errorf("claims %+v", c)
	}
	// Names are exact: a differently cased claim is not the claim.
	c, err = decodeClaims([]byte(`{"sub":"s","Email_Verified":true}`))
	if err != nil || c.EmailVerified != nil {
		t.Errorf("claims %+v, %v", c, err)
	}
	for _, bad := range []string{`[]`, `null`, `{"sub":1}`, `{"email_verified":"maybe"}`, `{"hd":["a"]}`} {
		if _, err := decodeClaims([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// wantVerified is the reference reading of a raw email_verified value.
func wantVerified(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "true" || string(raw) == "1" {
		return true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		s = strings.ToLower(strings.TrimSpace(s))
		return s == "true" || s == "1"
	}
	return false
}

func FuzzDecodeClaims(f *testing.F) {
	for _, seed := range []string{
		`{"sub":"s","email":"a@example.com","email_verified":true,"hd":"example.com"}`,
		`{"sub":"s","email":"a@example.com","email_verified":"true"}`,
		`{"sub":"s","email":"a@Example.com ","email_verified":"1","tid":"t","oid":"o","xms_edov":"1","iss":"https://login.example/t/v2.0"}`,
		`{"sub":"s","email":"a@example.com","email_verified":"false","hd":null}`,
		`{"email_verified":0,"xms_edov":1}`,
		`{"sub":"","email":"@","email_verified":"TRUE"}`,
	} {
		f.Add([]byte(seed))
	}
	google := mustConnection(f, Config{Provider: Google, AllowedDomains: []string{"example.com"}})
	ms := Microsoft("organizations")
	microsoft := mustConnection(f, Config{Provider: ms, AllowedTenants: []string{"t"}, AllowedDomains: []string{"example.com"}})
	open := mustConnection(f, Config{Provider: Discover("any", "https://idp.example")})

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeClaims(data)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("decodeClaims accepted what a map does not: %v", err)
		}
		if raw, ok := m["email_verified"]; ok && c.EmailVerified != nil && c.EmailVerified.isTrue() != wantVerified(raw) {
			t.Fatalf("email_verified %s read as %v", raw, *c.EmailVerified)
		}
		if _, ok := m["email_verified"]; !ok && c.EmailVerified != nil {
			t.Fatalf("absent email_verified read as %v", *c.EmailVerified)
		}
		for _, conn := range []*Connection{google, microsoft, open} {
			got, err := conn.identify(c)
			if err != nil {
				continue
			}
			// Whatever passes had a subject and an email the provider
			// verified; the core is told it is verified only where the
			// domain filter is on.
			if got.Subject == "" || got.Email == "" || got.EmailVerified != (conn != open) {
				t.Fatalf("%s let in %+v from %s", conn.source, got, data)
			}
			switch conn {
			case open:
				if !c.EmailVerified.isTrue() {
					t.Fatalf("open let in an unverified email from %s", data)
				}
			case google:
				if !strings.EqualFold(strings.TrimSpace(c.HostedDomain), "example.com") {
					t.Fatalf("google let in hd %q", c.HostedDomain)
				}
			case microsoft:
				if c.TenantID != "t" || !c.EDOV.isTrue() || emailDomain(got.Email) != "example.com" || got.Subject != "https://login.microsoftonline.com/t/v2.0 "+c.ObjectID {
					t.Fatalf("microsoft let in %+v from %s", got, data)
				}
			}
		}
	})
}

func mustConnection(tb testing.TB, cfg Config, deps ...identity.Deps) *Connection {
	tb.Helper()
	cfg.ClientID = "client"
	cfg.RedirectURL = "https://app.example/oauth/callback"
	c, err := New(cfg, append(deps, identity.Deps{})[0])
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestReturnURL(t *testing.T) {
	c := mustConnection(t, Config{Provider: Google, ReturnURLs: []string{"https://app.example/welcome"}})
	for in, want := range map[string]string{
		"":                            "/",
		"/":                           "/",
		"/desks?floor=2#map":          "/desks?floor=2#map",
		"/a//b":                       "/a//b",
		"https://app.example/welcome": "https://app.example/welcome",
	} {
		if got, err := c.returnURL(in); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"//evil.example", `/\evil.example`, `\\evil.example`, "https://evil.example/", "http:/evil.example",
		"javascript:alert(1)", "desks", "/\t/evil.example", "/\n/evil.example", "/a\\b", "https://app.example/welcome/",
		"/" + strings.Repeat("a", 2048),
	} {
		if got, err := c.returnURL(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

func TestAuthStyle(t *testing.T) {
	for _, tc := range []struct {
		methods []string
		want    oauth2.AuthStyle
	}{
		{nil, oauth2.AuthStyleInHeader},
		{[]string{"client_secret_post"}, oauth2.AuthStyleInParams},
		{[]string{"client_secret_post", "client_secret_basic"}, oauth2.AuthStyleInHeader},
		{[]string{"private_key_jwt"}, oauth2.AuthStyleAutoDetect},
	} {
		if got := authStyle(tc.methods); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.methods, got, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	ok := Config{Provider: Google, ClientID: "c", RedirectURL: "https://app.example/cb"}
	if _, err := New(ok, identity.Deps{}); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"no client":          func(c *Config) { c.ClientID = "" },
		"relative redirect":  func(c *Config) { c.RedirectURL = "/cb" },
		"bad name":           func(c *Config) { c.Provider.Name = "Google!" },
		"auto-detect style":  func(c *Config) { c.Provider.AuthStyle = oauth2.AuthStyleAutoDetect },
		"partial endpoints":  func(c *Config) { c.Provider.JWKSURL = "" },
		"domain with @":      func(c *Config) { c.AllowedDomains = []string{"@example.com"} },
		"tenants not for me": func(c *Config) { c.AllowedTenants = []string{"t"} },
		"bad default return": func(c *Config) { c.DefaultReturnURL = "//evil" },
		"bad return URL":     func(c *Config) { c.ReturnURLs = []string{"/relative"} },
		"negative TTL":       func(c *Config) { c.LoginTTL = -1 },
		"multi-tenant without tenants": func(c *Config) {
			c.Provider = Microsoft("common")
		},
		"placeholder outside Microsoft": func(c *Config) {
			c.Provider.Issuer = "https://login.example/{tenantid}/v2.0"
		},
		"pattern with discovery": func(c *Config) {
			c.Provider = Discover("x", "https://idp.example")
			c.Provider.IssuerPattern = Webex.IssuerPattern
		},
	} {
		cfg := ok
		mod(&cfg)
		if _, err := New(cfg, identity.Deps{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	for _, p := range []Provider{Google, Webex, Microsoft("organizations"), Microsoft("consumers"), Microsoft("aaaaaaaa-0000-4000-8000-00000000000a"), Discover("corp", "https://idp.example")} {
		cfg := ok
		cfg.Provider = p
		if p.Tenant == "organizations" {
			cfg.AllowedTenants = []string{"t"}
		}
		c, err := New(cfg, identity.Deps{})
		if err != nil {
			t.Errorf("%s: %v", p.Name, err)
			continue
		}
		if p.Tenant == "consumers" && !c.tenants[ConsumerTenant] || p.Tenant == "aaaaaaaa-0000-4000-8000-00000000000a" && !c.tenants[p.Tenant] {
			t.Errorf("%s %s: tenants %v", p.Name, p.Tenant, c.tenants)
		}
	}
	if got := Microsoft("common").Issuer; got != "https://login.microsoftonline.com/{tenantid}/v2.0" {
		t.Errorf("common issuer %q", got)
	}
}

func TestStatus(t *testing.T) {
	for err, want := range map[error]int{
		ErrState: 400, ErrReturnURL: 400, ErrExchange: 400, ErrRefused: 403, ErrToken: 403, ErrDenied: 403,
		identity.ErrDeactivated: 403, &identity.ConflictError{Resource: "link", Field: "subject"}: 403,
		ErrProvider: 502, ErrNoConnection: 404, identity.ErrNotFound: 500,
	} {
		if got := Status(err); got != want {
			t.Errorf("%v: %d, want %d", err, got, want)
		}
	}
}
