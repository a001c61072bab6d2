package scim

import "testing"

// splitURN runs for every key of every body: it allocates nothing.
func TestSplitURNAllocatesNothing(t *testing.T) {
	for _, key := range []string{
		"userName",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
		"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.givenName",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0user:manager",
		"urn:example:other",
	} {
		if n := testing.AllocsPerRun(100, func() { userType.splitURN(key) }); n != 0 {
			t.Errorf("%s: %v allocations", key, n)
		}
	}
	for key, want := range map[string][2]string{
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": {URIEnterprise, "department"},
		"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.givenName":             {URIUser, "name.givenName"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0user:manager":     {URIEnterprise, "manager"},
	} {
		uri, rest, ok := userType.splitURN(key)
		if !ok || uri != want[0] || rest != want[1] {
			t.Errorf("%s: %q %q %v", key, uri, rest, ok)
		}
	}
	if _, rest, ok := userType.splitURN("urn:ietf:params:scim:schemas:core:2.0:Userx"); ok {
		t.Errorf("a longer URN split: %q", rest)
	}
}
