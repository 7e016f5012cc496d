package workerpool

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/rpg-archivist/archivist"
)

// newJob returns the job of attempt t. For a workflow step, the results
// of the steps it depends on are read when the handler asks for them
// (Job.ParentResults) or, before the attempt, when its input has $refs,
// which are resolved from them (and the resolved input checked as a
// submission would be); the handler can add steps (Job.AddSteps). An error
// that says the step cannot run (a $ref to something the parent's result
// does not have) is permanent; a store out of reach is not.
func (p *Pool) newJob(ctx context.Context, t *archivist.Task, progress func(float64, string)) (*archivist.Job, error) {
	job := archivist.NewJob(t.Clone(), progress)
	if t.WorkflowID == "" {
		return job, nil
	}
	store := p.cfg.Store
	job.SetParentResults(func(ctx context.Context) (map[string]json.RawMessage, error) {
		return p.parentResults(ctx, t)
	})
	if archivist.HasRefs(t.Input) {
		results, err := job.ParentResults(ctx)
		if err != nil {
			return nil, err
		}
		in, err := archivist.ResolveRefs(t.Input, results)
		if err != nil {
			return nil, archivist.Permanent(err)
		}
		if h, ok := p.cfg.Registry.Lookup(t.Type); ok {
			if v, ok := h.(archivist.InputValidator); ok {
				if err := v.ValidateInput(in); err != nil {
					return nil, archivist.Permanent(fmt.Errorf("invalid input for %s once its $refs were resolved: %w", t.Type, err))
				}
			}
		}
		job.Task.Input = in
	}
	job.SetAddSteps(func(ctx context.Context, specs []archivist.WorkflowStepSpec) error {
		cur, err := store.GetWorkflow(ctx, t.WorkflowID)
		if err != nil {
			return err
		}
		steps, tasks, err := archivist.NewWorkflowSteps(cur, t.StepKey, specs, p.cfg.Registry, p.cfg.Settings(), p.cfg.Env.Now())
		if err != nil {
			return err
		}
		w, err := store.AddWorkflowSteps(ctx, t.ID, t.Attempt, steps, tasks)
		if err != nil {
			return err
		}
		if !p.cfg.Settings().Enabled {
			// Nobody places tasks: the added steps that are ready run
			// here, as the steps this one releases will.
			var ready []string
			for _, s := range steps {
				if st := w.Step(s.Key); st != nil && st.Status == archivist.TaskPending && st.TaskID == s.TaskID {
					ready = append(ready, s.TaskID)
				}
			}
			p.RunLocal(ready...)
		}
		return nil
	})
	return job, nil
}

// parentResults reads the results of the steps that step t depends on, by
// key (its workflow's record, then each parent's task).
func (p *Pool) parentResults(ctx context.Context, t *archivist.Task) (map[string]json.RawMessage, error) {
	store := p.cfg.Store
	w, err := store.GetWorkflow(ctx, t.WorkflowID)
	if err != nil {
		if archivist.IsCode(err, archivist.CodeNotFound) {
			return nil, archivist.Permanent(fmt.Errorf("workflow %s of step %s is gone", t.WorkflowID, t.StepKey))
		}
		return nil, fmt.Errorf("read workflow %s: %w", t.WorkflowID, err)
	}
	step := w.Step(t.StepKey)
	if step == nil {
		return nil, archivist.Permanent(fmt.Errorf("workflow %s has no step %s", w.ID, t.StepKey))
	}
	results := make(map[string]json.RawMessage, len(step.DependsOn))
	for _, key := range step.DependsOn {
		parent := w.Step(key)
		if parent == nil {
			continue
		}
		pt, err := store.GetTask(ctx, parent.TaskID)
		if err != nil {
			if archivist.IsCode(err, archivist.CodeNotFound) {
				return nil, archivist.Permanent(fmt.Errorf("step %s: the task of parent step %s is gone", t.StepKey, key))
			}
			return nil, fmt.Errorf("read the result of step %s: %w", key, err)
		}
		if pt.Status == archivist.TaskCompleted {
			results[key] = pt.Result
		}
	}
	return results, nil
}

// runReleased runs here the steps that the completion of step t released,
// when distributed processing is off: nobody places tasks then, and a node
// runs the work it was given, which for a workflow includes what follows
// the steps it ran.
func (p *Pool) runReleased(ctx context.Context, t *archivist.Task) {
	w, err := p.cfg.Store.GetWorkflow(ctx, t.WorkflowID)
	if err != nil {
		p.cfg.Env.Logger.Warn("read the workflow to run the steps released here", "workflow", t.WorkflowID, "err", err)
		return
	}
	var ids []string
	for _, s := range w.Steps {
		if s.Status == archivist.TaskPending && slices.Contains(s.DependsOn, t.StepKey) {
			ids = append(ids, s.TaskID)
		}
	}
	p.RunLocal(ids...)
}
