package archivist_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

func wfRegistry() *archivist.Registry {
	r := archivist.NewRegistry()
	r.RegisterFunc("t", func(context.Context, *archivist.Job) (json.RawMessage, error) { return nil, nil })
	return r
}

func stepSpec(key string, deps ...string) archivist.WorkflowStepSpec {
	return archivist.WorkflowStepSpec{Key: key, DependsOn: deps, Task: archivist.TaskSpec{Type: "t"}}
}

func TestNewWorkflowRefusesBadGraphs(t *testing.T) {
	t.Parallel()
	withInput := func(s archivist.WorkflowStepSpec, in string) archivist.WorkflowStepSpec {
		s.Task.Input = json.RawMessage(in)
		return s
	}
	many := make([]archivist.WorkflowStepSpec, archivist.MaxWorkflowSteps+1)
	for i := range many {
		many[i] = stepSpec(fmt.Sprintf("s%d", i))
	}
	delayed := stepSpec("a")
	delayed.Task.Delay = time.Minute
	cases := []struct {
		name  string
		spec  archivist.WorkflowSpec
		wants string
	}{
		{"no name", archivist.WorkflowSpec{Steps: []archivist.WorkflowStepSpec{stepSpec("a")}}, "name is required"},
		{"no steps", archivist.WorkflowSpec{Name: "w"}, "at least one step"},
		{"too many", archivist.WorkflowSpec{Name: "w", Steps: many}, "at most 1000"},
		{"bad policy", archivist.WorkflowSpec{Name: "w", OnFailure: "MAYBE", Steps: []archivist.WorkflowStepSpec{stepSpec("a")}}, "onFailure"},
		{"bad key", archivist.WorkflowSpec{Name: "w", Steps: []archivist.WorkflowStepSpec{stepSpec("a.b")}}, "step key"},
		{"key twice", archivist.WorkflowSpec{Name: "w", Steps: []archivist.WorkflowStepSpec{stepSpec("a"), stepSpec("a")}}, "used twice"},
		{"unknown dep", archivist.WorkflowSpec{Name: "w", Steps: []archivist.WorkflowStepSpec{stepSpec("a", "nope")}}, `"nope"`},
		{"self", archivist.WorkflowSpec{Name: "w", Steps: []archivist.WorkflowStepSpec{stepSpec("a", "a")}}, "itself"},
		{"cycle", archivist.WorkflowSpec{Name: "w", Steps: []archivist.WorkflowStepSpec{
			stepSpec("a", "c"), stepSpec("b", "a"), stepSpec("c", "b"), stepSpec("d")}}, "cycle: a -> c -> b -> a"},
		{"unknown type", archivist.WorkflowSpec{Name: "w", Steps: []archivist.WorkflowStepSpec{
			{Key: "a", Task: archivist.TaskSpec{Type: "nope"}}}}, `step a: unknown task type "nope"`},
		{"ref to a non-parent", archivist.WorkflowSpec{Name: "w", Steps: []archivist.WorkflowStepSpec{
			stepSpec("a"), stepSpec("b"), withInput(stepSpec("c", "a"), `{"x":{"$ref":"b.result"}}`)}}, "does not depend on"},
		{"bad ref", archivist.WorkflowSpec{Name: "w", Steps: []archivist.WorkflowStepSpec{
			stepSpec("a"), withInput(stepSpec("c", "a"), `{"$ref":"a.output"}`)}}, "STEP.result"},
		{"delayed step", archivist.WorkflowSpec{Name: "w", Steps: []archivist.WorkflowStepSpec{delayed}}, "cannot be delayed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := archivist.NewWorkflow(c.spec, wfRegistry(), archivist.DefaultConfig(), time.Now())
			if !archivist.IsCode(err, archivist.CodeBadUserInput) || !strings.Contains(err.Error(), c.wants) {
				t.Errorf("got %v, want BAD_USER_INPUT containing %q", err, c.wants)
			}
		})
	}
}

func TestNewWorkflowBuildsSteps(t *testing.T) {
	t.Parallel()
	spec := archivist.WorkflowSpec{Name: " ingest ", Steps: []archivist.WorkflowStepSpec{
		stepSpec("merge", "index", "entities"), stepSpec("index"), stepSpec("entities"),
	}}
	w, tasks, err := archivist.NewWorkflow(spec, wfRegistry(), archivist.DefaultConfig(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "ingest" || w.OnFailure != archivist.FailFast || w.Status != archivist.WorkflowRunning || w.ID == "" {
		t.Errorf("workflow %+v", w)
	}
	for i, s := range w.Steps {
		task := tasks[i]
		if task.ID != s.TaskID || task.StepKey != s.Key || task.WorkflowID != w.ID {
			t.Errorf("step %s and task %+v do not match", s.Key, task)
		}
	}
	if w.Steps[0].Status != archivist.TaskWaiting || w.Steps[1].Status != archivist.TaskPending {
		t.Errorf("statuses %s %s, want WAITING for merge and PENDING for index", w.Steps[0].Status, w.Steps[1].Status)
	}
}

func TestResolveRefs(t *testing.T) {
	t.Parallel()
	results := map[string]json.RawMessage{
		"index": json.RawMessage(`{"terms":["dragon","keep"],"n":12345678901234567890}`),
		"sum":   json.RawMessage(`"a summary"`),
	}
	in := json.RawMessage(`{"all":{"$ref":"index.result"},"first":{"$ref":"index.result.terms.1"},"s":[{"$ref":"sum.result"}],"keep":{"$ref":"x","y":1}}`)
	got, err := archivist.ResolveRefs(in, results)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"all":{"n":12345678901234567890,"terms":["dragon","keep"]},"first":"keep","keep":{"$ref":"x","y":1},"s":["a summary"]}`
	if string(got) != want {
		t.Errorf("resolved\n%s\nwant\n%s", got, want)
	}
	for _, bad := range []string{`{"$ref":"index.result.nope"}`, `{"$ref":"index.result.terms.9"}`, `{"$ref":"sum.result.x"}`, `{"$ref":"other.result"}`} {
		if _, err := archivist.ResolveRefs(json.RawMessage(bad), results); err == nil {
			t.Errorf("ResolveRefs(%s) succeeded", bad)
		}
	}
	plain := json.RawMessage(`{"a": 1}`)
	if got, _ := archivist.ResolveRefs(plain, results); string(got) != string(plain) {
		t.Errorf("an input without $refs changed: %s", got)
	}
}

func TestWorkflowRules(t *testing.T) {
	t.Parallel()
	now := time.Now()
	spec := archivist.WorkflowSpec{Name: "w", OnFailure: archivist.ContinueOnFailure, Steps: []archivist.WorkflowStepSpec{
		stepSpec("a"), stepSpec("b", "a"), stepSpec("c", "b"), stepSpec("d"),
	}}
	w, _, err := archivist.NewWorkflow(spec, wfRegistry(), archivist.DefaultConfig(), now)
	if err != nil {
		t.Fatal(err)
	}
	release, cancel, _ := w.StepEnded("a", archivist.TaskFailed, "x", now)
	if len(release) != 0 || fmt.Sprint(cancel) != "[b]" {
		t.Errorf("CONTINUE after a failed: release %v cancel %v, want cancel [b]", release, cancel)
	}
	_, cancel, _ = w.StepEnded("b", archivist.TaskCancelled, "", now)
	if fmt.Sprint(cancel) != "[c]" {
		t.Errorf("then b cancelled: cancel %v, want [c]", cancel)
	}
	w.StepEnded("c", archivist.TaskCancelled, "", now)
	if w.Status != archivist.WorkflowRunning {
		t.Errorf("with d left to run: %s", w.Status)
	}
	w.StepEnded("d", archivist.TaskCompleted, "", now)
	if w.Status != archivist.WorkflowFailed || w.CompletedAt.IsZero() || !strings.Contains(w.Error, "step a") {
		t.Errorf("once all ended: %s %q %v", w.Status, w.Error, w.CompletedAt)
	}
	again, err := w.Retry(now)
	if err != nil || fmt.Sprint(again) != "[a b c]" || w.Step("a").Status != archivist.TaskPending || w.Step("b").Status != archivist.TaskWaiting {
		t.Errorf("Retry: %v %v; a %s b %s", again, err, w.Step("a").Status, w.Step("b").Status)
	}
	if _, err := w.Retry(now); !archivist.IsCode(err, archivist.CodeConflict) {
		t.Errorf("Retry of a running workflow: %v", err)
	}
}
