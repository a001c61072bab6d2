package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/rollcall/rollcall/identity"
)

// TestCreateUsersLinkConflict has the core create users with subjects, one
// of which is linked already: the users it stored are removed again and the
// transaction goes on, in each dialect.
func TestCreateUsersLinkConflict(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t, Options{}).Tenant("acme")
			dir, err := identity.New(s, identity.Config{Tenant: "acme"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dir.CreateUser(ctx, identity.SourceGoogle, identity.User{Email: "linked@example.com"}, identity.CreateOptions{Subject: "g-linked"}); err != nil {
				t.Fatal(err)
			}
			users := make([]identity.NewUser, 300)
			for i := range users {
				users[i] = identity.NewUser{
					User:    identity.User{Email: fmt.Sprintf("u%03d@example.com", i)},
					Options: identity.CreateOptions{Subject: fmt.Sprintf("g-%03d", i)},
				}
			}
			users[290].Options.Subject = "g-linked"
			err = dir.Do(ctx, identity.SourceGoogle, func(ctx context.Context, tx *identity.Tx) error {
				_, err := tx.CreateUsers(ctx, users)
				var ie *identity.ItemError
				var ce *identity.ConflictError
				if !errors.As(err, &ie) || ie.Index != 290 || !errors.As(err, &ce) || ce.Resource != "link" {
					return fmt.Errorf("CreateUsers with a subject linked already: %v, want the link conflict of user 290", err)
				}
				users[290].Options.Subject = "g-290"
				_, err = tx.CreateUsers(ctx, users[250:])
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.ListUsers(ctx, identity.UserQuery{Limit: 1})
			if err != nil || p.Total != 51 {
				t.Fatalf("ListUsers: Total %d, %v; want 51", p.Total, err)
			}
			for _, subject := range []string{"g-000", "g-249"} {
				_, err := s.UserByLink(ctx, identity.SourceGoogle, subject)
				if !errors.Is(err, identity.ErrNotFound) {
					t.Errorf("UserByLink(%s) of a user removed: %v, want ErrNotFound", subject, err)
				}
			}
			if u, err := s.UserByLink(ctx, identity.SourceGoogle, "g-290"); err != nil || u.Email != "u290@example.com" {
				t.Errorf("UserByLink(g-290) = %s, %v", u.Email, err)
			}
		})
	}
}

// attributeStrings are keys and values that attributesJSON must write as
// json.Marshal does.
var attributeStrings = []string{
	"", "department", "Analytical Engines", "Zählen ✓", "東京", "O'Brien", "a\"b", `back\slash`, "tab\there",
	"line\nbreak", "\x00", "\x1f", "\x7f", "<script>", "R&D", "a>b", "\u2028", "\u2029", "x\u2028y", "\xff",
	"ok\xc3", "\xed\xa0\x80", "😀", "\ufffd", "urn:custom:motto", "  spaced  ",
}

func TestAttributesJSON(t *testing.T) {
	maps := []map[string]string{nil, {}}
	for i, k := range attributeStrings {
		maps = append(maps, map[string]string{k: attributeStrings[(i+5)%len(attributeStrings)]})
	}
	all := make(map[string]string)
	for i, k := range attributeStrings {
		all[k] = attributeStrings[len(attributeStrings)-1-i]
	}
	maps = append(maps, all)
	for _, m := range maps {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := attributesJSON(m); got != string(want) {
			t.Errorf("attributesJSON(%q) = %s, want %s", m, got, want)
		}
	}
}

func FuzzAttributesJSON(f *testing.F) {
	for i, s := range attributeStrings {
		f.Add(s, attributeStrings[(i+1)%len(attributeStrings)], attributeStrings[(i+2)%len(attributeStrings)])
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2 string) {
		m := map[string]string{k1: v1, k2: k1 + v1}
		want, _ := json.Marshal(m)
		if got := attributesJSON(m); got != string(want) {
			t.Errorf("attributesJSON(%q) = %s, want %s", m, got, want)
		}
	})
}
