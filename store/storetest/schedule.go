package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
)

// scheduleOpts compare schedules as the store returns them.
var scheduleOpts = cmp.Options{jsonValue, cmpEmpty}

// tick0 is a tick in the future, whole seconds (every store keeps at
// least microseconds), so that no case depends on the clock.
func tick0() time.Time { return time.Now().Add(time.Hour).Truncate(time.Second) }

// newSchedule returns a schedule every minute, next at next, whose ticks
// submit a task of type "t".
func newSchedule(name string, next time.Time) *archivist.Schedule {
	return &archivist.Schedule{
		Name:      name,
		Every:     time.Minute,
		Task:      newTask("", "t", archivist.PriorityHigh),
		Overlap:   archivist.OverlapAllow,
		Misfire:   archivist.MisfireRunOnce,
		NextRunAt: next,
	}
}

func (h *fixture) createSchedule(s *archivist.Schedule) *archivist.Schedule {
	h.t.Helper()
	if err := h.s.CreateSchedule(h.ctx(), s); err != nil {
		h.t.Fatalf("CreateSchedule(%s): %v", s.Name, err)
	}
	return s
}

func (h *fixture) getSchedule(name string) *archivist.Schedule {
	h.t.Helper()
	s, err := h.s.GetSchedule(h.ctx(), name)
	if err != nil {
		h.t.Fatalf("GetSchedule(%s): %v", name, err)
	}
	if s.Name != name {
		h.t.Fatalf("GetSchedule(%s) returned schedule %q", name, s.Name)
	}
	return s
}

// wantSchedule fails unless the store holds exactly want.
func (h *fixture) wantSchedule(what string, want *archivist.Schedule) {
	h.t.Helper()
	if diff := cmp.Diff(want, h.getSchedule(want.Name), scheduleOpts); diff != "" {
		h.t.Errorf("%s: stored schedule differs (-want +stored):\n%s", what, diff)
	}
}

// fireTask is the task a tick of s submits: its template with Schedule set.
func fireTask(s *archivist.Schedule) *archivist.Task {
	t := s.Task.Clone()
	t.Schedule = s.Name
	return t
}

// tick fires the tick of s at at, next at next, under the current
// leadership.
func (h *fixture) tick(s *archivist.Schedule, at, next time.Time) *archivist.ScheduleFired {
	h.t.Helper()
	got, err := h.s.FireSchedule(h.ctx(), archivist.ScheduleFire{Name: s.Name, Lease: h.lead(), Tick: at, Next: next, Task: fireTask(s)})
	if err != nil {
		h.t.Fatalf("FireSchedule(%s, tick %s): %v", s.Name, at, err)
	}
	h.checkFired("FireSchedule", got)
	return got
}

// trigger fires s by hand.
func (h *fixture) trigger(s *archivist.Schedule) *archivist.ScheduleFired {
	h.t.Helper()
	got, err := h.s.FireSchedule(h.ctx(), archivist.ScheduleFire{Name: s.Name, Manual: true, Task: fireTask(s)})
	if err != nil {
		h.t.Fatalf("FireSchedule(%s, manual): %v", s.Name, err)
	}
	h.checkFired("FireSchedule (manual)", got)
	if got.Task == nil {
		h.t.Fatalf("a manual trigger of %s submitted nothing: %q", s.Name, got.Skipped)
	}
	return got
}

// checkFired checks what FireSchedule returned against the store: the
// schedule as stored, and the task it submitted (or why none).
func (h *fixture) checkFired(op string, got *archivist.ScheduleFired) {
	h.t.Helper()
	if got == nil || got.Schedule == nil {
		h.t.Fatalf("%s returned no schedule: %+v", op, got)
	}
	h.wantSchedule(op+" result", got.Schedule)
	if got.Task == nil {
		if got.Skipped == "" {
			h.t.Errorf("%s submitted no task and said not why", op)
		}
		return
	}
	if got.Skipped != "" {
		h.t.Errorf("%s submitted task %s and says it skipped: %q", op, got.Task.ID, got.Skipped)
	}
	if got.Schedule.LastTaskID != got.Task.ID {
		h.t.Errorf("%s: LastTaskID %q, want the task submitted, %s", op, got.Schedule.LastTaskID, got.Task.ID)
	}
	if got.Task.Duplicate {
		return
	}
	h.checkStored(op, got.Task)
	if got.Task.Schedule != got.Schedule.Name {
		h.t.Errorf("%s: task %s has Schedule %q, want %q", op, got.Task.ID, got.Task.Schedule, got.Schedule.Name)
	}
}

// scheduleTasks lists the tasks schedule name submitted, newest first.
func (h *fixture) scheduleTasks(name string) []*archivist.Task {
	h.t.Helper()
	page, err := h.s.ListTasks(h.ctx(), archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Schedule: name}, First: 500})
	if err != nil {
		h.t.Fatalf("ListTasks(schedule %s): %v", name, err)
	}
	if page.TotalCount != len(page.Tasks) {
		h.t.Errorf("ListTasks(schedule %s): TotalCount %d, %d tasks", name, page.TotalCount, len(page.Tasks))
	}
	return page.Tasks
}

func testSchedules(t *testing.T, s suite) {
	s.run(t, "CreateAndGet", func(t *testing.T, h *fixture) {
		before := time.Now()
		in := newSchedule("nightly", tick0())
		in.Cron, in.Timezone, in.Every = "0 3 * * *", "Europe/Paris", 0
		in.Overlap, in.Misfire = archivist.OverlapSkip, archivist.MisfireSkip
		in.Task.Metadata = []byte(`{"team":"ops"}`)
		// OnDuplicate is kept too, although Task's JSON leaves it out.
		in.Task.UniqueKey, in.Task.UniqueFor, in.Task.OnDuplicate = "nightly-run", time.Hour, archivist.DuplicateReplace
		h.createSchedule(in)
		after := time.Now()
		if in.CreatedAt.IsZero() || !in.CreatedAt.Equal(in.UpdatedAt) || !near(in.CreatedAt, before, after) {
			t.Errorf("CreateSchedule set CreatedAt %s, UpdatedAt %s; want both the store's now (%s to %s)", in.CreatedAt, in.UpdatedAt, before, after)
		}
		h.wantSchedule("created", in)

		taken := newSchedule("nightly", tick0().Add(time.Minute))
		h.wantCode(h.s.CreateSchedule(h.ctx(), taken), archivist.CodeConflict, "CreateSchedule with a taken name")
		h.wantSchedule("after a refused create", in)

		_, err := h.s.GetSchedule(h.ctx(), "nope")
		h.wantCode(err, archivist.CodeNotFound, "GetSchedule of an unknown name")
		h.wantCode(h.s.CreateSchedule(h.ctx(), newSchedule("bad name!", tick0())), archivist.CodeBadUserInput, "CreateSchedule with an invalid name")
		h.wantCode(h.s.CreateSchedule(h.ctx(), newSchedule("", tick0())), archivist.CodeBadUserInput, "CreateSchedule without a name")
	})

	s.run(t, "CreatePaused", func(t *testing.T, h *fixture) {
		in := newSchedule("held", tick0())
		in.Paused = true
		h.createSchedule(in)
		if !h.getSchedule("held").Paused {
			t.Errorf("a schedule created paused is not stored paused")
		}
	})

	s.run(t, "List", func(t *testing.T, h *fixture) {
		got, err := h.s.ListSchedules(h.ctx())
		if err != nil || len(got) != 0 {
			t.Fatalf("ListSchedules of an empty store: %v, %v", got, err)
		}
		var want []*archivist.Schedule
		for _, name := range []string{"b/2", "a.1", "c", "a"} {
			want = append(want, h.createSchedule(newSchedule(name, tick0())))
		}
		got, err = h.s.ListSchedules(h.ctx())
		if err != nil {
			t.Fatalf("ListSchedules: %v", err)
		}
		var names []string
		for _, s := range got {
			names = append(names, s.Name)
		}
		if diff := cmp.Diff([]string{"a", "a.1", "b/2", "c"}, names); diff != "" {
			t.Fatalf("ListSchedules names, want sorted (-want +got):\n%s", diff)
		}
		for _, w := range want {
			for _, g := range got {
				if g.Name == w.Name {
					if diff := cmp.Diff(w, g, scheduleOpts); diff != "" {
						t.Errorf("listed schedule %s differs (-created +listed):\n%s", w.Name, diff)
					}
				}
			}
		}
	})

	s.run(t, "UpdateKeepsState", func(t *testing.T, h *fixture) {
		orig := h.createSchedule(newSchedule("s", tick0()))
		fired := h.trigger(orig)
		paused, err := h.s.PauseSchedule(h.ctx(), "s", true, time.Time{})
		if err != nil {
			t.Fatalf("PauseSchedule: %v", err)
		}

		in := newSchedule("s", tick0().Add(time.Hour))
		in.Every, in.Cron, in.Timezone = 0, "*/5 * * * *", "UTC"
		in.Overlap, in.Misfire = archivist.OverlapCancelPrevious, archivist.MisfireSkip
		in.Task = newTask("", "other", archivist.PriorityLow)
		// State in the input is not taken.
		in.Paused, in.LastTaskID, in.LastRunAt, in.CreatedAt = false, "forged", time.Unix(1, 0), time.Unix(2, 0)
		got, err := h.s.UpdateSchedule(h.ctx(), in)
		if err != nil {
			t.Fatalf("UpdateSchedule: %v", err)
		}
		want := in.Clone()
		want.Paused, want.LastTaskID, want.LastRunAt, want.CreatedAt = true, fired.Task.ID, paused.LastRunAt, orig.CreatedAt
		want.UpdatedAt = got.UpdatedAt
		if diff := cmp.Diff(want, got, scheduleOpts); diff != "" {
			t.Errorf("UpdateSchedule returned (-want +got):\n%s", diff)
		}
		if got.UpdatedAt.Before(paused.UpdatedAt) {
			t.Errorf("UpdatedAt went back: %s after %s", got.UpdatedAt, paused.UpdatedAt)
		}
		h.wantSchedule("updated", got)

		_, err = h.s.UpdateSchedule(h.ctx(), newSchedule("nope", tick0()))
		h.wantCode(err, archivist.CodeNotFound, "UpdateSchedule of an unknown name")
	})

	s.run(t, "PauseResume", func(t *testing.T, h *fixture) {
		next := tick0()
		h.createSchedule(newSchedule("s", next))
		p, err := h.s.PauseSchedule(h.ctx(), "s", true, next.Add(time.Hour))
		if err != nil {
			t.Fatalf("PauseSchedule(pause): %v", err)
		}
		if !p.Paused || !p.NextRunAt.Equal(next) {
			t.Errorf("paused: Paused %v, NextRunAt %s; want true and unchanged %s", p.Paused, p.NextRunAt, next)
		}
		h.wantSchedule("paused", p)
		resumeAt := next.Add(2 * time.Hour)
		r, err := h.s.PauseSchedule(h.ctx(), "s", false, resumeAt)
		if err != nil {
			t.Fatalf("PauseSchedule(resume): %v", err)
		}
		if r.Paused || !r.NextRunAt.Equal(resumeAt) {
			t.Errorf("resumed: Paused %v, NextRunAt %s; want false and %s", r.Paused, r.NextRunAt, resumeAt)
		}
		h.wantSchedule("resumed", r)
		_, err = h.s.PauseSchedule(h.ctx(), "nope", true, time.Time{})
		h.wantCode(err, archivist.CodeNotFound, "PauseSchedule of an unknown name")
	})

	s.run(t, "DeleteKeepsTasks", func(t *testing.T, h *fixture) {
		sch := h.createSchedule(newSchedule("s", tick0()))
		h.createSchedule(newSchedule("other", tick0()))
		task := h.trigger(sch).Task
		if err := h.s.DeleteSchedule(h.ctx(), "s"); err != nil {
			t.Fatalf("DeleteSchedule: %v", err)
		}
		_, err := h.s.GetSchedule(h.ctx(), "s")
		h.wantCode(err, archivist.CodeNotFound, "GetSchedule after DeleteSchedule")
		list, err := h.s.ListSchedules(h.ctx())
		if err != nil || len(list) != 1 || list[0].Name != "other" {
			t.Errorf("ListSchedules after deleting s: %v, %v; want only other", list, err)
		}
		if got := h.get(task.ID); got.Schedule != "s" {
			t.Errorf("the task of a deleted schedule has Schedule %q, want s", got.Schedule)
		}
		h.wantCode(h.s.DeleteSchedule(h.ctx(), "s"), archivist.CodeNotFound, "DeleteSchedule twice")
		_, err = h.s.FireSchedule(h.ctx(), archivist.ScheduleFire{Name: "s", Manual: true, Task: fireTask(sch)})
		h.wantCode(err, archivist.CodeNotFound, "FireSchedule of a deleted schedule")
		// The name is free again.
		h.createSchedule(newSchedule("s", tick0()))
	})

	s.run(t, "Events", func(t *testing.T, h *fixture) {
		lease := h.lead()
		sub := h.subscribe(h.lastSeq())
		next := func(typ archivist.EventType) archivist.Event {
			t.Helper()
			ev := h.await(sub, string(typ), func(ev archivist.Event) bool { return ev.Kind == archivist.EventSchedule })
			if ev.Type != typ || ev.Schedule == nil || ev.Time.IsZero() {
				t.Fatalf("schedule event %s (schedule %v), want %s with its schedule and a time", describe(ev), ev.Schedule, typ)
			}
			return ev
		}
		same := func(what string, ev archivist.Event, want *archivist.Schedule) {
			t.Helper()
			if diff := cmp.Diff(want, ev.Schedule, scheduleOpts); diff != "" {
				t.Errorf("%s event: schedule differs from the stored one (-stored +event):\n%s", what, diff)
			}
		}
		at := tick0()
		sch := h.createSchedule(newSchedule("s", at))
		same("create", next(archivist.EventScheduleUpdated), sch)

		up := newSchedule("s", at)
		up.Every = 2 * time.Minute
		updated, err := h.s.UpdateSchedule(h.ctx(), up)
		if err != nil {
			t.Fatalf("UpdateSchedule: %v", err)
		}
		same("update", next(archivist.EventScheduleUpdated), updated)

		fired, err := h.s.FireSchedule(h.ctx(), archivist.ScheduleFire{Name: "s", Lease: lease, Tick: at, Next: at.Add(time.Minute), Task: fireTask(sch)})
		if err != nil {
			t.Fatalf("FireSchedule: %v", err)
		}
		h.await(sub, "task.created of the tick", taskEvent(archivist.EventTaskCreated, fired.Task.ID))
		same("fire", next(archivist.EventScheduleUpdated), fired.Schedule)

		paused, err := h.s.PauseSchedule(h.ctx(), "s", true, time.Time{})
		if err != nil {
			t.Fatalf("PauseSchedule: %v", err)
		}
		same("pause", next(archivist.EventScheduleUpdated), paused)
		resumed, err := h.s.PauseSchedule(h.ctx(), "s", false, at.Add(time.Hour))
		if err != nil {
			t.Fatalf("PauseSchedule(resume): %v", err)
		}
		same("resume", next(archivist.EventScheduleUpdated), resumed)

		if err := h.s.DeleteSchedule(h.ctx(), "s"); err != nil {
			t.Fatalf("DeleteSchedule: %v", err)
		}
		// The deletion carries the schedule's last state.
		same("delete", next(archivist.EventScheduleDeleted), resumed)

		// A refused change records nothing.
		h.wantCode(h.s.DeleteSchedule(h.ctx(), "s"), archivist.CodeNotFound, "DeleteSchedule twice")
		seq := h.lastSeq()
		h.createSchedule(newSchedule("marker", at))
		if ev := next(archivist.EventScheduleUpdated); ev.Schedule.Name != "marker" || ev.Seq != seq+1 {
			t.Errorf("after a refused delete: %s of %s, want #%d about marker", describe(ev), ev.Schedule.Name, seq+1)
		}
	})

	s.run(t, "OneTaskPerTick", func(t *testing.T, h *fixture) {
		at := tick0()
		sch := h.createSchedule(newSchedule("s", at))
		h.createSchedule(newSchedule("other", at))
		h.trigger(h.getSchedule("other"))

		first := h.tick(sch, at, at.Add(time.Minute))
		if first.Task == nil {
			t.Fatalf("the first tick submitted nothing: %q", first.Skipped)
		}
		if first.Task.Status != archivist.TaskPending || first.Task.Type != "t" || first.Task.Priority != archivist.PriorityHigh {
			t.Errorf("submitted task: %s %s %s, want a PENDING HIGH t", first.Task.Status, first.Task.Priority, first.Task.Type)
		}
		if diff := cmp.Diff(submission(fireTask(sch)), submission(first.Task), taskOpts); diff != "" {
			t.Errorf("submitted task differs from the template (-template +task):\n%s", diff)
		}
		got := first.Schedule
		if !got.LastRunAt.Equal(at) || !got.NextRunAt.Equal(at.Add(time.Minute)) || got.LastTaskID != first.Task.ID {
			t.Errorf("after the tick: LastRunAt %s, NextRunAt %s, LastTaskID %s; want %s, %s, %s",
				got.LastRunAt, got.NextRunAt, got.LastTaskID, at, at.Add(time.Minute), first.Task.ID)
		}

		// The same tick again (a leader that did not learn it fired): refused.
		before := h.getSchedule("s")
		_, err := h.s.FireSchedule(h.ctx(), archivist.ScheduleFire{Name: "s", Lease: h.lead(), Tick: at, Next: at.Add(time.Minute), Task: fireTask(sch)})
		h.wantCode(err, archivist.CodeConflict, "FireSchedule of a tick fired already")
		h.wantSchedule("after a refused tick", before)
		if tasks := h.scheduleTasks("s"); len(tasks) != 1 {
			t.Errorf("schedule s submitted %d tasks after a repeated tick, want 1", len(tasks))
		}

		second := h.tick(sch, at.Add(time.Minute), at.Add(2*time.Minute))
		if second.Task == nil || second.Task.ID == first.Task.ID {
			t.Fatalf("the second tick submitted %v (%q), want a new task", second.Task, second.Skipped)
		}
		if diff := cmp.Diff([]string{second.Task.ID, first.Task.ID}, ids(h.scheduleTasks("s"))); diff != "" {
			t.Errorf("ListTasks(schedule s) (-want +got):\n%s", diff)
		}
		if n := len(h.scheduleTasks("other")); n != 1 {
			t.Errorf("ListTasks(schedule other): %d tasks, want 1", n)
		}
	})

	s.run(t, "StaleLease", func(t *testing.T, h *fixture) {
		at := tick0()
		sch := h.createSchedule(newSchedule("s", at))
		stale, _ := h.staleLease()
		for _, l := range []archivist.Lease{stale, {}} {
			_, err := h.s.FireSchedule(h.ctx(), archivist.ScheduleFire{Name: "s", Lease: l, Tick: at, Next: at.Add(time.Minute), Task: fireTask(sch)})
			h.wantCode(err, archivist.CodeConflict, "FireSchedule with a lease no longer current")
		}
		h.wantSchedule("after ticks of a stale lease", sch)
		if n := len(h.scheduleTasks("s")); n != 0 {
			t.Errorf("a stale lease submitted %d tasks", n)
		}
		// The current leader fires the tick.
		if got := h.tick(sch, at, at.Add(time.Minute)); got.Task == nil {
			t.Errorf("the current leader's tick submitted nothing: %q", got.Skipped)
		}
	})

	s.run(t, "Paused", func(t *testing.T, h *fixture) {
		at := tick0()
		sch := h.createSchedule(newSchedule("s", at))
		paused, err := h.s.PauseSchedule(h.ctx(), "s", true, time.Time{})
		if err != nil {
			t.Fatalf("PauseSchedule: %v", err)
		}
		_, err = h.s.FireSchedule(h.ctx(), archivist.ScheduleFire{Name: "s", Lease: h.lead(), Tick: at, Next: at.Add(time.Minute), Task: fireTask(sch)})
		h.wantCode(err, archivist.CodeConflict, "FireSchedule of a paused schedule")
		h.wantSchedule("after a tick of a paused schedule", paused)
		// A trigger by hand still runs it.
		got := h.trigger(sch)
		if !got.Schedule.Paused {
			t.Errorf("a trigger resumed the paused schedule")
		}
	})

	s.run(t, "Manual", func(t *testing.T, h *fixture) {
		next := tick0()
		sch := h.createSchedule(newSchedule("s", next))
		before := time.Now()
		got := h.trigger(sch) // no leadership held by anyone
		after := time.Now()
		if !got.Schedule.NextRunAt.Equal(next) {
			t.Errorf("a trigger moved NextRunAt to %s, want it left at %s", got.Schedule.NextRunAt, next)
		}
		if !near(got.Schedule.LastRunAt, before, after) {
			t.Errorf("a trigger set LastRunAt %s, want the store's now (%s to %s)", got.Schedule.LastRunAt, before, after)
		}
		// The leader's tick still comes, on time.
		if tick := h.tick(sch, next, next.Add(time.Minute)); tick.Task == nil {
			t.Errorf("the tick after a trigger submitted nothing: %q", tick.Skipped)
		}
		_, err := h.s.FireSchedule(h.ctx(), archivist.ScheduleFire{Name: "s", Manual: true})
		h.wantCode(err, archivist.CodeBadUserInput, "a trigger without a task")
	})

	// Ticks missed long ago that run once record when they ran (LastRun),
	// not the first of them.
	s.run(t, "LastRun", func(t *testing.T, h *fixture) {
		at := tick0()
		sch := h.createSchedule(newSchedule("s", at))
		ran := at.Add(90 * time.Minute)
		got, err := h.s.FireSchedule(h.ctx(), archivist.ScheduleFire{Name: "s", Lease: h.lead(), Tick: at,
			Next: at.Add(2 * time.Hour), LastRun: ran, Task: fireTask(sch)})
		if err != nil {
			t.Fatalf("FireSchedule: %v", err)
		}
		h.checkFired("FireSchedule with LastRun", got)
		if s := got.Schedule; !s.LastRunAt.Equal(ran) || !s.NextRunAt.Equal(at.Add(2*time.Hour)) || got.Task == nil {
			t.Errorf("after missed ticks run once: LastRunAt %s, NextRunAt %s, task %v; want %s, %s and a task",
				s.LastRunAt, s.NextRunAt, got.Task, ran, at.Add(2*time.Hour))
		}
	})

	s.run(t, "MissedTick", func(t *testing.T, h *fixture) {
		at := tick0()
		sch := h.createSchedule(newSchedule("s", at))
		prev := h.trigger(sch).Task
		got, err := h.s.FireSchedule(h.ctx(), archivist.ScheduleFire{Name: "s", Lease: h.lead(), Tick: at, Next: at.Add(time.Minute)})
		if err != nil {
			t.Fatalf("FireSchedule without a task: %v", err)
		}
		h.checkFired("FireSchedule without a task", got)
		if got.Task != nil {
			t.Fatalf("a tick without a task submitted %s", got.Task.ID)
		}
		s := got.Schedule
		if !s.LastRunAt.Equal(at) || !s.NextRunAt.Equal(at.Add(time.Minute)) || s.LastTaskID != prev.ID {
			t.Errorf("after a missed tick: LastRunAt %s, NextRunAt %s, LastTaskID %s; want %s, %s, %s (unchanged)",
				s.LastRunAt, s.NextRunAt, s.LastTaskID, at, at.Add(time.Minute), prev.ID)
		}
		if n := len(h.scheduleTasks("s")); n != 1 {
			t.Errorf("schedule s submitted %d tasks, want only the trigger's", n)
		}
	})

	s.run(t, "OverlapAllow", func(t *testing.T, h *fixture) {
		at := tick0()
		sch := h.createSchedule(newSchedule("s", at))
		prev := h.tick(sch, at, at.Add(time.Minute)).Task
		h.start("node-1", prev.ID)
		snap := h.snapshot(prev.ID)
		got := h.tick(sch, at.Add(time.Minute), at.Add(2*time.Minute))
		if got.Task == nil {
			t.Fatalf("ALLOW with the previous task running submitted nothing: %q", got.Skipped)
		}
		h.unchanged("a tick under ALLOW", snap)
	})

	s.run(t, "OverlapSkip", func(t *testing.T, h *fixture) {
		at := tick0()
		in := newSchedule("s", at)
		in.Overlap = archivist.OverlapSkip
		sch := h.createSchedule(in)
		prev := h.tick(sch, at, at.Add(time.Minute)).Task
		h.start("node-1", prev.ID)
		snap := h.snapshot(prev.ID)

		// Unfinished: the tick passes without a task.
		got := h.tick(sch, at.Add(time.Minute), at.Add(2*time.Minute))
		if got.Task != nil {
			t.Fatalf("SKIP with the previous task running submitted %s", got.Task.ID)
		}
		if s := got.Schedule; s.LastTaskID != prev.ID || !s.LastRunAt.Equal(at.Add(time.Minute)) || !s.NextRunAt.Equal(at.Add(2*time.Minute)) {
			t.Errorf("after a skipped tick: LastTaskID %s, LastRunAt %s, NextRunAt %s; want %s and the tick advanced",
				s.LastTaskID, s.LastRunAt, s.NextRunAt, prev.ID)
		}
		h.unchanged("a skipped tick", snap)

		// A trigger by hand submits anyway.
		manual := h.trigger(sch).Task
		h.unchanged("a trigger under SKIP", snap)

		// Finished: the next tick submits.
		h.cancel(manual.ID)
		got = h.tick(sch, at.Add(2*time.Minute), at.Add(3*time.Minute))
		if got.Task == nil {
			t.Fatalf("SKIP with the previous task finished submitted nothing: %q", got.Skipped)
		}
		// Gone (purged): counts as finished.
		h.cancel(got.Task.ID)
		if _, err := h.s.PurgeFinished(h.ctx(), time.Now().Add(time.Hour), time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("PurgeFinished: %v", err)
		}
		if got := h.tick(sch, at.Add(3*time.Minute), at.Add(4*time.Minute)); got.Task == nil {
			t.Fatalf("SKIP with the previous task purged submitted nothing: %q", got.Skipped)
		}
	})

	s.run(t, "OverlapCancelPrevious", func(t *testing.T, h *fixture) {
		at := tick0()
		in := newSchedule("s", at)
		in.Overlap = archivist.OverlapCancelPrevious
		sch := h.createSchedule(in)
		sub := h.subscribe(h.lastSeq())

		// A PENDING previous task is cancelled at once.
		pending := h.tick(sch, at, at.Add(time.Minute)).Task
		got := h.tick(sch, at.Add(time.Minute), at.Add(2*time.Minute))
		if got.Task == nil {
			t.Fatalf("CANCEL_PREVIOUS submitted nothing: %q", got.Skipped)
		}
		h.wantStatus(pending.ID, archivist.TaskCancelled)
		ev := h.await(sub, "task.cancelled of the previous task", taskEvent(archivist.EventTaskCancelled, pending.ID))
		if want := "cancelled by schedule s: a new tick came"; ev.Detail != want {
			t.Errorf("task.cancelled detail %q, want %q", ev.Detail, want)
		}

		// A running one is asked to stop, and the new task is submitted.
		running := got.Task
		h.start("node-1", running.ID)
		got = h.tick(sch, at.Add(2*time.Minute), at.Add(3*time.Minute))
		if got.Task == nil {
			t.Fatalf("CANCEL_PREVIOUS with the previous running submitted nothing: %q", got.Skipped)
		}
		if r := h.wantStatus(running.ID, archivist.TaskInProgress); !r.CancelRequested {
			t.Errorf("the running previous task was not asked to stop")
		}
		h.await(sub, "task.cancel_requested of the running task", taskEvent(archivist.EventTaskCancelRequested, running.ID))

		// A finished one is left alone.
		done := got.Task
		h.start("node-1", done.ID)
		h.complete(done.ID, 1, `{}`)
		snap := h.snapshot(done.ID)
		if got := h.tick(sch, at.Add(3*time.Minute), at.Add(4*time.Minute)); got.Task == nil {
			t.Fatalf("CANCEL_PREVIOUS with the previous finished submitted nothing: %q", got.Skipped)
		}
		h.unchanged("a tick after a finished task", snap)

		// A trigger by hand cancels the previous task too.
		last := h.getSchedule("s").LastTaskID
		manual := h.trigger(sch).Task
		h.wantStatus(last, archivist.TaskCancelled)
		h.wantStatus(manual.ID, archivist.TaskPending)
	})

	s.run(t, "DelayedTask", func(t *testing.T, h *fixture) {
		at := tick0()
		in := newSchedule("s", at)
		in.Task.Delay = time.Hour
		sch := h.createSchedule(in)
		got := h.tick(sch, at, at.Add(time.Minute)).Task
		if got == nil || got.Status != archivist.TaskScheduled || got.RunAt.Sub(got.CreatedAt) != time.Hour {
			t.Fatalf("the task of a tick with a delay: %+v; want SCHEDULED, due an hour after its creation", got)
		}
		if r := h.wantStatus(got.ID, archivist.TaskScheduled); !r.RunAt.Equal(got.RunAt) {
			t.Errorf("stored RunAt %s, returned %s", r.RunAt, got.RunAt)
		}
		if slices.Contains(ids(h.ready(100)), got.ID) {
			t.Errorf("a delayed task of a tick is offered before its time")
		}
	})

	s.run(t, "UniqueTask", func(t *testing.T, h *fixture) {
		at := tick0()
		in := newSchedule("s", at)
		in.Task.UniqueKey = "one-at-a-time"
		sch := h.createSchedule(in)
		first := h.tick(sch, at, at.Add(time.Minute)).Task

		// The key is held: the tick submits nothing new, and its last task
		// is the holder.
		dup := h.tick(sch, at.Add(time.Minute), at.Add(2*time.Minute))
		if dup.Task == nil || !dup.Task.Duplicate || dup.Task.ID != first.ID {
			t.Fatalf("a tick whose unique key is held returned %+v, want the holder %s marked Duplicate", dup.Task, first.ID)
		}
		if dup.Schedule.LastTaskID != first.ID || !dup.Schedule.NextRunAt.Equal(at.Add(2*time.Minute)) {
			t.Errorf("after a duplicate tick: LastTaskID %s, NextRunAt %s; want %s and the tick advanced", dup.Schedule.LastTaskID, dup.Schedule.NextRunAt, first.ID)
		}
		if n := len(h.scheduleTasks("s")); n != 1 {
			t.Errorf("schedule s has %d tasks after a duplicate tick, want 1", n)
		}

		// REPLACE cancels the holder and submits.
		up := newSchedule("s", at.Add(2*time.Minute))
		up.Task.UniqueKey, up.Task.OnDuplicate = "one-at-a-time", archivist.DuplicateReplace
		sch, err := h.s.UpdateSchedule(h.ctx(), up)
		if err != nil {
			t.Fatalf("UpdateSchedule: %v", err)
		}
		if sch.Task.OnDuplicate != archivist.DuplicateReplace {
			t.Fatalf("the updated template lost OnDuplicate: %q", sch.Task.OnDuplicate)
		}
		repl := h.tick(sch, at.Add(2*time.Minute), at.Add(3*time.Minute)).Task
		if repl == nil || repl.Duplicate || repl.ID == first.ID {
			t.Fatalf("a tick with REPLACE returned %+v, want a new task", repl)
		}
		h.wantStatus(first.ID, archivist.TaskCancelled)
	})
}
