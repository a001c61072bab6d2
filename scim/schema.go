package scim

import "strings"

// Schema and message URIs.
const (
	URIUser           = "urn:ietf:params:scim:schemas:core:2.0:User"
	URIGroup          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	URIEnterprise     = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	URIListResp       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	URIPatchOp        = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	URISearch         = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	URIError          = "urn:ietf:params:scim:api:messages:2.0:Error"
	URISPConfig       = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	URIResType        = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	URISchema         = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	uriEnterpriseTypo = "urn:ietf:params:scim:schemas:extension:enterprise:2.0user" // lower-cased, as Entra's legacy example spells it
)

// Attribute types.
const (
	tString   = "string"
	tBoolean  = "boolean"
	tComplex  = "complex"
	tDateTime = "dateTime"
	tRef      = "reference"
)

// attr describes one attribute of a schema: what /Schemas serves, and what
// filters, PATCH and projections go by (case-exactness, type, mutability).
type attr struct {
	Name       string
	Type       string
	Multi      bool
	CaseExact  bool
	Mutability string // readWrite (""), readOnly, immutable, writeOnly
	Returned   string // default (""), always, never, request
	Uniqueness string // none (""), server
	Required   bool
	Sub        []*attr
	RefTypes   []string
	Canonical  []string
	Desc       string
	// Email marks an address: compared in the core's canonical form
	// (identity.NormalizeEmail), as the stores compare it.
	Email bool
}

func (a *attr) sub(name string) *attr { return findAttr(a.Sub, name) }

func (a *attr) readOnly() bool { return a.Mutability == "readOnly" }

func findAttr(attrs []*attr, name string) *attr {
	for _, a := range attrs {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

type schema struct {
	ID    string
	Name  string
	Desc  string
	Attrs []*attr
}

func str(name, desc string) *attr { return &attr{Name: name, Type: tString, Desc: desc} }

func multiValue(name, desc string, types ...string) *attr {
	return &attr{Name: name, Type: tComplex, Multi: true, Desc: desc, Sub: []*attr{
		str("value", "The value."),
		str("display", "A human-readable name, for display only."),
		{Name: "type", Type: tString, Canonical: types, Desc: "A label for the value's function."},
		{Name: "primary", Type: tBoolean, Desc: "Whether this is the primary value."},
	}}
}

var metaAttr = &attr{Name: "meta", Type: tComplex, Mutability: "readOnly", Desc: "Resource metadata.", Sub: []*attr{
	{Name: "resourceType", Type: tString, CaseExact: true, Mutability: "readOnly", Desc: "The resource type."},
	{Name: "created", Type: tDateTime, Mutability: "readOnly", Desc: "When the resource was created."},
	{Name: "lastModified", Type: tDateTime, Mutability: "readOnly", Desc: "When the resource was last changed."},
	{Name: "location", Type: tRef, CaseExact: true, Mutability: "readOnly", Desc: "The resource's URI."},
	{Name: "version", Type: tString, CaseExact: true, Mutability: "readOnly", Desc: "The resource's version (ETag)."},
}}

var commonAttrs = []*attr{
	{Name: "id", Type: tString, CaseExact: true, Mutability: "readOnly", Returned: "always", Uniqueness: "server", Desc: "The service provider's identifier."},
	{Name: "externalId", Type: tString, CaseExact: true, Desc: "The client's identifier."},
	metaAttr,
}

var userSchema = &schema{ID: URIUser, Name: "User", Desc: "User Account", Attrs: []*attr{
	{Name: "userName", Type: tString, Required: true, Uniqueness: "server", Desc: "Unique identifier for the user, used to sign in."},
	{Name: "name", Type: tComplex, Desc: "The components of the user's name.", Sub: []*attr{
		str("formatted", "The full name."),
		str("familyName", "The family name."),
		str("givenName", "The given name."),
		str("middleName", "The middle name."),
		str("honorificPrefix", "The honorific prefix."),
		str("honorificSuffix", "The honorific suffix."),
	}},
	str("displayName", "The name displayed to end users."),
	str("nickName", "The casual name."),
	{Name: "profileUrl", Type: tRef, RefTypes: []string{"external"}, Desc: "A URI of the user's profile."},
	str("title", "The user's title."),
	str("userType", "The relationship between the organization and the user."),
	str("preferredLanguage", "The preferred language."),
	str("locale", "The default location, for localizing."),
	str("timezone", "The time zone, in IANA format."),
	{Name: "active", Type: tBoolean, Desc: "Whether the user may sign in."},
	{Name: "password", Type: tString, Mutability: "writeOnly", Returned: "never", Desc: "Accepted and discarded: rollcall keeps no SCIM password."},
	emailsAttr,
	multiValue("phoneNumbers", "Phone numbers, all kept; the primary (else work, else first) one is also the user's phone attribute.", "work", "home", "mobile", "fax", "pager", "other"),
	multiValue("ims", "Instant messaging addresses.", "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
	photosAttr,
	addressesAttr,
	{Name: "groups", Type: tComplex, Multi: true, Mutability: "readOnly", Desc: "The SCIM-managed groups the user is a member of.", Sub: []*attr{
		{Name: "value", Type: tString, Mutability: "readOnly", Desc: "The group's id."},
		{Name: "$ref", Type: tRef, RefTypes: []string{"Group"}, Mutability: "readOnly", Desc: "The group's URI."},
		{Name: "display", Type: tString, Mutability: "readOnly", Desc: "The group's displayName."},
		{Name: "type", Type: tString, Mutability: "readOnly", Canonical: []string{"direct"}, Desc: "direct."},
	}},
}}

var emailsAttr = func() *attr {
	a := multiValue("emails", "Email addresses, all kept; the primary (else work, else first) one is the user's email.", "work", "home", "other")
	a.sub("value").Email = true
	return a
}()

var photosAttr = func() *attr {
	a := multiValue("photos", "URLs of photos of the user.", "photo", "thumbnail")
	a.Sub[0] = &attr{Name: "value", Type: tRef, RefTypes: []string{"external"}, Desc: "The photo's URL."}
	return a
}()

var addressesAttr = &attr{Name: "addresses", Type: tComplex, Multi: true, Desc: "Physical mailing addresses.", Sub: []*attr{
	str("formatted", "The full address, for display."),
	str("streetAddress", "The street address."),
	str("locality", "The city or locality."),
	str("region", "The state or region."),
	str("postalCode", "The postal code."),
	str("country", "The country, as an ISO 3166-1 alpha-2 code."),
	{Name: "type", Type: tString, Canonical: []string{"work", "home", "other"}, Desc: "A label for the address's function."},
	{Name: "primary", Type: tBoolean, Desc: "Whether this is the primary address."},
}}

var enterpriseSchema = &schema{ID: URIEnterprise, Name: "EnterpriseUser", Desc: "Enterprise User", Attrs: []*attr{
	str("employeeNumber", "The employee number."),
	str("costCenter", "The cost center."),
	str("organization", "The organization."),
	str("division", "The division."),
	str("department", "The department."),
	{Name: "manager", Type: tComplex, Desc: "The user's manager.", Sub: []*attr{
		str("value", "The manager's id."),
		{Name: "$ref", Type: tRef, RefTypes: []string{"User"}, Desc: "The manager's URI."},
		{Name: "displayName", Type: tString, Mutability: "readOnly", Desc: "The manager's displayName."},
	}},
}}

var groupSchema = &schema{ID: URIGroup, Name: "Group", Desc: "Group", Attrs: []*attr{
	{Name: "displayName", Type: tString, Required: true, Uniqueness: "server", Desc: "The group's name, unique (compared case-insensitively)."},
	{Name: "members", Type: tComplex, Multi: true, Desc: "The members: users only.", Sub: []*attr{
		{Name: "value", Type: tString, CaseExact: true, Mutability: "immutable", Desc: "The member's id."},
		{Name: "$ref", Type: tRef, RefTypes: []string{"User"}, Mutability: "immutable", Desc: "The member's URI."},
		{Name: "display", Type: tString, Mutability: "readOnly", Desc: "The member's displayName."},
		{Name: "type", Type: tString, Mutability: "immutable", Canonical: []string{"User"}, Desc: "User."},
	}},
}}

// resourceType is a SCIM resource type: its endpoint, core schema and
// extensions.
type resourceType struct {
	ID         string
	Endpoint   string
	Schema     *schema
	Extensions []*schema
}

var (
	userType  = &resourceType{ID: "User", Endpoint: "/Users", Schema: userSchema, Extensions: []*schema{enterpriseSchema}}
	groupType = &resourceType{ID: "Group", Endpoint: "/Groups", Schema: groupSchema}
)

// schemaFor returns the schema of the resource type with the URI (compared
// case-insensitively), or nil. The empty URI is the core schema.
func (rt *resourceType) schemaFor(uri string) *schema {
	if uri == "" || strings.EqualFold(uri, rt.Schema.ID) {
		return rt.Schema
	}
	for _, s := range rt.Extensions {
		if strings.EqualFold(uri, s.ID) || strings.EqualFold(uri, uriEnterpriseTypo) && s == enterpriseSchema {
			return s
		}
	}
	return nil
}

// isSchemaURI reports whether key names one of the type's schemas.
func (rt *resourceType) isSchemaURI(key string) *schema {
	if !strings.HasPrefix(strings.ToLower(key), "urn:") {
		return nil
	}
	return rt.schemaFor(key)
}

// resolve finds the attribute uri:name: in the named schema, else (for a
// name without URI) in the core schema, the common attributes, then the
// extensions. It returns the attribute and the schema it belongs to; nil if
// none has it.
func (rt *resourceType) resolve(uri, name string) (*attr, *schema) {
	if uri != "" {
		s := rt.schemaFor(uri)
		if s == nil {
			return nil, nil
		}
		if a := findAttr(s.Attrs, name); a != nil {
			return a, s
		}
		if s == rt.Schema {
			if a := findAttr(commonAttrs, name); a != nil {
				return a, s
			}
		}
		return nil, nil
	}
	if a := findAttr(commonAttrs, name); a != nil {
		return a, rt.Schema
	}
	if a := findAttr(rt.Schema.Attrs, name); a != nil {
		return a, rt.Schema
	}
	for _, s := range rt.Extensions {
		if a := findAttr(s.Attrs, name); a != nil {
			return a, s
		}
	}
	return nil, nil
}

// splitURN splits "urn:...:User:employeeNumber" into the schema URI and the
// attribute path, for the type's schemas; ok is false if key has no known URI
// prefix. It allocates nothing: it runs for every key of every body.
func (rt *resourceType) splitURN(key string) (uri, rest string, ok bool) {
	if len(key) < 4 || !strings.EqualFold(key[:4], "urn:") {
		return "", key, false
	}
	if n, ok := urnPrefix(key, rt.Schema.ID); ok {
		return rt.Schema.ID, key[n:], true
	}
	for _, s := range rt.Extensions {
		if n, ok := urnPrefix(key, s.ID); ok {
			return s.ID, key[n:], true
		}
		if s == enterpriseSchema {
			if n, ok := urnPrefix(key, uriEnterpriseTypo); ok {
				return s.ID, key[n:], true
			}
		}
	}
	return "", key, false
}

// urnPrefix reports whether key starts with id + ":", ignoring case, and
// the length of that prefix.
func urnPrefix(key, id string) (int, bool) {
	n := len(id) + 1
	return n, len(key) >= n && key[len(id)] == ':' && strings.EqualFold(key[:len(id)], id)
}
