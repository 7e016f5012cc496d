package client

import "context"

// CountTasks returns how many tasks f matches (the tasks query's
// totalCount, without reading any task).
func (c *Client) CountTasks(ctx context.Context, f Filter) (int, error) {
	var out struct{ Tasks struct{ TotalCount int } }
	err := c.Do(ctx, `query($f: TaskFilter) { tasks(filter: $f, first: 0) { totalCount } }`, map[string]any{"f": f}, &out)
	return out.Tasks.TotalCount, err
}

// CancelTasks cancels every unfinished task f matches (running ones are
// asked to stop) and returns how many it cancelled. It needs an operator
// key.
func (c *Client) CancelTasks(ctx context.Context, f Filter) (int, error) {
	return c.bulk(ctx, "cancelTasks", f)
}

// RetryTasks puts every FAILED, CANCELLED or TIMED_OUT task f matches back
// in the queue (workflow steps are left out: retry their workflow) and
// returns how many. It needs an operator key.
func (c *Client) RetryTasks(ctx context.Context, f Filter) (int, error) {
	return c.bulk(ctx, "retryTasks", f)
}

// DeleteTasks deletes every finished task f matches (workflow steps are
// left out) and returns how many. It needs an admin key.
func (c *Client) DeleteTasks(ctx context.Context, f Filter) (int, error) {
	return c.bulk(ctx, "deleteTasks", f)
}

func (c *Client) bulk(ctx context.Context, op string, f Filter) (int, error) {
	var out map[string]int
	err := c.Do(ctx, `mutation($f: TaskFilter!) { `+op+`(filter: $f) }`, map[string]any{"f": f}, &out)
	return out[op], err
}

// Statuses each bulk operation acts on: a filter narrowed to them (see
// BulkStatuses) counts what the operation would change.
var (
	unfinishedStatuses = []string{"SCHEDULED", "WAITING", "PENDING", "ASSIGNED", "IN_PROGRESS", "RETRYING"}
	retryableStatuses  = []string{"FAILED", "CANCELLED", "TIMED_OUT"}
	finishedStatuses   = []string{"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}
)

// BulkStatuses narrows statuses (a filter's; none: any) to those the bulk
// operation op ("cancel", "retry" or "delete") acts on, keeping their
// order, so that a count of the narrowed filter is how many tasks the
// operation would change (give or take workflow steps, which retry and
// delete leave out). An empty result means it would change none.
func BulkStatuses(op string, statuses []string) []string {
	var applies []string
	switch op {
	case "cancel":
		applies = unfinishedStatuses
	case "retry":
		applies = retryableStatuses
	default:
		applies = finishedStatuses
	}
	if len(statuses) == 0 {
		return append([]string(nil), applies...)
	}
	var out []string
	for _, s := range statuses {
		for _, a := range applies {
			if s == a {
				out = append(out, s)
				break
			}
		}
	}
	return out
}
