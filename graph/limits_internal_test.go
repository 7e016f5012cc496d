package graph

import (
	"fmt"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/testkit"
)

func TestRateLimiterBucket(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Unix(1000, 0))
	l := newRateLimiter(4, 2, 100, clock.Now) // a token every 250ms, bursts of 2
	for i := range 2 {
		if wait := l.take("k"); wait != 0 {
			t.Fatalf("take %d within the burst: wait %v", i+1, wait)
		}
	}
	if wait := l.take("k"); wait != 250*time.Millisecond {
		t.Errorf("empty bucket: wait %v, want 250ms", wait)
	}
	clock.Advance(100 * time.Millisecond)
	if wait := l.take("k"); wait != 150*time.Millisecond {
		t.Errorf("after 100ms: wait %v, want 150ms (a refused take takes nothing)", wait)
	}
	clock.Advance(150 * time.Millisecond)
	if wait := l.take("k"); wait != 0 {
		t.Errorf("after 250ms: wait %v, want a token", wait)
	}
	// A long pause refills no more than the burst.
	clock.Advance(time.Hour)
	for i := range 2 {
		if wait := l.take("k"); wait != 0 {
			t.Fatalf("take %d after an hour: wait %v", i+1, wait)
		}
	}
	if wait := l.take("k"); wait == 0 {
		t.Error("the bucket held more than its burst")
	}
	// A clock going back gives nothing and breaks nothing.
	clock.Advance(-time.Minute)
	if wait := l.take("k"); wait == 0 {
		t.Error("a clock going back refilled the bucket")
	}
	if got := retryAfterSeconds(time.Nanosecond); got != 1 {
		t.Errorf("retryAfterSeconds(1ns) = %d, want 1", got)
	}
	if got := retryAfterSeconds(1500 * time.Millisecond); got != 2 {
		t.Errorf("retryAfterSeconds(1.5s) = %d, want 2", got)
	}
}

// The limiter tracks at most maxKeys clients, whatever their number, and
// forgets idle ones as traffic passes.
func TestRateLimiterBounded(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Unix(1000, 0))
	l := newRateLimiter(1, 1, 50, clock.Now)
	for i := range 10_000 {
		l.take(fmt.Sprintf("ip 10.0.%d.%d", i/256, i%256))
		if n := l.size(); n > 50 {
			t.Fatalf("after %d clients: %d buckets", i+1, n)
		}
	}
	// The most recent client is still limited; its bucket was kept.
	if wait := l.take("ip 10.0.39.15"); wait == 0 {
		t.Error("the most recent client got a fresh bucket")
	}
	// Once idle for a refill, buckets go as other clients pass by.
	clock.Advance(2 * time.Second)
	for range 30 {
		l.take("key busy")
	}
	if n := l.size(); n != 1 {
		t.Errorf("%d buckets after everyone but one went idle, want 1", n)
	}
	if l.lru.Len() != l.size() {
		t.Errorf("the LRU list (%d) and the map (%d) disagree", l.lru.Len(), l.size())
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"192.0.2.7:5123":                     "192.0.2.7",
		"192.0.2.7":                          "192.0.2.7",
		"[::ffff:192.0.2.7]:80":              "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443":         "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:ffff:ffff:1]:80": "2001:db8:1:2::/64",
		"[fe80::1%eth0]:80":                  "fe80::/64",
		"[::1]:8080":                         "::/64",
		"@":                                  "@", // a Unix socket peer: one client
	} {
		if got := clientIP(addr); got != want {
			t.Errorf("clientIP(%q) = %q, want %q", addr, got, want)
		}
	}
}
