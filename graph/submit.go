package graph

import (
	"context"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph/model"
	"github.com/rpg-archivist/archivist/tracing"
)

// newTasks validates submissions against the registry and the configured
// defaults and stores them, all or none. An invalid submission in a batch is
// named by its index.
func (r *Resolver) newTasks(ctx context.Context, inputs []*model.SubmitTaskInput) ([]*archivist.Task, error) {
	cfg, err := r.submitConfig(ctx)
	if err != nil {
		return nil, err
	}
	tasks := make([]*archivist.Task, len(inputs))
	// With tracing on, each task keeps the submission's span context: its
	// placement and attempts join the submitter's trace.
	trace := tracing.Parent(ctx)
	for i, in := range inputs {
		t, err := archivist.NewTask(taskSpec(in), r.Registry, cfg)
		if err != nil {
			if len(inputs) > 1 {
				return nil, archivist.Errorf(archivist.ErrorCodeOf(err), "inputs[%d]: %s", i, archivist.ErrorMessageOf(err))
			}
			return nil, err
		}
		t.Trace = trace
		tasks[i] = t
	}
	if err := r.Store.CreateTasks(ctx, tasks); err != nil {
		return nil, err
	}
	if r.OnSubmitted != nil {
		r.OnSubmitted(ctx, cfg, tasks)
	}
	return tasks, nil
}

// submitConfig is the configuration submissions are checked against: the
// node's applied one when it has one (Settings), else the store's.
func (r *Resolver) submitConfig(ctx context.Context) (archivist.Config, error) {
	if r.Settings != nil {
		if cfg, ok := r.Settings(); ok {
			return cfg, nil
		}
	}
	return r.config(ctx)
}
