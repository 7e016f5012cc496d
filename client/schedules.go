package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Schedule is a recurring schedule as the API shows it: a task submitted
// at every tick of a cron expression or an interval.
type Schedule struct {
	Name string `json:"name"`
	// Cron is the cron expression ("" for an every schedule), read in
	// Timezone; Every the interval as a Go duration string ("" for a cron
	// schedule).
	Cron     string       `json:"cron,omitempty"`
	Every    string       `json:"every,omitempty"`
	Timezone string       `json:"timezone,omitempty"`
	Task     ScheduleTask `json:"task"`
	// Overlap is ALLOW, SKIP or CANCEL_PREVIOUS; Misfire RUN_ONCE or SKIP.
	Overlap string `json:"overlap"`
	Misfire string `json:"misfire"`
	Paused  bool   `json:"paused"`
	// NextRunAt is nil while paused; LastRunAt and LastTask nil before the
	// first run (LastTask also once its task was removed).
	NextRunAt *time.Time `json:"nextRunAt,omitempty"`
	LastRunAt *time.Time `json:"lastRunAt,omitempty"`
	LastTask  *Task      `json:"lastTask,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// ScheduleTask is what a schedule submits at each tick.
type ScheduleTask struct {
	Type             string          `json:"type"`
	Input            json.RawMessage `json:"input,omitempty"`
	Priority         string          `json:"priority"`
	TimeoutSeconds   float64         `json:"timeoutSeconds"`
	MaxRetries       int             `json:"maxRetries"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
	RetryBackoffMs   *int            `json:"retryBackoffMs,omitempty"`
	MaxBackoffMs     *int            `json:"maxBackoffMs,omitempty"`
	UniqueKey        string          `json:"uniqueKey,omitempty"`
	UniqueForSeconds float64         `json:"uniqueForSeconds,omitempty"`
	// OnDuplicate is RETURN_EXISTING or REPLACE; "" without a unique key.
	OnDuplicate string `json:"onDuplicate,omitempty"`
}

const scheduleFields = `name cron every timezone overlap misfire paused nextRunAt lastRunAt createdAt updatedAt
lastTask { ` + taskFields + ` }
task { type input priority timeoutSeconds maxRetries metadata retryBackoffMs maxBackoffMs uniqueKey uniqueForSeconds onDuplicate }`

// ScheduleSpec defines a schedule for CreateSchedule and UpdateSchedule.
type ScheduleSpec struct {
	Name string
	// Cron (five fields, or six with a leading seconds field, or a
	// descriptor such as @daily) read in Timezone (an IANA name; "" for
	// UTC), or Every (at least a second): one of the two.
	Cron     string
	Timezone string
	Every    time.Duration
	// Task is what each tick submits.
	Task TaskSpec
	// Overlap is ALLOW, SKIP or CANCEL_PREVIOUS ("": ALLOW); Misfire
	// RUN_ONCE or SKIP ("": RUN_ONCE).
	Overlap string
	Misfire string
	// Paused creates the schedule paused (UpdateSchedule ignores it).
	Paused bool
}

func (s ScheduleSpec) vars() map[string]any {
	in := map[string]any{"name": s.Name, "task": s.Task.vars()}
	if s.Cron != "" {
		in["cron"] = s.Cron
	}
	if s.Timezone != "" {
		in["timezone"] = s.Timezone
	}
	if s.Every != 0 {
		in["every"] = s.Every.String()
	}
	if s.Overlap != "" {
		in["overlap"] = s.Overlap
	}
	if s.Misfire != "" {
		in["misfire"] = s.Misfire
	}
	if s.Paused {
		in["paused"] = true
	}
	return map[string]any{"in": in}
}

// CreateSchedule creates a schedule; a taken name gives CONFLICT.
func (c *Client) CreateSchedule(ctx context.Context, spec ScheduleSpec) (*Schedule, error) {
	var out struct{ CreateSchedule *Schedule }
	err := c.Do(ctx, `mutation($in: ScheduleInput!) { createSchedule(input: $in) { `+scheduleFields+` } }`, spec.vars(), &out)
	return out.CreateSchedule, err
}

// UpdateSchedule replaces the definition of the schedule named spec.Name
// (NOT_FOUND when there is none); whether it is paused and its last run
// stay.
func (c *Client) UpdateSchedule(ctx context.Context, spec ScheduleSpec) (*Schedule, error) {
	var out struct{ UpdateSchedule *Schedule }
	err := c.Do(ctx, `mutation($in: ScheduleInput!) { updateSchedule(input: $in) { `+scheduleFields+` } }`, spec.vars(), &out)
	return out.UpdateSchedule, err
}

// Schedules lists every schedule, by name.
func (c *Client) Schedules(ctx context.Context) ([]*Schedule, error) {
	var out struct{ Schedules []*Schedule }
	err := c.Do(ctx, `{ schedules { `+scheduleFields+` } }`, nil, &out)
	return out.Schedules, err
}

// Schedule returns a schedule; an unknown name gives an error with code
// NOT_FOUND.
func (c *Client) Schedule(ctx context.Context, name string) (*Schedule, error) {
	var out struct{ Schedule *Schedule }
	if err := c.Do(ctx, `query($n: String!) { schedule(name: $n) { `+scheduleFields+` } }`, map[string]any{"n": name}, &out); err != nil {
		return nil, err
	}
	if out.Schedule == nil {
		return nil, &Error{Code: CodeNotFound, Message: fmt.Sprintf("schedule %q not found", name)}
	}
	return out.Schedule, nil
}

// PauseSchedule pauses a schedule: no tick fires until ResumeSchedule.
func (c *Client) PauseSchedule(ctx context.Context, name string) (*Schedule, error) {
	var out struct{ PauseSchedule *Schedule }
	err := c.Do(ctx, `mutation($n: String!) { pauseSchedule(name: $n) { `+scheduleFields+` } }`, map[string]any{"n": name}, &out)
	return out.PauseSchedule, err
}

// ResumeSchedule resumes a schedule from its next tick to come.
func (c *Client) ResumeSchedule(ctx context.Context, name string) (*Schedule, error) {
	var out struct{ ResumeSchedule *Schedule }
	err := c.Do(ctx, `mutation($n: String!) { resumeSchedule(name: $n) { `+scheduleFields+` } }`, map[string]any{"n": name}, &out)
	return out.ResumeSchedule, err
}

// DeleteSchedule deletes a schedule; the tasks it submitted stay.
func (c *Client) DeleteSchedule(ctx context.Context, name string) error {
	return c.Do(ctx, `mutation($n: String!) { deleteSchedule(name: $n) }`, map[string]any{"n": name}, nil)
}

// TriggerSchedule submits the schedule's task now and returns it, whatever
// its overlap policy and whether it is paused.
func (c *Client) TriggerSchedule(ctx context.Context, name string) (*Task, error) {
	var out struct{ TriggerSchedule *Task }
	err := c.Do(ctx, `mutation($n: String!) { triggerSchedule(name: $n) { `+taskFields+` } }`, map[string]any{"n": name}, &out)
	return out.TriggerSchedule, err
}
