package groups_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/groups"
)

const saml = "saml:adfs"

// tenant returns a Lookup over a tenant's groups, by Key as the contract says.
func tenant(gs ...groups.Group) groups.Lookup {
	return func(name string) (groups.Group, bool) {
		for _, g := range gs {
			if groups.Key(g.Name) == groups.Key(name) {
				return g, true
			}
		}
		return groups.Group{}, false
	}
}

func internal(name string) groups.Group { return groups.Group{Name: name, Kind: groups.Internal} }
func external(name, source string) groups.Group {
	return groups.Group{Name: name, Kind: groups.External, Source: source}
}

func TestPlanFor(t *testing.T) {
	var (
		staff   = internal("Staff")   // internal, the user is a member
		parking = internal("Parking") // internal, the user is not a member
		sales   = external("Sales", saml)
		eng     = external("Eng", saml)
		ops     = external("Ops", saml) // the user is not a member
		legacy  = external("Legacy", groups.SourceGoogle)
		old     = external("Old", groups.SourceGoogle) // the user is not a member
		all     = tenant(staff, parking, sales, eng, ops, legacy, old)
	)
	tests := []struct {
		name    string
		current []groups.Group
		claim   groups.Claim
		want    groups.Plan
	}{
		{
			name:    "absent claim changes nothing",
			current: []groups.Group{staff, sales, legacy},
			claim:   groups.Absent,
			want:    groups.Plan{},
		},
		{
			name:    "absent claim with names is still absent",
			current: []groups.Group{sales},
			claim:   groups.Claim{Names: []string{"New"}},
			want:    groups.Plan{},
		},
		{
			name:    "present empty claim detaches every external group, keeps internal ones",
			current: []groups.Group{staff, sales, eng, legacy},
			claim:   groups.Received(),
			want:    groups.Plan{Detach: []string{"Sales", "Eng", "Legacy"}},
		},
		{
			name:    "present claim of blank names is empty",
			current: []groups.Group{staff, sales},
			claim:   groups.Received("", "  "),
			want:    groups.Plan{Detach: []string{"Sales"}},
		},
		{
			name:    "received internal group, not a member: convert and attach",
			current: []groups.Group{sales},
			claim:   groups.Received("Sales", "Parking"),
			want:    groups.Plan{Convert: []string{"Parking"}, Attach: []string{"Parking"}},
		},
		{
			name:    "received internal group, already a member: convert only",
			current: []groups.Group{staff},
			claim:   groups.Received("Staff"),
			want:    groups.Plan{Convert: []string{"Staff"}},
		},
		{
			name:    "new name is created as external, trimmed",
			current: nil,
			claim:   groups.Received("  Marketing "),
			want:    groups.Plan{Create: []string{"Marketing"}},
		},
		{
			name:    "received external groups already held stay untouched",
			current: []groups.Group{staff, sales, eng},
			claim:   groups.Received("Sales", "Eng"),
			want:    groups.Plan{},
		},
		{
			name:    "received external group of the source, not a member: attach only",
			current: []groups.Group{sales},
			claim:   groups.Received("Sales", "Ops"),
			want:    groups.Plan{Attach: []string{"Ops"}},
		},
		{
			name:    "external groups not received are detached",
			current: []groups.Group{sales, eng},
			claim:   groups.Received("Sales"),
			want:    groups.Plan{Detach: []string{"Eng"}},
		},
		{
			name:    "internal memberships are never detached",
			current: []groups.Group{staff, parking, sales},
			claim:   groups.Received("Ops"),
			want:    groups.Plan{Attach: []string{"Ops"}, Detach: []string{"Sales"}},
		},
		{
			name:    "names match trimmed and case-insensitively, stored spelling kept",
			current: []groups.Group{staff, sales},
			claim:   groups.Received(" sales ", "OPS", "parking\t"),
			want:    groups.Plan{Convert: []string{"Parking"}, Attach: []string{"Ops", "Parking"}},
		},
		{
			name:    "received external group of another source, a member: convert (re-own)",
			current: []groups.Group{legacy},
			claim:   groups.Received("legacy"),
			want:    groups.Plan{Convert: []string{"Legacy"}},
		},
		{
			name:    "received external group of another source, not a member: convert and attach",
			current: nil,
			claim:   groups.Received("Old"),
			want:    groups.Plan{Convert: []string{"Old"}, Attach: []string{"Old"}},
		},
		{
			name:    "duplicates in the claim count once, first spelling created",
			current: []groups.Group{sales},
			claim:   groups.Received("New", "new", " NEW ", "Sales", "SALES", "Parking", "parking"),
			want:    groups.Plan{Create: []string{"New"}, Convert: []string{"Parking"}, Attach: []string{"Parking"}},
		},
		{
			name:    "everything at once, in claim then membership order",
			current: []groups.Group{staff, sales, eng, legacy},
			claim:   groups.Received("Zeta", "Eng", "parking", "Alpha", "Legacy", "Ops"),
			want: groups.Plan{
				Create:  []string{"Zeta", "Alpha"},
				Convert: []string{"Parking", "Legacy"},
				Attach:  []string{"Parking", "Ops"},
				Detach:  []string{"Sales"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := groups.PlanFor(saml, tt.current, tt.claim, all)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("PlanFor = %+v\nwant      %+v", got, tt.want)
			}
			if got.Empty() != reflect.DeepEqual(tt.want, groups.Plan{}) {
				t.Fatalf("Empty() = %v for %+v", got.Empty(), got)
			}
		})
	}
}

// TestPlanForAbsentNeedsNoLookup checks that an absent claim does no work: a
// nil lookup would panic otherwise.
func TestPlanForAbsentNeedsNoLookup(t *testing.T) {
	if p := groups.PlanFor(saml, []groups.Group{external("Sales", saml)}, groups.Absent, nil); !p.Empty() {
		t.Fatalf("PlanFor(absent) = %+v, want empty", p)
	}
}

// TestPlanForIsStable applies a plan to a model of the tenant and checks that
// planning again with the same claim changes nothing, and that internal
// memberships survive.
func TestPlanForIsStable(t *testing.T) {
	groupsOf := map[string]groups.Group{} // by key
	for _, g := range []groups.Group{internal("Staff"), internal("Parking"), external("Sales", saml), external("Legacy", groups.SourceGoogle)} {
		groupsOf[groups.Key(g.Name)] = g
	}
	lookup := func(name string) (groups.Group, bool) { g, ok := groupsOf[groups.Key(name)]; return g, ok }
	member := []string{"Staff", "Sales", "Legacy"}
	current := func() []groups.Group {
		var gs []groups.Group
		for _, n := range member {
			gs = append(gs, groupsOf[groups.Key(n)])
		}
		return gs
	}
	claim := groups.Received("parking", "New", "LEGACY", "new")

	p := groups.PlanFor(saml, current(), claim, lookup)
	for _, n := range p.Create {
		groupsOf[groups.Key(n)] = external(n, saml)
		member = append(member, n)
	}
	for _, n := range p.Convert {
		groupsOf[groups.Key(n)] = external(n, saml)
	}
	member = append(member, p.Attach...)
	member = slicesDelete(member, p.Detach)

	if again := groups.PlanFor(saml, current(), claim, lookup); !again.Empty() {
		t.Fatalf("second PlanFor = %+v, want empty (first was %+v)", again, p)
	}
	want := []string{"Staff", "Legacy", "New", "Parking"}
	if !reflect.DeepEqual(member, want) {
		t.Fatalf("memberships after the plan = %q, want %q", member, want)
	}
}

func slicesDelete(s, del []string) []string {
	var out []string
	for _, x := range s {
		keep := true
		for _, d := range del {
			keep = keep && x != d
		}
		if keep {
			out = append(out, x)
		}
	}
	return out
}

func TestReceived(t *testing.T) {
	c := groups.Received()
	if !c.Present || c.Names == nil || len(c.Names) != 0 {
		t.Fatalf("Received() = %#v, want present with no names", c)
	}
	if groups.Absent.Present {
		t.Fatal("Absent is present")
	}
	if c := groups.Received("a", "b"); !c.Present || !reflect.DeepEqual(c.Names, []string{"a", "b"}) {
		t.Fatalf("Received(a, b) = %#v", c)
	}
}

func TestKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Sales", "sales"},
		{" sales ", "sales"},
		{"\tSALES\n", "sales"},
		{"ÉQUIPE Zürich", "équipe zürich"},
		{"a  B", "a  b"},
		{"", ""},
		{"   ", ""},
	}
	for _, tt := range tests {
		if got := groups.Key(tt.in); got != tt.want {
			t.Errorf("Key(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if groups.Key(" sales ") != groups.Key("Sales") {
		t.Error(`Key(" sales ") != Key("Sales")`)
	}
	if groups.Key("Sales") == groups.Key("Sales EMEA") {
		t.Error("different names share a key")
	}
}

func TestKindValid(t *testing.T) {
	for k, want := range map[groups.Kind]bool{groups.Internal: true, groups.External: true, "": false, "Internal": false, "other": false} {
		if got := k.Valid(); got != want {
			t.Errorf("Kind(%q).Valid() = %v, want %v", k, got, want)
		}
	}
}

func TestValidSource(t *testing.T) {
	for s, want := range map[string]bool{
		groups.SourceSCIM:          true,
		groups.SourceGoogle:        true,
		groups.SAMLSource("adfs"):  true,
		groups.OAuthSource("okta"): true,
		"oauth:":                   false,
		"saml:":                    false,
		"saml":                     false,
		"SCIM":                     false,
		"ldap":                     false,
		"":                         false,
	} {
		if got := groups.ValidSource(s); got != want {
			t.Errorf("ValidSource(%q) = %v, want %v", s, got, want)
		}
	}
	if got := groups.SAMLSource("adfs"); got != "saml:adfs" {
		t.Errorf(`SAMLSource("adfs") = %q`, got)
	}
	if got := groups.OAuthSource("okta"); got != "oauth:okta" {
		t.Errorf(`OAuthSource("okta") = %q`, got)
	}
}

func TestCheckSources(t *testing.T) {
	ok := [][]string{
		nil,
		{""},
		{groups.SourceSCIM},
		{groups.SourceSCIM, groups.SourceSCIM},
		{"", groups.SourceGoogle, ""},
		{"saml:adfs", "saml:adfs"},
	}
	for _, sources := range ok {
		if err := groups.CheckSources(sources...); err != nil {
			t.Errorf("CheckSources(%q) = %v, want nil", sources, err)
		}
	}

	conflicts := []struct {
		sources       []string
		first, second string
	}{
		{[]string{"scim", "google"}, "scim", "google"},
		{[]string{"saml:adfs", "", "scim"}, "saml:adfs", "scim"},
		{[]string{"saml:a", "saml:b"}, "saml:a", "saml:b"},
		{[]string{"google", "google", "saml:a", "scim"}, "google", "saml:a"},
		{[]string{"oauth:okta", "saml:a"}, "oauth:okta", "saml:a"},
		{[]string{"scim", "oauth:okta"}, "scim", "oauth:okta"},
	}
	for _, tt := range conflicts {
		err := groups.CheckSources(tt.sources...)
		var ce *groups.SourceConflictError
		if !errors.As(err, &ce) || ce.First != tt.first || ce.Second != tt.second {
			t.Errorf("CheckSources(%q) = %#v, want SourceConflictError{%q, %q}", tt.sources, err, tt.first, tt.second)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, `"`+tt.first+`"`) || !strings.Contains(msg, `"`+tt.second+`"`) {
			t.Errorf("error %q does not name both sources", msg)
		}
	}

	invalid := []struct {
		sources []string
		bad     string
	}{
		{[]string{"saml:"}, "saml:"},
		{[]string{"oauth:"}, "oauth:"},
		{[]string{"ldap"}, "ldap"},
		{[]string{"scim", "SCIM"}, "SCIM"},
	}
	for _, tt := range invalid {
		err := groups.CheckSources(tt.sources...)
		var ce *groups.SourceConflictError
		if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), `"`+tt.bad+`"`) {
			t.Errorf("CheckSources(%q) = %v, want an error naming %q that is not a conflict", tt.sources, err, tt.bad)
		}
	}
}
