package netguard_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/rollcall/rollcall/netguard"
)

// fakeResolver answers every A query with addrs (and AAAA with nothing),
// through a DNS server in the test's process.
func fakeResolver(addrs ...netip.Addr) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveDNS(server, addrs)
			return client, nil
		},
	}
}

// serveDNS answers DNS queries framed as over TCP (a length, then the
// message), the way Go's resolver speaks to a conn that is not a
// PacketConn.
func serveDNS(c net.Conn, addrs []netip.Addr) {
	defer c.Close()
	for {
		var n uint16
		if err := binary.Read(c, binary.BigEndian, &n); err != nil {
			return
		}
		q := make([]byte, n)
		if _, err := io.ReadFull(c, q); err != nil || len(q) < 12 {
			return
		}
		end := 12
		for end < len(q) && q[end] != 0 {
			end += int(q[end]) + 1
		}
		end += 5 // the root label, QTYPE, QCLASS
		if end > len(q) {
			return
		}
		qtype := binary.BigEndian.Uint16(q[end-4:])
		resp := append([]byte{}, q[:2]...)
		resp = append(resp, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0) // a response, recursion available
		resp = append(resp, q[12:end]...)
		count := 0
		for _, a := range addrs {
			if qtype != 1 || !a.Is4() {
				continue
			}
			ip := a.As4()
			resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
			resp = append(resp, ip[:]...)
			count++
		}
		binary.BigEndian.PutUint16(resp[6:], uint16(count))
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// TestDNSRebinding resolves a name through a DNS server that names an
// internal address, alone or beside a public one: the guard refuses it
// before connecting, and names the host.
func TestDNSRebinding(t *testing.T) {
	for name, addrs := range map[string][]netip.Addr{
		"private only":        {netip.MustParseAddr("10.0.0.7")},
		"public and metadata": {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("169.254.169.254")},
	} {
		t.Run(name, func(t *testing.T) {
			g := netguard.New(netguard.Config{Resolver: fakeResolver(addrs...)})
			_, err := g.DialContext(t.Context(), "tcp", "hooks.example.com:443")
			var be *netguard.BlockedError
			if !errors.As(err, &be) || be.Host != "hooks.example.com" || be.Addr != addrs[len(addrs)-1] {
				t.Errorf("DialContext = %v, want a *BlockedError for hooks.example.com (%s)", err, addrs[len(addrs)-1])
			}
		})
	}
	// The resolver itself works: an allowed range is dialled (and refused
	// by nobody listening on the loopback port 1).
	g := netguard.New(netguard.Config{
		Resolver: fakeResolver(netip.MustParseAddr("127.0.0.1")),
		Allow:    []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	_, err := g.DialContext(t.Context(), "tcp", "hooks.example.com:1")
	if err == nil || errors.Is(err, netguard.ErrBlocked) {
		t.Errorf("DialContext of an allowed address = %v, want a connection error, not a refusal", err)
	}
}
