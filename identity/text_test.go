package identity_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// TestHiddenCharactersRefused checks that names, display names and the other
// text a person sees refuse control characters, bidi overrides and
// zero-width characters, naming the field, while ZWNJ and ZWJ stay allowed.
func TestHiddenCharactersRefused(t *testing.T) {
	ctx := context.Background()
	dir, err := identity.New(memory.New().Tenant("t"), identity.Config{Tenant: "t"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field string
		user  identity.User
	}{
		{"displayName", identity.User{Email: "a1@x.de", DisplayName: "Ada \u202Eecila"}},
		{"givenName", identity.User{Email: "a2@x.de", GivenName: "Ad\u200Ba"}},
		{"familyName", identity.User{Email: "a3@x.de", FamilyName: "Love\u2066lace"}},
		{"userName", identity.User{Email: "a4@x.de", UserName: "ada\u200F"}},
		{"displayName", identity.User{Email: "a5@x.de", DisplayName: "Ada\u0007"}},
		{"givenName", identity.User{Email: "a6@x.de", GivenName: "\u3164"}},
		{"attributes.title", identity.User{Email: "a7@x.de", Attributes: map[string]string{"title": "CEO\uFEFF"}}},
	} {
		_, err := dir.CreateUser(ctx, identity.SourceManual, c.user, identity.CreateOptions{})
		var ve *identity.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != c.field {
			t.Errorf("CreateUser(%+v) = %v, want a ValidationError naming %s", c.user, err, c.field)
		}
	}
	// Persian with a ZWNJ, an emoji family with ZWJs.
	u, err := dir.CreateUser(ctx, identity.SourceManual, identity.User{
		Email: "m@x.ir", DisplayName: "می\u200Cخواهم", GivenName: "👩\u200D👩\u200D👧",
	}, identity.CreateOptions{})
	if err != nil || u.DisplayName != "می\u200Cخواهم" {
		t.Fatalf("a name with ZWNJ and ZWJ: %v, %q", err, u.DisplayName)
	}
	if _, err := dir.CreateGroup(ctx, identity.SourceManual, "Staff\u202E", ""); !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("a group name with U+202E: %v, want ErrInvalid", err)
	}
}

func TestTextProblem(t *testing.T) {
	for s, bad := range map[string]bool{
		"Ada": false, "José": false, "a\u200Db": false, "a\u200Cb": false,
		"a\u202Eb": true, "a\u200Bb": true, "a\x00b": true, "a\u2028b": true, "\xffa": true, "a\u061Cb": true,
	} {
		if got := identity.TextProblem(s, 64) != ""; got != bad {
			t.Errorf("TextProblem(%q) != \"\" is %v, want %v", s, got, bad)
		}
	}
	if identity.TextProblem("abcdef", 5) != "is too long" {
		t.Error("TextProblem does not check the length")
	}
}
