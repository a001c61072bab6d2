package scim

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// A resource is handled as a document: the JSON object of RFC 7643 with the
// schema's canonical attribute names, the extension under its URI. Filters,
// PATCH and projections work on documents; the mapping to and from the
// core's types is below.
type doc = map[string]any

// stringAttrs maps the simple string attributes a User keeps in
// identity.User.Attributes: schema URI ("" for core), attribute, sub-attribute
// and the Attributes key.
var stringAttrs = []struct{ uri, name, sub, key string }{
	{"", "name", "formatted", "formattedName"},
	{"", "name", "middleName", "middleName"},
	{"", "name", "honorificPrefix", "honorificPrefix"},
	{"", "name", "honorificSuffix", "honorificSuffix"},
	{"", "nickName", "", "nickName"},
	{"", "profileUrl", "", "profileUrl"},
	{"", "title", "", identity.AttrTitle},
	{"", "userType", "", "userType"},
	{"", "preferredLanguage", "", "preferredLanguage"},
	{"", "locale", "", "locale"},
	{"", "timezone", "", "timezone"},
	{URIEnterprise, "employeeNumber", "", identity.AttrEmployeeNumber},
	{URIEnterprise, "costCenter", "", identity.AttrCostCenter},
	{URIEnterprise, "organization", "", identity.AttrOrganization},
	{URIEnterprise, "division", "", identity.AttrDivision},
	{URIEnterprise, "department", "", identity.AttrDepartment},
	{URIEnterprise, "manager", "value", identity.AttrManager},
}

// Attributes keys that keep the type of the one email and phone number a
// user keeps, when it is not "work" (Entra sends the mobile number as
// phoneNumbers[type eq "mobile"].value: the type must come back, or the
// next PATCH of that path matches nothing).
const (
	attrEmailType = "emailType"
	attrPhoneType = "phoneType"
)

// valueType returns the type a kept value is returned with.
func valueType(u identity.User, key string) string {
	if t := u.Attributes[key]; t != "" {
		return t
	}
	return "work"
}

// setType records the type of the kept element e under key, or removes it
// when it is "work" or there is none.
func setType(attrs map[string]string, key string, e doc) {
	t := strings.TrimSpace(getString(e, "type"))
	if e == nil || t == "" || strings.EqualFold(t, "work") {
		delete(attrs, key)
		return
	}
	attrs[key] = t
}

func timeString(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// container returns the object that holds the attributes of schema uri in d:
// d itself for the core schema, d[uri] for an extension (created if create).
func container(d doc, rt *resourceType, s *schema, create bool) doc {
	if s == nil || s == rt.Schema {
		return d
	}
	m, _ := d[s.ID].(doc)
	if m == nil && create {
		m = doc{}
		d[s.ID] = m
	}
	return m
}

func setIn(d doc, k string, v string) {
	if v != "" {
		d[k] = v
	}
}

// userDoc returns the document of a user. groups, when not nil, fills the
// groups attribute.
func userDoc(u identity.User, base string, groups []identity.Group) doc {
	d := doc{"id": u.ID, "userName": u.UserName, "active": u.Active}
	setIn(d, "externalId", u.ExternalID)
	setIn(d, "displayName", u.DisplayName)
	name := doc{}
	setIn(name, "givenName", u.GivenName)
	setIn(name, "familyName", u.FamilyName)
	writeMulti(d, u)
	for _, m := range stringAttrs {
		v := u.Attributes[m.key]
		if v == "" {
			continue
		}
		c := d
		if m.uri != "" {
			c = container(d, userType, enterpriseSchema, true)
		}
		switch {
		case m.name == "name":
			name[m.sub] = v
		case m.sub != "":
			sub := doc{m.sub: v}
			if m.name == "manager" && base != "" {
				sub["$ref"] = base + "/Users/" + v
			}
			c[m.name] = sub
		default:
			c[m.name] = v
		}
	}
	if len(name) > 0 {
		d["name"] = name
	}
	if groups != nil {
		gs := make([]any, 0, len(groups))
		for _, g := range groups {
			gs = append(gs, doc{"value": g.ID, "display": g.Name, "type": "direct", "$ref": base + "/Groups/" + g.ID})
		}
		d["groups"] = gs
	}
	schemas := []any{URIUser}
	if _, ok := d[URIEnterprise]; ok {
		schemas = append(schemas, URIEnterprise)
	}
	d["schemas"] = schemas
	d["meta"] = doc{
		"resourceType": "User",
		"created":      timeString(u.Created),
		"lastModified": timeString(u.Updated),
		"location":     base + "/Users/" + u.ID,
		"version":      etag(u.Version),
	}
	return d
}

func getString(d doc, k string) string {
	s, _ := d[k].(string)
	return s
}

// pick returns the element of a multi-valued attribute to keep: the primary
// one, else the first of type work, else the first.
func pick(v any) doc {
	list, _ := v.([]any)
	var work, first doc
	for _, e := range list {
		m, ok := e.(doc)
		if !ok || getString(m, "value") == "" {
			continue
		}
		if p, _ := m["primary"].(bool); p {
			return m
		}
		if first == nil {
			first = m
		}
		if work == nil && strings.EqualFold(getString(m, "type"), "work") {
			work = m
		}
	}
	if work != nil {
		return work
	}
	return first
}

// applyUserDoc sets the fields of u that SCIM manages from a normalized
// document: absent attributes are cleared, except active, which is left as
// it is, and the Attributes keys SCIM does not manage, which stay. It
// returns a 400 for a multi-valued attribute too long to keep.
func applyUserDoc(d doc, u *identity.User) error {
	u.UserName = getString(d, "userName")
	u.ExternalID = getString(d, "externalId")
	u.DisplayName = getString(d, "displayName")
	name, _ := d["name"].(doc)
	u.GivenName = getString(name, "givenName")
	u.FamilyName = getString(name, "familyName")
	if a, ok := d["active"].(bool); ok {
		u.Active = a
	}
	attrs := maps.Clone(u.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	if err := readMulti(d, u, attrs); err != nil {
		return err
	}
	ext, _ := d[URIEnterprise].(doc)
	for _, m := range stringAttrs {
		c := d
		if m.uri != "" {
			c = ext
		}
		var v string
		switch {
		case m.name == "name":
			v = getString(name, m.sub)
		case m.sub != "":
			sub, _ := c[m.name].(doc)
			v = getString(sub, m.sub)
		default:
			v = getString(c, m.name)
		}
		if v == "" {
			delete(attrs, m.key)
		} else {
			attrs[m.key] = v
		}
	}
	u.Attributes = attrs
	return nil
}

// groupDoc returns the document of a group; members, when not nil, fills
// the members attribute.
func groupDoc(g identity.Group, base string, members []identity.User) doc {
	d := doc{
		"schemas":     []any{URIGroup},
		"id":          g.ID,
		"displayName": g.Name,
		"meta": doc{
			"resourceType": "Group",
			"created":      timeString(g.Created),
			"lastModified": timeString(g.Updated),
			"location":     base + "/Groups/" + g.ID,
			"version":      etag(g.Version),
		},
	}
	setIn(d, "externalId", g.ExternalID)
	if members != nil {
		ms := make([]any, 0, len(members))
		for _, u := range members {
			ms = append(ms, memberDoc(u, base))
		}
		d["members"] = ms
	}
	return d
}

func memberDoc(u identity.User, base string) doc {
	return doc{"value": u.ID, "display": u.Name(), "type": "User", "$ref": base + "/Users/" + u.ID}
}

// normalizeBody turns a request body (POST, PUT, or a PATCH value object)
// into a document of rt: attribute names canonical, dotted and URN-qualified
// keys expanded, nulls and unknown or read-only attributes dropped, values
// coerced to the schema's types ("True" to true where the schema says
// boolean, a lone object to a list where it says multi-valued...). It
// returns a *Error (invalidValue) for a value that cannot be coerced.
func normalizeBody(rt *resourceType, in doc) (doc, error) {
	out := doc{}
	if err := mergeBody(rt, out, in, ""); err != nil {
		return nil, err
	}
	return out, nil
}

func mergeBody(rt *resourceType, out, in doc, uri string) error {
	for k, v := range in {
		if v == nil {
			continue
		}
		if uri == "" {
			if s := rt.isSchemaURI(k); s != nil {
				m, ok := v.(doc)
				if !ok {
					return badRequest(ScimInvalidValue, "%s must be an object", k)
				}
				if err := mergeBody(rt, out, m, s.ID); err != nil {
					return err
				}
				continue
			}
			if u, rest, ok := rt.splitURN(k); ok {
				if err := setPath(rt, out, u, rest, v); err != nil {
					return err
				}
				continue
			}
		}
		if err := setPath(rt, out, uri, k, v); err != nil {
			return err
		}
	}
	return nil
}

// setPath sets the attribute "name" or "name.sub" of schema uri in out.
func setPath(rt *resourceType, out doc, uri, path string, v any) error {
	name, sub, _ := strings.Cut(path, ".")
	if uri == "" && strings.EqualFold(path, "schemas") {
		return nil
	}
	a, s := rt.resolve(uri, name)
	if a == nil {
		return notKept(uri, path, v) // never accepted and lost
	}
	if a.readOnly() || a.Mutability == "writeOnly" {
		return nil // read-only (an echo of id, meta, groups) or the password
	}
	c := container(out, rt, s, true)
	if sub != "" {
		sa := a.sub(sub)
		if sa == nil || a.Multi {
			return notKept(uri, path, v)
		}
		nv, err := coerce(sa, v, a.Name+"."+sa.Name)
		if err != nil || nv == nil {
			return err
		}
		m, _ := c[a.Name].(doc)
		if m == nil {
			m = doc{}
			c[a.Name] = m
		}
		m[sa.Name] = nv
		return nil
	}
	nv, err := coerce(a, v, a.Name)
	if err != nil {
		return err
	}
	if nv == nil {
		delete(c, a.Name)
		return nil
	}
	if old, ok := c[a.Name].(doc); ok && !a.Multi {
		if m, ok := nv.(doc); ok {
			maps.Copy(old, m)
			return nil
		}
	}
	c[a.Name] = nv
	return nil
}

// coerce converts a JSON value to attribute a's type. It returns nil for a
// value that means "unassigned" (null, an empty list or object).
func coerce(a *attr, v any, where string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if a.Multi {
		var list []any
		switch v := v.(type) {
		case []any:
			list = v
		default:
			list = []any{v}
		}
		out := make([]any, 0, len(list))
		for _, e := range list {
			ne, err := coerceOne(a, e, where)
			if err != nil {
				return nil, err
			}
			if ne != nil {
				out = append(out, ne)
			}
		}
		if len(out) == 0 {
			return []any{}, nil
		}
		return out, nil
	}
	if list, ok := v.([]any); ok {
		// A single-valued attribute sent as a list (Entra's manager).
		switch len(list) {
		case 0:
			return nil, nil
		case 1:
			v = list[0]
		default:
			return nil, badRequest(ScimInvalidValue, "%s is single-valued", where)
		}
	}
	return coerceOne(a, v, where)
}

func coerceOne(a *attr, v any, where string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch a.Type {
	case tComplex:
		switch v := v.(type) {
		case doc:
			out := doc{}
			for k, sv := range v {
				sa := a.sub(k)
				if sa == nil && !derived(a) {
					if err := notKept("", where+"."+k, sv); err != nil {
						return nil, err
					}
				}
				if sa == nil || sv == nil {
					continue
				}
				nv, err := coerceOne(sa, sv, where+"."+sa.Name)
				if err != nil {
					return nil, err
				}
				if nv != nil {
					out[sa.Name] = nv
				}
			}
			if len(out) == 0 {
				return nil, nil
			}
			return out, nil
		case string:
			// A bare value for a complex attribute with a value (a member
			// id, a manager id).
			if a.sub("value") != nil {
				return doc{"value": v}, nil
			}
		}
		return nil, badRequest(ScimInvalidValue, "%s must be an object", where)
	case tBoolean:
		switch v := v.(type) {
		case bool:
			return v, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, badRequest(ScimInvalidValue, "%s must be a boolean", where)
	default:
		switch v := v.(type) {
		case string:
			return v, nil
		case json.Number:
			return v.String(), nil
		case float64, bool, int, int64:
			return fmt.Sprint(v), nil
		}
		return nil, badRequest(ScimInvalidValue, "%s must be a string", where)
	}
}

// Attributes keys of the multi-valued attributes a user keeps as JSON.
const (
	attrEmails = "scim.emails"
)

// notKept refuses a value for an attribute rollcall does not keep (400
// invalidValue naming it), rather than accepting and losing it. A null or
// empty value asks to keep nothing and is accepted.
func notKept(uri, path string, v any) error {
	if !present(v) {
		return nil
	}
	if uri != "" {
		path = uri + ":" + path
	}
	return badRequest(ScimInvalidValue, "%s: rollcall does not keep this attribute", path)
}

// derived reports whether the elements of a are read from elsewhere (a
// group's members, a user's groups): what a client sends in them beyond the
// id is not kept, by design.
func derived(a *attr) bool { return a == groupSchema.Attrs[1] || a.Name == "groups" && a.readOnly() }
