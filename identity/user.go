// Package identity holds the directory's domain: users, groups and links, the
// store interfaces a host implements or picks from storage/, the clock, the
// errors and the provisioning core (Directory) through which every source makes
// its changes.
package identity

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"strings"
	"time"

	"github.com/rollcall/rollcall/groups"
)

// Well-known keys of User.Attributes. A source may set others; these are the
// ones the sources agree on.
const (
	AttrDepartment     = "department"
	AttrPhone          = "phone"
	AttrEmployeeNumber = "employeeNumber"
	AttrCostCenter     = "costCenter"
	AttrOrganization   = "organization"
	AttrDivision       = "division"
	AttrManager        = "manager"
	AttrTitle          = "title"
)

// User is a person of one tenant.
type User struct {
	// ID is assigned when the user is created and never changes.
	ID string
	// UserName is the sign-in name (a UPN, say). It is unique per tenant,
	// compared by NormalizeUserName. It defaults to the email.
	UserName string
	// Email is the address as given; no two active users of a tenant share
	// it, compared by NormalizeEmail (deactivated users may). It may be empty
	// for a user provisioned without one.
	Email string
	// EmailVerified is true once the address is known to reach the user: an
	// accepted invitation, or a source trusted for email.
	EmailVerified bool
	GivenName     string
	FamilyName    string
	DisplayName   string
	// Active is false for a deactivated user, who cannot sign in.
	Active bool
	// ExternalID is the identifier a provisioning client (SCIM) keeps for the
	// user. It is not unique: RFC 7643 §3.1 leaves that to the client, and
	// links, not externalIDs, identify a person per source.
	ExternalID string
	// Attributes holds the other attributes (department, phone, employee
	// number...) by the keys of the Attr constants or the source's own names.
	Attributes map[string]string
	Created    time.Time
	Updated    time.Time
	// Version starts at 1 and grows by one with every stored change; it serves
	// as an ETag.
	Version int64
}

// Clone returns a copy of u that shares no map with it.
func (u User) Clone() User {
	u.Attributes = maps.Clone(u.Attributes)
	return u
}

// Name returns the display name, else the given and family names, else the
// email.
func (u User) Name() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if n := strings.TrimSpace(u.GivenName + " " + u.FamilyName); n != "" {
		return n
	}
	return u.Email
}

// Group is a named set of users of one tenant.
type Group struct {
	ID string
	// Name is the name as first received; unique per tenant, compared by
	// groups.Key.
	Name string
	// Kind tells whether the group is managed in the host (internal) or by the
	// tenant's group source (external).
	Kind groups.Kind
	// Source is the source that manages an external group ("scim", "google",
	// "saml:<connection>"), or the source that created an internal one.
	Source string
	// ExternalID is the identifier the managing source keeps for the group;
	// unique per tenant when set.
	ExternalID string
	Created    time.Time
	Updated    time.Time
	// Version starts at 1 and grows by one with every stored change of the
	// group itself (not of its members).
	Version int64
}

// Link ties an identity at a source to a user: (Source, Subject) is unique per
// tenant, and a user has at most one link per source.
type Link struct {
	// Source names where the identity lives: "saml:<connection>",
	// "oauth:<provider>", "scim", "google", "import".
	Source string
	// Subject is the source's stable identifier for the person (a persistent
	// NameID, an OIDC issuer and subject, a Google user ID). Compared exactly.
	Subject string
	UserID  string
	Created time.Time
}

// Invitation is a pending invitation of a user. Only the token's hash is kept.
type Invitation struct {
	// Hash is the SHA-256 of the token handed to the user.
	Hash    []byte
	UserID  string
	Expires time.Time
	Created time.Time
}

// NormalizeUserName returns the form of a user name used to compare names:
// trimmed and lower-cased (SCIM's userName is not case-exact).
func NormalizeUserName(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// NewID returns a new random identifier: 32 hex digits whose first twelve are
// the time in milliseconds, so that identifiers sort roughly by creation.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[6:]); err != nil {
		panic("identity: crypto/rand failed: " + err.Error())
	}
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(time.Now().UnixMilli()))
	copy(b[:6], ms[2:])
	b[6] = b[6]&0x0f | 0x70 // UUID version 7
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return hex.EncodeToString(b[:])
}
