package sqlstore

import (
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/storagetest"
)

func TestWebhookConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storagetest.RunWebhookStore(t, func(t *testing.T) storagetest.WebhookOpener {
				db := b.open(t, Options{})
				return func(tenant string) identity.WebhookStore { return db.Webhooks(tenant) }
			})
		})
	}
}
