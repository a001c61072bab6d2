package googlesync

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
)

func TestRetryable(t *testing.T) {
	apiErr := func(code int, reason string) error {
		return fmt.Errorf("wrapped: %w", &googleapi.Error{Code: code, Errors: []googleapi.ErrorItem{{Reason: reason}}})
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{apiErr(403, "userRateLimitExceeded"), true},
		{apiErr(403, "quotaExceeded"), true},
		{apiErr(403, "rateLimitExceeded"), true},
		{apiErr(403, "forbidden"), false},
		{apiErr(429, ""), true},
		{apiErr(500, "backendError"), true},
		{apiErr(503, ""), true},
		{apiErr(400, "invalid"), false},
		{apiErr(404, "notFound"), false},
		{errors.New("dial tcp: refused"), false},
	} {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	withHeader := func(v string) error {
		return &googleapi.Error{Code: 429, Header: http.Header{"Retry-After": {v}}}
	}
	for _, tc := range []struct {
		err  error
		want time.Duration
		ok   bool
	}{
		{withHeader("3"), 3 * time.Second, true},
		{withHeader(now.Add(90 * time.Second).Format(http.TimeFormat)), 90 * time.Second, true},
		{withHeader(now.Add(-time.Hour).Format(http.TimeFormat)), 0, true},
		{withHeader("soon"), 0, false},
		{&googleapi.Error{Code: 429}, 0, false},
	} {
		got, ok := retryAfter(tc.err, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%v) = %v, %v; want %v, %v", tc.err, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	s := &Syncer{cfg: Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	for _, tc := range []struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		{0, 0, 50 * time.Millisecond},
		{0, 0.999999, 100 * time.Millisecond},
		{3, 0, 400 * time.Millisecond},
		{4, 1, time.Second},
		{40, 0, 500 * time.Millisecond}, // capped, no overflow
	} {
		s.jitter = func() float64 { return tc.jitter }
		if got := s.backoff(tc.n); got.Round(time.Millisecond) != tc.want {
			t.Errorf("backoff(%d) with jitter %g = %v, want %v", tc.n, tc.jitter, got, tc.want)
		}
	}
}
