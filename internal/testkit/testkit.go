// Package testkit holds what tests across the module share: a buffer that
// goroutines write logs into while a test reads it, and waits on a
// condition or a signal. It is imported by tests only.
package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer safe for one writer goroutine (a logger, a
// child process's output) and readers on the test goroutine.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Contains reports whether s was written.
func (b *Buffer) Contains(s string) bool { return strings.Contains(b.String(), s) }

// Eventually checks cond until it holds, failing the test with the message
// if it does not within timeout. It is for conditions no signal reports
// (a state read from a store or another process): it checks at once, then
// after pauses growing from 1ms to 20ms. cond runs on the test goroutine
// and may call t.Fatal.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, fmt.Sprintf(format, args...))
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// Signal waits for ch to deliver (or close), failing the test with what
// after timeout.
func Signal[T any](t testing.TB, ch <-chan T, timeout time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("no signal within %s: %s", timeout, what)
		var zero T
		return zero
	}
}

// Clock is a clock for a component's Now that stands still until the test
// moves it, safe to read from the component's goroutines while the test
// moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that reads now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// StopGivesUp calls stop with a context that ends after d and fails the
// test unless stop returns context.DeadlineExceeded exactly then: a part's
// Stop is bounded by its context even when its run hangs. Call it in a
// testing/synctest bubble, where time is exact.
func StopGivesUp(t testing.TB, stop func(context.Context) error, d time.Duration, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := stop(ctx)
	if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took != d {
		t.Fatalf("Stop with %s = %v after %s, want context.DeadlineExceeded after its context's %s", what, err, took, d)
	}
}
