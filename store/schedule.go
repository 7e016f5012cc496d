package store

import (
	"encoding/json"
	"time"

	archivist "github.com/rpg-archivist/archivist"
)

// What every store says about a schedule's ticks (engine_schedule.go,
// redis_schedule.go and lua/fire_schedule.lua use the same words).

// skippedMissed is ScheduleFired.Skipped for a tick with no task.
const skippedMissed = "missed tick skipped (misfire policy SKIP)"

// skippedOverlap is ScheduleFired.Skipped for a tick that found the task
// of the previous one unfinished under OverlapSkip.
func skippedOverlap(id string, st archivist.TaskStatus) string {
	return "the task " + id + " of the previous tick is still " + string(st) + " (overlap policy SKIP)"
}

// cancelledBySchedule is the detail of the event of a task cancelled by
// OverlapCancelPrevious.
func cancelledBySchedule(name string) string {
	return "cancelled by schedule " + name + ": a new tick came"
}

// checkFire refuses a fire no store can record.
func checkFire(f archivist.ScheduleFire) error {
	if err := archivist.ValidScheduleName(f.Name); err != nil {
		return err
	}
	if f.Manual && f.Task == nil {
		return archivist.Errorf(archivist.CodeBadUserInput, "a trigger of schedule %q needs a task to submit", f.Name)
	}
	return nil
}

// checkTick refuses a tick of the leader (not Manual) that the schedule
// does not expect: paused, or not its NextRunAt (fired already).
func checkTick(s *archivist.Schedule, f archivist.ScheduleFire) error {
	if s.Paused {
		return archivist.Errorf(archivist.CodeConflict, "schedule %q is paused", s.Name)
	}
	if !s.NextRunAt.Equal(f.Tick) {
		return errNotNextTick(s.Name, f.Tick, s.NextRunAt)
	}
	return nil
}

func errNotNextTick(name string, tick, next time.Time) error {
	return archivist.Errorf(archivist.CodeConflict, "tick %s of schedule %q is not its next run (%s): fired already?",
		tick.UTC().Format(time.RFC3339Nano), name, next.UTC().Format(time.RFC3339Nano))
}

// storedSchedule is a schedule as Bolt and Redis write it: its JSON, and
// the submission field of its task that Task's JSON leaves out
// (OnDuplicate), so that the ticks after a restart submit the same task.
type storedSchedule struct {
	*archivist.Schedule
	TaskOnDuplicate archivist.DuplicatePolicy `json:"taskOnDuplicate,omitempty"`
}

func marshalSchedule(s *archivist.Schedule) ([]byte, error) {
	w := storedSchedule{Schedule: s}
	if s.Task != nil {
		w.TaskOnDuplicate = s.Task.OnDuplicate
	}
	return json.Marshal(w)
}

func unmarshalSchedule(b []byte) (*archivist.Schedule, error) {
	w := storedSchedule{Schedule: &archivist.Schedule{}}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, err
	}
	if w.Task != nil {
		w.Task.OnDuplicate = w.TaskOnDuplicate
	}
	return w.Schedule, nil
}
