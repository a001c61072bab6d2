package googlesync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/api/googleapi"
)

// counter counts the API requests of one sync; it is shared by the pull's
// workers.
type counter struct {
	calls, retries atomic.Int64
}

// retryable reports whether err is worth another try: a rate limit (403 with
// reason userRateLimitExceeded, quotaExceeded or rateLimitExceeded), 429, or
// a server error.
func retryable(err error) bool {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return false
	}
	switch {
	case gerr.Code == http.StatusTooManyRequests, gerr.Code >= 500:
		return true
	case gerr.Code == http.StatusForbidden:
		for _, e := range gerr.Errors {
			switch e.Reason {
			case "userRateLimitExceeded", "quotaExceeded", "rateLimitExceeded":
				return true
			}
		}
	}
	return false
}

// retryAfter returns the delay a Retry-After header asks for, if any.
func retryAfter(err error, now time.Time) (time.Duration, bool) {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Header == nil {
		return 0, false
	}
	v := gerr.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// backoff returns the delay before retry number n (0 for the first): the
// exponential delay MinBackoff<<n capped at MaxBackoff, with "equal jitter"
// (between half and all of it).
func (s *Syncer) backoff(n int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 0; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d/2 + time.Duration(s.jitter()*float64(d/2))
}

// call runs one API request through do, retrying it with backoff as long as
// it fails with a retryable error, up to Config.Retries times. It honours a
// Retry-After header and ctx.
func (s *Syncer) call(ctx context.Context, c *counter, what string, do func(ctx context.Context) error) error {
	for n := 0; ; n++ {
		c.calls.Add(1)
		err := do(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		if !retryable(err) || n >= s.cfg.Retries {
			return fmt.Errorf("%s: %w", what, err)
		}
		d := s.backoff(n)
		if ra, ok := retryAfter(err, time.Now()); ok {
			if ra > s.cfg.MaxBackoff {
				return fmt.Errorf("%s: Retry-After %s is longer than MaxBackoff: %w", what, ra, err)
			}
			d = max(d, ra)
		}
		s.log.Debug("googlesync: retrying", "call", what, "delay", d, "err", err)
		c.retries.Add(1)
		if err := s.sleep(ctx, d); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}
