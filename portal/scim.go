package portal

import (
	"net/http"
	"slices"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
)

type scimData struct {
	Version                int64
	BaseURL                string
	Enabled, SyncGroups    bool
	GroupSource            string
	Tokens                 []settings.Token
	NewToken, NewTokenName string // the token just made: shown on this page only
	Attempts               []identity.Attempt
	HasLog                 bool
}

func (h *Handler) scimData(c *call) (*scimData, error) {
	st, err := h.settingsOf(c)
	if err != nil {
		return nil, err
	}
	d := &scimData{Version: st.Version, GroupSource: st.GroupSource()}
	if st.SCIM != nil {
		d.Enabled, d.SyncGroups = st.SCIM.Enabled, st.SCIM.SyncGroups
	}
	if h.cfg.Endpoints != nil {
		d.BaseURL = h.cfg.Endpoints.SCIM(c.dir().Tenant())
	}
	if st.Version > 0 {
		if d.Tokens, err = h.cfg.Settings.Tokens(c.ctx, c.dir().Tenant()); err != nil {
			return nil, err
		}
	}
	slices.Reverse(d.Tokens) // newest first
	d.Attempts, d.HasLog = h.recentAttempts(c, "scim"), c.tenant.Attempts != nil
	return d, nil
}

func (h *Handler) scim(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "SCIM provisioning")
	}
	d, err := h.scimData(c)
	if err != nil {
		return err
	}
	p := c.page("SCIM provisioning", d)
	p.Notice = c.notice()
	h.render(c.w, c.r, http.StatusOK, "scim", p)
	return nil
}

// saveSCIM turns SCIM on or off, and its group sync.
func (h *Handler) saveSCIM(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "SCIM provisioning")
	}
	on, groups := c.r.PostFormValue("enabled") == "on", c.r.PostFormValue("syncGroups") == "on"
	_, err := h.update(c, func(s *settings.Settings) error {
		if s.SCIM == nil {
			s.SCIM = &settings.SCIM{}
		}
		s.SCIM.Enabled, s.SCIM.SyncGroups = on, groups
		return nil
	})
	if ok, err := h.refused(c, err, "SCIM provisioning", "scim", func() (any, error) { return h.scimData(c) }); ok || err != nil {
		return err
	}
	return c.see("/scim", "updated")
}

// createToken makes a SCIM token and shows it on the page it answers, once:
// the store keeps its hash only. The tenant's settings are created first if
// it has none (a token belongs to a tenant with settings).
func (h *Handler) createToken(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "SCIM provisioning")
	}
	name, err := formText(c.r, "name", 200)
	if err != nil {
		return err
	}
	st, err := h.settingsOf(c)
	if err != nil {
		return err
	}
	if st.Version == 0 {
		if _, err := h.cfg.Settings.UpdateSettings(c.ctx, c.dir().Tenant(), 0, func(*settings.Settings) error { return nil }); err != nil {
			return err
		}
	}
	var expires time.Time
	if days := c.r.PostFormValue("days"); days != "" && days != "0" {
		n, ok := map[string]int{"30": 30, "90": 90, "365": 365}[days]
		if !ok {
			return errBadRequestf("the token's lifetime is 30, 90 or 365 days, or none")
		}
		expires = h.clock.Now().AddDate(0, 0, n)
	}
	tok, rec, err := h.cfg.Settings.IssueToken(c.ctx, c.dir().Tenant(), name, expires)
	if ok, err := h.refused(c, err, "SCIM provisioning", "scim", func() (any, error) { return h.scimData(c) }); ok || err != nil {
		return err
	}
	d, err := h.scimData(c)
	if err != nil {
		return err
	}
	d.NewToken, d.NewTokenName = tok, rec.Name
	p := c.page("SCIM provisioning", d)
	p.Notice = "The token is made. Copy it now: it is not shown again."
	h.render(c.w, c.r, http.StatusCreated, "scim", p)
	return nil
}

func (h *Handler) revokeToken(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "SCIM provisioning")
	}
	if err := h.cfg.Settings.RevokeToken(c.ctx, c.dir().Tenant(), c.r.PathValue("id")); err != nil {
		return err
	}
	return c.see("/scim", "revoked")
}
