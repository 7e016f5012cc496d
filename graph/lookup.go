package graph

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rpg-archivist/archivist"
)

// lookups memoises, for one response, the reads that many objects of a
// response share: the configuration and the leadership lease (for the status
// and isLeader of every node) and the nodes that tasks point to. Without it a
// list of n nodes would read the store 2n times; over Redis each read is a
// round trip. One response of a subscription is one event, so a long-lived
// subscription never sees a stale value for longer than one event.
//
// The clock is read once too, so that every node of a response is judged at
// the same instant.
type lookups struct {
	now time.Time

	mu        sync.Mutex
	cfg       *archivist.Config
	lease     *archivist.Lease
	nodes     map[string]*archivist.Node // nil value: not found
	nodeCalls map[string]*nodeCall
	steps     *stepTasks
	workflows map[string]*workflowCall
}

// nodeCall is one GetNode in flight, shared by the resolvers that ask for
// the same node at the same time.
type nodeCall struct {
	done chan struct{}
	node *archivist.Node
	err  error
}

type lookupsKey struct{}

// withLookups returns ctx with a fresh memo for one response.
func (r *Resolver) withLookups(ctx context.Context) context.Context {
	return context.WithValue(ctx, lookupsKey{}, &lookups{now: r.clock()})
}

func lookupsFrom(ctx context.Context) *lookups {
	l, _ := ctx.Value(lookupsKey{}).(*lookups)
	return l
}

func (r *Resolver) clock() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// now is the instant the current response is computed at.
func (r *Resolver) now(ctx context.Context) time.Time {
	if l := lookupsFrom(ctx); l != nil {
		return l.now
	}
	return r.clock()
}

func (r *Resolver) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Resolver) events() EventSource {
	if r.Events != nil {
		return r.Events
	}
	return r.Store
}

// config returns the stored configuration, read once per response.
func (r *Resolver) config(ctx context.Context) (archivist.Config, error) {
	l := lookupsFrom(ctx)
	if l == nil {
		return r.Store.Config(ctx)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg == nil {
		cfg, err := r.Store.Config(ctx)
		if err != nil {
			return cfg, err
		}
		l.cfg = &cfg
	}
	return *l.cfg, nil
}

// leader returns the leadership lease, read once per response.
func (r *Resolver) leader(ctx context.Context) (archivist.Lease, error) {
	l := lookupsFrom(ctx)
	if l == nil {
		return r.Store.Leader(ctx)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lease == nil {
		lease, err := r.Store.Leader(ctx)
		if err != nil {
			return lease, err
		}
		l.lease = &lease
	}
	return *l.lease, nil
}

// nodeOrNil returns the node with id, or nil when the store has none, read
// once per response and id. Concurrent callers for one id share one read.
func (r *Resolver) nodeOrNil(ctx context.Context, id string) (*archivist.Node, error) {
	l := lookupsFrom(ctx)
	if l == nil {
		return r.getNode(ctx, id)
	}
	l.mu.Lock()
	if n, ok := l.nodes[id]; ok {
		l.mu.Unlock()
		return n, nil
	}
	if c, ok := l.nodeCalls[id]; ok {
		l.mu.Unlock()
		select {
		case <-c.done:
			return c.node, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &nodeCall{done: make(chan struct{})}
	if l.nodeCalls == nil {
		l.nodeCalls = map[string]*nodeCall{}
	}
	l.nodeCalls[id] = c
	l.mu.Unlock()

	c.node, c.err = r.getNode(ctx, id)
	l.mu.Lock()
	delete(l.nodeCalls, id)
	if c.err == nil {
		if l.nodes == nil {
			l.nodes = map[string]*archivist.Node{}
		}
		l.nodes[id] = c.node
	}
	l.mu.Unlock()
	close(c.done)
	return c.node, c.err
}

func (r *Resolver) getNode(ctx context.Context, id string) (*archivist.Node, error) {
	n, err := r.Store.GetNode(ctx, id)
	if archivist.IsCode(err, archivist.CodeNotFound) {
		return nil, nil
	}
	return n, err
}

// rememberConfig records the configuration a mutation stored, so that the
// fields after it in the same response see it.
func rememberConfig(ctx context.Context, cfg archivist.Config) {
	if l := lookupsFrom(ctx); l != nil {
		l.mu.Lock()
		l.cfg = &cfg
		l.mu.Unlock()
	}
}

// forgetNode records that a mutation removed the node with id.
func forgetNode(ctx context.Context, id string) {
	if l := lookupsFrom(ctx); l != nil {
		l.mu.Lock()
		if l.nodes == nil {
			l.nodes = map[string]*archivist.Node{}
		}
		l.nodes[id] = nil
		l.mu.Unlock()
	}
}

// rememberNodes records nodes already read (by nodes, say) or changed (by a
// mutation), so that the fields of the same response that point to them do
// not read them again, and see them as changed.
func rememberNodes(ctx context.Context, nodes ...*archivist.Node) {
	l := lookupsFrom(ctx)
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.nodes == nil {
		l.nodes = make(map[string]*archivist.Node, len(nodes))
	}
	for _, n := range nodes {
		if n != nil {
			l.nodes[n.ID] = n
		}
	}
}

// stepTasks memoises, for one response, the tasks of workflow steps. The
// steps of a workflow are read together, a page of ListTasks (filtered by
// the workflow) at a time, the first time a response asks for the task of
// one of them: a workflow of 1,000 steps costs two reads, not 1,000.
type stepTasks struct {
	mu       sync.Mutex
	workflow map[string]string // task id -> id of the workflow it is a step of
	tasks    map[string]*archivist.Task
	loads    map[string]*workflowLoad // by workflow id
}

// workflowLoad is the read of one workflow's tasks, shared by its steps.
type workflowLoad struct {
	done chan struct{}
	err  error
}

type stepTasksKey struct{}

// rememberSteps records that the steps of w belong to it, so that their
// tasks are read together (stepTask).
func rememberSteps(ctx context.Context, w *archivist.Workflow) {
	l := lookupsFrom(ctx)
	if l == nil || w == nil {
		return
	}
	st := l.stepTasks()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, s := range w.Steps {
		st.workflow[s.TaskID] = w.ID
	}
}

func (l *lookups) stepTasks() *stepTasks {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.steps == nil {
		l.steps = &stepTasks{workflow: map[string]string{}, tasks: map[string]*archivist.Task{}, loads: map[string]*workflowLoad{}}
	}
	return l.steps
}

// stepTask returns the task with id of a workflow step, or nil when the
// store no longer has it (removed after retention).
func (r *Resolver) stepTask(ctx context.Context, id string) (*archivist.Task, error) {
	l := lookupsFrom(ctx)
	if l == nil {
		return r.taskOrNil(ctx, id)
	}
	st := l.stepTasks()
	st.mu.Lock()
	if t, ok := st.tasks[id]; ok {
		st.mu.Unlock()
		return t, nil
	}
	wid, ok := st.workflow[id]
	if !ok {
		st.mu.Unlock()
		return r.taskOrNil(ctx, id)
	}
	load, loading := st.loads[wid]
	if !loading {
		load = &workflowLoad{done: make(chan struct{})}
		st.loads[wid] = load
	}
	st.mu.Unlock()

	if !loading {
		tasks, err := r.workflowTasks(ctx, wid)
		st.mu.Lock()
		load.err = err
		for _, t := range tasks {
			st.tasks[t.ID] = t
		}
		st.mu.Unlock()
		close(load.done)
	}
	select {
	case <-load.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if load.err != nil {
		return nil, load.err
	}
	st.mu.Lock()
	t := st.tasks[id]
	st.mu.Unlock()
	return t, nil
}

// workflowTasks reads every task of a workflow, a page at a time.
func (r *Resolver) workflowTasks(ctx context.Context, workflowID string) ([]*archivist.Task, error) {
	q := archivist.TaskQuery{TaskFilter: archivist.TaskFilter{WorkflowID: workflowID}, First: maxPageSize}
	var all []*archivist.Task
	// A workflow has at most MaxWorkflowSteps tasks: bound the pages read
	// all the same, should a store's cursor not move.
	for range archivist.MaxWorkflowSteps/maxPageSize + 2 {
		page, err := r.Store.ListTasks(ctx, q)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Tasks...)
		if !page.HasNext || len(page.Tasks) == 0 {
			break
		}
		q.After = page.EndCursor
		if q.After == "" {
			q.After = taskCursor(page.Tasks[len(page.Tasks)-1])
		}
	}
	return all, nil
}

// taskOrNil returns the task with id, or nil when the store has none.
func (r *Resolver) taskOrNil(ctx context.Context, id string) (*archivist.Task, error) {
	t, err := r.Store.GetTask(ctx, id)
	if archivist.IsCode(err, archivist.CodeNotFound) {
		return nil, nil
	}
	return t, err
}

// workflowCall is one GetWorkflow of a response, shared by the tasks that
// are steps of the same workflow.
type workflowCall struct {
	done chan struct{}
	w    *archivist.Workflow
	err  error
}

// taskWorkflow returns the workflow with id (nil when the store has none),
// read once per response: a page of steps of one workflow reads it once.
func (r *Resolver) taskWorkflow(ctx context.Context, id string) (*archivist.Workflow, error) {
	l := lookupsFrom(ctx)
	if l == nil {
		return r.workflowOrNil(ctx, id)
	}
	l.mu.Lock()
	c, ok := l.workflows[id]
	if !ok {
		c = &workflowCall{done: make(chan struct{})}
		if l.workflows == nil {
			l.workflows = map[string]*workflowCall{}
		}
		l.workflows[id] = c
	}
	l.mu.Unlock()
	if !ok {
		c.w, c.err = r.workflowOrNil(ctx, id)
		close(c.done)
	}
	select {
	case <-c.done:
		return c.w, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
