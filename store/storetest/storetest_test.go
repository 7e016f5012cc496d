package storetest

import (
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

// Run keeps the signature store tests call it with.
var _ func(*testing.T, func(*testing.T) archivist.Store) = Run

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
