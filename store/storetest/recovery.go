package storetest

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

func testCancelTask(t *testing.T, s suite) {
	s.run(t, "Pending", func(t *testing.T, h *fixture) {
		id := h.createOne("t")
		got := h.cancel(id)
		if got.Status != archivist.TaskCancelled {
			t.Errorf("cancelled PENDING task is %s", got.Status)
		}
		h.checkStored("CancelTask", got)
		if len(h.ready(10)) != 0 {
			t.Errorf("ReadyTasks offers a cancelled task")
		}
	})

	s.run(t, "Assigned", func(t *testing.T, h *fixture) {
		id := h.createOne("t")
		h.assign("node-1", id)
		if got := h.cancel(id); got.Status != archivist.TaskCancelled {
			t.Errorf("cancelled ASSIGNED task is %s", got.Status)
		}
		claimed, err := h.s.ClaimTasks(h.ctx(), "node-1", 10, grace)
		if err != nil || len(claimed) != 0 {
			t.Errorf("ClaimTasks after the cancel: %v, %v", ids(claimed), err)
		}
		if n := h.loads()["node-1"]; n != 0 {
			t.Errorf("node-1 still holds %d task(s)", n)
		}
	})

	s.run(t, "Retrying", func(t *testing.T, h *fixture) {
		h.running("node-1", newTask("job", "t", archivist.PriorityNormal))
		h.fail("job", 1, archivist.Failure{Error: "x", Retry: slowRetry})
		h.wantStatus("job", archivist.TaskRetrying)
		if got := h.cancel("job"); got.Status != archivist.TaskCancelled {
			t.Errorf("cancelled RETRYING task is %s", got.Status)
		}
	})

	s.run(t, "InProgress", func(t *testing.T, h *fixture) {
		h.running("node-1", newTask("job", "t", archivist.PriorityNormal))
		got := h.cancel("job")
		if got.Status != archivist.TaskInProgress || !got.CancelRequested {
			t.Errorf("cancelling a running task: %s with CancelRequested %v, want IN_PROGRESS with true",
				got.Status, got.CancelRequested)
		}
		h.checkStored("CancelTask", got)
		got = h.fail("job", 1, archivist.Failure{Error: "stopped", Cancelled: true, Retry: quickRetry})
		if got.Status != archivist.TaskCancelled {
			t.Errorf("worker stopped a cancel-requested attempt: %s, want CANCELLED", got.Status)
		}
	})

	s.run(t, "Finished", func(t *testing.T, h *fixture) {
		h.running("node-1", newTask("done", "t", archivist.PriorityNormal))
		h.complete("done", 1, `1`)
		failed := newTask("failed", "t", archivist.PriorityNormal)
		h.running("node-1", failed)
		h.fail("failed", 1, archivist.Failure{Error: "x", Permanent: true})
		cancelled := h.createOne("t")
		h.cancel(cancelled)

		snap := h.snapshot("done", "failed", cancelled)
		for _, id := range []string{"done", "failed", cancelled} {
			_, err := h.s.CancelTask(h.ctx(), id)
			h.wantCode(err, archivist.CodeConflict, "cancelling a finished task")
		}
		h.unchanged("cancelling finished tasks", snap)
		_, err := h.s.CancelTask(h.ctx(), "no-such-task")
		h.wantCode(err, archivist.CodeNotFound, "CancelTask of an unknown id")
	})
}

func testRetryTask(t *testing.T, s suite) {
	s.run(t, "Failed", func(t *testing.T, h *fixture) {
		spec := newTask("job", "t", archivist.PriorityNormal)
		spec.MaxRetries = 0
		h.running("node-1", spec)
		if got := h.fail("job", 1, archivist.Failure{Error: "x", Retry: quickRetry}); got.Status != archivist.TaskFailed || got.Failures != 1 {
			t.Fatalf("setup: %s with failures %d", got.Status, got.Failures)
		}
		got, err := h.s.RetryTask(h.ctx(), "job")
		if err != nil {
			t.Fatalf("RetryTask: %v", err)
		}
		if got.Status != archivist.TaskPending || got.Failures != 0 {
			t.Errorf("retried task: %s with failures %d, want PENDING with 0", got.Status, got.Failures)
		}
		h.checkStored("RetryTask", got)
		h.waitReady("job")
		// The attempt number keeps growing, so that a report of the old
		// attempt cannot pass for the new one.
		if again := h.start("node-1", "job"); again.Attempt != 2 {
			t.Errorf("run after RetryTask is attempt %d, want 2", again.Attempt)
		}
		_, err = h.s.CompleteTask(h.ctx(), "job", 1, json.RawMessage(`1`))
		h.wantCode(err, archivist.CodeConflict, "completing the attempt from before the retry")
	})

	s.run(t, "CancelledAndTimedOut", func(t *testing.T, h *fixture) {
		// Cancelled while running: the retried task must not carry the old
		// cancel request into its next attempt.
		h.running("node-1", newTask("cancelled", "t", archivist.PriorityNormal))
		h.cancel("cancelled")
		h.fail("cancelled", 1, archivist.Failure{Error: "stopped", Cancelled: true})
		h.wantStatus("cancelled", archivist.TaskCancelled)

		spec := newTask("timedout", "t", archivist.PriorityNormal)
		spec.MaxRetries = 0
		h.running("node-1", spec)
		h.fail("timedout", 1, archivist.Failure{Error: "deadline", TimedOut: true})
		h.wantStatus("timedout", archivist.TaskTimedOut)

		for _, id := range []string{"cancelled", "timedout"} {
			got, err := h.s.RetryTask(h.ctx(), id)
			if err != nil {
				t.Fatalf("RetryTask(%s): %v", id, err)
			}
			if got.Status != archivist.TaskPending || got.Failures != 0 || got.CancelRequested {
				t.Errorf("retried %s task: %s, failures %d, CancelRequested %v; want PENDING, 0, false",
					id, got.Status, got.Failures, got.CancelRequested)
			}
		}
		if diff := cmp.Diff([]string{"cancelled", "timedout"}, sortedIDs(h.ready(10))); diff != "" {
			t.Errorf("ReadyTasks after the retries (-want +got):\n%s", diff)
		}
	})

	s.run(t, "NotFinished", func(t *testing.T, h *fixture) {
		h.create(newTask("pending", "t", archivist.PriorityNormal), newTask("assigned", "t", archivist.PriorityNormal))
		h.assign("node-1", "assigned")
		h.running("node-1", newTask("running", "t", archivist.PriorityNormal))
		h.running("node-1", newTask("done", "t", archivist.PriorityNormal))
		h.complete("done", 1, `1`)
		h.running("node-1", newTask("retrying", "t", archivist.PriorityNormal))
		h.fail("retrying", 1, archivist.Failure{Error: "x", Retry: slowRetry})

		all := []string{"pending", "assigned", "running", "done", "retrying"}
		snap := h.snapshot(all...)
		for _, id := range all {
			_, err := h.s.RetryTask(h.ctx(), id)
			h.wantCode(err, archivist.CodeConflict, "RetryTask of a "+string(snap[id].Status)+" task")
		}
		h.unchanged("refused RetryTask", snap)
		_, err := h.s.RetryTask(h.ctx(), "no-such-task")
		h.wantCode(err, archivist.CodeNotFound, "RetryTask of an unknown id")
	})
}

func testRecoverExpired(t *testing.T, s suite) {
	s.run(t, "TakesBackExpired", func(t *testing.T, h *fixture) {
		stale, current := h.staleLease()
		short := 60 * time.Millisecond
		h.create(
			newTask("assigned-expired", "t", archivist.PriorityNormal),
			newTask("assigned-fresh", "t", archivist.PriorityNormal),
		)
		h.assignWithin("node-1", short, "assigned-expired")
		h.assignWithin("node-1", longTTL, "assigned-fresh")

		spec := func(id string, timeout time.Duration, maxRetries int) *archivist.Task {
			task := newTask(id, "t", archivist.PriorityNormal)
			task.Timeout, task.MaxRetries = timeout, maxRetries
			return task
		}
		h.create(
			spec("running-retry", short, 1),
			spec("running-last", short, 0),
			spec("running-cancel", short, 3),
			spec("running-fresh", longTTL, 0),
		)
		var deadline time.Time
		for _, id := range []string{"running-retry", "running-last", "running-cancel", "running-fresh"} {
			task, err := h.s.ClaimTask(h.ctx(), "node-2", id, 0)
			if err != nil {
				t.Fatalf("ClaimTask(%s): %v", id, err)
			}
			if id != "running-fresh" && task.LeaseUntil.After(deadline) {
				deadline = task.LeaseUntil
			}
		}
		h.cancel("running-cancel")
		fresh := h.snapshot("assigned-fresh", "running-fresh")

		// Let the short leases pass (by the test's clock, bounded), so that a
		// stale lease is refused even when there is work to do.
		time.Sleep(min(time.Until(deadline)+50*time.Millisecond, 2*time.Second))
		all := h.snapshot("assigned-expired", "assigned-fresh", "running-retry", "running-last", "running-cancel", "running-fresh")
		_, err := h.s.RecoverExpired(h.ctx(), stale, slowRetry)
		h.wantCode(err, archivist.CodeConflict, "RecoverExpired under a stale lease")
		h.unchanged("RecoverExpired under a stale lease", all)

		recovered := map[string]*archivist.Task{}
		want := []string{"assigned-expired", "running-cancel", "running-last", "running-retry"}
		testkit.Eventually(t, waitLimit, func() bool {
			got, err := h.s.RecoverExpired(h.ctx(), current, slowRetry)
			if err != nil {
				t.Fatalf("RecoverExpired: %v", err)
			}
			for _, task := range got {
				recovered[task.ID] = task
			}
			return len(recovered) >= len(want)
		}, "RecoverExpired takes back the four expired tasks")
		if diff := cmp.Diff(want, slices.Sorted(maps.Keys(recovered))); diff != "" {
			t.Errorf("recovered tasks (-want +got):\n%s", diff)
		}
		for _, task := range recovered {
			h.checkStored("RecoverExpired", task)
		}

		// failures -1: not checked (whether a cancelled attempt counts as
		// a failure is left to the store).
		check := func(id string, status archivist.TaskStatus, failures int) {
			t.Helper()
			got := h.get(id)
			if got.Status != status || (failures >= 0 && got.Failures != failures) {
				t.Errorf("%s: %s with failures %d, want %s with %d", id, got.Status, got.Failures, status, failures)
			}
		}
		check("assigned-expired", archivist.TaskPending, 0)
		check("running-retry", archivist.TaskRetrying, 1)
		check("running-last", archivist.TaskTimedOut, 1)
		check("running-cancel", archivist.TaskCancelled, -1)
		if got := h.get("running-retry"); !got.RunAt.After(got.UpdatedAt) {
			t.Errorf("timed-out attempt with a retry left: RunAt %v not after the recovery at %v", got.RunAt, got.UpdatedAt)
		}
		h.unchanged("RecoverExpired on tasks whose lease holds", fresh)

		// The expired attempts are fenced off.
		for _, id := range []string{"running-retry", "running-last"} {
			_, err := h.s.CompleteTask(h.ctx(), id, 1, json.RawMessage(`1`))
			h.wantCode(err, archivist.CodeConflict, "completing an attempt after its lease was taken back")
		}
		if got := h.ready(10); !slices.Contains(ids(got), "assigned-expired") {
			t.Errorf("ReadyTasks does not offer the taken-back ASSIGNED task: %v", ids(got))
		}
	})
}

func testRequeueNode(t *testing.T, s suite) {
	s.run(t, "PutsBackNodeTasks", func(t *testing.T, h *fixture) {
		stale, current := h.staleLease()
		h.create(
			newTask("n1-assigned", "t", archivist.PriorityNormal),
			newTask("n1-running", "t", archivist.PriorityNormal),
			newTask("n2-running", "t", archivist.PriorityNormal),
			newTask("n2-assigned", "t", archivist.PriorityNormal),
			newTask("pending", "t", archivist.PriorityNormal),
		)
		h.assign("node-1", "n1-assigned", "n1-running")
		h.assign("node-2", "n2-assigned", "n2-running")
		h.start("node-1", "n1-running")
		h.start("node-2", "n2-running")
		h.running("node-1", newTask("n1-done", "t", archivist.PriorityNormal))
		h.complete("n1-done", 1, `1`)

		all := h.snapshot("n1-assigned", "n1-running", "n2-running", "n2-assigned", "pending", "n1-done")
		_, err := h.s.RequeueNode(h.ctx(), stale, "node-1")
		h.wantCode(err, archivist.CodeConflict, "RequeueNode under a stale lease")
		h.unchanged("RequeueNode under a stale lease", all)

		got, err := h.s.RequeueNode(h.ctx(), current, "node-1")
		if err != nil {
			t.Fatalf("RequeueNode: %v", err)
		}
		if diff := cmp.Diff([]string{"n1-assigned", "n1-running"}, sortedIDs(got)); diff != "" {
			t.Errorf("requeued (-want +got):\n%s", diff)
		}
		for _, task := range got {
			if task.Status != archivist.TaskPending || task.Requeues != 1 || task.Failures != 0 {
				t.Errorf("requeued %s: %s, requeues %d, failures %d; want PENDING, 1, 0",
					task.ID, task.Status, task.Requeues, task.Failures)
			}
			h.checkStored("RequeueNode", task)
		}
		delete(all, "n1-assigned")
		delete(all, "n1-running")
		h.unchanged("requeueing another node", all)

		_, err = h.s.CompleteTask(h.ctx(), "n1-running", 1, json.RawMessage(`"late"`))
		h.wantCode(err, archivist.CodeConflict, "completing an attempt of a requeued node")
		if diff := cmp.Diff([]string{"n1-assigned", "n1-running", "pending"}, sortedIDs(h.ready(10))); diff != "" {
			t.Errorf("ReadyTasks after the requeue (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{"node-2": 2}, h.loads()); diff != "" {
			t.Errorf("NodeLoads after the requeue (-want +got):\n%s", diff)
		}

		none, err := h.s.RequeueNode(h.ctx(), current, "node-1")
		if err != nil || len(none) != 0 {
			t.Errorf("second RequeueNode of an empty node: %v, %v", ids(none), err)
		}
	})

	s.run(t, "RequeueLimit", func(t *testing.T, h *fixture) {
		id := h.createOne("t")
		for i := 1; i <= archivist.MaxRequeues; i++ {
			h.start("node-1", id)
			if _, err := h.s.RequeueNode(h.ctx(), h.lead(), "node-1"); err != nil {
				t.Fatalf("RequeueNode: %v", err)
			}
			if got := h.get(id); got.Status != archivist.TaskPending || got.Requeues != i {
				t.Fatalf("after requeue %d: %s with requeues %d", i, got.Status, got.Requeues)
			}
		}
		h.start("node-1", id)
		if _, err := h.s.RequeueNode(h.ctx(), h.lead(), "node-1"); err != nil {
			t.Fatalf("RequeueNode: %v", err)
		}
		if got := h.get(id); got.Status != archivist.TaskFailed {
			t.Errorf("after %d requeues the task is %s, want FAILED (past MaxRequeues)", archivist.MaxRequeues+1, got.Status)
		}
	})
}

func testPurgeFinished(t *testing.T, s suite) {
	s.run(t, "RemovesOldFinished", func(t *testing.T, h *fixture) {
		finishedAt := func(task *archivist.Task) time.Time {
			if !task.CompletedAt.IsZero() {
				return task.CompletedAt
			}
			return task.UpdatedAt
		}
		var lastOld time.Time
		old := func(task *archivist.Task) {
			if at := finishedAt(task); at.After(lastOld) {
				lastOld = at
			}
		}
		// Unfinished tasks, older than every cutoff.
		h.create(newTask("pending", "t", archivist.PriorityNormal), newTask("assigned", "t", archivist.PriorityNormal))
		h.assign("node-1", "assigned")
		h.running("node-1", newTask("running", "t", archivist.PriorityNormal))
		h.running("node-1", newTask("retrying", "t", archivist.PriorityNormal))
		h.fail("retrying", 1, archivist.Failure{Error: "x", Retry: slowRetry})
		// Finished before the cutoff.
		h.running("node-1", newTask("old-done", "t", archivist.PriorityNormal))
		old(h.complete("old-done", 1, `1`))
		h.running("node-1", newTask("old-failed", "t", archivist.PriorityNormal))
		old(h.fail("old-failed", 1, archivist.Failure{Error: "x", Permanent: true}))
		h.create(newTask("old-cancelled", "t", archivist.PriorityNormal))
		old(h.cancel("old-cancelled"))

		// Finished after it.
		time.Sleep(30 * time.Millisecond)
		h.running("node-1", newTask("new-done", "t", archivist.PriorityNormal))
		newer := finishedAt(h.complete("new-done", 1, `1`))
		if !newer.After(lastOld) {
			t.Fatalf("setup: task finished 30ms later has time %v, not after %v", newer, lastOld)
		}
		cutoff := lastOld.Add(newer.Sub(lastOld) / 2)

		n, err := h.s.PurgeFinished(h.ctx(), cutoff, cutoff)
		if err != nil {
			t.Fatalf("PurgeFinished: %v", err)
		}
		if n != 3 {
			t.Errorf("PurgeFinished removed %d tasks, want 3", n)
		}
		for _, id := range []string{"old-done", "old-failed", "old-cancelled"} {
			_, err := h.s.GetTask(h.ctx(), id)
			h.wantCode(err, archivist.CodeNotFound, "GetTask of a purged task")
		}
		for _, id := range []string{"pending", "assigned", "running", "retrying", "new-done"} {
			h.get(id)
		}
		if n, err := h.s.PurgeFinished(h.ctx(), cutoff, cutoff); err != nil || n != 0 {
			t.Errorf("second PurgeFinished: %d, %v; want 0", n, err)
		}

		// A cutoff in the future takes every finished task, and only those.
		n, err = h.s.PurgeFinished(h.ctx(), time.Now().Add(time.Hour), time.Now().Add(time.Hour))
		if err != nil || n != 1 {
			t.Errorf("PurgeFinished(in an hour): %d, %v; want 1", n, err)
		}
		counts, err := h.s.CountTasks(h.ctx())
		if err != nil {
			t.Fatalf("CountTasks: %v", err)
		}
		want := map[archivist.TaskStatus]int{
			archivist.TaskPending: 1, archivist.TaskAssigned: 1, archivist.TaskInProgress: 1, archivist.TaskRetrying: 1,
		}
		if diff := cmp.Diff(want, nonZero(counts)); diff != "" {
			t.Errorf("CountTasks after purging (-want +got):\n%s", diff)
		}
		page, err := h.s.ListTasks(h.ctx(), archivist.TaskQuery{})
		if err != nil {
			t.Fatalf("ListTasks: %v", err)
		}
		if page.TotalCount != 4 || len(page.Tasks) != 4 {
			t.Errorf("ListTasks after purging: %d tasks, total %d; want 4", len(page.Tasks), page.TotalCount)
		}
	})
}
