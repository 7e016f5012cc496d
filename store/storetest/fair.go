package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
)

// groupTasks returns n NORMAL submissions of group g with ids <prefix>-00...
func groupTasks(prefix, g string, n int, p archivist.Priority) []*archivist.Task {
	out := make([]*archivist.Task, n)
	for i := range out {
		out[i] = newTask(fmt.Sprintf("%s-%03d", prefix, i), "t", p)
		out[i].Group = g
	}
	return out
}

// positions maps the ids of tasks to their position.
func positions(tasks []*archivist.Task) map[string]int {
	out := make(map[string]int, len(tasks))
	for i, t := range tasks {
		out[t.ID] = i
	}
	return out
}

// inOrder fails unless the ids of want come in that order within got.
func inOrder(t *testing.T, what string, got []*archivist.Task, want []string) {
	t.Helper()
	pos := positions(got)
	last := -1
	for _, id := range want {
		p, ok := pos[id]
		if !ok {
			t.Errorf("%s: %s missing", what, id)
			continue
		}
		if p < last {
			t.Errorf("%s: %s at %d comes before the task ahead of it (at %d)", what, id, p, last)
		}
		last = p
	}
}

func testFairShare(t *testing.T, s suite) {
	s.run(t, "GroupsTakeTurns", func(t *testing.T, h *fixture) {
		// A's 100 are queued first, then B's 5: B does not wait behind A's
		// backlog, its tasks alternate with A's.
		a := h.create(groupTasks("a", "A", 100, archivist.PriorityNormal)...)
		b := h.create(groupTasks("b", "B", 5, archivist.PriorityNormal)...)
		got := h.ready(200)
		if len(got) != 105 {
			t.Fatalf("ReadyTasks(200) offers %d tasks, want 105", len(got))
		}
		pos := positions(got)
		for i, task := range b {
			if p := pos[task.ID]; p > 2*i+1 {
				t.Errorf("B's task %d is placed at %d, want at most %d (groups take turns)", i, p, 2*i+1)
			}
		}
		inOrder(t, "A's tasks", got, ids(a))
		inOrder(t, "B's tasks", got, ids(b))
		for i, task := range b {
			if g := h.get(task.ID); g.Turn != uint64(i+1) || g.Group != "B" {
				t.Errorf("B's task %d: Turn %d, Group %q; want Turn %d, Group B", i, g.Turn, g.Group, i+1)
			}
			if task.Turn != uint64(i+1) {
				t.Errorf("CreateTasks filled Turn %d for B's task %d, want %d", task.Turn, i, i+1)
			}
		}
	})

	s.run(t, "NewGroupStartsAtPlacement", func(t *testing.T, h *fixture) {
		// A group that comes later starts where placement is now: not
		// behind A's queue, and not ahead of what was placed before it.
		a := h.create(groupTasks("a", "A", 60, archivist.PriorityNormal)...)
		h.assign("node-1", ids(a[:40])...)
		c := h.create(groupTasks("c", "C", 3, archivist.PriorityNormal)...)
		got := h.ready(100)
		pos := positions(got)
		for i, task := range c {
			if p := pos[task.ID]; p > 2*i+1 {
				t.Errorf("C's task %d is placed at %d after 40 of A's were placed, want at most %d", i, p, 2*i+1)
			}
		}
		// And A, which had tasks queued all along, is not pushed behind
		// C's: its next task is among the first two.
		if p := pos[a[40].ID]; p > 1 {
			t.Errorf("A's next task is at %d, want 0 or 1", p)
		}
	})

	s.run(t, "PriorityFirst", func(t *testing.T, h *fixture) {
		normal := h.create(groupTasks("n", "A", 20, archivist.PriorityNormal)...)
		low := h.create(groupTasks("l", "B", 3, archivist.PriorityLow)...)
		high := h.create(groupTasks("h", "C", 2, archivist.PriorityHigh)...)
		lowB := h.create(groupTasks("m", "A", 2, archivist.PriorityLow)...)
		got := ids(h.ready(100))
		if len(got) != 27 {
			t.Fatalf("ReadyTasks offers %d tasks, want 27", len(got))
		}
		if diff := cmp.Diff(ids(high), got[:2]); diff != "" {
			t.Errorf("HIGH tasks first (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(ids(normal), got[2:22]); diff != "" {
			t.Errorf("then NORMAL (-want +got):\n%s", diff)
		}
		lows := got[22:]
		for _, id := range append(ids(low), ids(lowB)...) {
			if !slices.Contains(lows, id) {
				t.Errorf("LOW task %s is not among the last five: %v", id, lows)
			}
		}
		// At LOW, A's tasks have a turn of their own: a group's turns are
		// counted per priority.
		if g := h.get(lowB[0].ID); g.Turn != 1 {
			t.Errorf("A's first LOW task has Turn %d, want 1", g.Turn)
		}
	})

	s.run(t, "UngroupedStayFIFO", func(t *testing.T, h *fixture) {
		var want []string
		for i := range 10 {
			batch := groupTasks(fmt.Sprintf("u%d", i), "", 3, archivist.PriorityNormal)
			h.create(batch...)
			want = append(want, ids(batch)...)
			if i == 4 {
				h.assign("node-1", want[:7]...)
				want = want[7:]
			}
		}
		if diff := cmp.Diff(want, ids(h.ready(100))); diff != "" {
			t.Errorf("ungrouped tasks in submission order (-want +got):\n%s", diff)
		}
	})

	s.run(t, "PutBackKeepsItsTurn", func(t *testing.T, h *fixture) {
		a := h.create(groupTasks("a", "A", 10, archivist.PriorityNormal)...)
		b := h.create(groupTasks("b", "B", 10, archivist.PriorityNormal)...)
		first := h.ready(4) // a-000, b-000, a-001, b-001 in some tie order
		turns := map[string]uint64{}
		for _, task := range first {
			turns[task.ID] = task.Turn
		}
		h.assign("node-1", ids(first[:2])...)
		h.start("node-2", first[2].ID)
		released := first[3]
		got := h.start("node-3", released.ID)
		// More tasks of a new group while those run.
		h.create(groupTasks("c", "C", 5, archivist.PriorityNormal)...)

		if _, err := h.s.RequeueNode(h.ctx(), h.lead(), "node-1"); err != nil {
			t.Fatalf("RequeueNode: %v", err)
		}
		if _, err := h.s.ReleaseTask(h.ctx(), released.ID, got.Attempt); err != nil {
			t.Fatalf("ReleaseTask: %v", err)
		}
		h.fail(first[2].ID, 1, archivist.Failure{Error: "again", Retry: quickRetry})
		h.waitReady(first[2].ID)

		ready := h.ready(100)
		pos := positions(ready)
		for _, task := range first {
			g := h.get(task.ID)
			if g.Status != archivist.TaskPending || g.Turn != turns[task.ID] {
				t.Errorf("task %s put back: %s with Turn %d, want PENDING with its Turn %d", task.ID, g.Status, g.Turn, turns[task.ID])
			}
			if p := pos[task.ID]; p > 3 {
				t.Errorf("task %s put back is placed at %d, want among the first 4 (ahead of later turns)", task.ID, p)
			}
		}
		inOrder(t, "A's tasks", ready, ids(a))
		inOrder(t, "B's tasks", ready, ids(b))
	})

	s.run(t, "DueTaskQueuesWhenDue", func(t *testing.T, h *fixture) {
		// A task submitted to run later takes its turn when it is due, not
		// when it was submitted: it does not jump the tasks queued
		// meanwhile.
		later := newTask("later", "t", archivist.PriorityNormal)
		later.Delay = 150 * time.Millisecond
		h.create(later)
		now := h.create(groupTasks("now", "", 3, archivist.PriorityNormal)...)
		h.waitReady("later")
		want := append(ids(now), "later")
		if diff := cmp.Diff(want, ids(h.ready(100))); diff != "" {
			t.Errorf("a due task queues behind the tasks queued before it was due (-want +got):\n%s", diff)
		}
	})

	s.run(t, "DueTaskTakesItsGroupsTurn", func(t *testing.T, h *fixture) {
		// A delayed task of group B that becomes due while A's backlog
		// waits takes B's turn, not one behind A's tasks; a delayed task
		// of A goes behind A's.
		b := newTask("b-later", "t", archivist.PriorityNormal)
		b.Group, b.Delay = "B", 150*time.Millisecond
		a := newTask("a-later", "t", archivist.PriorityNormal)
		a.Group, a.Delay = "A", 150*time.Millisecond
		h.create(b, a)
		h.create(groupTasks("a", "A", 20, archivist.PriorityNormal)...)
		h.waitReady("b-later")
		h.waitReady("a-later")
		pos := positions(h.ready(100))
		if g := h.get("b-later"); g.Turn != 1 || pos["b-later"] > 1 {
			t.Errorf("B's due task: Turn %d at %d, want Turn 1 among the first two", g.Turn, pos["b-later"])
		}
		if g := h.get("a-later"); g.Turn != 21 || pos["a-later"] != 21 {
			t.Errorf("A's due task: Turn %d at %d, want Turn 21, last", g.Turn, pos["a-later"])
		}
	})

	s.run(t, "ManyGroupsInOneBatch", func(t *testing.T, h *fixture) {
		// A batch of tasks of as many groups: each group's first task takes
		// the first turn.
		batch := make([]*archivist.Task, 3000)
		for i := range batch {
			batch[i] = newTask("", "t", archivist.PriorityNormal)
			batch[i].Group = fmt.Sprintf("campaign-%04d", i)
		}
		h.create(batch...)
		for _, task := range batch {
			if task.Turn != 1 {
				t.Fatalf("task of group %s: Turn %d, want 1", task.Group, task.Turn)
			}
		}
		if got := h.get(batch[2999].ID); got.Turn != 1 || got.Group != "campaign-2999" {
			t.Errorf("stored: Turn %d, Group %q; want 1, campaign-2999", got.Turn, got.Group)
		}
	})

	s.run(t, "ListByGroup", func(t *testing.T, h *fixture) {
		a := h.create(groupTasks("a", "A", 4, archivist.PriorityNormal)...)
		h.create(groupTasks("b", "B", 3, archivist.PriorityHigh)...)
		h.create(groupTasks("u", "", 2, archivist.PriorityNormal)...)
		h.assign("node-1", a[0].ID)
		h.cancel(a[1].ID)

		page := h.list(archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Group: "A"}})
		want := []string{a[3].ID, a[2].ID, a[1].ID, a[0].ID}
		if diff := cmp.Diff(want, ids(page.Tasks)); diff != "" || page.TotalCount != 4 {
			t.Errorf("tasks of group A, newest first: total %d, want 4 (-want +got):\n%s", page.TotalCount, diff)
		}
		page = h.list(archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Group: "A", Status: []archivist.TaskStatus{archivist.TaskPending}}})
		if diff := cmp.Diff(want[:2], ids(page.Tasks)); diff != "" || page.TotalCount != 2 {
			t.Errorf("PENDING tasks of group A: total %d, want 2 (-want +got):\n%s", page.TotalCount, diff)
		}
		all, _ := h.walk(archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Group: "B"}}, 2, nil)
		if len(all) != 3 {
			t.Errorf("paging through group B gives %d tasks, want 3", len(all))
		}
		for _, task := range all {
			if task.Group != "B" {
				t.Errorf("task %s of group %q listed under B", task.ID, task.Group)
			}
		}
		if page := h.list(archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Group: "nobody"}}); len(page.Tasks) != 0 || page.TotalCount != 0 {
			t.Errorf("an unknown group lists %d tasks (total %d), want none", len(page.Tasks), page.TotalCount)
		}
	})

	s.run(t, "GroupKept", func(t *testing.T, h *fixture) {
		sub := h.subscribe(h.lastSeq())
		task := newTask("g1", "t", archivist.PriorityNormal)
		task.Group = "campaign-7"
		h.create(task)
		later := newTask("g2", "t", archivist.PriorityNormal)
		later.Group, later.Delay = "campaign-7", time.Hour
		h.create(later)
		h.assign("node-1", "g1")
		started := h.start("node-1", "g1")
		done := h.complete("g1", started.Attempt, `"ok"`)
		if done.Group != "campaign-7" || h.get("g1").Group != "campaign-7" || h.get("g2").Group != "campaign-7" {
			t.Errorf("group lost: completed %q, stored %q, scheduled %q", done.Group, h.get("g1").Group, h.get("g2").Group)
		}
		if g := h.get("g2"); g.Turn != 0 {
			t.Errorf("a SCHEDULED task has Turn %d, want 0 until it is PENDING", g.Turn)
		}
		for _, typ := range []archivist.EventType{archivist.EventTaskCreated, archivist.EventTaskAssigned, archivist.EventTaskStarted, archivist.EventTaskCompleted} {
			ev := h.await(sub, string(typ), func(ev archivist.Event) bool {
				return ev.Type == typ && ev.Task != nil && ev.Task.ID == "g1"
			})
			if ev.Task.Group != "campaign-7" || ev.Task.Turn != 1 {
				t.Errorf("%s event: group %q, Turn %d; want campaign-7, 1", typ, ev.Task.Group, ev.Task.Turn)
			}
		}
	})
}
