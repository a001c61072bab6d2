package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rollcall/rollcall/settings"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/lease"
)

// Environment variables of the background work on several replicas.
const (
	// EnvReplica names this replica in the leases it takes: unique among the
	// replicas of the database (a pod name). Default: the host name, the
	// process ID and random bytes.
	EnvReplica = "ROLLCALL_REPLICA"
	// EnvLeaseTTL is how long a lease lasts unless renewed (a Go duration,
	// default "30s"): a replica that dies gives its jobs up within it, plus
	// a third of it for another to take them.
	EnvLeaseTTL = "ROLLCALL_LEASE_TTL"
	// EnvTenantScan is how often the list of tenants is read again to start
	// or stop their webhook delivery and Google sync (default "10s").
	EnvTenantScan = "ROLLCALL_TENANT_SCAN"
)

// Names of the jobs in the lease table: "webhook:<tenant>" (webhook.Deliverer.Job),
// "google:<tenant>" while a sync runs, "google:<tenant>:next" from the start
// of a sync until the next is due, and the sweeps of every tenant.
const (
	jobKeySweep  = "sweep:keys"
	jobCertSweep = "sweep:certificates"
	jobDiagSweep = "sweep:diagnostics"
)

func googleJob(tenant string) string     { return "google:" + tenant }
func googleNextJob(tenant string) string { return "google:" + tenant + ":next" }

// defaultTenantScan is EnvTenantScan's default.
const defaultTenantScan = 10 * time.Second

// background is the server's background work, each job under a lease so
// that on several replicas of one database each runs once: every tenant's
// webhook delivery (held as long as the replica lives), every tenant's Google
// sync on its interval, the sweep of expired keys and of certificates.
type background struct {
	s      *server
	o      *operator // nil without runtime tenants
	hooks  *hooks    // nil without webhooks
	runner *lease.Runner
	leases identity.LeaseStore
	scan   time.Duration

	mu      sync.Mutex
	running map[string]context.CancelFunc // by job
	syncing map[string]bool               // the tenants whose Google sync runs here
	google  map[string]googleSeen         // by tenant, of the last scan
	wg      sync.WaitGroup
	ctx     context.Context // of run, for the jobs started by a request
}

// newBackground reads the environment's options and returns the server's
// background work.
func newBackground(s *server, o *operator, getenv func(string) string) (*background, error) {
	ttl, err := envDuration(getenv, EnvLeaseTTL, lease.DefaultTTL)
	if err != nil {
		return nil, err
	}
	scan, err := envDuration(getenv, EnvTenantScan, defaultTenantScan)
	if err != nil {
		return nil, err
	}
	leases := s.stores.db.Leases()
	runner, err := lease.New(lease.Config{Store: leases, Owner: getenv(EnvReplica), TTL: ttl, Logger: s.logger})
	if err != nil {
		return nil, err
	}
	b := &background{s: s, o: o, runner: runner, leases: leases, scan: scan, running: map[string]context.CancelFunc{}, syncing: map[string]bool{}, google: map[string]googleSeen{}}
	if o != nil {
		b.hooks = o.hooks
		o.tasks = b
		if b.hooks != nil {
			b.hooks.started = b.startDelivery
		}
	}
	return b, nil
}

func envDuration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q: want a positive Go duration like \"30s\"", name, v)
	}
	return d, nil
}

// run runs the background work until ctx ends, and returns once all of it
// has stopped.
func (b *background) run(ctx context.Context) {
	b.mu.Lock()
	b.ctx = ctx
	b.mu.Unlock()
	b.wg.Go(func() { b.sweeps(ctx) })
	if b.s.google != nil {
		tenant := b.s.cfg.Tenant
		b.start(ctx, googleJob(tenant), func(ctx context.Context) {
			b.googleLoop(ctx, tenant, func(context.Context, string) (*googlesync.Syncer, *identity.Directory, time.Duration, error) {
				dir, err := b.s.directoryOf(tenant)
				return b.s.google, dir, b.s.cfg.Google.Interval.D(), err
			})
		})
	}
	tick := time.NewTicker(b.scan)
	defer tick.Stop()
	for {
		b.scanTenants(ctx)
		select {
		case <-ctx.Done():
			b.wg.Wait()
			return
		case <-tick.C:
		}
	}
}

// start runs fn as the job unless it runs already on this replica.
func (b *background) start(ctx context.Context, job string, fn func(context.Context)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.running[job]; ok || ctx.Err() != nil {
		return
	}
	jobCtx, cancel := context.WithCancel(ctx)
	b.running[job] = cancel
	b.wg.Go(func() {
		fn(jobCtx)
		b.mu.Lock()
		delete(b.running, job)
		b.mu.Unlock()
		cancel()
	})
}

// keep stops the jobs of the prefix that are not in want.
func (b *background) keep(prefix string, want map[string]bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for job, cancel := range b.running {
		if strings.HasPrefix(job, prefix) && !want[job] {
			cancel()
		}
	}
}

// startDelivery starts the tenant's webhook delivery on this replica (an
// endpoint was just made or replayed through it): the lease decides which
// replica delivers.
func (b *background) startDelivery(tenant string) {
	b.mu.Lock()
	ctx := b.ctx
	b.mu.Unlock()
	if ctx == nil || b.hooks == nil {
		return
	}
	d, err := b.hooks.of(tenant)
	if err != nil {
		b.s.logger.WarnContext(ctx, "webhook delivery", "tenant", tenant, "err", err)
		return
	}
	b.start(ctx, d.Job(), func(ctx context.Context) { _ = d.RunLeased(ctx, b.runner) })
}

// scanTenants starts the delivery of each tenant with webhook endpoints and
// the Google sync of each runtime tenant with Google on, and stops those of
// the tenants deleted or disabled since.
func (b *background) scanTenants(ctx context.Context) {
	ts, ok := b.runtimeTenants(ctx)
	if !ok {
		return
	}
	tenants := []string{b.s.cfg.Tenant}
	versions := map[string]int64{}
	for _, t := range ts {
		if !t.Disabled {
			tenants = append(tenants, t.ID)
			versions[t.ID] = t.Version
		}
	}
	hooks, google := map[string]bool{}, map[string]bool{googleJob(b.s.cfg.Tenant): b.s.google != nil}
	for _, id := range tenants {
		if b.hooks != nil {
			eps, err := b.hooks.db.Webhooks(id).Endpoints(ctx)
			if err == nil && len(eps) > 0 {
				d, err := b.hooks.of(id)
				if err == nil {
					hooks[d.Job()] = true
					b.startDelivery(id)
				}
			}
		}
		if id != b.s.cfg.Tenant && b.o != nil && b.googleOn(ctx, id, versions[id]) {
			google[googleJob(id)] = true
			b.start(ctx, googleJob(id), func(ctx context.Context) { b.googleLoop(ctx, id, b.o.googleOf) })
		}
	}
	b.keep("webhook:", hooks)
	b.keep("google:", google)
	if b.hooks != nil && b.o != nil {
		all := map[string]bool{b.s.cfg.Tenant: true}
		for id := range versions {
			all[id] = true
		}
		b.hooks.retain(all)
	}
}

// googleOn reports whether a runtime tenant's settings turn its Google sync
// on, reading them again only when their version moved.
func (b *background) googleOn(ctx context.Context, id string, version int64) bool {
	b.mu.Lock()
	seen, ok := b.google[id]
	b.mu.Unlock()
	if ok && seen.version == version {
		return seen.on
	}
	st, err := b.o.store.Settings(ctx, id)
	if err != nil {
		return ok && seen.on
	}
	on := st.Google != nil && st.Google.Enabled
	b.mu.Lock()
	b.google[id] = googleSeen{version: version, on: on}
	b.mu.Unlock()
	return on
}

// googleSeen is what a scan found of a tenant's Google settings.
type googleSeen struct {
	version int64
	on      bool
}

// googleSource returns a tenant's syncer, its directory and its interval.
type googleSource func(ctx context.Context, tenant string) (*googlesync.Syncer, *identity.Directory, time.Duration, error)

// googleOf returns a runtime tenant's syncer, directory and interval.
func (o *operator) googleOf(ctx context.Context, id string) (*googlesync.Syncer, *identity.Directory, time.Duration, error) {
	src, err := o.rt.Resolve(ctx, id)
	if err != nil {
		return nil, nil, 0, err
	}
	st, err := o.store.Settings(ctx, id)
	if err != nil {
		return nil, nil, 0, err
	}
	if src.Google == nil || st.Google == nil {
		return nil, nil, 0, fmt.Errorf("google sync of tenant %s: off, or its settings do not build (%v)", id, src.Errors)
	}
	return src.Google, src.Directory, st.Google.Interval.D(), nil
}

// googleLoop syncs the tenant's Google groups once per interval across the
// replicas: the lease "google:<tenant>:next", taken for one interval when a
// sync starts and renewed for one more when it ends, says when the next is
// due on any replica; the sync itself runs under "google:<tenant>", which
// the on-demand sync takes too, so that two never overlap.
func (b *background) googleLoop(ctx context.Context, tenant string, of googleSource) {
	for {
		wait := b.googleDue(ctx, tenant, of)
		wait += time.Duration(rand.Int64N(int64(b.runner.RetryEvery()/10) + 1)) // spread the replicas
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// googleDue syncs if the tenant's sync is due and this replica claims it, and
// returns how long to wait before looking again.
func (b *background) googleDue(ctx context.Context, tenant string, of googleSource) time.Duration {
	next := googleNextJob(tenant)
	if l, err := b.leases.Lease(ctx, next); err == nil {
		return max(time.Until(l.Expires), time.Millisecond)
	} else if !errors.Is(err, identity.ErrNotFound) {
		return b.storeTrouble(ctx, "google sync lease", tenant, err)
	}
	syncer, dir, interval, err := of(ctx, tenant)
	if err != nil {
		return b.storeTrouble(ctx, "google sync", tenant, err)
	}
	if interval <= 0 {
		interval = defaultGoogleInterval
	}
	l, ok, err := b.leases.Acquire(ctx, next, b.runner.Owner(), interval)
	if err != nil {
		return b.storeTrouble(ctx, "google sync lease", tenant, err)
	}
	if !ok {
		return max(time.Until(l.Expires), time.Millisecond)
	}
	if err := b.syncGoogle(ctx, tenant, syncer, dir); errors.Is(err, lease.ErrHeld) {
		// An on-demand sync runs elsewhere: it counts as this one.
		return interval
	}
	if _, err := b.leases.Renew(ctx, next, b.runner.Owner(), interval); err != nil && ctx.Err() == nil {
		b.s.logger.WarnContext(ctx, "google sync: renew the interval's lease", "tenant", tenant, "err", err)
	}
	return interval
}

func (b *background) storeTrouble(ctx context.Context, what, tenant string, err error) time.Duration {
	if ctx.Err() == nil {
		b.s.logger.WarnContext(ctx, what, "tenant", tenant, "err", err)
	}
	return b.runner.RetryEvery()
}

// syncGoogle runs one sync of the tenant under its lease, logs its report
// and keeps it as the tenant's sync.completed event. It returns lease.ErrHeld if a sync of the tenant runs on another
// replica (or on this one).
func (b *background) syncGoogle(ctx context.Context, tenant string, syncer *googlesync.Syncer, dir *identity.Directory) error {
	// The lease keeps other replicas out; this keeps out the other callers
	// of this replica, whose Acquire would renew the lease it holds.
	b.mu.Lock()
	if b.syncing[tenant] {
		b.mu.Unlock()
		return lease.ErrHeld
	}
	b.syncing[tenant] = true
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.syncing, tenant)
		b.mu.Unlock()
	}()
	return b.runner.Run(ctx, googleJob(tenant), func(ctx context.Context) error {
		rep, err := syncer.Sync(ctx, dir)
		b.s.recordSync(ctx, dir, rep, err)
		if err != nil {
			if ctx.Err() == nil {
				b.s.logger.WarnContext(ctx, "google sync", "tenant", tenant, "err", err)
			}
			return err
		}
		b.s.logger.InfoContext(ctx, "google sync", "tenant", tenant, "groups", rep.Groups, "users", rep.Users,
			"membersAdded", rep.MembersAdded, "membersRemoved", rep.MembersRemoved, "usersCreated", rep.UsersCreated,
			"duration", rep.Duration.Round(time.Millisecond))
		return nil
	})
}

// sweeps deletes every tenant's expired keys every keySweepInterval and
// checks the runtime tenants' certificates daily (and at start), each under
// its lease: a replica that finds the sweep running elsewhere skips it.
func (b *background) sweeps(ctx context.Context) {
	keys := time.NewTicker(keySweepInterval)
	defer keys.Stop()
	certs := time.NewTicker(certSweepInterval)
	defer certs.Stop()
	b.sweep(ctx, jobCertSweep)
	for {
		select {
		case <-ctx.Done():
			return
		case <-certs.C:
			b.sweep(ctx, jobCertSweep)
		case <-keys.C:
			b.sweep(ctx, jobKeySweep)
			b.sweep(ctx, jobDiagSweep)
		}
	}
}

// sweep runs one sweep under its lease.
func (b *background) sweep(ctx context.Context, job string) {
	err := b.runner.Run(ctx, job, func(ctx context.Context) error {
		switch job {
		case jobCertSweep:
			if b.o != nil {
				b.o.sweepCertificates(ctx)
			}
		case jobKeySweep:
			b.sweepKeys(ctx)
		case jobDiagSweep:
			b.sweepDiagnostics(ctx)
		}
		return nil
	})
	if err != nil && !errors.Is(err, lease.ErrHeld) && ctx.Err() == nil {
		b.s.logger.WarnContext(ctx, "sweep", "job", job, "err", err)
	}
}

// sweepKeys refreshes the planner's statistics and deletes the expired keys
// of the configured tenant and of the runtime ones.
func (b *background) sweepKeys(ctx context.Context) {
	if b.s.stores.optimize != nil {
		if err := b.s.stores.optimize(ctx); err != nil && ctx.Err() == nil {
			b.s.logger.WarnContext(ctx, "optimize the database", "err", err)
		}
	}
	if _, err := b.s.stores.keys(b.s.cfg.Tenant).DeleteExpired(ctx); err != nil && ctx.Err() == nil {
		b.s.logger.WarnContext(ctx, "delete expired keys", "tenant", b.s.cfg.Tenant, "err", err)
	}
	if b.o != nil {
		b.o.sweepKeys(ctx)
	}
}

// POST /api/v1/tenants/{tenant}/google/sync: one Google sync now, under the
// same lease as the scheduled ones; 409 while one runs on any replica. The
// next scheduled sync is then due one interval later.
func (o *operator) syncNow(w http.ResponseWriter, r *http.Request) error {
	id := pathTenant(r)
	of := o.googleOf
	if id == o.s.cfg.Tenant {
		if o.s.google == nil {
			return &requestError{status: http.StatusConflict, message: "the tenant's Google sync is off"}
		}
		of = func(context.Context, string) (*googlesync.Syncer, *identity.Directory, time.Duration, error) {
			dir, err := o.s.directoryOf(id)
			return o.s.google, dir, o.s.cfg.Google.Interval.D(), err
		}
	}
	syncer, dir, interval, err := of(r.Context(), id)
	if err != nil {
		if _, verr := o.store.Version(r.Context(), id); verr != nil {
			return verr
		}
		return &requestError{status: http.StatusConflict, message: "the tenant's Google sync is off or does not build"}
	}
	b := o.tasks
	if b == nil {
		return errors.New("google sync: the background work is not running")
	}
	err = b.syncGoogle(r.Context(), id, syncer, dir)
	if errors.Is(err, lease.ErrHeld) {
		return &requestError{status: http.StatusConflict, message: "a Google sync of the tenant is running"}
	}
	if interval <= 0 {
		interval = defaultGoogleInterval
	}
	if _, _, lerr := b.leases.Acquire(r.Context(), googleNextJob(id), b.runner.Owner(), interval); lerr != nil {
		o.s.logger.WarnContext(r.Context(), "google sync: the interval's lease", "tenant", id, "err", lerr)
	}
	if err != nil {
		return &requestError{status: http.StatusBadGateway, message: "the Google sync failed: see the log"}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sweepDiagnostics trims every tenant's sign-in diagnostics log to its
// bounds (identity.PruneDiagnostics: 7 days, 10,000 entries by default): each
// tenant with settings in the operator's store (the runtime tenants, and the
// configured one once its portal saved some) to the bounds of their
// diagnostics section (tenant.Runtime.PruneDiagnostics), the configured
// tenant without settings to the defaults.
func (b *background) sweepDiagnostics(ctx context.Context) {
	id := b.s.cfg.Tenant
	if b.o != nil {
		if _, err := b.o.rt.PruneDiagnostics(ctx); err != nil && ctx.Err() == nil {
			b.s.logger.WarnContext(ctx, "prune the tenants' diagnostics logs", "err", err)
		}
		if _, err := b.o.store.Version(ctx, id); err == nil {
			return // pruned to its settings' bounds
		}
	}
	if _, err := identity.PruneDiagnostics(ctx, b.s.stores.db.Diagnostics(id), nil, 0, 0); err != nil && ctx.Err() == nil {
		b.s.logger.WarnContext(ctx, "prune the diagnostics log", "tenant", id, "err", err)
	}
}

func (b *background) runtimeTenants(ctx context.Context) ([]settings.Tenant, bool) {
	if b.o == nil {
		return nil, true
	}
	ts, err := b.o.store.Tenants(ctx)
	if err != nil {
		if ctx.Err() == nil {
			b.s.logger.WarnContext(ctx, "list tenants", "err", err)
		}
		return nil, false
	}
	return ts, true
}
