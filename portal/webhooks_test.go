package portal_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/portal"
)

// The webhooks section lists the tenant's endpoints, their state and their
// latest deliveries; it says how many secrets sign, and shows none.
func TestWebhooksPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.db.Webhooks("acme")
	secrets := []string{"whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZA==", "whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldw=="}
	ep, err := st.CreateEndpoint(ctx, identity.WebhookEndpoint{URL: "https://hooks.acme.example/rollcall", Secrets: secrets,
		EventTypes: []identity.EventType{identity.UserCreated}})
	if err != nil {
		t.Fatal(err)
	}
	d := identity.WebhookDelivery{EndpointID: ep.ID, Seq: 7, Attempt: 2, Time: e.clock.Now(), Status: 503, Error: "status 503", Latency: 12 * time.Millisecond}
	if _, err := st.RecordDeliveries(ctx, ep.ID, []identity.WebhookDelivery{d}, func(e *identity.WebhookEndpoint) error {
		e.Cursor = 6
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Webhooks("globex").CreateEndpoint(ctx, identity.WebhookEndpoint{URL: "https://hooks.globex.example/x", Secrets: secrets[:1]}); err != nil {
		t.Fatal(err)
	}
	c := e.client("acme")
	c.signIn("acme")
	status, body := c.get("/webhooks")
	if status != http.StatusOK {
		t.Fatalf("webhooks: %d\n%s", status, body)
	}
	for _, want := range []string{"https://hooks.acme.example/rollcall", "user.created", "event #6", "2 (a rotation is under way)", "<td>#7</td>", "<td>503</td>", "status 503"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q:\n%s", want, body)
		}
	}
	for _, secret := range secrets {
		if strings.Contains(body, secret) || strings.Contains(body, strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("the page shows a secret")
		}
	}
	if strings.Contains(body, "globex") {
		t.Error("another tenant's endpoint is listed")
	}
	// A link scoped to other sections does not open it.
	other := e.client("acme")
	other.signIn("acme", portal.SectionUsers)
	if status, _ := other.get("/webhooks"); status != http.StatusForbidden {
		t.Errorf("webhooks with a users-only link: %d, want 403", status)
	}
}
