package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist/client"
)

func TestParseWorkflowFile(t *testing.T) {
	t.Parallel()
	const file = `# a session
name: session 12
onFailure: continue
metadata: {campaign: tomb}
steps:
  - key: notes
    type: echo
    input:
      text: "The party met Lady Elowen."
  - key: index
    dependsOn: [notes]
    type: text.index
    input: {text: {$ref: notes.result.text}, minLength: 4}
    priority: high
    timeout: 2m
    maxRetries: 2
    retryBackoff: 500ms
    maxBackoff: 10s
    metadata: {by: test}
  - key: summary
    dependsOn: [notes]
    type: text.summarize
    timeout: 30
`
	spec, wf, err := parseWorkflowFile("s.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	retries := 2
	want := client.WorkflowSpec{Name: "session 12", OnFailure: "CONTINUE", Metadata: json.RawMessage(`{"campaign":"tomb"}`),
		Steps: []client.WorkflowStepSpec{
			{Key: "notes", Task: client.TaskSpec{Type: "echo", Input: json.RawMessage(`{"text":"The party met Lady Elowen."}`)}},
			{Key: "index", DependsOn: []string{"notes"}, Task: client.TaskSpec{Type: "text.index",
				Input:    json.RawMessage(`{"minLength":4,"text":{"$ref":"notes.result.text"}}`),
				Priority: "HIGH", Timeout: 2 * time.Minute, MaxRetries: &retries, RetryBackoff: 500 * time.Millisecond,
				MaxBackoff: 10 * time.Second, Metadata: json.RawMessage(`{"by":"test"}`)}},
			{Key: "summary", DependsOn: []string{"notes"}, Task: client.TaskSpec{Type: "text.summarize", Timeout: 30 * time.Second}},
		}}
	if d := cmp.Diff(want, spec); d != "" {
		t.Errorf("spec (-want +got):\n%s", d)
	}
	if wf.lines["notes"] != 6 || wf.lines["index"] != 10 || wf.lines["summary"] != 20 {
		t.Errorf("lines %v", wf.lines)
	}

	// JSON is read too.
	spec, _, err = parseWorkflowFile("s.json", []byte(`{"name": "j", "steps": [{"key": "a", "type": "echo", "input": [1, 2]}]}`))
	if err != nil || spec.Name != "j" || len(spec.Steps) != 1 || string(spec.Steps[0].Task.Input) != "[1,2]" {
		t.Errorf("JSON file: %+v, %v", spec, err)
	}

	// A server error about a step names its line.
	err = wf.locate(&client.Error{Code: client.CodeBadUserInput, Message: "step summary depends on \"ghost\", which is not a step of the workflow"})
	if err == nil || !strings.HasPrefix(err.Error(), "s.yaml:20: step summary") {
		t.Errorf("located: %v", err)
	}
	if err := wf.locate(&client.Error{Code: client.CodeConflict, Message: "x"}); strings.Contains(err.Error(), "s.yaml") {
		t.Errorf("a conflict is not about the file: %v", err)
	}
}

func TestParseWorkflowFileErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, file, want string }{
		{"unknown field", "name: w\nsteps:\n  - key: a\n    tpye: echo\n", `w.yaml:4:5: unknown field "tpye"`},
		{"syntax", "name: w\nsteps:\n  - key: a\n    type: [echo\n", "w.yaml:4:"},
		{"wrong kind", "name: w\nsteps:\n  - key: a\n    type: echo\n    dependsOn: 3\n", "w.yaml:5:"},
		{"no name", "steps:\n  - key: a\n    type: echo\n", "w.yaml:1: name is required"},
		{"no steps", "name: w\n", "steps: a workflow needs at least one step"},
		{"no type", "name: w\nsteps:\n  - key: a\n    type: echo\n  - key: b\n    input: 1\n", "w.yaml:5: step b: type is required"},
		{"no key", "name: w\nsteps:\n  - type: echo\n", "w.yaml:3: steps[0]: key is required"},
		{"bad timeout", "name: w\nsteps:\n  - key: a\n    type: echo\n    timeout: soon\n", `w.yaml:3: step a: timeout: "soon"`},
		{"negative timeout", "name: w\nsteps:\n  - key: a\n    type: echo\n    timeout: -3\n", "step a: timeout: -3"},
		{"bad priority", "name: w\nsteps:\n  - key: a\n    type: echo\n    priority: urgent\n", `step a: priority "urgent": use one of low, normal, high, critical`},
		{"bad policy", "name: w\nonFailure: maybe\nsteps:\n  - key: a\n    type: echo\n", `onFailure "maybe": use one of fail-fast, continue`},
		{"bad backoff", "name: w\nsteps:\n  - key: a\n    type: echo\n    retryBackoff: 0s\n", "step a: retryBackoff"},
		{"negative retries", "name: w\nsteps:\n  - key: a\n    type: echo\n    maxRetries: -1\n", "step a: maxRetries must not be negative"},
	} {
		_, _, err := parseWorkflowFile("w.yaml", []byte(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// Mistakes in the command line exit 2 with a message, before any request.
func TestWorkflowUsage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"workflow"}, "want a subcommand"},
		{[]string{"workflow", "launch"}, `unknown subcommand "launch"`},
		{[]string{"workflow", "submit"}, "submit wants one file"},
		{[]string{"workflow", "show"}, "show wants one workflow id"},
		{[]string{"workflow", "list", "--wait"}, "--wait goes with submit, not list"},
		{[]string{"workflow", "show", "x", "--status", "failed"}, "--status goes with list, not show"},
		{[]string{"workflow", "list", "--status", "stuck"}, `--status "stuck": use one of running, completed, failed, cancelled`},
		{[]string{"workflow", "list", "--bogus"}, "flag provided but not defined: -bogus"},
	} {
		var stdout, stderr bytes.Buffer
		code, ok := Run(c.args, Env{Getenv: func(string) string { return "" }, Stdout: &stdout, Stderr: &stderr})
		if !ok || code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// The examples read as workflows.
func TestExamplesParse(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"../examples/session-ingest.yaml", "../examples/handouts.yaml"} {
		spec, _, err := readWorkflowFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
		} else if len(spec.Steps) < 2 {
			t.Errorf("%s: %d steps", f, len(spec.Steps))
		}
	}
}

// On a terminal the live view redraws the steps in place; a large
// workflow is summed up.
func TestWorkflowViewTerminal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	v := &workflowView{w: &buf, tty: true, last: map[string]string{}}
	w := &client.Workflow{Name: "w", Status: client.WorkflowRunning, Progress: 0.5, Steps: []client.WorkflowStep{
		{Key: "a", Task: &client.Task{Status: client.StatusCompleted}},
		{Key: "b", Task: &client.Task{Status: client.StatusInProgress, Progress: 0.25, ProgressMessage: "indexing"}},
	}}
	v.update(w)
	v.update(w)
	out := buf.String()
	if !strings.Contains(out, "w RUNNING  50%") || !strings.Contains(out, "IN_PROGRESS  25% indexing") ||
		strings.Count(out, "\033[3A\r\033[J") != 1 {
		t.Errorf("view %q", out)
	}
	buf.Reset()
	for i := range 40 {
		w.Steps = append(w.Steps, client.WorkflowStep{Key: fmt.Sprintf("s%d", i), Task: &client.Task{Status: client.StatusWaiting}})
	}
	v.update(w)
	if out := buf.String(); !strings.Contains(out, "42 steps: 40 WAITING, 1 IN_PROGRESS, 1 COMPLETED") || strings.Contains(out, "s39") {
		t.Errorf("large view %q", out)
	}
}

func TestParseWorkflowFileGroup(t *testing.T) {
	t.Parallel()
	spec, _, err := parseWorkflowFile("g.yaml", []byte("name: g\ngroup: campaign-42\nsteps:\n  - {key: a, type: echo}\n"))
	if err != nil || spec.Group != "campaign-42" {
		t.Errorf("group: %q, %v; want campaign-42", spec.Group, err)
	}
	spec, _, err = parseWorkflowFile("g.yaml", []byte("name: g\nsteps:\n  - {key: a, type: echo}\n"))
	if err != nil || spec.Group != "" {
		t.Errorf("no group: %q, %v", spec.Group, err)
	}
}
