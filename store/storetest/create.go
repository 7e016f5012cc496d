package storetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
)

func testCreateTasks(t *testing.T, s suite) {
	s.run(t, "FillsFields", func(t *testing.T, h *fixture) {
		in := []*archivist.Task{
			{Type: "alpha", Input: json.RawMessage(`{"a":[1,2,3],"s":"x y"}`), Priority: archivist.PriorityHigh,
				Timeout: 90 * time.Second, MaxRetries: 7, Metadata: json.RawMessage(`{"owner":"ana","tags":["x"]}`)},
			{Type: "beta", Input: json.RawMessage(`"just a string"`), Priority: archivist.PriorityLow,
				Timeout: 1500 * time.Millisecond, MaxRetries: 0, Trace: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
			{Type: "gamma", Input: json.RawMessage(`null`), Priority: archivist.PriorityCritical,
				Timeout: time.Hour, MaxRetries: 100},
		}
		want := make([]archivist.Task, len(in))
		for i, task := range in {
			want[i] = submission(task.Clone())
		}
		before := time.Now()
		h.create(in...)
		after := time.Now()

		seen := map[string]bool{}
		var lastSeq uint64
		for i, task := range in {
			if seen[task.ID] {
				t.Errorf("ID %q given to two tasks", task.ID)
			}
			seen[task.ID] = true
			if task.Status != archivist.TaskPending {
				t.Errorf("task %d: status %s, want PENDING", i, task.Status)
			}
			if task.Seq <= lastSeq {
				t.Errorf("task %d: Seq %d does not grow (previous %d)", i, task.Seq, lastSeq)
			}
			lastSeq = task.Seq
			if !near(task.CreatedAt, before, after) {
				t.Errorf("task %d: CreatedAt %v, want about now (%v)", i, task.CreatedAt, before)
			}
			if task.Attempt != 0 || task.Failures != 0 || task.Requeues != 0 || task.NodeID != "" {
				t.Errorf("task %d: new task has Attempt %d, Failures %d, Requeues %d, NodeID %q; want zeros",
					i, task.Attempt, task.Failures, task.Requeues, task.NodeID)
			}
			got := h.get(task.ID)
			if diff := cmp.Diff(want[i], submission(got), taskOpts); diff != "" {
				t.Errorf("task %d: submission fields do not round-trip (-submitted +stored):\n%s", i, diff)
			}
			if diff := cmp.Diff(task, got, taskOpts); diff != "" {
				t.Errorf("task %d: CreateTasks filled other fields than the stored task has (-filled +stored):\n%s", i, diff)
			}
		}

		// A later batch is submitted later.
		next := h.create(newTask("", "delta", archivist.PriorityCritical))[0]
		if next.Seq <= lastSeq {
			t.Errorf("task of a later batch has Seq %d, not above %d", next.Seq, lastSeq)
		}

		counts, err := h.s.CountTasks(h.ctx())
		if err != nil {
			t.Fatalf("CountTasks: %v", err)
		}
		if diff := cmp.Diff(map[archivist.TaskStatus]int{archivist.TaskPending: 4}, nonZero(counts)); diff != "" {
			t.Errorf("CountTasks (-want +got):\n%s", diff)
		}
	})

	s.run(t, "KeepsGivenID", func(t *testing.T, h *fixture) {
		in := h.create(newTask("my-task-1", "alpha", archivist.PriorityNormal), newTask("", "alpha", archivist.PriorityNormal))
		if in[0].ID != "my-task-1" {
			t.Errorf("given ID replaced by %q", in[0].ID)
		}
		if in[1].ID == "my-task-1" {
			t.Errorf("generated ID equals the given one")
		}
		if got := h.get("my-task-1"); got.Type != "alpha" {
			t.Errorf("GetTask(my-task-1).Type = %q", got.Type)
		}
	})

	s.run(t, "UnknownID", func(t *testing.T, h *fixture) {
		h.createOne("alpha")
		_, err := h.s.GetTask(h.ctx(), "no-such-task")
		h.wantCode(err, archivist.CodeNotFound, "GetTask of an unknown id")
	})

	s.run(t, "DuplicateIDAllOrNone", func(t *testing.T, h *fixture) {
		h.create(newTask("dup", "original", archivist.PriorityNormal))
		seq := h.lastSeq()
		batch := []*archivist.Task{
			newTask("fresh-1", "alpha", archivist.PriorityNormal),
			newTask("dup", "imposter", archivist.PriorityHigh),
			newTask("", "alpha", archivist.PriorityNormal),
		}
		err := h.s.CreateTasks(h.ctx(), batch)
		h.wantCode(err, archivist.CodeConflict, "CreateTasks with an existing ID")

		_, err = h.s.GetTask(h.ctx(), "fresh-1")
		h.wantCode(err, archivist.CodeNotFound, "GetTask of a task from the refused batch")
		if id := batch[2].ID; id != "" {
			_, err = h.s.GetTask(h.ctx(), id)
			h.wantCode(err, archivist.CodeNotFound, "GetTask of a task from the refused batch")
		}
		if got := h.get("dup"); got.Type != "original" || got.Priority != archivist.PriorityNormal {
			t.Errorf("existing task overwritten: type %q, priority %s", got.Type, got.Priority)
		}
		counts, err := h.s.CountTasks(h.ctx())
		if err != nil {
			t.Fatalf("CountTasks: %v", err)
		}
		if diff := cmp.Diff(map[archivist.TaskStatus]int{archivist.TaskPending: 1}, nonZero(counts)); diff != "" {
			t.Errorf("CountTasks after a refused batch (-want +got):\n%s", diff)
		}
		if got := h.lastSeq(); got != seq {
			t.Errorf("refused batch recorded events: LastSeq went from %d to %d", seq, got)
		}
	})

	s.run(t, "DuplicateIDInBatch", func(t *testing.T, h *fixture) {
		err := h.s.CreateTasks(h.ctx(), []*archivist.Task{
			newTask("twin", "first", archivist.PriorityNormal),
			newTask("twin", "second", archivist.PriorityNormal),
		})
		h.wantCode(err, archivist.CodeConflict, "CreateTasks with one ID twice")
		_, err = h.s.GetTask(h.ctx(), "twin")
		h.wantCode(err, archivist.CodeNotFound, "GetTask of a task from the refused batch")
	})

	s.run(t, "ReturnsCopies", func(t *testing.T, h *fixture) {
		task := newTask("copy-1", "alpha", archivist.PriorityNormal)
		task.Input = json.RawMessage(`{"v":"original"}`)
		h.create(task)
		want := h.get("copy-1").Clone()

		// Changing what the caller holds must not reach the store.
		task.Type = "changed"
		copy(task.Input, `{"v":"CHANGED!"}`)
		got := h.get("copy-1")
		got.Status = archivist.TaskCompleted
		copy(got.Input, `{"v":"CHANGED!"}`)
		for _, r := range h.ready(10) {
			r.Priority = archivist.PriorityLow
			copy(r.Input, `{"v":"CHANGED!"}`)
		}
		if diff := cmp.Diff(want, h.get("copy-1"), taskOpts); diff != "" {
			t.Errorf("changing a submitted or returned task changed the stored one (-before +after):\n%s", diff)
		}
	})
}

func testReadyTasks(t *testing.T, s suite) {
	// mixed is submitted in this order; placement takes it by priority,
	// then submission.
	mixed := func() []*archivist.Task {
		return []*archivist.Task{
			newTask("low-1", "t", archivist.PriorityLow),
			newTask("normal-1", "t", archivist.PriorityNormal),
			newTask("critical-1", "t", archivist.PriorityCritical),
			newTask("high-1", "t", archivist.PriorityHigh),
			newTask("low-2", "t", archivist.PriorityLow),
			newTask("critical-2", "t", archivist.PriorityCritical),
			newTask("normal-2", "t", archivist.PriorityNormal),
			newTask("high-2", "t", archivist.PriorityHigh),
		}
	}
	order := []string{"critical-1", "critical-2", "high-1", "high-2", "normal-1", "normal-2", "low-1", "low-2"}

	s.run(t, "PriorityThenFIFO", func(t *testing.T, h *fixture) {
		h.create(mixed()...)
		got := h.ready(100)
		if diff := cmp.Diff(order, ids(got)); diff != "" {
			t.Fatalf("ReadyTasks order (-want +got):\n%s", diff)
		}
		for _, task := range got {
			if task.Status != archivist.TaskPending {
				t.Errorf("ready task %s is %s", task.ID, task.Status)
			}
		}
	})

	s.run(t, "SeparateSubmissions", func(t *testing.T, h *fixture) {
		for _, task := range mixed() {
			h.create(task)
		}
		if diff := cmp.Diff(order, ids(h.ready(100))); diff != "" {
			t.Fatalf("ReadyTasks order (-want +got):\n%s", diff)
		}
	})

	s.run(t, "Limit", func(t *testing.T, h *fixture) {
		h.create(mixed()...)
		if diff := cmp.Diff(order[:3], ids(h.ready(3))); diff != "" {
			t.Errorf("ReadyTasks(3) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(order[:1], ids(h.ready(1))); diff != "" {
			t.Errorf("ReadyTasks(1) (-want +got):\n%s", diff)
		}
	})

	s.run(t, "SkipsTakenTasks", func(t *testing.T, h *fixture) {
		h.create(mixed()...)
		h.assign("node-1", "critical-1", "high-2")
		h.start("node-2", "normal-1")
		h.cancel("low-1")
		want := []string{"critical-2", "high-1", "normal-2", "low-2"}
		if diff := cmp.Diff(want, ids(h.ready(100))); diff != "" {
			t.Errorf("ReadyTasks after assigning, starting and cancelling some (-want +got):\n%s", diff)
		}
		// Asking again gives the same answer: ReadyTasks takes nothing.
		if diff := cmp.Diff(want, ids(h.ready(100))); diff != "" {
			t.Errorf("second ReadyTasks (-want +got):\n%s", diff)
		}
	})

	s.run(t, "PutBackKeepsPlace", func(t *testing.T, h *fixture) {
		h.create(
			newTask("a", "t", archivist.PriorityNormal),
			newTask("b", "t", archivist.PriorityNormal),
			newTask("c", "t", archivist.PriorityNormal),
			newTask("d", "t", archivist.PriorityNormal),
			newTask("high", "t", archivist.PriorityHigh),
		)
		// a fails and waits out a backoff, b loses its node, c is released:
		// each is offered again at its place by submission.
		h.start("node-1", "a")
		h.fail("a", 1, archivist.Failure{Error: "x", Retry: quickRetry})
		h.assign("node-2", "b")
		h.start("node-2", "b")
		if _, err := h.s.RequeueNode(h.ctx(), h.lead(), "node-2"); err != nil {
			t.Fatalf("RequeueNode: %v", err)
		}
		h.start("node-3", "c")
		if _, err := h.s.ReleaseTask(h.ctx(), "c", 1); err != nil {
			t.Fatalf("ReleaseTask: %v", err)
		}
		h.waitReady("a")
		if diff := cmp.Diff([]string{"high", "a", "b", "c", "d"}, ids(h.ready(10))); diff != "" {
			t.Errorf("ReadyTasks after putting tasks back (-want +got):\n%s", diff)
		}
	})

	s.run(t, "ChurnKeepsOrder", func(t *testing.T, h *fixture) {
		// A model of the PENDING set checks placement order while many
		// tasks are placed, put back and finished.
		const n, batch, rounds, take = 1200, 300, 24, 40
		var all []*archivist.Task
		for b := 0; b < n/batch; b++ {
			tasks := make([]*archivist.Task, batch)
			for i := range tasks {
				k := b*batch + i
				tasks[i] = newTask(fmt.Sprintf("churn-%04d", k), "t", archivist.AllPriorities[k%7%4])
			}
			all = append(all, h.create(tasks...)...)
		}
		pos, prio := map[string]int{}, map[string]int{}
		pending := map[string]bool{}
		for i, task := range all {
			pos[task.ID], prio[task.ID], pending[task.ID] = i, task.Priority.Rank(), true
		}
		expect := func(limit int) []string {
			out := slices.Collect(maps.Keys(pending))
			slices.SortFunc(out, func(a, b string) int {
				if prio[a] != prio[b] {
					return prio[b] - prio[a]
				}
				return pos[a] - pos[b]
			})
			return out[:min(limit, len(out))]
		}
		var onNode []string
		for round := range rounds {
			got := ids(h.ready(50))
			if diff := cmp.Diff(expect(50), got); diff != "" {
				t.Fatalf("round %d: ReadyTasks (-model +got):\n%s", round, diff)
			}
			placed := got[:min(take, len(got))]
			h.assign("node-1", placed...)
			for _, id := range placed {
				delete(pending, id)
			}
			onNode = append(onNode, placed...)
			switch round % 3 {
			case 1: // the node is lost: all its tasks come back
				if _, err := h.s.RequeueNode(h.ctx(), h.lead(), "node-1"); err != nil {
					t.Fatalf("RequeueNode: %v", err)
				}
				for _, id := range onNode {
					pending[id] = true
				}
				onNode = nil
			case 2: // the node runs a few to the end
				claimed, err := h.s.ClaimTasks(h.ctx(), "node-1", 5, grace)
				if err != nil {
					t.Fatalf("ClaimTasks: %v", err)
				}
				for _, task := range claimed {
					h.complete(task.ID, task.Attempt, `1`)
					onNode = slices.DeleteFunc(onNode, func(id string) bool { return id == task.ID })
				}
			}
		}
	})

	s.run(t, "Empty", func(t *testing.T, h *fixture) {
		if got := h.ready(10); len(got) != 0 {
			t.Errorf("ReadyTasks on an empty store: %v", ids(got))
		}
	})
}
