package groups_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/groups"
)

// rdn builds an RDN from type, value pairs.
func rdn(tv ...string) groups.RDN {
	var r groups.RDN
	for i := 0; i < len(tv); i += 2 {
		r = append(r, groups.Attribute{Type: tv[i], Value: tv[i+1]})
	}
	return r
}

func TestParseDN(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want groups.DN
	}{
		{"empty", "", nil},
		{"only spaces", "  ", nil},
		{"one RDN", "CN=Group1", groups.DN{rdn("CN", "Group1")}},
		{"escaped comma", `CN=Smith\, John,OU=Users,DC=corp,DC=example`,
			groups.DN{rdn("CN", "Smith, John"), rdn("OU", "Users"), rdn("DC", "corp"), rdn("DC", "example")}},
		{"reference shape", "CN=Group1,CN=Users,DC=ad,DC=example,OU=Flexopus,OU=Org",
			groups.DN{rdn("CN", "Group1"), rdn("CN", "Users"), rdn("DC", "ad"), rdn("DC", "example"), rdn("OU", "Flexopus"), rdn("OU", "Org")}},
		{"reference literal", "CN=Group1,CN=...,DC=...,OU=Flexopus,OU=Org",
			groups.DN{rdn("CN", "Group1"), rdn("CN", "..."), rdn("DC", "..."), rdn("OU", "Flexopus"), rdn("OU", "Org")}},
		{"every special escape", `CN=a\,b\+c\"d\\e\<f\>g\;h\=i\ j\#k`, groups.DN{rdn("CN", `a,b+c"d\e<f>g;h=i j#k`)}},
		{"leading sharp", `CN=\#1`, groups.DN{rdn("CN", "#1")}},
		{"leading and trailing escaped space", `CN=\ x\ `, groups.DN{rdn("CN", " x ")}},
		{"escaped space then unescaped spaces", `CN=x\   ,DC=y`, groups.DN{rdn("CN", "x "), rdn("DC", "y")}},
		{"hex comma", `cn=Sales\2C EMEA,dc=x`, groups.DN{rdn("cn", "Sales, EMEA"), rdn("dc", "x")}},
		{"lower-case hex", `CN=a\2cb`, groups.DN{rdn("CN", "a,b")}},
		{"hex space at end", `CN=a\20`, groups.DN{rdn("CN", "a ")}},
		{"hex backslash", `CN=a\5Cb`, groups.DN{rdn("CN", `a\b`)}},
		{"hex NUL", `CN=a\00b`, groups.DN{rdn("CN", "a\x00b")}},
		{"hex UTF-8 two bytes", `CN=Caf\C3\A9`, groups.DN{rdn("CN", "Café")}},
		{"hex UTF-8 three bytes", `CN=\E2\82\AC 5`, groups.DN{rdn("CN", "€ 5")}},
		{"hex UTF-8 four bytes", `CN=\F0\9F\98\80`, groups.DN{rdn("CN", "😀")}},
		{"raw UTF-8", "CN=Café,O=Zürich", groups.DN{rdn("CN", "Café"), rdn("O", "Zürich")}},
		{"multi-valued RDN", "CN=a+UID=b,DC=x", groups.DN{rdn("CN", "a", "UID", "b"), rdn("DC", "x")}},
		{"multi-valued RDN with spaces", "CN = a + UID = b , DC = x", groups.DN{rdn("CN", "a", "UID", "b"), rdn("DC", "x")}},
		{"escaped plus is not multi-valued", `CN=a\+UID=b`, groups.DN{rdn("CN", "a+UID=b")}},
		{"spaces around separators", " CN = Group 1 , OU = Sales ", groups.DN{rdn("CN", "Group 1"), rdn("OU", "Sales")}},
		{"tabs and newlines around", "\n\tCN=a,\r\n DC=b\n", groups.DN{rdn("CN", "a"), rdn("DC", "b")}},
		{"semicolon separator", "CN=a;DC=b", groups.DN{rdn("CN", "a"), rdn("DC", "b")}},
		{"numeric OID type", "2.5.4.3=x,0.9.2342.19200300.100.1.25=y", groups.DN{rdn("2.5.4.3", "x"), rdn("0.9.2342.19200300.100.1.25", "y")}},
		{"OID. prefix", "OID.2.5.4.3=x", groups.DN{rdn("OID.2.5.4.3", "x")}},
		{"type with digit and hyphen", "x-ms-1=v", groups.DN{rdn("x-ms-1", "v")}},
		{"empty value", "CN=,DC=x", groups.DN{rdn("CN", ""), rdn("DC", "x")}},
		{"empty last value", "CN=a,DC=", groups.DN{rdn("CN", "a"), rdn("DC", "")}},
		{"unescaped = and # inside a value", "CN=a=b#c", groups.DN{rdn("CN", "a=b#c")}},
		{"inner spaces kept", "CN=a   b", groups.DN{rdn("CN", "a   b")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := groups.ParseDN(tt.in)
			if err != nil {
				t.Fatalf("ParseDN(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseDN(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			// What String writes reads back the same.
			again, err := groups.ParseDN(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("ParseDN(%q) = %#v, %v; want %#v", got.String(), again, err, got)
			}
		})
	}
}

func TestParseDNErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		offset int
		reason string
	}{
		{"trailing backslash", `CN=a\`, 4, "backslash at end"},
		{"hex cut short at end", `CN=a\2`, 4, "invalid hex escape"},
		{"bad second hex digit", `CN=a\2Z,DC=x`, 4, "invalid hex escape"},
		{"not an escapable character", `CN=\G1`, 3, `invalid escape of 'G'`},
		{"escaped letter", `CN=a\n`, 4, `invalid escape of 'n'`},
		{"escaped non-ASCII", `CN=\é`, 3, `invalid escape of 'é'`},
		{"missing = at end", "CN", 2, `missing '=' after attribute type "CN"`},
		{"missing = before comma", "CNGroup,DC=x", 7, `missing '='`},
		{"missing = in a later RDN", "CN=a,DC", 7, `missing '='`},
		{"plain name", "Sales Team", 6, `missing '='`},
		{"bad character in type", "C_N=x", 1, `missing '='`},
		{"empty type", "=a", 0, "empty attribute type"},
		{"empty type later", "CN=a, =b", 6, "empty attribute type"},
		{"type starts badly", "_CN=x", 0, "unexpected '_'"},
		{"trailing comma", "CN=a,", 5, "missing attribute type"},
		{"trailing plus", "CN=a+", 5, "missing attribute type"},
		{"double comma", "CN=a,,DC=b", 5, "unexpected ','"},
		{"leading comma", ",CN=a", 0, "unexpected ','"},
		{"invalid UTF-8 from hex", `CN=\C3\28`, 3, "not valid UTF-8"},
		{"lone continuation byte from hex", `CN=ab\A9`, 3, "not valid UTF-8"},
		{"truncated UTF-8 from hex", `CN=x,DC=\C3`, 8, "not valid UTF-8"},
		{"UTF-8 surrogate from hex", `CN=\ED\A0\80`, 3, "not valid UTF-8"},
		{"invalid raw UTF-8", "CN=a\xffb", 3, "not valid UTF-8"},
		{"hex BER value", "CN=#0403616263", 3, "hex-encoded (#) values are not supported"},
		{"hex BER value after spaces", "CN= #04", 4, "not supported"},
		{"unescaped quote", `CN="a"`, 3, `'"' in a value must be escaped`},
		{"unescaped less-than", "CN=a<b", 4, "must be escaped"},
		{"unescaped greater-than", "CN=a>b", 4, "must be escaped"},
		{"raw NUL", "CN=a\x00", 4, "must be escaped"},
		{"empty OID arc", "2..5=x", 0, "invalid numeric OID"},
		{"OID leading zero", "01.2=x", 0, "invalid numeric OID"},
		{"OID trailing dot", "2.5.=x", 0, "invalid numeric OID"},
		{"OID. without OID", "OID.=x", 4, "invalid numeric OID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := groups.ParseDN(tt.in)
			if err == nil {
				t.Fatalf("ParseDN(%q) = %#v, want an error", tt.in, got)
			}
			var de *groups.DNError
			if !errors.As(err, &de) {
				t.Fatalf("ParseDN(%q) error %T %v, want *DNError", tt.in, err, err)
			}
			if de.DN != tt.in || de.Offset != tt.offset || !strings.Contains(de.Reason, tt.reason) {
				t.Fatalf("ParseDN(%q) = DNError{DN: %q, Offset: %d, Reason: %q}, want offset %d and reason with %q",
					tt.in, de.DN, de.Offset, de.Reason, tt.offset, tt.reason)
			}
			if got != nil {
				t.Fatalf("ParseDN(%q) returned %#v with its error", tt.in, got)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("offset %d", tt.offset)) {
				t.Fatalf("error %q does not name offset %d", err, tt.offset)
			}
		})
	}
}

func TestCommonName(t *testing.T) {
	tests := []struct{ in, want string }{
		{`CN=Smith\, John,OU=Users,DC=corp,DC=example`, "Smith, John"},
		{"CN=Group1,CN=Users,DC=ad,DC=example,OU=Flexopus,OU=Org", "Group1"},
		{`cn=Sales\2C EMEA,dc=x`, "Sales, EMEA"},
		{"OU=x,CN=Inner,DC=y", "Inner"},
		{"cN=mixed", "mixed"},
		{"commonName=long form", "long form"},
		{"2.5.4.3=by OID", "by OID"},
		{"oid.2.5.4.3=by OID.", "by OID."},
		{"OU=x+CN=in a multi-valued RDN", "in a multi-valued RDN"},
		{"CN=first,CN=second", "first"},
		{`CN=\ padded\ ,DC=x`, " padded "},
		{"CNX=no,CN=yes", "yes"},
	}
	for _, tt := range tests {
		got, err := groups.CommonName(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("CommonName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCommonNameErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		reason string
	}{
		{"", -1, "empty DN"},
		{"OU=x,DC=y", -1, "no CN attribute"},
		{"Group1", 6, "missing '='"},
		{"CN=a,bad", 8, "missing '='"},
		{`CN=a\`, 4, "backslash at end"},
		{"CN= ,DC=x", 4, "CN value is blank"},
		{"CN=,CN=second", 3, "CN value is blank"},
	}
	for _, tt := range tests {
		got, err := groups.CommonName(tt.in)
		var de *groups.DNError
		if !errors.As(err, &de) || de.Offset != tt.offset || !strings.Contains(de.Reason, tt.reason) || de.DN != tt.in {
			t.Errorf("CommonName(%q) = %q, %#v; want a *DNError at offset %d with %q", tt.in, got, err, tt.offset, tt.reason)
		}
	}
	if err := (&groups.DNError{DN: "x", Offset: -1, Reason: "no CN attribute"}).Error(); strings.Contains(err, "offset") {
		t.Errorf("DNError with Offset -1 says %q, want no offset", err)
	}
}

func TestEscapeDNValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"Smith, John", `Smith\, John`},
		{`a+b"c\d<e>f;g`, `a\+b\"c\\d\<e\>f\;g`},
		{"#1 and #2", `\#1 and #2`},
		{" x ", `\ x\ `},
		{" ", `\ `},
		{"a  b", "a  b"},
		{"a=b", "a=b"},
		{"tab\tend\n", `tab\09end\0A`},
		{"nul\x00", `nul\00`},
		{"del\x7f", `del\7F`},
		{"Café €", "Café €"},
		{"bad\xffbyte", `bad\FFbyte`},
	}
	for _, tt := range tests {
		got := groups.EscapeDNValue(tt.in)
		if got != tt.want {
			t.Errorf("EscapeDNValue(%q) = %q, want %q", tt.in, got, tt.want)
			continue
		}
		if !strings.Contains(tt.in, "\xff") {
			cn, err := groups.ParseDN("CN=" + got + ",DC=x")
			if err != nil || cn[0][0].Value != tt.in {
				t.Errorf("ParseDN(CN=%s) = %#v, %v; want value %q", got, cn, err, tt.in)
			}
		}
	}
}

func TestDNString(t *testing.T) {
	d := groups.DN{rdn("CN", "Smith, John", "UID", "js"), rdn("OU", " x"), rdn("DC", "")}
	if got, want := d.String(), `CN=Smith\, John+UID=js,OU=\ x,DC=`; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if got := groups.DN(nil).String(); got != "" {
		t.Fatalf("empty DN String() = %q", got)
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want groups.Format
	}{
		{"", groups.FormatAuto},
		{"auto", groups.FormatAuto},
		{"AUTO", groups.FormatAuto},
		{"dn", groups.FormatDN},
		{"DN", groups.FormatDN},
		{" List ", groups.FormatList},
		{"csv", groups.FormatCSV},
		{"Csv", groups.FormatCSV},
		{"Mixed", groups.FormatMixed},
	}
	for _, tt := range tests {
		got, err := groups.ParseFormat(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"ldap", "array", "d n", "comma"} {
		if got, err := groups.ParseFormat(in); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
			t.Errorf("ParseFormat(%q) = %q, %v; want an error naming it", in, got, err)
		}
	}
}

// names returns n distinct names g0, g1, ...
func names(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("g%d", i)
	}
	return s
}

func TestParse(t *testing.T) {
	var (
		adfs     = []string{"CN=Group1,CN=Users,DC=ad,DC=example,OU=Flexopus,OU=Org", "CN=Group2,CN=Users,DC=ad,DC=example,OU=Flexopus,OU=Org"}
		keycloak = []string{"Group1", "Group2"}
		csv      = []string{"Group1,Group2"}
		group12  = []string{"Group1", "Group2"}
	)
	// 20 names and their upper-case twins: past the linear dedupe.
	many := names(20)
	manyTwins := append([]string{}, many...)
	for _, n := range many {
		manyTwins = append(manyTwins, strings.ToUpper(n))
	}
	tests := []struct {
		name   string
		format groups.Format
		values []string
		limit  int
		want   []string
	}{
		{"reference AD FS as dn", groups.FormatDN, adfs, 0, group12},
		{"reference AD FS as auto", groups.FormatAuto, adfs, 0, group12},
		{"reference AD FS, zero format", "", adfs, 0, group12},
		{"reference Keycloak as list", groups.FormatList, keycloak, 0, group12},
		{"reference Keycloak as auto", groups.FormatAuto, keycloak, 0, group12},
		{"reference comma list as csv", groups.FormatCSV, csv, 0, group12},
		{"reference comma list as auto", groups.FormatAuto, csv, 0, group12},

		{"mixed DNs and names", groups.FormatMixed, []string{`CN=Smith\, John,OU=Groups,DC=corp`, "CN=Desk Admins,DC=corp", "Berlin Office", "desk admins"}, 0,
			[]string{"Smith, John", "Desk Admins", "Berlin Office"}},
		{"mixed keeps a name that is no DN", groups.FormatMixed, []string{"OU=x,DC=y", "a=b=c"}, 0, []string{"OU=x,DC=y", "a=b=c"}},
		{"no values", groups.FormatList, nil, 0, []string{}},
		{"no values auto", groups.FormatAuto, nil, 0, []string{}},
		{"blank values", groups.FormatAuto, []string{"", " ", "\t"}, 0, []string{}},
		{"dn drops blank values", groups.FormatDN, []string{" ", adfs[0], ""}, 0, []string{"Group1"}},
		{"dn escapes", groups.FormatDN, []string{`CN=Smith\, John,OU=Users`, `cn=Sales\2C EMEA,dc=x`, `CN=Caf\C3\A9,DC=x`}, 0,
			[]string{"Smith, John", "Sales, EMEA", "Café"}},
		{"dn trims escaped spaces", groups.FormatDN, []string{`CN=\ x\ ,DC=y`}, 0, []string{"x"}},
		{"dn dedupes by key", groups.FormatDN, []string{"CN=Sales,OU=a", "cn=SALES,OU=b", "CN=Eng,OU=a"}, 0, []string{"Sales", "Eng"}},
		{"dn single value is not split", groups.FormatDN, []string{`CN=a\,b,DC=x`}, 0, []string{"a,b"}},
		{"list trims and dedupes, first spelling kept", groups.FormatList, []string{" Sales ", "sales", "SALES", "Eng"}, 0, []string{"Sales", "Eng"}},
		{"list keeps commas", groups.FormatList, []string{"a,b", "c"}, 0, []string{"a,b", "c"}},
		{"list keeps DN text", groups.FormatList, []string{"CN=a,DC=x"}, 0, []string{"CN=a,DC=x"}},
		{"list dedupes non-ASCII case", groups.FormatList, []string{"ÉQUIPE", "équipe", "Ünit", "ünit"}, 0, []string{"ÉQUIPE", "Ünit"}},
		// Key lower-cases rune by rune: the Kelvin sign is k, but final sigma
		// is not sigma (strings.EqualFold would say it is).
		{"dedupe follows Key, not EqualFold", groups.FormatList, []string{"\u212Aelvin", "kelvin", "ς", "σ", "Σ"}, 0, []string{"\u212Aelvin", "ς", "σ"}},
		{"dedupe follows Key past linear dedupe", groups.FormatList, append(names(20), "\u212A", "k", "ς", "σ", "Σ", "G19"), 0, append(names(20), "\u212A", "ς", "σ")},
		{"csv trims, drops empties, dedupes", groups.FormatCSV, []string{" a , ,b,, A ,c, "}, 0, []string{"a", "b", "c"}},
		{"csv splits every value", groups.FormatCSV, []string{"a,b", "c", "B,d"}, 0, []string{"a", "b", "c", "d"}},
		{"auto single DN value", groups.FormatAuto, []string{"CN=Group1,DC=x"}, 0, []string{"Group1"}},
		{"auto single value with a blank", groups.FormatAuto, []string{"", "a, b", " "}, 0, []string{"a", "b"}},
		{"auto several values is a list", groups.FormatAuto, []string{"a,b", "c"}, 0, []string{"a,b", "c"}},
		{"auto DN without CN is not dn", groups.FormatAuto, []string{"OU=a,DC=x", "CN=b,DC=x"}, 0, []string{"OU=a,DC=x", "CN=b,DC=x"}},
		{"auto one bad DN makes a list", groups.FormatAuto, []string{"CN=a,DC=x", `CN=b\`}, 0, []string{"CN=a,DC=x", `CN=b\`}},
		{"auto one non-DN single value is csv", groups.FormatAuto, []string{"CN=a,b"}, 0, []string{"CN=a", "b"}},
		{"auto NUL CN then non-DN falls back", groups.FormatAuto, []string{`CN=a\00,DC=x`, "plain"}, 0, []string{`CN=a\00,DC=x`, "plain"}},
		{"auto dn after names were added", groups.FormatAuto, []string{"CN=x,DC=y", "CN=z,DC=y", "CN=x"}, 0, []string{"x", "z"}},

		{"exactly the limit", groups.FormatList, names(3), 3, names(3)},
		{"duplicates do not count", groups.FormatList, []string{"a", "A", " a", "b"}, 2, []string{"a", "b"}},
		{"default limit, exactly", groups.FormatList, names(groups.DefaultLimit), 0, names(groups.DefaultLimit)},
		{"negative limit is the default", groups.FormatList, names(groups.DefaultLimit), -1, names(groups.DefaultLimit)},
		{"past linear dedupe", groups.FormatAuto, manyTwins, 0, many},
		{"past linear dedupe, csv", groups.FormatCSV, []string{strings.Join(many, ","), strings.ToUpper(strings.Join(many, ","))}, 20, many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := groups.Parse(tt.format, tt.values, tt.limit)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(got) != len(tt.want) || (len(got) > 0 && !reflect.DeepEqual(got, tt.want)) {
				t.Fatalf("Parse(%q, %q, %d) = %q, want %q", tt.format, tt.values, tt.limit, got, tt.want)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		name   string
		format groups.Format
		values []string
		limit  int
		count  int
		inErr  int // the limit named by the error
	}{
		{"limit+1", groups.FormatList, names(4), 3, 4, 3},
		{"default limit+1", groups.FormatList, names(groups.DefaultLimit + 1), 0, groups.DefaultLimit + 1, groups.DefaultLimit},
		{"negative limit+1", groups.FormatAuto, names(groups.DefaultLimit + 1), -5, groups.DefaultLimit + 1, groups.DefaultLimit},
		{"count is after dedupe", groups.FormatCSV, []string{"a,b,c,A,B,C,d"}, 3, 4, 3},
		{"dn", groups.FormatDN, []string{"CN=a", "CN=b", "CN=c"}, 2, 3, 2},
		{"auto dn", groups.FormatAuto, []string{"CN=a", "CN=b", "CN=c"}, 2, 3, 2},
		{"way past", groups.FormatList, names(1000), 1, 1000, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := groups.Parse(tt.format, tt.values, tt.limit)
			if got != nil {
				t.Fatalf("Parse returned %d names with a limit error, want none", len(got))
			}
			var le *groups.LimitError
			if !errors.As(err, &le) {
				t.Fatalf("Parse error = %v, want *LimitError", err)
			}
			if le.Count != tt.count || le.Limit != tt.inErr {
				t.Fatalf("LimitError = %+v, want Count %d, Limit %d", *le, tt.count, tt.inErr)
			}
			if !errors.Is(err, groups.ErrTooManyGroups) {
				t.Fatalf("errors.Is(%v, ErrTooManyGroups) = false", err)
			}
			if want := fmt.Sprintf("%d groups, more than the limit of %d", tt.count, tt.inErr); !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not say %q", err, want)
			}
		})
	}
	if errors.Is(&groups.ClaimError{Err: errors.New("x")}, groups.ErrTooManyGroups) {
		t.Fatal("a ClaimError matches ErrTooManyGroups")
	}
}

func TestParseClaimErrors(t *testing.T) {
	tests := []struct {
		name    string
		format  groups.Format
		values  []string
		index   int
		dnErr   bool // Err is a *DNError, else it wraps ErrInvalidName
		inError string
	}{
		{"dn not a DN", groups.FormatDN, []string{"CN=a,DC=x", "Group2"}, 1, true, "missing '='"},
		{"dn without CN", groups.FormatDN, []string{"", "OU=x,DC=y"}, 1, true, "no CN attribute"},
		{"dn with blank CN", groups.FormatDN, []string{"CN=,DC=y"}, 0, true, "CN value is blank"},
		{"dn bad escape", groups.FormatDN, []string{`CN=a\2Z`}, 0, true, "invalid hex escape"},
		{"dn invalid UTF-8 from hex", groups.FormatDN, []string{"CN=a", `CN=\FF`}, 1, true, "not valid UTF-8"},
		{"dn error after the limit is still reported", groups.FormatDN, []string{"CN=a", "CN=b", "CN=c", "CN=d", "bad"}, 4, true, "missing '='"},
		{"dn NUL from hex", groups.FormatDN, []string{`CN=a\00b`}, 0, false, "contains NUL"},
		{"dn first error wins", groups.FormatDN, []string{`CN=a\00b`, "bad"}, 0, false, "contains NUL"},
		{"auto NUL when every value is a DN", groups.FormatAuto, []string{"CN=ok", `CN=a\00b`}, 1, false, "contains NUL"},
		{"list invalid UTF-8", groups.FormatList, []string{"a", "b\xff"}, 1, false, "not valid UTF-8"},
		{"list NUL", groups.FormatList, []string{"a\x00b"}, 0, false, "contains NUL"},
		{"csv invalid UTF-8", groups.FormatCSV, []string{"a,b", "c,\xc3"}, 1, false, "not valid UTF-8"},
		{"auto list invalid UTF-8", groups.FormatAuto, []string{"a", "\xc3("}, 1, false, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := groups.Parse(tt.format, tt.values, 3)
			if got != nil {
				t.Fatalf("Parse returned %q with an error", got)
			}
			var ce *groups.ClaimError
			if !errors.As(err, &ce) {
				t.Fatalf("Parse error = %v, want *ClaimError", err)
			}
			if ce.Index != tt.index || ce.Value != tt.values[tt.index] {
				t.Fatalf("ClaimError{Index: %d, Value: %q}, want %d, %q", ce.Index, ce.Value, tt.index, tt.values[tt.index])
			}
			var de *groups.DNError
			if isDN := errors.As(err, &de); isDN != tt.dnErr {
				t.Fatalf("error %v: *DNError inside = %v, want %v", err, isDN, tt.dnErr)
			}
			if !tt.dnErr && !errors.Is(err, groups.ErrInvalidName) {
				t.Fatalf("error %v does not wrap ErrInvalidName", err)
			}
			if !strings.Contains(err.Error(), tt.inError) || !strings.Contains(err.Error(), fmt.Sprintf("value %d", tt.index)) {
				t.Fatalf("error %q does not say %q and value %d", err, tt.inError, tt.index)
			}
		})
	}
}

func TestParseUnknownFormat(t *testing.T) {
	got, err := groups.Parse("ldap", []string{"a"}, 0)
	if err == nil || got != nil || !strings.Contains(err.Error(), `"ldap"`) {
		t.Fatalf("Parse(ldap) = %q, %v; want an error naming the format", got, err)
	}
}

// TestParseAllocs keeps Parse allocation-light on the login path: one slice
// for the names, none per name that needs no unescaping.
func TestParseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	tests := []struct {
		name   string
		format groups.Format
		values []string
		max    float64
	}{
		{"list", groups.FormatList, []string{"Sales", "Eng", " Ops ", "sales", "HR"}, 1},
		{"csv", groups.FormatCSV, []string{"Sales, Eng, Ops,sales,HR"}, 1},
		{"dn", groups.FormatDN, []string{"CN=Sales,OU=Groups,DC=corp,DC=example", "CN=Eng,OU=Groups,DC=corp,DC=example"}, 1},
		{"auto dn", groups.FormatAuto, []string{"CN=Sales,OU=Groups,DC=corp,DC=example", "CN=Eng,OU=Groups,DC=corp,DC=example"}, 1},
		{"dn with an escaped name", groups.FormatDN, []string{`CN=Smith\, John,OU=Groups,DC=corp,DC=example`}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testing.AllocsPerRun(100, func() {
				if _, err := groups.Parse(tt.format, tt.values, 0); err != nil {
					t.Fatal(err)
				}
			})
			if n > tt.max {
				t.Fatalf("Parse allocates %v times, want at most %v", n, tt.max)
			}
		})
	}
}
