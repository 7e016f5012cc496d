package store

import (
	"context"
	"time"

	"github.com/rpg-archivist/archivist"
)

// purgeCut is the cutoff of PurgeFinished for a task that ended in status:
// failures are kept longer (or shorter) than the others.
func purgeCut(status archivist.TaskStatus, before, failedBefore time.Time) time.Time {
	if status == archivist.TaskFailed || status == archivist.TaskTimedOut {
		return failedBefore
	}
	return before
}

func (e *engine) CancelTasks(ctx context.Context, ids []string) (int, error) {
	return e.bulk(ctx, ids, archivist.BulkCancellable, func(tx *tx, old *archivist.Task) {
		e.cancel(tx, old, "cancelled before it ran")
	})
}

func (e *engine) RetryTasks(ctx context.Context, ids []string) (int, error) {
	return e.bulk(ctx, ids, archivist.BulkRetryable, func(tx *tx, old *archivist.Task) {
		retry(tx, old)
	})
}

func (e *engine) DeleteTasks(ctx context.Context, ids []string) (int, error) {
	return e.bulk(ctx, ids, archivist.BulkDeletable, func(tx *tx, old *archivist.Task) {
		tx.deleteTask(old)
	})
}

// bulk applies fn to the tasks among ids that ok accepts, in one
// transition, and returns how many it changed.
func (e *engine) bulk(ctx context.Context, ids []string, ok func(*archivist.Task) bool, fn func(*tx, *archivist.Task)) (int, error) {
	n := 0
	err := e.update(ctx, func(tx *tx) error {
		n = 0
		for _, id := range ids {
			// A repeated id finds the task as the first change left it.
			if old := e.tasks[id]; old != nil && ok(old) {
				fn(tx, old)
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
