package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Workflow is a graph of tasks as the API shows it: each step runs once
// the steps it depends on completed.
type Workflow struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Status is RUNNING, COMPLETED, FAILED or CANCELLED.
	Status string `json:"status"`
	// OnFailure is FAIL_FAST or CONTINUE.
	OnFailure string `json:"onFailure"`
	// Group is the group of its steps' tasks (WorkflowSpec.Group).
	Group string `json:"group,omitempty"`
	// Progress is the share of steps that ended, from 0 to 1.
	Progress  float64         `json:"progress"`
	StepCount int             `json:"stepCount"`
	Steps     []WorkflowStep  `json:"steps"`
	Error     string          `json:"error,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
	// CompletedAt is when the last step of a workflow that left RUNNING
	// ended; nil until then.
	CompletedAt *time.Time `json:"completedAt,omitempty"`
}

// Finished reports whether the workflow left RUNNING and every step ended.
func (w *Workflow) Finished() bool { return w.Status != WorkflowRunning && w.CompletedAt != nil }

// Step returns the step with key, or nil.
func (w *Workflow) Step(key string) *WorkflowStep {
	for i := range w.Steps {
		if w.Steps[i].Key == key {
			return &w.Steps[i]
		}
	}
	return nil
}

// Workflow statuses.
const (
	WorkflowRunning   = "RUNNING"
	WorkflowCompleted = "COMPLETED"
	WorkflowFailed    = "FAILED"
	WorkflowCancelled = "CANCELLED"
)

// WorkflowStep is one step of a workflow and its task (nil once removed
// after retention).
type WorkflowStep struct {
	Key       string   `json:"key"`
	DependsOn []string `json:"dependsOn"`
	// AddedBy is the key of the step that added this one while it ran,
	// or "" for a submitted step.
	AddedBy string `json:"addedBy"`
	Task    *Task  `json:"task"`
}

// workflowFields are the fields read of a workflow; a step's task without
// input and result, which a workflow of many steps would make large (Get
// reads a task whole).
const workflowFields = `id name status onFailure group progress stepCount error metadata createdAt updatedAt completedAt
steps { key dependsOn addedBy task { id type status priority error attempts failures maxRetries timeoutSeconds progress
progressMessage nodeId createdAt updatedAt startedAt completedAt workflowId stepKey } }`

// WorkflowSpec is a workflow submission.
type WorkflowSpec struct {
	Name     string
	Metadata json.RawMessage
	// OnFailure is FAIL_FAST (""), or CONTINUE.
	OnFailure string
	// Group is the group of every step's task, steps added while it runs
	// included ("": none). A step's own Task.Group is not sent.
	Group string
	Steps []WorkflowStepSpec
}

// WorkflowStepSpec is one step of a submission: a key, the keys it
// depends on and its task. The task's Input may hold {"$ref":
// "STEP.result[.path]"} to stand for the result of a step it depends on.
// A step cannot be delayed or unique: RunAt, Delay and UniqueKey are
// refused.
type WorkflowStepSpec struct {
	Key       string
	DependsOn []string
	Task      TaskSpec
}

func (s WorkflowSpec) vars() map[string]any {
	steps := make([]map[string]any, len(s.Steps))
	for i, st := range s.Steps {
		in := st.Task.vars()
		delete(in, "group") // the workflow's (a step has none of its own)
		in["key"] = st.Key
		if len(st.DependsOn) > 0 {
			in["dependsOn"] = st.DependsOn
		}
		steps[i] = in
	}
	in := map[string]any{"name": s.Name, "steps": steps}
	if s.Metadata != nil {
		in["metadata"] = s.Metadata
	}
	if s.OnFailure != "" {
		in["onFailure"] = s.OnFailure
	}
	if s.Group != "" {
		in["group"] = s.Group
	}
	return map[string]any{"in": in}
}

// SubmitWorkflow validates and stores a workflow, all its steps or none; a
// bad graph (a cycle, an unknown dependency or type, a $ref to a step it
// does not depend on...) gives BAD_USER_INPUT with the reason.
func (c *Client) SubmitWorkflow(ctx context.Context, spec WorkflowSpec) (*Workflow, error) {
	var out struct{ SubmitWorkflow *Workflow }
	err := c.Do(ctx, `mutation($in: WorkflowInput!) { submitWorkflow(input: $in) { `+workflowFields+` } }`, spec.vars(), &out)
	return out.SubmitWorkflow, err
}

// Workflow returns a workflow; an unknown id gives an error with code
// NOT_FOUND.
func (c *Client) Workflow(ctx context.Context, id string) (*Workflow, error) {
	var out struct{ Workflow *Workflow }
	if err := c.Do(ctx, `query($id: ID!) { workflow(id: $id) { `+workflowFields+` } }`, map[string]any{"id": id}, &out); err != nil {
		return nil, err
	}
	if out.Workflow == nil {
		return nil, &Error{Code: CodeNotFound, Message: fmt.Sprintf("workflow %q not found", id)}
	}
	return out.Workflow, nil
}

// WorkflowFilter selects workflows in Workflows. Zero fields do not filter.
type WorkflowFilter struct {
	Status []string `json:"status,omitempty"`
	// Search matches a part of the id or the name, ignoring case.
	Search string `json:"search,omitempty"`
}

// WorkflowPage is one page of Workflows. Its workflows come without their
// steps (StepCount says how many).
type WorkflowPage struct {
	Workflows  []*Workflow
	TotalCount int
	HasNext    bool
	EndCursor  string
}

// Workflows returns a page of workflows, newest first, without their
// steps. first is the page size (0: the server's default); after is the
// EndCursor of the previous page.
func (c *Client) Workflows(ctx context.Context, f WorkflowFilter, first int, after string) (*WorkflowPage, error) {
	vars := map[string]any{"f": f}
	if first > 0 {
		vars["first"] = first
	}
	if after != "" {
		vars["after"] = after
	}
	var out struct {
		Workflows struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage bool
				EndCursor   *string
			}
			Edges []struct{ Node *Workflow }
		}
	}
	err := c.Do(ctx, `query($f: WorkflowFilter, $first: Int, $after: String) { workflows(filter: $f, first: $first, after: $after) {
		totalCount pageInfo { hasNextPage endCursor }
		edges { node { id name status onFailure progress stepCount error metadata createdAt updatedAt completedAt } } } }`, vars, &out)
	if err != nil {
		return nil, err
	}
	p := &WorkflowPage{TotalCount: out.Workflows.TotalCount, HasNext: out.Workflows.PageInfo.HasNextPage}
	if out.Workflows.PageInfo.EndCursor != nil {
		p.EndCursor = *out.Workflows.PageInfo.EndCursor
	}
	for _, e := range out.Workflows.Edges {
		p.Workflows = append(p.Workflows, e.Node)
	}
	return p, nil
}

// CancelWorkflow cancels a RUNNING workflow: every unfinished step is
// cancelled (a running one is asked to stop). Another status gives
// CONFLICT.
func (c *Client) CancelWorkflow(ctx context.Context, id string) (*Workflow, error) {
	var out struct{ CancelWorkflow *Workflow }
	err := c.Do(ctx, `mutation($id: ID!) { cancelWorkflow(id: $id) { `+workflowFields+` } }`, map[string]any{"id": id}, &out)
	return out.CancelWorkflow, err
}

// RetryWorkflow runs again the steps of a FAILED or CANCELLED workflow that
// did not complete; completed steps keep their results. Another status
// gives CONFLICT.
func (c *Client) RetryWorkflow(ctx context.Context, id string) (*Workflow, error) {
	var out struct{ RetryWorkflow *Workflow }
	err := c.Do(ctx, `mutation($id: ID!) { retryWorkflow(id: $id) { `+workflowFields+` } }`, map[string]any{"id": id}, &out)
	return out.RetryWorkflow, err
}

// WatchWorkflow streams a workflow (Event.Workflow): its current state
// first, then again at each change of it or of one of its steps' tasks,
// so the progress of running steps shows. An unknown id ends the stream
// with NOT_FOUND (Stream.Err).
func (c *Client) WatchWorkflow(ctx context.Context, id string) (*Stream, error) {
	return c.watch(ctx, `subscription($id: ID!) { workflowUpdated(id: $id) { `+workflowFields+` } }`,
		map[string]any{"id": id}, "workflowUpdated")
}
