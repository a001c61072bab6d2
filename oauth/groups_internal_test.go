package oauth

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/rollcall/rollcall/groups"
)

// FuzzGroupsClaim reads the groups of arbitrary token claims: never a panic,
// never more names than the limit, and an overage is never a list (above all
// not an empty one). Run: go test -run '^$' -fuzz FuzzGroupsClaim ./oauth/
func FuzzGroupsClaim(f *testing.F) {
	f.Add(`{"groups":["a","b"]}`, "")
	f.Add(`{"groups":"a, b"}`, "csv")
	f.Add(`{"groups":[],"_claim_names":{"groups":"src1"}}`, "list")
	f.Add(`{"hasgroups":"true"}`, "")
	f.Add(`{"groups":["CN=a\\,b,DC=x",1]}`, "dn")
	f.Add(`{"groups":null}`, "mixed")
	f.Fuzz(func(t *testing.T, data, format string) {
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(data), &m) != nil {
			return
		}
		fm, err := groups.ParseFormat(format)
		if err != nil {
			return
		}
		c := mustConnection(t, Config{Provider: Discover("corp", "https://op.example"), GroupFormat: fm, GroupLimit: 3})
		g := readGroups(m, DefaultGroupsClaim)
		claim, err := c.groups(g)
		if err != nil {
			if !errors.Is(err, ErrGroups) {
				t.Fatalf("error %v is not ErrGroups", err)
			}
			if claim.Present {
				t.Fatal("groups present with an error")
			}
			return
		}
		if g.overage {
			t.Fatal("an overage read as a list")
		}
		if len(claim.Names) > 3 {
			t.Fatalf("%d names over the limit", len(claim.Names))
		}
		if g.raw == nil && claim.Present {
			t.Fatal("an absent claim read as present")
		}
	})
}
