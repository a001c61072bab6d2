package netguard_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rollcall/rollcall/netguard"
)

func TestSpecial(t *testing.T) {
	cases := map[string]string{
		"127.0.0.1":              "loopback",
		"127.255.0.9":            "loopback",
		"::1":                    "loopback",
		"::ffff:127.0.0.1":       "loopback",
		"10.1.2.3":               "private",
		"172.16.0.1":             "private",
		"172.31.255.255":         "private",
		"192.168.1.1":            "private",
		"fd00::1":                "private (unique local)",
		"169.254.169.254":        "link-local",
		"fe80::1":                "link-local",
		"0.0.0.0":                "unspecified",
		"::":                     "unspecified",
		"224.0.0.1":              "multicast",
		"ff02::1":                "multicast",
		"100.64.0.1":             "shared (carrier-grade NAT)",
		"255.255.255.255":        "broadcast",
		"64:ff9b::a9fe:a9fe":     "link-local (in IPv6)",
		"2002:7f00:1::":          "loopback (in IPv6)",
		"::127.0.0.1":            "loopback (in IPv6)",
		"8.8.8.8":                "",
		"172.32.0.1":             "",
		"2606:4700:4700::1111":   "",
		"64:ff9b::808:808":       "",
		"2002:808:808::1":        "",
		"::ffff:8.8.8.8":         "",
		"1.1.1.1":                "",
		"fe80::1%eth0":           "link-local",
		"2001:db8::1":            "documentation",
		"192.0.2.1":              "documentation",
		"100::1":                 "discard-only",
		"0.1.2.3":                "unspecified",
		"240.0.0.1":              "reserved",
		"198.18.0.1":             "benchmarking",
		"::ffff:169.254.169.254": "link-local",
		"64:ff9b::c0a8:101":      "private (in IPv6)",
	}
	for addr, want := range cases {
		if got := netguard.Special(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Special(%s) = %q, want %q", addr, got, want)
		}
	}
	if got := netguard.Special(netip.Addr{}); got != "invalid" {
		t.Errorf("Special(zero) = %q, want invalid", got)
	}
}

func TestCheckAllow(t *testing.T) {
	g := netguard.New(netguard.Config{Allow: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}})
	if err := g.Check(netip.MustParseAddr("10.1.2.3")); err != nil {
		t.Errorf("Check of an allowed private address: %v", err)
	}
	err := g.Check(netip.MustParseAddr("10.2.0.1"))
	var be *netguard.BlockedError
	if !errors.As(err, &be) || !errors.Is(err, netguard.ErrBlocked) || be.Reason != "private" {
		t.Errorf("Check(10.2.0.1) = %v, want a *BlockedError for a private address", err)
	}
	if err := g.Check(netip.MustParseAddr("8.8.4.4")); err != nil {
		t.Errorf("Check of a public address: %v", err)
	}
}

func hello(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }

func TestClientRefusesLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(hello))
	defer srv.Close()
	client := netguard.New(netguard.Config{}).Client()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, u := range []string{srv.URL, "http://localhost" + port, "http://[::ffff:127.0.0.1]" + port} {
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s: no error, want the address refused", u)
			continue
		}
		var be *netguard.BlockedError
		if !errors.As(err, &be) || be.Reason != "loopback" {
			t.Errorf("GET %s: %v, want a loopback *BlockedError", u, err)
		}
	}
	if !strings.Contains(errorOf(client.Get("http://localhost"+port)), "localhost") {
		t.Error("the error does not name the host asked for")
	}
}

func errorOf(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	resp.Body.Close()
	return ""
}

func loopbackGuard(cfg netguard.Config) *netguard.Guard {
	cfg.Allow = append(cfg.Allow, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	return netguard.New(cfg)
}

func TestClientAllowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(hello))
	defer srv.Close()
	resp, err := loopbackGuard(netguard.Config{}).Client().Get(srv.URL)
	if err != nil {
		t.Fatalf("GET with loopback allowed: %v", err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "hello" {
		t.Errorf("body %q, want hello", b)
	}
}

func TestRedirects(t *testing.T) {
	var other *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/same", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/hello", http.StatusFound) })
	mux.HandleFunc("/hello", hello)
	mux.HandleFunc("/other", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/hello", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	other = httptest.NewServer(http.HandlerFunc(hello))
	defer other.Close()
	client := loopbackGuard(netguard.Config{}).Client()

	resp, err := client.Get(srv.URL + "/same")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("redirect to the same host: %v", err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	for path, reason := range map[string]string{"/other": "another host", "/loop": "too many redirects"} {
		_, err := client.Get(srv.URL + path)
		var re *netguard.RedirectError
		if !errors.As(err, &re) || re.Reason != reason || !errors.Is(err, netguard.ErrBlocked) {
			t.Errorf("GET %s: %v, want a *RedirectError %q", path, err, reason)
		}
	}
	none := loopbackGuard(netguard.Config{MaxRedirects: -1}).Client()
	if _, err := none.Get(srv.URL + "/same"); !errors.Is(err, netguard.ErrBlocked) {
		t.Errorf("redirect with MaxRedirects -1: %v, want refused", err)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	_, err := loopbackGuard(netguard.Config{Timeout: 200 * time.Millisecond}).Client().Get(srv.URL)
	if err == nil {
		t.Fatal("GET of a server that hangs: no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("GET of a server that hangs returned after %v, want about 200ms", d)
	}
}

func TestNoProxy(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://8.8.8.8:1")
	srv := httptest.NewServer(http.HandlerFunc(hello))
	defer srv.Close()
	resp, err := loopbackGuard(netguard.Config{}).Client().Get(srv.URL)
	if err != nil {
		t.Fatalf("GET with HTTP_PROXY set: %v (the proxy was used)", err)
	}
	resp.Body.Close()
}

// FuzzSpecial checks Special on any address: it never panics, and an
// IPv4-mapped address is judged as its IPv4 address.
func FuzzSpecial(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::1", "2002::", "fe80::1%eth0", "8.8.8.8", "::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		r := netguard.Special(a)
		if a.Is4() {
			if m := netguard.Special(netip.AddrFrom16(a.As16())); m != r {
				t.Errorf("Special(%s) = %q but its mapped form gives %q", a, r, m)
			}
		}
	})
}
