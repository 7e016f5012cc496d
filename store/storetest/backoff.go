package storetest

import (
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

// testTaskBackoff: a task's own retry backoff (Task.RetryBackoff,
// MaxBackoff) is kept and wins over the cluster's policy that FailTask and
// RecoverExpired are given (RetryPolicy.ForTask); a task without one waits
// the cluster's.
func testTaskBackoff(t *testing.T, s suite) {
	own := func(id string, base, max time.Duration) *archivist.Task {
		task := newTask(id, "t", archivist.PriorityNormal)
		task.RetryBackoff, task.MaxBackoff = base, max
		return task
	}
	// The delay the failed attempt waits, by the store's own clock.
	delay := func(got *archivist.Task) time.Duration { return got.RunAt.Sub(got.UpdatedAt) }

	s.run(t, "KeptAsSubmitted", func(t *testing.T, h *fixture) {
		h.create(own("both", time.Hour, 2*time.Hour), own("base", 3*time.Second, 0),
			own("max", 0, 4*time.Second), newTask("none", "t", archivist.PriorityNormal))
		for id, want := range map[string][2]time.Duration{"both": {time.Hour, 2 * time.Hour},
			"base": {3 * time.Second, 0}, "max": {0, 4 * time.Second}, "none": {}} {
			got := h.get(id)
			if got.RetryBackoff != want[0] || got.MaxBackoff != want[1] {
				t.Errorf("task %s: backoff %s, max %s; want %s, %s", id, got.RetryBackoff, got.MaxBackoff, want[0], want[1])
			}
		}
	})

	s.run(t, "OwnWinsOverCluster", func(t *testing.T, h *fixture) {
		cases := []struct {
			task    *archivist.Task
			cluster archivist.RetryPolicy
			lo, hi  time.Duration // Backoff(1, ...) lies in [base/2, base], base capped by max
		}{
			// Both given: the cluster's quick retry does not apply.
			{own("both", 10*time.Minute, time.Hour), quickRetry, 5 * time.Minute, 10 * time.Minute},
			// A base above the cluster's max raises the max to it.
			{own("base", 20*time.Minute, 0), quickRetry, 10 * time.Minute, 20 * time.Minute},
			// A max below the cluster's base lowers the base to it.
			{own("max", 0, 300*time.Millisecond), slowRetry, 150 * time.Millisecond, 300 * time.Millisecond},
			// No own backoff: the cluster's.
			{newTask("none", "t", archivist.PriorityNormal), slowRetry, longTTL / 2, longTTL},
		}
		for _, c := range cases {
			h.running("node-1", c.task)
			got := h.fail(c.task.ID, 1, archivist.Failure{Error: "boom", Retry: c.cluster})
			if got.Status != archivist.TaskRetrying {
				t.Fatalf("task %s after a failure: %s, want RETRYING", c.task.ID, got.Status)
			}
			if d := delay(got); !within(d, c.lo, c.hi) {
				t.Errorf("task %s waits %s before its retry, want %s to %s", c.task.ID, d, c.lo, c.hi)
			}
			if got.RetryBackoff != c.task.RetryBackoff || got.MaxBackoff != c.task.MaxBackoff {
				t.Errorf("task %s lost its backoff on a retry: %s, %s", c.task.ID, got.RetryBackoff, got.MaxBackoff)
			}
			h.checkStored("FailTask", got)
		}
		// The task with a short max of its own is retried after its delay,
		// although the cluster's policy would have it wait a minute.
		if r := h.waitReady("max"); r.Status != archivist.TaskPending || r.Failures != 1 {
			t.Errorf("task offered after its own backoff: %s with failures %d, want PENDING with 1", r.Status, r.Failures)
		}
		h.wantStatus("none", archivist.TaskRetrying)
	})

	s.run(t, "RecoverExpiredUsesOwn", func(t *testing.T, h *fixture) {
		short := 60 * time.Millisecond
		task := own("lost", 0, 200*time.Millisecond)
		task.Timeout = short
		h.create(task)
		claimed, err := h.s.ClaimTask(h.ctx(), "node-1", "lost", 0)
		if err != nil {
			t.Fatalf("ClaimTask: %v", err)
		}
		lease := h.lead()
		// Let the lease pass (by the test's clock, bounded).
		time.Sleep(min(time.Until(claimed.LeaseUntil)+50*time.Millisecond, 2*time.Second))
		var got *archivist.Task
		for deadline := time.Now().Add(waitLimit); got == nil && time.Now().Before(deadline); {
			tasks, err := h.s.RecoverExpired(h.ctx(), lease, slowRetry)
			if err != nil {
				t.Fatalf("RecoverExpired: %v", err)
			}
			for _, r := range tasks {
				if r.ID == "lost" {
					got = r
				}
			}
		}
		if got == nil {
			t.Fatalf("RecoverExpired did not take back the expired task")
		}
		if got.Status != archivist.TaskRetrying {
			t.Fatalf("recovered task: %s, want RETRYING", got.Status)
		}
		if d := delay(got); !within(d, 100*time.Millisecond, 200*time.Millisecond) {
			t.Errorf("recovered task waits %s, want its own 100ms to 200ms, not the cluster's minute", d)
		}
		h.waitReady("lost")
	})
}
