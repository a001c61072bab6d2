package scim

import (
	"net/http"
	"strings"
)

// serviceProviderConfig describes what this provider supports (RFC 7643,
// section 5).
func serviceProviderConfig(base string, maxResults int) doc {
	return doc{
		"schemas":          []string{URISPConfig},
		"documentationUri": "https://github.com/rollcall/rollcall/blob/main/docs/scim.md",
		"patch":            doc{"supported": true},
		"bulk":             doc{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           doc{"supported": true, "maxResults": maxResults},
		"changePassword":   doc{"supported": false},
		"sort":             doc{"supported": true},
		"etag":             doc{"supported": true},
		"authenticationSchemes": []doc{{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "Authentication with a bearer token issued for the tenant.",
			"specUri":     "https://www.rfc-editor.org/info/rfc6750",
			"primary":     true,
		}},
		"meta": doc{"resourceType": "ServiceProviderConfig", "location": base + "/ServiceProviderConfig"},
	}
}

func resourceTypeDoc(rt *resourceType, base string) doc {
	d := doc{
		"schemas":     []string{URIResType},
		"id":          rt.ID,
		"name":        rt.ID,
		"endpoint":    rt.Endpoint,
		"description": rt.Schema.Desc,
		"schema":      rt.Schema.ID,
		"meta":        doc{"resourceType": "ResourceType", "location": base + "/ResourceTypes/" + rt.ID},
	}
	if len(rt.Extensions) > 0 {
		var ext []doc
		for _, s := range rt.Extensions {
			ext = append(ext, doc{"schema": s.ID, "required": false})
		}
		d["schemaExtensions"] = ext
	}
	return d
}

func resourceTypesDocs(base string) []doc {
	return []doc{resourceTypeDoc(userType, base), resourceTypeDoc(groupType, base)}
}

func attrDoc(a *attr) doc {
	d := doc{
		"name":        a.Name,
		"type":        a.Type,
		"multiValued": a.Multi,
		"description": a.Desc,
		"required":    a.Required,
		"caseExact":   a.CaseExact,
		"mutability":  or(a.Mutability, "readWrite"),
		"returned":    or(a.Returned, "default"),
		"uniqueness":  or(a.Uniqueness, "none"),
	}
	if len(a.Canonical) > 0 {
		d["canonicalValues"] = a.Canonical
	}
	if len(a.RefTypes) > 0 {
		d["referenceTypes"] = a.RefTypes
	}
	if len(a.Sub) > 0 {
		var subs []doc
		for _, s := range a.Sub {
			subs = append(subs, attrDoc(s))
		}
		d["subAttributes"] = subs
	}
	return d
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func schemaDoc(s *schema, base string) doc {
	var attrs []doc
	if s == userSchema || s == groupSchema {
		// id, externalId and meta are common attributes (RFC 7643, section
		// 3.1); externalId is listed with the schema's own, as clients look
		// for it there.
		attrs = append(attrs, attrDoc(commonAttrs[1]))
	}
	for _, a := range s.Attrs {
		attrs = append(attrs, attrDoc(a))
	}
	return doc{
		"schemas":     []string{URISchema},
		"id":          s.ID,
		"name":        s.Name,
		"description": s.Desc,
		"attributes":  attrs,
		"meta":        doc{"resourceType": "Schema", "location": base + "/Schemas/" + s.ID},
	}
}

func schemasDocs(base string) []doc {
	return []doc{schemaDoc(userSchema, base), schemaDoc(enterpriseSchema, base), schemaDoc(groupSchema, base)}
}

// discovery serves /ResourceTypes and /Schemas, the list or one by id
// (compared case-insensitively).
func (q *request) discovery(seg []string, all []doc) error {
	switch len(seg) {
	case 1:
		q.writeJSON(http.StatusOK, listResponse(len(all), 1, all))
		return nil
	case 2:
		for _, d := range all {
			if strings.EqualFold(d["id"].(string), seg[1]) {
				q.writeJSON(http.StatusOK, d)
				return nil
			}
		}
	}
	return errorf(http.StatusNotFound, "", "no such %s", seg[0])
}
