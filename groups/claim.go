package groups

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Format is how a source sends the group names of one claim.
type Format string

const (
	// FormatAuto picks the format from the values: FormatDN if every value is a
	// DN with a CN, else FormatCSV if there is exactly one value, else
	// FormatList. Blank values are not counted. The zero Format means
	// FormatAuto. A tenant whose IdP is known should configure its format:
	// with FormatAuto, a list whose names all read as DNs ("cn=x") is taken
	// as DNs, and an LDAP array with one malformed DN is taken as a list of
	// whole DN strings rather than refused.
	FormatAuto Format = "auto"
	// FormatDN is the LDAP array of AD FS: each value is the distinguished name
	// of a group, whose name is the value of the first CN attribute.
	FormatDN Format = "dn"
	// FormatList is the plain array of Keycloak: each value is one group name.
	FormatList Format = "list"
	// FormatCSV is one string of comma-separated group names. If several
	// values come, each is split. A name cannot contain a comma.
	FormatCSV Format = "csv"
	// FormatMixed reads each value on its own: a DN with a CN gives its first
	// CN, any other value is a group name as it is. It serves IdPs that mix
	// directory groups (as DNs) with plain names in one claim. A plain name
	// that reads as a DN with a CN ("CN=x") is taken as one.
	FormatMixed Format = "mixed"
)

// DefaultLimit is the number of groups a claim may hold when no limit is set:
// the reference advises never to send more than 100.
const DefaultLimit = 100

// ParseFormat returns the Format named s, compared case-insensitively after
// trimming spaces; "" means FormatAuto.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "", FormatAuto:
		return FormatAuto, nil
	case FormatDN, FormatList, FormatCSV, FormatMixed:
		return f, nil
	}
	return "", fmt.Errorf("groups: unknown group claim format %q: want %q, %q, %q, %q or %q",
		s, FormatDN, FormatList, FormatCSV, FormatMixed, FormatAuto)
}

// ErrTooManyGroups is matched (with errors.Is) by every *LimitError.
var ErrTooManyGroups = errors.New("groups: too many groups")

// ErrInvalidName is wrapped by the error of a claim value whose group name is
// not valid UTF-8 or contains a NUL byte.
var ErrInvalidName = errors.New("groups: invalid group name")

// LimitError is returned by Parse when a claim holds more distinct group
// names than the limit. No name is returned with it: a claim over the limit is
// refused whole, never cut.
type LimitError struct {
	Count int // distinct names in the claim
	Limit int // the limit in force
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("groups: claim holds %d groups, more than the limit of %d", e.Count, e.Limit)
}

// Is reports whether target is ErrTooManyGroups.
func (e *LimitError) Is(target error) bool { return target == ErrTooManyGroups }

// ClaimError is returned by Parse when one value of a claim cannot be read.
type ClaimError struct {
	Index int    // index of the value in the claim
	Value string // the value as received
	Err   error  // a *DNError, or an error wrapping ErrInvalidName
}

func (e *ClaimError) Error() string {
	return fmt.Sprintf("groups: group claim value %d: %v", e.Index, e.Err)
}

func (e *ClaimError) Unwrap() error { return e.Err }

// DNError is returned for a string that is not a distinguished name, or that
// has no usable CN.
type DNError struct {
	DN     string // the string as given
	Offset int    // byte offset in DN where the problem was found, or -1
	Reason string
}

func (e *DNError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("groups: DN %q: %s", e.DN, e.Reason)
	}
	return fmt.Sprintf("groups: DN %q: %s at offset %d", e.DN, e.Reason, e.Offset)
}

// Parse returns the group names of a claim's values in the given format:
// trimmed, blank ones dropped, deduplicated under Key (the first spelling is
// kept), in the order first seen.
//
// A limit <= 0 means DefaultLimit. More distinct names than the limit returns
// a *LimitError and no names. A value that cannot be read returns a
// *ClaimError naming its index: in FormatDN, a value that is not a DN or has no
// CN (its Err is then a *DNError); in any format, a name that is not valid
// UTF-8 or contains NUL (its Err wraps ErrInvalidName). Blank values are
// dropped in every format, FormatDN included.
func Parse(format Format, values []string, limit int) ([]string, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	c := collector{limit: limit}
	var err error
	switch format {
	case FormatDN:
		err = c.addDNs(values, false)
	case FormatList:
		err = c.addList(values)
	case FormatCSV:
		err = c.addCSV(values)
	case FormatMixed:
		err = c.addMixed(values)
	case FormatAuto, "":
		err = c.addAuto(values)
	default:
		return nil, fmt.Errorf("groups: unknown group claim format %q", format)
	}
	if err != nil {
		return nil, err
	}
	if len(c.names) > limit {
		return nil, &LimitError{Count: len(c.names), Limit: limit}
	}
	return c.names, nil
}

// errNotDN is what addDNs returns in auto mode for a value that is not a DN
// with a CN: the caller falls back to another format.
var errNotDN = errors.New("not a DN")

func (c *collector) addAuto(values []string) error {
	if err := c.addDNs(values, true); err != errNotDN {
		return err
	}
	c.reset()
	n := 0
	for _, v := range values {
		if !blank(v) {
			n++
		}
	}
	if n == 1 {
		return c.addCSV(values)
	}
	return c.addList(values)
}

// addDNs adds the first CN of each value. In auto mode it returns errNotDN as
// soon as a value is not a DN with a CN, even after an invalid name was met:
// only when every value is a DN is the format DN and that name an error.
func (c *collector) addDNs(values []string, auto bool) error {
	c.grow(len(values))
	var nameErr error
	for i, v := range values {
		if blank(v) {
			continue
		}
		cn, err := CommonName(v)
		if err != nil {
			if auto {
				return errNotDN
			}
			return &ClaimError{Index: i, Value: v, Err: err}
		}
		if nameErr != nil {
			continue // auto: only checking that the rest are DNs
		}
		if err := c.add(cn); err != nil {
			nameErr = &ClaimError{Index: i, Value: v, Err: err}
			if !auto {
				return nameErr
			}
		}
	}
	return nameErr
}

func (c *collector) addMixed(values []string) error {
	c.grow(len(values))
	for i, v := range values {
		name := v
		if cn, err := CommonName(v); err == nil {
			name = cn
		}
		if err := c.add(name); err != nil {
			return &ClaimError{Index: i, Value: v, Err: err}
		}
	}
	return nil
}

func (c *collector) addList(values []string) error {
	c.grow(len(values))
	for i, v := range values {
		if err := c.add(v); err != nil {
			return &ClaimError{Index: i, Value: v, Err: err}
		}
	}
	return nil
}

func (c *collector) addCSV(values []string) error {
	n := 0
	for _, v := range values {
		n += strings.Count(v, ",") + 1
	}
	c.grow(n)
	for i, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if err := c.add(part); err != nil {
				return &ClaimError{Index: i, Value: v, Err: err}
			}
		}
	}
	return nil
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// linearMax is how many names the collector compares one by one before it
// builds a map; most users are in a handful of groups.
const linearMax = 16

// collector gathers distinct names under Key.
type collector struct {
	limit int
	names []string
	seen  map[string]struct{} // keys of names, once there are more than linearMax
}

// grow makes room for n more names, but for no more than one past the limit:
// past it, Parse fails whatever the count, and the names are not returned.
func (c *collector) grow(n int) {
	n = min(n, c.limit+1-len(c.names))
	if n > 0 {
		c.names = slices.Grow(c.names, n)
	}
}

func (c *collector) reset() {
	c.names = c.names[:0]
	c.seen = nil
}

// add trims name and appends it unless it is blank or its key is known.
func (c *collector) add(name string) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w %q: not valid UTF-8", ErrInvalidName, name)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("%w %q: contains NUL", ErrInvalidName, name)
	}
	if c.seen == nil {
		for _, n := range c.names {
			if SameName(n, name) {
				return nil
			}
		}
		if len(c.names) == linearMax {
			c.seen = make(map[string]struct{}, 2*linearMax)
			for _, n := range c.names {
				c.seen[Key(n)] = struct{}{}
			}
		}
	}
	if c.seen != nil {
		k := Key(name)
		if _, dup := c.seen[k]; dup {
			return nil
		}
		c.seen[k] = struct{}{}
	}
	c.names = append(c.names, name)
	return nil
}

// Attribute is one attribute of a DN: its type as written (such as "CN",
// "ou" or "2.5.4.3") and its value, unescaped.
type Attribute struct {
	Type  string
	Value string
}

// RDN is a relative distinguished name: one attribute, or several joined by
// '+'.
type RDN []Attribute

// DN is a distinguished name, its RDNs in the order written: the most
// specific first.
type DN []RDN

// String returns d in the form of RFC 4514, values escaped by EscapeDNValue.
func (d DN) String() string {
	var b strings.Builder
	for i, rdn := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, a := range rdn {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(a.Type)
			b.WriteByte('=')
			b.WriteString(EscapeDNValue(a.Value))
		}
	}
	return b.String()
}

// ParseDN parses a distinguished name in the string form of RFC 4514. The
// empty string (or only spaces) is the empty DN, with no RDN.
//
// It takes the escapes \, \+ \" \\ \< \> \; \= \# and "\ " (backslash space),
// and hex pairs such as \2C; consecutive hex pairs are the bytes of UTF-8
// characters (\C3\A9 is é), and every value must be valid UTF-8. RDNs may
// hold several attributes joined by '+'. As RFC 2253 allows, ';' separates
// RDNs like ',', spaces around ',', ';', '+' and '=' are ignored, and so are
// unescaped spaces at the start and end of a value (tabs, CR and LF count as
// spaces there); attribute types may be "OID." followed by a numeric OID.
// A '"', '<', '>' or NUL in a value must be escaped. A value in the hex form
// "#04..." (BER) is not supported and is an error, as are quoted values.
//
// The error is a *DNError.
func ParseDN(dn string) (DN, error) {
	var s dnScanner
	if s.atEnd(dn) {
		return nil, nil
	}
	var d DN
	var rdn RDN
	var buf []byte
	for {
		sep, b, err := s.next(dn, buf[:0])
		if err != nil {
			return nil, err
		}
		buf = b
		rdn = append(rdn, Attribute{Type: s.typ(dn), Value: s.value(dn, buf)})
		if sep == '+' {
			continue
		}
		d = append(d, rdn)
		rdn = nil
		if sep == 0 {
			return d, nil
		}
	}
}

// CommonName returns the value of the first CN attribute of dn (type CN,
// commonName or 2.5.4.3, compared case-insensitively), as ParseDN reads it.
// The error is a *DNError when dn is not a DN, has no CN, or its first CN is
// blank.
func CommonName(dn string) (string, error) {
	var s dnScanner
	if s.atEnd(dn) {
		return "", &DNError{DN: dn, Offset: -1, Reason: "empty DN has no CN"}
	}
	var cn string
	found := false
	start := 0
	var stack [128]byte // for values with escapes; stays on the stack
	buf := stack[:0]
	for {
		sep, b, err := s.next(dn, buf[:0])
		if err != nil {
			return "", err
		}
		buf = b
		if !found && isCN(s.typ(dn)) {
			cn, found, start = s.value(dn, buf), true, s.valStart
		}
		if sep == 0 {
			break
		}
	}
	if !found {
		return "", &DNError{DN: dn, Offset: -1, Reason: "no CN attribute"}
	}
	if strings.TrimSpace(cn) == "" {
		return "", &DNError{DN: dn, Offset: start, Reason: "CN value is blank"}
	}
	return cn, nil
}

func isCN(typ string) bool {
	if len(typ) > 4 && strings.EqualFold(typ[:4], "oid.") {
		typ = typ[4:]
	}
	return strings.EqualFold(typ, "cn") || strings.EqualFold(typ, "commonName") || typ == "2.5.4.3"
}

// EscapeDNValue escapes v for use as an attribute value in a DN, so that
// ParseDN reads it back as v: the characters of RFC 4514 (\ " + , ; < >, a
// leading '#' and a leading or trailing space) get a backslash, and control
// characters and bytes that are not UTF-8 become hex pairs.
func EscapeDNValue(v string) string {
	var b []byte // nil while nothing needed escaping
	for i := 0; i < len(v); {
		c, size := v[i], 1
		var esc, hex bool
		switch {
		case c == '\\' || c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>',
			c == '#' && i == 0,
			c == ' ' && (i == 0 || i == len(v)-1):
			esc = true
		case c < 0x20 || c == 0x7f:
			hex = true
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(v[i:])
			hex = r == utf8.RuneError && n == 1
			size = n
		}
		if (esc || hex) && b == nil {
			b = make([]byte, 0, len(v)+8)
			b = append(b, v[:i]...)
		}
		switch {
		case esc:
			b = append(b, '\\', c)
		case hex:
			const digits = "0123456789ABCDEF"
			b = append(b, '\\', digits[c>>4], digits[c&0xf])
		case b != nil:
			b = append(b, v[i:i+size]...)
		}
		i += size
	}
	if b == nil {
		return v
	}
	return string(b)
}

// dnScanner reads a DN one attribute at a time. Values without escapes are
// substrings of the DN; others are decoded into a buffer the caller passes.
// The scanner holds offsets only, and the DN and the buffer are passed to each
// call, so that escape analysis can keep a caller's buffer on the stack.
type dnScanner struct {
	pos      int // where the next attribute starts
	typStart int
	typEnd   int
	valStart int // offset of the value in the DN
	valEnd   int // end of the value in the DN, when it has no escapes
	escaped  bool
}

func dnError(dn string, offset int, reason string) error {
	return &DNError{DN: dn, Offset: offset, Reason: reason}
}

func (s *dnScanner) atEnd(dn string) bool { return skipSpace(dn, s.pos) == len(dn) }

// typ returns the attribute type read by the last call to next.
func (s *dnScanner) typ(dn string) string { return dn[s.typStart:s.typEnd] }

// value returns the value read by the last call to next, given the buffer
// next returned.
func (s *dnScanner) value(dn string, buf []byte) string {
	if s.escaped {
		return string(buf)
	}
	return dn[s.valStart:s.valEnd]
}

// next reads "type=value" and the separator after it: 0 at the end of the DN,
// ',' before another RDN (also for ';'), '+' before another attribute of the
// same RDN. It decodes a value with escapes by appending to buf, and returns
// buf.
func (s *dnScanner) next(dn string, buf []byte) (byte, []byte, error) {
	start := skipSpace(dn, s.pos)
	i, err := scanType(dn, start)
	if err != nil {
		return 0, buf, err
	}
	s.typStart, s.typEnd = start, i
	i = skipSpace(dn, i)
	if i == len(dn) || dn[i] != '=' {
		return 0, buf, dnError(dn, i, fmt.Sprintf("missing '=' after attribute type %q", dn[start:s.typEnd]))
	}
	i = skipSpace(dn, i+1)
	if i < len(dn) && dn[i] == '#' {
		return 0, buf, dnError(dn, i, "hex-encoded (#) values are not supported")
	}
	i, buf, err = s.scanValue(dn, i, buf)
	if err != nil {
		return 0, buf, err
	}
	if i == len(dn) {
		s.pos = i
		return 0, buf, nil
	}
	s.pos = i + 1
	if dn[i] == '+' {
		return '+', buf, nil
	}
	return ',', buf, nil
}

// scanType reads the attribute type that starts at dn[start:] (a name, or a
// numeric OID with or without "oid.") and returns the offset after it.
func scanType(dn string, start int) (int, error) {
	i := start
	if i == len(dn) {
		return i, dnError(dn, i, "missing attribute type")
	}
	switch c := dn[i]; {
	case isAlpha(c):
		i++
		for i < len(dn) && (isAlpha(dn[i]) || isDigit(dn[i]) || dn[i] == '-') {
			i++
		}
		if i-start == 3 && i < len(dn) && dn[i] == '.' && strings.EqualFold(dn[start:i], "oid") {
			j, ok := scanOID(dn, i+1)
			if !ok {
				return i, dnError(dn, i+1, "invalid numeric OID in attribute type")
			}
			i = j
		}
	case isDigit(c):
		j, ok := scanOID(dn, i)
		if !ok {
			return i, dnError(dn, i, "invalid numeric OID in attribute type")
		}
		i = j
	case c == '=':
		return i, dnError(dn, i, "empty attribute type")
	default:
		return i, dnError(dn, i, fmt.Sprintf("unexpected %q where an attribute type should start", c))
	}
	return i, nil
}

// scanValue reads the value that starts at dn[i:] up to the next separator
// or the end of the DN, and returns the offset of that separator (or the
// end). A value with escapes is decoded by appending to buf.
func (s *dnScanner) scanValue(dn string, i int, buf []byte) (int, []byte, error) {
	s.valStart, s.escaped = i, false
	end := i // without escapes: end of the value in dn, trailing spaces left out
	sig := 0 // with escapes: length of buf, trailing unescaped spaces left out
loop:
	for i < len(dn) {
		c := dn[i]
		switch c {
		case ',', ';', '+':
			break loop
		case '\\':
			if !s.escaped {
				s.escaped = true
				buf = append(buf, dn[s.valStart:i]...)
				sig = end - s.valStart
			}
			b, err := unescape(dn, i)
			if err != nil {
				return i, buf, err
			}
			buf = append(buf, b)
			sig = len(buf)
			if isHex(dn[i+1]) {
				i += 3
			} else {
				i += 2
			}
			continue
		case '"', '<', '>', 0:
			return i, buf, dnError(dn, i, fmt.Sprintf("%q in a value must be escaped", c))
		}
		if s.escaped {
			buf = append(buf, c)
			if !isSpace(c) {
				sig = len(buf)
			}
		} else if !isSpace(c) {
			end = i + 1
		}
		i++
	}
	if s.escaped {
		buf = buf[:sig]
		if !utf8.Valid(buf) {
			return i, buf, dnError(dn, s.valStart, "value is not valid UTF-8")
		}
	} else {
		s.valEnd = end
		if !utf8.ValidString(dn[s.valStart:end]) {
			return i, buf, dnError(dn, s.valStart, "value is not valid UTF-8")
		}
	}
	return i, buf, nil
}

// unescape decodes the escape at dn[i] == '\\'.
func unescape(dn string, i int) (byte, error) {
	if i+1 == len(dn) {
		return 0, dnError(dn, i, "backslash at end of DN")
	}
	c := dn[i+1]
	switch {
	case isHex(c):
		if i+2 == len(dn) || !isHex(dn[i+2]) {
			return 0, dnError(dn, i, "invalid hex escape: want two hex digits")
		}
		return unhex(c)<<4 | unhex(dn[i+2]), nil
	case strings.IndexByte(`\"+,;<>= #`, c) >= 0:
		return c, nil
	}
	r, _ := utf8.DecodeRuneInString(dn[i+1:])
	return 0, dnError(dn, i, fmt.Sprintf("invalid escape of %q", r))
}

// scanOID reads a numeric OID (number *("." number), no leading zeros) at
// dn[i:] and returns the offset after it.
func scanOID(dn string, i int) (int, bool) {
	for {
		start := i
		for i < len(dn) && isDigit(dn[i]) {
			i++
		}
		if i == start || (dn[start] == '0' && i-start > 1) {
			return i, false
		}
		if i == len(dn) || dn[i] != '.' {
			return i, true
		}
		i++
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
