package groups_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rollcall/rollcall/groups"
)

var dnSeeds = []string{
	"",
	`CN=Smith\, John,OU=Users,DC=corp,DC=example`,
	"CN=Group1,CN=Users,DC=ad,DC=example,OU=Flexopus,OU=Org",
	"CN=Group1,CN=...,DC=...,OU=Flexopus,OU=Org",
	`cn=Sales\2C EMEA,dc=x`,
	"OU=x,CN=Inner,DC=y",
	`CN=a\,b\+c\"d\\e\<f\>g\;h\=i\ j\#k`,
	`CN=\ x\ ,DC=y`,
	`CN=Caf\C3\A9`,
	`CN=\C3\28`,
	"CN=a+UID=b;DC=x",
	" CN = a , OU = b ",
	"OID.2.5.4.3=x+2.5.4.11=y",
	`CN=a\`,
	`CN=a\2`,
	"CN=#04",
	"=a",
	"CN=a,,DC=b",
	"Sales Team",
}

// firstCN is the first CN of d, found the simple way.
func firstCN(d groups.DN) (string, bool) {
	for _, r := range d {
		for _, a := range r {
			t := strings.ToLower(a.Type)
			if t == "cn" || t == "commonname" || t == "2.5.4.3" || t == "oid.2.5.4.3" {
				return a.Value, true
			}
		}
	}
	return "", false
}

func FuzzParseDN(f *testing.F) {
	for _, s := range dnSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := groups.ParseDN(s)
		cn, cnErr := groups.CommonName(s)
		if err != nil {
			var de *groups.DNError
			if !errors.As(err, &de) || de.DN != s || de.Offset < -1 || de.Offset > len(s) || de.Reason == "" {
				t.Fatalf("ParseDN(%q) error %#v, want a *DNError for it", s, err)
			}
			if d != nil {
				t.Fatalf("ParseDN(%q) = %#v with error %v", s, d, err)
			}
			if cnErr == nil {
				t.Fatalf("CommonName(%q) = %q, but ParseDN fails: %v", s, cn, err)
			}
		} else {
			for _, r := range d {
				if len(r) == 0 {
					t.Fatalf("ParseDN(%q) has an empty RDN: %#v", s, d)
				}
				for _, a := range r {
					if a.Type == "" || !utf8.ValidString(a.Value) {
						t.Fatalf("ParseDN(%q) has attribute %#v", s, a)
					}
				}
			}
			again, err := groups.ParseDN(d.String())
			if err != nil || !reflect.DeepEqual(again, d) {
				t.Fatalf("ParseDN(%q) = %#v, %v; want %#v (from %q)", d.String(), again, err, d, s)
			}
			want, found := firstCN(d)
			switch {
			case found && strings.TrimSpace(want) != "":
				if cnErr != nil || cn != want {
					t.Fatalf("CommonName(%q) = %q, %v; want %q", s, cn, cnErr, want)
				}
			case cnErr == nil:
				t.Fatalf("CommonName(%q) = %q, want an error: first CN %q, found %v", s, cn, want, found)
			}
		}

		// Escaping: always valid UTF-8 out, and parsed back to the input.
		esc := groups.EscapeDNValue(s)
		if !utf8.ValidString(esc) {
			t.Fatalf("EscapeDNValue(%q) = %q, not valid UTF-8", s, esc)
		}
		if utf8.ValidString(s) {
			dn := "CN=" + esc + "+OU=" + esc + ",DC=x"
			got, err := groups.ParseDN(dn)
			want := groups.DN{
				{{Type: "CN", Value: s}, {Type: "OU", Value: s}},
				{{Type: "DC", Value: "x"}},
			}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("ParseDN(%q) = %#v, %v; want the value %q back", dn, got, err, s)
			}
		}
	})
}

var formats = []groups.Format{groups.FormatAuto, groups.FormatDN, groups.FormatList, groups.FormatCSV, ""}

// modelParse is Parse written the plain way: a map for dedupe, no fast paths.
func modelParse(format groups.Format, values []string, limit int) ([]string, error) {
	if limit <= 0 {
		limit = groups.DefaultLimit
	}
	nonBlank := 0
	allDN := true
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			continue
		}
		nonBlank++
		if _, err := groups.CommonName(v); err != nil {
			allDN = false
		}
	}
	if format == groups.FormatAuto || format == "" {
		switch {
		case allDN:
			format = groups.FormatDN
		case nonBlank == 1:
			format = groups.FormatCSV
		default:
			format = groups.FormatList
		}
	}
	var out []string
	seen := map[string]bool{}
	add := func(i int, v, name string) error {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil
		}
		if !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
			return &groups.ClaimError{Index: i, Value: v, Err: groups.ErrInvalidName}
		}
		if !seen[groups.Key(name)] {
			seen[groups.Key(name)] = true
			out = append(out, name)
		}
		return nil
	}
	for i, v := range values {
		switch format {
		case groups.FormatDN:
			if strings.TrimSpace(v) == "" {
				continue
			}
			cn, err := groups.CommonName(v)
			if err != nil {
				return nil, &groups.ClaimError{Index: i, Value: v, Err: err}
			}
			if err := add(i, v, cn); err != nil {
				return nil, err
			}
		case groups.FormatList:
			if err := add(i, v, v); err != nil {
				return nil, err
			}
		case groups.FormatCSV:
			for _, part := range strings.Split(v, ",") {
				if err := add(i, v, part); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(out) > limit {
		return nil, &groups.LimitError{Count: len(out), Limit: limit}
	}
	return out, nil
}

func FuzzParse(f *testing.F) {
	// Values are joined by \x1e (record separator).
	seeds := []string{
		"CN=Group1,CN=...,DC=...,OU=Flexopus,OU=Org\x1eCN=Group2,CN=...,DC=...,OU=Flexopus,OU=Org",
		"Group1\x1eGroup2",
		"Group1, Group2",
		`CN=Smith\, John,OU=Users,DC=corp,DC=example` + "\x1e" + `cn=Sales\2C EMEA,dc=x` + "\x1eOU=x,CN=Inner,DC=y",
		" sales \x1eSales\x1e\x1eSALES",
		"a,b,c,A,B,C,d",
		"CN=a\x1eplain",
		`CN=a\00` + "\x1eCN=b",
		"a\xffb",
		"g0,g1,g2,g3,g4,g5,g6,g7,g8,g9,g10,g11,g12,g13,g14,g15,g16,g17,g18,G0,G1,G17",
	}
	for i, s := range seeds {
		for fi := range formats {
			f.Add(uint8(fi), s, int8(i%4))
		}
	}
	f.Fuzz(func(t *testing.T, fi uint8, joined string, limit8 int8) {
		format := formats[int(fi)%len(formats)]
		values := strings.Split(joined, "\x1e")
		limit := int(limit8)
		effective := limit
		if effective <= 0 {
			effective = groups.DefaultLimit
		}
		names, err := groups.Parse(format, values, limit)
		want, wantErr := modelParse(format, values, limit)

		if err != nil {
			if names != nil {
				t.Fatalf("Parse returned %q with error %v", names, err)
			}
			var ce, wce *groups.ClaimError
			var le, wle *groups.LimitError
			switch {
			case errors.As(err, &ce):
				if ce.Index < 0 || ce.Index >= len(values) || ce.Value != values[ce.Index] {
					t.Fatalf("ClaimError{Index: %d, Value: %q} for values %q", ce.Index, ce.Value, values)
				}
				if !errors.As(wantErr, &wce) || wce.Index != ce.Index {
					t.Fatalf("Parse(%q, %q, %d) error %v, model says %v, %q", format, values, limit, err, wantErr, want)
				}
				var de *groups.DNError
				if errors.As(ce.Err, &de) != errors.As(wce.Err, &de) || errors.Is(ce.Err, groups.ErrInvalidName) != errors.Is(wce.Err, groups.ErrInvalidName) {
					t.Fatalf("Parse error %v, model %v: not the same kind", err, wantErr)
				}
			case errors.As(err, &le):
				if le.Limit != effective || le.Count <= le.Limit || !errors.Is(err, groups.ErrTooManyGroups) {
					t.Fatalf("LimitError %+v with limit %d", *le, effective)
				}
				if !errors.As(wantErr, &wle) || *wle != *le {
					t.Fatalf("Parse(%q, %q, %d) error %v, model says %v, %q", format, values, limit, err, wantErr, want)
				}
			default:
				t.Fatalf("Parse error %T %v", err, err)
			}
			return
		}
		if wantErr != nil || len(names) != len(want) || (len(want) > 0 && !reflect.DeepEqual(names, want)) {
			t.Fatalf("Parse(%q, %q, %d) = %q, model says %q, %v", format, values, limit, names, want, wantErr)
		}
		if len(names) > effective {
			t.Fatalf("Parse returned %d names, limit %d", len(names), effective)
		}
		keys := map[string]bool{}
		for _, n := range names {
			if n == "" || n != strings.TrimSpace(n) || !utf8.ValidString(n) || strings.ContainsRune(n, 0) {
				t.Fatalf("Parse returned name %q", n)
			}
			if keys[groups.Key(n)] {
				t.Fatalf("Parse returned %q twice under Key: %q", n, names)
			}
			keys[groups.Key(n)] = true
		}
	})
}

// FuzzSameName checks that SameName is exactly the comparison of keys.
func FuzzSameName(f *testing.F) {
	for _, s := range [][2]string{
		{"Sales", "sales"}, {" Sales ", "SALES"}, {"Straße", "STRASSE"}, {"\u212a", "k"},
		{"ſ", "s"}, {"\xff", "\ufffd"}, {"a", "ab"}, {"", " "}, {"İ", "i̇"}, {"Σ", "ς"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := groups.SameName(a, b), groups.Key(a) == groups.Key(b); got != want {
			t.Fatalf("SameName(%q, %q) = %v, keys %q and %q", a, b, got, groups.Key(a), groups.Key(b))
		}
	})
}
