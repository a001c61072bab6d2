package scim

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/rollcall/rollcall/identity"
)

// The multi-valued attributes a user keeps, each element with every
// sub-attribute of the schema, as a JSON array under an Attributes key:
//
//	scim.emails        emails (when the one address and its type do not say it all)
//	scim.phoneNumbers  phoneNumbers (likewise)
//	scim.ims           ims
//	scim.photos        photos
//	scim.addresses     addresses
//
// The primary email (else the first of type work, else the first) is the
// identity's Email, and the primary phone number the phone attribute
// (identity.AttrPhone): what the core and other sources see. A user with
// one address and one number keeps them there alone, their type under
// emailType and phoneType when it is not work. The core caps an Attributes
// value at identity.MaxAttributeValueLength bytes: more is a 400 naming the
// attribute, never a cut.
const (
	attrPhones    = "scim.phoneNumbers"
	attrIMs       = "scim.ims"
	attrPhotos    = "scim.photos"
	attrAddresses = "scim.addresses"
)

var phonesAttr = findAttr(userSchema.Attrs, "phoneNumbers")

// multiAttrs pairs each kept multi-valued attribute with its key and, for
// emails and phone numbers, where its primary value goes.
var multiAttrs = []struct {
	a       *attr
	key     string
	typeKey string // the legacy type key, for emails and phoneNumbers
}{
	{emailsAttr, attrEmails, attrEmailType},
	{phonesAttr, attrPhones, attrPhoneType},
	{findAttr(userSchema.Attrs, "ims"), attrIMs, ""},
	{photosAttr, attrPhotos, ""},
	{addressesAttr, attrAddresses, ""},
}

// primaryOf returns the value a user keeps outside the JSON for emails and
// phone numbers, and whether the attribute has one.
func primaryOf(u identity.User, a *attr) (string, bool) {
	switch a {
	case emailsAttr:
		return u.Email, true
	case phonesAttr:
		return u.Attributes[identity.AttrPhone], true
	}
	return "", false
}

// writeMulti sets the multi-valued attributes of a user's document.
func writeMulti(d doc, u identity.User) {
	for _, m := range multiAttrs {
		primary, hasPrimary := primaryOf(u, m.a)
		list, ok := parseList(u.Attributes[m.key])
		switch {
		case ok && hasPrimary:
			list = reconcile(list, primary)
		case !ok && hasPrimary && primary != "":
			list = []any{doc{"value": primary, "type": valueType(u, m.typeKey), "primary": true}}
		}
		if len(list) > 0 {
			d[m.a.Name] = list
		}
	}
}

// parseList reads a kept JSON array of objects.
func parseList(raw string) ([]any, bool) {
	if raw == "" {
		return nil, false
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		return nil, false
	}
	out := make([]any, 0, len(list))
	for _, e := range list {
		out = append(out, doc(e))
	}
	return out, true
}

// reconcile makes a kept list agree with the primary value the core holds,
// which another source may have changed: the element pick chooses takes
// that value, or goes if there is none.
func reconcile(list []any, primary string) []any {
	for _, e := range list {
		if m, ok := e.(doc); ok && strings.EqualFold(getString(m, "value"), primary) && primary != "" {
			return list
		}
	}
	p := pick(list)
	if p == nil {
		if primary == "" {
			return list
		}
		return append(list, doc{"value": primary, "primary": true})
	}
	if primary != "" {
		p["value"] = primary
		return list
	}
	out := list[:0:0]
	for _, e := range list {
		if m, ok := e.(doc); !ok || reflect.ValueOf(m).Pointer() != reflect.ValueOf(p).Pointer() {
			out = append(out, e)
		}
	}
	return out
}

// readMulti keeps the multi-valued attributes of a normalized document in
// u: the JSON keys, the email and the phone attribute.
func readMulti(d doc, u *identity.User, attrs map[string]string) error {
	for _, m := range multiAttrs {
		list := keptElements(d[m.a.Name], m.a)
		delete(attrs, m.key)
		if m.typeKey == "" {
			if len(list) > 0 {
				if err := putJSON(attrs, m.key, m.a.Name, list); err != nil {
					return err
				}
			}
			continue
		}
		p := pick(list)
		value := getString(p, "value")
		if m.a == emailsAttr {
			u.Email = value
		} else if value == "" {
			delete(attrs, identity.AttrPhone)
		} else {
			attrs[identity.AttrPhone] = value
		}
		setType(attrs, m.typeKey, p)
		if needsJSON(list) {
			delete(attrs, m.typeKey)
			if err := putJSON(attrs, m.key, m.a.Name, list); err != nil {
				return err
			}
		}
	}
	return nil
}

// keptElements returns the elements worth keeping: those with a value (for
// attributes that have one), or with any sub-attribute (addresses).
func keptElements(v any, a *attr) []any {
	list, _ := v.([]any)
	out := make([]any, 0, len(list))
	for _, e := range list {
		m, ok := e.(doc)
		if !ok || len(m) == 0 {
			continue
		}
		if a.sub("value") != nil && getString(m, "value") == "" {
			continue
		}
		out = append(out, m)
	}
	return out
}

// needsJSON reports whether a list of emails or phone numbers says more than
// its one value and type: more elements, or a display.
func needsJSON(list []any) bool {
	if len(list) > 1 {
		return true
	}
	for _, e := range list {
		m, _ := e.(doc)
		if getString(m, "display") != "" || m["primary"] == false {
			return true
		}
	}
	return false
}

func putJSON(attrs map[string]string, key, name string, list []any) error {
	b, err := json.Marshal(list)
	if err != nil {
		return badRequest(ScimInvalidValue, "%s: %s", name, err)
	}
	if len(b) > identity.MaxAttributeValueLength {
		return badRequest(ScimInvalidValue, "%s: %d bytes kept at most, %d given", name, identity.MaxAttributeValueLength, len(b))
	}
	attrs[key] = string(b)
	return nil
}
