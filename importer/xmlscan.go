package importer

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"
)

// xmlScanner is a small XML tokenizer for the ODS reader, two to three times
// faster than encoding/xml's RawToken on LibreOffice's content.xml: it reuses
// its buffers and interns names. It returns the types of encoding/xml with
// unresolved prefixes (as RawToken does), a self-closing element as a start
// and an end, and skips comments, processing instructions and the doctype; CDATA sections, which
// office suites do not write, are an error. The text of a token is valid
// until the next call.
type xmlScanner struct {
	r     *bufio.Reader
	names map[string]string
	attrs []xml.Attr
	text  []byte
	val   []byte
	// pendingEnd is the end of a self-closing element, returned next.
	pendingEnd *xml.EndElement
	end        xml.EndElement
	// cr tells that the last chunk ended with a CR, whose LF may start the
	// next one.
	cr bool
	// open holds the names of the elements started and not yet ended.
	open []xml.Name
}

var errXML = errors.New("malformed XML")

// maxXMLDepth caps the nesting of elements (office documents nest a dozen
// deep): the names of the open elements are held.
const maxXMLDepth = 1024

// maxXMLAttrs caps the attributes of one element: their values share the
// cap of one text (maxRowText), but each costs memory of its own.
const maxXMLAttrs = 1024

// maxXMLName caps the bytes of an element's or attribute's name: the
// names of spreadsheet XML are short, and a longer one is refused as a
// limit (the XML may be well formed), not as malformed.
const maxXMLName = 256

func newXMLScanner(r io.Reader) *xmlScanner {
	return &xmlScanner{r: bufio.NewReaderSize(r, 64<<10), names: map[string]string{}}
}

func (s *xmlScanner) intern(b []byte) string {
	if n, ok := s.names[string(b)]; ok {
		return n
	}
	n := string(b)
	if len(s.names) < 4096 {
		s.names[n] = n
	}
	return n
}

// name splits a qualified name as encoding/xml does: at its one colon, if
// there is text on both sides.
func (s *xmlScanner) name(b []byte) xml.Name {
	if i := bytes.IndexByte(b, ':'); i > 0 && i < len(b)-1 && bytes.Count(b, []byte(":")) == 1 {
		return xml.Name{Space: s.intern(b[:i]), Local: s.intern(b[i+1:])}
	}
	return xml.Name{Local: s.intern(b)}
}

// Token returns the next token, or io.EOF at the end of the input. As
// encoding/xml's Token (not RawToken), it checks that every element ends
// with its own end tag, and that none is open at the end: else a missing end
// tag would make a reader skip what follows as the missing element's
// content, silently.
func (s *xmlScanner) Token() (xml.Token, error) {
	tok, err := s.rawToken()
	if err == io.EOF && len(s.open) > 0 {
		return nil, io.ErrUnexpectedEOF
	}
	switch t := tok.(type) {
	case xml.StartElement:
		if len(s.open) == maxXMLDepth {
			return nil, &LimitError{What: "depth of XML elements", Limit: maxXMLDepth}
		}
		s.open = append(s.open, t.Name)
	case xml.EndElement:
		if n := len(s.open); n == 0 || s.open[n-1] != t.Name {
			return nil, errXML
		}
		s.open = s.open[:len(s.open)-1]
	}
	return tok, err
}

// rawToken returns the next token, unchecked.
func (s *xmlScanner) rawToken() (xml.Token, error) {
	if s.pendingEnd != nil {
		e := *s.pendingEnd
		s.pendingEnd = nil
		return e, nil
	}
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c != '<' {
			s.r.UnreadByte()
			text, err := s.readText()
			if err != nil {
				return nil, err
			}
			return xml.CharData(text), nil
		}
		c, err = s.r.ReadByte()
		if err != nil {
			return nil, io.ErrUnexpectedEOF
		}
		switch c {
		case '/':
			b, err := s.r.ReadSlice('>')
			if err != nil {
				return nil, s.eof(err)
			}
			return xml.EndElement{Name: s.name(bytes.TrimSpace(b[:len(b)-1]))}, nil
		case '?':
			if err := s.skipPast("?>"); err != nil {
				return nil, err
			}
		case '!':
			if err := s.skipBang(); err != nil {
				return nil, err
			}
		default:
			s.r.UnreadByte()
			return s.readStart()
		}
	}
}

func (s *xmlScanner) eof(err error) error {
	if err == io.EOF || err == bufio.ErrBufferFull {
		return errXML
	}
	return err
}

// skipPast reads up to and including the delimiter.
func (s *xmlScanner) skipPast(delim string) error {
	var last [4]byte // the last len(delim) bytes read, delim is at most 3
	n := 0
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return s.eof(err)
		}
		copy(last[:], last[1:])
		last[3] = c
		if n++; n >= len(delim) && string(last[4-len(delim):]) == delim {
			return nil
		}
	}
}

// skipBang skips a comment or a directive (a doctype); CDATA is refused
// (office documents write text as character data).
func (s *xmlScanner) skipBang() error {
	b, err := s.r.Peek(2)
	if err == nil && string(b) == "--" {
		return s.skipPast("-->")
	}
	if b, err := s.r.Peek(7); err == nil && string(b) == "[CDATA[" {
		return errXML
	}
	return s.skipDirective()
}

// skipDirective skips a directive as encoding/xml reads one: its first
// byte whatever it is (so "<!>>" is a whole directive), then up to a '>'
// outside quotes and not closing a nested '<', with comments inside
// skipped.
func (s *xmlScanner) skipDirective() error {
	if _, err := s.r.ReadByte(); err != nil {
		return s.eof(err)
	}
	var quote byte
	depth := 0
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return s.eof(err)
		}
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '>' && depth == 0:
			return nil
		case c == '\'' || c == '"':
			quote = c
		case c == '>':
			depth--
		case c == '<':
			if b, err := s.r.Peek(3); err == nil && string(b) == "!--" {
				s.r.Discard(3)
				if err := s.skipPast("-->"); err != nil {
					return err
				}
				continue
			}
			depth++
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *xmlScanner) readStart() (xml.Token, error) {
	s.attrs = s.attrs[:0]
	s.val = s.val[:0]
	name, err := s.readName()
	if err != nil {
		return nil, err
	}
	se := xml.StartElement{Name: s.name(name)}
	type span struct {
		name     xml.Name
		from, to int
	}
	var spans [16]span
	list := spans[:0]
	for {
		c, err := s.skipSpace()
		if err != nil {
			return nil, err
		}
		switch c {
		case '>':
		case '/':
			if c, err := s.r.ReadByte(); err != nil || c != '>' {
				return nil, errXML
			}
			s.end = xml.EndElement{Name: se.Name}
			s.pendingEnd = &s.end
		default:
			s.r.UnreadByte()
			an, err := s.readName()
			if err != nil {
				return nil, err
			}
			aname := s.name(an)
			if c, err := s.skipSpace(); err != nil || c != '=' {
				return nil, errXML
			}
			q, err := s.skipSpace()
			if err != nil || q != '"' && q != '\'' {
				return nil, errXML
			}
			from := len(s.val)
			if err := s.readUntil(q, true); err != nil {
				return nil, err
			}
			if len(list) == maxXMLAttrs {
				return nil, &LimitError{What: "attributes of an XML element", Limit: maxXMLAttrs}
			}
			list = append(list, span{aname, from, len(s.val)})
			continue
		}
		break
	}
	for _, a := range list {
		s.attrs = append(s.attrs, xml.Attr{Name: a.name, Value: string(s.val[a.from:a.to])})
	}
	se.Attr = s.attrs
	return se, nil
}

func (s *xmlScanner) skipSpace() (byte, error) {
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, s.eof(err)
		}
		if !isSpace(c) {
			return c, nil
		}
	}
}

// readName reads a name up to a space, '/', '>' or '='.
func (s *xmlScanner) readName() ([]byte, error) {
	s.text = s.text[:0]
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return nil, s.eof(err)
		}
		if isSpace(c) || c == '/' || c == '>' || c == '=' {
			s.r.UnreadByte()
			if len(s.text) == 0 {
				return nil, errXML
			}
			return s.text, nil
		}
		if c == '<' || c == '"' || c == '\'' {
			return nil, errXML
		}
		if len(s.text) == maxXMLName {
			return nil, &LimitError{What: "length of an XML name (bytes)", Limit: maxXMLName}
		}
		s.text = append(s.text, c)
	}
}

// readText reads character data up to the next '<'.
func (s *xmlScanner) readText() ([]byte, error) {
	s.val = s.val[:0]
	if err := s.readUntil('<', false); err != nil {
		return nil, err
	}
	return s.val, nil
}

// readUntil appends to s.val the input up to delim, with entities decoded;
// the delimiter is consumed if consume, else left for the next read.
func (s *xmlScanner) readUntil(delim byte, consume bool) error {
	s.cr = false
	for {
		b, err := s.r.ReadSlice(delim)
		chunk := b
		found := err == nil
		if found {
			chunk = b[:len(b)-1]
		}
		if bytes.IndexByte(chunk, '<') >= 0 && delim != '<' {
			return errXML
		}
		if err := s.appendDecoded(chunk, err == bufio.ErrBufferFull); err != nil {
			return err
		}
		if len(s.val) > maxRowText {
			// One text or attribute value is held whole: without a cap, a
			// small compressed upload inflates into a gigabyte in memory.
			return &LimitError{What: "length of one XML text or attribute (bytes)", Limit: maxRowText}
		}
		switch {
		case found:
			if !consume {
				s.r.UnreadByte()
			}
			return nil
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && !consume:
			return nil
		default:
			return s.eof(err)
		}
	}
}

// appendDecoded appends b to s.val with entities decoded. more tells that b
// was cut where the reader's buffer filled up: an entity at its end goes on
// in the input.
func (s *xmlScanner) appendDecoded(b []byte, more bool) error {
	if s.cr && len(b) > 0 && b[0] == '\n' {
		b = b[1:]
	}
	s.cr = len(b) > 0 && b[len(b)-1] == '\r'
	if bytes.IndexByte(b, '\r') >= 0 {
		// XML reads CRLF and CR as LF.
		b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
	}
	for {
		i := bytes.IndexByte(b, '&')
		if i < 0 {
			s.val = append(s.val, b...)
			return nil
		}
		s.val = append(s.val, b[:i]...)
		b = b[i:]
		j := bytes.IndexByte(b, ';')
		if j < 0 {
			if !more {
				return errXML // an '&' that starts no entity
			}
			// b lies in the reader's buffer, which the next read moves.
			ent := append([]byte{}, b...)
			rest, err := s.r.ReadSlice(';')
			if err != nil || len(ent)+len(rest) > 16 {
				return errXML
			}
			ent = append(ent, rest...)
			return s.appendEntity(ent[1 : len(ent)-1])
		}
		if err := s.appendEntity(b[1:j]); err != nil {
			return err
		}
		b = b[j+1:]
	}
}

func (s *xmlScanner) appendEntity(e []byte) error {
	switch string(e) {
	case "lt":
		s.val = append(s.val, '<')
	case "gt":
		s.val = append(s.val, '>')
	case "amp":
		s.val = append(s.val, '&')
	case "quot":
		s.val = append(s.val, '"')
	case "apos":
		s.val = append(s.val, '\'')
	default:
		if len(e) < 2 || e[0] != '#' {
			return errXML
		}
		var n uint64
		var err error
		if e[1] == 'x' {
			n, err = strconv.ParseUint(string(e[2:]), 16, 32)
		} else {
			n, err = strconv.ParseUint(string(e[1:]), 10, 32)
		}
		if err != nil || n > utf8.MaxRune {
			return errXML
		}
		s.val = utf8.AppendRune(s.val, rune(n))
	}
	return nil
}
