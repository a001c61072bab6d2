package googlesync_test

import (
	"context"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// A host syncs a tenant's Google groups every 15 minutes, with domain-wide
// delegation: the service account's key and the admin it impersonates.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	dir, err := identity.New(memory.New().Tenant("acme"), identity.Config{
		Tenant:      "acme",
		GroupSource: identity.SourceGoogle, // the tenant's one group source
		Logger:      logger,
	})
	if err != nil {
		log.Fatal(err)
	}
	key, err := os.ReadFile("/etc/rollcall/google-key.json")
	if err != nil {
		log.Print(err)
		return
	}
	syncer, err := googlesync.New(googlesync.Config{
		KeyJSON:     key,
		Admin:       "admin@example.com",
		GroupFilter: "team-*@example.com",
		Nested:      true,
	}, identity.Deps{Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	runner := &googlesync.Runner{
		Syncer:    syncer,
		Directory: dir,
		Interval:  15 * time.Minute,
		OnReport: func(r googlesync.Report, err error) {
			if err != nil {
				logger.Error("google sync", "err", err)
			}
		},
	}
	go runner.Run(ctx) // returns when ctx ends
}

// An admin previews a sync before running it, then forces it past the fuse.
func ExampleSyncer_Sync() {
	var syncer *googlesync.Syncer // from googlesync.New
	var dir *identity.Directory   // the tenant's, from identity.New
	if syncer == nil {
		return
	}
	ctx := context.Background()
	plan, err := syncer.Sync(ctx, dir, googlesync.WithDryRun())
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("would add %d and remove %d memberships", plan.MembersAdded, plan.MembersRemoved)
	if _, err := syncer.Sync(ctx, dir, googlesync.WithForce()); err != nil {
		log.Fatal(err)
	}
}
