package portal

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
)

// SettingsStore is how the portal reads and changes a tenant's settings
// (settings.Settings) and its SCIM tokens: a settings.Store behind the
// host's tenant runtime, say. Each change records its event with the actor
// of ctx (identity.WithActor), which the portal sets to the admin.
type SettingsStore interface {
	// Settings returns the tenant's settings, secrets opened (the portal
	// shows only whether one is set), or identity.ErrNotFound if the tenant
	// has none yet: the portal then shows the zero Settings.
	Settings(ctx context.Context, tenant string) (settings.Settings, error)
	// UpdateSettings changes the tenant's settings with fn, if version (0:
	// any) is the stored one (else identity.ErrVersionMismatch), creating
	// them from the zero Settings if the tenant has none. It returns a
	// *identity.ValidationError when the result is not valid.
	UpdateSettings(ctx context.Context, tenant string, version int64, fn func(*settings.Settings) error) (settings.Settings, error)
	// IssueToken makes a SCIM token and returns it (shown once) and its record.
	IssueToken(ctx context.Context, tenant, name string, expires time.Time) (string, settings.Token, error)
	// Tokens lists the tenant's SCIM tokens, never the tokens themselves.
	Tokens(ctx context.Context, tenant string) ([]settings.Token, error)
	// RevokeToken revokes a SCIM token: the next request with it is refused.
	RevokeToken(ctx context.Context, tenant, id string) error
}

// Endpoints returns the addresses of a tenant's sources, to copy into an IdP.
type Endpoints interface {
	// SAML returns a SAML connection's entity ID, ACS URL and metadata URL.
	SAML(tenant, connection string) SAMLEndpoints
	// SCIM returns the SCIM base URL.
	SCIM(tenant string) string
	// OAuthRedirect returns an OAuth provider's redirect (callback) URL.
	OAuthRedirect(tenant, provider string) string
}

// SAMLEndpoints are what an IdP is told of a SAML connection.
type SAMLEndpoints struct {
	EntityID, ACSURL, MetadataURL string
}

// settingsOf reads the tenant's settings; none yet reads as the zero value.
func (h *Handler) settingsOf(c *call) (settings.Settings, error) {
	st, err := h.cfg.Settings.Settings(c.ctx, c.dir().Tenant())
	if errors.Is(err, identity.ErrNotFound) {
		return settings.Settings{}, nil
	}
	return st, err
}

// formVersion reads the settings version a form was shown with.
func formVersion(r *http.Request) (int64, error) {
	v := r.PostFormValue("version")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errBadRequestf("the form's version is not valid")
	}
	return n, nil
}

// update changes the settings with the version the form was shown with.
func (h *Handler) update(c *call, fn func(*settings.Settings) error) (settings.Settings, error) {
	v, err := formVersion(c.r)
	if err != nil {
		return settings.Settings{}, err
	}
	return h.cfg.Settings.UpdateSettings(c.ctx, c.dir().Tenant(), v, fn)
}

// groupSourceHelp explains the rule settings.Validate enforces, where it
// blocks a change.
const groupSourceHelp = "A tenant has one group source: the groups of its users come from one place only " +
	"(SCIM with group sync, Google, or one SSO connection with group sync). " +
	"Turn group sync off on the other source first, or leave it off here."

// refused renders a settings page again after a change the settings refused
// (an invalid field, the one-group-source rule, a stale version), with the
// reason, and reports whether err was such a refusal.
func (h *Handler) refused(c *call, err error, title, tmpl string, data func() (any, error)) (bool, error) {
	var ve *identity.ValidationError
	status := http.StatusUnprocessableEntity
	msg := "Some values are not valid; nothing was saved."
	switch {
	case asValidation(err, &ve):
		for _, f := range ve.Fields {
			if f.Field == "groupSource" {
				msg = "Nothing was saved. " + groupSourceHelp
			}
		}
	case errors.Is(err, identity.ErrVersionMismatch):
		status, msg = http.StatusConflict, message(err)
	case errors.Is(err, errBadRequest):
		status, msg = http.StatusBadRequest, message(err)
	default:
		return false, err
	}
	d, derr := data()
	if derr != nil {
		return true, derr
	}
	p := c.page(title, d)
	p.Error = msg
	if ve != nil {
		p.Fields = ve.Fields
	}
	h.render(c.w, c.r, status, tmpl, p)
	return true, nil
}

// noSettings renders a settings page on a host without Config.Settings.
func (h *Handler) noSettings(c *call, title string) error {
	p := c.page(title, nil)
	p.Error = "This host does not offer this page: the tenant's settings are not reachable from the portal."
	h.render(c.w, c.r, http.StatusOK, "error", p)
	return nil
}

// limited caps the body of a settings form before the CSRF check reads it.
func limited(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// formText reads a form field, trimmed, refusing control characters.
func formText(r *http.Request, name string, max int) (string, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if len(v) > max || strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 && c != '\t' || c == 0x7f }) {
		return "", errBadRequestf("the field %s is not valid", name)
	}
	return v, nil
}

// upload reads an uploaded file of the form, up to max bytes; nil when none.
func upload(r *http.Request, name string, max int64) ([]byte, error) {
	f, hdr, err := r.FormFile(name)
	if errors.Is(err, http.ErrMissingFile) || (err == nil && hdr.Size == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, errBadRequestf("the file %s could not be read", name)
	}
	defer f.Close()
	if hdr.Size > max {
		return nil, errBadRequestf("the file %s is larger than %d KiB", name, max>>10)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil || int64(len(b)) > max {
		return nil, errBadRequestf("the file %s could not be read", name)
	}
	return b, nil
}

// sectionLabel names a section in the menu.
func sectionLabel(s Section) string {
	switch s {
	case SectionSSO:
		return "SSO"
	case SectionSCIM:
		return "SCIM"
	}
	return strings.ToUpper(string(s[:1])) + string(s[1:])
}

// recentAttempts returns the newest attempts of a connection ("saml:okta",
// "scim"), or none when the tenant has no diagnostics log.
func (h *Handler) recentAttempts(c *call, connection string) []identity.Attempt {
	if c.tenant.Attempts == nil {
		return nil
	}
	as, err := c.tenant.Attempts.Attempts(c.ctx, identity.AttemptQuery{Connection: connection, Limit: 20})
	if err != nil {
		h.log.WarnContext(c.r.Context(), "portal: attempts", "tenant", c.dir().Tenant(), "err", err)
		return nil
	}
	return as
}
