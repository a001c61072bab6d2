package memory_test

import (
	"testing"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
	"github.com/rollcall/rollcall/storage/storagetest"
)

func TestWebhookStore(t *testing.T) {
	storagetest.RunWebhookStore(t, func(t *testing.T) storagetest.WebhookOpener {
		db := memory.New()
		return func(tenant string) identity.WebhookStore { return db.Webhooks(tenant) }
	})
}
