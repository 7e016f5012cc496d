package recurring

import (
	"time"

	"github.com/rpg-archivist/archivist"
)

// Plan is the store call that fires s at now: the FireSchedule the leader
// makes (Lease still to be set), and due false when nothing is due (s is
// paused, has no next tick, or its next tick is after now).
//
// A tick less late than archivist.MisfireThreshold fires on its own: one
// task, and the next tick after it, so that a leader that takes over after
// a failover fires each tick it finds, one call each. A tick older than
// that was missed while no leader ran: then every tick up to now counts as
// missed, and s.Misfire says what they give: MisfireRunOnce one task for
// all of them, MisfireSkip none (Task nil). Either way the schedule goes
// on from its first tick after now. missed says which case it is.
//
// Tick is always the stored NextRunAt: the store fences the call with it,
// so a tick already fired (by this leader or another) is not fired again.
func Plan(s *archivist.Schedule, spec *Spec, now time.Time) (f archivist.ScheduleFire, missed, due bool) {
	if s.Paused || s.NextRunAt.IsZero() || s.NextRunAt.After(now) {
		return archivist.ScheduleFire{}, false, false
	}
	f = archivist.ScheduleFire{Name: s.Name, Tick: s.NextRunAt}
	if now.Sub(s.NextRunAt) < archivist.MisfireThreshold {
		f.Next = spec.Next(s.NextRunAt)
		f.Task = TaskOf(s)
		return f, false, true
	}
	f.Next = spec.nextAfterNow(s.NextRunAt, now)
	if s.Misfire != archivist.MisfireSkip {
		f.Task = TaskOf(s)
		f.LastRun = now // they run now, once
	}
	return f, true, true
}

// TaskOf is the task one tick of s submits: the submission fields of its
// template, with Schedule set to its name. It never runs later than the
// tick (no RunAt or Delay).
func TaskOf(s *archivist.Schedule) *archivist.Task {
	t := s.Task
	if t == nil {
		t = &archivist.Task{}
	}
	c := t.Clone()
	return &archivist.Task{
		Type:         c.Type,
		Input:        c.Input,
		Priority:     c.Priority,
		Timeout:      c.Timeout,
		MaxRetries:   c.MaxRetries,
		Metadata:     c.Metadata,
		RetryBackoff: c.RetryBackoff,
		MaxBackoff:   c.MaxBackoff,
		UniqueKey:    c.UniqueKey,
		UniqueFor:    c.UniqueFor,
		OnDuplicate:  c.OnDuplicate,
		Schedule:     s.Name,
	}
}
