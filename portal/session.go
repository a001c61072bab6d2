package portal

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// cookieName is the session cookie's name.
const cookieName = "rollcall_portal"

// linkKey is the KeyStore key of a setup link: its token's SHA-256.
func linkKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "portal:link:" + hex.EncodeToString(sum[:])
}

// newLink stores a setup link for admin until expires and returns its token:
// 32 random bytes, base64url.
func newLink(ctx context.Context, keys identity.KeyStore, admin Admin, expires time.Time) (string, time.Time, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	value, err := json.Marshal(admin)
	if err != nil {
		return "", time.Time{}, err
	}
	ok, err := keys.SetIfAbsent(ctx, linkKey(token), value, expires)
	if err != nil {
		return "", time.Time{}, err
	}
	if !ok { // 256 random bits do not collide
		return "", time.Time{}, errors.New("portal: setup link taken")
	}
	return token, expires, nil
}

// errBadLink is a setup link that is unknown, used or expired: one answer for
// the three, so that nothing is learnt from it.
var errBadLink = errors.New("portal: setup link not valid")

// redeemLink takes the setup link's token out of the KeyStore: a second use
// finds nothing.
func redeemLink(ctx context.Context, keys identity.KeyStore, token string) (Admin, error) {
	if token == "" || len(token) > 128 {
		return Admin{}, errBadLink
	}
	value, err := keys.Take(ctx, linkKey(token))
	if errors.Is(err, identity.ErrNotFound) {
		return Admin{}, errBadLink
	}
	if err != nil {
		return Admin{}, err
	}
	var a Admin
	if err := json.Unmarshal(value, &a); err != nil {
		return Admin{}, err
	}
	return a, nil
}

// session is what the cookie holds, signed.
type session struct {
	Tenant   string    `json:"t"`
	Admin    string    `json:"a"`
	Sections []Section `json:"s"`
	Created  int64     `json:"c"` // Unix seconds
	Seen     int64     `json:"l"` // Unix seconds of the last request
	Nonce    string    `json:"n"` // random; the CSRF token derives from it
}

func (h *Handler) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, h.cfg.SessionKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// encodeSession returns the cookie value: the JSON, base64url, a dot, and its
// HMAC-SHA256, base64url.
func (h *Handler) encodeSession(s session) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(h.mac("session", payload)), nil
}

// decodeSession checks the cookie value's signature and returns the session.
func (h *Handler) decodeSession(value string) (session, bool) {
	payload, sig, ok := strings.Cut(value, ".")
	if !ok || len(value) > 4096 {
		return session{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, h.mac("session", payload)) {
		return session{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return session{}, false
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		return session{}, false
	}
	return s, true
}

// startSession sets the cookie of a new session for admin on tenant.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, tenant string, admin Admin) error {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return err
	}
	now := h.clock.Now().Unix()
	s := session{Tenant: tenant, Admin: admin.Name, Sections: admin.Sections, Created: now, Seen: now,
		Nonce: base64.RawURLEncoding.EncodeToString(n[:])}
	return h.setCookie(w, r, s)
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, s session) error {
	v, err := h.encodeSession(s)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: v, Path: basePath(r) + "/",
		MaxAge: int(h.cfg.MaxAge / time.Second), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	return nil
}

func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: basePath(r) + "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// visitor is who makes a request: the admin and the CSRF token their forms
// carry.
type visitor struct {
	Admin Admin
	CSRF  string
}

// who returns the admin of a request on tenant: the host's, else the
// session's if it is signed, for this tenant, and within its timeouts. A
// session seen more than a minute ago gets its cookie again with the new
// time, so that the idle timeout slides.
func (h *Handler) who(w http.ResponseWriter, r *http.Request, tenant string) (visitor, bool) {
	if h.cfg.Authenticate != nil {
		if a, ok := h.cfg.Authenticate(r); ok {
			return visitor{Admin: a, CSRF: h.csrf("host", tenant, a.Name)}, true
		}
	}
	c, err := r.Cookie(cookieName)
	if err != nil {
		return visitor{}, false
	}
	s, ok := h.decodeSession(c.Value)
	if !ok || s.Tenant != tenant {
		return visitor{}, false
	}
	now := h.clock.Now()
	if now.Sub(time.Unix(s.Seen, 0)) > h.cfg.IdleTimeout || now.Sub(time.Unix(s.Created, 0)) > h.cfg.MaxAge {
		h.endSession(w, r)
		return visitor{}, false
	}
	if now.Sub(time.Unix(s.Seen, 0)) > time.Minute {
		s.Seen = now.Unix()
		if err := h.setCookie(w, r, s); err != nil {
			return visitor{}, false
		}
	}
	return visitor{Admin: Admin{Name: s.Admin, Sections: s.Sections}, CSRF: h.csrf("session", tenant, s.Nonce)}, true
}

// csrf returns the CSRF token of a session or of a host's admin.
func (h *Handler) csrf(kind, tenant, id string) string {
	return base64.RawURLEncoding.EncodeToString(h.mac("csrf", kind, tenant, id))
}

// checkCSRF reports whether a state-changing request carries the visitor's
// token (form field "csrf", or the header X-CSRF-Token), compared in
// constant time.
func checkCSRF(r *http.Request, v visitor) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && hmac.Equal([]byte(got), []byte(v.CSRF))
}

// basePath returns the prefix the portal is mounted at: the request's path
// as the client sent it, less the path http.StripPrefix left.
func basePath(r *http.Request) string {
	orig := r.RequestURI
	if i := strings.IndexAny(orig, "?#"); i >= 0 {
		orig = orig[:i]
	}
	if strings.HasPrefix(orig, "http://") || strings.HasPrefix(orig, "https://") { // absolute form
		if i := strings.Index(orig[strings.Index(orig, "//")+2:], "/"); i >= 0 {
			orig = orig[strings.Index(orig, "//")+2+i:]
		}
	}
	p := r.URL.EscapedPath()
	if orig == "" || !strings.HasSuffix(orig, p) {
		return ""
	}
	return strings.TrimSuffix(orig[:len(orig)-len(p)], "/")
}
