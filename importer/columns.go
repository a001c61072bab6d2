package importer

import (
	"fmt"
	"iter"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// Column names the import's columns: the headers export and the templates
// write, and the keys of Result.ErrorMessages.
const (
	ColEmail          = "email"
	ColFirstName      = "firstName"
	ColLastName       = "lastName"
	ColDisplayName    = "displayName"
	ColDepartment     = "department"
	ColPhone          = "phone"
	ColEmployeeNumber = "employeeNumber"
	ColActive         = "active"
	ColGroups         = "groups"
)

// Columns lists the import's columns in the order export writes them.
var Columns = []string{ColEmail, ColFirstName, ColLastName, ColDisplayName, ColDepartment, ColPhone, ColEmployeeNumber, ColActive, ColGroups}

// aliases maps a header, as headerKey folds it, to its column.
var aliases = map[string]string{}

func init() {
	for col, names := range map[string][]string{
		ColEmail:          {"email", "e-mail", "email address", "e-mail address", "mail", "e-mail-adresse", "emailadresse"},
		ColFirstName:      {"firstName", "first name", "given name", "givenName", "forename", "Vorname"},
		ColLastName:       {"lastName", "last name", "surname", "family name", "familyName", "Nachname", "Familienname"},
		ColDisplayName:    {"displayName", "display name", "name", "full name", "Anzeigename", "vollständiger Name"},
		ColDepartment:     {"department", "dept", "Abteilung"},
		ColPhone:          {"phone", "phone number", "telephone", "telephone number", "mobile", "Telefon", "Telefonnummer", "Mobilnummer"},
		ColEmployeeNumber: {"employeeNumber", "employee number", "employeeId", "employee id", "employee no", "staff number", "personnel number", "Personalnummer", "Mitarbeiternummer"},
		ColActive:         {"active", "enabled", "aktiv"},
		ColGroups:         {"groups", "group", "Gruppen", "Gruppe"},
	} {
		for _, n := range names {
			aliases[headerKey(n)] = col
		}
	}
}

// headerKey folds a header for matching: lower case, without spaces,
// underscores, hyphens and dots.
func headerKey(h string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', '.', '\u00a0':
			return -1
		}
		return unicode.ToLower(r)
	}, h)
}

// header maps the cells of row 1 to columns.
type header struct {
	// cols[i] is the column of cell i: one of Columns, an attribute name
	// (extra), or "" for an empty header whose cells are ignored.
	cols  []string
	extra []bool
	// used lists the indexes of the cells that have a column: every data row
	// visits only these, however wide row 1 is (16,384 cells, most of them
	// empty, made each of a million rows cost 16,384 steps).
	used  []int
	has   map[string]bool
	attrs int // columns that become attributes
	// keyErr[i], for an extra column, says why the core would refuse its
	// header as an attribute name; every row with the column gets it.
	keyErr []string
}

func parseHeader(cells []string, keepUnknown bool) (*header, error) {
	h := &header{cols: make([]string, len(cells)), extra: make([]bool, len(cells)), keyErr: make([]string, len(cells)), has: map[string]bool{}}
	var unknown, dup []string
	for i, c := range cells {
		c = strings.TrimSpace(unneutralise(c))
		if c == "" {
			continue
		}
		col, ok := aliases[headerKey(c)]
		if !ok {
			if !keepUnknown {
				unknown = append(unknown, fmt.Sprintf("%q", c))
				continue
			}
			col = c
			h.extra[i] = true
			switch {
			case len(c) > maxAttrKey:
				h.keyErr[i] = fmt.Sprintf("The column name must not be greater than %d characters.", maxAttrKey)
			case !plainText(c):
				h.keyErr[i] = "The column name must be text without line breaks or control characters."
			}
		}
		if h.has[col] {
			dup = append(dup, fmt.Sprintf("%q", c))
			continue
		}
		h.has[col] = true
		h.cols[i] = col
		h.used = append(h.used, i)
		if h.extra[i] || col == ColDepartment || col == ColPhone || col == ColEmployeeNumber {
			h.attrs++
		}
	}
	switch {
	case len(unknown) > 0:
		return nil, unreadable("", "unknown columns in row 1: "+strings.Join(unknown, ", ")+
			" (known: "+strings.Join(Columns, ", ")+")", nil)
	case len(dup) > 0:
		return nil, unreadable("", "columns given twice in row 1: "+strings.Join(dup, ", "), nil)
	case !h.has[ColEmail]:
		return nil, unreadable("", "row 1 must be a header with an email column", nil)
	}
	return h, nil
}

// record is one data row of the file, checked. It holds the values as
// strings and slices, and its attributes in the map the batch hands the
// core (which copies it before it changes it): a file of a million rows is
// kept whole while it is checked and planned.
type record struct {
	row     int
	email   string // as given, trimmed
	key     string // identity.NormalizeEmail(email)
	given   string
	family  string
	display string
	// attrs are the attribute cells by key, as the user's Attributes in
	// the batch: an empty value clears the attribute.
	attrs  map[string]string
	active tristate
	groups []string // deduplicated by groups.Key
	errs   map[string][]string
}

// tristate is the active cell: empty, true or false.
type tristate int8

const (
	unset tristate = iota
	yes
	no
)

func (r *record) fail(col, msg string) {
	if r.errs == nil {
		r.errs = map[string][]string{}
	}
	r.errs[col] = append(r.errs[col], msg)
}

// Limits the core puts on values, checked here so that a row the core would
// refuse is a row error, not a failed import.
const (
	maxName      = identity.MaxNameLength
	maxAttrKey   = identity.MaxAttributeKeyLength
	maxAttrValue = identity.MaxAttributeValueLength
	maxAttrs     = identity.MaxAttributes
)

var labels = map[string]string{
	ColEmail: "email", ColFirstName: "first name", ColLastName: "last name", ColDisplayName: "display name",
	ColDepartment: "department", ColPhone: "phone", ColEmployeeNumber: "employee number", ColActive: "active", ColGroups: "groups",
}

func label(col string) string {
	if l, ok := labels[col]; ok {
		return l
	}
	return col
}

// checkText checks a value as the core will, and reports the problem in the
// reference's words.
func (r *record) checkText(col, v string, max int) string {
	v = strings.TrimSpace(v)
	if len(v) <= max && plainText(v) {
		return v
	}
	switch {
	case !utf8.ValidString(v):
		r.fail(col, fmt.Sprintf("The %s must be valid text.", label(col)))
	case len(v) > max:
		r.fail(col, fmt.Sprintf("The %s must not be greater than %d characters.", label(col), max))
	case strings.ContainsFunc(v, unicode.IsControl):
		r.fail(col, fmt.Sprintf("The %s must not contain line breaks or control characters.", label(col)))
	}
	return v
}

// plainText reports whether s is valid UTF-8 without control characters,
// in one loop over its bytes: the check checkText makes of every cell.
// Control characters are C0 and DEL, which are single bytes in UTF-8, and
// C1 (U+0080 to U+009F), which UTF-8 writes as C2 80 to C2 9F.
func plainText(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return false
		case c == 0xC2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] < 0xA0:
			return false
		case c >= 0x80:
			ascii = false
		}
	}
	return ascii || utf8.ValidString(s)
}

// newRecord checks one row's cells without the store: every problem the core
// would find in the values themselves.
func (h *header) newRecord(row int, cells []string) record {
	var r record
	h.fill(&r, row, cells)
	return r
}

// fill checks one row's cells into r, which must be zero.
func (h *header) fill(r *record, row int, cells []string) {
	r.row = row
	if h.attrs > 0 && r.attrs == nil {
		r.attrs = make(map[string]string, h.attrs)
	}
	for _, i := range h.used {
		col := h.cols[i]
		v := ""
		if i < len(cells) {
			v = unneutralise(cells[i])
		}
		if h.extra[i] {
			r.attrs[col] = r.checkText(col, v, maxAttrValue)
			if msg := h.keyErr[i]; msg != "" {
				r.fail(col, msg)
			}
			continue
		}
		switch col {
		case ColEmail:
			r.email = strings.TrimSpace(v)
			r.key = identity.NormalizeEmail(r.email)
			switch {
			case r.email == "":
				r.fail(col, "The email field is required.")
			case !identity.ValidEmail(r.email):
				r.fail(col, "The email must be a valid email address.")
			}
		case ColFirstName:
			r.given = r.checkText(col, v, maxName)
		case ColLastName:
			r.family = r.checkText(col, v, maxName)
		case ColDisplayName:
			r.display = r.checkText(col, v, maxName)
		case ColDepartment:
			r.attrs[identity.AttrDepartment] = r.checkText(col, v, maxAttrValue)
		case ColPhone:
			r.attrs[identity.AttrPhone] = r.checkText(col, v, maxAttrValue)
		case ColEmployeeNumber:
			r.attrs[identity.AttrEmployeeNumber] = r.checkText(col, v, maxAttrValue)
		case ColActive:
			v = strings.TrimSpace(v)
			if v == "" {
				break
			}
			b, ok := parseBool(v)
			switch {
			case !ok:
				r.fail(col, "The active field must be true or false.")
			case b:
				r.active = yes
			default:
				r.active = no
			}
		case ColGroups:
			r.groups = r.parseGroups(r.groups[:0], v)
		}
	}
	// A row sets at most h.attrs attributes: count them only when that
	// could be too many.
	if h.attrs > maxAttrs && r.setAttrs() > maxAttrs {
		r.fail(ColEmail, fmt.Sprintf("The row has more than %d attributes.", maxAttrs))
	}
}

// setAttrs counts the attributes the row sets (non-empty values).
func (r *record) setAttrs() int {
	n := 0
	for _, v := range r.attrs {
		if v != "" {
			n++
		}
	}
	return n
}

// parseGroups appends the group names of a cell to names.
func (r *record) parseGroups(names []string, v string) []string {
	if strings.IndexByte(v, '"') < 0 {
		// No quotes, the common case: the names are what the commas
		// separate, and the slice holds them all at once.
		if names == nil && v != "" {
			names = make([]string, 0, min(strings.Count(v, ",")+1, 16))
		}
		for v != "" {
			var n string
			n, v, _ = strings.Cut(v, ",")
			names = r.addGroup(names, n)
		}
		return names
	}
	for n := range splitGroups(v) {
		names = r.addGroup(names, n)
	}
	return names
}

// addGroup checks a group name and appends it to names unless it is empty
// or the same group as one there.
func (r *record) addGroup(names []string, n string) []string {
	n = r.checkText(ColGroups, n, maxName)
	if n == "" {
		return names
	}
	for _, m := range names {
		if groups.SameName(m, n) {
			return names
		}
	}
	return append(names, n)
}

// splitGroups yields the names of a groups cell: separated by commas, each
// trimmed by the caller. A name that holds a comma is written in double
// quotes, a quote in it doubled, as in CSV: "Sales, EMEA", Support. A quote
// anywhere but at the start of a name is text.
func splitGroups(v string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for v != "" {
			rest := strings.TrimLeft(v, " \t")
			var name string
			if strings.HasPrefix(rest, `"`) {
				var b strings.Builder
				i := 1
				for i < len(rest) {
					if rest[i] == '"' {
						if i+1 < len(rest) && rest[i+1] == '"' {
							b.WriteByte('"')
							i += 2
							continue
						}
						i++
						break
					}
					b.WriteByte(rest[i])
					i++
				}
				// Text after the closing quote, up to the comma, belongs
				// to the name too (as csv's LazyQuotes reads it).
				tail, after, found := strings.Cut(rest[i:], ",")
				name = b.String() + tail
				if !yield(name) {
					return
				}
				if !found {
					return
				}
				v = after
				continue
			}
			name, v, _ = strings.Cut(v, ",")
			if !yield(name) {
				return
			}
		}
	}
}

// joinGroups writes group names as splitGroups reads them.
func joinGroups(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		if strings.Contains(n, ",") || strings.HasPrefix(strings.TrimLeft(n, " \t"), `"`) {
			b.WriteString(`"` + strings.ReplaceAll(n, `"`, `""`) + `"`)
		} else {
			b.WriteString(n)
		}
	}
	return b.String()
}

// parseBool reads the usual spellings of a yes or no, in English and German.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "y", "ja", "wahr", "x", "active", "aktiv":
		return true, true
	case "0", "false", "no", "n", "nein", "falsch", "inactive", "inaktiv":
		return false, true
	}
	return false, false
}

// unneutralise undoes what export does against formula injection: it takes
// off the quote neutralise put in front.
func unneutralise(s string) string {
	if len(s) >= 2 && s[0] == '\'' && risky(s) {
		return s[1:]
	}
	return s
}

// neutralise protects a CSV cell from formula injection (OWASP): a cell that
// starts with = + - @, a tab or a carriage return gets a quote in front. So
// does one that starts with quotes and then one of those, so that
// unneutralise can tell the quote it must take off from the cell's own: a
// cell of a quote and "=x" gets a second quote and reads back as it was.
func neutralise(s string) string {
	if risky(s) {
		return "'" + s
	}
	return s
}

// risky reports whether s, after any quotes in front, starts with a
// character that makes a spreadsheet read a formula.
func risky(s string) bool {
	t := strings.TrimLeft(s, "'")
	return t != "" && strings.IndexByte("=+-@\t\r", t[0]) >= 0
}

// blank reports whether every cell is empty or spaces.
func blank(cells []string) bool {
	for _, c := range cells {
		if c != "" && c[0] > ' ' && c[0] < utf8.RuneSelf || strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}
