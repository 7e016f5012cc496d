package graph

import (
	"context"
	"slices"
	"strings"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph/model"
)

// checkTaskType refuses, with BAD_USER_INPUT naming the known types, a task
// type this node does not accept. For a resume (pausedToo), a type the
// store has paused is known too, so that a type no node registers any more
// can still be resumed.
func (r *Resolver) checkTaskType(ctx context.Context, typ string, pausedToo bool) error {
	if _, ok := r.Registry.Lookup(typ); ok {
		return nil
	}
	if pausedToo {
		paused, err := r.Store.PausedTaskTypes(ctx)
		if err != nil {
			return err
		}
		if slices.Contains(paused, typ) {
			return nil
		}
	}
	return archivist.Errorf(archivist.CodeBadUserInput, "unknown task type %q; known types: %s",
		archivist.Clip(typ), strings.Join(r.Registry.Types(), ", "))
}

// taskTypeStates lists every type this node accepts, and any other type
// the store has paused, sorted, each with whether it is paused.
func (r *Resolver) taskTypeStates(ctx context.Context) ([]*model.TaskTypeState, error) {
	paused, err := r.Store.PausedTaskTypes(ctx)
	if err != nil {
		return nil, err
	}
	types := r.Registry.Types()
	for _, p := range paused {
		if !slices.Contains(types, p) {
			types = append(types, p)
		}
	}
	slices.Sort(types)
	out := make([]*model.TaskTypeState, len(types))
	for i, t := range types {
		out[i] = &model.TaskTypeState{Type: t, Paused: slices.Contains(paused, t)}
	}
	return out, nil
}
