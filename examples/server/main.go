// Command server is what a host application writes to serve rollcall over
// HTTP: a configuration file, one store, the tenant's identity.Directory per
// request, and an admin JSON API on net/http's ServeMux.
//
//	go run ./examples/server [-addr 127.0.0.1:8080] [-config server.json]
//
// Without ROLLCALL_ADMIN_TOKEN or adminToken in the configuration it prints a
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
	"syscall"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/storage/memory"
)

// defaultAddr is where the server listens without -addr: this machine only.
const defaultAddr = "127.0.0.1:8080"

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
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", defaultAddr, "`address` to listen on")
	configPath := fs.String("config", "", "JSON configuration `file` (see README.md); every field has a default")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	cfg, err := loadConfig(*configPath, getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel()}))
	generated := cfg.AdminToken == ""
	if generated {
		if cfg.AdminToken, err = newToken(); err != nil {
			return err
		}
	}

	stores, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := closeStore(); err != nil {
			logger.Error("close store", "err", err)
		}
	}()
	handler, err := newHandler(cfg, stores, logger)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
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
	logger.Info("listening", "addr", ln.Addr().String(), "tenant", cfg.Tenant, "store", "memory")
	if listening != nil {
		listening(ln.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", cfg.HTTP.ShutdownTimeout.D())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HTTP.ShutdownTimeout.D())
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// openStore opens the directory data and returns the store of a tenant by its
// name, and a function that closes what it opened. It opens storage/memory, so
// nothing survives a restart; a persistent store (storage/sqlstore's
// OpenSQLite or OpenPostgres, whose DB.Tenant has the same shape) replaces it
// here and nothing else changes.
func openStore(_ context.Context, _ Config) (tenantStores, func() error, error) {
	db := memory.New()
	return func(tenant string) identity.Store { return db.Tenant(tenant) }, func() error { return nil }, nil
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
