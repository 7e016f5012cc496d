package archivist

import (
	"math/rand/v2"
	"time"
)

// Backoff returns how long to wait before retrying after the n-th failure
// (n >= 1): base doubled per failure, capped at max, with "full jitter" in
// the upper half so that retries of many tasks do not arrive together.
func Backoff(n int, base, max time.Duration) time.Duration {
	if base <= 0 {
		base = DefaultRetryBackoff
	}
	if max < base {
		max = base
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + rand.N(half+1)
}
