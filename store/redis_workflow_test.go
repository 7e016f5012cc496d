package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// newTestWorkflow builds a workflow of steps (key -> dependencies, in
// order) of echo tasks, as the API would.
func newTestWorkflow(t testing.TB, policy archivist.WorkflowFailurePolicy, steps ...archivist.WorkflowStepSpec) (*archivist.Workflow, []*archivist.Task) {
	t.Helper()
	reg := archivist.NewRegistry()
	reg.RegisterFunc("echo", func(ctx context.Context, job *archivist.Job) (json.RawMessage, error) { return nil, nil })
	for i := range steps {
		steps[i].Task.Type = "echo"
	}
	w, tasks, err := archivist.NewWorkflow(archivist.WorkflowSpec{Name: "wf", Metadata: json.RawMessage(`{"n": 12345678901234567890}`),
		OnFailure: policy, Steps: steps}, reg, archivist.DefaultConfig(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return w, tasks
}

func step(key string, deps ...string) archivist.WorkflowStepSpec {
	return archivist.WorkflowStepSpec{Key: key, DependsOn: deps}
}

// stepStatuses is key -> status of w's steps, and of their tasks.
func stepStatuses(t *testing.T, s archivist.Store, id string) (*archivist.Workflow, map[string]archivist.TaskStatus, map[string]archivist.TaskStatus) {
	t.Helper()
	w, err := s.GetWorkflow(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	steps, tasks := map[string]archivist.TaskStatus{}, map[string]archivist.TaskStatus{}
	for _, st := range w.Steps {
		steps[st.Key] = st.Status
		task, err := s.GetTask(t.Context(), st.TaskID)
		if err != nil {
			t.Fatal(err)
		}
		if task.WorkflowID != id || task.StepKey != st.Key {
			t.Fatalf("task %s of step %s: workflow %q step %q", task.ID, st.Key, task.WorkflowID, task.StepKey)
		}
		tasks[st.Key] = task.Status
	}
	return w, steps, tasks
}

// runStep starts the task of step key and returns it.
func runStep(t *testing.T, s archivist.Store, w *archivist.Workflow, key string) *archivist.Task {
	t.Helper()
	task, err := s.ClaimTask(t.Context(), "n1", w.Step(key).TaskID, time.Second)
	if err != nil {
		t.Fatalf("claim step %s: %v", key, err)
	}
	return task
}

func TestRedisWorkflowFlow(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "wf-flow"})
	ctx := t.Context()
	sub, err := r.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	w, tasks := newTestWorkflow(t, archivist.FailFast, step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"))
	if err := r.CreateWorkflow(ctx, w, tasks); err != nil {
		t.Fatal(err)
	}
	if w.Seq == 0 || w.CreatedAt.IsZero() || w.Status != archivist.WorkflowRunning || tasks[0].Status != archivist.TaskPending ||
		tasks[1].Status != archivist.TaskWaiting || tasks[1].Seq != tasks[0].Seq+1 {
		t.Fatalf("created %+v, tasks %+v %+v", w, tasks[0], tasks[1])
	}
	counts, err := r.CountTasks(ctx)
	if err != nil || counts[archivist.TaskWaiting] != 3 || counts[archivist.TaskPending] != 1 {
		t.Fatalf("counts %v %v", counts, err)
	}
	page, err := r.ListTasks(ctx, archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskWaiting}}})
	if err != nil || page.TotalCount != 3 || len(page.Tasks) != 3 || page.Tasks[0].StepKey != "d" {
		t.Fatalf("waiting tasks %+v %v", page, err)
	}
	page, err = r.ListTasks(ctx, archivist.TaskQuery{TaskFilter: archivist.TaskFilter{WorkflowID: w.ID}, First: 3})
	if err != nil || page.TotalCount != 4 || len(page.Tasks) != 3 || !page.HasNext || page.Tasks[0].StepKey != "d" {
		t.Fatalf("tasks of the workflow %+v %v", page, err)
	}
	page, err = r.ListTasks(ctx, archivist.TaskQuery{TaskFilter: archivist.TaskFilter{WorkflowID: w.ID}, First: 3, After: page.EndCursor})
	if err != nil || page.TotalCount != 4 || len(page.Tasks) != 1 || page.HasNext || page.Tasks[0].StepKey != "a" {
		t.Fatalf("tasks of the workflow, second page %+v %v", page, err)
	}
	// A plain PENDING task is no step of the workflow.
	if err := r.CreateTasks(ctx, []*archivist.Task{{Type: "t", Priority: archivist.PriorityNormal}}); err != nil {
		t.Fatal(err)
	}
	page, err = r.ListTasks(ctx, archivist.TaskQuery{TaskFilter: archivist.TaskFilter{WorkflowID: w.ID,
		Status: []archivist.TaskStatus{archivist.TaskPending}}})
	if err != nil || page.TotalCount != 1 || len(page.Tasks) != 1 || page.Tasks[0].StepKey != "a" {
		t.Fatalf("PENDING tasks of the workflow %+v %v", page, err)
	}
	page, err = r.ListTasks(ctx, archivist.TaskQuery{TaskFilter: archivist.TaskFilter{WorkflowID: "nope"}})
	if err != nil || page.TotalCount != 0 || len(page.Tasks) != 0 {
		t.Fatalf("tasks of an unknown workflow %+v %v", page, err)
	}
	got, err := r.GetWorkflow(ctx, w.ID)
	if err != nil || string(got.Metadata) != `{"n": 12345678901234567890}` || got.OnFailure != archivist.FailFast || len(got.Steps) != 4 ||
		got.Steps[3].Key != "d" || len(got.Steps[3].DependsOn) != 2 {
		t.Fatalf("get %+v %v", got, err)
	}
	a := runStep(t, r, w, "a")
	if _, err := r.CompleteTask(ctx, a.ID, a.Attempt, json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	_, steps, st := stepStatuses(t, r, w.ID)
	if steps["b"] != archivist.TaskPending || st["b"] != archivist.TaskPending || st["d"] != archivist.TaskWaiting {
		t.Fatalf("after a: steps %v tasks %v", steps, st)
	}
	if _, err := r.RetryTask(ctx, a.ID); !archivist.IsCode(err, archivist.CodeConflict) {
		t.Fatalf("retry of a step: %v", err)
	}
	b := runStep(t, r, w, "b")
	if _, err := r.FailTask(ctx, b.ID, b.Attempt, archivist.Failure{Error: "boom", Permanent: true}); err != nil {
		t.Fatal(err)
	}
	got, steps, st = stepStatuses(t, r, w.ID)
	if got.Status != archivist.WorkflowFailed || got.Error != "step b ended FAILED: boom" || st["c"] != archivist.TaskCancelled ||
		st["d"] != archivist.TaskCancelled || got.CompletedAt.IsZero() {
		t.Fatalf("after b failed: %+v steps %v tasks %v", got, steps, st)
	}
	// Events: a's completion, then the releases, then workflow.updated.
	var types []archivist.EventType
	for ev := range sub.C() {
		if ev.Kind == archivist.EventWorkflow && ev.Workflow.Status == archivist.WorkflowFailed {
			break
		}
		types = append(types, ev.Type)
	}
	t.Logf("events %v", types)
	again, err := r.RetryWorkflow(ctx, w.ID)
	if err != nil || again.Status != archivist.WorkflowRunning {
		t.Fatalf("retry %+v %v", again, err)
	}
	_, steps, st = stepStatuses(t, r, w.ID)
	if st["b"] != archivist.TaskPending || st["c"] != archivist.TaskPending || st["d"] != archivist.TaskWaiting || steps["a"] != archivist.TaskCompleted {
		t.Fatalf("after retry: steps %v tasks %v", steps, st)
	}
	cancelled, err := r.CancelWorkflow(ctx, w.ID)
	if err != nil || cancelled.Status != archivist.WorkflowCancelled || cancelled.CompletedAt.IsZero() {
		t.Fatalf("cancel %+v %v", cancelled, err)
	}
	n, err := r.PurgeFinished(ctx, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	if err != nil || n != 4 {
		t.Fatalf("purge %d %v", n, err)
	}
	if _, err := r.GetWorkflow(ctx, w.ID); !archivist.IsCode(err, archivist.CodeNotFound) {
		t.Fatalf("purged workflow: %v", err)
	}
}

// TestRedisKeepsWorkflows: across a restart of the Redis server a workflow
// keeps its steps, and its WAITING steps are released when their
// dependencies complete.
func TestRedisKeepsWorkflows(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "restart-workflow"})
	ctx := t.Context()
	w, tasks := newTestWorkflow(t, archivist.ContinueOnFailure, step("a"), step("b", "a"))
	if err := r.CreateWorkflow(ctx, w, tasks); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	srv.Restart()
	var got *archivist.Workflow
	testkit.Eventually(t, 10*time.Second, func() bool {
		var err error
		got, err = r.GetWorkflow(ctx, w.ID)
		return err == nil
	}, "the store answers after the restart")
	if got.Status != archivist.WorkflowRunning || got.OnFailure != archivist.ContinueOnFailure || len(got.Steps) != 2 ||
		got.Steps[1].Status != archivist.TaskWaiting || got.Steps[1].DependsOn[0] != "a" || !got.CreatedAt.Equal(w.CreatedAt) {
		t.Fatalf("workflow after the restart: %+v", got)
	}
	counts, err := r.CountTasks(ctx)
	if err != nil || counts[archivist.TaskWaiting] != 1 {
		t.Fatalf("counts after the restart: %v %v", counts, err)
	}
	a := runStep(t, r, got, "a")
	if _, err := r.CompleteTask(ctx, a.ID, a.Attempt, nil); err != nil {
		t.Fatal(err)
	}
	b, err := r.GetTask(ctx, got.Steps[1].TaskID)
	if err != nil || b.Status != archivist.TaskPending || b.StepKey != "b" || b.WorkflowID != w.ID {
		t.Fatalf("step b after a completed: %+v %v", b, err)
	}
}

// TestRedisStepRecord: a plain task's m has the fields every task has and
// its Turn once PENDING (workflows cost plain tasks nothing but the
// positions before it), a step's m has its workflow and key too.
func TestRedisStepRecord(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "step-record"})
	ctx := t.Context()
	plain := &archivist.Task{Type: "t", Priority: archivist.PriorityNormal, Timeout: time.Minute}
	if err := r.CreateTasks(ctx, []*archivist.Task{plain}); err != nil {
		t.Fatal(err)
	}
	w, tasks := newTestWorkflow(t, "", step("a"))
	if err := r.CreateWorkflow(ctx, w, tasks); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   string
		want int
	}{{plain.ID, mTurn + 1}, {tasks[0].ID, mTurn + 1}} {
		m, err := r.client.HGet(ctx, r.keys.task(c.id), fMut).Result()
		if err != nil {
			t.Fatal(err)
		}
		rd := mpReader{b: []byte(m)}
		if n := rd.arrayLen(); n != c.want {
			t.Errorf("m of task %s has %d fields, want %d", c.id, n, c.want)
		}
	}
	got, err := r.GetTask(ctx, tasks[0].ID)
	if err != nil || got.WorkflowID != w.ID || got.StepKey != "a" || got.RetryBackoff != 0 || got.UniqueKey != "" {
		t.Fatalf("step task %+v %v", got, err)
	}
}

// TestDecodeWorkflowOrder: steps come out in the order of their positions,
// placed directly when they run from 1 to n and sorted otherwise.
func TestDecodeWorkflowOrder(t *testing.T) {
	t.Parallel()
	state := []byte("\x96\xa7RUNNING\xa0\x01\x02\x00\x07") // [RUNNING, "", 1, 2, 0, 7]
	header := encodeWorkflowHeader(&archivist.Workflow{Name: "n", OnFailure: archivist.FailFast})
	packStep := func(pos byte, deps ...string) []byte {
		b := appendMsgpackArray(nil, 4+len(deps))
		b = append(b, pos)
		b = appendMsgpackRaw(b, []byte("WAITING"))
		b = appendMsgpackRaw(b, []byte("task"))
		b = appendMsgpackRaw(b, nil) // added by: none
		for _, d := range deps {
			b = appendMsgpackRaw(b, []byte(d))
		}
		return b
	}
	for _, c := range []struct {
		name  string
		steps []rawStep
	}{
		{"placed", []rawStep{{"c", packStep(3, "a", "b")}, {"a", packStep(1)}, {"b", packStep(2, "a")}}},
		{"sorted", []rawStep{{"c", packStep(9, "a", "b")}, {"a", packStep(1)}, {"b", packStep(5, "a")}}},
	} {
		w, err := decodeWorkflow("w", header, state, c.steps)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var keys []string
		for _, s := range w.Steps {
			keys = append(keys, s.Key)
		}
		if len(keys) != 3 || keys[0] != "a" || keys[1] != "b" || keys[2] != "c" || len(w.Steps[2].DependsOn) != 2 ||
			w.Seq != 7 || w.Status != archivist.WorkflowRunning || w.Name != "n" {
			t.Errorf("%s: steps %v, workflow %+v", c.name, keys, w)
		}
	}
}

// BenchmarkRedisWorkflowStepEnd: the claim and completion of one step of
// a fan-out workflow (a root, then every other step depending on it) of
// 10 and of 1000 steps: a step's end loads its workflow and records it
// whole (workflow.updated), so it costs with the workflow's size.
func BenchmarkRedisWorkflowStepEnd(b *testing.B) {
	srv := redistest.Start(b, "--appendfsync", "everysec")
	for _, size := range []int{10, 1000} {
		b.Run(fmt.Sprintf("steps=%d", size), func(b *testing.B) {
			r, err := OpenRedis(b.Context(), RedisOptions{URL: srv.URL(), Cluster: fmt.Sprintf("bench-wf-%d", size),
				Options: Options{Logger: slog.New(slog.DiscardHandler)}})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			ctx := b.Context()
			var w *archivist.Workflow
			next := size
			for b.Loop() {
				if next == size {
					b.StopTimer()
					specs := []archivist.WorkflowStepSpec{step("root")}
					for i := 1; i < size; i++ {
						specs = append(specs, step(fmt.Sprintf("s%d", i), "root"))
					}
					var tasks []*archivist.Task
					w, tasks = newTestWorkflow(b, "", specs...)
					if err := r.CreateWorkflow(ctx, w, tasks); err != nil {
						b.Fatal(err)
					}
					next = 0
					b.StartTimer()
				}
				key := "root"
				if next > 0 {
					key = fmt.Sprintf("s%d", next)
				}
				next++
				task, err := r.ClaimTask(ctx, "n1", w.Step(key).TaskID, time.Second)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := r.CompleteTask(ctx, task.ID, task.Attempt, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
