package main

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/testkit"
)

// TestRestartKeepsDelayedAndSchedulesBolt: a node on the embedded store
// SIGKILLed while a delayed task waits and a schedule runs, and started
// again on the same file, runs the delayed task when it is due (not before)
// and goes on firing the schedule.
func TestRestartKeepsDelayedAndSchedulesBolt(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a real node")
	}
	args := []string{"--store", "bolt:" + filepath.Join(t.TempDir(), "later.db"), "--node-id", "later-node"}
	n := startNode(t, args...)
	var sub struct {
		SubmitTask struct {
			ID    string
			RunAt time.Time
		}
	}
	n.gql(t, `mutation($in: SubmitTaskInput!) { submitTask(input: $in) { id runAt } }`,
		map[string]any{"in": map[string]any{"type": "echo", "input": "later", "delaySeconds": 4}}, &sub)
	var created struct{ CreateSchedule struct{ Name string } }
	n.gql(t, `mutation { createSchedule(input: {name: "beat", every: "1s", task: {type: "echo"}}) { name } }`, nil, &created)
	type sched struct {
		LastRunAt *time.Time
		NextRunAt *time.Time
	}
	get := func(n *node) (status string, startedAt *time.Time, s sched) {
		var out struct {
			Task struct {
				Status    string
				StartedAt *time.Time
			}
			Schedule sched
		}
		n.gql(t, `query($id: ID!) { task(id: $id) { status startedAt } schedule(name: "beat") { lastRunAt nextRunAt } }`,
			map[string]any{"id": sub.SubmitTask.ID}, &out)
		return out.Task.Status, out.Task.StartedAt, out.Schedule
	}
	testkit.Eventually(t, 10*time.Second, func() bool { _, _, s := get(n); return s.LastRunAt != nil }, "the schedule to fire")
	// The leader counts its ticks (just after the tick is stored).
	var body []byte
	fired := regexp.MustCompile(`(?m)^archivist_schedule_ticks_total\{outcome="fired"\} [1-9]`)
	testkit.Eventually(t, 10*time.Second, func() bool {
		resp, err := http.Get("http://" + n.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return fired.Match(body)
	}, "/metrics to count a fired tick")
	if st, _, _ := get(n); st != "SCHEDULED" {
		t.Fatalf("the delayed task is %s before the kill, want SCHEDULED", st)
	}
	n.kill()

	n2 := startNode(t, args...)
	_, _, before := get(n2)
	var startedAt *time.Time
	testkit.Eventually(t, 20*time.Second, func() bool {
		var st string
		st, startedAt, _ = get(n2)
		return st == "COMPLETED"
	}, "the delayed task to run after the restart")
	if startedAt == nil || startedAt.Before(sub.SubmitTask.RunAt) {
		t.Errorf("the delayed task started at %v, before its due time %v", startedAt, sub.SubmitTask.RunAt)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		_, _, s := get(n2)
		return s.LastRunAt != nil && before.LastRunAt != nil && s.LastRunAt.After(*before.LastRunAt)
	}, "the schedule to fire again after the restart")
	var tasks struct{ Tasks struct{ TotalCount int } }
	n2.gql(t, `{ tasks(filter: {schedule: "beat"}) { totalCount } }`, nil, &tasks)
	if tasks.Tasks.TotalCount < 2 {
		t.Errorf("the schedule made %d tasks, want some before and after the restart", tasks.Tasks.TotalCount)
	}
}
