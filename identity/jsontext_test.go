package identity_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/rollcall/rollcall/identity"
)

func TestCheckJSONText(t *testing.T) {
	for _, c := range []struct {
		body, field string // field "" means no error
	}{
		{`{"email":"ada@example.com","givenName":"José"}`, ""},
		{"{\"givenName\":\"Jos\xe9\"}", "givenName"},
		{"{\"email\":\"a@b.de\",\"name\":{\"givenName\":\"Ada\",\"familyName\":\"Jos\xe9\"}}", "name.familyName"},
		{"{\"emails\":[{\"value\":\"a@b.de\"},{\"type\":\"work\",\"value\":\"\xff@b.de\"}]}", "emails[1].value"},
		{"{\"emails\":[[1,2],[\"x\",\"\xc3\"]]}", "emails[1][1]"},
		{"{\"name\":{\"giv\xffen\":\"Ada\"}}", "name"},
		{`{"displayName":"\ud800"}`, "displayName"},
		{`{"displayName":"\udc00\ud83d"}`, "displayName"},
		{`{"displayName":"\ud83d\ude00 ok"}`, ""}, // a pair is an emoji
		{`{"displayName":"\ufffd is spelt"}`, ""},
		{"{\"displayName\":\"\uFFFD is sent\"}", ""},
		{`{"a":"\\ud800 is text"}`, ""},
		{"\"\xff\"", "body"},
		{"{\"ok\":\"x\"} trailing \xff", ""}, // outside strings: the decoder's to refuse
		{"{\"a\":1,\"b\":true,\"c\":null,\"d\":\"\xfe\"}", "d"},
	} {
		err := identity.CheckJSONText([]byte(c.body))
		var ve *identity.ValidationError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("CheckJSONText(%q) = %v, want nil", c.body, err)
		case c.field != "" && (!errors.As(err, &ve) || ve.Fields[0].Field != c.field):
			t.Errorf("CheckJSONText(%q) = %v, want a ValidationError naming %s", c.body, err, c.field)
		}
	}
}

// FuzzCheckJSONText checks that CheckJSONText never panics, passes every
// UTF-8 document without escapes, and lets no valid JSON with a byte that is
// not UTF-8 through.
func FuzzCheckJSONText(f *testing.F) {
	for _, s := range []string{
		"{\"a\":\"b\"}", "{\"a\":\"\xff\"}", `{"a":["\ud800"]}`, "[{\"x\":{\"y\":\"\xc3\"}}]", "{\"\xff\":1}", `"\udbff\udfff"`, `{`, `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := identity.CheckJSONText(body)
		if err == nil && json.Valid(body) && !utf8.Valid(body) {
			t.Fatalf("CheckJSONText(%q) passes valid JSON that is not UTF-8", body)
		}
		if err != nil && utf8.Valid(body) && !bytes.Contains(body, []byte(`\u`)) {
			t.Fatalf("CheckJSONText(%q) = %v for UTF-8 without escapes", body, err)
		}
	})
}
