package saml

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	crewjam "github.com/crewjam/saml"

	"github.com/rollcall/rollcall/groups"
)

// FuzzMapClaims maps arbitrary assertions (as crewjam unmarshals them after
// verifying a signature) to claims, with every preset and group format. It
// checks that the mapping never panics, never links a transient NameID, never
// yields groups over the limit or when it should not, and that the merge
// keeps every value. Run: go test -run '^$' -fuzz FuzzMapClaims ./saml/
func FuzzMapClaims(f *testing.F) {
	for _, name := range []string{"both-signed", "adfs", "entra-overage", "transient", "no-subject"} {
		x := fixtureXML(f, name)
		start := strings.Index(x, "<saml:Assertion ")
		end := strings.Index(x, "</saml:Assertion>")
		if start < 0 || end < 0 {
			f.Fatalf("%s: no assertion", name)
		}
		// The assertion needs the saml prefix declared on it.
		a := strings.Replace(x[start:end+len("</saml:Assertion>")], "<saml:Assertion ", `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" `, 1)
		f.Add([]byte(a), "", true)
	}
	f.Add([]byte(`<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion"><Subject><NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient">t</NameID></Subject><AttributeStatement><Attribute Name="uid"><AttributeValue>u</AttributeValue></Attribute><Attribute Name="memberOf"><AttributeValue>a,b,,c</AttributeValue></Attribute></AttributeStatement></Assertion>`), "uid", true)
	f.Add([]byte(`<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion"><AttributeStatement><Attribute Name="memberOf" FriendlyName="memberOf"><AttributeValue>CN=x\,y,DC=z</AttributeValue><AttributeValue></AttributeValue></Attribute></AttributeStatement></Assertion>`), "", true)

	formats := []groups.Format{groups.FormatAuto, groups.FormatDN, groups.FormatList, groups.FormatCSV, groups.FormatMixed}
	presetList := []Preset{PresetGeneric, PresetEntra, PresetADFS, PresetGoogle, PresetKeycloak, PresetOkta, PresetAkamai, PresetPing}
	f.Fuzz(func(t *testing.T, data []byte, subjectAttr string, withGroups bool) {
		var a crewjam.Assertion
		if err := xml.Unmarshal(data, &a); err != nil {
			return
		}
		attrs := Attributes(&a)
		for _, st := range a.AttributeStatements {
			for _, at := range st.Attributes {
				if at.Name != "" && len(attrs[at.Name]) < len(at.Values) {
					t.Fatalf("attribute %q lost values", at.Name)
				}
			}
		}
		const limit = 5
		for i, p := range presetList {
			m, _, _ := PresetMapping(p)
			format := formats[i%len(formats)]
			got, err := mapClaims(&a, m, subjectAttr, withGroups, format, limit)
			if err != nil {
				if withGroups && errors.Is(err, errGroupClaim) {
					continue
				}
				if !errors.Is(err, errNoSubject) && !errors.Is(err, errTransient) && !errors.Is(err, errNameIDFormat) {
					t.Fatalf("unexpected error %v", err)
				}
				continue
			}
			c := got.claims
			if c.Subject == "" || !utf8.ValidString(c.Subject) || c.Subject != strings.TrimSpace(c.Subject) {
				t.Fatalf("subject %q", c.Subject)
			}
			if subjectAttr == "" && a.Subject != nil && a.Subject.NameID != nil && a.Subject.NameID.Format == NameIDTransient {
				t.Fatalf("a transient NameID linked the user: %q", c.Subject)
			}
			if c.Email != "" && !c.EmailVerified {
				t.Fatal("an IdP's email must be marked verified")
			}
			if !withGroups && (c.Groups.Present || got.overage) {
				t.Fatal("groups parsed for a connection that is not the group source")
			}
			if len(c.Groups.Names) > limit {
				t.Fatalf("%d groups over the limit %d", len(c.Groups.Names), limit)
			}
			if c.Groups.Present && got.overage {
				t.Fatal("groups both present and left out")
			}
		}
	})
}
