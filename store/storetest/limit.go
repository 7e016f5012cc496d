package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// setLimit stores a limit built by NewLimit.
func (h *fixture) setLimit(l archivist.Limit) *archivist.Limit {
	h.t.Helper()
	nl, err := archivist.NewLimit(l, nil)
	if err != nil {
		h.t.Fatalf("NewLimit(%+v): %v", l, err)
	}
	got, err := h.s.SetLimit(h.ctx(), nl)
	if err != nil {
		h.t.Fatalf("SetLimit(%s): %v", nl.ID, err)
	}
	return got
}

// limitUse returns the stored limit id with its use.
func (h *fixture) limitUse(id string) *archivist.Limit {
	h.t.Helper()
	ls, err := h.s.ListLimits(h.ctx())
	if err != nil {
		h.t.Fatalf("ListLimits: %v", err)
	}
	for _, l := range ls {
		if l.ID == id {
			return l
		}
	}
	h.t.Fatalf("ListLimits has no limit %q", id)
	return nil
}

// wantUse fails unless limit id has running slots in use and held tasks.
func (h *fixture) wantUse(id string, running, held int) {
	h.t.Helper()
	if l := h.limitUse(id); l.Running != running || l.Held != held {
		h.t.Errorf("limit %s: running %d, held %d; want %d, %d", id, l.Running, l.Held, running, held)
	}
}

// wantHeld fails unless task id is PENDING and held by by ("" : not held).
func (h *fixture) wantHeld(id, by string) {
	h.t.Helper()
	if task := h.wantStatus(id, archivist.TaskPending); task.HeldBy != by {
		h.t.Errorf("task %s: HeldBy %q, want %q", id, task.HeldBy, by)
	}
}

// releasedWithin fails unless task id is no longer held after at most
// calls ReadyTasks calls.
func (h *fixture) releasedWithin(calls int, id string) {
	h.t.Helper()
	for call := 1; h.get(id).HeldBy != ""; call++ {
		h.ready(10)
		if call == calls {
			h.t.Fatalf("after %d ReadyTasks calls task %s is still held by %q", calls, id, h.get(id).HeldBy)
		}
	}
}

func sleepTask(group string) *archivist.Task {
	t := newTask("", "sleep", archivist.PriorityNormal)
	t.Group = group
	return t
}

func testLimits(t *testing.T, s suite) {
	sleepLimit := archivist.LimitID("sleep", "")
	heldBySleep := archivist.HeldByLimit(sleepLimit)

	s.run(t, "MaxConcurrentHoldsAndPlacesBehind", func(t *testing.T, h *fixture) {
		l := h.setLimit(archivist.Limit{TaskType: "sleep", MaxConcurrent: 2})
		if l.ID != sleepLimit || l.MaxConcurrent != 2 || l.CreatedAt.IsZero() {
			t.Errorf("SetLimit returned %+v", l)
		}
		tasks := h.create(sleepTask(""), sleepTask(""), sleepTask(""), newTask("", "echo", archivist.PriorityNormal))
		sub := h.subscribe(h.lastSeq())
		got := h.ready(10)
		if diff := cmp.Diff([]string{tasks[0].ID, tasks[1].ID, tasks[3].ID}, ids(got)); diff != "" {
			t.Fatalf("ReadyTasks under maxConcurrent 2 (-want +got):\n%s", diff)
		}
		ev := h.await(sub, "task.held", func(ev archivist.Event) bool { return ev.Type == archivist.EventTaskHeld })
		if ev.Task.ID != tasks[2].ID || ev.Task.HeldBy != heldBySleep {
			t.Errorf("task.held of %s held by %q, want %s by %q", ev.Task.ID, ev.Task.HeldBy, tasks[2].ID, heldBySleep)
		}
		h.wantHeld(tasks[2].ID, heldBySleep)
		h.wantUse(sleepLimit, 0, 1)
		h.assign("n1", tasks[0].ID, tasks[1].ID, tasks[3].ID)
		h.wantUse(sleepLimit, 2, 1)
		if got := h.ready(10); len(got) != 0 {
			t.Errorf("ReadyTasks offers %v while the limit is full and its task held", ids(got))
		}
		// A held task given to AssignTasks is not assigned.
		as := []archivist.Assignment{{TaskID: tasks[2].ID, NodeID: "n1"}}
		if placed, err := h.s.AssignTasks(h.ctx(), h.lead(), as, longTTL); err != nil || len(placed) != 0 {
			t.Errorf("AssignTasks of a held task: %v, %v; want nothing assigned", ids(placed), err)
		}
		as[0].Start, as[0].Grace = true, grace
		if placed, err := h.s.AssignTasks(h.ctx(), h.lead(), as, longTTL); err != nil || len(placed) != 0 {
			t.Errorf("AssignTasks starting a held task: %v, %v; want nothing started", ids(placed), err)
		}
		// Local processing respects the limit too.
		other := h.create(sleepTask(""))[0]
		_, err := h.s.ClaimTask(h.ctx(), "n1", other.ID, grace)
		h.wantCode(err, archivist.CodeConflict, "ClaimTask of a PENDING task under a full limit")

		started := h.start("n1", tasks[0].ID)
		h.wantUse(sleepLimit, 2, 1)
		sub = h.subscribe(h.lastSeq())
		h.complete(tasks[0].ID, started.Attempt, `{}`)
		ev = h.await(sub, "task.unheld", func(ev archivist.Event) bool { return ev.Type == archivist.EventTaskUnheld })
		if ev.Task.ID != tasks[2].ID || ev.Task.HeldBy != "" {
			t.Errorf("task.unheld of %s (HeldBy %q), want %s", ev.Task.ID, ev.Task.HeldBy, tasks[2].ID)
		}
		if got := h.ready(10); len(got) != 1 || got[0].ID != tasks[2].ID {
			t.Errorf("after a slot came back ReadyTasks offers %v, want [%s]", ids(got), tasks[2].ID)
		}
		// Started in the placement step, it takes its slot as assigned.
		as = []archivist.Assignment{{TaskID: tasks[2].ID, NodeID: "n1", Start: true, Grace: grace}, {TaskID: other.ID, NodeID: "n1", Start: true, Grace: grace}}
		placed, err := h.s.AssignTasks(h.ctx(), h.lead(), as, longTTL)
		if err != nil || len(placed) != 1 || placed[0].ID != tasks[2].ID || placed[0].Status != archivist.TaskInProgress {
			t.Fatalf("AssignTasks starting the unheld task and one more under a full limit: %v, %v; want %s started", ids(placed), err, tasks[2].ID)
		}
		h.wantUse(sleepLimit, 2, 1) // other is held now
		h.wantHeld(other.ID, heldBySleep)
	})

	// Placement that starts tasks (Assignment.Start) takes slots as
	// assignment does, and holds back, and does not return, what no longer
	// fits.
	s.run(t, "StartTakesSlots", func(t *testing.T, h *fixture) {
		h.setLimit(archivist.Limit{TaskType: "sleep", MaxConcurrent: 1})
		tasks := h.create(sleepTask(""), sleepTask(""))
		sub := h.subscribe(h.lastSeq())
		as := []archivist.Assignment{
			{TaskID: tasks[0].ID, NodeID: "n1", Start: true, Grace: grace},
			{TaskID: tasks[1].ID, NodeID: "n1", Start: true, Grace: grace},
		}
		placed, err := h.s.AssignTasks(h.ctx(), h.lead(), as, longTTL)
		if err != nil {
			t.Fatalf("AssignTasks: %v", err)
		}
		if len(placed) != 1 || placed[0].ID != tasks[0].ID || placed[0].Status != archivist.TaskInProgress {
			t.Errorf("AssignTasks starting two tasks under maxConcurrent 1 returned %v, want only %s, started", ids(placed), tasks[0].ID)
		}
		h.await(sub, "task.held", taskEvent(archivist.EventTaskHeld, tasks[1].ID))
		h.wantHeld(tasks[1].ID, heldBySleep)
		h.wantUse(sleepLimit, 1, 1)
	})

	// A backlog that a full limit holds is taken out of the ready queue in
	// bounded steps, and the task behind it is offered within a few calls.
	s.run(t, "BacklogDoesNotBlock", func(t *testing.T, h *fixture) {
		h.setLimit(archivist.Limit{TaskType: "sleep", MaxConcurrent: 1})
		backlog := make([]*archivist.Task, 2500)
		for i := range backlog {
			backlog[i] = sleepTask("")
		}
		h.create(backlog...)
		echo := h.create(newTask("", "echo", archivist.PriorityNormal))[0]
		for call := 1; ; call++ {
			got := h.ready(10)
			if len(got) == 0 || got[0].ID != backlog[0].ID {
				t.Fatalf("call %d: ReadyTasks offers %v, want the first sleep task first", call, ids(got))
			}
			if len(got) == 2 && got[1].ID == echo.ID {
				break
			}
			if call == 5 {
				t.Fatalf("after %d calls ReadyTasks still offers %v, not the echo task behind the held ones", call, ids(got))
			}
		}
		h.wantUse(archivist.LimitID("sleep", ""), 0, len(backlog)-1)

		// Removing the limit releases them in bounded steps: the first at
		// once, the others through the next ReadyTasks calls.
		if err := h.s.DeleteLimit(h.ctx(), archivist.LimitID("sleep", "")); err != nil {
			t.Fatalf("DeleteLimit: %v", err)
		}
		h.wantHeld(backlog[1].ID, "")
		h.releasedWithin(5, backlog[len(backlog)-1].ID)
	})

	s.run(t, "PausedBacklog", func(t *testing.T, h *fixture) {
		if _, err := h.s.PauseTaskType(h.ctx(), "sleep", true); err != nil {
			t.Fatalf("PauseTaskType: %v", err)
		}
		backlog := make([]*archivist.Task, 2500)
		for i := range backlog {
			backlog[i] = sleepTask("")
		}
		h.create(backlog...)
		last := backlog[len(backlog)-1].ID
		for call := 1; h.get(last).HeldBy != archivist.HeldPaused; call++ {
			if got := h.ready(10); len(got) != 0 {
				t.Fatalf("ReadyTasks offers %v of a paused type", ids(got))
			}
			if call == 5 {
				t.Fatalf("after %d ReadyTasks calls the last task is not held", call)
			}
		}
		if _, err := h.s.PauseTaskType(h.ctx(), "sleep", false); err != nil {
			t.Fatalf("resume: %v", err)
		}
		h.wantHeld(backlog[0].ID, "")
		h.releasedWithin(5, last)
		if n := h.counts()[archivist.TaskPending]; n != len(backlog) {
			t.Errorf("CountTasks: %d PENDING, want %d", n, len(backlog))
		}
	})

	// Each way a task stops running gives its slot back once.
	ends := []struct {
		name string
		end  func(h *fixture, id string)
	}{
		{"Complete", func(h *fixture, id string) { h.complete(id, h.start("n1", id).Attempt, `{}`) }},
		{"Fail", func(h *fixture, id string) {
			h.fail(id, h.start("n1", id).Attempt, archivist.Failure{Error: "boom", Permanent: true})
		}},
		{"Retry", func(h *fixture, id string) {
			h.fail(id, h.start("n1", id).Attempt, archivist.Failure{Error: "again", Retry: slowRetry})
		}},
		{"CancelAssigned", func(h *fixture, id string) { h.cancel(id) }},
		{"CancelRunning", func(h *fixture, id string) {
			h.start("n1", id)
			h.cancel(id)
			h.fail(id, 1, archivist.Failure{Error: "stopped", Cancelled: true})
		}},
		{"LeaseExpired", func(h *fixture, id string) {
			h.start("n1", id)
			testkit.Eventually(h.t, waitLimit, func() bool {
				got, err := h.s.RecoverExpired(h.ctx(), h.lead(), slowRetry)
				if err != nil {
					h.t.Fatalf("RecoverExpired: %v", err)
				}
				return len(got) == 1
			}, "the lease of %s runs out", id)
		}},
		{"RequeueNode", func(h *fixture, id string) {
			if _, err := h.s.RequeueNode(h.ctx(), h.lead(), "n1"); err != nil {
				h.t.Fatalf("RequeueNode: %v", err)
			}
		}},
		{"ReleaseTask", func(h *fixture, id string) {
			if _, err := h.s.ReleaseTask(h.ctx(), id, h.start("n1", id).Attempt); err != nil {
				h.t.Fatalf("ReleaseTask: %v", err)
			}
		}},
	}
	for _, end := range ends {
		s.run(t, "SlotReturns/"+end.name, func(t *testing.T, h *fixture) {
			h.setLimit(archivist.Limit{TaskType: "sleep", MaxConcurrent: 1})
			first := sleepTask("")
			if end.name == "LeaseExpired" {
				first.Timeout = 50 * time.Millisecond
			}
			tasks := h.create(first, sleepTask(""))
			if got := h.ready(10); len(got) != 1 || got[0].ID != tasks[0].ID {
				t.Fatalf("ReadyTasks offers %v, want [%s]", ids(got), tasks[0].ID)
			}
			h.assign("n1", tasks[0].ID)
			h.wantUse(sleepLimit, 1, 1)
			sub := h.subscribe(h.lastSeq())
			end.end(h, tasks[0].ID)
			ev := h.await(sub, "task.unheld", func(ev archivist.Event) bool { return ev.Type == archivist.EventTaskUnheld })
			if ev.Task.ID != tasks[1].ID {
				t.Errorf("task.unheld of %s, want %s", ev.Task.ID, tasks[1].ID)
			}
			h.wantUse(sleepLimit, 0, 0)
			// The first PENDING one by placement order is offered: the
			// task put back, if it was, else the one held.
			want := tasks[1].ID
			if h.get(tasks[0].ID).Status == archivist.TaskPending {
				want = tasks[0].ID
			}
			if got := h.ready(10); len(got) != 1 || got[0].ID != want {
				t.Errorf("ReadyTasks offers %v, want [%s]", ids(got), want)
			}
		})
	}

	s.run(t, "AnyGroupCountsEachGroup", func(t *testing.T, h *fixture) {
		id := archivist.LimitID("sleep", archivist.AnyGroup)
		h.setLimit(archivist.Limit{TaskType: "sleep", Group: archivist.AnyGroup, MaxConcurrent: 1})
		tasks := h.create(sleepTask("a"), sleepTask("a"), sleepTask("b"), sleepTask("a"), sleepTask("b"))
		// Tasks 0 and 2 have the same turn (the first of groups a and b):
		// their order is not specified (fair share).
		got := h.ready(10)
		if diff := cmp.Diff([]string{tasks[0].ID, tasks[2].ID}, ids(got), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Fatalf("ReadyTasks under each group at most 1 (-want +got):\n%s", diff)
		}
		h.wantHeld(tasks[1].ID, archivist.HeldByLimit(id))
		h.assign("n1", tasks[0].ID, tasks[2].ID)
		l := h.limitUse(id)
		want := []archivist.LimitGroupUse{{Group: "a", Running: 1, Held: 2}, {Group: "b", Running: 1, Held: 1}}
		if l.Running != 2 || l.Held != 3 || !cmp.Equal(l.Groups, want) {
			t.Errorf("use: running %d held %d groups %+v; want 2, 3, %+v", l.Running, l.Held, l.Groups, want)
		}
		h.cancel(tasks[2].ID)
		if got := h.ready(10); len(got) != 1 || got[0].ID != tasks[4].ID {
			t.Errorf("after group b's slot came back ReadyTasks offers %v, want [%s]", ids(got), tasks[4].ID)
		}
		h.wantHeld(tasks[1].ID, archivist.HeldByLimit(id))
	})

	s.run(t, "GroupLimitAnyType", func(t *testing.T, h *fixture) {
		h.setLimit(archivist.Limit{Group: "g", MaxConcurrent: 1})
		inG := newTask("", "echo", archivist.PriorityNormal)
		inG.Group = "g"
		other := newTask("", "echo", archivist.PriorityNormal)
		tasks := h.create(inG, sleepTask("g"), other)
		// Tasks 0 and 2 have the same turn (the first of groups g and ""):
		// their order is not specified (fair share).
		if got := h.ready(10); !cmp.Equal(ids(got), []string{tasks[0].ID, tasks[2].ID}, cmpopts.SortSlices(func(a, b string) bool { return a < b })) {
			t.Errorf("ReadyTasks under group g at most 1 offers %v, want %v", ids(got), []string{tasks[0].ID, tasks[2].ID})
		}
		h.wantHeld(tasks[1].ID, archivist.HeldByLimit("group=g"))
		if got := h.get(tasks[1].ID); got.Group != "g" {
			t.Errorf("the held task's group: %q, want g", got.Group)
		}
	})

	// Slots are counted right across a limit removed and set again while
	// its tasks run, and with two limits on one task.
	s.run(t, "DeleteWhileRunning", func(t *testing.T, h *fixture) {
		h.setLimit(archivist.Limit{TaskType: "sleep", MaxConcurrent: 2})
		tasks := h.create(sleepTask("g"), sleepTask("g"), sleepTask("g"))
		h.ready(10)
		h.assign("n1", tasks[0].ID, tasks[1].ID)
		h.cancel(tasks[2].ID) // a held task cancelled
		h.wantUse(sleepLimit, 2, 0)
		if err := h.s.DeleteLimit(h.ctx(), sleepLimit); err != nil {
			t.Fatalf("DeleteLimit: %v", err)
		}
		h.cancel(tasks[0].ID)
		if l := h.setLimit(archivist.Limit{TaskType: "sleep", MaxConcurrent: 2}); l.Running != 1 {
			t.Errorf("set again with one task running: Running %d, want 1", l.Running)
		}
		if l := h.setLimit(archivist.Limit{Group: "g", MaxConcurrent: 5}); l.Running != 1 {
			t.Errorf("a group limit set with one task of the group running: Running %d, want 1", l.Running)
		}
		more := h.create(sleepTask("g"), sleepTask("g"))
		if got := h.ready(10); !cmp.Equal(ids(got), []string{more[0].ID}) {
			t.Errorf("ReadyTasks offers %v, want [%s]", ids(got), more[0].ID)
		}
		h.assign("n1", more[0].ID)
		h.wantUse(sleepLimit, 2, 1)
		h.wantUse("group=g", 2, 0)
		h.cancel(tasks[1].ID)
		h.cancel(more[0].ID)
		h.wantUse(sleepLimit, 0, 0)
		h.wantUse("group=g", 0, 0)
		h.wantHeld(more[1].ID, "")
	})

	s.run(t, "RaiseAndDeleteRelease", func(t *testing.T, h *fixture) {
		tasks := h.create(sleepTask(""), sleepTask(""), sleepTask(""))
		h.assign("n1", tasks[0].ID)
		// A new limit counts the tasks running already.
		if l := h.setLimit(archivist.Limit{TaskType: "sleep", MaxConcurrent: 1}); l.Running != 1 {
			t.Errorf("SetLimit with one sleep task assigned: Running %d, want 1", l.Running)
		}
		if got := h.ready(10); len(got) != 0 {
			t.Fatalf("ReadyTasks offers %v under a full limit", ids(got))
		}
		h.wantUse(sleepLimit, 1, 2)
		l := h.setLimit(archivist.Limit{TaskType: "sleep", MaxConcurrent: 2})
		if l.Running != 1 || l.Held != 1 {
			t.Errorf("raised to 2: running %d held %d, want 1, 1", l.Running, l.Held)
		}
		h.wantHeld(tasks[1].ID, "")
		h.wantHeld(tasks[2].ID, heldBySleep)
		sub := h.subscribe(h.lastSeq())
		if err := h.s.DeleteLimit(h.ctx(), sleepLimit); err != nil {
			t.Fatalf("DeleteLimit: %v", err)
		}
		h.await(sub, "task.unheld", func(ev archivist.Event) bool {
			return ev.Type == archivist.EventTaskUnheld && ev.Task.ID == tasks[2].ID
		})
		h.wantHeld(tasks[2].ID, "")
		if got := h.ready(10); len(got) != 2 {
			t.Errorf("with no limit ReadyTasks offers %v, want both", ids(got))
		}
		if ls, err := h.s.ListLimits(h.ctx()); err != nil || len(ls) != 0 {
			t.Errorf("ListLimits after the delete: %v, %v", ls, err)
		}
		h.wantCode(h.s.DeleteLimit(h.ctx(), sleepLimit), archivist.CodeNotFound, "DeleteLimit of a removed limit")
	})

	s.run(t, "ReplaceKeepsCreatedAt", func(t *testing.T, h *fixture) {
		a := h.setLimit(archivist.Limit{Group: "g", MaxConcurrent: 3})
		b := h.setLimit(archivist.Limit{Group: "g", MaxConcurrent: 4, RatePerSecond: 2})
		if !b.CreatedAt.Equal(a.CreatedAt) || b.UpdatedAt.Before(a.UpdatedAt) || b.Burst != 2 {
			t.Errorf("replaced limit %+v, first %+v", b, a)
		}
		ls, err := h.s.ListLimits(h.ctx())
		if err != nil || len(ls) != 1 {
			t.Fatalf("ListLimits: %v, %v", ls, err)
		}
		if diff := cmp.Diff(b, ls[0], cmpopts.EquateApproxTime(time.Millisecond), cmpEmpty); diff != "" {
			t.Errorf("ListLimits vs SetLimit (-set +listed):\n%s", diff)
		}
		_, err = h.s.SetLimit(h.ctx(), &archivist.Limit{TaskType: "sleep"})
		h.wantCode(err, archivist.CodeBadUserInput, "SetLimit with no bound")
	})

	s.run(t, "RateWithBurst", func(t *testing.T, h *fixture) {
		h.setLimit(archivist.Limit{TaskType: "echo", RatePerSecond: 5, Burst: 2})
		var tasks []*archivist.Task
		for range 4 {
			tasks = append(tasks, newTask("", "echo", archivist.PriorityNormal))
		}
		h.create(tasks...)
		got := h.ready(10)
		if diff := cmp.Diff([]string{tasks[0].ID, tasks[1].ID}, ids(got)); diff != "" {
			t.Fatalf("ReadyTasks with a burst of 2 (-want +got):\n%s", diff)
		}
		h.assign("n1", tasks[0].ID, tasks[1].ID)
		h.wantHeld(tasks[2].ID, archivist.HeldByLimit(archivist.LimitID("echo", "")))
		wait, ok, err := h.s.NextDue(h.ctx())
		if err != nil || !ok || wait > time.Second {
			t.Errorf("NextDue with a rate-held task: %v, %v, %v; want a token within 200ms", wait, ok, err)
		}
		start := time.Now()
		h.waitReady(tasks[2].ID)
		h.assign("n1", tasks[2].ID)
		h.waitReady(tasks[3].ID)
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("two more starts at 5 per second took %v", d)
		}
	})

	s.run(t, "PauseAndResume", func(t *testing.T, h *fixture) {
		run := h.running("n1", sleepTask(""))
		tasks := h.create(sleepTask(""), newTask("", "echo", archivist.PriorityNormal), sleepTask(""))
		if changed, err := h.s.PauseTaskType(h.ctx(), "sleep", true); err != nil || !changed {
			t.Fatalf("PauseTaskType(sleep): %v, %v", changed, err)
		}
		if changed, err := h.s.PauseTaskType(h.ctx(), "sleep", true); err != nil || changed {
			t.Errorf("PauseTaskType(sleep) again: %v, %v; want no change", changed, err)
		}
		if got, err := h.s.PausedTaskTypes(h.ctx()); err != nil || !cmp.Equal(got, []string{"sleep"}) {
			t.Errorf("PausedTaskTypes: %v, %v", got, err)
		}
		late := h.create(sleepTask(""))[0]
		if got := h.ready(10); len(got) != 1 || got[0].ID != tasks[1].ID {
			t.Errorf("ReadyTasks with sleep paused offers %v, want [%s]", ids(got), tasks[1].ID)
		}
		for _, id := range []string{tasks[0].ID, tasks[2].ID, late.ID} {
			h.wantHeld(id, archivist.HeldPaused)
		}
		h.wantStatus(run.ID, archivist.TaskInProgress)
		// Held tasks are PENDING to counts and lists.
		if n := h.counts()[archivist.TaskPending]; n != 4 {
			t.Errorf("CountTasks: %d PENDING, want 4 (three of them held)", n)
		}
		for _, prio := range []archivist.Priority{"", archivist.PriorityNormal} {
			page, err := h.s.ListTasks(h.ctx(), archivist.TaskQuery{TaskFilter: archivist.TaskFilter{
				Status: []archivist.TaskStatus{archivist.TaskPending}, Priority: prio}})
			if err != nil {
				t.Fatalf("ListTasks: %v", err)
			}
			if want := []string{late.ID, tasks[2].ID, tasks[1].ID, tasks[0].ID}; !cmp.Equal(ids(page.Tasks), want) || page.TotalCount != 4 {
				t.Errorf("ListTasks of PENDING tasks (priority %q): %v (total %d), want %v", prio, ids(page.Tasks), page.TotalCount, want)
			}
		}
		_, err := h.s.ClaimTask(h.ctx(), "n1", late.ID, grace)
		h.wantCode(err, archivist.CodeConflict, "ClaimTask of a paused type's task")
		h.complete(run.ID, run.Attempt, `{}`)
		sub := h.subscribe(h.lastSeq())
		if changed, err := h.s.PauseTaskType(h.ctx(), "sleep", false); err != nil || !changed {
			t.Fatalf("resume sleep: %v, %v", changed, err)
		}
		h.await(sub, "task.unheld", func(ev archivist.Event) bool { return ev.Type == archivist.EventTaskUnheld })
		if got, err := h.s.PausedTaskTypes(h.ctx()); err != nil || len(got) != 0 {
			t.Errorf("PausedTaskTypes after resume: %v, %v", got, err)
		}
		got := h.ready(10)
		if diff := cmp.Diff([]string{tasks[0].ID, tasks[1].ID, tasks[2].ID, late.ID}, ids(got)); diff != "" {
			t.Errorf("ReadyTasks after resume (-want +got):\n%s", diff)
		}
		for _, id := range []string{tasks[0].ID, tasks[2].ID, late.ID} {
			h.wantHeld(id, "")
		}
	})
}
