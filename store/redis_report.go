package store

import (
	"context"
	"fmt"
	"time"

	"github.com/rpg-archivist/archivist"
)

// Limits of one report script call.
const (
	reportBatch      = 256     // reports
	reportBatchBytes = 1 << 20 // bytes of results and errors, about
	reportTimeout    = 30 * time.Second
)

// reporter records the outcomes of attempts (CompleteTask, FailTask) with
// group commit: a call queues its report, and one flusher at a time sends
// everything queued meanwhile in one script call (report.lua), each report
// checked and answered on its own. With one caller a report goes at once;
// with many, a busy worker pool shares round trips instead of queueing for
// them.
type reporter struct {
	r      *Redis
	commit groupCommit[*reportReq]
}

// init sets the reporter up for r: one script call under way at a time.
func (rp *reporter) init(r *Redis) {
	rp.r = r
	rp.commit = groupCommit[*reportReq]{maxFlushers: 1, batchLen: reportBatchLen, send: rp.send}
}

// reportBatchLen is how many of the queue's head go in one script call.
func reportBatchLen(queue []*reportReq) int {
	n, size := 0, 0
	for n < len(queue) && n < reportBatch && (n == 0 || size+queue[n].size <= reportBatchBytes) {
		size += queue[n].size
		n++
	}
	return n
}

type reportReq struct {
	ctx  context.Context
	op   string
	args []any
	size int
	done chan reportRes
}

type reportRes struct {
	task *archivist.Task
	err  error
}

// do queues one report (its kind and arguments, as report.lua reads them)
// and waits for its answer.
func (rp *reporter) do(ctx context.Context, op string, args []any) (*archivist.Task, error) {
	if rp.r.closed.Load() {
		return nil, errRedisClosed
	}
	size := 0
	for _, a := range args {
		switch v := a.(type) {
		case string:
			size += len(v)
		case []byte:
			size += len(v)
		}
	}
	req := &reportReq{ctx: ctx, op: op, args: args, size: size, done: make(chan reportRes, 1)}
	rp.commit.add(req)
	select {
	case res := <-req.done:
		return res.task, res.err
	case <-ctx.Done():
		// Sent or not, the report may still be recorded; the caller learns
		// that it does not know, as with any call cut short.
		return nil, ctx.Err()
	}
}

func (rp *reporter) send(batch []*reportReq) {
	live := batch[:0:0]
	for _, req := range batch {
		if err := req.ctx.Err(); err != nil {
			req.done <- reportRes{err: err}
			continue
		}
		live = append(live, req)
	}
	if len(live) == 0 {
		return
	}
	args := make([]any, 0, 1+11*len(live))
	args = append(args, len(live))
	for _, req := range live {
		args = append(args, req.args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), reportTimeout)
	defer cancel()
	evs, rest, err := rp.r.evalEvents(ctx, live[0].op, luaScripts.report, args...)
	if err != nil {
		for _, req := range live {
			req.done <- reportRes{err: err}
		}
		return
	}
	events := make([]*archivist.Task, len(evs))
	for i, ev := range evs {
		events[i] = ev.Task
	}
	var list []any
	if len(rest) == 1 {
		list, _ = rest[0].([]any)
	}
	for i, req := range live {
		switch {
		case err != nil:
			req.done <- reportRes{err: fmt.Errorf("redis store: %s: %w", req.op, err)}
		case i >= len(list):
			req.done <- reportRes{err: fmt.Errorf("redis store: %s: %d answers for %d reports", req.op, len(list), len(live))}
		default:
			req.done <- decodeReport(req.op, list[i], events)
		}
	}
}

// decodeReport turns one answer of report.lua into a result; events are
// the script's events, which answers point into.
func decodeReport(op string, v any, events []*archivist.Task) reportRes {
	item, _ := v.([]any)
	if len(item) != 2 {
		return reportRes{err: fmt.Errorf("redis store: %s: unexpected answer %v", op, v)}
	}
	code, _ := item[0].(int64)
	switch code {
	case 0:
		k, _ := item[1].(int64)
		if k < 1 || int(k) > len(events) || events[k-1] == nil {
			return reportRes{err: fmt.Errorf("redis store: %s: answer points to event %d of %d", op, k, len(events))}
		}
		return reportRes{task: events[k-1]}
	case 3:
		t, err := decodeSnapshot(item[1])
		if err != nil {
			err = fmt.Errorf("redis store: %s: %w", op, err)
		}
		return reportRes{task: t, err: err}
	case 1:
		msg, _ := item[1].(string)
		return reportRes{err: archivist.Errorf(archivist.CodeConflict, "%s", msg)}
	case 2:
		msg, _ := item[1].(string)
		return reportRes{err: archivist.Errorf(archivist.CodeNotFound, "%s", msg)}
	}
	return reportRes{err: fmt.Errorf("redis store: %s: unexpected answer %v", op, v)}
}
