package workerpool_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
)

// TestPoolRunsWorkflow runs a workflow on a pool: a step's $refs are
// resolved from its parents' results, a handler reads them all
// (Job.ParentResults), and a step adds steps (Job.AddSteps) that the step
// after it waits for.
func TestPoolRunsWorkflow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var merged = make(chan map[string]json.RawMessage, 1)
	b.reg.RegisterFunc("scan", func(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
		var specs []archivist.WorkflowStepSpec
		for i := range 3 {
			specs = append(specs, archivist.WorkflowStepSpec{
				Key:       fmt.Sprintf("thumb-%d", i),
				DependsOn: []string{"scan"},
				Task: archivist.TaskSpec{Type: "echo",
					Input: json.RawMessage(fmt.Sprintf(`{"image":{"$ref":"scan.result.images.%d"}}`, i))},
			})
		}
		if err := job.AddSteps(ctx, specs...); err != nil {
			return nil, err
		}
		// A retried attempt adding the same steps again changes nothing.
		if err := job.AddSteps(ctx, specs...); err != nil {
			return nil, err
		}
		return json.RawMessage(`{"images":["a.png","b.png","c.png"],"n":12345678901234567890}`), nil
	})
	b.reg.RegisterFunc("merge", func(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
		parents, err := job.ParentResults(ctx)
		if err != nil {
			return nil, err
		}
		merged <- parents
		return json.Marshal(job.Task.Input)
	})
	b.start(t)
	b.autoAssign(t)

	spec := archivist.WorkflowSpec{Name: "handouts", Steps: []archivist.WorkflowStepSpec{
		{Key: "scan", Task: archivist.TaskSpec{Type: "scan"}},
		{Key: "count", DependsOn: []string{"scan"}, Task: archivist.TaskSpec{Type: "echo",
			Input: json.RawMessage(`{"big":{"$ref":"scan.result.n"},"all":[{"$ref":"scan.result"}]}`)}},
		{Key: "index", DependsOn: []string{"scan", "count"}, Task: archivist.TaskSpec{Type: "merge",
			Input: json.RawMessage(`{"first":{"$ref":"count.result.all.0.images.0"}}`)}},
	}}
	w, ts, err := archivist.NewWorkflow(spec, b.reg, archivist.DefaultConfig(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateWorkflow(b.ctx, w, ts); err != nil {
		t.Fatal(err)
	}
	index := b.waitStatus(t, ts[2].ID, wait, archivist.TaskCompleted, archivist.TaskFailed, archivist.TaskCancelled)
	if index.Status != archivist.TaskCompleted {
		t.Fatalf("index step %s: %s", index.Status, index.Error)
	}
	if string(index.Result) != `{"first":"a.png"}` {
		t.Errorf("index's input resolved to %s, want {\"first\":\"a.png\"}", index.Result)
	}
	count := b.task(t, ts[1].ID)
	if !strings.Contains(string(count.Result), `"big":12345678901234567890`) {
		t.Errorf("a big number lost its digits through a $ref: %s", count.Result)
	}
	if string(count.Input) != string(spec.Steps[1].Task.Input) {
		t.Errorf("the stored input changed: %s", count.Input)
	}
	parents := <-merged
	keys := make([]string, 0, len(parents))
	for k := range parents {
		keys = append(keys, k)
	}
	if diff := cmp.Diff([]string{"count", "scan", "thumb-0", "thumb-1", "thumb-2"}, slices.Sorted(slices.Values(keys))); diff != "" {
		t.Errorf("ParentResults of index (-want +got):\n%s", diff)
	}
	if got := string(parents["thumb-1"]); got != `{"image":"b.png"}` {
		t.Errorf("thumb-1's result %s, want its resolved input", got)
	}
	got, err := b.store.GetWorkflow(b.ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != archivist.WorkflowCompleted || len(got.Steps) != 6 {
		t.Errorf("workflow %s with %d steps, want COMPLETED with 6", got.Status, len(got.Steps))
	}
}

// TestPoolBadRef: a $ref to something the parent's result does not have
// fails the step at once (no retry: it would fail the same way), naming
// the path.
func TestPoolBadRef(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t)
	b.autoAssign(t)
	retries := 3
	spec := archivist.WorkflowSpec{Name: "bad", Steps: []archivist.WorkflowStepSpec{
		{Key: "a", Task: archivist.TaskSpec{Type: "echo", Input: json.RawMessage(`{"x":1}`)}},
		{Key: "b", DependsOn: []string{"a"}, Task: archivist.TaskSpec{Type: "echo", MaxRetries: &retries,
			Input: json.RawMessage(`{"$ref":"a.result.missing"}`)}},
	}}
	w, ts, err := archivist.NewWorkflow(spec, b.reg, archivist.DefaultConfig(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateWorkflow(b.ctx, w, ts); err != nil {
		t.Fatal(err)
	}
	got := b.waitStatus(t, ts[1].ID, wait, archivist.TaskFailed, archivist.TaskCompleted)
	if got.Status != archivist.TaskFailed || got.Failures != 1 || !strings.Contains(got.Error, "missing") {
		t.Errorf("step with a bad $ref: %s after %d failure(s), error %q; want FAILED at once naming the path", got.Status, got.Failures, got.Error)
	}
}

// TestPoolRunsReleasedStepsLocally: with distributed processing off nobody
// places tasks, so the node that completed a step runs the steps it
// released, and the steps a running step adds.
func TestPoolRunsReleasedStepsLocally(t *testing.T) {
	t.Parallel()
	b := setup(t)
	settings := b.cfg.Settings()
	settings.Enabled = false
	b.cfg.Settings = func() archivist.Config { return settings }
	b.reg.RegisterFunc("fan", func(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
		return json.RawMessage(`"fanned"`), job.AddSteps(ctx,
			archivist.WorkflowStepSpec{Key: "extra", Task: archivist.TaskSpec{Type: "echo", Input: json.RawMessage(`1`)}})
	})
	pool := b.start(t)
	spec := archivist.WorkflowSpec{Name: "local", Steps: []archivist.WorkflowStepSpec{
		{Key: "a", Task: archivist.TaskSpec{Type: "fan"}},
		{Key: "b", DependsOn: []string{"a"}, Task: archivist.TaskSpec{Type: "echo", Input: json.RawMessage(`2`)}},
	}}
	w, ts, err := archivist.NewWorkflow(spec, b.reg, archivist.DefaultConfig(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateWorkflow(b.ctx, w, ts); err != nil {
		t.Fatal(err)
	}
	pool.RunLocal(ts[0].ID)
	got := b.waitStatus(t, ts[1].ID, wait, archivist.TaskCompleted, archivist.TaskFailed)
	if got.Status != archivist.TaskCompleted {
		t.Fatalf("step b: %s %s", got.Status, got.Error)
	}
	final, err := b.store.GetWorkflow(b.ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.Status != archivist.WorkflowCompleted || len(final.Steps) != 3 {
		t.Errorf("workflow %s with %d steps, want COMPLETED with 3 (the added one ran here too)", final.Status, len(final.Steps))
	}
}
