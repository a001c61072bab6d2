package webhook

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

var fuzzNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"120":                           120 * time.Second,
		" 0 ":                           0,
		"Fri, 02 Jan 2026 03:14:05 GMT": 10 * time.Minute,
		"Thu, 01 Jan 2026 00:00:00 GMT": 0,
		"99999999999999999999":          maxRetryAfter,
		"Sat, 02 Jan 2027 03:14:05 GMT": maxRetryAfter,
	} {
		if got, ok := parseRetryAfter(v, fuzzNow); !ok || got != want {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "-1", "1.5", "soon"} {
		if _, ok := parseRetryAfter(v, fuzzNow); ok {
			t.Errorf("parseRetryAfter(%q) accepted", v)
		}
	}
}

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0, 5 * time.Second}, {1, 0.999999, 10*time.Second - 10*time.Microsecond}, {2, 0, 10 * time.Second},
		{3, 0.5, 30 * time.Second}, {20, 0, 30 * time.Minute}, {1000, 0, 30 * time.Minute},
	} {
		got := backoff(c.n, 10*time.Second, time.Hour, c.r)
		if got.Round(time.Millisecond) != c.want.Round(time.Millisecond) {
			t.Errorf("backoff(%d, r=%v) = %v, want %v", c.n, c.r, got, c.want)
		}
	}
}

// FuzzParseRetryAfter: any header gives a wait within [0, maxRetryAfter].
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "Fri, 02 Jan 2026 03:14:05 GMT", "", "-5", "1e9", "Monday, 02-Jan-26 03:14:05 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, fuzzNow)
		if ok && (d < 0 || d > maxRetryAfter) {
			t.Errorf("parseRetryAfter(%q) = %v", v, d)
		}
		if !ok && d != 0 {
			t.Errorf("parseRetryAfter(%q) refused but gave %v", v, d)
		}
	})
}

// FuzzParseSecret: a secret is accepted only with its prefix and a key of
// 24 to 64 bytes, and an error never repeats it.
func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_====", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseSecret(s)
		if err == nil {
			if !strings.HasPrefix(s, SecretPrefix) || len(key) < 24 || len(key) > 64 {
				t.Errorf("ParseSecret(%q) accepted a key of %d bytes", s, len(key))
			}
			return
		}
		if rest := strings.TrimPrefix(s, SecretPrefix); len(rest) >= 8 && strings.Contains(err.Error(), rest) {
			t.Errorf("the error of ParseSecret repeats the secret: %v", err)
		}
	})
}

// FuzzVerify: any received headers and body are checked without a panic,
// and a message signed by Sign always verifies.
func FuzzVerify(f *testing.F) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	f.Add("evt_1", "1767323045", "v1,abc v2,def", []byte(`{"seq":1}`))
	f.Add("", "x", "", []byte{})
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		_ = Verify(secret, h, body, fuzzNow, 0)
		id = strings.Map(func(r rune) rune {
			if r < 0x21 || r > 0x7e {
				return 'x'
			}
			return r
		}, id) + "x"
		good, err := Sign([]string{secret}, id, fuzzNow, body)
		if err != nil {
			t.Fatal(err)
		}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, "1767323045")
		h.Set(HeaderSignature, good)
		if err := Verify(secret, h, body, fuzzNow, 0); err != nil {
			t.Errorf("a signed message did not verify: %v", err)
		}
	})
}
