package identity

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CheckJSONText returns a *ValidationError naming the first field of a JSON
// document whose string (value or key) is not valid UTF-8 or holds an
// escaped lone surrogate ("\ud800"): text that encoding/json would otherwise
// turn into U+FFFD without a word, so that "José" sent in Windows-1252 is
// stored as "Jos\uFFFD". The field is named by its path: "name.givenName",
// "emails[0].value"; a key's fault names the object that holds it. Bytes
// outside strings are the JSON decoder's to refuse, so a document that is not
// JSON gets nil unless a string before its fault is wrong.
//
// An HTTP handler calls it on a request body before decoding it, and
// answers 400 (or 422) naming the field.
func CheckJSONText(body []byte) error {
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\ud`)) && !bytes.Contains(body, []byte(`\uD`)) {
		return nil
	}
	w := jsonWalker{dec: json.NewDecoder(bytes.NewReader(body)), body: body}
	field, ok := w.firstBad()
	if !ok {
		return nil
	}
	msg := "must be valid UTF-8"
	if field == "" {
		field = "body"
	}
	return &ValidationError{Fields: []FieldError{{Field: field, Message: msg}}}
}

// jsonFrame is an object or array the walker is inside.
type jsonFrame struct {
	object  bool
	key     string // the object's current key
	wantKey bool   // the object's next string is a key
	index   int    // the array's current index
}

// jsonWalker reads a document token by token, keeping the path.
type jsonWalker struct {
	dec   *json.Decoder
	body  []byte
	stack []jsonFrame
}

// firstBad returns the path of the first string whose text was replaced.
func (w *jsonWalker) firstBad() (string, bool) {
	w.dec.UseNumber()
	for {
		start := w.dec.InputOffset()
		tok, err := w.dec.Token()
		if err != nil { // io.EOF, or a fault the decoder reports again
			return "", false
		}
		raw := w.body[start:w.dec.InputOffset()]
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				w.stack = append(w.stack, jsonFrame{object: true, wantKey: true})
			case '[':
				w.stack = append(w.stack, jsonFrame{})
			default:
				w.stack = w.stack[:len(w.stack)-1]
				w.valueDone()
			}
			continue
		case string:
			if n := len(w.stack); n > 0 && w.stack[n-1].object && w.stack[n-1].wantKey {
				if replaced(raw) {
					return w.path(len(w.stack) - 1), true
				}
				w.stack[n-1].key, w.stack[n-1].wantKey = t, false
				continue
			}
			if replaced(raw) {
				return w.path(len(w.stack)), true
			}
		}
		w.valueDone()
	}
}

// valueDone moves past a value: an object wants its next key, an array
// counts one more element.
func (w *jsonWalker) valueDone() {
	if n := len(w.stack); n > 0 {
		if w.stack[n-1].object {
			w.stack[n-1].wantKey = true
		} else {
			w.stack[n-1].index++
		}
	}
}

// path names the value inside the first depth frames.
func (w *jsonWalker) path(depth int) string {
	var b strings.Builder
	for _, f := range w.stack[:depth] {
		if f.object {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		}
	}
	return b.String()
}

// replaced reports whether decoding raw, the bytes of a string token (and
// the separators before it), puts a U+FFFD that raw does not spell: a byte
// that is not UTF-8, or an escaped surrogate that is not half of a pair.
func replaced(raw []byte) bool {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw) && raw[i+1] == 'u':
			r, ok := hex4(raw[i+2:])
			if !ok {
				return false // the decoder refuses it
			}
			i += 6
			if 0xD800 <= r && r < 0xDC00 && i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if lo, ok := hex4(raw[i+2:]); ok && 0xDC00 <= lo && lo < 0xE000 {
					i += 6
					continue
				}
			}
			if 0xD800 <= r && r < 0xE000 {
				return true
			}
		case c == '\\':
			i += 2
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				return true
			}
			i += n
		}
	}
	return false
}

// hex4 reads the four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(v), err == nil
}
