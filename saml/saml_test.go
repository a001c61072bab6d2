package saml

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"slices"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

func TestNewValidates(t *testing.T) {
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no name", func(c *Config) { c.Name = "" }, "Name"},
		{"bad name", func(c *Config) { c.Name = "a/b" }, "Name"},
		{"no metadata", func(c *Config) { c.IdPMetadata = nil }, "exactly one"},
		{"both metadata", func(c *Config) { c.IdPMetadataURL = "https://idp.example.test/md" }, "exactly one"},
		{"http metadata URL", func(c *Config) { c.IdPMetadata = nil; c.IdPMetadataURL = "http://idp.example.test/md" }, "https"},
		{"no entity ID", func(c *Config) { c.EntityID = "" }, "EntityID"},
		{"relative ACS", func(c *Config) { c.ACSURL = "/saml/acme/acs" }, "ACSURL"},
		{"no key", func(c *Config) { c.Key = nil }, "Key"},
		{"mismatched key", func(c *Config) { c.Key = other }, "does not match"},
		{"bad NameID format", func(c *Config) { c.NameIDFormat = "urn:x" }, "NameIDFormat"},
		{"transient without attribute", func(c *Config) { c.NameIDFormat = NameIDTransient }, "transient"},
		{"preset", func(c *Config) { c.Preset = "shibboleth" }, "Preset"},
		{"group format", func(c *Config) { c.GroupFormat = "xml" }, "GroupFormat"},
		{"negative lifetime", func(c *Config) { c.SessionLifetime = -1 }, "SessionLifetime"},
		{"negative limit", func(c *Config) { c.GroupLimit = -1 }, "negative"},
		{"pinned other IdP", func(c *Config) { c.IdPEntityID = "https://other.example.test/" }, "pinned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			tc.edit(&cfg)
			_, err := New(cfg, identity.Deps{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := New(testConfig(t), identity.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.SessionLifetime != DefaultSessionLifetime || c.cfg.AllowIDPInitiated || c.cfg.AllowSHA1 ||
		c.cfg.GroupLimit != groups.DefaultLimit || c.format != groups.FormatList || c.cfg.NameIDFormat != NameIDUnspecified {
		t.Errorf("cfg = %+v, format %q", c.cfg, c.format)
	}
	if c.Source() != "saml:acme" || c.Name() != "acme" || c.pinnedEntity() != idpEntityID {
		t.Errorf("source %q, name %q, pinned %q", c.Source(), c.Name(), c.pinnedEntity())
	}
}

func TestPresets(t *testing.T) {
	for _, p := range []Preset{PresetGeneric, PresetEntra, PresetADFS, PresetGoogle, PresetKeycloak, PresetOkta, PresetAkamai, PresetPing} {
		m, f, ok := PresetMapping(p)
		if !ok || len(m.Email) == 0 || len(m.UserName) == 0 || len(m.Groups) == 0 || !slices.Contains(m.Groups, "memberOf") {
			t.Errorf("preset %q: %+v", p, m)
		}
		if _, err := groups.ParseFormat(string(f)); err != nil {
			t.Errorf("preset %q: %v", p, err)
		}
	}
	if _, _, ok := PresetMapping("nope"); ok {
		t.Error("unknown preset found")
	}
	m, _, _ := PresetMapping(PresetEntra)
	o := m.override(Mapping{Email: []string{"mail"}, Attributes: map[string][]string{identity.AttrDepartment: nil, "site": {"office"}}})
	if !slices.Equal(o.Email, []string{"mail"}) || !slices.Equal(o.UserName, m.UserName) {
		t.Errorf("override = %+v", o)
	}
	if _, ok := o.Attributes[identity.AttrDepartment]; ok || o.Attributes["site"][0] != "office" {
		t.Errorf("attributes = %v", o.Attributes)
	}
	if _, ok := m.Attributes["site"]; ok {
		t.Error("override changed the preset")
	}
}

func attr(name, friendly string, values ...string) crewjam.Attribute {
	a := crewjam.Attribute{Name: name, FriendlyName: friendly}
	for _, v := range values {
		a.Values = append(a.Values, crewjam.AttributeValue{Value: v})
	}
	return a
}

func assertionWith(nameID, format string, attrs ...[]crewjam.Attribute) *crewjam.Assertion {
	a := &crewjam.Assertion{Subject: &crewjam.Subject{NameID: &crewjam.NameID{Value: nameID, Format: format}}}
	for _, st := range attrs {
		a.AttributeStatements = append(a.AttributeStatements, crewjam.AttributeStatement{Attributes: st})
	}
	return a
}

func TestAttributesMerge(t *testing.T) {
	a := assertionWith("x", "",
		[]crewjam.Attribute{attr("memberOf", "", "a"), attr("urn:oid:2.5.4.42", "givenName", "Jane"), attr("empty", "")},
		[]crewjam.Attribute{attr("memberOf", "", "b", "c")},
	)
	got := Attributes(a)
	if !slices.Equal(got["memberOf"], []string{"a", "b", "c"}) || got["givenName"][0] != "Jane" || got["urn:oid:2.5.4.42"][0] != "Jane" {
		t.Errorf("Attributes = %v", got)
	}
	if v, ok := got["empty"]; !ok || v == nil || len(v) != 0 {
		t.Errorf("an attribute with no value: %v, %v", v, ok)
	}
}

func TestMapClaims(t *testing.T) {
	generic, format, _ := PresetMapping(PresetGeneric)
	for _, tc := range []struct {
		name       string
		a          *crewjam.Assertion
		subject    string // SubjectAttribute
		withGroups bool
		want       identity.Claims
		err        string
	}{
		{
			name: "email NameID is the email too",
			a:    assertionWith("Jane@Example.test", NameIDEmail),
			want: identity.Claims{Subject: "Jane@Example.test", Email: "Jane@Example.test", EmailVerified: true},
		},
		{
			name: "attributes win over the NameID",
			a:    assertionWith("jane-1", NameIDPersistent, []crewjam.Attribute{attr("mail", "", " ", "jane@example.test"), attr("givenName", "", "Jane")}),
			want: identity.Claims{Subject: "jane-1", Email: "jane@example.test", EmailVerified: true, GivenName: "Jane"},
		},
		{name: "transient", a: assertionWith("t", NameIDTransient), err: "transient"},
		{name: "kerberos", a: assertionWith("k", "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos"), err: "format"},
		{name: "no NameID", a: &crewjam.Assertion{Subject: &crewjam.Subject{}}, err: "no NameID"},
		{
			name: "subject attribute", subject: "uid",
			a:    assertionWith("t", NameIDTransient, []crewjam.Attribute{attr("uid", "", "u-1")}),
			want: identity.Claims{Subject: "u-1", UserName: "u-1"},
		},
		{name: "subject attribute absent", subject: "uid", a: assertionWith("p", NameIDPersistent), err: "uid"},
		{
			name: "groups absent when not the group source",
			a:    assertionWith("p", "", []crewjam.Attribute{attr("memberOf", "", "a")}),
			want: identity.Claims{Subject: "p"},
		},
		{
			name: "groups", withGroups: true,
			a:    assertionWith("p", "", []crewjam.Attribute{attr("memberOf", "", "CN=a,DC=x", "CN=b,DC=x")}),
			want: identity.Claims{Subject: "p", Groups: groups.Received("a", "b")},
		},
		{
			name: "empty groups attribute is present", withGroups: true,
			a:    assertionWith("p", "", []crewjam.Attribute{attr("memberOf", "")}),
			want: identity.Claims{Subject: "p", Groups: groups.Received()},
		},
		{name: "no groups attribute", withGroups: true, a: assertionWith("p", ""), want: identity.Claims{Subject: "p"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mapClaims(tc.a, generic, tc.subject, tc.withGroups, format, 2)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := got.claims
			if c.Subject != tc.want.Subject || c.Email != tc.want.Email || c.EmailVerified != tc.want.EmailVerified ||
				c.GivenName != tc.want.GivenName || c.UserName != tc.want.UserName ||
				c.Groups.Present != tc.want.Groups.Present || !slices.Equal(c.Groups.Names, tc.want.Groups.Names) {
				t.Errorf("claims = %+v, want %+v", c, tc.want)
			}
		})
	}
	// Over the limit: an error, never a cut.
	a := assertionWith("p", "", []crewjam.Attribute{attr("memberOf", "", "a", "b", "c")})
	if _, err := mapClaims(a, generic, "", true, groups.FormatList, 2); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("over the limit: %v", err)
	}
}
