package graph

import (
	"context"
	"strings"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph/model"
	"github.com/rpg-archivist/archivist/recurring"
)

// scheduleOf checks a ScheduleInput and returns the schedule it defines
// (its definition only: no state) and its timing. The task is checked as
// submitTask checks one, against the registry and the configuration.
func (r *Resolver) scheduleOf(ctx context.Context, in model.ScheduleInput) (*archivist.Schedule, *recurring.Spec, error) {
	if err := archivist.ValidScheduleName(in.Name); err != nil {
		return nil, nil, err
	}
	var every time.Duration
	if in.Every != nil && strings.TrimSpace(*in.Every) != "" {
		d, err := time.ParseDuration(strings.TrimSpace(*in.Every))
		if err != nil {
			return nil, nil, archivist.Errorf(archivist.CodeBadUserInput, "every %q is not a duration such as 90s or 1h30m", archivist.Clip(*in.Every))
		}
		if d <= 0 {
			return nil, nil, archivist.Errorf(archivist.CodeBadUserInput, "every %q must be above 0", archivist.Clip(*in.Every))
		}
		every = d
	}
	cron := strings.TrimSpace(deref(in.Cron))
	tz := strings.TrimSpace(deref(in.Timezone))
	spec, err := recurring.Parse(cron, tz, every)
	if err != nil {
		return nil, nil, err
	}
	if in.Task == nil {
		return nil, nil, archivist.Errorf(archivist.CodeBadUserInput, "a schedule needs a task")
	}
	if in.Task.RunAt != nil || in.Task.DelaySeconds != nil {
		return nil, nil, archivist.Errorf(archivist.CodeBadUserInput, "a schedule's task takes no runAt or delaySeconds: each tick is its time")
	}
	cfg, err := r.config(ctx)
	if err != nil {
		return nil, nil, err
	}
	task, err := archivist.NewTask(taskSpec(in.Task), r.Registry, cfg)
	if err != nil {
		return nil, nil, archivist.Errorf(archivist.ErrorCodeOf(err), "task: %s", archivist.ErrorMessageOf(err))
	}
	s := &archivist.Schedule{
		Name: in.Name, Cron: cron, Timezone: tz, Every: every, Task: task,
		Overlap: archivist.OverlapAllow, Misfire: archivist.MisfireRunOnce,
	}
	if in.Overlap != nil {
		s.Overlap = *in.Overlap
	}
	if in.Misfire != nil {
		s.Misfire = *in.Misfire
	}
	if !s.Overlap.Valid() {
		return nil, nil, archivist.Errorf(archivist.CodeBadUserInput, "unknown overlap policy %q; use ALLOW, SKIP or CANCEL_PREVIOUS", archivist.Clip(string(s.Overlap)))
	}
	if !s.Misfire.Valid() {
		return nil, nil, archivist.Errorf(archivist.CodeBadUserInput, "unknown misfire policy %q; use RUN_ONCE or SKIP", archivist.Clip(string(s.Misfire)))
	}
	return s, spec, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// scheduleOrNil returns the schedule of this name, or nil when there is
// none.
func (r *Resolver) scheduleOrNil(ctx context.Context, name string) (*archivist.Schedule, error) {
	s, err := r.Store.GetSchedule(ctx, name)
	if archivist.IsCode(err, archivist.CodeNotFound) {
		return nil, nil
	}
	return s, err
}

// scheduleFeed picks the schedule events of a scheduleUpdated
// subscription. A deletion event names the schedule only: the feed keeps
// the last state it knows of each schedule (read when the subscription
// starts, then from the events) to send it once more.
type scheduleFeed struct {
	name string // "" for every schedule
	last map[string]*archivist.Schedule
}

func (f *scheduleFeed) pick(_ context.Context, ev archivist.Event) (*archivist.Schedule, bool, error) {
	s := ev.Schedule
	if ev.Kind != archivist.EventSchedule || s == nil || (f.name != "" && s.Name != f.name) {
		return nil, false, nil
	}
	if ev.Type == archivist.EventScheduleDeleted {
		last := f.last[s.Name]
		delete(f.last, s.Name)
		if s.Task != nil { // the store sent its last state
			last = s
		}
		if last == nil {
			return nil, false, nil
		}
		return last, true, nil
	}
	f.last[s.Name] = s
	return s, true, nil
}
