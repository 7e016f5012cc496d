package archivist

import (
	"regexp"
	"time"
)

// Schedule submits a task at every tick of a cron expression or an
// interval. The leader fires the ticks (Store.FireSchedule): each tick
// submits at most one task, even across a change of leader.
type Schedule struct {
	// Name identifies the schedule (unique; see ValidScheduleName).
	Name string `json:"name"`
	// Cron is a cron expression of five fields (minute hour day-of-month
	// month day-of-week) or six with a leading seconds field, read in
	// Timezone; or Every is a fixed interval. Exactly one is set.
	Cron     string        `json:"cron,omitempty"`
	Timezone string        `json:"timezone,omitempty"`
	Every    time.Duration `json:"every,omitempty"`
	// Task is what each tick submits: only its submission fields count
	// (not RunAt or Delay), and Schedule is set to Name.
	Task *Task `json:"task"`
	// Overlap says what a tick does while the task of the previous one is
	// unfinished; Misfire what becomes of ticks missed while no leader ran.
	Overlap OverlapPolicy `json:"overlap"`
	Misfire MisfirePolicy `json:"misfire"`
	Paused  bool          `json:"paused,omitempty"`

	// NextRunAt is the next tick to fire. LastRunAt is the last tick that
	// fired (or the time of the last trigger, or when missed ticks were run
	// once), LastTaskID the task it submitted ("" when it submitted none).
	NextRunAt  time.Time `json:"nextRunAt,omitzero"`
	LastRunAt  time.Time `json:"lastRunAt,omitzero"`
	LastTaskID string    `json:"lastTaskId,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Clone returns a deep copy of s.
func (s *Schedule) Clone() *Schedule {
	if s == nil {
		return nil
	}
	c := *s
	c.Task = s.Task.Clone()
	return &c
}

// OverlapPolicy says what a tick does while the task of the schedule's
// previous tick is unfinished.
type OverlapPolicy string

// Overlap policies.
const (
	// OverlapAllow submits anyway (the default).
	OverlapAllow OverlapPolicy = "ALLOW"
	// OverlapSkip submits nothing for this tick.
	OverlapSkip OverlapPolicy = "SKIP"
	// OverlapCancelPrevious cancels the previous task (an IN_PROGRESS one
	// is asked to stop) and submits.
	OverlapCancelPrevious OverlapPolicy = "CANCEL_PREVIOUS"
)

// Valid reports whether p is a known policy.
func (p OverlapPolicy) Valid() bool {
	return p == OverlapAllow || p == OverlapSkip || p == OverlapCancelPrevious
}

// MisfirePolicy says what becomes of ticks that passed while no leader
// could fire them, longer ago than MisfireThreshold.
type MisfirePolicy string

// Misfire policies.
const (
	// MisfireRunOnce submits one task for all the missed ticks, at once
	// (the default).
	MisfireRunOnce MisfirePolicy = "RUN_ONCE"
	// MisfireSkip submits nothing for them: the schedule goes on from the
	// next tick to come.
	MisfireSkip MisfirePolicy = "SKIP"
)

// Valid reports whether p is a known policy.
func (p MisfirePolicy) Valid() bool { return p == MisfireRunOnce || p == MisfireSkip }

// MisfireThreshold is how late a tick may fire and still count as on time:
// a leader that takes over fires, one task each, the ticks it finds less
// late than this (a failover takes seconds); older ones are missed and
// follow the schedule's MisfirePolicy.
const MisfireThreshold = time.Minute

// Limits of a schedule.
const (
	// MaxScheduleNameBytes is the longest schedule name.
	MaxScheduleNameBytes = 128
	// MinScheduleEvery is the shortest interval of an every schedule.
	MinScheduleEvery = time.Second
	// MaxSchedules is how many schedules a cluster may hold.
	MaxSchedules = 10000
)

var scheduleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]*$`)

// ValidScheduleName checks a schedule's name: 1 to 128 letters, digits and
// . _ : / -, starting with a letter or digit.
func ValidScheduleName(name string) error {
	switch {
	case name == "":
		return Errorf(CodeBadUserInput, "schedule name is required")
	case len(name) > MaxScheduleNameBytes:
		return Errorf(CodeBadUserInput, "schedule name is %d bytes; the limit is %d", len(name), MaxScheduleNameBytes)
	case !scheduleName.MatchString(name):
		return Errorf(CodeBadUserInput, "schedule name %q may hold letters, digits and . _ : / - and must start with a letter or digit", Clip(name))
	}
	return nil
}

// ScheduleFire asks Store.FireSchedule to record one tick of schedule Name.
//
// A tick fired by the leader (Manual false) is fenced: the store refuses
// it with CONFLICT, changing nothing, unless Lease is the current
// leadership, the schedule is not paused, and its stored NextRunAt is
// still Tick (so that a tick already fired, by this leader or one before,
// is not fired again). It then sets LastRunAt to Tick and NextRunAt to
// Next.
//
// LastRun, when set, is what LastRunAt becomes instead of Tick: the time
// ticks missed past MisfireThreshold were run at, once (recurring.Plan
// sets it), rather than the first of them.
//
// A manual trigger (Manual true, triggerSchedule) needs no lease and
// leaves NextRunAt as it is; LastRunAt becomes the store's now.
//
// Task (built from the schedule's template, with Schedule set) is
// submitted as CreateTasks submits it, unless Task is nil (a tick that is
// skipped: missed ticks under MisfireSkip) or the schedule's Overlap
// policy says otherwise: with OverlapSkip nothing is submitted while the
// task of LastTaskID is unfinished; with OverlapCancelPrevious that task
// is cancelled first (as CancelTask does). A manual trigger always
// submits, whatever the policy (under OverlapCancelPrevious it still
// cancels the previous task first). The submitted task becomes LastTaskID;
// a task whose UniqueKey is held submits nothing new, and the holder
// becomes LastTaskID (ScheduleFired.Task is the holder, Duplicate set).
// A skipped tick leaves LastTaskID and still moves LastRunAt and
// NextRunAt.
type ScheduleFire struct {
	Name    string
	Lease   Lease
	Manual  bool
	Tick    time.Time
	Next    time.Time
	LastRun time.Time
	Task    *Task
}

// ScheduleFired is what FireSchedule did: the schedule after the tick,
// the task it submitted (nil when none was), and Skipped saying why none
// was ("" when one was).
type ScheduleFired struct {
	Schedule *Schedule
	Task     *Task
	Skipped  string
}
