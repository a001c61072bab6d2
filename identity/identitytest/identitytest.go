// Package identitytest provides test helpers for code built on identity: a
// clock that steps only when told and an event sink that records.
package identitytest

import (
	"context"
	"sync"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// Clock is an identity.Clock that stands still until Advance or Set moves it.
// It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

var _ identity.Clock = (*Clock)(nil)

// Epoch is the time a NewClock starts at.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// NewClock returns a clock at Epoch.
func NewClock() *Clock { return &Clock{now: Epoch} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Sink is an identity.EventSink that keeps every event it receives. It is safe
// for concurrent use.
type Sink struct {
	mu     sync.Mutex
	events []identity.Event
}

var _ identity.EventSink = (*Sink)(nil)

// Emit records events.
func (s *Sink) Emit(_ context.Context, events []identity.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, events...)
}

// Events returns a copy of the events received so far.
func (s *Sink) Events() []identity.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]identity.Event(nil), s.events...)
}

// Types returns the type of each event received so far, in order.
func (s *Sink) Types() []identity.EventType {
	s.mu.Lock()
	defer s.mu.Unlock()
	types := make([]identity.EventType, len(s.events))
	for i, e := range s.events {
		types[i] = e.Type
	}
	return types
}

// Reset forgets the events received so far.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = nil
}
