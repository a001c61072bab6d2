package scim

import "strings"

// attrRef is an attribute named in attributes or excludedAttributes.
type attrRef struct {
	a   *attr
	s   *schema
	sub *attr
}

func parseRef(rt *resourceType, path string) (attrRef, bool) {
	uri, rest, _ := rt.splitURN(path)
	if uri == "" {
		if s := rt.isSchemaURI(path); s != nil {
			return attrRef{s: s}, true // a whole extension
		}
	}
	name, sub, _ := strings.Cut(rest, ".")
	a, s := rt.resolve(uri, name)
	if a == nil {
		return attrRef{}, false
	}
	r := attrRef{a: a, s: s}
	if sub != "" {
		if r.sub = a.sub(sub); r.sub == nil {
			return attrRef{}, false
		}
	}
	return r, true
}

// wants reports whether a projection returns the attribute name of rt's
// core schema (one returned by default).
func wants(rt *resourceType, attrs, excluded []string, name string) bool {
	if len(attrs) > 0 {
		for _, p := range attrs {
			if r, ok := parseRef(rt, p); ok && r.a != nil && strings.EqualFold(r.a.Name, name) && r.s == rt.Schema {
				return true
			}
		}
		return false
	}
	for _, p := range excluded {
		if r, ok := parseRef(rt, p); ok && r.a != nil && strings.EqualFold(r.a.Name, name) && r.sub == nil && r.s == rt.Schema {
			return false
		}
	}
	return true
}

// project applies attributes or excludedAttributes (RFC 7644, section
// 3.4.2.5) to a document; id and schemas are always returned. attributes
// wins when both are given.
func project(rt *resourceType, d doc, attrs, excluded []string) doc {
	if len(attrs) > 0 {
		out := doc{"id": d["id"], "schemas": d["schemas"]}
		for _, p := range attrs {
			r, ok := parseRef(rt, p)
			if !ok {
				continue
			}
			if r.a == nil {
				if v, ok := d[r.s.ID]; ok {
					out[r.s.ID] = v
				}
				continue
			}
			src := container(d, rt, r.s, false)
			v, ok := src[r.a.Name]
			if !ok {
				continue
			}
			dst := container(out, rt, r.s, true)
			if r.sub == nil {
				dst[r.a.Name] = v
				continue
			}
			switch v := v.(type) {
			case doc:
				m, _ := dst[r.a.Name].(doc)
				if m == nil {
					m = doc{}
					dst[r.a.Name] = m
				}
				if sv, ok := v[r.sub.Name]; ok {
					m[r.sub.Name] = sv
				}
			case []any:
				old, _ := dst[r.a.Name].([]any)
				list := make([]any, len(v))
				for i, e := range v {
					el, _ := e.(doc)
					var m doc
					if i < len(old) {
						m, _ = old[i].(doc)
					}
					if m == nil {
						m = doc{}
					}
					if sv, ok := el[r.sub.Name]; ok {
						m[r.sub.Name] = sv
					}
					list[i] = m
				}
				dst[r.a.Name] = list
			}
		}
		return out
	}
	for _, p := range excluded {
		r, ok := parseRef(rt, p)
		if !ok {
			continue
		}
		if r.a == nil {
			delete(d, r.s.ID)
			continue
		}
		if r.a.Returned == "always" {
			continue
		}
		c := container(d, rt, r.s, false)
		if c == nil {
			continue
		}
		if r.sub == nil {
			delete(c, r.a.Name)
			continue
		}
		for _, el := range elements(c[r.a.Name]) {
			delete(el, r.sub.Name)
		}
	}
	return d
}
