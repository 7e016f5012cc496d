package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
)

// testBulk: CancelTasks, RetryTasks and DeleteTasks change, in one step,
// the tasks of a batch they apply to and skip the others; BulkTasks walks
// every task a filter matches a batch at a time, also while the operation
// moves them out of the filter; PurgeFinished keeps failures for their own
// retention.
func testBulk(t *testing.T, s suite) {
	permanent := archivist.Failure{Error: "broken", Permanent: true}

	s.run(t, "CancelTasks", func(t *testing.T, h *fixture) {
		h.create(newTask("pending", "t", archivist.PriorityNormal), newTask("assigned", "t", archivist.PriorityNormal))
		later := newTask("scheduled", "t", archivist.PriorityNormal)
		later.Delay = time.Hour
		h.create(later)
		h.assign("node-1", "assigned")
		h.running("node-1", newTask("running", "t", archivist.PriorityNormal))
		h.running("node-1", newTask("done", "t", archivist.PriorityNormal))
		h.complete("done", 1, `1`)
		before := h.snapshot("done")
		sub := h.subscribe(h.lastSeq())

		n, err := h.s.CancelTasks(h.ctx(), []string{"pending", "assigned", "scheduled", "running", "done", "no-such-task"})
		if err != nil || n != 4 {
			t.Fatalf("CancelTasks: %d, %v; want 4 changed", n, err)
		}
		for _, id := range []string{"pending", "assigned", "scheduled"} {
			h.wantStatus(id, archivist.TaskCancelled)
			h.await(sub, "task.cancelled of "+id, taskEvent(archivist.EventTaskCancelled, id))
		}
		if got := h.wantStatus("running", archivist.TaskInProgress); !got.CancelRequested {
			t.Errorf("running task after CancelTasks: CancelRequested false, want true (asked to stop)")
		}
		h.await(sub, "task.cancel_requested of running", taskEvent(archivist.EventTaskCancelRequested, "running"))
		h.unchanged("CancelTasks", before)

		// Nothing is left to change: a second call changes nothing.
		if n, err := h.s.CancelTasks(h.ctx(), []string{"pending", "running", "done"}); err != nil || n != 0 {
			t.Errorf("second CancelTasks: %d, %v; want 0", n, err)
		}
		if diff := cmp.Diff(map[archivist.TaskStatus]int{archivist.TaskCancelled: 3, archivist.TaskInProgress: 1, archivist.TaskCompleted: 1},
			nonZero(h.counts())); diff != "" {
			t.Errorf("CountTasks after CancelTasks (-want +got):\n%s", diff)
		}
		if loads := h.loads(); loads["node-1"] != 1 {
			t.Errorf("node-1 holds %d tasks after CancelTasks, want 1 (the running one)", loads["node-1"])
		}
	})

	s.run(t, "RetryTasks", func(t *testing.T, h *fixture) {
		h.running("node-1", newTask("failed", "t", archivist.PriorityNormal))
		h.fail("failed", 1, permanent)
		h.running("node-1", newTask("timed-out", "t", archivist.PriorityNormal))
		h.fail("timed-out", 1, archivist.Failure{Error: "too slow", Permanent: true, TimedOut: true})
		h.create(newTask("cancelled", "t", archivist.PriorityNormal), newTask("pending", "t", archivist.PriorityNormal))
		h.cancel("cancelled")
		h.running("node-1", newTask("done", "t", archivist.PriorityNormal))
		h.complete("done", 1, `1`)
		_, steps := h.workflow("wf", "", step{"a", nil})
		step := steps["a"].ID
		h.start("node-1", step)
		h.fail(step, 1, permanent)
		h.wantStatus("timed-out", archivist.TaskTimedOut)
		before := h.snapshot("pending", "done", step)
		sub := h.subscribe(h.lastSeq())

		n, err := h.s.RetryTasks(h.ctx(), []string{"failed", "timed-out", "cancelled", "pending", "done", step, "no-such-task"})
		if err != nil || n != 3 {
			t.Fatalf("RetryTasks: %d, %v; want 3 retried", n, err)
		}
		for _, id := range []string{"failed", "timed-out", "cancelled"} {
			got := h.wantStatus(id, archivist.TaskPending)
			if got.Failures != 0 || !got.CompletedAt.IsZero() {
				t.Errorf("retried %s: failures %d, completedAt %v; want 0 and zero", id, got.Failures, got.CompletedAt)
			}
			h.await(sub, "task.retried of "+id, taskEvent(archivist.EventTaskRetried, id))
		}
		h.unchanged("RetryTasks", before)
		ready := h.ready(10)
		if diff := cmp.Diff([]string{"cancelled", "failed", "pending", "timed-out"}, sortedIDs(ready)); diff != "" {
			t.Errorf("ready tasks after RetryTasks (-want +got):\n%s", diff)
		}
	})

	s.run(t, "DeleteTasks", func(t *testing.T, h *fixture) {
		h.running("node-1", newTask("done", "t", archivist.PriorityNormal))
		h.complete("done", 1, `1`)
		h.running("node-1", newTask("failed", "t", archivist.PriorityNormal))
		h.fail("failed", 1, permanent)
		keyed := newTask("keyed", "t", archivist.PriorityNormal)
		keyed.UniqueKey, keyed.UniqueFor = "report-1", time.Hour
		h.create(keyed, newTask("pending", "t", archivist.PriorityNormal))
		h.cancel("keyed")
		_, steps := h.workflow("wf", "", step{"a", nil})
		step := steps["a"].ID
		h.start("node-1", step)
		h.complete(step, 1, `1`)
		before := h.snapshot("pending", step)

		n, err := h.s.DeleteTasks(h.ctx(), []string{"done", "failed", "keyed", "pending", step, "no-such-task", "done"})
		if err != nil || n != 3 {
			t.Fatalf("DeleteTasks: %d, %v; want 3 deleted", n, err)
		}
		for _, id := range []string{"done", "failed", "keyed"} {
			_, err := h.s.GetTask(h.ctx(), id)
			h.wantCode(err, archivist.CodeNotFound, "GetTask of a deleted task")
		}
		h.unchanged("DeleteTasks", before)
		if diff := cmp.Diff(map[archivist.TaskStatus]int{archivist.TaskPending: 1, archivist.TaskCompleted: 1}, nonZero(h.counts())); diff != "" {
			t.Errorf("CountTasks after DeleteTasks (-want +got):\n%s", diff)
		}
		page, err := h.s.ListTasks(h.ctx(), archivist.TaskQuery{})
		if err != nil {
			t.Fatalf("ListTasks: %v", err)
		}
		if diff := cmp.Diff(sortedIDs([]*archivist.Task{{ID: "pending"}, {ID: step}}), sortedIDs(page.Tasks)); diff != "" || page.TotalCount != 2 {
			t.Errorf("ListTasks after DeleteTasks: total %d (-want +got):\n%s", page.TotalCount, diff)
		}
		// The deleted task's unique key went with it.
		again := newTask("", "t", archivist.PriorityNormal)
		again.UniqueKey = "report-1"
		h.create(again)
		if again.Duplicate {
			t.Errorf("a task with the key of a deleted task is a duplicate of %s; want it created", again.ID)
		}
	})

	s.run(t, "WalkWhileStatusChanges", func(t *testing.T, h *fixture) {
		// More than two batches of PENDING tasks of type a, among others:
		// cancelling them moves each out of the filter (status PENDING)
		// behind the cursor; each must be met once, none missed.
		const nA = 2*archivist.MaxBulkBatch + 37
		var specs []*archivist.Task
		for i := range nA + 300 {
			typ := "a"
			if i%5 == 4 && i >= nA/2 {
				typ = "b"
			}
			specs = append(specs, newTask(fmt.Sprintf("t%04d", i), typ, archivist.Priority([]archivist.Priority{
				archivist.PriorityLow, archivist.PriorityNormal, archivist.PriorityHigh}[i%3])))
		}
		h.create(specs...)
		wantA := 0
		for _, sp := range specs {
			if sp.Type == "a" {
				wantA++
			}
		}
		calls := 0
		counting := func(op archivist.BulkOp) archivist.BulkOp {
			return func(ctx context.Context, ids []string) (int, error) {
				calls++
				if len(ids) > archivist.MaxBulkBatch {
					t.Errorf("a batch of %d ids, more than MaxBulkBatch %d", len(ids), archivist.MaxBulkBatch)
				}
				return op(ctx, ids)
			}
		}
		f := archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskPending}, Type: "a"}
		n, err := archivist.BulkTasks(h.ctx(), h.s, f, archivist.BulkCancellable, counting(h.s.CancelTasks))
		if err != nil || n != wantA {
			t.Fatalf("BulkTasks(cancel PENDING a): %d, %v; want %d", n, err, wantA)
		}
		if calls < 3 {
			t.Errorf("cancelling %d tasks took %d batches, want at least 3", wantA, calls)
		}
		if diff := cmp.Diff(map[archivist.TaskStatus]int{archivist.TaskCancelled: wantA, archivist.TaskPending: len(specs) - wantA},
			nonZero(h.counts())); diff != "" {
			t.Errorf("CountTasks after cancelling every PENDING a (-want +got):\n%s", diff)
		}

		// Retrying them (CANCELLED -> PENDING) by status only, then the
		// rest by status only: the index walks of every store.
		calls = 0
		f = archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskCancelled}}
		n, err = archivist.BulkTasks(h.ctx(), h.s, f, archivist.BulkRetryable, counting(h.s.RetryTasks))
		if err != nil || n != wantA {
			t.Fatalf("BulkTasks(retry CANCELLED): %d, %v; want %d", n, err, wantA)
		}
		f = archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskPending}}
		n, err = archivist.BulkTasks(h.ctx(), h.s, f, archivist.BulkCancellable, counting(h.s.CancelTasks))
		if err != nil || n != len(specs) {
			t.Fatalf("BulkTasks(cancel PENDING): %d, %v; want %d", n, err, len(specs))
		}
		n, err = archivist.BulkTasks(h.ctx(), h.s, archivist.TaskFilter{}, archivist.BulkDeletable, counting(h.s.DeleteTasks))
		if err != nil || n != len(specs) {
			t.Fatalf("BulkTasks(delete all): %d, %v; want %d", n, err, len(specs))
		}
		if got := nonZero(h.counts()); len(got) != 0 {
			t.Errorf("CountTasks after deleting every task: %v, want none", got)
		}
	})

	s.run(t, "WalkStopsWithContext", func(t *testing.T, h *fixture) {
		var specs []*archivist.Task
		for i := range archivist.MaxBulkBatch + 10 {
			specs = append(specs, newTask(fmt.Sprintf("t%04d", i), "t", archivist.PriorityNormal))
		}
		h.create(specs...)
		ctx, cancel := context.WithCancel(h.ctx())
		defer cancel()
		n, err := archivist.BulkTasks(ctx, h.s, archivist.TaskFilter{}, nil, func(ctx context.Context, ids []string) (int, error) {
			n, err := h.s.CancelTasks(ctx, ids)
			cancel() // the request ends after the first batch
			return n, err
		})
		if !errors.Is(err, context.Canceled) || n != archivist.MaxBulkBatch {
			t.Fatalf("BulkTasks with its context ended after a batch: %d, %v; want %d, context.Canceled", n, err, archivist.MaxBulkBatch)
		}
		if got := h.counts()[archivist.TaskPending]; got != 10 {
			t.Errorf("%d tasks still PENDING, want the 10 of the batch not reached", got)
		}
	})

	s.run(t, "Selection", func(t *testing.T, h *fixture) {
		h.create(newTask("a", "t", archivist.PriorityNormal), newTask("b", "t", archivist.PriorityNormal),
			newTask("c", "u", archivist.PriorityNormal), newTask("d", "t", archivist.PriorityNormal))
		sel := archivist.TaskFilter{IDs: []string{"c", "a", "no-such-task", "b", "a"}}
		page, err := h.s.ListTasks(h.ctx(), archivist.TaskQuery{TaskFilter: sel})
		if err != nil {
			t.Fatalf("ListTasks(ids): %v", err)
		}
		if diff := cmp.Diff([]string{"c", "b", "a"}, ids(page.Tasks)); diff != "" || page.TotalCount != 3 {
			t.Errorf("ListTasks(ids): total %d (-want +got):\n%s", page.TotalCount, diff)
		}
		sel.Type = "t" // and the rest of the filter holds too
		n, err := archivist.BulkTasks(h.ctx(), h.s, sel, archivist.BulkCancellable, h.s.CancelTasks)
		if err != nil || n != 2 {
			t.Fatalf("BulkTasks(cancel a, b of type t): %d, %v; want 2", n, err)
		}
		h.wantStatus("a", archivist.TaskCancelled)
		h.wantStatus("b", archivist.TaskCancelled)
		h.wantStatus("c", archivist.TaskPending)
		h.wantStatus("d", archivist.TaskPending)
	})

	s.run(t, "PurgeKeepsFailuresLonger", func(t *testing.T, h *fixture) {
		h.running("node-1", newTask("done", "t", archivist.PriorityNormal))
		h.complete("done", 1, `1`)
		h.create(newTask("cancelled", "t", archivist.PriorityNormal))
		h.cancel("cancelled")
		h.running("node-1", newTask("failed", "t", archivist.PriorityNormal))
		h.fail("failed", 1, permanent)
		h.running("node-1", newTask("timed-out", "t", archivist.PriorityNormal))
		h.fail("timed-out", 1, archivist.Failure{Error: "too slow", Permanent: true, TimedOut: true})
		past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)

		// The others' retention is over, the failures' is not.
		n, err := h.s.PurgeFinished(h.ctx(), future, past)
		if err != nil || n != 2 {
			t.Fatalf("PurgeFinished(others past, failures not): %d, %v; want 2", n, err)
		}
		for _, id := range []string{"done", "cancelled"} {
			_, err := h.s.GetTask(h.ctx(), id)
			h.wantCode(err, archivist.CodeNotFound, "GetTask of a purged "+id+" task")
		}
		h.wantStatus("failed", archivist.TaskFailed)
		h.wantStatus("timed-out", archivist.TaskTimedOut)

		// A shorter retention of failures than of the others works too.
		h.running("node-1", newTask("done2", "t", archivist.PriorityNormal))
		h.complete("done2", 1, `1`)
		n, err = h.s.PurgeFinished(h.ctx(), past, future)
		if err != nil || n != 2 {
			t.Fatalf("PurgeFinished(failures past, others not): %d, %v; want 2", n, err)
		}
		h.wantStatus("done2", archivist.TaskCompleted)
		if diff := cmp.Diff(map[archivist.TaskStatus]int{archivist.TaskCompleted: 1}, nonZero(h.counts())); diff != "" {
			t.Errorf("CountTasks after purging (-want +got):\n%s", diff)
		}
	})
}
