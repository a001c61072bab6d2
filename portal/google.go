package portal

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/settings"
)

// GoogleSyncOptions are the admin's choices of a Google sync run from the
// portal.
type GoogleSyncOptions struct {
	DryRun bool
	// Force applies a sync that the safety fuse (MaxRemove) stopped: the
	// admin saw what it would remove and confirmed.
	Force bool
}

type googleData struct {
	Version                  int64
	Enabled, KeySet, CanSync bool
	Admin, Domain, Customer  string
	GroupFilter, GroupSource string
	Report                   *googlesync.Report
	Fuse                     *googlesync.ThresholdError // the fuse stopped the sync
}

func (h *Handler) googleData(c *call) (*googleData, error) {
	st, err := h.settingsOf(c)
	if err != nil {
		return nil, err
	}
	d := &googleData{Version: st.Version, GroupSource: st.GroupSource(), CanSync: h.cfg.GoogleSync != nil}
	if g := st.Google; g != nil {
		d.Enabled, d.KeySet, d.Admin = g.Enabled, g.KeyJSON.IsSet(), g.Admin
		d.Domain, d.Customer, d.GroupFilter = g.Domain, g.Customer, g.GroupFilter
	}
	return d, nil
}

func (h *Handler) google(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "Google Workspace")
	}
	d, err := h.googleData(c)
	if err != nil {
		return err
	}
	p := c.page("Google Workspace", d)
	p.Notice = c.notice()
	h.render(c.w, c.r, http.StatusOK, "google", p)
	return nil
}

// saveGoogle saves the Google sync's settings. The service account's key is
// write-only: uploaded, it replaces the stored one; not uploaded, the stored
// one stays. It is checked to be a service account key before it is kept.
func (h *Handler) saveGoogle(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "Google Workspace")
	}
	var g settings.Google
	var err error
	for name, dst := range map[string]*string{"admin": &g.Admin, "domain": &g.Domain, "customer": &g.Customer, "groupFilter": &g.GroupFilter} {
		if *dst, err = formText(c.r, name, 512); err != nil {
			return err
		}
	}
	g.Enabled = c.r.PostFormValue("enabled") == "on"
	key, err := upload(c.r, "key", 64<<10)
	if err == nil && key != nil {
		var k struct {
			Type        string `json:"type"`
			ClientEmail string `json:"client_email"`
			PrivateKey  string `json:"private_key"`
		}
		if json.Unmarshal(key, &k) != nil || k.Type != "service_account" || k.ClientEmail == "" || k.PrivateKey == "" {
			err = errBadRequestf("the key file is not a service account's JSON key")
		}
	}
	if err == nil {
		_, err = h.update(c, func(s *settings.Settings) error {
			if s.Google != nil {
				keep := *s.Google
				keep.Enabled, keep.Admin, keep.Domain, keep.Customer, keep.GroupFilter = g.Enabled, g.Admin, g.Domain, g.Customer, g.GroupFilter
				g = keep
			}
			if key != nil {
				g.KeyJSON = settings.NewSecret(key)
			}
			s.Google = &g
			return nil
		})
	}
	if ok, err := h.refused(c, err, "Google Workspace", "google", func() (any, error) { return h.googleData(c) }); ok || err != nil {
		return err
	}
	return c.see("/google", "updated")
}

// syncGoogle runs the sync now, or its dry run, and shows the report.
func (h *Handler) syncGoogle(c *call) error {
	if h.cfg.Settings == nil {
		return h.noSettings(c, "Google Workspace")
	}
	if h.cfg.GoogleSync == nil {
		return errBadRequestf("this host does not run a Google sync from the portal")
	}
	opts := GoogleSyncOptions{DryRun: c.r.PostFormValue("dryRun") == "on", Force: c.r.PostFormValue("force") == "on"}
	if c.r.PostFormValue("force") != "" && c.r.PostFormValue("confirm") != "on" {
		return errBadRequestf("tick the box to confirm that the removals are meant")
	}
	rep, err := h.cfg.GoogleSync(c.ctx, c.dir().Tenant(), opts)
	d, derr := h.googleData(c)
	if derr != nil {
		return derr
	}
	p := c.page("Google Workspace", d)
	var fuse *googlesync.ThresholdError
	switch {
	case errors.As(err, &fuse):
		d.Fuse, d.Report = fuse, &rep
		p.Error = "The safety fuse stopped the sync: nothing was changed."
	case err != nil:
		h.log.WarnContext(c.r.Context(), "portal: google sync", "tenant", c.dir().Tenant(), "err", err)
		p.Error = "The sync failed: " + err.Error()
	default:
		d.Report = &rep
	}
	h.render(c.w, c.r, http.StatusOK, "google", p)
	return nil
}
