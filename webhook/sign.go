package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers every request carries.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret: "whsec_" + the base64 of the key.
const SecretPrefix = "whsec_"

// Errors of Verify, checked with errors.Is.
var (
	ErrNoSignature  = errors.New("webhook: no valid signature")
	ErrTimestamp    = errors.New("webhook: timestamp outside the tolerance")
	ErrMissingField = errors.New("webhook: missing header")
)

// SecretError says why a secret is refused; Index is its position in the
// endpoint's list. It matches identity.ErrInvalid through the
// *identity.ValidationError that wraps it where endpoints are checked.
type SecretError struct {
	Index  int
	Reason string
}

func (e *SecretError) Error() string { return fmt.Sprintf("secrets[%d]: %s", e.Index, e.Reason) }

// NewSecret returns a new random secret of 32 bytes in the Standard Webhooks
// form.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// ParseSecret returns the key of a secret "whsec_<base64>": 24 to 64 bytes.
// The base64 may be standard or URL-safe, padded or not. The error never
// holds the secret.
func ParseSecret(s string) ([]byte, error) {
	enc, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, &SecretError{Reason: "does not start with " + SecretPrefix}
	}
	var key []byte
	var err error
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = e.DecodeString(enc); err == nil {
			break
		}
	}
	switch {
	case err != nil:
		return nil, &SecretError{Reason: "is not base64 after " + SecretPrefix}
	case len(key) < 24:
		return nil, &SecretError{Reason: fmt.Sprintf("key of %d bytes, want at least 24", len(key))}
	case len(key) > 64:
		return nil, &SecretError{Reason: fmt.Sprintf("key of %d bytes, want at most 64", len(key))}
	}
	return key, nil
}

// sign returns the v1 signature of a message with key.
func sign(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Sign returns the webhook-signature header of a message: one "v1,<base64
// HMAC-SHA256 of id.timestamp.body>" per secret, separated by spaces, so
// that a receiver holding any one of the secrets accepts it.
func Sign(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for i, s := range secrets {
		key, err := ParseSecret(s)
		if err != nil {
			err.(*SecretError).Index = i
			return "", err
		}
		sigs = append(sigs, sign(key, id, ts.Unix(), body))
	}
	if len(sigs) == 0 {
		return "", &SecretError{Reason: "no secret"}
	}
	return strings.Join(sigs, " "), nil
}

// Verify checks a received request's headers and body against secret, as a
// receiver does: the timestamp must be within tolerance of now (zero means
// 5 minutes), and one of the v1 signatures must match (compared in constant
// time). It returns ErrMissingField, ErrTimestamp or ErrNoSignature.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingField
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not a number", ErrTimestamp, HeaderTimestamp)
	}
	if tolerance == 0 {
		tolerance = 5 * time.Minute
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	want := []byte(sign(key, id, ts, body))
	for sig := range strings.FieldsSeq(sigs) {
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrNoSignature
}
