package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/rpg-archivist/archivist/client"
)

// echoSteps is a workflow of echo steps: b and c after a, d after both,
// with $refs to their results.
func echoSteps(name string) client.WorkflowSpec {
	return client.WorkflowSpec{Name: name, Metadata: json.RawMessage(`{"by": "client test"}`), Steps: []client.WorkflowStepSpec{
		{Key: "a", Task: client.TaskSpec{Type: "echo", Input: json.RawMessage(`{"text": "hello"}`)}},
		{Key: "b", DependsOn: []string{"a"}, Task: client.TaskSpec{Type: "echo", Input: json.RawMessage(`{"from": {"$ref": "a.result.text"}}`)}},
		{Key: "c", DependsOn: []string{"a"}, Task: client.TaskSpec{Type: "echo", Priority: "HIGH"}},
		{Key: "d", DependsOn: []string{"b", "c"}, Task: client.TaskSpec{Type: "echo", Input: json.RawMessage(`{"b": {"$ref": "b.result"}}`)}},
	}}
}

func TestWorkflowRunsToTheEnd(t *testing.T) {
	t.Parallel()
	c := client.New(server)
	w, err := c.SubmitWorkflow(ctx(t), echoSteps("client-echo"))
	if err != nil {
		t.Fatal(err)
	}
	if w.Status != client.WorkflowRunning || w.StepCount != 4 || len(w.Steps) != 4 || w.Step("d") == nil ||
		w.Step("d").Task == nil || w.Step("d").Task.StepKey != "d" || w.Step("d").Task.WorkflowID != w.ID {
		t.Fatalf("submitted %+v", w)
	}
	s, err := c.WatchWorkflow(ctx(t), w.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var last *client.Workflow
	for ev := range s.C {
		if ev.Workflow == nil || ev.Workflow.ID != w.ID {
			t.Fatalf("event %+v", ev)
		}
		if last = ev.Workflow; last.Finished() {
			break
		}
	}
	if last == nil || last.Status != client.WorkflowCompleted || last.Progress != 1 {
		t.Fatalf("last update %+v (stream: %v)", last, s.Err())
	}
	// The refs were resolved from the parents' results.
	d, err := c.Get(ctx(t), last.Step("d").Task.ID)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ B struct{ From string } }
	if err := json.Unmarshal(d.Result, &res); err != nil || res.B.From != "hello" {
		t.Errorf("result of d: %s (%v), want b's result with a's text", d.Result, err)
	}
	page, err := c.List(ctx(t), client.Filter{WorkflowID: w.ID}, 0, "")
	if err != nil || page.TotalCount != 4 {
		t.Errorf("tasks of the workflow: %+v, %v", page, err)
	}
	wp, err := c.Workflows(ctx(t), client.WorkflowFilter{Search: "client-echo", Status: []string{client.WorkflowCompleted}}, 10, "")
	if err != nil || wp.TotalCount < 1 || wp.Workflows[0].ID != w.ID || wp.Workflows[0].StepCount != 4 {
		t.Errorf("workflows: %+v, %v", wp, err)
	}
}

func TestWorkflowCancelRetry(t *testing.T) {
	t.Parallel()
	c := client.New(server)
	spec := client.WorkflowSpec{Name: "client-cancel", Steps: []client.WorkflowStepSpec{
		{Key: "wait", Task: client.TaskSpec{Type: "sleep", Input: json.RawMessage(`{"ms": 60000}`)}},
		{Key: "after", DependsOn: []string{"wait"}, Task: client.TaskSpec{Type: "echo"}},
	}}
	w, err := c.SubmitWorkflow(ctx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if w, err = c.CancelWorkflow(ctx(t), w.ID); err != nil || w.Status != client.WorkflowCancelled {
		t.Fatalf("cancelled %+v, %v", w, err)
	}
	if _, err := c.CancelWorkflow(ctx(t), w.ID); client.CodeOf(err) != client.CodeConflict {
		t.Errorf("cancel twice: %v, want CONFLICT", err)
	}
	// Once its steps ended it can be retried.
	s, err := c.WatchWorkflow(ctx(t), w.ID)
	if err != nil {
		t.Fatal(err)
	}
	for ev := range s.C {
		if ev.Workflow.Finished() {
			break
		}
	}
	s.Close()
	if w, err = c.RetryWorkflow(ctx(t), w.ID); err != nil || w.Status != client.WorkflowRunning {
		t.Fatalf("retried %+v, %v", w, err)
	}
	if step := w.Step("after"); step == nil || step.Task.Status != client.StatusWaiting {
		t.Errorf("step after: %+v", step)
	}
	if _, err := c.CancelWorkflow(ctx(t), w.ID); err != nil {
		t.Error(err)
	}

	if _, err := c.Workflow(ctx(t), "no-such-workflow"); !client.IsNotFound(err) {
		t.Errorf("unknown workflow: %v, want NOT_FOUND", err)
	}
	if s, err := c.WatchWorkflow(ctx(t), "no-such-workflow"); err == nil {
		for range s.C {
		}
		if !client.IsNotFound(s.Err()) {
			t.Errorf("watching an unknown workflow ended with %v, want NOT_FOUND", s.Err())
		}
	} else if !client.IsNotFound(err) {
		t.Errorf("watching an unknown workflow: %v", err)
	}
	bad := echoSteps("client-bad")
	bad.Steps[0].DependsOn = []string{"d"}
	if _, err := c.SubmitWorkflow(ctx(t), bad); client.CodeOf(err) != client.CodeBadUserInput {
		t.Errorf("a cycle: %v, want BAD_USER_INPUT", err)
	}
}

// Submit a workflow whose second step takes the first one's result, and
// follow it to its end.
func ExampleClient_WatchWorkflow() {
	c := client.New(server)
	ctx := context.Background()
	w, err := c.SubmitWorkflow(ctx, client.WorkflowSpec{Name: "example", Steps: []client.WorkflowStepSpec{
		{Key: "roll", Task: client.TaskSpec{Type: "echo", Input: json.RawMessage(`{"total": 17}`)}},
		{Key: "report", DependsOn: []string{"roll"},
			Task: client.TaskSpec{Type: "echo", Input: json.RawMessage(`{"rolled": {"$ref": "roll.result.total"}}`)}},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := c.WatchWorkflow(ctx, w.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	for ev := range s.C {
		if w = ev.Workflow; w.Finished() {
			break
		}
	}
	report, err := c.Get(ctx, w.Step("report").Task.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(w.Status, string(report.Result))
	// Output: COMPLETED {"rolled":17}
}
