package client

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Submit queues one task.
func (c *Client) Submit(ctx context.Context, spec TaskSpec) (*Task, error) {
	var out struct{ SubmitTask *Task }
	err := c.Do(ctx, `mutation($in: SubmitTaskInput!) { submitTask(input: $in) { `+taskFields+` } }`,
		map[string]any{"in": spec.vars()}, &out)
	return out.SubmitTask, err
}

// SubmitMany queues up to 1,000 tasks at once, all or none.
func (c *Client) SubmitMany(ctx context.Context, specs []TaskSpec) ([]*Task, error) {
	ins := make([]map[string]any, len(specs))
	for i, s := range specs {
		ins[i] = s.vars()
	}
	var out struct{ SubmitTasks []*Task }
	err := c.Do(ctx, `mutation($in: [SubmitTaskInput!]!) { submitTasks(inputs: $in) { `+taskFields+` } }`,
		map[string]any{"in": ins}, &out)
	return out.SubmitTasks, err
}

// Get returns a task; an unknown id gives an error with code NOT_FOUND.
func (c *Client) Get(ctx context.Context, id string) (*Task, error) {
	var out struct{ Task *Task }
	if err := c.Do(ctx, `query($id: ID!) { task(id: $id) { `+taskFields+` } }`, map[string]any{"id": id}, &out); err != nil {
		return nil, err
	}
	if out.Task == nil {
		return nil, &Error{Code: CodeNotFound, Message: fmt.Sprintf("task %q not found", id)}
	}
	return out.Task, nil
}

// List returns a page of tasks, newest first. first is the page size (0:
// the server's default); after is the EndCursor of the previous page.
func (c *Client) List(ctx context.Context, f Filter, first int, after string) (*TaskPage, error) {
	vars := map[string]any{"f": f}
	if first > 0 {
		vars["first"] = first
	}
	if after != "" {
		vars["after"] = after
	}
	var out struct {
		Tasks struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage bool
				EndCursor   *string
			}
			Edges []struct{ Node *Task }
		}
	}
	err := c.Do(ctx, `query($f: TaskFilter, $first: Int, $after: String) { tasks(filter: $f, first: $first, after: $after) {
		totalCount pageInfo { hasNextPage endCursor } edges { node { `+taskFields+` } } } }`, vars, &out)
	if err != nil {
		return nil, err
	}
	p := &TaskPage{TotalCount: out.Tasks.TotalCount, HasNext: out.Tasks.PageInfo.HasNextPage}
	if out.Tasks.PageInfo.EndCursor != nil {
		p.EndCursor = *out.Tasks.PageInfo.EndCursor
	}
	for _, e := range out.Tasks.Edges {
		p.Tasks = append(p.Tasks, e.Node)
	}
	return p, nil
}

// Cancel cancels a task (a running one is stopped).
func (c *Client) Cancel(ctx context.Context, id string) (*Task, error) {
	var out struct{ CancelTask *Task }
	err := c.Do(ctx, `mutation($id: ID!) { cancelTask(id: $id) { `+taskFields+` } }`, map[string]any{"id": id}, &out)
	return out.CancelTask, err
}

// Retry puts a FAILED, CANCELLED or TIMED_OUT task back in the queue.
func (c *Client) Retry(ctx context.Context, id string) (*Task, error) {
	var out struct{ RetryTask *Task }
	err := c.Do(ctx, `mutation($id: ID!) { retryTask(id: $id) { `+taskFields+` } }`, map[string]any{"id": id}, &out)
	return out.RetryTask, err
}

// TaskTypes lists the task types the cluster accepts.
func (c *Client) TaskTypes(ctx context.Context) ([]string, error) {
	var out struct{ TaskTypes []string }
	err := c.Do(ctx, `{ taskTypes }`, nil, &out)
	return out.TaskTypes, err
}

// ErrTaskFailed is wrapped by Wait's error when the task ended other than
// COMPLETED.
var ErrTaskFailed = errors.New("task did not complete")

// Wait follows a task until it finishes, calling onUpdate (if not nil) with
// each change, progress included, and returns its final state. Its
// subscription starts from the task's current state, on every
// (re)connection, so that nothing is missed. A task that ends other than COMPLETED is returned
// together with an error wrapping ErrTaskFailed.
func (c *Client) Wait(ctx context.Context, id string, onUpdate func(*Task)) (*Task, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var last *Task
	done := func(t *Task) (*Task, error, bool) {
		last = t
		if onUpdate != nil {
			onUpdate(t)
		}
		if !t.Finished() {
			return nil, nil, false
		}
		if t.Status != StatusCompleted {
			msg := t.Error
			if msg == "" {
				msg = "no error recorded"
			}
			return t, fmt.Errorf("%w: %s: %s", ErrTaskFailed, t.Status, msg), true
		}
		return t, nil, true
	}
	for attempt := 0; ; attempt++ {
		// current: the node sends the task as it is first (read after
		// the subscription is open, so no change in between is missed),
		// then each change; again after a reconnection.
		events, err := c.watch(ctx, `subscription($id: ID) { taskUpdated(id: $id, current: true) { `+taskFields+` } }`,
			map[string]any{"id": id}, "taskUpdated")
		if err != nil {
			if IsNotFound(err) || CodeOf(err) == CodeUnauthenticated || ctx.Err() != nil {
				return last, err
			}
			if attempt >= 5 {
				return last, err
			}
			if err := sleepCtx(ctx, backoff(attempt)); err != nil {
				return last, err
			}
			continue
		}
		for ev := range events.C {
			if ev.Task == nil {
				continue
			}
			if t, err, ok := done(ev.Task); ok {
				return t, err
			}
		}
		if ctx.Err() != nil {
			return last, ctx.Err()
		}
		attempt = 0 // it was connected: reconnect at once
	}
}

func backoff(attempt int) time.Duration {
	d := 200 * time.Millisecond << min(attempt, 5)
	return min(d, 5*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
