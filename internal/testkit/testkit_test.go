package testkit_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/testkit"
)

func TestBuffer(t *testing.T) {
	var b testkit.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	for i := range 8 {
		if !b.Contains(fmt.Sprintf("line %d\n", i)) {
			t.Fatalf("line %d missing from %q", i, b.String())
		}
	}
}

func TestEventuallyAndSignal(t *testing.T) {
	calls := 0
	testkit.Eventually(t, time.Second, func() bool { calls++; return true }, "immediately true")
	if calls != 1 {
		t.Fatalf("a true cond checked %d times, want 1", calls)
	}
	n := 0
	testkit.Eventually(t, time.Second, func() bool { n++; return n == 3 }, "n reaches 3")
	if n != 3 {
		t.Fatalf("cond checked %d times, want 3", n)
	}
	ch := make(chan int, 1)
	ch <- 7
	if got := testkit.Signal(t, ch, time.Second, "a value"); got != 7 {
		t.Fatalf("Signal = %d", got)
	}
}

func TestClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := testkit.NewClock(start)
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Now() })
	c.Advance(time.Hour)
	c.Advance(-time.Minute)
	wg.Wait()
	if got, want := c.Now(), start.Add(59*time.Minute); !got.Equal(want) {
		t.Fatalf("Now = %s, want %s", got, want)
	}
}
