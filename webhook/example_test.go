package webhook_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/rollcall/rollcall/webhook"
)

// A receiver checks a request with the endpoint's secret; during a rotation
// the request carries one signature per secret, and either secret accepts it.
func ExampleVerify() {
	oldSecret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	newSecret := "whsec_c2VjcmV0LWtleS1vZi10aGlydHktdHdvLWJ5dGVzISE="
	sent := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	body := []byte(`{"type":"user.created","seq":42}`)
	sig, err := webhook.Sign([]string{newSecret, oldSecret}, webhook.MessageID(42), sent, body)
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set(webhook.HeaderID, webhook.MessageID(42))
	h.Set(webhook.HeaderTimestamp, fmt.Sprint(sent.Unix()))
	h.Set(webhook.HeaderSignature, sig)

	received := sent.Add(3 * time.Second)
	fmt.Println(webhook.Verify(oldSecret, h, body, received, 0))
	fmt.Println(webhook.Verify(newSecret, h, body, received, 0))
	fmt.Println(webhook.Verify(oldSecret, h, []byte(`{"type":"user.deleted","seq":42}`), received, 0))
	// Output:
	// <nil>
	// <nil>
	// webhook: no valid signature
}
