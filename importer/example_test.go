package importer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/importer"
	"github.com/rollcall/rollcall/storage/memory"
)

// Import a CSV file into a tenant: the result is the reference API's JSON.
func Example() {
	ctx := context.Background()
	dir, err := identity.New(memory.New().Tenant("acme"), identity.Config{Tenant: "acme"})
	if err != nil {
		panic(err)
	}
	im, err := importer.New(importer.Config{}, identity.Deps{})
	if err != nil {
		panic(err)
	}
	file := "E-Mail;Vorname;Nachname;Gruppen\n" +
		"ada@acme.example;Ada;Lovelace;Research, Berlin\n" +
		"not-an-email;Bob;Builder;\n"
	res, err := im.Import(ctx, dir, strings.NewReader(file), int64(len(file)), importer.Options{Filename: "users.csv"})
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	// Output:
	// {"dryRun":false,"created":[2],"updated":[],"deleted":0,"skipped":[],"errors":[3],"errorMessages":{"3":{"email":["The email must be a valid email address."]}},"rows":2,"filename":"users.csv","encoding":"utf-8"}
}

// A host mounts the Handler behind its own authentication.
func ExampleNewHandler() {
	store := memory.New()
	im, _ := importer.New(importer.Config{}, identity.Deps{})
	h, err := importer.NewHandler(importer.HandlerConfig{
		Importer: im,
		Resolve: func(r *http.Request) (identity.Tenant, error) {
			// The host's auth middleware has checked the bearer token and
			// put the tenant in the context; here it is fixed.
			dir, err := identity.New(store.Tenant("acme"), identity.Config{Tenant: "acme"})
			return identity.Tenant{Directory: dir}, err
		},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/users/", requireToken("secret", h))
	_ = mux // http.ListenAndServe(":8080", mux)
	// Output:
}

func requireToken(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
