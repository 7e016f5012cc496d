package storetest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

// Run keeps the signature store tests call it with.
var _ func(*testing.T, func(*testing.T) archivist.Store) = Run

func TestEventually(t *testing.T) {
	eventually(t, time.Second, func() bool { return true }, "immediately true")

	var calls atomic.Int32
	eventually(t, time.Second, func() bool { return calls.Add(1) >= 5 }, "true on the fifth call")
	if n := calls.Load(); n != 5 {
		t.Errorf("cond called %d times, want 5", n)
	}
}

func TestHelpers(t *testing.T) {
	if !within(100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond) || within(time.Second, 0, 100*time.Millisecond) {
		t.Errorf("within is wrong")
	}
	now := time.Now()
	if !near(now.Add(time.Second), now, now) || near(now.Add(time.Hour), now, now) {
		t.Errorf("near is wrong")
	}
	got := nonZero(map[string]int{"a": 0, "b": 2})
	if len(got) != 1 || got["b"] != 2 {
		t.Errorf("nonZero: %v", got)
	}
}
