package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

const workflowFields = `id name status onFailure progress stepCount error metadata createdAt updatedAt completedAt
	steps { key dependsOn task { id status stepKey progress result input workflow { id } } }`

type workflowView struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Status      string          `json:"status"`
	OnFailure   string          `json:"onFailure"`
	Progress    float64         `json:"progress"`
	StepCount   int             `json:"stepCount"`
	Error       *string         `json:"error"`
	Metadata    json.RawMessage `json:"metadata"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	CompletedAt *time.Time      `json:"completedAt"`
	Steps       []struct {
		Key       string   `json:"key"`
		DependsOn []string `json:"dependsOn"`
		Task      *struct {
			ID       string          `json:"id"`
			Status   string          `json:"status"`
			StepKey  *string         `json:"stepKey"`
			Progress float64         `json:"progress"`
			Result   json.RawMessage `json:"result"`
			Input    json.RawMessage `json:"input"`
			Workflow *struct {
				ID string `json:"id"`
			} `json:"workflow"`
		} `json:"task"`
	} `json:"steps"`
}

// statuses maps each step's key to its task's status.
func (w workflowView) statuses() map[string]string {
	out := map[string]string{}
	for _, s := range w.Steps {
		if s.Task == nil {
			out[s.Key] = "<no task>"
			continue
		}
		out[s.Key] = s.Task.Status
	}
	return out
}

// taskOf is the id of the task of the step key.
func (w workflowView) taskOf(t *testing.T, key string) string {
	t.Helper()
	for _, s := range w.Steps {
		if s.Key == key && s.Task != nil {
			return s.Task.ID
		}
	}
	t.Fatalf("workflow %s has no step %s with a task: %+v", w.ID, key, w.Steps)
	return ""
}

const (
	submitWorkflow = `mutation($in: WorkflowInput!) { submitWorkflow(input: $in) {` + workflowFields + `} }`
	getWorkflow    = `query($id: ID!) { workflow(id: $id) {` + workflowFields + `} }`
)

// threeSteps is a graph of three steps: notes first, then summary, then
// merge of both (which refers to their results).
func threeSteps() map[string]any {
	return map[string]any{
		"name": "session 12", "metadata": map[string]any{"campaign": "tomb"},
		"steps": []any{
			map[string]any{"key": "notes", "type": "echo", "input": map[string]any{"text": "the party met"},
				"priority": "HIGH", "timeoutSeconds": 30, "maxRetries": 1, "retryBackoffMs": 200},
			map[string]any{"key": "summary", "type": "echo", "dependsOn": []string{"notes"},
				"input": map[string]any{"from": map[string]any{"$ref": "notes.result.text"}}},
			map[string]any{"key": "merge", "type": "echo", "dependsOn": []string{"notes", "summary"},
				"input": map[string]any{"a": map[string]any{"$ref": "notes.result"}, "b": map[string]any{"$ref": "summary.result"}}},
		},
	}
}

// claimStep claims the PENDING task id on node n1 as the leader and its
// worker would, and returns its attempt.
func claimStep(t *testing.T, e *env, id string) int {
	t.Helper()
	ctx := t.Context()
	if _, err := e.store.Heartbeat(ctx, &archivist.Node{ID: "n1", Role: archivist.RoleHybrid, LastHeartbeat: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	lease, err := e.store.Campaign(ctx, "n1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AssignTasks(ctx, lease, []archivist.Assignment{{TaskID: id, NodeID: "n1"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	claimed, err := e.store.ClaimTasks(ctx, "n1", 1, time.Second)
	if err != nil || len(claimed) != 1 || claimed[0].ID != id {
		t.Fatalf("claim %s: %v %v", id, claimed, err)
	}
	return claimed[0].Attempt
}

func TestSubmitWorkflow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var out struct{ SubmitWorkflow workflowView }
	e.must(t, submitWorkflow, map[string]any{"in": threeSteps()}, &out)
	w := out.SubmitWorkflow
	if w.ID == "" || w.Name != "session 12" || w.Status != "RUNNING" || w.OnFailure != "FAIL_FAST" ||
		w.Progress != 0 || w.StepCount != 3 || w.Error != nil || w.CompletedAt != nil || !w.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("submitted %+v", w)
	}
	sameJSON(t, w.Metadata, `{"campaign": "tomb"}`)
	want := map[string]string{"notes": "PENDING", "summary": "WAITING", "merge": "WAITING"}
	if got := w.statuses(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	if s := w.Steps[2]; s.Key != "merge" || strings.Join(s.DependsOn, ",") != "notes,summary" {
		t.Errorf("merge step %+v", s)
	}
	for _, s := range w.Steps {
		if s.Task.StepKey == nil || *s.Task.StepKey != s.Key || s.Task.Workflow == nil || s.Task.Workflow.ID != w.ID {
			t.Errorf("task of %s: stepKey %v workflow %v", s.Key, s.Task.StepKey, s.Task.Workflow)
		}
	}
	// The step's task is as submitTask would make it.
	var tk struct {
		Task struct {
			Priority       string
			TimeoutSeconds float64
			MaxRetries     int
			RetryBackoffMs *int
		}
	}
	e.must(t, `query($id: ID!) { task(id: $id) { priority timeoutSeconds maxRetries retryBackoffMs } }`,
		map[string]any{"id": w.taskOf(t, "notes")}, &tk)
	if tk.Task.Priority != "HIGH" || tk.Task.TimeoutSeconds != 30 || tk.Task.MaxRetries != 1 || tk.Task.RetryBackoffMs == nil || *tk.Task.RetryBackoffMs != 200 {
		t.Errorf("notes task %+v", tk.Task)
	}

	// notes completes: summary is released, merge still waits for it.
	runTask(t, e, w.taskOf(t, "notes"))
	var q struct{ Workflow *workflowView }
	e.must(t, getWorkflow, map[string]any{"id": w.ID}, &q)
	want = map[string]string{"notes": "COMPLETED", "summary": "PENDING", "merge": "WAITING"}
	if got := q.Workflow.statuses(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after notes: steps %v, want %v", got, want)
	}
	if p := q.Workflow.Progress; p < 0.33 || p > 0.34 {
		t.Errorf("progress %v, want 1/3", p)
	}

	runTask(t, e, w.taskOf(t, "summary"))
	runTask(t, e, w.taskOf(t, "merge"))
	e.must(t, getWorkflow, map[string]any{"id": w.ID}, &q)
	if got := q.Workflow; got.Status != "COMPLETED" || got.Progress != 1 || got.CompletedAt == nil || got.Error != nil {
		t.Errorf("finished workflow %+v", got)
	}

	// The tasks query finds the steps by workflow.
	var page struct {
		Tasks struct {
			TotalCount int
			Edges      []struct{ Node struct{ StepKey string } }
		}
	}
	e.must(t, `query($w: ID!) { tasks(filter: {workflowId: $w}) { totalCount edges { node { stepKey } } } }`,
		map[string]any{"w": w.ID}, &page)
	if page.Tasks.TotalCount != 3 || len(page.Tasks.Edges) != 3 {
		t.Errorf("tasks of the workflow: %+v", page.Tasks)
	}
	// A task outside any workflow has neither.
	var plain struct {
		SubmitTask struct {
			Workflow *struct{ ID string }
			StepKey  *string
		}
	}
	e.must(t, `mutation { submitTask(input: {type: "echo"}) { workflow { id } stepKey } }`, nil, &plain)
	if plain.SubmitTask.Workflow != nil || plain.SubmitTask.StepKey != nil {
		t.Errorf("plain task: %+v", plain.SubmitTask)
	}
}

func TestWorkflowQueries(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var ids []string
	for i := range 3 {
		in := threeSteps()
		in["name"] = fmt.Sprintf("wf-%d", i)
		var out struct{ SubmitWorkflow workflowView }
		e.must(t, submitWorkflow, map[string]any{"in": in}, &out)
		ids = append(ids, out.SubmitWorkflow.ID)
		e.clock.Advance(time.Second)
	}
	var c struct{ CancelWorkflow workflowView }
	e.must(t, `mutation($id: ID!) { cancelWorkflow(id: $id) {`+workflowFields+`} }`, map[string]any{"id": ids[0]}, &c)
	if got := c.CancelWorkflow; got.Status != "CANCELLED" || got.Error == nil {
		t.Errorf("cancelled %+v", got)
	}

	type conn struct {
		Workflows struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage bool
				EndCursor   *string
			}
			Edges []struct {
				Cursor string
				Node   struct{ ID, Name, Status string }
			}
		}
	}
	const list = `query($f: WorkflowFilter, $first: Int, $after: String) {
		workflows(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name status } } } }`
	var l conn
	e.must(t, list, map[string]any{"first": 2}, &l)
	if l.Workflows.TotalCount != 3 || len(l.Workflows.Edges) != 2 || !l.Workflows.PageInfo.HasNextPage ||
		l.Workflows.Edges[0].Node.ID != ids[2] || l.Workflows.Edges[1].Node.ID != ids[1] {
		t.Fatalf("first page %+v, want the two newest", l.Workflows)
	}
	e.must(t, list, map[string]any{"first": 2, "after": *l.Workflows.PageInfo.EndCursor}, &l)
	if len(l.Workflows.Edges) != 1 || l.Workflows.Edges[0].Node.ID != ids[0] || l.Workflows.PageInfo.HasNextPage {
		t.Errorf("second page %+v", l.Workflows)
	}
	e.must(t, list, map[string]any{"f": map[string]any{"status": []string{"CANCELLED"}}}, &l)
	if l.Workflows.TotalCount != 1 || l.Workflows.Edges[0].Node.Status != "CANCELLED" {
		t.Errorf("cancelled ones %+v", l.Workflows)
	}
	e.must(t, list, map[string]any{"f": map[string]any{"search": "WF-1"}}, &l)
	if l.Workflows.TotalCount != 1 || l.Workflows.Edges[0].Node.Name != "wf-1" {
		t.Errorf("search %+v", l.Workflows)
	}
	e.must(t, list, map[string]any{"first": 0}, &l)
	if l.Workflows.TotalCount != 3 || len(l.Workflows.Edges) != 0 {
		t.Errorf("count only %+v", l.Workflows)
	}
	wantError(t, e.post(t, list, map[string]any{"first": 501}), "BAD_USER_INPUT", "first")

	var q struct{ Workflow *workflowView }
	e.must(t, getWorkflow, map[string]any{"id": "no-such"}, &q)
	if q.Workflow != nil {
		t.Errorf("workflow(no-such) = %+v, want null", q.Workflow)
	}

	// Retry of the cancelled one: its steps run again.
	var r struct{ RetryWorkflow workflowView }
	e.must(t, `mutation($id: ID!) { retryWorkflow(id: $id) {`+workflowFields+`} }`, map[string]any{"id": ids[0]}, &r)
	want := map[string]string{"notes": "PENDING", "summary": "WAITING", "merge": "WAITING"}
	if got := r.RetryWorkflow; got.Status != "RUNNING" || fmt.Sprint(got.statuses()) != fmt.Sprint(want) {
		t.Errorf("retried %+v (steps %v)", got, got.statuses())
	}
	// A running workflow cannot be retried; a finished one not cancelled.
	wantError(t, e.post(t, `mutation { retryWorkflow(id: "`+ids[1]+`") { id } }`, nil), "CONFLICT")
	wantError(t, e.post(t, `mutation { cancelWorkflow(id: "no-such") { id } }`, nil), "NOT_FOUND")
}

func TestWorkflowFailFast(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var out struct{ SubmitWorkflow workflowView }
	e.must(t, submitWorkflow, map[string]any{"in": threeSteps()}, &out)
	w := out.SubmitWorkflow
	id := w.taskOf(t, "notes")
	attempt := claimStep(t, e, id)
	if _, err := e.store.FailTask(t.Context(), id, attempt, archivist.Failure{Error: "the notes are unreadable", Permanent: true}); err != nil {
		t.Fatal(err)
	}
	var q struct{ Workflow *workflowView }
	e.must(t, getWorkflow, map[string]any{"id": w.ID}, &q)
	got := q.Workflow
	want := map[string]string{"notes": "FAILED", "summary": "CANCELLED", "merge": "CANCELLED"}
	if got.Status != "FAILED" || got.Error == nil || !strings.Contains(*got.Error, "notes") ||
		!strings.Contains(*got.Error, "unreadable") || fmt.Sprint(got.statuses()) != fmt.Sprint(want) {
		t.Errorf("failed workflow %+v, steps %v", got, got.statuses())
	}
	// A step is retried with its workflow, not alone.
	wantError(t, e.post(t, `mutation { retryTask(id: "`+id+`") { id } }`, nil), "CONFLICT")
}

func TestSubmitWorkflowBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t)
	step := func(key, typ string, deps ...string) map[string]any {
		return map[string]any{"key": key, "type": typ, "dependsOn": deps}
	}
	many := make([]any, archivist.MaxWorkflowSteps+1)
	for i := range many {
		many[i] = step(fmt.Sprintf("s%d", i), "echo")
	}
	cases := []struct {
		name  string
		in    map[string]any
		parts []string
	}{
		{"cycle", map[string]any{"name": "w", "steps": []any{step("a", "echo", "c"), step("b", "echo", "a"), step("c", "echo", "b")}},
			[]string{"cycle", "a -> c -> b -> a"}},
		{"unknown dependency", map[string]any{"name": "w", "steps": []any{step("a", "echo", "ghost")}},
			[]string{"step a", "ghost", "not a step"}},
		{"unknown type", map[string]any{"name": "w", "steps": []any{step("a", "no.such.type")}},
			[]string{"step a", "no.such.type"}},
		{"duplicate key", map[string]any{"name": "w", "steps": []any{step("a", "echo"), step("a", "echo")}},
			[]string{"step key a", "twice"}},
		{"ref to a non-parent", map[string]any{"name": "w", "steps": []any{step("a", "echo"),
			map[string]any{"key": "b", "type": "echo", "input": map[string]any{"x": map[string]any{"$ref": "a.result"}}}}},
			[]string{"step b", "a.result", "does not depend on"}},
		{"too many steps", map[string]any{"name": "w", "steps": many},
			[]string{"at most 1000 steps", "1001"}},
		{"no steps", map[string]any{"name": "w", "steps": []any{}}, []string{"at least one step"}},
		{"no name", map[string]any{"name": " ", "steps": []any{step("a", "echo")}}, []string{"name is required"}},
		{"bad key", map[string]any{"name": "w", "steps": []any{step("a.b", "echo")}}, []string{"step key", "a.b"}},
		{"bad timeout", map[string]any{"name": "w", "steps": []any{map[string]any{"key": "a", "type": "echo", "timeoutSeconds": -1}}},
			[]string{"step a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.post(t, `mutation($in: WorkflowInput!) { submitWorkflow(input: $in) { id } }`, map[string]any{"in": c.in})
			wantError(t, r, "BAD_USER_INPUT", c.parts...)
		})
	}
	// Nothing was stored.
	var l struct{ Workflows struct{ TotalCount int } }
	e.must(t, `{ workflows { totalCount } }`, nil, &l)
	var tasks struct{ Tasks struct{ TotalCount int } }
	e.must(t, `{ tasks { totalCount } }`, nil, &tasks)
	if l.Workflows.TotalCount != 0 || tasks.Tasks.TotalCount != 0 {
		t.Errorf("after refusals: %d workflows, %d tasks stored", l.Workflows.TotalCount, tasks.Tasks.TotalCount)
	}
}

// A workflow of the most steps there may be resolves its steps' tasks in a
// few reads of the store, not one per step.
func TestWorkflowStepsBatched(t *testing.T) {
	t.Parallel()
	var reads *readCounter
	e := setup(t, func(r *graph.Resolver, _ *graph.HandlerOptions) {
		reads = &readCounter{Store: r.Store}
		r.Store = reads
	})
	steps := make([]any, archivist.MaxWorkflowSteps)
	for i := range steps {
		steps[i] = map[string]any{"key": fmt.Sprintf("s%d", i), "type": "echo"}
	}
	var out struct{ SubmitWorkflow struct{ ID string } }
	e.must(t, `mutation($in: WorkflowInput!) { submitWorkflow(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": "big", "steps": steps}}, &out)
	var q struct {
		Workflow struct {
			Steps []struct {
				Key  string
				Task *struct{ ID, Status, StepKey string }
			}
		}
	}
	reads.getTask.Store(0)
	reads.listTasks.Store(0)
	e.must(t, `query($id: ID!) { workflow(id: $id) { steps { key task { id status stepKey } } } }`,
		map[string]any{"id": out.SubmitWorkflow.ID}, &q)
	if g, l := reads.getTask.Load(), reads.listTasks.Load(); g != 0 || l != 2 {
		t.Errorf("%d GetTask and %d ListTasks for 1000 steps, want 0 and 2 (pages of 500)", g, l)
	}
	if len(q.Workflow.Steps) != archivist.MaxWorkflowSteps {
		t.Fatalf("%d steps", len(q.Workflow.Steps))
	}
	for _, s := range q.Workflow.Steps {
		if s.Task == nil || s.Task.StepKey != s.Key || s.Task.Status != "PENDING" {
			t.Fatalf("step %s: task %+v", s.Key, s.Task)
		}
	}
}

// readCounter counts the task reads of a store.
type readCounter struct {
	archivist.Store
	getTask, listTasks atomic.Int64
}

func (c *readCounter) GetTask(ctx context.Context, id string) (*archivist.Task, error) {
	c.getTask.Add(1)
	return c.Store.GetTask(ctx, id)
}

func (c *readCounter) ListTasks(ctx context.Context, q archivist.TaskQuery) (*archivist.TaskPage, error) {
	c.listTasks.Add(1)
	return c.Store.ListTasks(ctx, q)
}

func TestWorkflowUpdatedSubscription(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var out struct{ SubmitWorkflow workflowView }
	e.must(t, submitWorkflow, map[string]any{"in": threeSteps()}, &out)
	w := out.SubmitWorkflow
	// Another workflow, whose changes the subscription does not see.
	var other struct{ SubmitWorkflow workflowView }
	e.must(t, submitWorkflow, map[string]any{"in": threeSteps()}, &other)

	c := e.dial(t, protoTransportWS)
	c.subscribe("w", `subscription($id: ID!) { workflowUpdated(id: $id) {`+workflowFields+`} }`, map[string]any{"id": w.ID})
	e.events.waitSubscribed(t, 1)
	type upd struct{ WorkflowUpdated workflowView }

	// The current state comes first.
	first := decodeNext[upd](t, c.next("w")).WorkflowUpdated
	if first.ID != w.ID || first.Status != "RUNNING" || first.statuses()["notes"] != "PENDING" {
		t.Fatalf("first message %+v", first)
	}

	// The progress of a running step shows, through its task's events.
	notes := w.taskOf(t, "notes")
	attempt := claimStep(t, e, notes)
	if err := e.store.ReportProgress(t.Context(), notes, attempt, 0.5, "half"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case <-deadline:
			t.Fatal("no update with the step's progress")
		default:
		}
		u := decodeNext[upd](t, c.next("w")).WorkflowUpdated
		if u.ID != w.ID {
			t.Fatalf("update of workflow %s", u.ID)
		}
		for _, s := range u.Steps {
			seen = seen || (s.Key == "notes" && s.Task.Progress == 0.5 && s.Task.Status == "IN_PROGRESS")
		}
	}

	// Steps of the other workflow say nothing here; this one's ending does.
	runTask(t, e, other.SubmitWorkflow.taskOf(t, "notes"))
	if _, err := e.store.CompleteTask(t.Context(), notes, attempt, json.RawMessage(`{"text": "done"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		u := decodeNext[upd](t, c.next("w")).WorkflowUpdated
		if u.ID != w.ID {
			t.Fatalf("update of workflow %s", u.ID)
		}
		// Every step, not only the ones the update changed.
		if len(u.Steps) != 3 {
			t.Fatalf("an update shows %d steps, want all 3", len(u.Steps))
		}
		if u.statuses()["summary"] == "PENDING" && u.Progress > 0.3 {
			break
		}
	}
	c.stop("w")
	testkit.Eventually(t, 5*time.Second, func() bool { return e.events.open.Load() == 0 }, "the subscription closed")
}

func TestWorkflowUpdatedUnknownID(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.dial(t, protoTransportWS)
	c.subscribe("1", `subscription { workflowUpdated(id: "nope") { id } }`, nil)
	wantError(t, c.next("1"), "NOT_FOUND")
	testkit.Eventually(t, 5*time.Second, func() bool { return e.events.open.Load() == 0 }, "no open subscription")
}

// The steps ready at once, at submission and at a retry, are passed on to
// OnSubmitted (local processing); waiting ones are not.
func TestWorkflowOnSubmitted(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var told []string
	e := setup(t, func(r *graph.Resolver, _ *graph.HandlerOptions) {
		r.OnSubmitted = func(_ context.Context, _ archivist.Config, tasks []*archivist.Task) {
			mu.Lock()
			defer mu.Unlock()
			for _, tk := range tasks {
				told = append(told, tk.StepKey+":"+string(tk.Status))
			}
		}
	})
	var out struct{ SubmitWorkflow workflowView }
	e.must(t, submitWorkflow, map[string]any{"in": threeSteps()}, &out)
	e.must(t, `mutation($id: ID!) { cancelWorkflow(id: $id) { id } }`, map[string]any{"id": out.SubmitWorkflow.ID}, nil)
	e.must(t, `mutation($id: ID!) { retryWorkflow(id: $id) { id } }`, map[string]any{"id": out.SubmitWorkflow.ID}, nil)
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(told, ",") != "notes:PENDING,notes:PENDING" {
		t.Errorf("told of %v, want notes at submission and at the retry", told)
	}
}
