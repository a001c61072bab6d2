package saml

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"

	crewjam "github.com/crewjam/saml"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// Preset names the attribute names of a known IdP.
type Preset string

// The presets; see PresetMapping for their names.
const (
	PresetGeneric  Preset = ""
	PresetEntra    Preset = "entra"
	PresetADFS     Preset = "adfs" // needs a NameID claim rule or a SubjectAttribute: see ErrADFSNoNameID
	PresetGoogle   Preset = "google"
	PresetKeycloak Preset = "keycloak"
	PresetOkta     Preset = "okta"
	PresetAkamai   Preset = "akamai"
	PresetPing     Preset = "ping"
)

// Mapping tells which attributes carry the user's fields. Each field lists
// attribute names, matched against both the Name and the FriendlyName of the
// assertion's attributes, exactly; the first name present wins. In
// Config.Mapping, a non-nil field replaces the preset's, and each key of
// Attributes replaces the preset's key (an empty list removes it).
type Mapping struct {
	UserName    []string
	Email       []string
	GivenName   []string
	FamilyName  []string
	DisplayName []string
	// Groups carries the group names (memberOf).
	Groups []string
	// GroupsOverage names claims that say the groups were left out because
	// there are too many (Entra's groups.link): the groups are then treated
	// as absent, with a warning.
	GroupsOverage []string
	// Attributes maps a key of identity.User.Attributes (identity.AttrTitle,
	// say) to the attributes carrying it; the first value is kept.
	Attributes map[string][]string
}

func (m Mapping) override(o Mapping) Mapping {
	for _, f := range []struct{ dst, src *[]string }{
		{&m.UserName, &o.UserName}, {&m.Email, &o.Email}, {&m.GivenName, &o.GivenName},
		{&m.FamilyName, &o.FamilyName}, {&m.DisplayName, &o.DisplayName},
		{&m.Groups, &o.Groups}, {&m.GroupsOverage, &o.GroupsOverage},
	} {
		if *f.src != nil {
			*f.dst = *f.src
		}
	}
	m.Attributes = maps.Clone(m.Attributes)
	if m.Attributes == nil {
		m.Attributes = map[string][]string{}
	}
	for k, v := range o.Attributes {
		if len(v) == 0 {
			delete(m.Attributes, k)
		} else {
			m.Attributes[k] = v
		}
	}
	return m
}

// Attribute names shared by several IdPs.
const (
	claimsWS      = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
	claimsMS      = "http://schemas.microsoft.com/identity/claims/"
	ClaimEmail    = claimsWS + "emailaddress"
	ClaimUPN      = claimsWS + "upn"
	ClaimName     = claimsWS + "name"
	ClaimGiven    = claimsWS + "givenname"
	ClaimSurname  = claimsWS + "surname"
	ClaimDisplay  = claimsMS + "displayname"
	ClaimObjectID = claimsMS + "objectidentifier"
	// ClaimEntraGroups is Entra ID's groups claim (object IDs by default,
	// names when so configured); ClaimGroupsLink its overage claim.
	ClaimEntraGroups = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
	ClaimGroupsLink  = "http://schemas.microsoft.com/claims/groups.link"
	// ClaimADFSGroup is AD FS's group claim type.
	ClaimADFSGroup = "http://schemas.xmlsoap.org/claims/Group"

	oidMail        = "urn:oid:0.9.2342.19200300.100.1.3"
	oidGivenName   = "urn:oid:2.5.4.42"
	oidSurname     = "urn:oid:2.5.4.4"
	oidDisplayName = "urn:oid:2.16.840.1.113730.3.1.241"
	oidUID         = "urn:oid:0.9.2342.19200300.100.1.1"
	oidEPPN        = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"
	oidIsMemberOf  = "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"
	oidTitle       = "urn:oid:2.5.4.12"
	oidOU          = "urn:oid:2.5.4.11"
	oidPhone       = "urn:oid:2.5.4.20"
	oidEmployeeNum = "urn:oid:2.16.840.1.113730.3.1.3"
)

type preset struct {
	mapping Mapping
	format  groups.Format
}

var generic = Mapping{
	UserName:    []string{"upn", "userPrincipalName", ClaimUPN, oidEPPN, "uid", oidUID},
	Email:       []string{"email", "mail", "emailAddress", ClaimEmail, oidMail},
	GivenName:   []string{"givenName", "firstName", "given_name", ClaimGiven, oidGivenName},
	FamilyName:  []string{"sn", "surname", "lastName", "family_name", ClaimSurname, oidSurname},
	DisplayName: []string{"displayName", "cn", "name", ClaimDisplay, oidDisplayName},
	Groups:      []string{"memberOf", "groups", "Group", oidIsMemberOf},
	Attributes: map[string][]string{
		identity.AttrDepartment:     {"department", oidOU},
		identity.AttrTitle:          {"title", "jobTitle", oidTitle},
		identity.AttrPhone:          {"telephoneNumber", "phone", oidPhone},
		identity.AttrEmployeeNumber: {"employeeNumber", oidEmployeeNum},
	},
}

// presets are the attribute names each IdP sends by default or in its
// documented setup. memberOf is accepted by every preset, since the
// reference setup names the groups attribute so.
var presets = map[Preset]preset{
	PresetGeneric: {generic, groups.FormatAuto},
	// Entra ID: its claim URIs; the "name" claim is the UPN.
	PresetEntra: {Mapping{
		UserName:      []string{ClaimName, ClaimUPN},
		Email:         []string{ClaimEmail},
		GivenName:     []string{ClaimGiven},
		FamilyName:    []string{ClaimSurname},
		DisplayName:   []string{ClaimDisplay},
		Groups:        []string{ClaimEntraGroups, "memberOf"},
		GroupsOverage: []string{ClaimGroupsLink},
		Attributes: map[string][]string{
			identity.AttrDepartment: {claimsMS + "department", "department"},
			identity.AttrTitle:      {claimsMS + "jobtitle", "jobTitle"},
		},
	}, groups.FormatList},
	// AD FS: its claim types; groups as an LDAP array (Is-Member-Of-DL) or
	// names (Token-Groups), in the Group claim or memberOf. AD FS sends no
	// NameID unless a claim rule issues one (ErrADFSNoNameID).
	PresetADFS: {Mapping{
		UserName:    []string{ClaimUPN, ClaimName},
		Email:       []string{ClaimEmail},
		GivenName:   []string{ClaimGiven},
		FamilyName:  []string{ClaimSurname},
		DisplayName: []string{ClaimName, "displayName"},
		Groups:      []string{"memberOf", ClaimADFSGroup, "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"},
		Attributes:  map[string][]string{identity.AttrDepartment: {"department"}, identity.AttrTitle: {"title"}},
	}, groups.FormatDN},
	// Google Workspace: the NameID is the primary email; attributes are
	// named by the admin (these are the names of Google's setup guide).
	PresetGoogle: {Mapping{
		UserName:    []string{"email", "primaryEmail"},
		Email:       []string{"email", "primaryEmail"},
		GivenName:   []string{"firstName", "givenName"},
		FamilyName:  []string{"lastName", "familyName"},
		DisplayName: []string{"displayName"},
		Groups:      []string{"memberOf", "groups"},
		Attributes:  map[string][]string{identity.AttrDepartment: {"department"}, identity.AttrTitle: {"title"}},
	}, groups.FormatList},
	// Keycloak: the X500 mappers (OIDs, with FriendlyNames) or property
	// mappers; a group list mapper named memberOf.
	PresetKeycloak: {Mapping{
		UserName:    []string{"username", "uid", oidUID},
		Email:       []string{"email", oidMail, "urn:oid:1.2.840.113549.1.9.1"},
		GivenName:   []string{"firstName", "givenName", oidGivenName},
		FamilyName:  []string{"lastName", "surname", oidSurname},
		DisplayName: []string{"displayName"},
		Groups:      []string{"memberOf", "groups", "Role"},
	}, groups.FormatList},
	// Okta: attribute statements as in Okta's SAML app wizard.
	PresetOkta: {Mapping{
		UserName:    []string{"login", "username", "email"},
		Email:       []string{"email"},
		GivenName:   []string{"firstName"},
		FamilyName:  []string{"lastName"},
		DisplayName: []string{"displayName"},
		Groups:      []string{"memberOf", "groups"},
		Attributes:  map[string][]string{identity.AttrDepartment: {"department"}, identity.AttrTitle: {"title"}},
	}, groups.FormatList},
	// Akamai EAA IdP: user attributes by their directory names.
	PresetAkamai: {Mapping{
		UserName:    []string{"userPrincipalName", "upn", "email"},
		Email:       []string{"email", "mail"},
		GivenName:   []string{"firstName", "givenName"},
		FamilyName:  []string{"lastName", "sn"},
		DisplayName: []string{"displayName"},
		Groups:      []string{"memberOf", "groups"},
	}, groups.FormatAuto},
	// PingFederate / PingOne: LDAP attribute names, memberOf as DNs or names.
	PresetPing: {Mapping{
		UserName:    []string{"userPrincipalName", "uid", "saml_subject"},
		Email:       []string{"mail", "email"},
		GivenName:   []string{"givenName", "given_name"},
		FamilyName:  []string{"sn", "family_name"},
		DisplayName: []string{"displayName", "cn"},
		Groups:      []string{"memberOf", "groups", "isMemberOf"},
		Attributes:  map[string][]string{identity.AttrDepartment: {"department"}, identity.AttrTitle: {"title"}},
	}, groups.FormatAuto},
}

// PresetMapping returns the mapping of a preset and the group format it uses
// when Config.GroupFormat is empty; false for an unknown preset.
func PresetMapping(p Preset) (Mapping, groups.Format, bool) {
	pr, ok := presets[p]
	if !ok {
		return Mapping{}, "", false
	}
	return pr.mapping.override(Mapping{}), pr.format, true
}

// Attributes merges every AttributeStatement of an assertion into attribute
// name -> every value, in order; an attribute is found under its Name and
// under its FriendlyName. An attribute sent with no value maps to an empty,
// non-nil slice.
func Attributes(a *crewjam.Assertion) map[string][]string {
	out := make(map[string][]string)
	add := func(key string, vals []string) {
		if key == "" {
			return
		}
		cur, ok := out[key]
		if !ok {
			cur = []string{}
		}
		out[key] = append(cur, vals...)
	}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			vals := make([]string, 0, len(at.Values))
			for _, v := range at.Values {
				vals = append(vals, v.Value)
			}
			add(at.Name, vals)
			if at.FriendlyName != at.Name {
				add(at.FriendlyName, vals)
			}
		}
	}
	return out
}

// errTransient, errNoSubject and errNameIDFormat are why an assertion gives no
// link subject.
var (
	errTransient    = errors.New("a transient NameID cannot link a user; set SubjectAttribute")
	errNoSubject    = errors.New("no NameID or subject attribute")
	errNameIDFormat = errors.New("the NameID's format cannot link a user; set SubjectAttribute")
	errGroupClaim   = errors.New("group claim")
)

// mapped is what an assertion says about the user.
type mapped struct {
	claims   identity.Claims
	overage  bool   // the groups were left out (Entra overage)
	groupsOf string // the attribute the groups came from
}

// mapClaims turns a verified assertion into identity claims. Groups are parsed
// only if withGroups (the connection is the tenant's group source).
func (c *Connection) mapClaims(a *crewjam.Assertion, withGroups bool) (mapped, error) {
	m, err := mapClaims(a, c.mapping, c.cfg.SubjectAttribute, withGroups, c.format, c.cfg.GroupLimit)
	if errors.Is(err, errNoSubject) && c.cfg.Preset == PresetADFS && c.cfg.SubjectAttribute == "" {
		err = fmt.Errorf("%w: %w", err, ErrADFSNoNameID)
	}
	return m, err
}

// ErrADFSNoNameID is the cause named when an assertion from an AD FS
// connection (PresetADFS) has no NameID and no SubjectAttribute is set: AD FS
// sends a NameID only when a claim rule of the relying party trust issues
// one (see docs/saml.md, "AD FS and the NameID"). It is wrapped in the
// RejectError of reason "subject".
var ErrADFSNoNameID = errors.New("AD FS sends no NameID unless a claim rule issues one: add a rule that issues a persistent Name ID, or set SubjectAttribute")

func mapClaims(a *crewjam.Assertion, m Mapping, subjectAttr string, withGroups bool, format groups.Format, limit int) (mapped, error) {
	var out mapped
	attrs := Attributes(a)
	first := func(names []string) string {
		for _, n := range names {
			for _, v := range attrs[n] {
				if v = strings.TrimSpace(v); v != "" {
					return v
				}
			}
		}
		return ""
	}
	c := &out.claims

	var nameID *crewjam.NameID
	if a.Subject != nil {
		nameID = a.Subject.NameID
	}
	switch {
	case subjectAttr != "":
		c.Subject = first([]string{subjectAttr})
		if c.Subject == "" {
			return out, fmt.Errorf("%w: attribute %q is absent", errNoSubject, subjectAttr)
		}
	case nameID == nil || strings.TrimSpace(nameID.Value) == "":
		return out, errNoSubject
	default:
		switch nameID.Format {
		case "", NameIDUnspecified, NameIDPersistent, NameIDEmail:
		case NameIDTransient:
			return out, errTransient
		default:
			return out, fmt.Errorf("%w: %q", errNameIDFormat, nameID.Format)
		}
		c.Subject = strings.TrimSpace(nameID.Value)
	}
	if !utf8.ValidString(c.Subject) || len(c.Subject) > 1024 {
		return out, fmt.Errorf("%w: invalid or longer than 1024 bytes", errNoSubject)
	}

	c.Email = first(m.Email)
	if c.Email == "" && nameID != nil && nameID.Format == NameIDEmail {
		c.Email = strings.TrimSpace(nameID.Value)
	}
	// A configured IdP is trusted for email (identity.DefaultPolicy).
	c.EmailVerified = c.Email != ""
	c.UserName = first(m.UserName)
	c.GivenName = first(m.GivenName)
	c.FamilyName = first(m.FamilyName)
	c.DisplayName = first(m.DisplayName)
	for key, names := range m.Attributes {
		if v := first(names); v != "" {
			if c.Attributes == nil {
				c.Attributes = make(map[string]string)
			}
			c.Attributes[key] = v
		}
	}

	c.Groups = groups.Absent
	if !withGroups {
		return out, nil
	}
	for _, n := range m.Groups {
		if vals, ok := attrs[n]; ok {
			names, err := groups.Parse(format, vals, limit)
			if err != nil {
				return out, fmt.Errorf("%w: attribute %q: %w", errGroupClaim, n, err)
			}
			c.Groups = groups.Received(names...)
			out.groupsOf = n
			return out, nil
		}
	}
	for _, n := range m.GroupsOverage {
		if _, ok := attrs[n]; ok {
			out.overage = true
			out.groupsOf = n
			break
		}
	}
	return out, nil
}
