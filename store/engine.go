package store

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/apq"
)

// Options configure Memory and Bolt. Zero values mean the defaults.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// EventHistory is how many recent events are kept for subscribers that
	// catch up (default 10,000).
	EventHistory int
	// SubscriberBuffer is how many events a subscriber may fall behind before
	// it is dropped (default 4,096).
	SubscriberBuffer int
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.EventHistory <= 0 {
		o.EventHistory = 10000
	}
	if o.SubscriberBuffer <= 0 {
		o.SubscriberBuffer = 4096
	}
	return o
}

// persister makes a batch of changes durable. It is called by the committer
// goroutine only, in order.
type persister interface {
	persist(batches []*batch) error
	close() error
}

// batch is the write set of one transition.
type batch struct {
	tasks       map[string]*archivist.Task // nil value: deleted
	nodes       map[string]*archivist.Node // nil value: deleted
	settings    map[string]archivist.NodeSettings
	schedules   map[string]*archivist.Schedule // nil value: deleted
	workflows   map[string]*archivist.Workflow // nil value: deleted
	events      []archivist.Event
	meta        meta
	metaChanged bool
	// stats are the statistics buckets changed up to this batch, set on
	// the last batch of a file transaction (see commitLoop).
	stats []statRecord
	done  chan error
}

// meta is the engine state besides tasks and nodes that must survive a
// restart.
type meta struct {
	TaskSeq  uint64 `json:"taskSeq"`
	EventSeq uint64 `json:"eventSeq"`
	// WorkflowSeq is the last workflow Seq.
	WorkflowSeq uint64           `json:"workflowSeq,omitempty"`
	Lease       archivist.Lease  `json:"lease"`
	Config      archivist.Config `json:"config"`
	HasConf     bool             `json:"hasConfig"`
	// Placed is the highest Turn placed so far, per priority rank (see
	// engine_fair.go).
	Placed [4]uint64 `json:"placed"`
	// Limits by ID and the paused task types (engine_limit.go): replaced,
	// never modified, when they change.
	Limits map[string]*archivist.Limit `json:"limits,omitempty"`
	Paused map[string]bool             `json:"paused,omitempty"`
}

// engine keeps the whole state in memory behind one mutex and, when it has
// a persister, hands every change to it before acknowledging.
type engine struct {
	opts Options
	bus  *bus

	mu    sync.Mutex
	tasks map[string]*archivist.Task
	order []readyEntry // task ids and Seqs, ascending; lazily pruned (see liveAt)
	ready *readyQueue
	due   dueQueue
	// unique maps a unique key to the newest task that took it (the task
	// holds it while Task.UniqueHeld).
	unique map[string]string
	leased map[string]time.Time
	byNode map[string]map[string]struct{}
	counts map[archivist.TaskStatus]int
	// groups counts the tasks of each named group by status
	// (engine_group.go; nil until the first grouped task).
	groups map[string]map[archivist.TaskStatus]int
	nodes  map[string]*archivist.Node
	// settings are the node settings by node id (nodesettings.go).
	settings map[string]archivist.NodeSettings
	meta     meta
	broken   error
	// fairLast is the last Turn given to each group, per priority rank
	// (engine_fair.go).
	fairLast map[fairKey]uint64
	// stats are the statistics rollups (engine_stats.go).
	stats rollups
	// schedules by name (engine_schedule.go; nil until the first one): a
	// stored schedule is never modified, only replaced.
	schedules map[string]*archivist.Schedule
	// workflows by id (engine_workflow.go; nil until the first one): a
	// stored workflow is never modified, only replaced.
	workflows map[string]*archivist.Workflow
	// lim is what limits and pauses count and hold (engine_limit.go).
	lim limitState

	// queries are the persisted GraphQL queries (querycache.go): memory
	// only, under their own lock.
	queries *apq.Memory

	persist  persister
	pending  []*batch
	wake     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
}

func newEngine(opts Options, p persister) *engine {
	opts = opts.withDefaults()
	e := &engine{
		opts:     opts,
		bus:      newBus(opts.EventHistory, opts.SubscriberBuffer),
		tasks:    map[string]*archivist.Task{},
		ready:    newReadyQueue(),
		unique:   map[string]string{},
		leased:   map[string]time.Time{},
		byNode:   map[string]map[string]struct{}{},
		counts:   map[archivist.TaskStatus]int{},
		nodes:    map[string]*archivist.Node{},
		settings: map[string]archivist.NodeSettings{},
		queries:  apq.NewMemory(engineQueryBytes),
		persist:  p,
		wake:     make(chan struct{}, 1),
		stopped:  make(chan struct{}),
	}
	e.stats.track = p != nil
	return e
}

// load puts a task read from disk back in memory with its indexes.
func (e *engine) load(t *archivist.Task) {
	e.loadTurn(t)
	e.index(nil, t)
	if t.UniqueKey != "" {
		if cur := e.tasks[e.unique[t.UniqueKey]]; cur == nil || cur.Seq < t.Seq {
			e.unique[t.UniqueKey] = t.ID
		}
	}
	e.tasks[t.ID] = t
	e.order = append(e.order, readyEntry{t.Seq, t.ID})
}

// finishLoad sorts what load added and starts the committer.
func (e *engine) finishLoad() {
	sort.Slice(e.order, func(i, j int) bool { return e.order[i].seq < e.order[j].seq })
	e.bus.setLast(e.meta.EventSeq)
	if e.persist != nil {
		go e.commitLoop()
	}
}

// index moves t from the indexes of its old version to those of its new one.
func (e *engine) index(old, t *archivist.Task) {
	if old != nil {
		e.counts[old.Status]--
		if old.Group != "" {
			e.countGroup(old.Group, old.Status, -1)
		}
		e.ready.remove(old.ID)
		if len(e.lim.heldIn) > 0 {
			e.unindexHeld(old.ID)
		}
		if isRunning(old.Status) {
			e.countSlots(old, -1)
		}
		delete(e.leased, old.ID)
		if old.NodeID != "" {
			if set := e.byNode[old.NodeID]; set != nil {
				delete(set, old.ID)
				if len(set) == 0 {
					delete(e.byNode, old.NodeID)
				}
			}
		}
	}
	if t == nil {
		return
	}
	e.counts[t.Status]++
	if t.Group != "" {
		e.countGroup(t.Group, t.Status, 1)
	}
	switch t.Status {
	case archivist.TaskPending:
		if t.HeldBy != "" {
			if e.indexHeld(t) {
				break
			}
			t.HeldBy = "" // what held it is gone (a store loaded after a change)
		}
		e.ready.add(t.Priority.Rank(), t.Turn, t.Seq, t.ID)
	case archivist.TaskScheduled, archivist.TaskRetrying:
		if old == nil || old.Status != t.Status || !old.RunAt.Equal(t.RunAt) {
			e.due.add(t)
		}
	case archivist.TaskAssigned, archivist.TaskInProgress:
		e.countSlots(t, 1)
		e.leased[t.ID] = t.LeaseUntil
		set := e.byNode[t.NodeID]
		if set == nil {
			set = map[string]struct{}{}
			e.byNode[t.NodeID] = set
		}
		set[t.ID] = struct{}{}
	}
}

// tx is one transition in progress. Functions given to update must check
// everything before their first put, so that an error leaves no change.
type tx struct {
	e   *engine
	now time.Time
	b   *batch
	// ended are the workflow steps that ended in this transition, wf the
	// workflows it changes (working copies, in wfOrder): see settleSteps.
	ended   []*archivist.Task
	wf      map[string]*archivist.Workflow
	wfOrder []string
}

func (tx *tx) putTask(old, t *archivist.Task) {
	t.UpdatedAt = tx.now
	if t.WorkflowID != "" && t.Status.Terminal() && (old == nil || !old.Status.Terminal()) {
		tx.noteEnded(t)
	}
	if t.Status == archivist.TaskPending {
		tx.e.nextTurn(t)
	} else {
		t.HeldBy = ""
	}
	tx.e.index(old, t)
	tx.e.tasks[t.ID] = t
	if old == nil {
		tx.e.order = append(tx.e.order, readyEntry{t.Seq, t.ID})
	}
	if tx.b.tasks == nil {
		tx.b.tasks = map[string]*archivist.Task{}
	}
	tx.b.tasks[t.ID] = t
	if old != nil && isRunning(old.Status) && !isRunning(t.Status) && len(tx.e.lim.held) > 0 {
		tx.slotsFreed(old)
	}
}

func (tx *tx) deleteTask(t *archivist.Task) {
	tx.e.index(t, nil)
	if t.UniqueKey != "" && tx.e.unique[t.UniqueKey] == t.ID {
		delete(tx.e.unique, t.UniqueKey)
	}
	delete(tx.e.tasks, t.ID)
	if tx.b.tasks == nil {
		tx.b.tasks = map[string]*archivist.Task{}
	}
	tx.b.tasks[t.ID] = nil
}

func (tx *tx) putNode(n *archivist.Node) {
	tx.e.nodes[n.ID] = n
	if tx.b.nodes == nil {
		tx.b.nodes = map[string]*archivist.Node{}
	}
	tx.b.nodes[n.ID] = n
}

func (tx *tx) deleteNode(id string) {
	delete(tx.e.nodes, id)
	if tx.b.nodes == nil {
		tx.b.nodes = map[string]*archivist.Node{}
	}
	tx.b.nodes[id] = nil
}

func (tx *tx) metaChanged() { tx.b.metaChanged = true }

// taskEvent records an event with a snapshot of t. The snapshot is shared by
// every subscriber: readers must not modify it.
func (tx *tx) taskEvent(typ archivist.EventType, t *archivist.Task, detail string) {
	tx.e.meta.EventSeq++
	tx.b.events = append(tx.b.events, archivist.Event{Seq: tx.e.meta.EventSeq, Kind: archivist.EventTask,
		Type: typ, Time: tx.now, Task: t, Detail: detail})
	tx.b.metaChanged = true
}

func (tx *tx) nodeEvent(typ archivist.EventType, n *archivist.Node, detail string) {
	tx.e.meta.EventSeq++
	tx.b.events = append(tx.b.events, archivist.Event{Seq: tx.e.meta.EventSeq, Kind: archivist.EventNode,
		Type: typ, Time: tx.now, Node: n, Detail: detail})
	tx.b.metaChanged = true
}

func (tx *tx) configEvent(c archivist.Config) {
	tx.e.meta.EventSeq++
	tx.b.events = append(tx.b.events, archivist.Event{Seq: tx.e.meta.EventSeq, Kind: archivist.EventConfig,
		Type: archivist.EventConfigUpdated, Time: tx.now, Config: &c})
	tx.b.metaChanged = true
}

// update runs fn as one atomic transition and returns once it is durable.
func (e *engine) update(ctx context.Context, fn func(tx *tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := e.apply(fn)
	if err != nil || b == nil {
		return err
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
	// Wait even if ctx ends: the change is already visible in memory, and the
	// caller must learn whether it became durable.
	return <-b.done
}

// apply runs fn under the lock. It returns the batch to wait for when the
// change goes to a persister, or nil when it is done (nothing changed, or
// no persister).
func (e *engine) apply(fn func(tx *tx) error) (*batch, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.broken != nil {
		return nil, e.broken
	}
	tx := &tx{e: e, now: e.opts.Now(), b: &batch{}}
	if err := fn(tx); err != nil {
		return nil, err
	}
	if len(tx.ended) > 0 || len(tx.wf) > 0 {
		tx.settleSteps()
	}
	b := tx.b
	if len(b.tasks) == 0 && len(b.nodes) == 0 && len(b.schedules) == 0 && len(b.workflows) == 0 && len(b.events) == 0 && !b.metaChanged {
		return nil, nil
	}
	if e.persist == nil {
		e.bus.publish(b.events)
		return nil, nil
	}
	b.meta = e.meta
	b.done = make(chan error, 1)
	e.pending = append(e.pending, b)
	return b, nil
}

// view runs fn under the lock without changing anything.
func (e *engine) view(fn func() error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.broken != nil {
		return e.broken
	}
	return fn()
}

// commitLoop writes pending batches in order, many per file transaction, and
// publishes their events once they are durable.
func (e *engine) commitLoop() {
	defer close(e.stopped)
	for range e.wake {
		e.mu.Lock()
		batches := e.pending
		e.pending = nil
		if len(batches) > 0 {
			batches[len(batches)-1].stats = e.stats.take()
		}
		e.mu.Unlock()
		if len(batches) == 0 {
			continue
		}
		err := e.persist.persist(batches)
		if err != nil {
			e.opts.Logger.Error("store write failed; the store refuses further changes", "err", err)
			e.mu.Lock()
			e.broken = archivist.Errorf(archivist.CodeInternal, "store write failed: %v", err)
			e.mu.Unlock()
		}
		for _, b := range batches {
			if err == nil {
				e.bus.publish(b.events)
			}
			b.done <- err
		}
	}
}

func (e *engine) close() error {
	var err error
	e.stopOnce.Do(func() {
		if e.persist != nil {
			close(e.wake)
			<-e.stopped
			err = e.persist.close()
		}
		e.mu.Lock()
		if e.broken == nil {
			e.broken = archivist.Errorf(archivist.CodeUnavailable, "the store is closed")
		}
		e.mu.Unlock()
		e.bus.close()
	})
	return err
}

func notFound(what, id string) error {
	return archivist.Errorf(archivist.CodeNotFound, "%s %q not found", what, archivist.Clip(id))
}

func (e *engine) task(id string) (*archivist.Task, error) {
	t, ok := e.tasks[id]
	if !ok {
		return nil, notFound("task", id)
	}
	return t, nil
}

// attemptTask returns the task if attempt is its current, running attempt.
func (e *engine) attemptTask(id string, attempt int) (*archivist.Task, error) {
	t, err := e.task(id)
	if err != nil {
		return nil, err
	}
	if t.Status != archivist.TaskInProgress || t.Attempt != attempt {
		return t, archivist.Errorf(archivist.CodeConflict,
			"stale attempt %d of task %s: the task is %s at attempt %d", attempt, id, t.Status, t.Attempt)
	}
	return t, nil
}

func (e *engine) checkLease(lease archivist.Lease, now time.Time) error {
	cur := e.meta.Lease
	if lease.Token == 0 || cur.Token != lease.Token || cur.Holder != lease.Holder || !now.Before(cur.Expires) {
		return archivist.Errorf(archivist.CodeConflict, "leadership token %d of %q is no longer current", lease.Token, lease.Holder)
	}
	return nil
}

// --- tasks ---

func (e *engine) CreateTasks(ctx context.Context, tasks []*archivist.Task) error {
	return e.update(ctx, func(tx *tx) error {
		seen := map[string]bool{}
		for _, t := range tasks {
			if t.ID == "" {
				continue
			}
			if _, ok := e.tasks[t.ID]; ok || seen[t.ID] {
				return archivist.Errorf(archivist.CodeConflict, "task %q already exists", t.ID)
			}
			seen[t.ID] = true
		}
		for _, in := range tasks {
			e.createTask(tx, in)
		}
		tx.metaChanged()
		return nil
	})
}

// createTask is CreateTasks for one task, inside a transition: a
// duplicate of a held unique key becomes the holder (Duplicate set) and
// changes nothing; otherwise the task is stored, PENDING or SCHEDULED, and
// takes its unique key (cancelling the holder with REPLACE). in is filled
// as CreateTasks says; its ID, when set, must be free.
func (e *engine) createTask(tx *tx, in *archivist.Task) {
	if in.UniqueKey != "" {
		if holder := e.tasks[e.unique[in.UniqueKey]]; holder != nil && holder.UniqueHeld(tx.now) {
			if in.OnDuplicate != archivist.DuplicateReplace {
				*in = *holder.Clone()
				in.Duplicate = true
				return
			}
			if !holder.Status.Terminal() {
				e.cancel(tx, holder, "replaced by a newer task with the same unique key")
			}
		}
	}
	if in.ID == "" {
		in.ID = archivist.NewID(tx.now)
	}
	e.meta.TaskSeq++
	in.Seq = e.meta.TaskSeq
	in.CreatedAt = tx.now
	if in.Delay > 0 {
		in.RunAt = tx.now.Add(in.Delay)
	}
	in.Status = archivist.TaskPending
	if in.RunAt.After(tx.now) {
		in.Status = archivist.TaskScheduled
	} else {
		in.RunAt = time.Time{}
	}
	in.Delay, in.OnDuplicate, in.Duplicate = 0, "", false
	in.Turn = 0
	t := in.Clone()
	tx.putTask(nil, t)
	in.UpdatedAt, in.Turn = t.UpdatedAt, t.Turn
	if t.UniqueKey != "" {
		e.unique[t.UniqueKey] = t.ID
	}
	tx.taskEvent(archivist.EventTaskCreated, t, "")
	tx.statSubmitted(t)
}

// pageArgs reads a page's size (default 50, at most 500) and cursor (the
// decimal Seq after which the page starts; 0 for none).
func pageArgs(first int, cursor string) (int, uint64, error) {
	if first <= 0 {
		first = 50
	}
	first = min(first, 500)
	if cursor == "" {
		return first, 0, nil
	}
	after, err := strconv.ParseUint(cursor, 10, 64)
	if err != nil {
		return 0, 0, archivist.Errorf(archivist.CodeBadUserInput, "invalid cursor %q", archivist.Clip(cursor))
	}
	return first, after, nil
}

func (e *engine) GetTask(ctx context.Context, id string) (*archivist.Task, error) {
	var out *archivist.Task
	err := e.view(func() error {
		t, err := e.task(id)
		out = t.Clone()
		return err
	})
	return out, err
}

func (e *engine) ListTasks(ctx context.Context, q archivist.TaskQuery) (*archivist.TaskPage, error) {
	first, after, err := pageArgs(q.First, q.After)
	if err != nil {
		return nil, err
	}
	page := &archivist.TaskPage{}
	// With no filter but statuses, the total comes from the counters and
	// the page from a walk back from the cursor; otherwise every task is
	// looked at for the total.
	statusOnly := q.StatusOnly()
	err = e.view(func() error {
		if len(e.order) > 2*len(e.tasks)+1024 {
			live := e.order[:0]
			for _, o := range e.order {
				if e.liveAt(o) != nil {
					live = append(live, o)
				}
			}
			e.order = live
		}
		end := len(e.order)
		if after != 0 {
			end = sort.Search(len(e.order), func(i int) bool { return e.order[i].seq >= after })
		}
		if q.SkipTotal {
			statusOnly = true // stop at the page, and count nothing
		} else if statusOnly {
			if len(q.Status) == 0 {
				page.TotalCount = len(e.tasks)
			}
			for _, st := range slices.Compact(slices.Sorted(slices.Values(q.Status))) {
				page.TotalCount += e.counts[st]
			}
		} else {
			for _, o := range e.order[end:] {
				if t := e.liveAt(o); t != nil && q.Matches(t) {
					page.TotalCount++
				}
			}
		}
		for i := end - 1; i >= 0; i-- {
			t := e.liveAt(e.order[i])
			if t == nil || !q.Matches(t) {
				continue
			}
			if len(page.Tasks) == first {
				page.HasNext = true
				if statusOnly {
					return nil
				}
				page.TotalCount++
				continue
			}
			page.Tasks = append(page.Tasks, t.Clone())
			if !statusOnly {
				page.TotalCount++
			}
		}
		return nil
	})
	if n := len(page.Tasks); n > 0 {
		page.EndCursor = strconv.FormatUint(page.Tasks[n-1].Seq, 10)
	}
	return page, err
}

// liveAt is the task an order entry stands for, or nil when it was
// removed since (or its id was reused by a newer task).
func (e *engine) liveAt(o readyEntry) *archivist.Task {
	if t := e.tasks[o.id]; t != nil && t.Seq == o.seq {
		return t
	}
	return nil
}

func (e *engine) CountTasks(ctx context.Context) (map[archivist.TaskStatus]int, error) {
	out := map[archivist.TaskStatus]int{}
	err := e.view(func() error {
		for s, n := range e.counts {
			if n > 0 {
				out[s] = n
			}
		}
		return nil
	})
	return out, err
}

func (e *engine) CancelTask(ctx context.Context, id string) (*archivist.Task, error) {
	var out *archivist.Task
	err := e.update(ctx, func(tx *tx) error {
		old, err := e.task(id)
		if err != nil {
			return err
		}
		if old.Status.Terminal() {
			return archivist.Errorf(archivist.CodeConflict, "task %s is already %s", id, old.Status)
		}
		out = e.cancel(tx, old, "cancelled before it ran").Clone()
		return nil
	})
	return out, err
}

// cancel cancels unfinished task old inside a transition and returns it
// after: a task that has not started is CANCELLED (detail says why); an
// IN_PROGRESS one is asked to stop (CancelRequested), once.
func (e *engine) cancel(tx *tx, old *archivist.Task, detail string) *archivist.Task {
	t := old.Clone()
	if old.Status == archivist.TaskInProgress {
		if old.CancelRequested {
			return old
		}
		t.CancelRequested = true
		tx.putTask(old, t)
		tx.taskEvent(archivist.EventTaskCancelRequested, t, "")
		return t
	}
	t.Status = archivist.TaskCancelled
	t.CompletedAt = tx.now
	t.LeaseUntil, t.RunAt = time.Time{}, time.Time{}
	tx.putTask(old, t)
	tx.taskEvent(archivist.EventTaskCancelled, t, detail)
	return t
}

func (e *engine) RetryTask(ctx context.Context, id string) (*archivist.Task, error) {
	var out *archivist.Task
	err := e.update(ctx, func(tx *tx) error {
		old, err := e.task(id)
		if err != nil {
			return err
		}
		switch old.Status {
		case archivist.TaskFailed, archivist.TaskCancelled, archivist.TaskTimedOut:
		default:
			return archivist.Errorf(archivist.CodeConflict, "task %s is %s; only FAILED, CANCELLED or TIMED_OUT tasks can be retried", id, old.Status)
		}
		if old.WorkflowID != "" {
			return errRetryStep(old)
		}
		out = retry(tx, old).Clone()
		return nil
	})
	return out, err
}

// retry puts finished task old back to PENDING inside a transition (the
// caller checked that it may) and returns it after.
func retry(tx *tx, old *archivist.Task) *archivist.Task {
	t := old.Clone()
	t.Status = archivist.TaskPending
	t.Failures, t.Requeues = 0, 0
	t.CancelRequested = false
	t.CompletedAt, t.RunAt, t.LeaseUntil = time.Time{}, time.Time{}, time.Time{}
	t.Progress, t.ProgressMessage = 0, ""
	tx.putTask(old, t)
	tx.taskEvent(archivist.EventTaskRetried, t, "")
	return t
}

// maxPromote bounds how many tasks one placement round moves from
// SCHEDULED or RETRYING to PENDING, so that a burst of due tasks is spread
// over rounds rather than held in one transition (NextDue says 0 while
// more are due).
const maxPromote = 1000

// promote moves SCHEDULED tasks whose time came and RETRYING tasks whose
// backoff is over to PENDING.
func (e *engine) promote(tx *tx) {
	for range maxPromote {
		old := e.due.head(e.tasks)
		if old == nil || old.RunAt.After(tx.now) {
			break
		}
		e.due.pop()
		t := old.Clone()
		t.Status = archivist.TaskPending
		if old.Status == archivist.TaskRetrying {
			t.RunAt = time.Time{} // a delayed task keeps its due time
		}
		tx.putTask(old, t)
		if old.Status == archivist.TaskScheduled {
			tx.taskEvent(archivist.EventTaskDue, t, "its time came")
		} else {
			tx.taskEvent(archivist.EventTaskRequeued, t, "backoff over")
		}
	}
	e.due.compact(e.tasks, e.counts[archivist.TaskScheduled]+e.counts[archivist.TaskRetrying])
}

func (e *engine) ReadyTasks(ctx context.Context, limit int) ([]*archivist.Task, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []*archivist.Task
	err := e.update(ctx, func(tx *tx) error {
		e.promote(tx)
		if e.flowControl() {
			out = tx.readyLimited(limit)
			return nil
		}
		for _, id := range e.ready.peek(limit) {
			out = append(out, e.tasks[id].Clone())
		}
		return nil
	})
	return out, err
}

func (e *engine) AssignTasks(ctx context.Context, lease archivist.Lease, as []archivist.Assignment, claimWithin time.Duration) ([]*archivist.Task, error) {
	var out []*archivist.Task
	err := e.update(ctx, func(tx *tx) error {
		if err := e.checkLease(lease, tx.now); err != nil {
			return err
		}
		for _, a := range as {
			old, ok := e.tasks[a.TaskID]
			if !ok || old.Status != archivist.TaskPending || a.NodeID == "" {
				continue
			}
			if e.flowControl() {
				if by := e.blocker(old, tx.now, nil); by != "" {
					if by != old.HeldBy {
						tx.setHeld(old, by)
					}
					continue
				}
				e.takeTokens(old, tx.now)
			}
			tx.placed(old)
			if a.Start {
				out = append(out, startAttempt(tx, old, a.NodeID, a.Grace, true).Clone())
				continue
			}
			t := old.Clone()
			t.Status = archivist.TaskAssigned
			t.NodeID = a.NodeID
			t.AssignedAt = tx.now
			t.LeaseUntil = tx.now.Add(claimWithin)
			tx.putTask(old, t)
			tx.taskEvent(archivist.EventTaskAssigned, t, "")
			out = append(out, t.Clone())
		}
		return nil
	})
	return out, err
}

func (e *engine) NodeLoads(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := e.view(func() error {
		for n, set := range e.byNode {
			out[n] = len(set)
		}
		return nil
	})
	return out, err
}

// failLocked applies a failed attempt to a copy of old.
func failTask(tx *tx, old *archivist.Task, f archivist.Failure) *archivist.Task {
	t := old.Clone()
	t.Error = f.Error
	t.LeaseUntil = time.Time{}
	t.Failures++
	switch {
	case f.Cancelled || old.CancelRequested:
		t.Status = archivist.TaskCancelled
		t.Failures = old.Failures
		t.CompletedAt = tx.now
		tx.putTask(old, t)
		tx.taskEvent(archivist.EventTaskCancelled, t, f.Error)
		tx.statEnded(t, statRetried)
	case !f.Permanent && !f.Retry.Disabled && t.Failures <= t.MaxRetries:
		t.Status = archivist.TaskRetrying
		t.RunAt = tx.now.Add(f.Retry.ForTask(t.RetryBackoff, t.MaxBackoff).Delay(t.Failures))
		tx.putTask(old, t)
		tx.taskEvent(archivist.EventTaskRetrying, t, f.Error)
		tx.statEnded(t, statRetried)
	case f.TimedOut:
		t.Status = archivist.TaskTimedOut
		t.CompletedAt = tx.now
		tx.putTask(old, t)
		tx.taskEvent(archivist.EventTaskTimedOut, t, f.Error)
		tx.statEnded(t, statFailed)
	default:
		t.Status = archivist.TaskFailed
		t.CompletedAt = tx.now
		tx.putTask(old, t)
		tx.taskEvent(archivist.EventTaskFailed, t, f.Error)
		tx.statEnded(t, statFailed)
	}
	return t
}

// requeue puts a task that lost its node back to PENDING, or fails it once
// it has lost too many.
func requeue(tx *tx, old *archivist.Task, why string) *archivist.Task {
	if old.CancelRequested {
		return failTask(tx, old, archivist.Failure{Error: why, Cancelled: true})
	}
	if old.Requeues+1 > archivist.MaxRequeues {
		t := old.Clone()
		t.Status = archivist.TaskFailed
		t.Error = why + "; given up after " + strconv.Itoa(archivist.MaxRequeues) + " requeues"
		t.CompletedAt = tx.now
		t.LeaseUntil = time.Time{}
		tx.putTask(old, t)
		tx.taskEvent(archivist.EventTaskFailed, t, t.Error)
		tx.statFailedUnstarted(t)
		return t
	}
	t := old.Clone()
	t.Status = archivist.TaskPending
	t.Requeues++
	t.LeaseUntil = time.Time{}
	t.Progress, t.ProgressMessage = 0, ""
	tx.putTask(old, t)
	tx.taskEvent(archivist.EventTaskRequeued, t, why)
	return t
}

func (e *engine) RecoverExpired(ctx context.Context, lease archivist.Lease, retry archivist.RetryPolicy) ([]*archivist.Task, error) {
	var out []*archivist.Task
	err := e.update(ctx, func(tx *tx) error {
		if err := e.checkLease(lease, tx.now); err != nil {
			return err
		}
		for id, until := range e.leased {
			if until.After(tx.now) {
				continue
			}
			old := e.tasks[id]
			var t *archivist.Task
			if old.Status == archivist.TaskAssigned {
				t = old.Clone()
				t.Status = archivist.TaskPending
				t.LeaseUntil = time.Time{}
				tx.putTask(old, t)
				tx.taskEvent(archivist.EventTaskRequeued, t, "node "+old.NodeID+" did not start it in time")
			} else {
				t = failTask(tx, old, archivist.Failure{
					Error:    "attempt " + strconv.Itoa(old.Attempt) + " timed out: no result from node " + old.NodeID + " before its lease ran out",
					TimedOut: true, Retry: retry,
				})
			}
			out = append(out, t.Clone())
		}
		return nil
	})
	return out, err
}

func (e *engine) RequeueNode(ctx context.Context, lease archivist.Lease, nodeID string) ([]*archivist.Task, error) {
	return e.takeBackNode(ctx, lease, nodeID, "")
}

func (e *engine) FailNode(ctx context.Context, lease archivist.Lease, nodeID, reason string) ([]*archivist.Task, error) {
	if reason == "" {
		reason = "node " + nodeID + " was lost while running this task"
	}
	return e.takeBackNode(ctx, lease, nodeID, reason)
}

// takeBackNode takes back every task of a lost node, by Seq: all of them
// go back to PENDING when fail is empty (RequeueNode); otherwise the
// IN_PROGRESS ones fail with fail as their error (FailNode), and only the
// ASSIGNED ones, never started, go back.
func (e *engine) takeBackNode(ctx context.Context, lease archivist.Lease, nodeID, fail string) ([]*archivist.Task, error) {
	var out []*archivist.Task
	err := e.update(ctx, func(tx *tx) error {
		if err := e.checkLease(lease, tx.now); err != nil {
			return err
		}
		ids := make([]string, 0, len(e.byNode[nodeID]))
		for id := range e.byNode[nodeID] {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return e.tasks[ids[i]].Seq < e.tasks[ids[j]].Seq })
		for _, id := range ids {
			old := e.tasks[id]
			var t *archivist.Task
			if fail != "" && old.Status == archivist.TaskInProgress {
				t = failTask(tx, old, archivist.Failure{Error: fail, Permanent: true, Retry: archivist.RetryPolicy{Disabled: true}})
			} else {
				t = requeue(tx, old, "node "+nodeID+" was lost")
			}
			out = append(out, t.Clone())
		}
		return nil
	})
	return out, err
}

func (e *engine) PurgeFinished(ctx context.Context, before, failedBefore time.Time) (int, error) {
	n := 0
	err := e.update(ctx, func(tx *tx) error {
		n += tx.purgeWorkflows(before, failedBefore)
		for _, t := range e.tasks {
			if t.Status.Terminal() && t.CompletedAt.Before(purgeCut(t.Status, before, failedBefore)) && e.stepPurgeable(t) {
				tx.deleteTask(t)
				n++
			}
		}
		e.pruneTurns()
		return nil
	})
	return n, err
}

// startAttempt starts old on nodeID as a new attempt (event task.started);
// placed: the leader placed it in the same step (its AssignedAt is now).
func startAttempt(tx *tx, old *archivist.Task, nodeID string, grace time.Duration, placed bool) *archivist.Task {
	t := old.Clone()
	t.Status = archivist.TaskInProgress
	t.NodeID = nodeID
	if placed {
		t.AssignedAt = tx.now
	}
	t.Attempt++
	t.StartedAt = tx.now
	t.Progress, t.ProgressMessage = 0, ""
	t.LeaseUntil = tx.now.Add(t.Timeout + grace)
	tx.putTask(old, t)
	tx.taskEvent(archivist.EventTaskStarted, t, "")
	return t
}

func (e *engine) ClaimTasks(ctx context.Context, nodeID string, limit int, grace time.Duration) ([]*archivist.Task, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []*archivist.Task
	err := e.update(ctx, func(tx *tx) error {
		var cands []*archivist.Task
		for id := range e.byNode[nodeID] {
			if t := e.tasks[id]; t.Status == archivist.TaskAssigned {
				cands = append(cands, t)
			}
		}
		sort.Slice(cands, func(i, j int) bool {
			a, b := cands[i], cands[j]
			if a.Priority.Rank() != b.Priority.Rank() {
				return a.Priority.Rank() > b.Priority.Rank()
			}
			return a.Seq < b.Seq
		})
		if len(cands) > limit {
			cands = cands[:limit]
		}
		for _, old := range cands {
			out = append(out, startAttempt(tx, old, nodeID, grace, false).Clone())
		}
		return nil
	})
	return out, err
}

func (e *engine) ClaimTask(ctx context.Context, nodeID, id string, grace time.Duration) (*archivist.Task, error) {
	var out *archivist.Task
	err := e.update(ctx, func(tx *tx) error {
		old, err := e.task(id)
		if err != nil {
			return err
		}
		ok := old.Status == archivist.TaskPending || (old.Status == archivist.TaskAssigned && old.NodeID == nodeID)
		if !ok {
			return archivist.Errorf(archivist.CodeConflict, "task %s is %s and cannot be started on %s", id, old.Status, nodeID)
		}
		if old.Status == archivist.TaskPending {
			if e.flowControl() {
				if by := e.blocker(old, tx.now, nil); by != "" {
					return archivist.Errorf(archivist.CodeConflict, "task %s is held back (%s) and cannot be started now", id, by)
				}
				e.takeTokens(old, tx.now)
			}
			tx.placed(old)
		}
		out = startAttempt(tx, old, nodeID, grace, false).Clone()
		return nil
	})
	return out, err
}

func (e *engine) ReportProgress(ctx context.Context, id string, attempt int, progress float64, message string) error {
	return e.update(ctx, func(tx *tx) error {
		old, err := e.attemptTask(id, attempt)
		if err != nil {
			return err
		}
		t := old.Clone()
		t.Progress, t.ProgressMessage = progress, message
		tx.putTask(old, t)
		tx.taskEvent(archivist.EventTaskProgress, t, "")
		return nil
	})
}

// staleReport records a rejected report from an attempt that was fenced off.
func (e *engine) staleReport(ctx context.Context, id string, attempt int, what string, cause error) {
	_ = e.update(ctx, func(tx *tx) error {
		t, ok := e.tasks[id]
		if !ok {
			return nil
		}
		tx.taskEvent(archivist.EventTaskStaleReport, t, "rejected "+what+" of attempt "+strconv.Itoa(attempt)+": "+cause.Error())
		return nil
	})
}

func (e *engine) CompleteTask(ctx context.Context, id string, attempt int, result json.RawMessage) (*archivist.Task, error) {
	var out *archivist.Task
	err := e.update(ctx, func(tx *tx) error {
		old, err := e.attemptTask(id, attempt)
		if err != nil {
			return err
		}
		t := old.Clone()
		t.Status = archivist.TaskCompleted
		t.Result = append(json.RawMessage(nil), result...)
		t.Error = ""
		t.Progress = 1
		t.CompletedAt = tx.now
		t.LeaseUntil = time.Time{}
		tx.putTask(old, t)
		tx.taskEvent(archivist.EventTaskCompleted, t, "")
		tx.statEnded(t, statCompleted)
		out = t.Clone()
		return nil
	})
	if archivist.IsCode(err, archivist.CodeConflict) {
		e.staleReport(ctx, id, attempt, "result", err)
	}
	return out, err
}

func (e *engine) FailTask(ctx context.Context, id string, attempt int, f archivist.Failure) (*archivist.Task, error) {
	var out *archivist.Task
	err := e.update(ctx, func(tx *tx) error {
		old, err := e.attemptTask(id, attempt)
		if err != nil {
			return err
		}
		out = failTask(tx, old, f).Clone()
		return nil
	})
	if archivist.IsCode(err, archivist.CodeConflict) {
		e.staleReport(ctx, id, attempt, "failure", err)
	}
	return out, err
}

func (e *engine) ReleaseTask(ctx context.Context, id string, attempt int) (*archivist.Task, error) {
	var out *archivist.Task
	err := e.update(ctx, func(tx *tx) error {
		old, err := e.task(id)
		if err != nil {
			return err
		}
		if old.Status != archivist.TaskInProgress || old.Attempt != attempt {
			return archivist.Errorf(archivist.CodeConflict, "stale attempt %d of task %s: the task is %s at attempt %d", attempt, id, old.Status, old.Attempt)
		}
		out = requeue(tx, old, "released by node "+old.NodeID).Clone()
		return nil
	})
	return out, err
}

// --- nodes ---

func (e *engine) Heartbeat(ctx context.Context, n *archivist.Node) (*archivist.Node, error) {
	if n == nil || n.ID == "" {
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "a node needs an id")
	}
	var out *archivist.Node
	err := e.update(ctx, func(tx *tx) error {
		c := n.Clone()
		old, ok := e.nodes[n.ID]
		if ok {
			c.Draining = old.Draining
		}
		// A heartbeat described before a settings change must not undo it.
		if s, ok := e.settings[n.ID]; ok {
			s.ApplyTo(c)
		}
		tx.statHeartbeat(old, c)
		tx.putNode(c)
		tx.nodeEvent(archivist.EventNodeUpdated, c, "")
		out = c.Clone()
		return nil
	})
	return out, err
}

func (e *engine) GetNode(ctx context.Context, id string) (*archivist.Node, error) {
	var out *archivist.Node
	err := e.view(func() error {
		n, ok := e.nodes[id]
		if !ok {
			return notFound("node", id)
		}
		out = n.Clone()
		return nil
	})
	return out, err
}

func (e *engine) ListNodes(ctx context.Context) ([]*archivist.Node, error) {
	var out []*archivist.Node
	err := e.view(func() error {
		for _, n := range e.nodes {
			out = append(out, n.Clone())
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

func (e *engine) SetDraining(ctx context.Context, id string, draining bool) (*archivist.Node, error) {
	var out *archivist.Node
	err := e.update(ctx, func(tx *tx) error {
		old, ok := e.nodes[id]
		if !ok {
			return notFound("node", id)
		}
		n := old.Clone()
		n.Draining = draining
		tx.putNode(n)
		tx.nodeEvent(archivist.EventNodeUpdated, n, "")
		out = n.Clone()
		return nil
	})
	return out, err
}

func (e *engine) RemoveNode(ctx context.Context, id string) error {
	return e.update(ctx, func(tx *tx) error {
		n, ok := e.nodes[id]
		if !ok {
			return notFound("node", id)
		}
		tx.deleteNode(id)
		tx.nodeEvent(archivist.EventNodeRemoved, n, "")
		return nil
	})
}

// --- leadership ---

func (e *engine) Campaign(ctx context.Context, nodeID string, ttl time.Duration) (archivist.Lease, error) {
	var out archivist.Lease
	err := e.update(ctx, func(tx *tx) error {
		cur := e.meta.Lease
		switch {
		case cur.Holder == nodeID && tx.now.Before(cur.Expires):
			cur.Expires = tx.now.Add(ttl)
		case cur.Holder == "" || !tx.now.Before(cur.Expires):
			cur = archivist.Lease{Holder: nodeID, Token: cur.Token + 1, Expires: tx.now.Add(ttl)}
			e.meta.Lease = cur
			tx.metaChanged()
			n := e.nodes[nodeID]
			if n == nil {
				n = &archivist.Node{ID: nodeID}
			}
			tx.nodeEvent(archivist.EventNodeLeader, n, "leader is now "+nodeID)
		default:
			out = cur
			return nil
		}
		// A renewal only moves the expiry: it is kept in memory, and written
		// to disk with the next change, since a restart ends the lease anyway.
		e.meta.Lease = cur
		out = cur
		return nil
	})
	return out, err
}

func (e *engine) Resign(ctx context.Context, nodeID string) error {
	return e.update(ctx, func(tx *tx) error {
		if e.meta.Lease.Holder != nodeID {
			return nil
		}
		e.meta.Lease.Holder, e.meta.Lease.Expires = "", time.Time{}
		tx.metaChanged()
		return nil
	})
}

func (e *engine) Leader(ctx context.Context) (archivist.Lease, error) {
	var out archivist.Lease
	err := e.view(func() error {
		if l := e.meta.Lease; l.Holder != "" && e.opts.Now().Before(l.Expires) {
			out = l
		}
		return nil
	})
	return out, err
}

// --- config ---

func (e *engine) Config(ctx context.Context) (archivist.Config, error) {
	var out archivist.Config
	err := e.view(func() error {
		if e.meta.HasConf {
			out = e.meta.Config
		} else {
			out = archivist.DefaultConfig()
		}
		return nil
	})
	return out, err
}

func (e *engine) UpdateConfig(ctx context.Context, cfg archivist.Config, prev int64) (archivist.Config, error) {
	if err := cfg.Validate(); err != nil {
		return archivist.Config{}, err
	}
	var out archivist.Config
	err := e.update(ctx, func(tx *tx) error {
		if e.meta.Config.Version != prev {
			return archivist.Errorf(archivist.CodeConflict, "config changed meanwhile: version %d, not %d", e.meta.Config.Version, prev)
		}
		cfg.Version = prev + 1
		cfg.UpdatedAt = tx.now
		e.meta.Config, e.meta.HasConf = cfg, true
		tx.metaChanged()
		tx.configEvent(cfg)
		out = cfg
		return nil
	})
	return out, err
}

// --- events ---

func (e *engine) Subscribe(ctx context.Context, after uint64) (archivist.Subscription, error) {
	return e.bus.subscribe(ctx, after)
}

func (e *engine) LastSeq(ctx context.Context) (uint64, error) { return e.bus.lastSeq(), nil }

func (e *engine) NextDue(ctx context.Context) (time.Duration, bool, error) {
	var wait time.Duration
	var ok bool
	err := e.view(func() error {
		now := e.opts.Now()
		if len(e.lim.held) > 0 {
			wait, ok = e.nextTokenDue(now)
		}
		t := e.due.head(e.tasks)
		if t == nil {
			return nil
		}
		if w := max(0, t.RunAt.Sub(now)); !ok || w < wait {
			wait = w
		}
		ok = true
		return nil
	})
	return wait, ok, err
}
