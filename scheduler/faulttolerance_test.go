package scheduler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

// faultToleranceOff turns fault tolerance off in the settings the
// scheduler reads at each round.
func (b *bundle) faultToleranceOff() {
	cfg := *b.settings.Load()
	cfg.FaultTolerance = false
	b.settings.Store(&cfg)
}

// With fault tolerance off, a lost node's running task ends FAILED with an
// error that says the node was lost, however many retries it had left, and
// is never started again; the task it had not claimed yet goes back, since
// it never ran. (TestSchedulerRequeuesTasksOfOfflineNode is the same with
// fault tolerance on.)
func TestSchedulerFailsTasksOfLostNodeWithFaultToleranceOff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		otherNode bool
		removed   bool
		how       string
	}{
		{name: "no other node", how: "stopped heartbeating"},
		{name: "another node online", otherNode: true, how: "stopped heartbeating"},
		{name: "node removed from the store", removed: true, how: "left the cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			b.faultToleranceOff()
			b.heartbeat(t, "lost", nil)
			running := b.submit(t, &archivist.Task{ID: "running", MaxRetries: 3})
			assigned := b.submit(t, &archivist.Task{ID: "assigned", MaxRetries: 3})
			b.runOnce(t)
			claimed, err := b.store.ClaimTasks(b.ctx, "lost", 1, time.Second)
			if err != nil || len(claimed) != 1 || claimed[0].ID != running {
				t.Fatalf("ClaimTasks: %v, %v; want task %s started", ids(claimed), err, running)
			}

			b.clock.Advance(4 * time.Second) // 3 missed heartbeats: offline
			if tt.removed {
				if err := b.store.RemoveNode(b.ctx, "lost"); err != nil {
					t.Fatalf("RemoveNode: %v", err)
				}
			}
			if tt.otherNode {
				b.heartbeat(t, "spare", nil)
			}
			b.runOnce(t)

			task := b.task(t, running)
			if task.Status != archivist.TaskFailed || task.Attempt != 1 || task.Failures != 1 || task.Requeues != 0 {
				t.Fatalf("running task of the lost node: %s at attempt %d, %d failures, %d requeues (error %q); want FAILED at attempt 1, 1 failure, no requeue",
					task.Status, task.Attempt, task.Failures, task.Requeues, task.Error)
			}
			for _, want := range []string{"node lost was lost (" + tt.how + ") while running this task", "fault tolerance is off, so it was not run again"} {
				if !strings.Contains(task.Error, want) {
					t.Errorf("error %q does not say %q", task.Error, want)
				}
			}
			other := b.task(t, assigned)
			wantStatus, wantNode := archivist.TaskPending, "lost"
			if tt.otherNode {
				wantStatus, wantNode = archivist.TaskAssigned, "spare"
			}
			if other.Status != wantStatus || other.NodeID != wantNode || other.Attempt != 0 || other.Failures != 0 {
				t.Errorf("unstarted task of the lost node: %s on %q at attempt %d with %d failures; want %s on %q, never started",
					other.Status, other.NodeID, other.Attempt, other.Failures, wantStatus, wantNode)
			}

			// Later rounds (and a later retry backoff) never start it again.
			for range 3 {
				b.clock.Advance(time.Minute)
				if tt.otherNode {
					b.heartbeat(t, "spare", nil)
				}
				b.runOnce(t)
			}
			if got := b.task(t, running); got.Status != archivist.TaskFailed || got.Attempt != 1 {
				t.Errorf("after more rounds the task is %s at attempt %d, want FAILED at attempt 1", got.Status, got.Attempt)
			}
		})
	}
}

// A task whose lease runs out ends TIMED_OUT with fault tolerance off, even
// with retries left: the timeout still ends the attempt, and no retry
// follows.
func TestSchedulerExpiredLeaseWithFaultToleranceOff(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{claimWithin: 2 * time.Second})
	b.faultToleranceOff()
	b.heartbeat(t, "n1", func(n *archivist.Node) { n.Interval = time.Hour })
	id := b.submit(t, &archivist.Task{Timeout: time.Second, MaxRetries: 3})
	never := b.submit(t, &archivist.Task{Timeout: time.Second, MaxRetries: 3})
	b.runOnce(t)
	claimed, err := b.store.ClaimTask(b.ctx, "n1", id, time.Second)
	if err != nil || claimed.Status != archivist.TaskInProgress {
		t.Fatalf("ClaimTask: %v", err)
	}
	if _, err := b.store.SetDraining(b.ctx, "n1", true); err != nil {
		t.Fatalf("SetDraining: %v", err)
	}
	b.clock.Advance(3 * time.Second)
	b.runOnce(t)
	task := b.task(t, id)
	if task.Status != archivist.TaskTimedOut || task.Failures != 1 || !strings.Contains(task.Error, "timed out") {
		t.Errorf("running task past its lease: %s with %d failures (error %q); want TIMED_OUT with 1", task.Status, task.Failures, task.Error)
	}
	// The one its node never started goes back to wait for a node.
	if got := b.task(t, never); got.Status != archivist.TaskPending || got.Attempt != 0 {
		t.Errorf("assigned task not started in time: %s at attempt %d, want PENDING, never started", got.Status, got.Attempt)
	}
}
