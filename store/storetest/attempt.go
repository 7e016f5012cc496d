package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
)

// checkStarted fails unless task is attempt n running on node with a lease
// of its timeout plus g.
func checkStarted(t *testing.T, task *archivist.Task, node string, n int, g time.Duration, before, after time.Time) {
	t.Helper()
	if task.Status != archivist.TaskInProgress || task.NodeID != node || task.Attempt != n {
		t.Errorf("task %s: %s on %q attempt %d, want IN_PROGRESS on %s attempt %d",
			task.ID, task.Status, task.NodeID, task.Attempt, node, n)
	}
	if !near(task.StartedAt, before, after) {
		t.Errorf("task %s: StartedAt %v, want about now", task.ID, task.StartedAt)
	}
	if d := task.LeaseUntil.Sub(task.StartedAt); !within(d, task.Timeout+g, task.Timeout+g) {
		t.Errorf("task %s: lease of %s after the start (LeaseUntil %v), want timeout %s + grace %s",
			task.ID, d, task.LeaseUntil, task.Timeout, g)
	}
}

func testClaim(t *testing.T, s suite) {
	s.run(t, "ClaimTasks", func(t *testing.T, h *fixture) {
		specs := []*archivist.Task{
			newTask("a", "t", archivist.PriorityNormal),
			newTask("b", "t", archivist.PriorityHigh),
			newTask("c", "t", archivist.PriorityNormal),
			newTask("d", "t", archivist.PriorityLow),
			newTask("elsewhere", "t", archivist.PriorityCritical),
		}
		specs[0].Timeout = 20 * time.Second
		specs[1].Timeout = 3 * time.Second
		h.create(specs...)
		h.assign("node-1", "a", "b", "c", "d")
		h.assign("node-2", "elsewhere")
		if zero, err := h.s.ClaimTasks(h.ctx(), "node-1", 0, grace); err != nil || len(zero) != 0 {
			t.Errorf("ClaimTasks(node-1, limit 0) with tasks assigned: %v, %v; want none", ids(zero), err)
		}

		before := time.Now()
		got, err := h.s.ClaimTasks(h.ctx(), "node-1", 2, 1500*time.Millisecond)
		after := time.Now()
		if err != nil {
			t.Fatalf("ClaimTasks: %v", err)
		}
		if diff := cmp.Diff([]string{"b", "a"}, ids(got)); diff != "" {
			t.Fatalf("ClaimTasks(node-1, 2) (-want +got):\n%s", diff)
		}
		for _, task := range got {
			checkStarted(t, task, "node-1", 1, 1500*time.Millisecond, before, after)
			h.checkStored("ClaimTasks", task)
		}

		rest, err := h.s.ClaimTasks(h.ctx(), "node-1", 10, grace)
		if err != nil {
			t.Fatalf("ClaimTasks: %v", err)
		}
		if diff := cmp.Diff([]string{"c", "d"}, ids(rest)); diff != "" {
			t.Errorf("second ClaimTasks(node-1) (-want +got):\n%s", diff)
		}
		for _, node := range []string{"node-1", "node-3"} {
			none, err := h.s.ClaimTasks(h.ctx(), node, 10, grace)
			if err != nil || len(none) != 0 {
				t.Errorf("ClaimTasks(%s) with nothing assigned to it: %v, %v", node, ids(none), err)
			}
		}
		if got := h.get("elsewhere"); got.Status != archivist.TaskAssigned || got.NodeID != "node-2" {
			t.Errorf("node-2's task: %s on %q, want still ASSIGNED on node-2", got.Status, got.NodeID)
		}
	})

	s.run(t, "ClaimTask", func(t *testing.T, h *fixture) {
		h.create(
			newTask("pending", "t", archivist.PriorityLow),
			newTask("mine", "t", archivist.PriorityNormal),
			newTask("theirs", "t", archivist.PriorityNormal),
		)
		h.assign("node-1", "mine")
		h.assign("node-2", "theirs")

		before := time.Now()
		got, err := h.s.ClaimTask(h.ctx(), "node-1", "pending", 2*time.Second)
		after := time.Now()
		if err != nil {
			t.Fatalf("ClaimTask of a PENDING task: %v", err)
		}
		checkStarted(t, got, "node-1", 1, 2*time.Second, before, after)
		h.checkStored("ClaimTask", got)

		before = time.Now()
		got, err = h.s.ClaimTask(h.ctx(), "node-1", "mine", grace)
		after = time.Now()
		if err != nil {
			t.Fatalf("ClaimTask of a task assigned to the node: %v", err)
		}
		checkStarted(t, got, "node-1", 1, grace, before, after)

		snap := h.snapshot("pending", "theirs")
		_, err = h.s.ClaimTask(h.ctx(), "node-1", "pending", grace)
		h.wantCode(err, archivist.CodeConflict, "ClaimTask of a task already IN_PROGRESS")
		_, err = h.s.ClaimTask(h.ctx(), "node-1", "theirs", grace)
		h.wantCode(err, archivist.CodeConflict, "ClaimTask of a task assigned to another node")
		h.unchanged("refused ClaimTask", snap)
		_, err = h.s.ClaimTask(h.ctx(), "node-1", "no-such-task", grace)
		h.wantCode(err, archivist.CodeNotFound, "ClaimTask of an unknown id")

		h.complete("mine", 1, `{}`)
		_, err = h.s.ClaimTask(h.ctx(), "node-1", "mine", grace)
		h.wantCode(err, archivist.CodeConflict, "ClaimTask of a COMPLETED task")
	})
}

func testFencing(t *testing.T, s suite) {
	s.run(t, "CompleteCurrentAttempt", func(t *testing.T, h *fixture) {
		h.running("node-1", newTask("job", "t", archivist.PriorityNormal))
		if err := h.s.ReportProgress(h.ctx(), "job", 1, 0.5, "half way"); err != nil {
			t.Fatalf("ReportProgress: %v", err)
		}
		if got := h.get("job"); got.Progress != 0.5 || got.ProgressMessage != "half way" {
			t.Errorf("after ReportProgress: progress %v %q, want 0.5 \"half way\"", got.Progress, got.ProgressMessage)
		}

		before := time.Now()
		got := h.complete("job", 1, `{"answer":42}`)
		after := time.Now()
		if got.Status != archivist.TaskCompleted || got.Attempt != 1 {
			t.Errorf("completed task: %s attempt %d", got.Status, got.Attempt)
		}
		if diff := cmp.Diff(json.RawMessage(`{"answer":42}`), got.Result, jsonValue); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		if !near(got.CompletedAt, before, after) {
			t.Errorf("CompletedAt %v, want about now", got.CompletedAt)
		}
		h.checkStored("CompleteTask", got)

		snap := h.snapshot("job")
		_, err := h.s.CompleteTask(h.ctx(), "job", 1, json.RawMessage(`"again"`))
		h.wantCode(err, archivist.CodeConflict, "completing an attempt twice")
		_, err = h.s.FailTask(h.ctx(), "job", 1, archivist.Failure{Error: "late"})
		h.wantCode(err, archivist.CodeConflict, "failing a completed attempt")
		err = h.s.ReportProgress(h.ctx(), "job", 1, 0.9, "late")
		h.wantCode(err, archivist.CodeConflict, "progress of a completed attempt")
		_, err = h.s.ReleaseTask(h.ctx(), "job", 1)
		h.wantCode(err, archivist.CodeConflict, "releasing a completed attempt")
		h.unchanged("reports after completion", snap)
	})

	s.run(t, "WrongAttempt", func(t *testing.T, h *fixture) {
		h.create(newTask("idle", "t", archivist.PriorityNormal))
		_, err := h.s.CompleteTask(h.ctx(), "idle", 0, json.RawMessage(`1`))
		h.wantCode(err, archivist.CodeConflict, "completing a PENDING task (attempt 0)")

		h.running("node-1", newTask("job", "t", archivist.PriorityNormal))
		snap := h.snapshot("idle", "job")
		for _, n := range []int{0, 2} {
			_, err := h.s.CompleteTask(h.ctx(), "job", n, json.RawMessage(`1`))
			h.wantCode(err, archivist.CodeConflict, "completing attempt other than the current 1")
			err = h.s.ReportProgress(h.ctx(), "job", n, 0.5, "x")
			h.wantCode(err, archivist.CodeConflict, "progress of an attempt other than the current 1")
		}
		h.unchanged("reports of wrong attempts", snap)

		_, err = h.s.CompleteTask(h.ctx(), "no-such-task", 1, json.RawMessage(`1`))
		h.wantCode(err, archivist.CodeNotFound, "CompleteTask of an unknown id")
	})

	s.run(t, "StaleAttempt", func(t *testing.T, h *fixture) {
		h.create(newTask("job", "t", archivist.PriorityNormal))
		h.assign("node-1", "job")
		first := h.start("node-1", "job")
		if first.Attempt != 1 {
			t.Fatalf("first claim is attempt %d", first.Attempt)
		}
		if _, err := h.s.RequeueNode(h.ctx(), h.lead(), "node-1"); err != nil {
			t.Fatalf("RequeueNode: %v", err)
		}
		_, err := h.s.CompleteTask(h.ctx(), "job", 1, json.RawMessage(`"late"`))
		h.wantCode(err, archivist.CodeConflict, "completing a requeued attempt")

		h.assign("node-2", "job")
		// The old attempt's node may still be alive: while the task waits on
		// node-2, none of its reports may touch it.
		waiting := h.snapshot("job")
		_, err = h.s.ReleaseTask(h.ctx(), "job", 1)
		h.wantCode(err, archivist.CodeConflict, "ReleaseTask of attempt 1 after the task was requeued and assigned to node-2")
		_, err = h.s.FailTask(h.ctx(), "job", 1, archivist.Failure{Error: "late", Permanent: true})
		h.wantCode(err, archivist.CodeConflict, "FailTask of attempt 1 after the task was requeued and assigned to node-2")
		err = h.s.ReportProgress(h.ctx(), "job", 1, 0.5, "late")
		h.wantCode(err, archivist.CodeConflict, "ReportProgress of attempt 1 after the task was requeued and assigned to node-2")
		h.unchanged("reports of an old attempt while the task is assigned elsewhere", waiting)

		second := h.start("node-2", "job")
		if second.Attempt != 2 {
			t.Fatalf("claim after requeue is attempt %d, want 2", second.Attempt)
		}
		if err := h.s.ReportProgress(h.ctx(), "job", 2, 0.25, "second try"); err != nil {
			t.Fatalf("ReportProgress of attempt 2: %v", err)
		}
		snap := h.snapshot("job")

		_, err = h.s.CompleteTask(h.ctx(), "job", 1, json.RawMessage(`"late"`))
		h.wantCode(err, archivist.CodeConflict, "CompleteTask of attempt 1 while 2 runs")
		err = h.s.ReportProgress(h.ctx(), "job", 1, 0.75, "late")
		h.wantCode(err, archivist.CodeConflict, "ReportProgress of attempt 1 while 2 runs")
		_, err = h.s.FailTask(h.ctx(), "job", 1, archivist.Failure{Error: "late", Permanent: true})
		h.wantCode(err, archivist.CodeConflict, "FailTask of attempt 1 while 2 runs")
		_, err = h.s.ReleaseTask(h.ctx(), "job", 1)
		h.wantCode(err, archivist.CodeConflict, "ReleaseTask of attempt 1 while 2 runs")
		h.unchanged("stale reports", snap)
		if got := h.get("job"); got.Progress != 0.25 || got.ProgressMessage != "second try" || got.NodeID != "node-2" {
			t.Errorf("attempt 2's state lost: progress %v %q on %q", got.Progress, got.ProgressMessage, got.NodeID)
		}

		done := h.complete("job", 2, `"fresh"`)
		if done.Status != archivist.TaskCompleted || string(done.Result) != `"fresh"` {
			t.Errorf("completing attempt 2: %s with result %s", done.Status, done.Result)
		}
	})
}

func testFailTask(t *testing.T, s suite) {
	s.run(t, "RetriesThenFails", func(t *testing.T, h *fixture) {
		spec := newTask("flaky", "t", archivist.PriorityNormal)
		spec.MaxRetries = 2
		h.running("node-1", spec)

		policy := archivist.RetryPolicy{Base: 300 * time.Millisecond, Max: 300 * time.Millisecond}
		got := h.fail("flaky", 1, archivist.Failure{Error: "boom 1", Retry: policy})
		if got.Status != archivist.TaskRetrying || got.Failures != 1 || got.Error != "boom 1" {
			t.Errorf("after the first failure: %s, failures %d, error %q; want RETRYING, 1, \"boom 1\"",
				got.Status, got.Failures, got.Error)
		}
		// Backoff(1, 300ms, 300ms) lies in [150ms, 300ms].
		if d := got.RunAt.Sub(got.UpdatedAt); !within(d, 150*time.Millisecond, 300*time.Millisecond) {
			t.Errorf("RunAt %v is %s after the failure (UpdatedAt %v), want 150ms to 300ms",
				got.RunAt, d, got.UpdatedAt)
		}
		h.checkStored("FailTask", got)
		// While the backoff runs (by the test's clock, with a margin), the
		// task is not offered.
		if time.Until(got.RunAt) > 100*time.Millisecond {
			for _, r := range h.ready(100) {
				if r.ID == "flaky" {
					t.Errorf("ReadyTasks offers the task %s before its RunAt %v", time.Until(got.RunAt), got.RunAt)
				}
			}
		}
		if r := h.waitReady("flaky"); r.Status != archivist.TaskPending || r.Failures != 1 {
			t.Errorf("task offered after its backoff: %s with failures %d, want PENDING with 1", r.Status, r.Failures)
		}
		h.wantStatus("flaky", archivist.TaskPending)

		if got := h.start("node-1", "flaky"); got.Attempt != 2 {
			t.Errorf("second run is attempt %d", got.Attempt)
		}
		if got := h.fail("flaky", 2, archivist.Failure{Error: "boom 2", Retry: quickRetry}); got.Status != archivist.TaskRetrying || got.Failures != 2 {
			t.Errorf("after the second failure: %s with failures %d, want RETRYING with 2", got.Status, got.Failures)
		}
		h.waitReady("flaky")
		if got := h.start("node-2", "flaky"); got.Attempt != 3 {
			t.Errorf("third run is attempt %d", got.Attempt)
		}
		got = h.fail("flaky", 3, archivist.Failure{Error: "boom 3", Retry: quickRetry})
		if got.Status != archivist.TaskFailed || got.Failures != 3 || got.Error != "boom 3" {
			t.Errorf("after MaxRetries+1 failures: %s, failures %d, error %q; want FAILED, 3, \"boom 3\"",
				got.Status, got.Failures, got.Error)
		}
		if got.CompletedAt.IsZero() {
			t.Errorf("FAILED task has no CompletedAt")
		}
		h.checkStored("FailTask", got)
		time.Sleep(2 * quickRetry.Max)
		for _, r := range h.ready(100) {
			if r.ID == "flaky" {
				t.Errorf("ReadyTasks offers a FAILED task")
			}
		}
	})

	final := []struct {
		name       string
		maxRetries int
		failure    archivist.Failure
		want       archivist.TaskStatus
	}{
		{"Permanent", 5, archivist.Failure{Error: "bad input", Permanent: true, Retry: quickRetry}, archivist.TaskFailed},
		{"RetryDisabled", 5, archivist.Failure{Error: "no luck", Retry: archivist.RetryPolicy{Disabled: true}}, archivist.TaskFailed},
		{"TimedOutLastAttempt", 0, archivist.Failure{Error: "deadline exceeded", TimedOut: true, Retry: quickRetry}, archivist.TaskTimedOut},
		{"TimedOutWithRetriesLeft", 1, archivist.Failure{Error: "deadline exceeded", TimedOut: true, Retry: slowRetry}, archivist.TaskRetrying},
		{"Cancelled", 5, archivist.Failure{Error: "cancelled", Cancelled: true, Retry: quickRetry}, archivist.TaskCancelled},
		{"NoRetriesLeft", 0, archivist.Failure{Error: "once only", Retry: quickRetry}, archivist.TaskFailed},
	}
	for _, c := range final {
		s.run(t, c.name, func(t *testing.T, h *fixture) {
			spec := newTask("job", "t", archivist.PriorityNormal)
			spec.MaxRetries = c.maxRetries
			h.running("node-1", spec)
			got := h.fail("job", 1, c.failure)
			if got.Status != c.want {
				t.Errorf("FailTask with %+v on a task with MaxRetries %d: %s, want %s", c.failure, c.maxRetries, got.Status, c.want)
			}
			if c.want != archivist.TaskCancelled && got.Error != c.failure.Error {
				t.Errorf("error %q, want %q", got.Error, c.failure.Error)
			}
			if c.want.Terminal() && got.CompletedAt.IsZero() {
				t.Errorf("%s task has no CompletedAt", got.Status)
			}
			h.checkStored("FailTask", got)
			if n := h.loads()["node-1"]; n != 0 {
				t.Errorf("node-1 still holds %d task(s) after the attempt ended", n)
			}
		})
	}

	s.run(t, "UnknownTask", func(t *testing.T, h *fixture) {
		_, err := h.s.FailTask(h.ctx(), "no-such-task", 1, archivist.Failure{Error: "x"})
		h.wantCode(err, archivist.CodeNotFound, "FailTask of an unknown id")
	})
}

func testReleaseTask(t *testing.T, s suite) {
	s.run(t, "BackToPending", func(t *testing.T, h *fixture) {
		spec := newTask("job", "t", archivist.PriorityNormal)
		spec.MaxRetries = 0
		h.running("node-1", spec)
		if err := h.s.ReportProgress(h.ctx(), "job", 1, 0.4, "working"); err != nil {
			t.Fatalf("ReportProgress: %v", err)
		}
		got, err := h.s.ReleaseTask(h.ctx(), "job", 1)
		if err != nil {
			t.Fatalf("ReleaseTask: %v", err)
		}
		if got.Status != archivist.TaskPending || got.Failures != 0 {
			t.Errorf("released task: %s with failures %d, want PENDING with 0", got.Status, got.Failures)
		}
		h.checkStored("ReleaseTask", got)
		h.waitReady("job")

		_, err = h.s.CompleteTask(h.ctx(), "job", 1, json.RawMessage(`1`))
		h.wantCode(err, archivist.CodeConflict, "completing a released attempt")
		_, err = h.s.ReleaseTask(h.ctx(), "job", 1)
		h.wantCode(err, archivist.CodeConflict, "releasing an attempt twice")

		// MaxRetries 0: a release is no failure, so the task runs again.
		if again := h.start("node-2", "job"); again.Attempt != 2 {
			t.Errorf("claim after release is attempt %d, want 2", again.Attempt)
		}
		_, err = h.s.ReleaseTask(h.ctx(), "job", 1)
		h.wantCode(err, archivist.CodeConflict, "releasing attempt 1 while 2 runs")
		h.wantStatus("job", archivist.TaskInProgress)
	})
}
