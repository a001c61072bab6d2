package portal

import (
	"net/http"

	"github.com/rollcall/rollcall/identity"
)

// recentDeliveries is how many deliveries an endpoint's row shows.
const recentDeliveries = 5

type webhookRow struct {
	identity.WebhookEndpoint
	Secrets    int
	Deliveries []identity.WebhookDelivery
}

type webhooksData struct {
	Endpoints []webhookRow
}

// webhooks lists the tenant's endpoints, their state and their latest
// deliveries. It shows how many secrets sign, never a secret.
func (h *Handler) webhooks(c *call) error {
	if h.cfg.Webhooks == nil {
		return identity.ErrNotFound
	}
	st := h.cfg.Webhooks(c.dir().Tenant())
	eps, err := st.Endpoints(c.ctx)
	if err != nil {
		return err
	}
	d := &webhooksData{}
	for _, e := range eps {
		ds, err := st.Deliveries(c.ctx, e.ID, 0, recentDeliveries)
		if err != nil {
			return err
		}
		row := webhookRow{WebhookEndpoint: e, Secrets: len(e.Secrets), Deliveries: ds}
		row.WebhookEndpoint.Secrets = nil
		d.Endpoints = append(d.Endpoints, row)
	}
	h.render(c.w, c.r, http.StatusOK, "webhooks", c.page("Webhooks", d))
	return nil
}
