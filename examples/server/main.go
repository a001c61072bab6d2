// Command server is what a host application writes to serve rollcall over
// HTTP: a configuration file, one database, the tenant's identity.Directory
// per request, an admin JSON API and the sources (SCIM, SAML, OAuth, file
// import) mounted on net/http's ServeMux, and the Google Groups sync running
// in the background.
//
//	go run ./examples/server [-addr 127.0.0.1:8080] [-config server.json] [-db rollcall.db | -postgres DSN] [-tenant-from path|host]
//
// Its data is kept in the SQLite file rollcall.db by default. Without
// ROLLCALL_ADMIN_TOKEN or adminToken in the configuration it prints a
// generated admin token once to stderr. See README.md for the configuration
// fields and the API.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/sqlstore"
)

const (
	// defaultAddr is where the server listens without -addr: this machine
	// only.
	defaultAddr = "127.0.0.1:8080"
	// defaultDB is the SQLite file used without -db or -postgres, in the
	// working directory.
	defaultDB = "rollcall.db"
	// keySweepInterval is how often the expired keys (SSO logins never
	// finished, SAML assertion IDs past their replay window) are deleted.
	keySweepInterval = 5 * time.Minute
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		stop()
		os.Exit(1)
	}
}

// run is the whole program: it parses args, loads the configuration, opens
// the store, serves until ctx is done and then shuts down gracefully. It calls
// listening, when not nil, once the listener is open.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, listening func(net.Addr)) error {
	fl, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(fl.config, getenv)
	if err != nil {
		return err
	}
	if cfg.portalKey, err = portalKey(getenv); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel()}))
	generated := cfg.AdminToken == ""
	if generated {
		if cfg.AdminToken, err = newToken(); err != nil {
			return err
		}
	}

	stores, closeStore, err := openStore(ctx, fl.store, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := closeStore(); err != nil {
			logger.Error("close store", "err", err)
		}
	}()
	s, err := newServer(cfg, stores, logger)
	if err != nil {
		return err
	}
	s.flows.from = fl.tenantFrom
	op, err := openOperator(s, stores.db, fl.store, getenv)
	if err != nil {
		return err
	}
	if err := op.attachPortal(); err != nil { // the portal's SSO, SCIM and Google pages (portal_settings.go)
		return err
	}

	// The background work stops with ctx, and is waited for before the store
	// closes (the deferred calls run last first).
	tasksCtx, stopTasks := context.WithCancel(ctx)
	var tasks sync.WaitGroup
	defer func() {
		stopTasks()
		tasks.Wait()
	}()
	bg, err := newBackground(s, op, getenv)
	if err != nil {
		return err
	}
	tasks.Go(func() { bg.run(tasksCtx) })

	ln, err := net.Listen("tcp", fl.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           op.wrap(s.handler()),
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout.D(),
		ReadTimeout:       cfg.HTTP.ReadTimeout.D(),
		WriteTimeout:      cfg.HTTP.WriteTimeout.D(),
		IdleTimeout:       cfg.HTTP.IdleTimeout.D(),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if generated {
		printToken(stderr, cfg.AdminToken, ln.Addr())
	}
	link, err := s.setupLink(ctx, cfg.Tenant)
	if err != nil {
		return fmt.Errorf("portal setup link: %w", err)
	}
	fmt.Fprintf(stderr, "Open the admin portal of tenant %q (the link works once, for 24 hours):\n\n    %s\n\n", cfg.Tenant, link)
	logger.Info("listening", "addr", ln.Addr().String(), "tenant", cfg.Tenant, "store", stores.name,
		"scim", s.scim != nil, "saml", len(s.saml), "oauth", len(s.oauth), "google", s.google != nil, "groupSource", s.groupSource)
	if listening != nil {
		listening(ln.Addr())
	}

	return serve(ctx, srv, ln, logger, cfg.HTTP.ShutdownTimeout.D())
}

// flags are the command line's settings.
type flags struct {
	addr, config, tenantFrom string
	store                    storeFlags
}

// parseFlags parses the command line.
func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var fl flags
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&fl.addr, "addr", defaultAddr, "`address` to listen on")
	fs.StringVar(&fl.config, "config", "", "JSON configuration `file` (see README.md); every field has a default")
	fs.StringVar(&fl.store.sqlite, "db", defaultDB, "SQLite database `file`, created if needed; \":memory:\" keeps nothing")
	fs.StringVar(&fl.store.postgres, "postgres", "", "PostgreSQL connection string (`DSN`) to use instead of SQLite")
	fs.StringVar(&fl.tenantFrom, "tenant-from", tenantFromPath, "how a request names a runtime tenant: `path` (/t/{tenant}/) or host (acme.localhost)")
	if err := fs.Parse(args); err != nil {
		return fl, err
	}
	if fs.NArg() > 0 {
		return fl, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	dbSet := false
	fs.Visit(func(f *flag.Flag) { dbSet = dbSet || f.Name == "db" })
	if dbSet && fl.store.postgres != "" {
		return fl, errors.New("-db and -postgres: give one, not both")
	}
	return fl, checkTenantFrom(fl.tenantFrom)
}

// serve serves on ln until ctx is done, then shuts srv down gracefully
// within timeout.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, logger *slog.Logger, timeout time.Duration) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", timeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// storeFlags say where the data is: a PostgreSQL DSN if set, else a SQLite
// file.
type storeFlags struct {
	sqlite   string
	postgres string
}

// openStore opens (creating and migrating it if needed) the database that
// where names, and returns the stores of a tenant by its name and a function
// that closes the database. Users, groups, events and keys survive a restart.
func openStore(ctx context.Context, where storeFlags, logger *slog.Logger) (tenantStores, func() error, error) {
	opts := sqlstore.Options{Logger: logger}
	var (
		db   *sqlstore.DB
		err  error
		name string
	)
	if where.postgres != "" {
		db, err = sqlstore.OpenPostgres(ctx, where.postgres, opts)
		name = "postgres" // never the DSN, which may hold a password
	} else {
		if where.sqlite == "" {
			where.sqlite = defaultDB
		}
		db, err = sqlstore.OpenSQLite(ctx, where.sqlite, opts)
		name = "sqlite:" + where.sqlite
	}
	if err != nil {
		return tenantStores{}, nil, fmt.Errorf("open %s: %w", name, err)
	}
	return tenantStores{
		name:     name,
		store:    func(tenant string) identity.Store { return db.Tenant(tenant) },
		keys:     func(tenant string) identity.KeyStore { return db.Keys(tenant, nil) },
		optimize: db.Optimize,
		db:       db,
	}, db.Close, nil
}

// newToken returns a random admin token: 32 bytes, base64url.
func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// printToken shows a generated admin token, once, with how to use it. It is
// never logged.
func printToken(w io.Writer, token string, addr net.Addr) {
	fmt.Fprintf(w, "\nNo admin token configured; generated one for this run (set %s to choose one):\n\n"+
		"    %s\n\n"+
		"Call the admin API with it:\n\n"+
		"    curl -H 'Authorization: Bearer %s' http://%s/api/v1/users\n\n",
		EnvAdminToken, token, token, addr)
}
