package scim_test

import (
	"testing"
)

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/ServiceProviderConfig", "").must(t, 200)
	for path, want := range map[string]any{
		"patch.supported": true, "bulk.supported": false, "filter.supported": true, "filter.maxResults": float64(1000),
		"sort.supported": true, "etag.supported": true, "changePassword.supported": false,
		"authenticationSchemes.0.type": "oauthbearertoken",
	} {
		wantField(t, r, path, want)
	}
	r = e.do("GET", "/ResourceTypes", "").must(t, 200)
	if r.total() != 2 {
		t.Errorf("%s", r.Raw)
	}
	r = e.do("GET", "/ResourceTypes/User", "").must(t, 200)
	wantField(t, r, "endpoint", "/Users")
	wantField(t, r, "schemaExtensions.0.schema", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
	e.do("GET", "/resourcetypes/group", "").must(t, 200)
	e.do("GET", "/ResourceTypes/Widget", "").must(t, 404)

	r = e.do("GET", "/Schemas", "").must(t, 200)
	if r.total() != 3 {
		t.Errorf("%s", r.Raw)
	}
	r = e.do("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "").must(t, 200)
	attrs := map[string]map[string]any{}
	for _, a := range r.get("attributes").([]any) {
		m := a.(map[string]any)
		attrs[m["name"].(string)] = m
	}
	for name, want := range map[string][2]any{
		"userName": {"caseExact", false}, "active": {"type", "boolean"}, "groups": {"mutability", "readOnly"},
		"password": {"returned", "never"}, "emails": {"multiValued", true}, "externalId": {"caseExact", true},
		"phoneNumbers": {"multiValued", true}, "addresses": {"multiValued", true}, "ims": {"multiValued", true},
		"photos": {"multiValued", true}, "name": {"type", "complex"},
	} {
		if attrs[name] == nil || attrs[name][want[0].(string)] != want[1] {
			t.Errorf("%s: %v", name, attrs[name])
		}
	}
	// Exactly what is kept: what is refused is not advertised.
	for _, name := range []string{"roles", "entitlements", "x509Certificates"} {
		if attrs[name] != nil {
			t.Errorf("%s advertised, but not kept", name)
		}
	}
	if n := len(attrs); n != 19 {
		t.Errorf("the User schema lists %d attributes, want 19", n)
	}
	r = e.do("GET", "/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "").must(t, 200)
	if n := len(r.get("attributes").([]any)); n != 6 {
		t.Errorf("enterprise has %d attributes", n)
	}
	e.do("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", "").must(t, 200)
}
