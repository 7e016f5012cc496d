package graph

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph/model"
	"github.com/rpg-archivist/archivist/tracing"
)

// maxWorkflowPageSize is the most workflows one page of the workflows query
// holds, as for tasks.
const maxWorkflowPageSize = maxPageSize

// workflowSpec turns a submission into the domain's WorkflowSpec. Each
// step's task is converted as submitTask converts its input.
func workflowSpec(in model.WorkflowInput) archivist.WorkflowSpec {
	spec := archivist.WorkflowSpec{
		Name:     in.Name,
		Metadata: in.Metadata,
		Group:    deref(in.Group),
		Steps:    make([]archivist.WorkflowStepSpec, len(in.Steps)),
	}
	if in.OnFailure != nil {
		spec.OnFailure = *in.OnFailure
	}
	for i, s := range in.Steps {
		if s == nil {
			continue
		}
		spec.Steps[i] = archivist.WorkflowStepSpec{
			Key:       s.Key,
			DependsOn: s.DependsOn,
			Task: taskSpec(&model.SubmitTaskInput{
				Type:           s.Type,
				Input:          s.Input,
				Priority:       s.Priority,
				TimeoutSeconds: s.TimeoutSeconds,
				MaxRetries:     s.MaxRetries,
				Metadata:       s.Metadata,
				RetryBackoffMs: s.RetryBackoffMs,
				MaxBackoffMs:   s.MaxBackoffMs,
			}),
		}
	}
	return spec
}

// newWorkflow validates a submission against the registry and the
// configured defaults, as newTasks does for tasks, and stores it with its
// steps' tasks, all or none. The steps ready to run at once are passed on
// to OnSubmitted.
func (r *Resolver) newWorkflow(ctx context.Context, in model.WorkflowInput) (*archivist.Workflow, error) {
	// Refuse an oversized graph before building any of it.
	if len(in.Steps) > archivist.MaxWorkflowSteps {
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "a workflow has at most %d steps; this one has %d",
			archivist.MaxWorkflowSteps, len(in.Steps))
	}
	cfg, err := r.submitConfig(ctx)
	if err != nil {
		return nil, err
	}
	w, tasks, err := archivist.NewWorkflow(workflowSpec(in), r.Registry, cfg, r.now(ctx))
	if err != nil {
		return nil, err
	}
	// With tracing on, the workflow is a span of the submission's trace and
	// its steps' placements and attempts are spans under it.
	if tracing.Enabled() {
		sctx, span := tracing.Start(ctx, "workflow "+w.Name, trace.SpanKindProducer,
			tracing.KeyWorkflowID.String(w.ID), attribute.Int("archivist.workflow.steps", len(tasks)))
		parent := tracing.Parent(sctx)
		for _, t := range tasks {
			t.Trace = parent
		}
		defer span.End()
	}
	if err := r.Store.CreateWorkflow(ctx, w, tasks); err != nil {
		return nil, err
	}
	if r.OnSubmitted != nil {
		var ready []*archivist.Task
		for _, t := range tasks {
			if t.Status == archivist.TaskPending {
				ready = append(ready, t)
			}
		}
		if len(ready) > 0 {
			r.OnSubmitted(ctx, cfg, ready)
		}
	}
	return w, nil
}

// workflowOrNil returns the workflow with id, or nil when there is none.
func (r *Resolver) workflowOrNil(ctx context.Context, id string) (*archivist.Workflow, error) {
	w, err := r.Store.GetWorkflow(ctx, id)
	if archivist.IsCode(err, archivist.CodeNotFound) {
		return nil, nil
	}
	return w, err
}

// workflowQuery turns the arguments of the workflows query into the
// store's query.
func workflowQuery(f *model.WorkflowFilter, first *int, after *string) (archivist.WorkflowQuery, error) {
	var q archivist.WorkflowQuery
	if f != nil {
		q.Status = f.Status
		q.Search = deref(f.Search)
	}
	var err error
	q.First, q.After, err = pageArgs(first, after, maxWorkflowPageSize)
	return q, err
}

// workflowConnection builds a page of the workflows query; cursors are the
// workflows' Seq in decimal, as the store pages them.
func workflowConnection(page *archivist.WorkflowPage) *model.WorkflowConnection {
	c := &model.WorkflowConnection{
		Edges:      make([]*model.WorkflowEdge, len(page.Workflows)),
		PageInfo:   &model.PageInfo{HasNextPage: page.HasNext},
		TotalCount: page.TotalCount,
	}
	for i, w := range page.Workflows {
		c.Edges[i] = &model.WorkflowEdge{Cursor: strconv.FormatUint(w.Seq, 10), Node: w}
	}
	if n := len(page.Workflows); n > 0 {
		end := page.EndCursor
		if end == "" {
			end = c.Edges[n-1].Cursor
		}
		c.Edges[n-1].Cursor = end
		c.PageInfo.EndCursor = &end
	}
	return c
}

// workflowFeed picks the events of a workflowUpdated subscription: the
// workflow's own events, and the events of its steps' tasks, for which it
// sends the workflow as last known (its record changes only with its own
// events) so that the steps' tasks, read for the response, show their
// progress live.
type workflowFeed struct {
	id   string
	last *archivist.Workflow
}

func (f *workflowFeed) pick(ctx context.Context, ev archivist.Event) (*archivist.Workflow, bool, error) {
	switch {
	case ev.Kind == archivist.EventWorkflow && ev.Workflow != nil && ev.Workflow.ID == f.id:
		if ev.Type == archivist.EventWorkflowUpdated && f.last != nil {
			// An update holds the changed steps only (Event.Workflow):
			// merged into a copy, since the last one sent may still be
			// read.
			next := f.last.Clone()
			next.Merge(ev.Workflow)
			f.last = next
		} else {
			f.last = ev.Workflow
		}
		return f.last, true, nil
	case ev.Kind == archivist.EventTask && ev.Task != nil && ev.Task.WorkflowID == f.id &&
		ev.Type != archivist.EventTaskStaleReport && f.last != nil:
		return f.last, true, nil
	}
	return nil, false, nil
}

// submittedSteps tells OnSubmitted of the steps of w that are ready to run
// (PENDING) after a retry, so that local processing sees them as it sees
// new submissions. The steps' tasks are read together.
func (r *Resolver) submittedSteps(ctx context.Context, w *archivist.Workflow) {
	if r.OnSubmitted == nil {
		return
	}
	ready := map[string]bool{}
	for _, s := range w.Steps {
		if s.Status == archivist.TaskPending {
			ready[s.TaskID] = true
		}
	}
	if len(ready) == 0 {
		return
	}
	cfg, err := r.config(ctx)
	if err != nil {
		return
	}
	tasks, err := r.workflowTasks(ctx, w.ID)
	if err != nil {
		r.logger().Warn("retried workflow: read its steps for local processing", "workflow", w.ID, "err", err)
		return
	}
	var pending []*archivist.Task
	for _, t := range tasks {
		if ready[t.ID] && t.Status == archivist.TaskPending {
			pending = append(pending, t)
		}
	}
	if len(pending) > 0 {
		r.OnSubmitted(ctx, cfg, pending)
	}
}
