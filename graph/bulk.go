package graph

import (
	"context"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph/model"
)

// bulkTasks runs a bulk operation (cancelTasks, retryTasks, deleteTasks)
// over every task filter matches, a batch at a time (archivist.BulkTasks),
// and returns how many tasks it changed. It stops when the request ends
// (the client went away, or the server shuts down): what was changed by
// then stays changed, and the error says the request was cut short.
func (r *mutationResolver) bulkTasks(ctx context.Context, filter model.TaskFilter, pre func(*archivist.Task) bool, op archivist.BulkOp) (int, error) {
	f := taskFilter(&filter)
	if err := checkTaskFilter(f); err != nil {
		return 0, err
	}
	n, err := archivist.BulkTasks(ctx, r.Store, f, pre, op)
	if err != nil && ctx.Err() != nil {
		return n, archivist.Errorf(archivist.CodeUnavailable, "the request ended after %d tasks were changed: %v", n, ctx.Err())
	}
	return n, err
}

// checkTaskFilter refuses a filter of the API out of bounds: a node id not
// well formed, too many ids.
func checkTaskFilter(f archivist.TaskFilter) error {
	if f.NodeID != "" {
		if err := archivist.CheckNodeID(f.NodeID); err != nil {
			return err
		}
	}
	if len(f.IDs) > archivist.MaxBulkBatch {
		return archivist.Errorf(archivist.CodeBadUserInput, "a filter names %d ids; at most %d", len(f.IDs), archivist.MaxBulkBatch)
	}
	return nil
}
