package saml

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// Responses signed by samlify in each way an IdP may sign are accepted, and
// the user is created from Entra's claims. The encrypted ones use AES-256-CBC
// (samlify's default), AES-128-GCM and AES-256-GCM, each key wrapped with
// RSA-OAEP-MGF1P.
func TestACSAccepts(t *testing.T) {
	for _, name := range []string{"response-signed", "assertion-signed", "both-signed", "encrypted", "encrypted-aes128-gcm", "encrypted-aes256-gcm"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.GroupFormat = groups.FormatList })
			res, err := e.post(t, fixtureXML(t, name))
			if err != nil {
				t.Fatalf("ACS: %v\nlog:\n%s", err, e.log)
			}
			u := res.User
			if !res.Created || u.Email != "jane.doe@example.test" || u.UserName != "jane.doe@example.test" ||
				u.GivenName != "Jane" || u.FamilyName != "Doe" || u.DisplayName != "Jane Doe" || !u.EmailVerified {
				t.Errorf("user = %+v, created %v", u, res.Created)
			}
			// Found by its FriendlyName; the Name is urn:oid:2.5.4.11.
			if got := u.Attributes[identity.AttrDepartment]; got != "Facilities" {
				t.Errorf("department = %q", got)
			}
			if res.RelayState != "/desks" || res.IDPInitiated {
				t.Errorf("relay %q, idp-initiated %v", res.RelayState, res.IDPInitiated)
			}
			// SessionNotOnOrAfter (8h) is earlier than the 24h lifetime.
			if want := issued.Add(8 * time.Hour); !res.Expires.Equal(want) {
				t.Errorf("Expires = %s, want %s", res.Expires, want)
			}
			links, _ := e.dir.Reader().Links(context.Background(), u.ID)
			if len(links) != 1 || links[0].Source != "saml:acme" || links[0].Subject != "jane-persistent-7f3a" {
				t.Errorf("links = %+v", links)
			}
		})
	}
}

// First login creates the user and its groups from memberOf (AD FS: an LDAP
// array, one CN with an escaped comma); the second finds the user by link.
func TestACSFirstAndSecondLogin(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Preset = PresetADFS })
	first, err := e.post(t, fixtureXML(t, "adfs"))
	if err != nil {
		t.Fatalf("first: %v\n%s", err, e.log)
	}
	if !first.Created || first.User.UserName != "john.smith@corp.example.test" || first.User.Email != "john.smith@example.test" ||
		first.User.GivenName != "John" || first.User.FamilyName != "Smith" {
		t.Fatalf("first = %+v", first)
	}
	want := []string{"Smith, John", "Desk Admins"}
	if got := e.groupNames(t, first.User.ID); !sameSet(got, want) {
		t.Errorf("groups = %q, want %q", got, want)
	}
	gs, _ := e.dir.Reader().ListGroups(context.Background(), identity.GroupQuery{})
	for _, g := range gs.Groups {
		if g.Kind != groups.External || g.Source != "saml:acme" {
			t.Errorf("group %+v: want external of saml:acme", g)
		}
	}
	types := e.sink.Types()
	if !slices.Contains(types, identity.UserCreated) || !slices.Contains(types, identity.GroupCreated) {
		t.Errorf("events = %v", types)
	}

	// The fixture is pinned, so the second login posts it again once the
	// replay key has expired (the key store's clock moves; crewjam's global
	// clock stays at the fixture's time).
	e.clock.Advance(time.Hour)
	e.sink.Reset()
	second, err := e.post(t, fixtureXML(t, "adfs"))
	if err != nil {
		t.Fatalf("second: %v\n%s", err, e.log)
	}
	if second.Created || second.Linked || second.User.ID != first.User.ID {
		t.Errorf("second = %+v, want the user of the first, by link", second)
	}
	if got := e.groupNames(t, second.User.ID); !sameSet(got, want) {
		t.Errorf("groups after second = %q", got)
	}
	if slices.Contains(e.sink.Types(), identity.UserCreated) {
		t.Errorf("events of the second login = %v", e.sink.Types())
	}
}

// The fixture's memberOf holds `CN=Smith\, John,...`, another DN and a plain
// name, in a second AttributeStatement.
func TestACSMixedMemberOf(t *testing.T) {
	for _, tc := range []struct {
		format groups.Format
		want   []string // nil: rejected
	}{
		// groups' auto format reads a claim as DNs only if every value is one;
		// else it is a list, and the DNs are kept whole.
		{groups.FormatAuto, []string{`CN=Smith\, John,OU=Groups,DC=example,DC=test`, "CN=Desk Admins,OU=Groups,DC=example,DC=test", "Berlin Office"}},
		{groups.FormatList, []string{`CN=Smith\, John,OU=Groups,DC=example,DC=test`, "CN=Desk Admins,OU=Groups,DC=example,DC=test", "Berlin Office"}},
		{groups.FormatDN, nil},
		// This package's per-value format: the CN of each DN, a name as it is.
		{groups.FormatMixed, []string{"Smith, John", "Desk Admins", "Berlin Office"}},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.GroupFormat = tc.format })
			res, err := e.post(t, fixtureXML(t, "both-signed"))
			if tc.want == nil {
				assertRejected(t, e, err, ReasonGroups)
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, e.log)
			}
			if got := e.groupNames(t, res.User.ID); !sameSet(got, tc.want) {
				t.Errorf("groups = %q, want %q", got, tc.want)
			}
		})
	}
}

// Groups apply only when the connection is the tenant's group source.
func TestACSGroupsOnlyFromGroupSource(t *testing.T) {
	e := newEnv(t, nil)
	var err error
	e.dir, err = identity.New(e.db.Tenant("acme"), identity.Config{Tenant: "acme", GroupSource: "scim", Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.post(t, fixtureXML(t, "both-signed"))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.groupNames(t, res.User.ID); len(got) != 0 {
		t.Errorf("groups = %q, want none", got)
	}
}

// Entra's overage claim is treated as absent: groups stay, with a warning.
func TestACSEntraOverage(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	u, err := e.dir.CreateUser(ctx, identity.SourceManual, identity.User{Email: "jane.doe@example.test"}, identity.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.SetUserGroups(ctx, "saml:acme", u.ID, groups.Received("Desk Admins")); err != nil {
		t.Fatal(err)
	}
	res, err := e.post(t, fixtureXML(t, "entra-overage"))
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log)
	}
	if res.User.ID != u.ID || !res.Linked {
		t.Errorf("res = %+v: want the existing user, linked by email", res)
	}
	if got := e.groupNames(t, u.ID); !sameSet(got, []string{"Desk Admins"}) {
		t.Errorf("groups = %q, want them unchanged", got)
	}
	if !strings.Contains(e.log.String(), "overage") || !strings.Contains(e.log.String(), "groups.link") {
		t.Errorf("no overage warning in the log:\n%s", e.log)
	}
}

func TestACSIDPInitiated(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(fixtureXML(t, "idp-initiated")), RelayState: "/x", Binding: testBinding})
	assertRejected(t, e, err, ReasonIDPInitiated)

	e = newEnv(t, func(c *Config) { c.AllowIDPInitiated = true })
	res, err := e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(fixtureXML(t, "idp-initiated")), RelayState: "//evil.example.test", Binding: testBinding})
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log)
	}
	if !res.IDPInitiated || res.RelayState != "" {
		t.Errorf("res = %+v: want IdP-initiated, unsafe RelayState dropped", res)
	}
	// With IdP-initiated login on, a response that names a request must still
	// name one we issued.
	e = newEnv(t, func(c *Config) { c.AllowIDPInitiated = true })
	_, err = e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(fixtureXML(t, "both-signed")), Binding: testBinding})
	assertRejected(t, e, err, ReasonInResponseTo)
}

// A transient NameID never links a user; a configured subject attribute may.
func TestACSTransientNameID(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.post(t, fixtureXML(t, "transient"))
	assertRejected(t, e, err, ReasonSubject)
	if !strings.Contains(e.log.String(), "transient") {
		t.Errorf("log:\n%s", e.log)
	}

	e = newEnv(t, func(c *Config) { c.SubjectAttribute = ClaimObjectID })
	res, err := e.post(t, fixtureXML(t, "transient"))
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log)
	}
	links, _ := e.dir.Reader().Links(context.Background(), res.User.ID)
	if len(links) != 1 || links[0].Subject != "6f1c2b9e-0d6a-4d5e-9a7b-2f8c1e3d4a5b" {
		t.Errorf("links = %+v", links)
	}
}

// AD FS sends no NameID unless a claim rule issues one: the sign-in fails
// with reason subject, and the error names that cause for an adfs
// connection; with SubjectAttribute set, the UPN links the user instead.
func TestACSADFSNoNameID(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Preset = PresetADFS })
	_, err := e.post(t, fixtureXML(t, "adfs-no-nameid"))
	assertRejected(t, e, err, ReasonSubject)
	if !errors.Is(err, ErrADFSNoNameID) || !strings.Contains(e.log.String(), "claim rule") {
		t.Errorf("err = %v, want ErrADFSNoNameID\nlog:\n%s", err, e.log)
	}

	e = newEnv(t, func(c *Config) { c.Preset = PresetEntra })
	_, err = e.post(t, fixtureXML(t, "adfs-no-nameid"))
	assertRejected(t, e, err, ReasonSubject)
	if errors.Is(err, ErrADFSNoNameID) {
		t.Error("an entra connection blamed AD FS claim rules")
	}

	e = newEnv(t, func(c *Config) { c.Preset, c.SubjectAttribute = PresetADFS, ClaimUPN })
	res, err := e.post(t, fixtureXML(t, "adfs-no-nameid"))
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log)
	}
	links, _ := e.dir.Reader().Links(context.Background(), res.User.ID)
	if len(links) != 1 || links[0].Subject != "john.smith@corp.example.test" {
		t.Errorf("links = %+v", links)
	}
}

func TestACSSHA1(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.post(t, fixtureXML(t, "sha1"))
	assertRejected(t, e, err, ReasonSHA1)

	e = newEnv(t, func(c *Config) { c.AllowSHA1 = true })
	if _, err := e.post(t, fixtureXML(t, "sha1")); err != nil {
		t.Fatalf("AllowSHA1: %v\n%s", err, e.log)
	}
}

// An encrypted assertion whose key is wrapped with RSA PKCS#1 v1.5 is refused
// before any decryption is tried, unless the connection allows it.
func TestACSRSA15(t *testing.T) {
	rsa15 := strings.ReplaceAll(fixtureXML(t, "encrypted"),
		"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", "http://www.w3.org/2001/04/xmlenc#rsa-1_5")
	e := newEnv(t, nil)
	_, err := e.post(t, rsa15)
	assertRejected(t, e, err, ReasonKeyTransport)

	e = newEnv(t, func(c *Config) { c.AllowRSA15 = true })
	_, err = e.post(t, rsa15)
	if err == nil {
		t.Fatal("a key wrapped with OAEP and labelled RSA-1_5 decrypted")
	}
	if strings.Contains(e.log.String(), "reason="+ReasonKeyTransport) {
		t.Errorf("AllowRSA15: still refused for the key transport\n%s", e.log)
	}
	if _, err := e.post(t, fixtureXML(t, "encrypted")); err != nil {
		t.Fatalf("the OAEP fixture: %v\n%s", err, e.log)
	}
}

// Each attack or mistake is refused, with its reason in the log.
func TestACSRejects(t *testing.T) {
	both := func(t *testing.T) string { return fixtureXML(t, "both-signed") }
	assertion := func(t *testing.T) string { return fixtureXML(t, "assertion-signed") }
	sigRE := regexp.MustCompile(`<ds:Signature[\s\S]*?</ds:Signature>`)
	for _, tc := range []struct {
		name   string
		xml    func(t *testing.T) string
		edit   func(*Config)
		reason string
	}{
		{"tampered attribute", func(t *testing.T) string { return strings.Replace(both(t), ">Jane<", ">Eve<", 1) }, nil, ReasonSignature},
		{"tampered NameID", func(t *testing.T) string {
			return strings.Replace(both(t), "jane-persistent-7f3a", "admin-persistent-0000", 1)
		}, nil, ReasonSignature},
		{"tampered NameID, assertion signed", func(t *testing.T) string {
			return strings.Replace(assertion(t), "jane-persistent-7f3a", "admin-persistent-0000", 1)
		}, nil, ReasonSignature},
		{"signature stripped", func(t *testing.T) string { return sigRE.ReplaceAllString(both(t), "") }, nil, ReasonSignature},
		{"signed by another IdP's key", func(t *testing.T) string { return fixtureXML(t, "other-idp") }, nil, ReasonSignature},
		{"wrong IdP key in the metadata", both, func(c *Config) { c.IdPMetadata = readFile(t, "idp2-metadata.xml") }, ReasonSignature},
		{"expired", func(t *testing.T) string { return fixtureXML(t, "expired") }, nil, ReasonExpired},
		{"wrong audience", func(t *testing.T) string { return fixtureXML(t, "wrong-audience") }, nil, ReasonAudience},
		{"other SP entity ID", both, func(c *Config) { c.EntityID = "https://other.example.test/metadata" }, ReasonAudience},
		{"no AudienceRestriction", func(t *testing.T) string { return fixtureXML(t, "no-audience") }, nil, ReasonAudience},
		{"wrong recipient", func(t *testing.T) string { return fixtureXML(t, "wrong-recipient") }, nil, ReasonRecipient},
		{"other ACS URL", both, func(c *Config) { c.ACSURL = "https://sp.example.test/saml/other/acs" }, ReasonDestination},
		{"no bearer confirmation", func(t *testing.T) string { return fixtureXML(t, "no-bearer") }, nil, ReasonBearer},
		{"unsigned sibling assertion", func(t *testing.T) string { return wrap(t, assertion(t)) }, nil, ReasonAssertionCount},
		{"unsigned sibling assertion, response signed", func(t *testing.T) string { return wrap(t, both(t)) }, nil, ReasonAssertionCount},
		{"no Subject (crewjam panics)", func(t *testing.T) string { return fixtureXML(t, "no-subject") }, nil, ReasonIncomplete},
		{"no Conditions (crewjam panics)", func(t *testing.T) string { return fixtureXML(t, "no-conditions") }, nil, ReasonIncomplete},
		{"DOCTYPE", func(t *testing.T) string {
			return `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>` + both(t)
		}, nil, ReasonDOCTYPE},
		{"entity reference", func(t *testing.T) string { return strings.Replace(both(t), ">Jane<", ">&lol9;<", 1) }, nil, ReasonMalformed},
		{"not XML", func(*testing.T) string { return "not xml" }, nil, ReasonMalformed},
		{"pinned issuer", both, func(c *Config) { c.IdPEntityID = "https://idp.example.test/metadata" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.edit)
			_, err := e.post(t, tc.xml(t))
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("%v\n%s", err, e.log)
				}
				return
			}
			assertRejected(t, e, err, tc.reason)
		})
	}
}

func TestACSReplay(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.post(t, fixtureXML(t, "both-signed")); err != nil {
		t.Fatal(err)
	}
	_, err := e.post(t, fixtureXML(t, "both-signed")) // post marks the request pending again
	assertReason(t, e, err, ReasonReplay)
}

// A forged InResponseTo (a request we never issued), and a request taken
// once.
func TestACSInResponseTo(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(fixtureXML(t, "both-signed")), Binding: testBinding})
	assertRejected(t, e, err, ReasonInResponseTo)

	e = newEnv(t, nil)
	e.pending(t, "id-other-request", "/")
	_, err = e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(fixtureXML(t, "both-signed")), Binding: testBinding})
	assertRejected(t, e, err, ReasonInResponseTo)

	// Rewritten to name a request that is pending: the signature breaks.
	e = newEnv(t, nil)
	e.pending(t, "id-victim", "/")
	forged := strings.ReplaceAll(fixtureXML(t, "both-signed"), `InResponseTo="`+fixtureRequest+`"`, `InResponseTo="id-victim"`)
	_, err = e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: b64(forged), Binding: testBinding})
	assertRejected(t, e, err, ReasonSignature)
}

// A comment inside a signed value does not change the signature
// (exclusive c14n drops comments) and must not truncate the value
// (CVE-2017-11427).
func TestACSCommentInjection(t *testing.T) {
	e := newEnv(t, nil)
	xml := strings.Replace(fixtureXML(t, "both-signed"), ">jane.doe@example.test</saml:AttributeValue>", ">jane.doe@example<!---->.test</saml:AttributeValue>", 1)
	if !strings.Contains(xml, "<!---->") {
		t.Fatal("no comment inserted")
	}
	res, err := e.post(t, xml)
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log)
	}
	if res.User.Email != "jane.doe@example.test" {
		t.Errorf("email = %q", res.User.Email)
	}
}

// wrap inserts, before the genuine assertion, an unsigned copy naming
// another user: the signature-wrapping attack.
func wrap(t *testing.T, xml string) string {
	t.Helper()
	start := strings.Index(xml, "<saml:Assertion ")
	end := strings.Index(xml, "</saml:Assertion>") + len("</saml:Assertion>")
	if start < 0 || end < start {
		t.Fatal("no assertion")
	}
	evil := regexp.MustCompile(`<ds:Signature[\s\S]*?</ds:Signature>`).ReplaceAllString(xml[start:end], "")
	evil = strings.Replace(evil, `ID="_assert-`, `ID="_evil-`, 1)
	evil = strings.Replace(evil, "jane-persistent-7f3a", "admin-persistent-0000", 1)
	return xml[:start] + evil + xml[start:]
}

func assertRejected(t *testing.T, e *env, err error, reason string) {
	t.Helper()
	assertReason(t, e, err, reason)
	users, _ := e.dir.Reader().ListUsers(context.Background(), identity.UserQuery{})
	if users.Total != 0 {
		t.Errorf("%d users after a rejection", users.Total)
	}
}

func assertReason(t *testing.T, e *env, err error, reason string) {
	t.Helper()
	var rej *RejectError
	if !errors.As(err, &rej) || !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want a rejection (%s)\nlog:\n%s", err, reason, e.log)
	}
	if rej.Reason != reason {
		t.Errorf("reason = %q (%v), want %q", rej.Reason, rej.Err, reason)
	}
	if !strings.Contains(e.log.String(), "reason="+reason) {
		t.Errorf("log lacks reason=%s:\n%s", reason, e.log)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// A deactivated user does not sign in; the session never outlives the
// tenant's lifetime.
func TestACSDeactivatedAndLifetime(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SessionLifetime = time.Hour })
	res, err := e.post(t, fixtureXML(t, "both-signed"))
	if err != nil {
		t.Fatal(err)
	}
	if want := received.Add(time.Hour); !res.Expires.Equal(want) {
		t.Errorf("Expires = %s, want %s", res.Expires, want)
	}
	if _, err := e.dir.Deactivate(context.Background(), identity.SourceManual, res.User.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour) // the replay key expires
	_, err = e.post(t, fixtureXML(t, "both-signed"))
	if !errors.Is(err, identity.ErrDeactivated) || errors.Is(err, ErrRejected) {
		t.Errorf("err = %v, want ErrDeactivated", err)
	}
	if !strings.Contains(e.log.String(), "reason=signin") {
		t.Errorf("log:\n%s", e.log)
	}
}

// A response whose IdP session has ended (SessionNotOnOrAfter passed, by the
// connection's clock) signs nobody in.
func TestACSSessionEnded(t *testing.T) {
	e := newEnv(t, nil)
	e.clock.Advance(9 * time.Hour)
	_, err := e.post(t, fixtureXML(t, "both-signed"))
	assertRejected(t, e, err, ReasonExpired)
}

func TestACSLongInResponseTo(t *testing.T) {
	e := newEnv(t, nil)
	long := strings.Repeat("x", maxRequestID+1)
	xml := strings.Replace(fixtureXML(t, "both-signed"), `InResponseTo="`+fixtureRequest+`"`, `InResponseTo="`+long+`"`, 1)
	_, err := e.post(t, xml)
	assertRejected(t, e, err, ReasonInResponseTo)
}
