package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
)

// Workflows of the Redis store: one HASH per workflow (<prefix>wf:<id>,
// see rediskeys.go and the Workflows section of lua/lib.lua) with its
// header (name, metadata, onFailure: packed here, never decoded in Lua),
// its state and one field per step, and the ZSET <prefix>workflows by
// Seq. lua/workflow.lua creates, cancels and retries workflows and adds
// steps; every script that ends a step's task applies StepEnded in its
// epilogue (wf_flush), so that a step's end, the steps it releases or
// cancels and the workflow's change are one atomic step.

// encodeWorkflowHeader is the part of w that never changes, as stored:
// MessagePack [name, metadata, onFailure], and its group when it has one.
func encodeWorkflowHeader(w *archivist.Workflow) []byte {
	b := make([]byte, 0, 16+len(w.Name)+len(w.Metadata)+len(w.OnFailure)+len(w.Group))
	n := 3
	if w.Group != "" {
		n = 4
	}
	b = appendMsgpackArray(b, n)
	b = appendMsgpackRaw(b, []byte(w.Name))
	b = appendMsgpackRaw(b, w.Metadata)
	b = appendMsgpackRaw(b, []byte(w.OnFailure))
	if w.Group != "" {
		b = appendMsgpackRaw(b, []byte(w.Group))
	}
	return b
}

// workflowStepField is a step's field in a workflow HASH: "s:" and its
// key, as lib.lua names it.
const workflowStepField = "s:"

// rawStep is one step as stored: its key and its packed [position,
// status, task id, dependencies...].
type rawStep struct {
	key    string
	packed []byte
}

// readWorkflowSteps reads the steps of an event or reply: an array of
// key, packed step, ...
func readWorkflowSteps(r *mpReader) []rawStep {
	n := r.arrayLen()
	if n%2 != 0 && r.err == nil {
		r.fail("workflow steps of %d items", n)
	}
	out := make([]rawStep, 0, n/2)
	for range n / 2 {
		key, packed := r.str(), r.raw()
		out = append(out, rawStep{key, packed})
	}
	return out
}

// decodeWorkflow builds workflow id from its stored header, state and
// steps (in any order: they are sorted by position).
func decodeWorkflow(id string, header, state []byte, steps []rawStep) (*archivist.Workflow, error) {
	if len(state) == 0 {
		return nil, fmt.Errorf("workflow %s: no state", id)
	}
	w := &archivist.Workflow{ID: id}
	// A workflow.updated event has no header (Event.Workflow).
	if len(header) > 0 {
		r := mpReader{b: header}
		n := r.arrayLen()
		if n < 3 && r.err == nil {
			r.fail("workflow header of %d items", n)
		}
		w.Name = r.str()
		if md := r.raw(); len(md) > 0 {
			w.Metadata = append(json.RawMessage(nil), md...)
		}
		w.OnFailure = archivist.WorkflowFailurePolicy(r.str())
		if n > 3 {
			w.Group = r.str()
		}
		if r.err != nil {
			return nil, fmt.Errorf("workflow %s header: %w", id, r.err)
		}
	}
	r := mpReader{b: state}
	n := r.arrayLen()
	if n < 6 && r.err == nil {
		r.fail("workflow state of %d items", n)
	}
	w.Status = archivist.WorkflowStatus(r.str())
	w.Error = r.str()
	w.CreatedAt, w.UpdatedAt, w.CompletedAt = timeOfMicros(r.int()), timeOfMicros(r.int()), timeOfMicros(r.int())
	w.Seq = uint64(r.int())
	if n > 6 {
		if p := archivist.WorkflowFailurePolicy(r.str()); p != "" {
			w.OnFailure = p
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("workflow %s state: %w", id, r.err)
	}
	// Positions run from 1 to the number of steps: each step goes to its
	// place (any other position sorts them).
	w.Steps = make([]archivist.WorkflowStep, len(steps))
	pos := make([]int64, len(steps))
	placed := true
	for i, s := range steps {
		r := mpReader{b: s.packed}
		n := r.arrayLen()
		if n < 4 && r.err == nil {
			r.fail("workflow step of %d items", n)
		}
		pos[i] = r.int()
		st := archivist.WorkflowStep{Key: s.key, Status: archivist.TaskStatus(knownString(r.raw())), TaskID: r.str(), AddedBy: r.str()}
		if n > 4 {
			st.DependsOn = make([]string, n-4)
			for k := range st.DependsOn {
				st.DependsOn[k] = r.str()
			}
		}
		if r.err != nil {
			return nil, fmt.Errorf("workflow %s step %s: %w", id, s.key, r.err)
		}
		if p := pos[i]; placed && p >= 1 && p <= int64(len(steps)) && w.Steps[p-1].Key == "" {
			w.Steps[p-1] = st
			continue
		}
		placed = false
		w.Steps[i] = st
	}
	if !placed {
		return decodeWorkflowSorted(w, steps, pos)
	}
	return w, nil
}

// decodeWorkflowSorted orders w's steps by position when they are not
// 1 to n (decodeWorkflow could not place them): it decodes them again in
// that order.
func decodeWorkflowSorted(w *archivist.Workflow, steps []rawStep, pos []int64) (*archivist.Workflow, error) {
	idx := make([]int, len(steps))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return pos[idx[a]] < pos[idx[b]] })
	w.Steps = w.Steps[:0]
	for _, i := range idx {
		r := mpReader{b: steps[i].packed}
		n := r.arrayLen()
		r.int()
		st := archivist.WorkflowStep{Key: steps[i].key, Status: archivist.TaskStatus(knownString(r.raw())), TaskID: r.str(), AddedBy: r.str()}
		for range n - 4 {
			st.DependsOn = append(st.DependsOn, r.str())
		}
		if r.err != nil {
			return nil, fmt.Errorf("workflow %s step %s: %w", w.ID, steps[i].key, r.err)
		}
		w.Steps = append(w.Steps, st)
	}
	return w, nil
}

// decodeWorkflowMap decodes HGETALL of workflow id; nil when it is gone.
func decodeWorkflowMap(id string, m map[string]string) (*archivist.Workflow, error) {
	state, ok := m["s"]
	if !ok {
		return nil, nil
	}
	steps := make([]rawStep, 0, len(m)-2)
	for f, v := range m {
		if key, ok := strings.CutPrefix(f, workflowStepField); ok {
			steps = append(steps, rawStep{key, stringBytes(v)})
		}
	}
	return decodeWorkflow(id, stringBytes(m["h"]), stringBytes(state), steps)
}

// decodeWorkflowReply decodes a script's workflow {id, header, state,
// {key, step, ...}} (wf_reply in lib.lua).
func decodeWorkflowReply(v any) (*archivist.Workflow, error) {
	parts, ok := v.([]any)
	if !ok || len(parts) != 4 {
		return nil, fmt.Errorf("unexpected workflow reply %v", v)
	}
	head, err := replyStrings(parts[:3], 3)
	if err != nil {
		return nil, err
	}
	flat, err := replyStrings(parts[3], 0)
	if err != nil || len(flat)%2 != 0 {
		return nil, fmt.Errorf("unexpected workflow steps %v", parts[3])
	}
	steps := make([]rawStep, 0, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		steps = append(steps, rawStep{flat[i], stringBytes(flat[i+1])})
	}
	return decodeWorkflow(head[0], stringBytes(head[1]), stringBytes(head[2]), steps)
}

// appendStepArgs appends the ARGV of steps (and their tasks) of
// workflow.lua: key, how many dependencies, their keys, the task's create
// ARGV.
func appendStepArgs(args []any, steps []archivist.WorkflowStep, tasks []*archivist.Task) []any {
	for i, s := range steps {
		t := tasks[i]
		args = append(args, s.Key, len(s.DependsOn))
		for _, d := range s.DependsOn {
			args = append(args, d)
		}
		args = appendCreateArgs(args, t.ID, t)
	}
	return args
}

// evalWorkflow runs one change of workflow.lua and decodes its reply: the
// workflow, and for a change that creates tasks the time and the Seq
// before the first.
func (r *Redis) evalWorkflow(ctx context.Context, op string, args ...any) (*archivist.Workflow, time.Time, uint64, error) {
	res, err := r.eval(ctx, op, luaScripts.workflow, args...)
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	rep, ok := res.([]any)
	if !ok || (len(rep) != 1 && len(rep) != 3) {
		return nil, time.Time{}, 0, fmt.Errorf("redis store: %s: unexpected reply %v", op, res)
	}
	w, err := decodeWorkflowReply(rep[0])
	if err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("redis store: %s: %w", op, err)
	}
	if len(rep) == 1 {
		return w, time.Time{}, 0, nil
	}
	head, err := replyStrings(rep[1:], 2)
	if err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("redis store: %s: %w", op, err)
	}
	at, err := parseMicros(head[0])
	if err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("redis store: %s: %w", op, err)
	}
	base, err := strconv.ParseUint(head[1], 10, 64)
	if err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("redis store: %s: %w", op, err)
	}
	return w, at, base, nil
}

// fillStepTasks fills the tasks created for steps from the stored
// workflow w: tasks whose step w lists with their id got Seqs from base+1
// on, in order.
func fillStepTasks(w *archivist.Workflow, steps []archivist.WorkflowStep, tasks []*archivist.Task, at time.Time, base uint64) {
	next := base
	for i, s := range steps {
		t := tasks[i]
		st := w.Step(s.Key)
		if st == nil || st.TaskID != t.ID {
			continue // skipped: the step existed
		}
		next++
		t.Seq, t.Status = next, st.Status
		t.CreatedAt, t.UpdatedAt = at, at
		t.WorkflowID, t.StepKey = w.ID, s.Key
		t.RunAt, t.Delay, t.OnDuplicate = time.Time{}, 0, ""
	}
}

// CreateWorkflow stores w and its steps' tasks in one script
// (workflow.lua).
func (r *Redis) CreateWorkflow(ctx context.Context, w *archivist.Workflow, tasks []*archivist.Task) error {
	if err := checkWorkflowIn(w, tasks); err != nil {
		return err
	}
	policy := w.OnFailure
	if policy == "" {
		policy = archivist.FailFast
	}
	c := *w
	c.OnFailure = policy
	args := make([]any, 0, 5+len(tasks)*(3+createArgs))
	args = append(args, "create", w.ID, encodeWorkflowHeader(&c), string(policy), len(tasks))
	args = appendStepArgs(args, w.Steps, tasks)
	got, at, base, err := r.evalWorkflow(ctx, "create workflow", args...)
	if err != nil {
		return err
	}
	fillStepTasks(got, w.Steps, tasks, at, base)
	*w = *got
	return nil
}

// GetWorkflow reads one workflow HASH.
func (r *Redis) GetWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	if err := r.read(); err != nil {
		return nil, err
	}
	m, err := r.client.HGetAll(ctx, r.keys.workflow(id)).Result()
	if err != nil {
		return nil, r.mapErr("get workflow", err)
	}
	w, err := decodeWorkflowMap(id, m)
	if err != nil {
		return nil, fmt.Errorf("redis store: get workflow: %w", err)
	}
	if w == nil {
		return nil, notFound("workflow", id)
	}
	return w, nil
}

// ListWorkflows pages the workflows newest first from their index by Seq.
// Without a filter it reads one page; with one it walks the index in
// chunks, reading each workflow's header and state to filter on
// (WorkflowFilter.Matches), and then the page's workflows whole.
func (r *Redis) ListWorkflows(ctx context.Context, q archivist.WorkflowQuery) (*archivist.WorkflowPage, error) {
	if err := r.read(); err != nil {
		return nil, err
	}
	first, after, err := pageArgs(q.First, q.After)
	if err != nil {
		return nil, err
	}
	index := r.keys.key(redisKeyWorkflows)
	page := &archivist.WorkflowPage{}
	var ids []string
	if len(q.Status) == 0 && q.Search == "" {
		max := "+inf"
		if after != 0 {
			max = "(" + strconv.FormatUint(after, 10)
		}
		pipe := r.client.Pipeline()
		card := pipe.ZCard(ctx, index)
		rng := pipe.ZRevRangeByScore(ctx, index, &redis.ZRangeBy{Max: max, Min: "-inf", Count: int64(first) + 1})
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, r.mapErr("list workflows", err)
		}
		page.TotalCount = int(card.Val())
		ids = rng.Val()
		if len(ids) > first {
			ids, page.HasNext = ids[:first], true
		}
	} else {
		var err error
		if ids, err = r.scanWorkflows(ctx, q.WorkflowFilter, after, first, page); err != nil {
			return nil, err
		}
	}
	if len(ids) > 0 {
		pipe := r.client.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(ids))
		for i, id := range ids {
			cmds[i] = pipe.HGetAll(ctx, r.keys.workflow(id))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, r.mapErr("list workflows", err)
		}
		for i, c := range cmds {
			w, err := decodeWorkflowMap(ids[i], c.Val())
			if err != nil {
				return nil, fmt.Errorf("redis store: list workflows: %w", err)
			}
			if w != nil {
				page.Workflows = append(page.Workflows, w)
			}
		}
	}
	if n := len(page.Workflows); n > 0 {
		page.EndCursor = strconv.FormatUint(page.Workflows[n-1].Seq, 10)
	}
	return page, nil
}

// scanWorkflows walks the workflows newest first, counts those f selects
// into page, and returns the ids of the page's.
func (r *Redis) scanWorkflows(ctx context.Context, f archivist.WorkflowFilter, after uint64, first int, page *archivist.WorkflowPage) ([]string, error) {
	index := r.keys.key(redisKeyWorkflows)
	var out []string
	cursor := "+inf"
	for {
		chunk, err := r.client.ZRevRangeByScoreWithScores(ctx, index,
			&redis.ZRangeBy{Max: cursor, Min: "-inf", Count: redisScanChunk}).Result()
		if err != nil {
			return nil, r.mapErr("list workflows", err)
		}
		if len(chunk) == 0 {
			return out, nil
		}
		pipe := r.client.Pipeline()
		cmds := make([]*redis.SliceCmd, len(chunk))
		for i, z := range chunk {
			cmds[i] = pipe.HMGet(ctx, r.keys.workflow(z.Member.(string)), "h", "s")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, r.mapErr("list workflows", err)
		}
		for i, z := range chunk {
			id := z.Member.(string)
			v := cmds[i].Val()
			if len(v) != 2 || v[1] == nil {
				continue // purged meanwhile
			}
			header, _ := v[0].(string)
			state, _ := v[1].(string)
			w, err := decodeWorkflow(id, stringBytes(header), stringBytes(state), nil)
			if err != nil {
				return nil, fmt.Errorf("redis store: list workflows: %w", err)
			}
			if !f.Matches(w) {
				continue
			}
			page.TotalCount++
			if after != 0 && uint64(z.Score) >= after {
				continue
			}
			if len(out) < first {
				out = append(out, id)
			} else {
				page.HasNext = true
			}
		}
		if len(chunk) < redisScanChunk {
			return out, nil
		}
		cursor = "(" + strconv.FormatFloat(chunk[len(chunk)-1].Score, 'f', -1, 64)
	}
}

// CancelWorkflow cancels a RUNNING workflow and its unfinished steps in one
// script.
func (r *Redis) CancelWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	w, _, _, err := r.evalWorkflow(ctx, "cancel workflow", "cancel", id)
	return w, err
}

// RetryWorkflow runs again the steps of an ended workflow that did not
// complete, in one script.
func (r *Redis) RetryWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	w, _, _, err := r.evalWorkflow(ctx, "retry workflow", "retry", id)
	return w, err
}

// AddWorkflowSteps adds steps to the workflow of task id on behalf of its
// running attempt, in one script.
func (r *Redis) AddWorkflowSteps(ctx context.Context, id string, attempt int, steps []archivist.WorkflowStep, tasks []*archivist.Task) (*archivist.Workflow, error) {
	if len(steps) != len(tasks) {
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "%d steps and %d tasks", len(steps), len(tasks))
	}
	for i, t := range tasks {
		if t == nil || t.ID == "" || t.ID != steps[i].TaskID || t.StepKey != steps[i].Key {
			return nil, archivist.Errorf(archivist.CodeBadUserInput, "step %d and its task do not match", i)
		}
	}
	args := make([]any, 0, 4+len(tasks)*(3+createArgs))
	args = append(args, "add", id, attempt, len(steps))
	args = appendStepArgs(args, steps, tasks)
	w, at, base, err := r.evalWorkflow(ctx, "add workflow steps", args...)
	if err != nil {
		return nil, err
	}
	fillStepTasks(w, slices.Clone(steps), tasks, at, base)
	return w, nil
}
