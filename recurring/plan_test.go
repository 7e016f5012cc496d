package recurring

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
)

func template() *archivist.Task {
	return &archivist.Task{
		ID: "tmpl", Type: "email", Input: json.RawMessage(`{"to":"a"}`), Priority: archivist.PriorityHigh,
		Timeout: time.Minute, MaxRetries: 2, Metadata: json.RawMessage(`{"m":1}`),
		RetryBackoff: time.Second, MaxBackoff: time.Minute, UniqueKey: "k", UniqueFor: time.Hour,
		RunAt: time.Unix(1, 0), Delay: time.Hour, Status: archivist.TaskCompleted,
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	every := mustParse(t, "", "", 10*time.Second)
	tick := mustTime(t, "2026-03-01T10:00:00Z")
	sched := func(mod func(*archivist.Schedule)) *archivist.Schedule {
		s := &archivist.Schedule{Name: "s", Every: 10 * time.Second, Task: template(), NextRunAt: tick,
			Misfire: archivist.MisfireRunOnce}
		if mod != nil {
			mod(s)
		}
		return s
	}
	want := func(next string, task bool) archivist.ScheduleFire {
		f := archivist.ScheduleFire{Name: "s", Tick: tick, Next: mustTime(t, next)}
		if task {
			f.Task = TaskOf(sched(nil))
		}
		return f
	}
	cases := []struct {
		name        string
		s           *archivist.Schedule
		now         time.Time
		due, missed bool
		want        archivist.ScheduleFire
	}{
		{name: "not yet", s: sched(nil), now: tick.Add(-time.Millisecond)},
		{name: "paused", s: sched(func(s *archivist.Schedule) { s.Paused = true }), now: tick.Add(time.Second)},
		{name: "no next tick", s: sched(func(s *archivist.Schedule) { s.NextRunAt = time.Time{} }), now: tick},
		{name: "on time", s: sched(nil), now: tick, due: true, want: want("2026-03-01T10:00:10Z", true)},
		// A failover: each late tick fires on its own, the next one after it.
		{name: "late under the threshold", s: sched(nil), now: tick.Add(archivist.MisfireThreshold - time.Millisecond),
			due: true, want: want("2026-03-01T10:00:10Z", true)},
		// Missed ticks run once, now: the last run is now, not the first of them.
		{name: "missed, run once", s: sched(nil), now: tick.Add(archivist.MisfireThreshold + 3*time.Second),
			due: true, missed: true, want: func() archivist.ScheduleFire {
				f := want("2026-03-01T10:01:10Z", true)
				f.LastRun = tick.Add(archivist.MisfireThreshold + 3*time.Second)
				return f
			}()},
		{name: "missed, skip", s: sched(func(s *archivist.Schedule) { s.Misfire = archivist.MisfireSkip }),
			now: tick.Add(time.Hour + 5*time.Second), due: true, missed: true, want: want("2026-03-01T11:00:10Z", false)},
		{name: "skip policy on time", s: sched(func(s *archivist.Schedule) { s.Misfire = archivist.MisfireSkip }),
			now: tick.Add(time.Second), due: true, want: want("2026-03-01T10:00:10Z", true)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, missed, due := Plan(c.s, every, c.now)
			if due != c.due || missed != c.missed {
				t.Fatalf("due %v missed %v, want %v %v", due, missed, c.due, c.missed)
			}
			if diff := cmp.Diff(c.want, f); diff != "" {
				t.Errorf("fire (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanMissedCron(t *testing.T) {
	t.Parallel()
	spec := mustParse(t, "0 * * * *", "", 0)
	s := &archivist.Schedule{Name: "hourly", Cron: "0 * * * *", Task: template(),
		NextRunAt: mustTime(t, "2026-03-01T10:00:00Z")}
	f, missed, due := Plan(s, spec, mustTime(t, "2026-03-01T13:20:00Z"))
	if !due || !missed || f.Task == nil {
		t.Fatalf("due %v missed %v task %v", due, missed, f.Task)
	}
	if !f.Tick.Equal(s.NextRunAt) || !f.Next.Equal(mustTime(t, "2026-03-01T14:00:00Z")) {
		t.Errorf("tick %s next %s", f.Tick, f.Next)
	}
}

func TestTaskOf(t *testing.T) {
	t.Parallel()
	s := &archivist.Schedule{Name: "nightly", Task: template()}
	got := TaskOf(s)
	want := &archivist.Task{
		Type: "email", Input: json.RawMessage(`{"to":"a"}`), Priority: archivist.PriorityHigh,
		Timeout: time.Minute, MaxRetries: 2, Metadata: json.RawMessage(`{"m":1}`),
		RetryBackoff: time.Second, MaxBackoff: time.Minute, UniqueKey: "k", UniqueFor: time.Hour,
		Schedule: "nightly",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("task (-want +got):\n%s", diff)
	}
	got.Input[2] = 'X'
	if string(s.Task.Input) != `{"to":"a"}` {
		t.Error("the task shares its input with the template")
	}
}
