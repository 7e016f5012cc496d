package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/rpg-archivist/archivist"
)

// Limits of one create script call that carries several CreateTasks calls.
const (
	createBatch      = 500     // tasks
	createBatchBytes = 1 << 20 // bytes of their packed info, about
	// createInFlight is how many create script calls may be under way at
	// once: while one waits for its reply, the next batch is sent, so
	// that Redis is not idle for the round trips.
	createInFlight = 4
)

// creator sends CreateTasks calls with group commit (groupCommit), as the
// reporter does for reports: the calls queued meanwhile go in one create
// script call, up to createInFlight script calls under way at once. Each call
// stays all or nothing: the script is atomic for the whole batch, and when
// it refuses the batch (a task id that exists already), each call of it is
// sent again on its own, so that only the call at fault is refused.
type creator struct {
	r      *Redis
	commit groupCommit[*createReq]
}

// init sets the creator up for r.
func (c *creator) init(r *Redis) {
	c.r = r
	c.commit = groupCommit[*createReq]{maxFlushers: createInFlight, batchLen: createBatchLen, send: c.send}
}

// createBatchLen is how many of the queue's head calls go in one script
// call: at most createBatch tasks and createBatchBytes, but always one.
func createBatchLen(queue []*createReq) int {
	n, tasks, size := 0, 0, 0
	for n < len(queue) {
		q := queue[n]
		if n > 0 && (tasks+len(q.tasks) > createBatch || size+q.size > createBatchBytes) {
			break
		}
		tasks += len(q.tasks)
		size += q.size
		n++
	}
	return n
}

type createReq struct {
	ctx   context.Context
	tasks []*archivist.Task
	ids   []string
	args  []any // createArgs per task
	size  int
	done  chan error
}

// do queues one call and waits for its outcome.
func (c *creator) do(req *createReq) error {
	req.done = make(chan error, 1)
	c.commit.add(req)
	select {
	case err := <-req.done:
		return err
	case <-req.ctx.Done():
		// Sent or not, the tasks may still be created; the caller learns
		// that it does not know, as with any call cut short.
		return req.ctx.Err()
	}
}

func (c *creator) send(batch []*createReq) {
	live := batch[:0:0]
	for _, req := range batch {
		if err := req.ctx.Err(); err != nil {
			req.done <- err
			continue
		}
		live = append(live, req)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		req := live[0]
		req.done <- c.r.createNow(req.ctx, req.tasks, req.ids, req.args)
		return
	}
	var tasks []*archivist.Task
	var ids []string
	var args []any
	for _, req := range live {
		tasks = append(tasks, req.tasks...)
		ids = append(ids, req.ids...)
		args = append(args, req.args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), reportTimeout)
	defer cancel()
	err := c.r.createNow(ctx, tasks, ids, args)
	var refused *archivist.Error
	if err != nil && errors.As(err, &refused) && refused.Code != archivist.CodeUnavailable {
		// The script refused the batch, and created nothing: each call
		// again, on its own.
		for _, req := range live {
			req.done <- c.r.createNow(req.ctx, req.tasks, req.ids, req.args)
		}
		return
	}
	for _, req := range live {
		req.done <- err
	}
}

// createNow runs the create script for tasks (their ids and createArgs
// each) and fills them from its reply.
func (r *Redis) createNow(ctx context.Context, tasks []*archivist.Task, ids []string, perTask []any) error {
	args := make([]any, 0, 1+len(perTask))
	args = append(args, len(tasks))
	args = append(args, perTask...)
	res, last, err := r.evalSeq(ctx, "create tasks", luaScripts.create, args...)
	if err != nil {
		return err
	}
	rep, _ := res.([]any)
	if len(rep) == 0 {
		return fmt.Errorf("redis store: create tasks: unexpected script reply %v", res)
	}
	blob, _ := rep[0].(string)
	r.echoCreated(blob, last)
	if err := fillCreated(tasks, ids, rep[1:]); err != nil {
		return fmt.Errorf("redis store: create tasks: %w", err)
	}
	return nil
}

// echoCreated hands the events of a create call (blob, the last with Seq
// last) to this instance's subscribers when they have every event before
// them, as evalEvents does for the hot transitions; otherwise, as when
// concurrent creates reply out of order, it leaves them to the reader
// without decoding them (the reader decodes what it did not see
// published).
func (r *Redis) echoCreated(blob string, last uint64) {
	n := eventCount(blob)
	if n == 0 || uint64(n) > last {
		return
	}
	if !r.readerRunning() || r.bus.lastSeq()+1 != last-uint64(n)+1 {
		return
	}
	if evs, err := decodeEvents(blob, last); err == nil {
		r.bus.publishNext(evs)
	}
}
