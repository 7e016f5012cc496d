package graph_test

import (
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

// TestBulkTasks: cancelTasks, retryTasks and deleteTasks act on every task
// their filter matches and say how many they changed.
func TestBulkTasks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var tasks []*archivist.Task
	for i := range 5 {
		typ := "echo"
		if i >= 3 {
			typ = "sleep"
		}
		tasks = append(tasks, &archivist.Task{Type: typ, Priority: archivist.PriorityNormal, Timeout: time.Minute})
	}
	if err := e.store.CreateTasks(t.Context(), tasks); err != nil {
		t.Fatal(err)
	}
	count := func(filter map[string]any) int {
		t.Helper()
		var out struct{ Tasks struct{ TotalCount int } }
		e.must(t, `query($f: TaskFilter) { tasks(filter: $f, first: 0) { totalCount } }`, map[string]any{"f": filter}, &out)
		return out.Tasks.TotalCount
	}
	bulk := func(op string, filter map[string]any, want int) {
		t.Helper()
		var out map[string]int
		e.must(t, `mutation($f: TaskFilter!) { `+op+`(filter: $f) }`, map[string]any{"f": filter}, &out)
		if out[op] != want {
			t.Errorf("%s(%v) = %d, want %d", op, filter, out[op], want)
		}
	}

	bulk("cancelTasks", map[string]any{"type": "echo"}, 3)
	if n := count(map[string]any{"status": []string{"CANCELLED"}}); n != 3 {
		t.Errorf("%d CANCELLED tasks after cancelling the echo ones, want 3", n)
	}
	bulk("cancelTasks", map[string]any{"type": "echo"}, 0) // nothing left to cancel
	bulk("retryTasks", map[string]any{"status": []string{"CANCELLED"}}, 3)
	bulk("retryTasks", map[string]any{}, 0) // nothing finished
	bulk("cancelTasks", map[string]any{}, 5)
	bulk("deleteTasks", map[string]any{"type": "sleep"}, 2)
	if n := count(nil); n != 3 {
		t.Errorf("%d tasks after deleting the 2 sleep ones, want 3", n)
	}

	// A selection: only the tasks named.
	bulk("retryTasks", map[string]any{"ids": []string{tasks[0].ID, tasks[1].ID, "no-such-task"}}, 2)
	if n := count(map[string]any{"ids": []string{tasks[0].ID, tasks[1].ID, tasks[3].ID}}); n != 2 {
		t.Errorf("tasks(ids of 2 left and 1 deleted) total %d, want 2", n)
	}
	many := make([]string, archivist.MaxBulkBatch+1)
	for i := range many {
		many[i] = "id"
	}
	wantError(t, e.post(t, `mutation($ids: [ID!]) { cancelTasks(filter: {ids: $ids}) }`, map[string]any{"ids": many}), "BAD_USER_INPUT", "at most")

	wantError(t, e.post(t, `mutation { cancelTasks(filter: {nodeId: "no spaces"}) }`, nil), "BAD_USER_INPUT", "node id")
	wantError(t, e.post(t, `mutation { deleteTasks(filter: {status: [NOT_A_STATUS]}) }`, nil), "GRAPHQL_VALIDATION_FAILED")
}

// TestFailedRetention: failedRetentionSeconds has its own default, longer
// than retentionSeconds', and its own bound.
func TestFailedRetention(t *testing.T) {
	t.Parallel()
	e := setup(t)
	type retention struct{ RetentionSeconds, FailedRetentionSeconds float64 }
	var before struct{ Config retention }
	e.must(t, `{ config { retentionSeconds failedRetentionSeconds } }`, nil, &before)
	if before.Config.FailedRetentionSeconds != archivist.DefaultFailedRetention.Seconds() ||
		before.Config.FailedRetentionSeconds <= before.Config.RetentionSeconds {
		t.Errorf("default retentions %+v, want failures kept %s, longer than the others", before.Config, archivist.DefaultFailedRetention)
	}
	const update = `mutation($s: Float) { updateConfig(input: {failedRetentionSeconds: $s}) { retentionSeconds failedRetentionSeconds } }`
	wantError(t, e.post(t, update, map[string]any{"s": 30}), "BAD_USER_INPUT", "failed retention")
	var out struct{ UpdateConfig retention }
	e.must(t, update, map[string]any{"s": 172800}, &out)
	if out.UpdateConfig.FailedRetentionSeconds != 172800 || out.UpdateConfig.RetentionSeconds != before.Config.RetentionSeconds {
		t.Errorf("after the update: %+v, want failures kept 172800 s and the rest unchanged", out.UpdateConfig)
	}
	stored, err := e.store.Config(t.Context())
	if err != nil || stored.FailedRetention != 48*time.Hour {
		t.Errorf("stored failed retention %s (%v), want 48h", stored.FailedRetention, err)
	}
}
