package store

import (
	"context"
	"sort"
	"time"

	archivist "github.com/rpg-archivist/archivist"
)

// Schedules of the embedded and memory stores: kept in memory by name
// (engine.schedules), each change one update that records its event and,
// for Bolt, persists the schedule (batch.schedules, the bucket schedules).

// checkScheduleIn refuses what no store may keep: a nil schedule or an
// invalid name (the caller validated the rest).
func checkScheduleIn(s *archivist.Schedule) error {
	if s == nil {
		return archivist.Errorf(archivist.CodeBadUserInput, "a schedule is required")
	}
	return archivist.ValidScheduleName(s.Name)
}

// errTooManySchedules is the refusal of a schedule beyond MaxSchedules.
func errTooManySchedules(n int) error {
	return archivist.Errorf(archivist.CodeConflict, "the cluster holds %d schedules, the most it may hold; delete one first", n)
}

func (tx *tx) putSchedule(s *archivist.Schedule) {
	if tx.e.schedules == nil {
		tx.e.schedules = map[string]*archivist.Schedule{}
	}
	tx.e.schedules[s.Name] = s
	if tx.b.schedules == nil {
		tx.b.schedules = map[string]*archivist.Schedule{}
	}
	tx.b.schedules[s.Name] = s
}

func (tx *tx) deleteSchedule(name string) {
	delete(tx.e.schedules, name)
	if tx.b.schedules == nil {
		tx.b.schedules = map[string]*archivist.Schedule{}
	}
	tx.b.schedules[name] = nil
}

// scheduleEvent records an event with a copy of s.
func (tx *tx) scheduleEvent(typ archivist.EventType, s *archivist.Schedule, detail string) {
	tx.e.meta.EventSeq++
	tx.b.events = append(tx.b.events, archivist.Event{Seq: tx.e.meta.EventSeq, Kind: archivist.EventSchedule,
		Type: typ, Time: tx.now, Schedule: s.Clone(), Detail: detail})
	tx.b.metaChanged = true
}

func (e *engine) schedule(name string) (*archivist.Schedule, error) {
	s, ok := e.schedules[name]
	if !ok {
		return nil, notFound("schedule", name)
	}
	return s, nil
}

// CreateSchedule stores s (CONFLICT when its name is taken or MaxSchedules
// exist) and fills its CreatedAt and UpdatedAt.
func (e *engine) CreateSchedule(ctx context.Context, s *archivist.Schedule) error {
	if err := checkScheduleIn(s); err != nil {
		return err
	}
	return e.update(ctx, func(tx *tx) error {
		if _, ok := e.schedules[s.Name]; ok {
			return archivist.Errorf(archivist.CodeConflict, "schedule %q already exists", s.Name)
		}
		if n := len(e.schedules); n >= archivist.MaxSchedules {
			return errTooManySchedules(n)
		}
		c := s.Clone()
		c.CreatedAt, c.UpdatedAt = tx.now, tx.now
		tx.putSchedule(c)
		tx.scheduleEvent(archivist.EventScheduleUpdated, c, "")
		s.CreatedAt, s.UpdatedAt = c.CreatedAt, c.UpdatedAt
		return nil
	})
}

// UpdateSchedule replaces the definition of schedule s.Name and keeps its
// state.
func (e *engine) UpdateSchedule(ctx context.Context, s *archivist.Schedule) (*archivist.Schedule, error) {
	if err := checkScheduleIn(s); err != nil {
		return nil, err
	}
	var out *archivist.Schedule
	err := e.update(ctx, func(tx *tx) error {
		old, err := e.schedule(s.Name)
		if err != nil {
			return err
		}
		c := s.Clone()
		c.Paused, c.LastRunAt, c.LastTaskID, c.CreatedAt = old.Paused, old.LastRunAt, old.LastTaskID, old.CreatedAt
		c.UpdatedAt = tx.now
		tx.putSchedule(c)
		tx.scheduleEvent(archivist.EventScheduleUpdated, c, "")
		out = c.Clone()
		return nil
	})
	return out, err
}

// GetSchedule returns a schedule by name.
func (e *engine) GetSchedule(ctx context.Context, name string) (*archivist.Schedule, error) {
	var out *archivist.Schedule
	err := e.view(func() error {
		s, err := e.schedule(name)
		out = s.Clone()
		return err
	})
	return out, err
}

// ListSchedules returns every schedule, sorted by name.
func (e *engine) ListSchedules(ctx context.Context) ([]*archivist.Schedule, error) {
	var out []*archivist.Schedule
	err := e.view(func() error {
		out = make([]*archivist.Schedule, 0, len(e.schedules))
		for _, s := range e.schedules {
			out = append(out, s.Clone())
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// PauseSchedule pauses or resumes a schedule; resuming sets NextRunAt to
// next. A schedule already as asked is returned unchanged, with no event.
func (e *engine) PauseSchedule(ctx context.Context, name string, paused bool, next time.Time) (*archivist.Schedule, error) {
	var out *archivist.Schedule
	err := e.update(ctx, func(tx *tx) error {
		old, err := e.schedule(name)
		if err != nil {
			return err
		}
		if old.Paused == paused {
			out = old.Clone()
			return nil
		}
		c := old.Clone()
		c.Paused = paused
		if !paused {
			c.NextRunAt = next
		}
		c.UpdatedAt = tx.now
		tx.putSchedule(c)
		tx.scheduleEvent(archivist.EventScheduleUpdated, c, "")
		out = c.Clone()
		return nil
	})
	return out, err
}

// DeleteSchedule removes a schedule; the tasks it submitted stay.
func (e *engine) DeleteSchedule(ctx context.Context, name string) error {
	return e.update(ctx, func(tx *tx) error {
		old, err := e.schedule(name)
		if err != nil {
			return err
		}
		tx.deleteSchedule(name)
		tx.scheduleEvent(archivist.EventScheduleDeleted, old, "")
		return nil
	})
}

// FireSchedule records one tick of a schedule and submits its task, in one
// update: see archivist.ScheduleFire.
func (e *engine) FireSchedule(ctx context.Context, f archivist.ScheduleFire) (*archivist.ScheduleFired, error) {
	if err := checkFire(f); err != nil {
		return nil, err
	}
	var out *archivist.ScheduleFired
	err := e.update(ctx, func(tx *tx) error {
		if !f.Manual {
			if err := e.checkLease(f.Lease, tx.now); err != nil {
				return err
			}
		}
		old, err := e.schedule(f.Name)
		if err != nil {
			return err
		}
		if !f.Manual {
			if err := checkTick(old, f); err != nil {
				return err
			}
		}
		if f.Task != nil && f.Task.ID != "" {
			if _, ok := e.tasks[f.Task.ID]; ok {
				return archivist.Errorf(archivist.CodeConflict, "task %q already exists", f.Task.ID)
			}
		}
		// Everything is checked: from here on the update changes state.
		s := old.Clone()
		s.UpdatedAt = tx.now
		if f.Manual {
			s.LastRunAt = tx.now
		} else {
			s.LastRunAt, s.NextRunAt = f.Tick, f.Next
			if !f.LastRun.IsZero() {
				s.LastRunAt = f.LastRun
			}
		}
		res := &archivist.ScheduleFired{}
		prev := e.unfinishedTask(old.LastTaskID)
		switch {
		case f.Task == nil:
			res.Skipped = skippedMissed
		case prev != nil && old.Overlap == archivist.OverlapSkip && !f.Manual:
			res.Skipped = skippedOverlap(prev.ID, prev.Status)
		default:
			if prev != nil && old.Overlap == archivist.OverlapCancelPrevious {
				e.cancel(tx, prev, cancelledBySchedule(f.Name))
			}
			t := f.Task.Clone()
			t.Schedule = f.Name
			e.createTask(tx, t) // a duplicate: t becomes the holder
			s.LastTaskID = t.ID
			res.Task = t
		}
		tx.putSchedule(s)
		tx.scheduleEvent(archivist.EventScheduleUpdated, s, "")
		res.Schedule = s.Clone()
		out = res
		return nil
	})
	return out, err
}

// unfinishedTask is the task id when it exists and is not finished, else
// nil (a purged task counts as finished).
func (e *engine) unfinishedTask(id string) *archivist.Task {
	if id == "" {
		return nil
	}
	if t, ok := e.tasks[id]; ok && !t.Status.Terminal() {
		return t
	}
	return nil
}
