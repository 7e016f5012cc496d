package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// noRetry is the retry policy with fault tolerance off.
var noRetry = archivist.RetryPolicy{Disabled: true, Base: quickRetry.Base, Max: quickRetry.Max}

// testFaultToleranceOff covers the transitions the cluster uses with fault
// tolerance off, where no task may run twice: FailNode for a lost node,
// RecoverExpired without retries, and the failure that ends an orphaned
// attempt for good.
func testFaultToleranceOff(t *testing.T, s suite) {
	const reason = "node node-1 was lost (stopped heartbeating) while running this task; fault tolerance is off, so it was not run again"

	s.run(t, "FailNodeFailsRunningPutsBackAssigned", func(t *testing.T, h *fixture) {
		stale, current := h.staleLease()
		spec := func(id string, maxRetries int) *archivist.Task {
			task := newTask(id, "t", archivist.PriorityNormal)
			task.MaxRetries = maxRetries
			return task
		}
		h.create(
			spec("n1-assigned", 3),
			spec("n1-running", 3),
			spec("n1-cancel", 3),
			spec("n2-running", 3),
			spec("n2-assigned", 3),
			spec("pending", 3),
		)
		h.assign("node-1", "n1-assigned", "n1-running", "n1-cancel")
		h.assign("node-2", "n2-assigned", "n2-running")
		h.start("node-1", "n1-running")
		h.start("node-1", "n1-cancel")
		h.cancel("n1-cancel")
		h.start("node-2", "n2-running")
		h.running("node-1", spec("n1-done", 3))
		h.complete("n1-done", 1, `1`)

		all := h.snapshot("n1-assigned", "n1-running", "n1-cancel", "n2-running", "n2-assigned", "pending", "n1-done")
		_, err := h.s.FailNode(h.ctx(), stale, "node-1", reason)
		h.wantCode(err, archivist.CodeConflict, "FailNode under a stale lease")
		h.unchanged("FailNode under a stale lease", all)

		got, err := h.s.FailNode(h.ctx(), current, "node-1", reason)
		if err != nil {
			t.Fatalf("FailNode: %v", err)
		}
		if diff := cmp.Diff([]string{"n1-assigned", "n1-cancel", "n1-running"}, sortedIDs(got)); diff != "" {
			t.Errorf("taken back (-want +got):\n%s", diff)
		}
		for _, task := range got {
			h.checkStored("FailNode", task)
		}

		// The running one ends for good, with the reason, one failure counted
		// and no retry though it had retries left.
		running := h.get("n1-running")
		if running.Status != archivist.TaskFailed || running.Error != reason || running.Failures != 1 ||
			running.Requeues != 0 || running.Attempt != 1 || running.CompletedAt.IsZero() || !running.LeaseUntil.IsZero() {
			t.Errorf("running task of the lost node: %s, error %q, failures %d, requeues %d, attempt %d, completed %v, lease %v;"+
				" want FAILED with the reason, 1 failure, no requeue, attempt 1, completed, no lease",
				running.Status, running.Error, running.Failures, running.Requeues, running.Attempt, running.CompletedAt, running.LeaseUntil)
		}
		// A cancel was requested: it ends CANCELLED, as it would have.
		if got := h.get("n1-cancel"); got.Status != archivist.TaskCancelled {
			t.Errorf("cancel-requested task of the lost node is %s, want CANCELLED", got.Status)
		}
		// The assigned one was never claimed, so never started: it goes back.
		assigned := h.get("n1-assigned")
		if assigned.Status != archivist.TaskPending || assigned.Attempt != 0 || assigned.Failures != 0 || assigned.Requeues != 1 {
			t.Errorf("assigned task of the lost node: %s, attempt %d, failures %d, requeues %d; want PENDING, 0, 0, 1",
				assigned.Status, assigned.Attempt, assigned.Failures, assigned.Requeues)
		}
		delete(all, "n1-assigned")
		delete(all, "n1-running")
		delete(all, "n1-cancel")
		h.unchanged("FailNode of another node", all)

		// The lost node, if it comes back, can neither report the attempt
		// nor claim the task it had not started.
		_, err = h.s.CompleteTask(h.ctx(), "n1-running", 1, json.RawMessage(`"late"`))
		h.wantCode(err, archivist.CodeConflict, "completing an attempt of a failed node")
		if late, err := h.s.ClaimTasks(h.ctx(), "node-1", 10, grace); err != nil || len(late) != 0 {
			t.Errorf("ClaimTasks of the lost node after FailNode: %v, %v; want nothing", ids(late), err)
		}
		if diff := cmp.Diff([]string{"n1-assigned", "pending"}, sortedIDs(h.ready(10))); diff != "" {
			t.Errorf("ReadyTasks after FailNode (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{"node-2": 2}, h.loads()); diff != "" {
			t.Errorf("NodeLoads after FailNode (-want +got):\n%s", diff)
		}
		none, err := h.s.FailNode(h.ctx(), current, "node-1", reason)
		if err != nil || len(none) != 0 {
			t.Errorf("second FailNode of an empty node: %v, %v", ids(none), err)
		}
	})

	s.run(t, "FailNodeOneEventPerTask", func(t *testing.T, h *fixture) {
		h.create(newTask("assigned", "t", archivist.PriorityNormal), newTask("running", "t", archivist.PriorityNormal))
		h.assign("node-1", "assigned", "running")
		h.start("node-1", "running")
		sub := h.subscribe(h.lastSeq())
		if _, err := h.s.FailNode(h.ctx(), h.lead(), "node-1", reason); err != nil {
			t.Fatalf("FailNode: %v", err)
		}
		h.create(newTask("marker", "t", archivist.PriorityNormal))
		var got []string
		for {
			ev := h.next(sub)
			if ev.Task == nil {
				t.Fatalf("unexpected event %s", describe(ev))
			}
			if ev.Task.ID == "marker" {
				break
			}
			got = append(got, string(ev.Type)+" "+ev.Task.ID+" "+string(ev.Task.Status))
			if ev.Type == archivist.EventTaskFailed && ev.Detail != reason {
				t.Errorf("task.failed detail %q, want the reason", ev.Detail)
			}
		}
		slices.Sort(got)
		want := []string{"task.failed running FAILED", "task.requeued assigned PENDING"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events of FailNode (-want +got):\n%s", diff)
		}
	})

	s.run(t, "FailNodeUnderExpiredLease", func(t *testing.T, h *fixture) {
		h.running("node-1", newTask("job", "t", archivist.PriorityNormal))
		l, err := h.s.Campaign(h.ctx(), leaderID, 50*time.Millisecond)
		if err != nil || l.Holder != leaderID {
			t.Fatalf("Campaign: %+v, %v", l, err)
		}
		time.Sleep(time.Until(l.Expires) + 100*time.Millisecond)
		before := h.snapshot("job")
		_, err = h.s.FailNode(h.ctx(), l, "node-1", reason)
		h.wantCode(err, archivist.CodeConflict, "FailNode under an expired lease")
		h.unchanged("FailNode under an expired lease", before)
	})

	s.run(t, "RecoverExpiredWithoutRetry", func(t *testing.T, h *fixture) {
		short := 60 * time.Millisecond
		job := newTask("job", "t", archivist.PriorityNormal)
		job.Timeout, job.MaxRetries = short, 5
		h.create(job, newTask("assigned", "t", archivist.PriorityNormal))
		started := h.start("node-1", "job")
		h.assignWithin("node-1", short, "assigned")
		time.Sleep(min(time.Until(started.LeaseUntil)+skew/20, 2*time.Second))
		testkit.Eventually(t, waitLimit, func() bool {
			if _, err := h.s.RecoverExpired(h.ctx(), h.lead(), noRetry); err != nil {
				t.Fatalf("RecoverExpired: %v", err)
			}
			return h.get("job").Status != archivist.TaskInProgress && h.get("assigned").Status != archivist.TaskAssigned
		}, "RecoverExpired takes back both expired tasks")
		if got := h.get("job"); got.Status != archivist.TaskTimedOut || got.Failures != 1 || got.CompletedAt.IsZero() {
			t.Errorf("expired attempt with retries left, retry disabled: %s with %d failures; want TIMED_OUT with 1", got.Status, got.Failures)
		}
		if got := h.get("assigned"); got.Status != archivist.TaskPending || got.Attempt != 0 {
			t.Errorf("assigned task whose claim window ran out: %s at attempt %d; want PENDING, never started", got.Status, got.Attempt)
		}
	})

	// The worker pool ends an attempt it finds orphaned with a permanent
	// failure and retries disabled: FAILED, whatever retries are left.
	s.run(t, "OrphanFailedForGood", func(t *testing.T, h *fixture) {
		spec := newTask("job", "t", archivist.PriorityNormal)
		spec.MaxRetries = 5
		h.running("node-1", spec)
		got := h.fail("job", 1, archivist.Failure{Error: "node node-1 restarted", Permanent: true, Retry: noRetry})
		if got.Status != archivist.TaskFailed || got.Failures != 1 || got.Error != "node node-1 restarted" {
			t.Errorf("orphan failed: %s, %d failures, error %q; want FAILED, 1, the message", got.Status, got.Failures, got.Error)
		}
		h.checkStored("FailTask", got)
	})
}
