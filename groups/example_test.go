package groups_test

import (
	"errors"
	"fmt"

	"github.com/rollcall/rollcall/groups"
)

func ExampleParse() {
	// AD FS sends an LDAP array: the first CN of each DN is the group.
	names, err := groups.Parse(groups.FormatDN, []string{
		`CN=Smith\, John's team,OU=Groups,DC=corp,DC=example`,
		"CN=Group1,CN=Users,DC=ad,DC=example,OU=Flexopus,OU=Org",
		"cn=GROUP1,OU=Elsewhere,DC=example",
	}, 0)
	fmt.Printf("%q %v\n", names, err)

	// Keycloak sends one group per value; others one comma-separated string.
	names, _ = groups.Parse(groups.FormatAuto, []string{"Group1", "Group2"}, 0)
	fmt.Printf("%q\n", names)
	names, _ = groups.Parse(groups.FormatAuto, []string{"Group1, Group2,,group1"}, 0)
	fmt.Printf("%q\n", names)

	// Past the limit, no group is taken.
	names, err = groups.Parse(groups.FormatList, []string{"a", "b", "c"}, 2)
	fmt.Println(names == nil, errors.Is(err, groups.ErrTooManyGroups), err)
	// Output:
	// ["Smith, John's team" "Group1"] <nil>
	// ["Group1" "Group2"]
	// ["Group1" "Group2"]
	// true true groups: claim holds 3 groups, more than the limit of 2
}

func ExampleCommonName() {
	cn, err := groups.CommonName(`cn=Sales\2C EMEA,dc=example`)
	fmt.Printf("%q %v\n", cn, err)
	_, err = groups.CommonName("OU=Sales,DC=example")
	fmt.Println(err)
	// Output:
	// "Sales, EMEA" <nil>
	// groups: DN "OU=Sales,DC=example": no CN attribute
}

func ExamplePlanFor() {
	const source = "saml:adfs"
	tenantGroups := map[string]groups.Group{
		"staff":   {Name: "Staff", Kind: groups.Internal},
		"parking": {Name: "Parking", Kind: groups.Internal},
		"sales":   {Name: "Sales", Kind: groups.External, Source: source},
		"eng":     {Name: "Eng", Kind: groups.External, Source: source},
	}
	lookup := func(name string) (groups.Group, bool) {
		g, ok := tenantGroups[groups.Key(name)]
		return g, ok
	}
	current := []groups.Group{tenantGroups["staff"], tenantGroups["sales"], tenantGroups["eng"]}

	names, err := groups.Parse(groups.FormatList, []string{"sales", "Parking", "Marketing"}, 0)
	if err != nil {
		panic(err)
	}
	plan := groups.PlanFor(source, current, groups.Received(names...), lookup)
	fmt.Printf("create %q\nconvert %q\nattach %q\ndetach %q\n", plan.Create, plan.Convert, plan.Attach, plan.Detach)

	// A login whose assertion has no memberOf attribute changes nothing.
	fmt.Println(groups.PlanFor(source, current, groups.Absent, lookup).Empty())
	// Output:
	// create ["Marketing"]
	// convert ["Parking"]
	// attach ["Parking"]
	// detach ["Eng"]
	// true
}
