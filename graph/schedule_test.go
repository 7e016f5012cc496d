package graph_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

const scheduleFields = `name cron every timezone paused nextRunAt lastRunAt overlap misfire createdAt updatedAt
	lastTask { id schedule status }
	task { type input priority timeoutSeconds maxRetries metadata retryBackoffMs maxBackoffMs uniqueKey uniqueForSeconds onDuplicate }`

type scheduleView struct {
	Name      string     `json:"name"`
	Cron      *string    `json:"cron"`
	Every     *string    `json:"every"`
	Timezone  *string    `json:"timezone"`
	Paused    bool       `json:"paused"`
	NextRunAt *time.Time `json:"nextRunAt"`
	LastRunAt *time.Time `json:"lastRunAt"`
	Overlap   string     `json:"overlap"`
	Misfire   string     `json:"misfire"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
	LastTask  *struct {
		ID       string `json:"id"`
		Schedule string `json:"schedule"`
		Status   string `json:"status"`
	} `json:"lastTask"`
	Task struct {
		Type             string          `json:"type"`
		Input            json.RawMessage `json:"input"`
		Priority         string          `json:"priority"`
		TimeoutSeconds   float64         `json:"timeoutSeconds"`
		MaxRetries       int             `json:"maxRetries"`
		Metadata         json.RawMessage `json:"metadata"`
		RetryBackoffMs   *int            `json:"retryBackoffMs"`
		MaxBackoffMs     *int            `json:"maxBackoffMs"`
		UniqueKey        *string         `json:"uniqueKey"`
		UniqueForSeconds float64         `json:"uniqueForSeconds"`
		OnDuplicate      *string         `json:"onDuplicate"`
	} `json:"task"`
}

const (
	createSchedule = `mutation($in: ScheduleInput!) { createSchedule(input: $in) {` + scheduleFields + `} }`
	updateSchedule = `mutation($in: ScheduleInput!) { updateSchedule(input: $in) {` + scheduleFields + `} }`
	getSchedule    = `query($n: String!) { schedule(name: $n) {` + scheduleFields + `} }`
)

func TestCreateSchedule(t *testing.T) {
	t.Parallel()
	e := setup(t)
	now := e.clock.Now() // 2025-03-01T12:00:00Z

	var out struct{ CreateSchedule scheduleView }
	e.must(t, createSchedule, map[string]any{"in": map[string]any{
		"name": "nightly", "cron": "0 3 * * *", "timezone": "Europe/Paris",
		"task": map[string]any{"type": "echo", "input": map[string]any{"x": 1}, "priority": "HIGH",
			"timeoutSeconds": 30, "maxRetries": 2, "retryBackoffMs": 500, "uniqueKey": "nightly", "uniqueForSeconds": 60},
		"overlap": "SKIP", "misfire": "SKIP",
	}}, &out)
	got := out.CreateSchedule
	// 03:00 in Paris is 02:00 UTC in winter: the next is tomorrow's.
	wantNext := time.Date(2025, 3, 2, 2, 0, 0, 0, time.UTC)
	if got.Name != "nightly" || got.Cron == nil || *got.Cron != "0 3 * * *" || got.Every != nil ||
		got.Timezone == nil || *got.Timezone != "Europe/Paris" || got.Paused || got.Overlap != "SKIP" || got.Misfire != "SKIP" {
		t.Errorf("schedule %+v", got)
	}
	if got.NextRunAt == nil || !got.NextRunAt.Equal(wantNext) || got.LastRunAt != nil || got.LastTask != nil {
		t.Errorf("next %v last %v lastTask %v, want next %v and no run yet", got.NextRunAt, got.LastRunAt, got.LastTask, wantNext)
	}
	if !got.CreatedAt.Equal(now) {
		t.Errorf("createdAt %v, want %v", got.CreatedAt, now)
	}
	tk := got.Task
	if tk.Type != "echo" || tk.Priority != "HIGH" || tk.TimeoutSeconds != 30 || tk.MaxRetries != 2 ||
		tk.RetryBackoffMs == nil || *tk.RetryBackoffMs != 500 || tk.MaxBackoffMs != nil ||
		tk.UniqueKey == nil || *tk.UniqueKey != "nightly" || tk.UniqueForSeconds != 60 ||
		tk.OnDuplicate == nil || *tk.OnDuplicate != "RETURN_EXISTING" {
		t.Errorf("task %+v", tk)
	}
	sameJSON(t, tk.Input, `{"x": 1}`)

	// An every schedule, with the defaults, created paused.
	e.must(t, createSchedule, map[string]any{"in": map[string]any{
		"name": "poll", "every": "90s", "task": map[string]any{"type": "echo"}, "paused": true,
	}}, &out)
	got = out.CreateSchedule
	def := archivist.DefaultConfig()
	if got.Every == nil || *got.Every != "1m30s" || got.Cron != nil || got.Timezone != nil || !got.Paused ||
		got.NextRunAt != nil || got.Overlap != "ALLOW" || got.Misfire != "RUN_ONCE" ||
		got.Task.Priority != "NORMAL" || got.Task.OnDuplicate != nil || got.Task.TimeoutSeconds != def.DefaultTimeout.Seconds() || got.Task.MaxRetries != def.DefaultMaxRetries {
		t.Errorf("every schedule %+v", got)
	}
	// A cron schedule with no zone is read in UTC.
	e.must(t, createSchedule, map[string]any{"in": map[string]any{
		"name": "quarter", "cron": "*/15 * * * * *", "task": map[string]any{"type": "echo"},
	}}, &out)
	if got := out.CreateSchedule; got.Timezone == nil || *got.Timezone != "UTC" || !got.NextRunAt.Equal(now.Add(15*time.Second)) {
		t.Errorf("six-field schedule: zone %v next %v", got.Timezone, got.NextRunAt)
	}

	var list struct{ Schedules []scheduleView }
	e.must(t, `{ schedules { name } }`, nil, &list)
	if len(list.Schedules) != 3 || list.Schedules[0].Name != "nightly" || list.Schedules[1].Name != "poll" || list.Schedules[2].Name != "quarter" {
		t.Errorf("schedules %+v, want nightly, poll and quarter by name", list.Schedules)
	}
	var one struct{ Schedule *scheduleView }
	e.must(t, getSchedule, map[string]any{"n": "poll"}, &one)
	if one.Schedule == nil || one.Schedule.Name != "poll" || one.Schedule.Every == nil {
		t.Errorf("schedule(poll) = %+v", one.Schedule)
	}
	e.must(t, getSchedule, map[string]any{"n": "no-such"}, &one)
	if one.Schedule != nil {
		t.Errorf("schedule(no-such) = %+v, want null", one.Schedule)
	}
}

func TestScheduleErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	task := map[string]any{"type": "echo"}
	e.must(t, createSchedule, map[string]any{"in": map[string]any{"name": "taken", "every": "1m", "task": task}}, nil)
	cases := []struct {
		name  string
		in    map[string]any
		code  archivist.ErrorCode
		parts []string
	}{
		{"bad cron", map[string]any{"name": "a", "cron": "61 * * * *", "task": task},
			archivist.CodeBadUserInput, []string{`cron "61 * * * *"`, "above maximum (59)"}},
		{"bad zone", map[string]any{"name": "a", "cron": "0 3 * * *", "timezone": "Nowhere/City", "task": task},
			archivist.CodeBadUserInput, []string{`"Nowhere/City" is unknown`}},
		{"zone in cron", map[string]any{"name": "a", "cron": "TZ=UTC 0 3 * * *", "task": task},
			archivist.CodeBadUserInput, []string{"timezone field"}},
		{"both", map[string]any{"name": "a", "cron": "0 3 * * *", "every": "1h", "task": task},
			archivist.CodeBadUserInput, []string{"not both"}},
		{"neither", map[string]any{"name": "a", "task": task},
			archivist.CodeBadUserInput, []string{"cron expression or an every interval"}},
		{"every not a duration", map[string]any{"name": "a", "every": "often", "task": task},
			archivist.CodeBadUserInput, []string{`every "often" is not a duration`}},
		{"every too short", map[string]any{"name": "a", "every": "100ms", "task": task},
			archivist.CodeBadUserInput, []string{"under the minimum of 1s"}},
		{"bad name", map[string]any{"name": "-a b", "every": "1m", "task": task},
			archivist.CodeBadUserInput, []string{"schedule name"}},
		{"unknown type", map[string]any{"name": "a", "every": "1m", "task": map[string]any{"type": "nope"}},
			archivist.CodeBadUserInput, []string{`task: unknown task type "nope"`}},
		{"runAt", map[string]any{"name": "a", "every": "1m", "task": map[string]any{"type": "echo", "runAt": "2030-01-01T00:00:00Z"}},
			archivist.CodeBadUserInput, []string{"runAt or delaySeconds"}},
		{"delay", map[string]any{"name": "a", "every": "1m", "task": map[string]any{"type": "echo", "delaySeconds": 5}},
			archivist.CodeBadUserInput, []string{"runAt or delaySeconds"}},
		{"duplicate name", map[string]any{"name": "taken", "every": "1m", "task": task},
			archivist.CodeConflict, []string{"taken"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.post(t, createSchedule, map[string]any{"in": c.in}), string(c.code), c.parts...)
		})
	}
	wantError(t, e.post(t, updateSchedule, map[string]any{"in": map[string]any{"name": "no-such", "every": "1m", "task": task}}),
		string(archivist.CodeNotFound))
	wantError(t, e.post(t, updateSchedule, map[string]any{"in": map[string]any{"name": "taken", "cron": "x", "task": task}}),
		string(archivist.CodeBadUserInput), `cron "x"`)
	for _, m := range []string{"pauseSchedule", "resumeSchedule"} {
		wantError(t, e.post(t, `mutation { `+m+`(name: "no-such") { name } }`, nil), string(archivist.CodeNotFound))
	}
	wantError(t, e.post(t, `mutation { deleteSchedule(name: "no-such") }`, nil), string(archivist.CodeNotFound))
	wantError(t, e.post(t, `mutation { triggerSchedule(name: "no-such") { id } }`, nil), string(archivist.CodeNotFound))
}

func TestUpdatePauseResumeDeleteSchedule(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var out struct{ CreateSchedule scheduleView }
	e.must(t, createSchedule, map[string]any{"in": map[string]any{"name": "s", "every": "1m", "task": map[string]any{"type": "echo"}}}, &out)

	// Pause: no next run shown; the update keeps it paused.
	var p struct{ PauseSchedule scheduleView }
	e.must(t, `mutation { pauseSchedule(name: "s") {`+scheduleFields+`} }`, nil, &p)
	if !p.PauseSchedule.Paused || p.PauseSchedule.NextRunAt != nil {
		t.Errorf("paused: %+v", p.PauseSchedule)
	}
	e.clock.Advance(10 * time.Minute)
	var u struct{ UpdateSchedule scheduleView }
	e.must(t, updateSchedule, map[string]any{"in": map[string]any{
		"name": "s", "cron": "30 * * * *", "timezone": "Asia/Kolkata", "task": map[string]any{"type": "sleep", "priority": "LOW"},
		"overlap": "CANCEL_PREVIOUS", "paused": false,
	}}, &u)
	got := u.UpdateSchedule
	if got.Cron == nil || *got.Cron != "30 * * * *" || got.Every != nil || *got.Timezone != "Asia/Kolkata" ||
		!got.Paused || got.Task.Type != "sleep" || got.Task.Priority != "LOW" || got.Overlap != "CANCEL_PREVIOUS" {
		t.Errorf("updated: %+v", got)
	}
	if !got.CreatedAt.Equal(out.CreateSchedule.CreatedAt) || !got.UpdatedAt.After(got.CreatedAt) {
		t.Errorf("createdAt %v updatedAt %v", got.CreatedAt, got.UpdatedAt)
	}

	// Resume: the next run is computed from now (Kolkata is UTC+5:30, so
	// minute 30 there is minute 0 in UTC).
	var r struct{ ResumeSchedule scheduleView }
	e.must(t, `mutation { resumeSchedule(name: "s") {`+scheduleFields+`} }`, nil, &r)
	want := time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC)
	if r.ResumeSchedule.Paused || r.ResumeSchedule.NextRunAt == nil || !r.ResumeSchedule.NextRunAt.Equal(want) {
		t.Errorf("resumed: paused %v next %v, want %v", r.ResumeSchedule.Paused, r.ResumeSchedule.NextRunAt, want)
	}

	var d struct{ DeleteSchedule bool }
	e.must(t, `mutation { deleteSchedule(name: "s") }`, nil, &d)
	if !d.DeleteSchedule {
		t.Error("deleteSchedule = false")
	}
	var one struct{ Schedule *scheduleView }
	e.must(t, getSchedule, map[string]any{"n": "s"}, &one)
	if one.Schedule != nil {
		t.Errorf("deleted schedule still there: %+v", one.Schedule)
	}
}

func TestTriggerSchedule(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var out struct{ CreateSchedule scheduleView }
	e.must(t, createSchedule, map[string]any{"in": map[string]any{"name": "reports/daily", "cron": "@daily",
		"task": map[string]any{"type": "echo", "input": "hi"}, "paused": true, "overlap": "SKIP"}}, &out)

	// A trigger submits whatever the overlap policy and the pause.
	var ids []string
	for range 2 {
		var tr struct{ TriggerSchedule taskView }
		e.must(t, `mutation { triggerSchedule(name: "reports/daily") {`+taskFields+` schedule } }`, nil, &tr)
		if tr.TriggerSchedule.ID == "" || tr.TriggerSchedule.Type != "echo" || tr.TriggerSchedule.Status != "PENDING" {
			t.Fatalf("triggered %+v", tr.TriggerSchedule)
		}
		sameJSON(t, tr.TriggerSchedule.Input, `"hi"`)
		ids = append(ids, tr.TriggerSchedule.ID)
	}
	var one struct{ Schedule *scheduleView }
	e.must(t, getSchedule, map[string]any{"n": "reports/daily"}, &one)
	s := one.Schedule
	if s.LastTask == nil || s.LastTask.ID != ids[1] || s.LastTask.Schedule != "reports/daily" ||
		s.LastRunAt == nil || !s.LastRunAt.Equal(e.clock.Now()) || !s.Paused {
		t.Errorf("after triggers: %+v", s)
	}

	// The tasks carry the schedule's name, and the tasks query finds them by it.
	var page struct {
		Tasks struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.must(t, `{ tasks(filter: {schedule: "reports/daily"}) { edges { node { id } } } }`, nil, &page)
	if len(page.Tasks.Edges) != 2 {
		t.Errorf("tasks of the schedule: %+v, want 2", page.Tasks.Edges)
	}

	// lastTask is null once the task is gone.
	for _, id := range ids {
		if _, err := e.store.CancelTask(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(time.Second)
	if n, err := e.store.PurgeFinished(t.Context(), e.clock.Now(), e.clock.Now()); err != nil || n != 2 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	e.must(t, getSchedule, map[string]any{"n": "reports/daily"}, &one)
	if one.Schedule.LastTask != nil {
		t.Errorf("lastTask of a removed task: %+v", one.Schedule.LastTask)
	}
}

func TestScheduleUpdatedSubscription(t *testing.T) {
	t.Parallel()
	e := setup(t)
	task := map[string]any{"type": "echo"}
	e.must(t, createSchedule, map[string]any{"in": map[string]any{"name": "a", "every": "1m", "task": task}}, nil)
	c := e.dial(t, protoTransportWS)
	const sub = `subscription($n: String) { scheduleUpdated(name: $n) { name paused every nextRunAt task { type } } }`
	c.subscribe("all", sub, nil)
	c.subscribe("a", sub, map[string]any{"n": "a"})
	e.events.waitSubscribed(t, 2)

	type upd struct {
		ScheduleUpdated struct {
			Name   string
			Paused bool
			Every  *string
			Task   struct{ Type string }
		}
	}
	// The two operations' messages interleave in any order: keep those
	// of the other one for later.
	pending := map[string][]wsMessage{}
	next := func(id string) upd {
		t.Helper()
		var m wsMessage
		if q := pending[id]; len(q) > 0 {
			m, pending[id] = q[0], q[1:]
		} else {
			for m = c.read(); m.ID != id; m = c.read() {
				pending[m.ID] = append(pending[m.ID], m)
			}
		}
		if m.Type != "next" {
			t.Fatalf("%s: %s %s", id, m.Type, m.Payload)
		}
		var r gqlResponse
		if err := json.Unmarshal(m.Payload, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", id, r.Errors)
		}
		var u upd
		if err := json.Unmarshal(r.Data, &u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	e.must(t, createSchedule, map[string]any{"in": map[string]any{"name": "b", "every": "2m", "task": task}}, nil)
	if u := next("all"); u.ScheduleUpdated.Name != "b" {
		t.Errorf("all: %+v, want b created", u)
	}
	e.must(t, `mutation { pauseSchedule(name: "a") { name } }`, nil, nil)
	for _, id := range []string{"all", "a"} {
		if u := next(id); u.ScheduleUpdated.Name != "a" || !u.ScheduleUpdated.Paused {
			t.Errorf("%s: %+v, want a paused", id, u)
		}
	}
	// A deleted schedule comes once more with its last state.
	e.must(t, `mutation { deleteSchedule(name: "a") }`, nil, nil)
	for _, id := range []string{"all", "a"} {
		u := next(id)
		if s := u.ScheduleUpdated; s.Name != "a" || !s.Paused || s.Every == nil || *s.Every != "1m0s" || s.Task.Type != "echo" {
			t.Errorf("%s: %+v, want a's last state", id, u)
		}
	}
	e.must(t, `mutation { deleteSchedule(name: "b") }`, nil, nil)
	if u := next("all"); u.ScheduleUpdated.Name != "b" || u.ScheduleUpdated.Every == nil || *u.ScheduleUpdated.Every != "2m0s" {
		t.Errorf("all: %+v, want b's last state", u)
	}
}

func TestScheduleUpdatedUnknownName(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.dial(t, protoTransportWS)
	c.subscribe("1", `subscription { scheduleUpdated(name: "nope") { name } }`, nil)
	wantError(t, c.next("1"), "NOT_FOUND", "nope")
	if m := c.read(); m.Type != "complete" || m.ID != "1" {
		t.Errorf("after the error: %+v", m)
	}
	// The store subscription it opened first is closed again.
	testkit.Eventually(t, 5*time.Second, func() bool { return e.events.open.Load() == 0 }, "no open subscription")
}
