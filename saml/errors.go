package saml

import (
	"errors"
	"fmt"
	"strings"

	crewjam "github.com/crewjam/saml"
)

// ErrRejected is matched (with errors.Is) by every *RejectError.
var ErrRejected = errors.New("saml: response rejected")

// Reasons a response is rejected, as RejectError.Reason and the "reason" key
// of the log.
const (
	ReasonMalformed      = "malformed"       // not base64, not XML, not a Response
	ReasonDOCTYPE        = "doctype"         // a DOCTYPE or other directive
	ReasonAssertionCount = "assertion_count" // not exactly one assertion (signature wrapping)
	ReasonSignature      = "signature"       // missing, invalid or by an unknown key
	ReasonSHA1           = "sha1"            // a SHA-1 signature or digest, not allowed
	ReasonDecrypt        = "decrypt"         // the encrypted assertion cannot be decrypted
	ReasonKeyTransport   = "key_transport"   // the assertion's key is wrapped with RSA-1_5, not allowed
	ReasonDestination    = "destination"     // Response Destination is not the ACS URL
	ReasonRecipient      = "recipient"       // SubjectConfirmation Recipient is not the ACS URL
	ReasonAudience       = "audience"        // no AudienceRestriction, or not this SP
	ReasonIssuer         = "issuer"          // not the pinned IdP
	ReasonExpired        = "expired"         // out of its validity window
	ReasonInResponseTo   = "in_response_to"  // names no request this SP has pending
	ReasonIDPInitiated   = "idp_initiated"   // names no request, and IdP-initiated login is off
	ReasonBinding        = "binding"         // posted by another browser than the one that started the login
	ReasonReplay         = "replay"          // the assertion was used already
	ReasonBearer         = "bearer"          // no bearer SubjectConfirmation
	ReasonIncomplete     = "incomplete"      // no Subject or no Conditions (crewjam panics)
	ReasonStatus         = "status"          // the IdP reports a failure
	ReasonSubject        = "subject"         // no usable link subject (transient NameID...)
	ReasonGroups         = "groups"          // the groups claim cannot be read, or is over the limit
	ReasonInvalid        = "invalid"         // another failure reported by crewjam
	ReasonDraft          = "draft"           // not the answer to a test login, and the connection is a draft
)

// ErrDraft is returned by Login, and wrapped in the RejectError of ACS
// (reason ReasonDraft), when the connection is a draft (Config.Draft): only
// a test login may use it until it is activated.
var ErrDraft = errors.New("saml: the connection is a draft: only a test login may use it")

// RejectError is why a response was refused. Its message is for logs: show
// the browser no more than that sign-in failed.
type RejectError struct {
	Reason string
	// Err is the detail: crewjam's private error, or the wrapper's.
	Err error
}

func (e *RejectError) Error() string {
	if e.Err == nil {
		return "saml: response rejected: " + e.Reason
	}
	return fmt.Sprintf("saml: response rejected: %s: %v", e.Reason, e.Err)
}

func (e *RejectError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectError) Is(target error) bool { return target == ErrRejected }

func reject(reason string, err error) *RejectError { return &RejectError{Reason: reason, Err: err} }

// crewjamReason classifies an error of crewjam's ParseXMLResponse (its
// PrivateErr). crewjam v0.5.1 has no typed errors but for ErrBadStatus, so
// this reads the messages; they are pinned by the version in go.mod and by
// the tests.
func crewjamReason(err error) string {
	var status crewjam.ErrBadStatus
	if errors.As(err, &status) {
		return ReasonStatus
	}
	if errors.Is(err, errSHA1) {
		return ReasonSHA1
	}
	msg := err.Error()
	for _, r := range []struct{ substr, reason string }{
		{"invalid xml", ReasonMalformed},
		{"cannot unmarshal", ReasonMalformed},
		{"decrypt", ReasonDecrypt},
		{"Destination", ReasonDestination},
		{"Recipient", ReasonRecipient},
		{"InResponseTo", ReasonInResponseTo},
		{"possible request IDs", ReasonInResponseTo},
		{"AudienceRestriction", ReasonAudience},
		{"audience", ReasonAudience},
		{"ssuer", ReasonIssuer},
		{"expired", ReasonExpired},
		{"not yet valid", ReasonExpired},
		{"signature", ReasonSignature},
		{"Signature", ReasonSignature},
		{"certificate", ReasonSignature},
		{"Cert", ReasonSignature},
		{"x509", ReasonSignature},
	} {
		if strings.Contains(msg, r.substr) {
			return r.reason
		}
	}
	return ReasonInvalid
}
