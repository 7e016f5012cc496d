package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// step is one step of a test workflow: key and dependencies.
type step struct {
	key  string
	deps []string
}

// wfRegistry knows the one task type the workflow cases use.
var wfRegistry = func() *archivist.Registry {
	r := archivist.NewRegistry()
	r.RegisterFunc("t", func(context.Context, *archivist.Job) (json.RawMessage, error) { return nil, nil })
	return r
}()

// workflow submits a workflow of steps (each of type t, no retries) with
// policy and returns it and its tasks by step key.
func (h *fixture) workflow(name string, policy archivist.WorkflowFailurePolicy, steps ...step) (*archivist.Workflow, map[string]*archivist.Task) {
	h.t.Helper()
	w, tasks := h.buildWorkflow(name, policy, steps...)
	if err := h.s.CreateWorkflow(h.ctx(), w, tasks); err != nil {
		h.t.Fatalf("CreateWorkflow(%s): %v", name, err)
	}
	byKey := map[string]*archivist.Task{}
	for _, task := range tasks {
		byKey[task.StepKey] = task
	}
	return w, byKey
}

func (h *fixture) buildWorkflow(name string, policy archivist.WorkflowFailurePolicy, steps ...step) (*archivist.Workflow, []*archivist.Task) {
	h.t.Helper()
	spec := archivist.WorkflowSpec{Name: name, OnFailure: policy, Metadata: json.RawMessage(`{"campaign":"c-1","big":12345678901234567890}`)}
	zero := 0
	for _, s := range steps {
		spec.Steps = append(spec.Steps, archivist.WorkflowStepSpec{Key: s.key, DependsOn: s.deps,
			Task: archivist.TaskSpec{Type: "t", Input: json.RawMessage(`{"step":"` + s.key + `"}`), MaxRetries: &zero}})
	}
	w, tasks, err := archivist.NewWorkflow(spec, wfRegistry, archivist.DefaultConfig(), time.Now())
	if err != nil {
		h.t.Fatalf("NewWorkflow(%s): %v", name, err)
	}
	return w, tasks
}

func (h *fixture) getWorkflow(id string) *archivist.Workflow {
	h.t.Helper()
	w, err := h.s.GetWorkflow(h.ctx(), id)
	if err != nil {
		h.t.Fatalf("GetWorkflow(%s): %v", id, err)
	}
	return w
}

// wantSteps checks the status of each step's task and of the step in the
// workflow's record (PENDING there stands for anything from released to
// running).
func (h *fixture) wantSteps(w *archivist.Workflow, want map[string]archivist.TaskStatus) *archivist.Workflow {
	h.t.Helper()
	got := h.getWorkflow(w.ID)
	for key, st := range want {
		s := got.Step(key)
		if s == nil {
			h.t.Errorf("workflow %s has no step %s", w.ID, key)
			continue
		}
		task := h.get(s.TaskID)
		if task.Status != st {
			h.t.Errorf("step %s: task is %s, want %s", key, task.Status, st)
		}
		recorded := st
		switch st {
		case archivist.TaskAssigned, archivist.TaskInProgress, archivist.TaskRetrying:
			recorded = archivist.TaskPending
		}
		if s.Status != recorded {
			h.t.Errorf("step %s: the workflow records %s, want %s", key, s.Status, recorded)
		}
	}
	return got
}

// finish runs step task id to completion with result.
func (h *fixture) finish(id, result string) *archivist.Task {
	h.t.Helper()
	started := h.start("node-1", id)
	return h.complete(id, started.Attempt, result)
}

// testWorkflows: a workflow's steps wait (WAITING) until the steps they
// depend on completed and become PENDING in the transition that completes
// the last of them; a failed step fails the workflow by its policy;
// cancel, retry and steps added by a running step; all of it atomic and
// recorded.
func testWorkflows(t *testing.T, s suite) {
	diamond := []step{{"a", nil}, {"b", []string{"a"}}, {"c", []string{"a"}}, {"d", []string{"b", "c"}}}

	s.run(t, "CreateWaiting", func(t *testing.T, h *fixture) {
		sub := h.subscribe(0) // only what follows
		w, tasks := h.workflow("ingest", "", diamond...)
		got := h.wantSteps(w, map[string]archivist.TaskStatus{"a": archivist.TaskPending, "b": archivist.TaskWaiting,
			"c": archivist.TaskWaiting, "d": archivist.TaskWaiting})
		if got.Status != archivist.WorkflowRunning || got.OnFailure != archivist.FailFast || got.Name != "ingest" ||
			got.Seq == 0 || got.CreatedAt.IsZero() || !got.CompletedAt.IsZero() || got.Progress() != 0 {
			t.Errorf("new workflow: %+v", got)
		}
		if diff := cmp.Diff(json.RawMessage(`{"campaign":"c-1","big":12345678901234567890}`), got.Metadata, jsonValue); diff != "" ||
			!strings.Contains(string(got.Metadata), "12345678901234567890") {
			t.Errorf("metadata not kept as given: %s", got.Metadata)
		}
		if diff := cmp.Diff([]string{"b", "c"}, got.Step("d").DependsOn); diff != "" {
			t.Errorf("d depends on (-want +got):\n%s", diff)
		}
		for key, task := range tasks {
			stored := h.get(task.ID)
			if stored.WorkflowID != w.ID || stored.StepKey != key || stored.Seq == 0 {
				t.Errorf("step %s's task: workflow %q key %q seq %d", key, stored.WorkflowID, stored.StepKey, stored.Seq)
			}
		}
		if n := h.counts()[archivist.TaskWaiting]; n != 3 {
			t.Errorf("CountTasks counts %d WAITING, want 3", n)
		}
		waiting := h.list(archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskWaiting}}})
		if diff := cmp.Diff(slices.Sorted(slices.Values([]string{tasks["b"].ID, tasks["c"].ID, tasks["d"].ID})), slices.Sorted(slices.Values(ids(waiting.Tasks)))); diff != "" || waiting.TotalCount != 3 {
			t.Errorf("ListTasks of WAITING tasks (-want +got):\n%s", diff)
		}
		other, _ := h.workflow("other", "", step{"x", nil})
		steps := h.list(archivist.TaskQuery{TaskFilter: archivist.TaskFilter{WorkflowID: w.ID}})
		if steps.TotalCount != 4 || len(steps.Tasks) != 4 {
			t.Errorf("ListTasks of the workflow's steps: %d (%v), want 4", steps.TotalCount, ids(steps.Tasks))
		}
		if l := h.list(archivist.TaskQuery{TaskFilter: archivist.TaskFilter{WorkflowID: other.ID}}); l.TotalCount != 1 {
			t.Errorf("ListTasks of the other workflow: %d tasks", l.TotalCount)
		}
		if ready := h.ready(10); len(ready) != 2 {
			t.Errorf("ReadyTasks offers %v, want the two roots a and x only", ids(ready))
		}
		// Events: one task.created per step, then workflow.created.
		for range 4 {
			if ev := h.next(sub); ev.Type != archivist.EventTaskCreated || ev.Task.WorkflowID != w.ID {
				t.Fatalf("event %s, want task.created of a step", describe(ev))
			}
		}
		ev := h.next(sub)
		if ev.Type != archivist.EventWorkflowCreated || ev.Kind != archivist.EventWorkflow || ev.Workflow == nil ||
			ev.Workflow.ID != w.ID || len(ev.Workflow.Steps) != 4 {
			t.Fatalf("event %s, want workflow.created with the workflow", describe(ev))
		}
	})

	s.run(t, "ReleaseOnComplete", func(t *testing.T, h *fixture) {
		w, tasks := h.workflow("ingest", "", diamond...)
		seq := h.lastSeq()
		before := h.getWorkflow(w.ID)
		a := h.finish(tasks["a"].ID, `{"terms":["dragon"]}`)
		// Released in the transition that completed a: no ReadyTasks call
		// in between.
		got := h.wantSteps(w, map[string]archivist.TaskStatus{"a": archivist.TaskCompleted, "b": archivist.TaskPending,
			"c": archivist.TaskPending, "d": archivist.TaskWaiting})
		if got.Progress() != 0.25 {
			t.Errorf("progress %v after one of four steps, want 0.25", got.Progress())
		}
		if b := h.get(tasks["b"].ID); b.RunAt.Before(a.CompletedAt) || b.ReadySince().Before(a.CompletedAt) {
			t.Errorf("released step waits from %v, before its parent completed at %v", b.ReadySince(), a.CompletedAt)
		}
		sub := h.subscribe(seq)
		h.await(sub, "a started", taskEvent(archivist.EventTaskStarted, tasks["a"].ID))
		if ev := h.next(sub); ev.Type != archivist.EventTaskCompleted || ev.Task.ID != tasks["a"].ID {
			t.Fatalf("event %s, want task.completed of a", describe(ev))
		}
		var released []string
		for range 2 {
			ev := h.next(sub)
			if ev.Type != archivist.EventTaskReleased || ev.Task.Status != archivist.TaskPending {
				t.Fatalf("event %s, want task.released", describe(ev))
			}
			released = append(released, ev.Task.StepKey)
		}
		if diff := cmp.Diff([]string{"b", "c"}, slices.Sorted(slices.Values(released))); diff != "" {
			t.Errorf("released steps (-want +got):\n%s", diff)
		}
		ev := h.next(sub)
		if ev.Type != archivist.EventWorkflowUpdated || ev.Workflow == nil || ev.Workflow.Step("b") == nil ||
			ev.Workflow.Step("b").Status != archivist.TaskPending {
			t.Fatalf("event %s, want workflow.updated with b released", describe(ev))
		}
		// The update holds the steps that changed, not the others, and
		// merged into the workflow before it gives the workflow after.
		var changed []string
		for _, st := range ev.Workflow.Steps {
			changed = append(changed, st.Key)
		}
		if diff := cmp.Diff([]string{"a", "b", "c"}, changed); diff != "" {
			t.Errorf("steps in the workflow.updated event (-want +got):\n%s", diff)
		}
		if ev.Workflow.OnFailure != archivist.FailFast || ev.Workflow.Status != archivist.WorkflowRunning || ev.Workflow.Seq != w.Seq {
			t.Errorf("update's state: %+v", ev.Workflow)
		}
		merged := before.Clone()
		merged.Merge(ev.Workflow)
		if diff := cmp.Diff(got, merged, jsonValue); diff != "" {
			t.Errorf("the workflow before, merged with the update (-GetWorkflow +merged):\n%s", diff)
		}

		h.finish(tasks["b"].ID, `"b"`)
		h.wantSteps(w, map[string]archivist.TaskStatus{"d": archivist.TaskWaiting})
		h.finish(tasks["c"].ID, `"c"`)
		h.wantSteps(w, map[string]archivist.TaskStatus{"d": archivist.TaskPending})
		d := h.finish(tasks["d"].ID, `"d"`)
		got = h.getWorkflow(w.ID)
		if got.Status != archivist.WorkflowCompleted || !got.CompletedAt.Equal(d.CompletedAt) || got.Progress() != 1 || got.Error != "" {
			t.Errorf("after the last step: %s completed %v (d at %v) progress %v error %q; want COMPLETED when d completed",
				got.Status, got.CompletedAt, d.CompletedAt, got.Progress(), got.Error)
		}
		if res := h.get(tasks["a"].ID).Result; string(res) != `{"terms":["dragon"]}` {
			t.Errorf("a's result %s", res)
		}
	})

	s.run(t, "FailFast", func(t *testing.T, h *fixture) {
		w, tasks := h.workflow("ingest", archivist.FailFast,
			step{"a", nil}, step{"b", nil}, step{"c", []string{"a"}}, step{"d", []string{"b"}}, step{"e", nil})
		a := h.start("node-1", tasks["a"].ID)
		b := h.start("node-1", tasks["b"].ID)
		h.assign("node-2", tasks["e"].ID)
		h.fail(a.ID, a.Attempt, archivist.Failure{Error: "parser crashed", Permanent: true})
		got := h.wantSteps(w, map[string]archivist.TaskStatus{"a": archivist.TaskFailed, "b": archivist.TaskInProgress,
			"c": archivist.TaskCancelled, "d": archivist.TaskCancelled, "e": archivist.TaskCancelled})
		if got.Status != archivist.WorkflowFailed || !strings.Contains(got.Error, "a") || !strings.Contains(got.Error, "parser crashed") {
			t.Errorf("workflow %s with error %q; want FAILED naming step a and its error", got.Status, got.Error)
		}
		if !got.CompletedAt.IsZero() {
			t.Errorf("workflow completed at %v while b still runs", got.CompletedAt)
		}
		if task := h.get(b.ID); task.CancelRequested {
			t.Errorf("fail fast asked running step b to stop; it lets it finish")
		}
		if n := h.loads()["node-2"]; n != 0 {
			t.Errorf("node-2 still holds %d task(s) after e was cancelled", n)
		}
		done := h.complete(b.ID, b.Attempt, `"b"`)
		got = h.wantSteps(w, map[string]archivist.TaskStatus{"b": archivist.TaskCompleted, "d": archivist.TaskCancelled})
		if got.Status != archivist.WorkflowFailed || !got.CompletedAt.Equal(done.CompletedAt) {
			t.Errorf("after the last running step: %s completed %v, want FAILED at %v", got.Status, got.CompletedAt, done.CompletedAt)
		}
	})

	s.run(t, "RetryingIsNotFailed", func(t *testing.T, h *fixture) {
		w, tasks := h.buildWorkflow("ingest", "", step{"a", nil}, step{"b", []string{"a"}})
		tasks[0].MaxRetries = 1
		if err := h.s.CreateWorkflow(h.ctx(), w, tasks); err != nil {
			t.Fatal(err)
		}
		a := h.start("node-1", tasks[0].ID)
		h.fail(a.ID, a.Attempt, archivist.Failure{Error: "flaky", Retry: quickRetry})
		got := h.wantSteps(w, map[string]archivist.TaskStatus{"a": archivist.TaskRetrying, "b": archivist.TaskWaiting})
		if got.Status != archivist.WorkflowRunning {
			t.Errorf("a retrying step made the workflow %s", got.Status)
		}
		h.waitReady(a.ID)
		h.finish(a.ID, `1`)
		h.wantSteps(w, map[string]archivist.TaskStatus{"b": archivist.TaskPending})
	})

	s.run(t, "Continue", func(t *testing.T, h *fixture) {
		w, tasks := h.workflow("ingest", archivist.ContinueOnFailure,
			step{"a", nil}, step{"b", nil}, step{"c", []string{"a"}}, step{"d", []string{"c"}}, step{"e", []string{"b"}})
		seq := h.lastSeq()
		a := h.start("node-1", tasks["a"].ID)
		h.fail(a.ID, a.Attempt, archivist.Failure{Error: "boom", Permanent: true})
		got := h.wantSteps(w, map[string]archivist.TaskStatus{"a": archivist.TaskFailed, "b": archivist.TaskPending,
			"c": archivist.TaskCancelled, "d": archivist.TaskCancelled, "e": archivist.TaskWaiting})
		if got.Status != archivist.WorkflowRunning {
			t.Errorf("CONTINUE workflow is %s after one failure, want RUNNING", got.Status)
		}
		ev := h.await(h.subscribe(seq), "c cancelled", taskEvent(archivist.EventTaskCancelled, tasks["c"].ID))
		if !strings.Contains(ev.Detail, "a") {
			t.Errorf("c cancelled with detail %q; want the reason (step a)", ev.Detail)
		}
		h.finish(tasks["b"].ID, `"b"`)
		h.wantSteps(w, map[string]archivist.TaskStatus{"e": archivist.TaskPending})
		h.finish(tasks["e"].ID, `"e"`)
		got = h.getWorkflow(w.ID)
		if got.Status != archivist.WorkflowFailed || got.CompletedAt.IsZero() || got.Error == "" {
			t.Errorf("CONTINUE workflow once nothing is left: %s completed %v error %q; want FAILED, ended, with an error",
				got.Status, got.CompletedAt, got.Error)
		}
	})

	s.run(t, "StepCancelledOrTimedOut", func(t *testing.T, h *fixture) {
		// Ending a step by cancelling it, or by its lease running out,
		// applies the same rules as a failure.
		w, tasks := h.workflow("ingest", "", step{"a", nil}, step{"b", []string{"a"}})
		h.cancel(tasks["a"].ID)
		got := h.wantSteps(w, map[string]archivist.TaskStatus{"a": archivist.TaskCancelled, "b": archivist.TaskCancelled})
		if got.Status != archivist.WorkflowFailed || got.CompletedAt.IsZero() {
			t.Errorf("workflow after its root was cancelled: %s completed %v, want FAILED and ended", got.Status, got.CompletedAt)
		}

		// A WAITING step can be cancelled too: with FAIL_FAST that fails
		// the workflow, and the root that has not started is cancelled.
		w3, tasks3 := h.workflow("waiting", "", step{"a", nil}, step{"b", []string{"a"}})
		if got := h.cancel(tasks3["b"].ID); got.Status != archivist.TaskCancelled {
			t.Errorf("cancelled WAITING step is %s", got.Status)
		}
		got = h.wantSteps(w3, map[string]archivist.TaskStatus{"a": archivist.TaskCancelled, "b": archivist.TaskCancelled})
		if got.Status != archivist.WorkflowFailed || h.counts()[archivist.TaskWaiting] != 0 {
			t.Errorf("workflow after its WAITING step was cancelled: %s, %d WAITING", got.Status, h.counts()[archivist.TaskWaiting])
		}

		_, current := h.staleLease()
		w2, tasks2 := h.buildWorkflow("timeouts", "", step{"a", nil}, step{"b", []string{"a"}})
		tasks2[0].Timeout = 60 * time.Millisecond
		if err := h.s.CreateWorkflow(h.ctx(), w2, tasks2); err != nil {
			t.Fatal(err)
		}
		if _, err := h.s.ClaimTask(h.ctx(), "node-2", tasks2[0].ID, 0); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, waitLimit, func() bool {
			if _, err := h.s.RecoverExpired(h.ctx(), current, slowRetry); err != nil {
				t.Fatalf("RecoverExpired: %v", err)
			}
			return h.get(tasks2[0].ID).Status == archivist.TaskTimedOut
		}, "the step's lease runs out")
		got = h.wantSteps(w2, map[string]archivist.TaskStatus{"b": archivist.TaskCancelled})
		if got.Status != archivist.WorkflowFailed {
			t.Errorf("workflow after its step timed out: %s", got.Status)
		}
	})

	s.run(t, "CancelWorkflow", func(t *testing.T, h *fixture) {
		w, tasks := h.workflow("ingest", "", step{"a", nil}, step{"b", []string{"a"}}, step{"c", nil})
		a := h.start("node-1", tasks["a"].ID)
		got, err := h.s.CancelWorkflow(h.ctx(), w.ID)
		if err != nil {
			t.Fatalf("CancelWorkflow: %v", err)
		}
		if got.Status != archivist.WorkflowCancelled || !got.CompletedAt.IsZero() {
			t.Errorf("cancelled workflow with a running step: %s completed %v; want CANCELLED, not ended", got.Status, got.CompletedAt)
		}
		h.wantSteps(w, map[string]archivist.TaskStatus{"b": archivist.TaskCancelled, "c": archivist.TaskCancelled})
		if task := h.get(a.ID); task.Status != archivist.TaskInProgress || !task.CancelRequested {
			t.Errorf("running step a: %s cancel requested %v; want asked to stop", task.Status, task.CancelRequested)
		}
		_, err = h.s.CancelWorkflow(h.ctx(), w.ID)
		h.wantCode(err, archivist.CodeConflict, "CancelWorkflow of a cancelled workflow")
		_, err = h.s.CancelWorkflow(h.ctx(), "no-such-workflow")
		h.wantCode(err, archivist.CodeNotFound, "CancelWorkflow of an unknown workflow")
		h.fail(a.ID, a.Attempt, archivist.Failure{Error: "stopped", Cancelled: true})
		got = h.getWorkflow(w.ID)
		if got.Status != archivist.WorkflowCancelled || got.CompletedAt.IsZero() {
			t.Errorf("once the running step stopped: %s completed %v; want CANCELLED and ended", got.Status, got.CompletedAt)
		}
	})

	s.run(t, "RetryWorkflow", func(t *testing.T, h *fixture) {
		w, tasks := h.workflow("ingest", "",
			step{"a", nil}, step{"b", nil}, step{"c", []string{"a"}}, step{"d", []string{"b"}})
		b := h.finish(tasks["b"].ID, `"kept"`)
		a := h.start("node-1", tasks["a"].ID)
		_, err := h.s.RetryWorkflow(h.ctx(), w.ID)
		h.wantCode(err, archivist.CodeConflict, "RetryWorkflow of a RUNNING workflow")
		h.fail(a.ID, a.Attempt, archivist.Failure{Error: "boom", Permanent: true})
		h.wantSteps(w, map[string]archivist.TaskStatus{"d": archivist.TaskCancelled, "c": archivist.TaskCancelled})
		_, err = h.s.RetryTask(h.ctx(), a.ID)
		h.wantCode(err, archivist.CodeConflict, "RetryTask of a workflow step")

		seq := h.lastSeq()
		got, err := h.s.RetryWorkflow(h.ctx(), w.ID)
		if err != nil {
			t.Fatalf("RetryWorkflow: %v", err)
		}
		if got.Status != archivist.WorkflowRunning || got.Error != "" || !got.CompletedAt.IsZero() {
			t.Errorf("retried workflow: %s error %q completed %v", got.Status, got.Error, got.CompletedAt)
		}
		h.wantSteps(w, map[string]archivist.TaskStatus{"a": archivist.TaskPending, "b": archivist.TaskCompleted,
			"c": archivist.TaskWaiting, "d": archivist.TaskPending})
		if task := h.get(a.ID); task.Failures != 0 || task.Error != "" {
			t.Errorf("retried step a: failures %d error %q", task.Failures, task.Error)
		}
		if task := h.get(b.ID); string(task.Result) != `"kept"` || !task.CompletedAt.Equal(b.CompletedAt) {
			t.Errorf("completed step b changed: result %s", task.Result)
		}
		h.await(h.subscribe(seq), "workflow.updated", func(ev archivist.Event) bool {
			return ev.Type == archivist.EventWorkflowUpdated && ev.Workflow.ID == w.ID && ev.Workflow.Status == archivist.WorkflowRunning
		})
		h.finish(a.ID, `"a"`)
		h.finish(tasks["c"].ID, `"c"`)
		h.finish(tasks["d"].ID, `"d"`)
		if got := h.getWorkflow(w.ID); got.Status != archivist.WorkflowCompleted {
			t.Errorf("retried workflow ends %s, want COMPLETED", got.Status)
		}
		_, err = h.s.RetryWorkflow(h.ctx(), w.ID)
		h.wantCode(err, archivist.CodeConflict, "RetryWorkflow of a COMPLETED workflow")
	})

	s.run(t, "AddSteps", func(t *testing.T, h *fixture) {
		w, tasks := h.workflow("handouts", "", step{"scan", nil}, step{"index", []string{"scan"}})
		scan := h.start("node-1", tasks["scan"].ID)
		add := func(attempt int, steps ...step) (*archivist.Workflow, []*archivist.Task, error) {
			cur := h.getWorkflow(w.ID)
			var specs []archivist.WorkflowStepSpec
			for _, s := range steps {
				specs = append(specs, archivist.WorkflowStepSpec{Key: s.key, DependsOn: s.deps, Task: archivist.TaskSpec{Type: "t"}})
			}
			ws, ts, err := archivist.NewWorkflowSteps(cur, "scan", specs, wfRegistry, archivist.DefaultConfig(), time.Now())
			if err != nil {
				t.Fatalf("NewWorkflowSteps: %v", err)
			}
			got, err := h.s.AddWorkflowSteps(h.ctx(), scan.ID, attempt, ws, ts)
			return got, ts, err
		}
		got, added, err := add(scan.Attempt, step{"thumb-1", nil}, step{"thumb-2", []string{"scan"}})
		if err != nil {
			t.Fatalf("AddWorkflowSteps: %v", err)
		}
		if len(got.Steps) != 4 || !slices.Equal(got.Step("index").DependsOn, []string{"scan", "thumb-1", "thumb-2"}) {
			t.Errorf("after adding: %d steps, index depends on %v", len(got.Steps), got.Step("index").DependsOn)
		}
		h.wantSteps(w, map[string]archivist.TaskStatus{"thumb-1": archivist.TaskPending, "thumb-2": archivist.TaskWaiting,
			"index": archivist.TaskWaiting})
		if by := got.Step("thumb-2").AddedBy; by != "scan" || got.Step("index").AddedBy != "" {
			t.Errorf("added step's AddedBy %q (index's %q), want scan (and none)", by, got.Step("index").AddedBy)
		}
		if stored := h.getWorkflow(w.ID).Step("thumb-1"); stored.AddedBy != "scan" {
			t.Errorf("stored added step's AddedBy %q, want scan", stored.AddedBy)
		}
		if task := h.get(added[0].ID); task.WorkflowID != w.ID || task.StepKey != "thumb-1" {
			t.Errorf("added step's task: workflow %q key %q", task.WorkflowID, task.StepKey)
		}
		// A retried attempt adds the same steps again: nothing changes.
		before := h.list(archivist.TaskQuery{}).TotalCount
		if _, _, err := add(scan.Attempt, step{"thumb-1", nil}); err != nil {
			t.Errorf("adding an existing key again: %v", err)
		}
		if n := h.list(archivist.TaskQuery{}).TotalCount; n != before {
			t.Errorf("adding an existing key again stored %d more task(s)", n-before)
		}
		_, _, err = add(scan.Attempt+1, step{"late", nil})
		h.wantCode(err, archivist.CodeConflict, "AddWorkflowSteps of a stale attempt")
		_, _, err = add(scan.Attempt, step{"bad", []string{"index"}})
		h.wantCode(err, archivist.CodeBadUserInput, "an added step depending on a step that waits")
		plain := h.running("node-1", newTask("plain", "t", archivist.PriorityNormal))
		_, err = h.s.AddWorkflowSteps(h.ctx(), plain.ID, plain.Attempt, nil, nil)
		if err == nil {
			t.Errorf("AddWorkflowSteps from a task that is no step succeeded")
		}

		h.finish(added[0].ID, `"t1"`)
		h.wantSteps(w, map[string]archivist.TaskStatus{"index": archivist.TaskWaiting})
		h.complete(scan.ID, scan.Attempt, `["h1.png","h2.png"]`)
		h.wantSteps(w, map[string]archivist.TaskStatus{"thumb-2": archivist.TaskPending, "index": archivist.TaskWaiting})
		h.finish(added[1].ID, `"t2"`)
		h.wantSteps(w, map[string]archivist.TaskStatus{"index": archivist.TaskPending})
		h.finish(tasks["index"].ID, `"page"`)
		if got := h.getWorkflow(w.ID); got.Status != archivist.WorkflowCompleted || len(got.Steps) != 4 {
			t.Errorf("fanned-out workflow ends %s with %d steps", got.Status, len(got.Steps))
		}
	})

	s.run(t, "CreateValidation", func(t *testing.T, h *fixture) {
		w, tasks := h.buildWorkflow("x", "", step{"a", nil}, step{"b", []string{"a"}})
		err := h.s.CreateWorkflow(h.ctx(), w, tasks[:1])
		h.wantCode(err, archivist.CodeBadUserInput, "CreateWorkflow with a task missing")
		if n := h.list(archivist.TaskQuery{}).TotalCount; n != 0 {
			t.Errorf("a refused workflow stored %d task(s)", n)
		}
		if err := h.s.CreateWorkflow(h.ctx(), w, tasks); err != nil {
			t.Fatal(err)
		}
		again, againTasks := h.buildWorkflow("y", "", step{"a", nil})
		againTasks[0].ID = tasks[0].ID
		again.Steps[0].TaskID = tasks[0].ID
		err = h.s.CreateWorkflow(h.ctx(), again, againTasks)
		h.wantCode(err, archivist.CodeConflict, "CreateWorkflow with a task id taken")
		if _, err := h.s.GetWorkflow(h.ctx(), again.ID); !archivist.IsCode(err, archivist.CodeNotFound) {
			t.Errorf("a refused workflow is there: %v", err)
		}
	})

	s.run(t, "ListWorkflows", func(t *testing.T, h *fixture) {
		var made []string
		for _, name := range []string{"session 1", "session 2", "handouts"} {
			w, _ := h.workflow(name, "", step{"a", nil})
			made = append(made, w.ID)
		}
		first, err := h.s.ListWorkflows(h.ctx(), archivist.WorkflowQuery{First: 2})
		if err != nil {
			t.Fatal(err)
		}
		if first.TotalCount != 3 || !first.HasNext || len(first.Workflows) != 2 ||
			first.Workflows[0].ID != made[2] || first.Workflows[1].ID != made[1] {
			t.Fatalf("first page: total %d next %v %v; want the two newest of 3", first.TotalCount, first.HasNext, wfIDs(first.Workflows))
		}
		second, err := h.s.ListWorkflows(h.ctx(), archivist.WorkflowQuery{First: 2, After: first.EndCursor})
		if err != nil || len(second.Workflows) != 1 || second.Workflows[0].ID != made[0] || second.HasNext {
			t.Fatalf("second page: %v next %v err %v", wfIDs(second.Workflows), second.HasNext, err)
		}
		search, _ := h.s.ListWorkflows(h.ctx(), archivist.WorkflowQuery{WorkflowFilter: archivist.WorkflowFilter{Search: "SESSION"}})
		if search.TotalCount != 2 {
			t.Errorf("search SESSION: %d workflows, want 2", search.TotalCount)
		}
		if _, err := h.s.CancelWorkflow(h.ctx(), made[1]); err != nil {
			t.Fatal(err)
		}
		byStatus, _ := h.s.ListWorkflows(h.ctx(), archivist.WorkflowQuery{WorkflowFilter: archivist.WorkflowFilter{
			Status: []archivist.WorkflowStatus{archivist.WorkflowCancelled}}})
		if byStatus.TotalCount != 1 || byStatus.Workflows[0].ID != made[1] {
			t.Errorf("CANCELLED workflows: %v", wfIDs(byStatus.Workflows))
		}
		_, err = h.s.ListWorkflows(h.ctx(), archivist.WorkflowQuery{After: "not-a-cursor"})
		h.wantCode(err, archivist.CodeBadUserInput, "ListWorkflows with a bad cursor")
		_, err = h.s.GetWorkflow(h.ctx(), "nope")
		h.wantCode(err, archivist.CodeNotFound, "GetWorkflow of an unknown id")
	})

	s.run(t, "Purge", func(t *testing.T, h *fixture) {
		done, doneTasks := h.workflow("done", "", step{"a", nil}, step{"b", []string{"a"}})
		h.finish(doneTasks["a"].ID, `1`)
		h.finish(doneTasks["b"].ID, `2`)
		running, runningTasks := h.workflow("running", "", step{"a", nil}, step{"b", []string{"a"}})
		h.finish(runningTasks["a"].ID, `1`)
		if _, err := h.s.PurgeFinished(h.ctx(), time.Now().Add(time.Hour), time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("PurgeFinished: %v", err)
		}
		_, err := h.s.GetWorkflow(h.ctx(), done.ID)
		h.wantCode(err, archivist.CodeNotFound, "GetWorkflow of a purged workflow")
		_, err = h.s.GetTask(h.ctx(), doneTasks["b"].ID)
		h.wantCode(err, archivist.CodeNotFound, "GetTask of a purged workflow's step")
		h.getWorkflow(running.ID)
		if task := h.get(runningTasks["a"].ID); task.Status != archivist.TaskCompleted {
			t.Errorf("completed step of a running workflow: %s", task.Status)
		}
	})
}

func wfIDs(ws []*archivist.Workflow) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.ID)
	}
	return out
}
