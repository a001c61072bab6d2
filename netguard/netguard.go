// Package netguard makes outbound HTTP requests to URLs that tenants or
// their admins supply (webhook endpoints, SAML metadata, OIDC discovery)
// without letting them reach the host's own network (SSRF).
//
// A Guard's client refuses loopback, link-local, private, unspecified,
// multicast and other special-purpose addresses unless the host allows them,
// resolves each host once per connection and dials exactly the addresses it
// checked (a DialContext that checks again in the dialer's Control, on the
// address actually connected), uses no proxy, times out, and never follows a
// redirect to another host.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrBlocked matches the errors of requests refused for their address or
// redirect.
var ErrBlocked = errors.New("netguard: address not allowed")

// BlockedError names the address refused and why. It matches ErrBlocked.
type BlockedError struct {
	// Host is the host name asked for ("" when unknown); Addr the address
	// it resolved to.
	Host   string
	Addr   netip.Addr
	Reason string
}

func (e *BlockedError) Error() string {
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("netguard: %s (%s) is %s: not allowed", e.Host, e.Addr, e.Reason)
	}
	return fmt.Sprintf("netguard: %s is %s: not allowed", e.Addr, e.Reason)
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// RedirectError is a redirect the client did not follow. It matches
// ErrBlocked.
type RedirectError struct {
	From, To string
	Reason   string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("netguard: redirect from %s to %s not followed: %s", e.From, e.To, e.Reason)
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *RedirectError) Is(target error) bool { return target == ErrBlocked }

// Defaults of Config.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultDialTimeout  = 10 * time.Second
	DefaultMaxRedirects = 5
)

// Config configures a Guard. The zero value refuses every special-purpose
// address and allows the rest.
type Config struct {
	// Allow lists address ranges allowed although special: a host whose
	// IdP runs on its own network lists that network, a test lists
	// 127.0.0.0/8 for its httptest server.
	Allow []netip.Prefix
	// Timeout bounds a whole request, reading the body included. Zero
	// means DefaultTimeout (30 s).
	Timeout time.Duration
	// DialTimeout bounds resolving and connecting. Zero means
	// DefaultDialTimeout (10 s).
	DialTimeout time.Duration
	// MaxRedirects is how many redirects to the same host (and scheme, or
	// http to https) are followed. Zero means DefaultMaxRedirects; negative
	// means none.
	MaxRedirects int
	// Resolver resolves host names. Nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// Guard checks addresses and makes clients that check them.
type Guard struct {
	cfg Config
}

// New returns a Guard for cfg.
func New(cfg Config) *Guard {
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	for i, p := range cfg.Allow {
		cfg.Allow[i] = p.Masked()
	}
	return &Guard{cfg: cfg}
}

// Client returns a new HTTP client that makes its requests through the
// guard: a transport of its own (no proxy, HTTP/2 where the server offers
// it over TLS), the timeouts, and the redirect policy.
func (g *Guard) Client() *http.Client {
	return &http.Client{
		Transport:     g.Transport(),
		Timeout:       g.cfg.Timeout,
		CheckRedirect: g.checkRedirect,
	}
}

// Transport returns a new transport whose connections go only to allowed
// addresses. It uses no proxy: a proxy would connect on its behalf.
func (g *Guard) Transport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   g.cfg.DialTimeout,
		ResponseHeaderTimeout: g.cfg.Timeout,
		ExpectContinueTimeout: time.Second,
	}
}

// DialContext resolves address's host once, refuses it if any of its
// addresses is not allowed, and connects to those addresses, checking each
// again at connect time. A host name that resolves to both a public and an
// internal address is refused: it is what DNS rebinding looks like.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("netguard: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.DialTimeout)
	defer cancel()
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if err := g.Check(a); err != nil {
			err.(*BlockedError).Host = host
			return nil, err
		}
	}
	d := &net.Dialer{Control: g.control}
	var errs []error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("netguard: dial %s: %w", host, errors.Join(errs...))
}

// resolve returns host's addresses: host itself when it is an address.
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	ips, err := g.cfg.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("netguard: resolve %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("netguard: resolve %s: no address", host)
	}
	for i := range ips {
		ips[i] = ips[i].Unmap()
	}
	return ips, nil
}

// control checks the address a socket is about to connect to.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netguard: %w", err)
	}
	if err := g.Check(ap.Addr()); err != nil {
		return err
	}
	return nil
}

// Check returns a *BlockedError if a is a special-purpose address that
// the Guard's Config does not allow, else nil.
func (g *Guard) Check(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	reason := Special(a)
	if reason == "" {
		return nil
	}
	for _, p := range g.cfg.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	return &BlockedError{Addr: a, Reason: reason}
}

// checkRedirect follows a redirect only to the same host and port, with the
// same scheme or from http to https, and at most MaxRedirects times.
func (g *Guard) checkRedirect(req *http.Request, via []*http.Request) error {
	prev := via[len(via)-1]
	deny := func(reason string) error {
		return &RedirectError{From: prev.URL.Redacted(), To: req.URL.Redacted(), Reason: reason}
	}
	switch {
	case g.cfg.MaxRedirects < 0 || len(via) > g.cfg.MaxRedirects:
		return deny("too many redirects")
	case req.URL.Host != via[0].URL.Host:
		return deny("another host")
	case req.URL.Scheme != via[0].URL.Scheme && req.URL.Scheme != "https":
		return deny("from https to http")
	}
	return nil
}
