package store

import (
	"context"
	"fmt"
)

// CancelTasks cancels the unfinished tasks among ids in one script.
func (r *Redis) CancelTasks(ctx context.Context, ids []string) (int, error) {
	return r.bulk(ctx, "cancel", ids)
}

// RetryTasks retries the failed, cancelled and timed-out tasks among ids
// (not workflow steps) in one script.
func (r *Redis) RetryTasks(ctx context.Context, ids []string) (int, error) {
	return r.bulk(ctx, "retry", ids)
}

// DeleteTasks removes the finished tasks among ids (not workflow steps) in
// one script.
func (r *Redis) DeleteTasks(ctx context.Context, ids []string) (int, error) {
	return r.bulk(ctx, "delete", ids)
}

func (r *Redis) bulk(ctx context.Context, op string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, r.read()
	}
	args := make([]any, 0, 1+len(ids))
	args = append(args, op)
	for _, id := range ids {
		args = append(args, id)
	}
	res, err := r.eval(ctx, op+" tasks", luaScripts.bulk, args...)
	if err != nil {
		return 0, err
	}
	n, ok := res.(int64)
	if !ok {
		return 0, fmt.Errorf("redis store: %s tasks: unexpected reply %v", op, res)
	}
	return int(n), nil
}
