package store

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/rpg-archivist/archivist"
)

// Workflows of the embedded and memory stores: kept in memory by id
// (engine.workflows), each change part of an update that records its
// events and, for Bolt, persists the workflow (batch.workflows, the bucket
// workflows). A stored workflow is never modified, only replaced, because
// events share it.
//
// Any transition that ends a step's task notes it (tx.putTask, see
// tx.noteEnded); once the transition's own function returned, apply calls
// settleSteps, which applies Workflow.StepEnded for each such step: the
// releases, the cancellations (which end more steps, settled in turn) and
// one workflow.updated per workflow changed, after the transition's own
// events.

func (tx *tx) putWorkflow(w *archivist.Workflow) {
	if tx.e.workflows == nil {
		tx.e.workflows = map[string]*archivist.Workflow{}
	}
	tx.e.workflows[w.ID] = w
	if tx.b.workflows == nil {
		tx.b.workflows = map[string]*archivist.Workflow{}
	}
	tx.b.workflows[w.ID] = w
}

func (tx *tx) deleteWorkflow(id string) {
	delete(tx.e.workflows, id)
	if tx.b.workflows == nil {
		tx.b.workflows = map[string]*archivist.Workflow{}
	}
	tx.b.workflows[id] = nil
}

// workflowEvent records an event with w (a copy, or an update: see
// Event.Workflow).
func (tx *tx) workflowEvent(typ archivist.EventType, w *archivist.Workflow) {
	tx.e.meta.EventSeq++
	tx.b.events = append(tx.b.events, archivist.Event{Seq: tx.e.meta.EventSeq, Kind: archivist.EventWorkflow,
		Type: typ, Time: tx.now, Workflow: w})
	tx.b.metaChanged = true
}

// noteEnded remembers that t, a workflow step, just ended.
func (tx *tx) noteEnded(t *archivist.Task) { tx.ended = append(tx.ended, t) }

// editWorkflow returns this transition's working copy of workflow id (nil
// when there is none), made on first use; settleSteps stores the copies.
func (tx *tx) editWorkflow(id string) *archivist.Workflow {
	if w := tx.wf[id]; w != nil {
		return w
	}
	w := tx.e.workflows[id]
	if w == nil {
		return nil
	}
	w = w.Clone()
	if tx.wf == nil {
		tx.wf = map[string]*archivist.Workflow{}
	}
	tx.wf[id] = w
	tx.wfOrder = append(tx.wfOrder, id)
	return w
}

// settleSteps applies the workflow rules to the steps that ended in this
// transition (and to those that end because of them), then stores each
// workflow changed and records workflow.updated for it.
func (tx *tx) settleSteps() {
	e := tx.e
	for len(tx.ended) > 0 {
		t := tx.ended[0]
		tx.ended = tx.ended[1:]
		w := tx.editWorkflow(t.WorkflowID)
		if w == nil {
			continue
		}
		release, cancel, reason := w.StepEnded(t.StepKey, t.Status, t.Error, tx.now)
		for _, key := range release {
			if s := w.Step(key); s != nil {
				if old := e.tasks[s.TaskID]; old != nil && old.Status == archivist.TaskWaiting {
					tx.release(old)
				}
			}
		}
		for _, key := range cancel {
			s := w.Step(key)
			if s == nil {
				continue
			}
			old := e.tasks[s.TaskID]
			// StepEnded's FAIL_FAST cancels what has not started: a
			// step whose task runs finishes.
			if old == nil || old.Status.Terminal() || old.Status == archivist.TaskInProgress {
				continue
			}
			e.cancel(tx, old, reason)
		}
	}
	for _, id := range tx.wfOrder {
		w := tx.wf[id]
		update := w.Update(e.workflows[id])
		tx.putWorkflow(w)
		tx.workflowEvent(archivist.EventWorkflowUpdated, update)
	}
	tx.wf, tx.wfOrder = nil, nil
}

// release makes WAITING step old PENDING; its wait counts from now (RunAt,
// see Task.ReadySince).
func (tx *tx) release(old *archivist.Task) {
	t := old.Clone()
	t.Status = archivist.TaskPending
	t.RunAt = tx.now
	tx.putTask(old, t)
	tx.taskEvent(archivist.EventTaskReleased, t, "")
}

func (e *engine) workflow(id string) (*archivist.Workflow, error) {
	w, ok := e.workflows[id]
	if !ok {
		return nil, notFound("workflow", id)
	}
	return w, nil
}

// CreateWorkflow implements archivist.Store.
func (e *engine) CreateWorkflow(ctx context.Context, w *archivist.Workflow, tasks []*archivist.Task) error {
	if err := checkWorkflowIn(w, tasks); err != nil {
		return err
	}
	return e.update(ctx, func(tx *tx) error {
		if _, ok := e.workflows[w.ID]; ok {
			return archivist.Errorf(archivist.CodeConflict, "workflow %q already exists", w.ID)
		}
		for _, t := range tasks {
			if _, ok := e.tasks[t.ID]; ok {
				return archivist.Errorf(archivist.CodeConflict, "task %q already exists", t.ID)
			}
		}
		e.meta.WorkflowSeq++
		w.Seq = e.meta.WorkflowSeq
		w.CreatedAt, w.UpdatedAt, w.CompletedAt = tx.now, tx.now, time.Time{}
		w.Status, w.Error = archivist.WorkflowRunning, ""
		for i := range w.Steps {
			tx.createStep(&w.Steps[i], tasks[i], w.ID)
		}
		tx.putWorkflow(w.Clone())
		tx.workflowEvent(archivist.EventWorkflowCreated, w.Clone())
		tx.metaChanged()
		return nil
	})
}

// checkWorkflowIn refuses what no store may keep: steps and tasks that do
// not pair up.
func checkWorkflowIn(w *archivist.Workflow, tasks []*archivist.Task) error {
	if w == nil || w.ID == "" {
		return archivist.Errorf(archivist.CodeBadUserInput, "a workflow with an id is required")
	}
	if len(w.Steps) == 0 || len(w.Steps) != len(tasks) {
		return archivist.Errorf(archivist.CodeBadUserInput, "workflow %s: %d steps and %d tasks", w.ID, len(w.Steps), len(tasks))
	}
	for i, t := range tasks {
		if t == nil || t.ID == "" || t.ID != w.Steps[i].TaskID || t.StepKey != w.Steps[i].Key {
			return archivist.Errorf(archivist.CodeBadUserInput, "workflow %s: step %d and its task do not match", w.ID, i)
		}
	}
	return nil
}

// createStep stores in, the task of step s of workflow wf: PENDING when s
// is (no dependency, or all completed), else WAITING.
func (tx *tx) createStep(s *archivist.WorkflowStep, in *archivist.Task, wf string) {
	e := tx.e
	e.meta.TaskSeq++
	in.Seq = e.meta.TaskSeq
	in.CreatedAt = tx.now
	in.WorkflowID, in.StepKey = wf, s.Key
	in.RunAt, in.Delay, in.UniqueKey, in.UniqueFor, in.OnDuplicate, in.Duplicate = time.Time{}, 0, "", 0, "", false
	if s.Status == archivist.TaskPending {
		in.Status = archivist.TaskPending
	} else {
		s.Status, in.Status = archivist.TaskWaiting, archivist.TaskWaiting
	}
	t := in.Clone()
	tx.putTask(nil, t)
	in.UpdatedAt = t.UpdatedAt
	tx.taskEvent(archivist.EventTaskCreated, t, "")
	tx.statSubmitted(t)
}

// GetWorkflow implements archivist.Store.
func (e *engine) GetWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	var out *archivist.Workflow
	err := e.view(func() error {
		w, err := e.workflow(id)
		out = w.Clone()
		return err
	})
	return out, err
}

// ListWorkflows implements archivist.Store.
func (e *engine) ListWorkflows(ctx context.Context, q archivist.WorkflowQuery) (*archivist.WorkflowPage, error) {
	first, after, err := pageArgs(q.First, q.After)
	if err != nil {
		return nil, err
	}
	page := &archivist.WorkflowPage{}
	err = e.view(func() error {
		var match []*archivist.Workflow
		for _, w := range e.workflows {
			if q.Matches(w) {
				match = append(match, w)
			}
		}
		sort.Slice(match, func(i, j int) bool { return match[i].Seq > match[j].Seq })
		page.TotalCount = len(match)
		for _, w := range match {
			if after != 0 && w.Seq >= after {
				continue
			}
			if len(page.Workflows) == first {
				page.HasNext = true
				break
			}
			page.Workflows = append(page.Workflows, w.Clone())
		}
		if n := len(page.Workflows); n > 0 {
			page.EndCursor = strconv.FormatUint(page.Workflows[n-1].Seq, 10)
		}
		return nil
	})
	return page, err
}

// CancelWorkflow implements archivist.Store.
func (e *engine) CancelWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	var out *archivist.Workflow
	err := e.update(ctx, func(tx *tx) error {
		if _, err := e.workflow(id); err != nil {
			return err
		}
		w := tx.editWorkflow(id)
		keys, err := w.Cancel(tx.now)
		if err != nil {
			tx.wf, tx.wfOrder = nil, nil
			return err
		}
		for _, key := range keys {
			if old := e.tasks[w.Step(key).TaskID]; old != nil && !old.Status.Terminal() {
				e.cancel(tx, old, "workflow cancelled")
			}
		}
		out = w
		return nil
	})
	return out.Clone(), err
}

// RetryWorkflow implements archivist.Store.
func (e *engine) RetryWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	var out *archivist.Workflow
	err := e.update(ctx, func(tx *tx) error {
		if _, err := e.workflow(id); err != nil {
			return err
		}
		w := tx.editWorkflow(id)
		keys, err := w.Retry(tx.now)
		if err != nil {
			tx.wf, tx.wfOrder = nil, nil
			return err
		}
		for _, key := range keys {
			s := w.Step(key)
			old := e.tasks[s.TaskID]
			if old == nil {
				continue
			}
			t := old.Clone()
			t.Status = s.Status
			t.Failures, t.Requeues = 0, 0
			t.CancelRequested = false
			t.CompletedAt, t.LeaseUntil, t.RunAt = time.Time{}, time.Time{}, time.Time{}
			if t.Status == archivist.TaskPending {
				t.RunAt = tx.now
			}
			t.Progress, t.ProgressMessage, t.Error, t.Result = 0, "", "", nil
			tx.putTask(old, t)
			tx.taskEvent(archivist.EventTaskRetried, t, "")
		}
		out = w
		return nil
	})
	return out.Clone(), err
}

// AddWorkflowSteps implements archivist.Store.
func (e *engine) AddWorkflowSteps(ctx context.Context, id string, attempt int, steps []archivist.WorkflowStep, tasks []*archivist.Task) (*archivist.Workflow, error) {
	if len(steps) != len(tasks) {
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "%d steps and %d tasks", len(steps), len(tasks))
	}
	byKey := make(map[string]*archivist.Task, len(tasks))
	for i, t := range tasks {
		if t == nil || t.ID == "" || t.ID != steps[i].TaskID || t.StepKey != steps[i].Key {
			return nil, archivist.Errorf(archivist.CodeBadUserInput, "step %d and its task do not match", i)
		}
		byKey[t.StepKey] = t
	}
	var out *archivist.Workflow
	err := e.update(ctx, func(tx *tx) error {
		t, err := e.attemptTask(id, attempt)
		if err != nil {
			return err
		}
		if t.WorkflowID == "" {
			return archivist.Errorf(archivist.CodeBadUserInput, "task %s is not a workflow step", id)
		}
		if _, err := e.workflow(t.WorkflowID); err != nil {
			return err
		}
		for _, nt := range tasks {
			if _, ok := e.tasks[nt.ID]; ok {
				return archivist.Errorf(archivist.CodeConflict, "task %q already exists", nt.ID)
			}
		}
		w := tx.editWorkflow(t.WorkflowID)
		added, err := w.AddSteps(t.StepKey, steps, tx.now)
		if err != nil {
			tx.wf, tx.wfOrder = nil, nil
			return err
		}
		for i := range added {
			tx.createStep(w.Step(added[i].Key), byKey[added[i].Key], w.ID)
		}
		tx.metaChanged()
		out = w
		return nil
	})
	return out.Clone(), err
}

// stepPurgeable reports whether t may be purged: a step only with its
// workflow, which PurgeFinished removes whole.
func (e *engine) stepPurgeable(t *archivist.Task) bool {
	return t.WorkflowID == "" || e.workflows[t.WorkflowID] == nil
}

// purgeWorkflows removes the workflows whose last step ended before
// before (failedBefore for a FAILED workflow), with their steps' tasks, and returns how many tasks it removed.
func (tx *tx) purgeWorkflows(before, failedBefore time.Time) int {
	n := 0
	for id, w := range tx.e.workflows {
		cut := before
		if w.Status == archivist.WorkflowFailed {
			cut = failedBefore
		}
		if w.Status == archivist.WorkflowRunning || w.CompletedAt.IsZero() || !w.CompletedAt.Before(cut) {
			continue
		}
		for _, s := range w.Steps {
			if t := tx.e.tasks[s.TaskID]; t != nil {
				tx.deleteTask(t)
				n++
			}
		}
		tx.deleteWorkflow(id)
	}
	return n
}

// errRetryStep refuses RetryTask of a workflow step: its workflow is
// retried instead, so that what depends on it runs again too.
func errRetryStep(t *archivist.Task) error {
	return archivist.Errorf(archivist.CodeConflict, "task %s is step %s of workflow %s: retry the workflow (retryWorkflow), which runs it again with what depends on it",
		t.ID, t.StepKey, t.WorkflowID)
}
