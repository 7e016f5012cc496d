package storetest

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
)

// groupCounts is what CountGroups returns.
type groupCounts = map[string]map[archivist.TaskStatus]int

func (h *fixture) countGroups(groups ...string) groupCounts {
	h.t.Helper()
	got, err := h.s.CountGroups(h.ctx(), groups...)
	if err != nil {
		h.t.Fatalf("CountGroups(%v): %v", groups, err)
	}
	for g, c := range got {
		got[g] = nonZero(c)
		if len(got[g]) == 0 {
			h.t.Errorf("CountGroups lists group %q with no task", g)
			delete(got, g)
		}
	}
	return got
}

// countedByHand counts the stored tasks of each named group by status, by
// reading them all: what CountGroups must agree with.
func (h *fixture) countedByHand() groupCounts {
	h.t.Helper()
	all, _ := h.walk(archivist.TaskQuery{}, 500, nil)
	out := groupCounts{}
	for _, task := range all {
		if task.Group == "" {
			continue
		}
		if out[task.Group] == nil {
			out[task.Group] = map[archivist.TaskStatus]int{}
		}
		out[task.Group][task.Status]++
	}
	return out
}

// wantGroups fails unless CountGroups() is want and agrees with the tasks.
func (h *fixture) wantGroups(what string, want groupCounts) {
	h.t.Helper()
	got := h.countGroups()
	if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
		h.t.Errorf("%s: CountGroups (-want +got):\n%s", what, diff)
	}
	if diff := cmp.Diff(h.countedByHand(), got, cmpEmpty); diff != "" {
		h.t.Errorf("%s: CountGroups disagrees with the stored tasks (-counted +CountGroups):\n%s", what, diff)
	}
}

func grouped(id, group string) *archivist.Task {
	t := newTask(id, "t", archivist.PriorityNormal)
	t.Group = group
	return t
}

// traced gives t a trace (Task.Trace), which the stores keep beside the
// group.
func traced(t *archivist.Task) *archivist.Task {
	t.Trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	return t
}

// testGroups: a task keeps its group, and CountGroups counts each named
// group's tasks by status through every transition, the fast ones (assign,
// claim, complete) included, until they are purged.
func testGroups(t *testing.T, s suite) {
	s.run(t, "Stored", func(t *testing.T, h *fixture) {
		h.create(grouped("a1", "campaign-1"), grouped("u1", ""), grouped("w1", "Wörld of ✓ 7"),
			traced(grouped("t1", "campaign-3")), traced(grouped("t2", "")))
		for id, want := range map[string]string{"a1": "campaign-1", "u1": "", "w1": "Wörld of ✓ 7", "t1": "campaign-3", "t2": ""} {
			if got := h.get(id).Group; got != want {
				t.Errorf("task %s has group %q, want %q", id, got, want)
			}
		}
		for id, want := range map[string]string{"a1": "", "t1": traced(&archivist.Task{}).Trace, "t2": traced(&archivist.Task{}).Trace} {
			if got := h.get(id).Trace; got != want {
				t.Errorf("task %s has trace %q, want %q", id, got, want)
			}
		}
		// A group with the other optional fields (backoff, unique key).
		g := grouped("b1", "campaign-2")
		g.UniqueKey, g.UniqueFor, g.RetryBackoff = "k-1", time.Minute, time.Second
		h.create(g)
		got := h.get("b1")
		if got.Group != "campaign-2" || got.UniqueKey != "k-1" || got.RetryBackoff != time.Second {
			t.Errorf("task b1: group %q unique key %q backoff %s", got.Group, got.UniqueKey, got.RetryBackoff)
		}
	})

	s.run(t, "Counts", func(t *testing.T, h *fixture) {
		h.wantGroups("empty store", groupCounts{})
		// Traced ones among them: the group is read beside the trace.
		h.create(traced(grouped("a1", "a")), grouped("a2", "a"), traced(grouped("a3", "a")), grouped("a4", "a"),
			grouped("a5", "a"), grouped("a6", "a"), traced(grouped("b1", "b")), grouped("b2", "b"),
			traced(grouped("u1", "")), grouped("u2", ""))
		later := grouped("b3", "b")
		later.RunAt = time.Now().Add(time.Hour)
		h.create(later)
		h.wantGroups("created", groupCounts{
			"a": {archivist.TaskPending: 6},
			"b": {archivist.TaskPending: 2, archivist.TaskScheduled: 1},
		})

		// Assign, claim and complete: the batched paths.
		h.assign("node-1", "a1", "a2", "a3", "a4", "b1", "u1")
		h.wantGroups("assigned", groupCounts{
			"a": {archivist.TaskPending: 2, archivist.TaskAssigned: 4},
			"b": {archivist.TaskPending: 1, archivist.TaskAssigned: 1, archivist.TaskScheduled: 1},
		})
		claimed, err := h.s.ClaimTasks(h.ctx(), "node-1", 10, grace)
		if err != nil || len(claimed) != 6 {
			t.Fatalf("ClaimTasks: %d tasks, %v; want 6", len(claimed), err)
		}
		h.complete("a1", 1, `1`)
		h.complete("u1", 1, `1`)
		h.fail("a2", 1, archivist.Failure{Error: "x", Permanent: true})
		h.fail("a3", 1, archivist.Failure{Error: "x", Retry: slowRetry})
		h.cancel("a5")
		h.cancel("b3")
		h.start("node-1", "b2") // a PENDING task started at once
		h.wantGroups("run", groupCounts{
			"a": {archivist.TaskCompleted: 1, archivist.TaskFailed: 1, archivist.TaskRetrying: 1,
				archivist.TaskInProgress: 1, archivist.TaskCancelled: 1, archivist.TaskPending: 1},
			"b": {archivist.TaskInProgress: 2, archivist.TaskCancelled: 1},
		})

		// Requeue the node's tasks, retry a failed one.
		if _, err := h.s.RequeueNode(h.ctx(), h.lead(), "node-1"); err != nil {
			t.Fatalf("RequeueNode: %v", err)
		}
		if _, err := h.s.RetryTask(h.ctx(), "a2"); err != nil {
			t.Fatalf("RetryTask: %v", err)
		}
		want := groupCounts{
			"a": {archivist.TaskCompleted: 1, archivist.TaskRetrying: 1, archivist.TaskPending: 3, archivist.TaskCancelled: 1},
			"b": {archivist.TaskPending: 2, archivist.TaskCancelled: 1},
		}
		h.wantGroups("requeued", want)

		// Some groups only, and a group without tasks.
		if diff := cmp.Diff(groupCounts{"b": want["b"]}, h.countGroups("b", "none")); diff != "" {
			t.Errorf("CountGroups(b, none) (-want +got):\n%s", diff)
		}
		if got := h.countGroups("none"); len(got) != 0 {
			t.Errorf("CountGroups(none) = %v, want nothing", got)
		}
	})

	s.run(t, "Purged", func(t *testing.T, h *fixture) {
		h.create(grouped("a1", "a"), grouped("b1", "b"), grouped("b2", "b"))
		h.cancel("a1")
		h.cancel("b1")
		n, err := h.s.PurgeFinished(h.ctx(), time.Now().Add(time.Hour), time.Now().Add(time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("PurgeFinished: %d, %v; want 2", n, err)
		}
		h.wantGroups("purged", groupCounts{"b": {archivist.TaskPending: 1}})
		if got := slices.Sorted(maps.Keys(h.countGroups())); !slices.Equal(got, []string{"b"}) {
			t.Errorf("groups after purging a's only task: %v, want [b]", got)
		}
	})

	s.run(t, "BulkDeleted", func(t *testing.T, h *fixture) {
		// Deleting finished tasks in bulk takes them out of their group's
		// counts, as purging does.
		h.create(grouped("a1", "a"), grouped("b1", "b"), grouped("b2", "b"))
		h.cancel("a1")
		h.cancel("b1")
		n, err := h.s.DeleteTasks(h.ctx(), []string{"a1", "b1", "b2"})
		if err != nil || n != 2 {
			t.Fatalf("DeleteTasks: %d, %v; want 2 (b2 is unfinished)", n, err)
		}
		h.wantGroups("deleted", groupCounts{"b": {archivist.TaskPending: 1}})
	})

	s.run(t, "Workflow", func(t *testing.T, h *fixture) {
		w, tasks := h.buildWorkflow("grouped", "", step{"a", nil}, step{"b", []string{"a"}})
		w.Group = "wf-group"
		for _, task := range tasks {
			task.Group = "wf-group"
		}
		if err := h.s.CreateWorkflow(h.ctx(), w, tasks); err != nil {
			t.Fatalf("CreateWorkflow: %v", err)
		}
		stored, err := h.s.GetWorkflow(h.ctx(), w.ID)
		if err != nil {
			t.Fatalf("GetWorkflow: %v", err)
		}
		if stored.Group != "wf-group" {
			t.Errorf("stored workflow has group %q, want wf-group", stored.Group)
		}
		h.wantGroups("workflow created", groupCounts{"wf-group": {archivist.TaskPending: 1, archivist.TaskWaiting: 1}})
		a := tasks[0]
		if a.StepKey != "a" {
			a = tasks[1]
		}
		started := h.start("node-1", a.ID)
		h.complete(a.ID, started.Attempt, `1`)
		h.wantGroups("first step done", groupCounts{"wf-group": {archivist.TaskCompleted: 1, archivist.TaskPending: 1}})
	})
}
