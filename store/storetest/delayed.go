package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// testDelayed: a task submitted with a RunAt in the future or a Delay is
// SCHEDULED until then, by the store's clock, and then becomes PENDING
// (task.due) when placement asks for ready tasks; NextDue says how long
// until the earliest one, so that the leader need not poll.
func testDelayed(t *testing.T, s suite) {
	later := func(id string, d time.Duration) *archivist.Task {
		task := newTask(id, "t", archivist.PriorityNormal)
		task.Delay = d
		return task
	}
	offered := func(h *fixture, id string) bool {
		return slices.Contains(ids(h.ready(1000)), id)
	}
	nextDue := func(h *fixture) (time.Duration, bool) {
		h.t.Helper()
		d, ok, err := h.s.NextDue(h.ctx())
		if err != nil {
			h.t.Fatalf("NextDue: %v", err)
		}
		return d, ok
	}

	s.run(t, "ScheduledUntilDue", func(t *testing.T, h *fixture) {
		if _, ok := nextDue(h); ok {
			t.Fatal("NextDue on an empty store says a task waits")
		}
		sub := h.subscribe(h.lastSeq())
		created := h.create(later("soon", 400*time.Millisecond))[0]
		if created.Status != archivist.TaskScheduled {
			t.Fatalf("a task with a delay is created %s, want SCHEDULED", created.Status)
		}
		got := h.get("soon")
		if got.Status != archivist.TaskScheduled || got.RunAt.Sub(got.CreatedAt) != 400*time.Millisecond {
			t.Fatalf("stored as %s due %s after its creation; want SCHEDULED due 400ms after", got.Status, got.RunAt.Sub(got.CreatedAt))
		}
		if ev := h.next(sub); ev.Type != archivist.EventTaskCreated || ev.Task.Status != archivist.TaskScheduled || !ev.Task.RunAt.Equal(got.RunAt) {
			t.Fatalf("first event %s, want task.created of a SCHEDULED task with its RunAt", describe(ev))
		}
		if counts := h.counts(); counts[archivist.TaskScheduled] != 1 || counts[archivist.TaskPending] != 0 {
			t.Errorf("CountTasks: %v, want one SCHEDULED", nonZero(counts))
		}
		if page := h.list(archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskScheduled}}}); page.TotalCount != 1 || len(page.Tasks) != 1 {
			t.Errorf("ListTasks(SCHEDULED): %d tasks (total %d), want 1", len(page.Tasks), page.TotalCount)
		}
		if d, ok := nextDue(h); !ok || d > 400*time.Millisecond+skew {
			t.Errorf("NextDue: %s, %v; want at most 400ms, true", d, ok)
		}
		// Offered once due, not before (by the store's clock: what it
		// reports as RunAt).
		var promoted *archivist.Task
		testkit.Eventually(t, waitLimit, func() bool {
			for _, task := range h.ready(1000) {
				if task.ID == "soon" {
					promoted = task
					return true
				}
			}
			return false
		}, "the delayed task is offered")
		ev := h.await(sub, "task.due", func(ev archivist.Event) bool { return ev.Type == archivist.EventTaskDue })
		if ev.Task.ID != "soon" || ev.Task.Status != archivist.TaskPending || !ev.Task.RunAt.Equal(got.RunAt) {
			t.Errorf("task.due event: %s, want the task PENDING, keeping its due time", describe(ev))
		}
		if ev.Time.Before(got.RunAt) {
			t.Errorf("the task became PENDING at %s, before its RunAt %s", ev.Time, got.RunAt)
		}
		if promoted.Status != archivist.TaskPending {
			t.Errorf("offered as %s, want PENDING", promoted.Status)
		}
		if _, ok := nextDue(h); ok {
			t.Error("NextDue after the only delayed task became PENDING says a task waits")
		}
	})

	s.run(t, "RunAt", func(t *testing.T, h *fixture) {
		past, future := newTask("past", "t", archivist.PriorityNormal), newTask("future", "t", archivist.PriorityNormal)
		past.RunAt = time.Now().Add(-time.Hour)
		at := time.Now().Add(time.Hour).Truncate(time.Millisecond)
		future.RunAt = at
		h.create(past, future)
		if got := h.get("past"); got.Status != archivist.TaskPending || !got.RunAt.IsZero() {
			t.Errorf("RunAt in the past: %s with RunAt %s; want PENDING now, no RunAt", got.Status, got.RunAt)
		}
		if got := h.get("future"); got.Status != archivist.TaskScheduled || !got.RunAt.Equal(at) {
			t.Errorf("RunAt in an hour: %s at %s; want SCHEDULED at %s", got.Status, got.RunAt, at)
		}
		if got := ids(h.ready(1000)); !slices.Equal(got, []string{"past"}) {
			t.Errorf("ReadyTasks: %v, want only the task due now", got)
		}
		if d, ok := nextDue(h); !ok || !within(d, time.Hour-skew, time.Hour) {
			t.Errorf("NextDue: %s, %v; want about an hour", d, ok)
		}
	})

	s.run(t, "EarliestFirst", func(t *testing.T, h *fixture) {
		h.create(later("hour", time.Hour), later("soon", 300*time.Millisecond), later("half", 30*time.Minute))
		if d, ok := nextDue(h); !ok || d > 300*time.Millisecond {
			t.Fatalf("NextDue: %s, %v; want at most 300ms", d, ok)
		}
		h.waitReady("soon")
		if d, ok := nextDue(h); !ok || !within(d, 30*time.Minute-skew, 30*time.Minute) {
			t.Errorf("NextDue once the first is PENDING: %s, %v; want about 30 minutes", d, ok)
		}
		h.wantStatus("hour", archivist.TaskScheduled)
		h.wantStatus("half", archivist.TaskScheduled)
	})

	s.run(t, "Cancel", func(t *testing.T, h *fixture) {
		h.create(later("c", 200*time.Millisecond), later("keep", 200*time.Millisecond))
		if got := h.cancel("c"); got.Status != archivist.TaskCancelled || !got.RunAt.IsZero() {
			t.Fatalf("cancelled SCHEDULED task: %s with RunAt %s; want CANCELLED, no RunAt", got.Status, got.RunAt)
		}
		h.waitReady("keep")
		if offered(h, "c") {
			t.Error("a cancelled SCHEDULED task was offered when its time came")
		}
		h.wantStatus("c", archivist.TaskCancelled)
		if _, ok := nextDue(h); ok {
			t.Error("NextDue counts a cancelled SCHEDULED task")
		}
	})

	s.run(t, "RetryingCounts", func(t *testing.T, h *fixture) {
		h.running("node-1", newTask("r", "t", archivist.PriorityNormal))
		h.fail("r", 1, archivist.Failure{Error: "boom", Retry: archivist.RetryPolicy{Base: time.Hour, Max: time.Hour}})
		if d, ok := nextDue(h); !ok || d > time.Hour+skew {
			t.Errorf("NextDue with a RETRYING task: %s, %v; want its backoff", d, ok)
		}
	})

	// A burst of tasks due at once is moved to PENDING over several calls
	// if need be; until all are, NextDue says more are due now.
	s.run(t, "Burst", func(t *testing.T, h *fixture) {
		const n = 1500
		tasks := make([]*archivist.Task, n)
		for i := range tasks {
			tasks[i] = later(fmt.Sprintf("b-%04d", i), 100*time.Millisecond)
		}
		h.create(tasks...)
		testkit.Eventually(t, waitLimit, func() bool {
			h.ready(1)
			return h.counts()[archivist.TaskPending] == n || func() bool {
				d, ok := nextDue(h)
				if ok && d > 0 && h.counts()[archivist.TaskPending] > 0 {
					t.Fatalf("NextDue %s while %d tasks are still SCHEDULED past their time", d, h.counts()[archivist.TaskScheduled])
				}
				return false
			}()
		}, "all %d tasks PENDING", n)
	})

	// A delayed task waits from its due time, not from its submission: the
	// due time stays on it once PENDING, and statistics count its wait from
	// there.
	s.run(t, "WaitFromDueTime", func(t *testing.T, h *fixture) {
		h.create(later("late", 600*time.Millisecond))
		due := h.get("late").RunAt
		h.waitReady("late")
		if got := h.get("late"); got.Status != archivist.TaskPending || !got.RunAt.Equal(due) {
			t.Fatalf("once due: %s with RunAt %s; want PENDING keeping its due time %s", got.Status, got.RunAt, due)
		}
		h.assign("node-1", "late")
		started := h.start("node-1", "late")
		h.complete("late", started.Attempt, `"ok"`)
		var wait time.Duration
		for _, ty := range h.stats(time.Minute, time.Minute).ByType {
			if ty.Type == "t" {
				wait = ty.WaitP95
			}
		}
		// The wait is from the due time (as the stored times say it was: a
		// loaded machine may start it late), not from the submission, which
		// adds the 600ms delay.
		got := h.get("late")
		fromDue, fromSubmit := got.StartedAt.Sub(due), got.StartedAt.Sub(got.CreatedAt)
		if !nearDuration(wait, fromDue, slack) || wait >= fromSubmit-300*time.Millisecond {
			t.Errorf("waitP95 of the delayed task: %s; want its wait from its due time (%s), not from its submission (%s)",
				wait, fromDue, fromSubmit)
		}
	})
}
