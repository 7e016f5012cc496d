package archivist

import (
	"math/rand/v2"
	"time"
)

// RetryPolicy says whether failed attempts are retried and how long to wait:
// Backoff(failures, Base, Max), with Disabled meaning no retries at all.
type RetryPolicy struct {
	Disabled bool
	Base     time.Duration
	Max      time.Duration
}

// ForTask is p with a task's own backoff (Task.RetryBackoff, MaxBackoff;
// 0 keeps p's) in place of p's. The values the task gave win: a base above
// p's max raises the max to it, and a max below p's base lowers the base to
// it. A task without its own values gets p itself.
func (p RetryPolicy) ForTask(taskBase, taskMax time.Duration) RetryPolicy {
	switch {
	case taskBase > 0 && taskMax > 0:
		p.Base, p.Max = taskBase, taskMax
	case taskBase > 0:
		p.Base, p.Max = taskBase, max(p.Max, taskBase)
	case taskMax > 0:
		if p.Base <= 0 || p.Base > taskMax {
			p.Base = taskMax
		}
		p.Max = taskMax
	}
	return p
}

// Delay is the backoff before the retry that follows the n-th failure.
func (p RetryPolicy) Delay(n int) time.Duration { return Backoff(n, p.Base, p.Max) }

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
