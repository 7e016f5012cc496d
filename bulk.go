package archivist

import (
	"context"
	"slices"
)

// MaxBulkBatch is how many tasks one step of a bulk operation looks at and
// changes: BulkTasks hands a store's CancelTasks, RetryTasks or DeleteTasks
// at most this many ids at a time, so that a filter matching a million
// tasks holds the store for a batch at a time, never for all of them.
const MaxBulkBatch = 500

// BulkOp is one step of a bulk operation: a store's CancelTasks,
// RetryTasks or DeleteTasks.
type BulkOp func(ctx context.Context, ids []string) (int, error)

// BulkTasks applies op to every task f matches, newest first, a page of
// ListTasks (MaxBulkBatch tasks) at a time, and returns how many op
// changed. The pages follow a keyset cursor (the Seq of the last task
// seen), so a task that op moves out of the filter (cancelling the PENDING
// tasks of a filter on PENDING) is not met again and none that still
// matches is skipped; tasks submitted after the walk began are not met.
// pre, when set, narrows what op is given (e.g. leaving out workflow
// steps, which it would skip anyway). The walk stops when ctx ends,
// returning what was changed so far with ctx's error.
func BulkTasks(ctx context.Context, st Store, f TaskFilter, pre func(*Task) bool, op BulkOp) (int, error) {
	if len(f.IDs) > 0 {
		return bulkIDs(ctx, st, f, pre, op)
	}
	f.Status = slices.Clone(f.Status)
	q := TaskQuery{TaskFilter: f, First: MaxBulkBatch, SkipTotal: true}
	total := 0
	ids := make([]string, 0, MaxBulkBatch)
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		page, err := st.ListTasks(ctx, q)
		if err != nil {
			return total, err
		}
		ids = ids[:0]
		for _, t := range page.Tasks {
			if pre == nil || pre(t) {
				ids = append(ids, t.ID)
			}
		}
		if len(ids) > 0 {
			n, err := op(ctx, ids)
			total += n
			if err != nil {
				return total, err
			}
		}
		if !page.HasNext || page.EndCursor == "" {
			return total, nil
		}
		q.After = page.EndCursor
	}
}

// bulkIDs is BulkTasks of a filter with IDs: the tasks are read by id
// (unknown ids skipped), not searched for, and op gets those f matches, a
// batch at a time.
func bulkIDs(ctx context.Context, st Store, f TaskFilter, pre func(*Task) bool, op BulkOp) (int, error) {
	total := 0
	for ids := range slices.Chunk(slices.Compact(slices.Sorted(slices.Values(f.IDs))), MaxBulkBatch) {
		var batch []string
		for _, id := range ids {
			t, err := st.GetTask(ctx, id)
			if IsCode(err, CodeNotFound) {
				continue
			}
			if err != nil {
				return total, err
			}
			if f.Matches(t) && (pre == nil || pre(t)) {
				batch = append(batch, id)
			}
		}
		if len(batch) > 0 {
			n, err := op(ctx, batch)
			total += n
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// BulkCancellable reports whether CancelTasks would change t: unfinished,
// and not already asked to stop.
func BulkCancellable(t *Task) bool {
	return !t.Status.Terminal() && !(t.Status == TaskInProgress && t.CancelRequested)
}

// BulkRetryable reports whether RetryTasks would change t: FAILED,
// CANCELLED or TIMED_OUT, and not a workflow step.
func BulkRetryable(t *Task) bool {
	return t.WorkflowID == "" && (t.Status == TaskFailed || t.Status == TaskCancelled || t.Status == TaskTimedOut)
}

// BulkDeletable reports whether DeleteTasks would remove t: finished, and
// not a workflow step.
func BulkDeletable(t *Task) bool { return t.WorkflowID == "" && t.Status.Terminal() }
