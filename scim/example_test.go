package scim_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/scim"
	"github.com/rollcall/rollcall/storage/memory"
)

// A host with one tenant mounts the handler under /scim/v2; the tenant's
// token is kept only as its hash.
func Example() {
	dir, err := identity.New(memory.New().Tenant("acme"), identity.Config{Tenant: "acme", GroupSource: identity.SourceSCIM})
	if err != nil {
		log.Fatal(err)
	}
	h, err := scim.New(scim.Config{
		Resolve:     identity.Fixed(identity.Tenant{Directory: dir}),
		Credentials: scim.Tokens(scim.TokenHash("s3cret")),
	}, identity.Deps{})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", h))

	r := httptest.NewRequest("POST", "/scim/v2/Users", strings.NewReader(`{"userName":"ada@example.com","active":"True"}`))
	r.Header.Set("Authorization", "Bearer s3cret")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("ETag"))

	r = httptest.NewRequest("GET", `/scim/v2/users?filter=userName+eq+%22ADA@example.com%22`, nil)
	r.Header.Set("Authorization", "Bearer s3cret")
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, strings.Contains(w.Body.String(), `"totalResults":1`))
	// Output:
	// 201 W/"1"
	// 200 true
}
