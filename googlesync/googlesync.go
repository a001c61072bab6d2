// Package googlesync reads a Google Workspace tenant's groups and members with
// the Admin SDK Directory API and reconciles them into the directory as external
// groups of the source "google".
package googlesync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/option"

	"github.com/rollcall/rollcall/identity"
)

// Scopes are the read-only scopes the sync needs. With domain-wide
// delegation, the Workspace admin grants exactly these to the service
// account's client ID.
var Scopes = []string{
	admin.AdminDirectoryGroupReadonlyScope,
	admin.AdminDirectoryGroupMemberReadonlyScope,
	admin.AdminDirectoryUserReadonlyScope,
}

// Source is the source name the sync acts under: the tenant's
// identity.Config.GroupSource must be this for a sync to change anything.
const Source = identity.SourceGoogle

// MemberPolicy tells what a sync does with a member of a type that is not a
// plain user of the domain.
type MemberPolicy int

const (
	// Skip leaves the member out of the group, and counts it in the Report.
	Skip MemberPolicy = iota
	// Include takes the member in: for a CUSTOMER member, every user of the
	// account (listed with the Users API); for an EXTERNAL member, a user
	// with the member's email, linked to the member's ID.
	Include
	// Refuse stops the sync with an error: nothing changes.
	Refuse
)

func (p MemberPolicy) String() string {
	switch p {
	case Skip:
		return "skip"
	case Include:
		return "include"
	case Refuse:
		return "refuse"
	}
	return fmt.Sprintf("MemberPolicy(%d)", int(p))
}

// SuspendedPolicy tells what a sync does with a suspended Google user.
type SuspendedPolicy int

const (
	// Deactivate leaves suspended users out of every group and deactivates
	// the ones the directory knows (linked to their Google ID). A suspended
	// user is never created.
	Deactivate SuspendedPolicy = iota
	// Ignore leaves suspended users out of every group and does not touch
	// their accounts.
	Ignore
)

// Config configures a Syncer. The credentials are one of KeyJSON,
// TokenSource, Service, or else the Deps.HTTPClient itself; every other
// field has a documented default for its zero value.
type Config struct {
	// KeyJSON is a service account's JSON key with domain-wide delegation;
	// Admin is the Workspace administrator the service account impersonates
	// (the JWT's "sub"). The token is asked for the read-only Scopes, at the
	// key's token_uri.
	KeyJSON []byte
	Admin   string
	// TokenSource, instead of KeyJSON, gives the access tokens.
	TokenSource oauth2.TokenSource
	// Service, when set, is the Directory API client to use instead of one
	// built from the credentials (and Endpoint and Deps.HTTPClient).
	Service *admin.Service
	// Endpoint overrides the API's base URL (https://admin.googleapis.com/):
	// a proxy, or a fake in tests.
	Endpoint string

	// Customer is the Workspace account whose groups are read. Default
	// "my_customer" (the admin's own account) unless Domain is set.
	Customer string
	// Domain, when set instead of Customer, reads the groups and users of
	// one domain of the account.
	Domain string
	// GroupFilter, when set, keeps only the groups whose email or name
	// matches it: a path.Match pattern ("eng-*@example.com", "Team *"),
	// compared case-insensitively. Default: every group.
	GroupFilter string
	// Nested expands members that are groups: the members of a nested group
	// (at any depth; a cycle is walked once) become members of the synced
	// group. Default false: direct user members only, and a group member is
	// skipped (counted in Report.Skipped.Groups).
	Nested bool
	// CustomerMembers is the policy for a CUSTOMER member (everyone in the
	// account). Default Skip.
	CustomerMembers MemberPolicy
	// ExternalMembers is the policy for an EXTERNAL member (an address
	// outside the account). Default Skip.
	ExternalMembers MemberPolicy
	// Suspended is the policy for suspended users. Default Deactivate.
	Suspended SuspendedPolicy
	// DeactivateLeavers deactivates the users who were members of a synced
	// group and are members of none any more. Default false: they keep their
	// account and lose only the memberships.
	DeactivateLeavers bool
	// KeepDeactivated leaves a deactivated user deactivated even when they
	// are an active member of a synced group. Default false: the sync
	// restores them (the counterpart of deactivating suspended users).
	KeepDeactivated bool

	// MaxRemove is the safety fuse: a sync that would remove more than this
	// fraction of the synced memberships, or deactivate more than this
	// fraction of the synced users, stops with a *ThresholdError unless
	// forced. Default 0.2; a value of 1 or more turns the fuse off.
	MaxRemove float64
	// Force turns the safety checks off for every sync (an empty pull, the
	// MaxRemove fuse); see also WithForce for one sync.
	Force bool
	// DryRun makes every sync compute its Report without writing; see also
	// WithDryRun for one sync.
	DryRun bool

	// Concurrency caps the API requests in flight during a pull. Default 4.
	Concurrency int
	// Retries caps the retries of one API request that failed with a rate
	// limit (403 userRateLimitExceeded, quotaExceeded, rateLimitExceeded),
	// 429 or 5xx. Default 5; negative means none.
	Retries int
	// MinBackoff is the first retry's delay, doubled at each retry, with
	// jitter, up to MaxBackoff. Defaults 500ms and 30s. A Retry-After longer
	// than MaxBackoff stops the retries.
	MinBackoff, MaxBackoff time.Duration
}

// Syncer syncs one Google Workspace account's groups into the directory
// each Sync is given. Its methods are safe for concurrent use, and it never
// runs two syncs at once: build one Syncer per tenant and share it (a
// Runner and an admin's "sync now" button, say).
type Syncer struct {
	cfg    Config
	svc    *admin.Service
	clock  identity.Clock
	logger *slog.Logger

	running sync.Mutex // held by the sync in progress
	// dir and log are the directory and logger of the sync in progress:
	// set by Sync, and read, under running.
	dir *identity.Directory
	log *slog.Logger

	// sleep waits between retries; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// jitter returns a random float in [0, 1); tests replace it.
	jitter func() float64
}

// New returns a Syncer. It returns an error if the configuration is invalid
// or the credentials cannot be read.
//
// deps.HTTPClient sends the API requests (and the token requests of
// KeyJSON); without KeyJSON, TokenSource and Service, it must add the
// credentials itself. nil means http.DefaultClient's transport. deps.Clock
// tells the time of the reports; deps.Logger receives a line per sync and
// the warnings.
func New(cfg Config, deps identity.Deps) (*Syncer, error) {
	if err := cfg.validate(deps.HTTPClient != nil); err != nil {
		return nil, err
	}
	cfg.defaults()
	s := &Syncer{
		cfg: cfg, svc: cfg.Service, clock: deps.Clock, logger: deps.Logger,
		sleep: sleepCtx, jitter: rand.Float64,
	}
	if s.clock == nil {
		s.clock = identity.SystemClock
	}
	if s.logger == nil {
		s.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.logger = s.logger.With("source", Source)
	if s.svc == nil {
		svc, err := newService(cfg, deps.HTTPClient)
		if err != nil {
			return nil, err
		}
		s.svc = svc
	}
	return s, nil
}

// validate checks cfg; client tells whether Deps has an HTTP client.
func (cfg *Config) validate(client bool) error {
	switch {
	case cfg.Service == nil && cfg.KeyJSON == nil && cfg.TokenSource == nil && !client:
		return errors.New("googlesync: no credentials: set KeyJSON and Admin, TokenSource, Service or a Deps.HTTPClient that adds them")
	case cfg.KeyJSON != nil && cfg.TokenSource != nil:
		return errors.New("googlesync: set only one of KeyJSON and TokenSource")
	case cfg.KeyJSON != nil && cfg.Admin == "":
		return errors.New("googlesync: KeyJSON needs Admin, the administrator to impersonate")
	case cfg.Customer != "" && cfg.Domain != "":
		return errors.New("googlesync: set Customer or Domain, not both")
	case cfg.MaxRemove < 0:
		return fmt.Errorf("googlesync: negative MaxRemove %g", cfg.MaxRemove)
	case cfg.Concurrency < 0:
		return fmt.Errorf("googlesync: negative Concurrency %d", cfg.Concurrency)
	case cfg.MinBackoff < 0 || cfg.MaxBackoff < 0:
		return errors.New("googlesync: negative backoff")
	}
	if cfg.GroupFilter != "" {
		if _, err := path.Match(strings.ToLower(cfg.GroupFilter), ""); err != nil {
			return fmt.Errorf("googlesync: GroupFilter %q: %w", cfg.GroupFilter, err)
		}
	}
	for name, p := range map[string]MemberPolicy{"CustomerMembers": cfg.CustomerMembers, "ExternalMembers": cfg.ExternalMembers} {
		if p < Skip || p > Refuse {
			return fmt.Errorf("googlesync: unknown %s policy %d", name, int(p))
		}
	}
	if cfg.Suspended != Deactivate && cfg.Suspended != Ignore {
		return fmt.Errorf("googlesync: unknown Suspended policy %d", int(cfg.Suspended))
	}
	return nil
}

// defaults sets the defaults of cfg's zero fields.
func (cfg *Config) defaults() {
	if cfg.Customer == "" && cfg.Domain == "" {
		cfg.Customer = "my_customer"
	}
	if cfg.MaxRemove == 0 {
		cfg.MaxRemove = 0.2
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	if cfg.Retries == 0 {
		cfg.Retries = 5
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
}

// newService builds the Directory API client from the Config's credentials,
// over client (nil: http.DefaultClient).
func newService(cfg Config, client *http.Client) (*admin.Service, error) {
	ctx := context.Background()
	if client != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	} else {
		client = http.DefaultClient
	}
	switch {
	case cfg.KeyJSON != nil:
		jwt, err := google.JWTConfigFromJSON(cfg.KeyJSON, Scopes...)
		if err != nil {
			return nil, fmt.Errorf("googlesync: service account key: %w", err)
		}
		jwt.Subject = cfg.Admin
		client = jwt.Client(ctx)
	case cfg.TokenSource != nil:
		client = oauth2.NewClient(ctx, cfg.TokenSource)
	}
	opts := []option.ClientOption{option.WithHTTPClient(client)}
	if cfg.Endpoint != "" {
		ep := cfg.Endpoint
		if !strings.HasSuffix(ep, "/") {
			ep += "/"
		}
		opts = append(opts, option.WithEndpoint(ep))
	}
	svc, err := admin.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("googlesync: directory client: %w", err)
	}
	return svc, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
