package workerpool_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/store"
	"github.com/rpg-archivist/archivist/tasks"
	"github.com/rpg-archivist/archivist/workerpool"
)

const (
	nodeID = "w1"
	// retryBase and retryMax are the retry backoff of the cluster settings.
	retryBase = 50 * time.Millisecond
	retryMax  = 200 * time.Millisecond
	// wait bounds every wait for something that should happen promptly.
	wait = 5 * time.Second
)

var quiet = slog.New(slog.DiscardHandler)

// bundle is a pool on a real memory store, with a leadership lease that the
// test uses to assign tasks to the pool's node, and a record of every event.
type bundle struct {
	ctx    context.Context
	store  *store.Memory
	reg    *archivist.Registry
	lease  archivist.Lease
	cfg    workerpool.Config
	obs    *observer
	events *eventLog
	pool   *workerpool.Pool
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	st := store.NewMemory(store.Options{Logger: quiet})
	t.Cleanup(func() { _ = st.Close() })
	reg := archivist.NewRegistry()
	tasks.Register(reg)
	lease, err := st.Campaign(ctx, "leader", 24*time.Hour)
	if err != nil {
		t.Fatalf("Campaign: %v", err)
	}
	settings := archivist.DefaultConfig()
	settings.RetryBackoff, settings.MaxBackoff = retryBase, retryMax
	obs := &observer{}
	b := &bundle{ctx: ctx, store: st, reg: reg, lease: lease, obs: obs, events: watchEvents(t, st)}
	b.cfg = workerpool.Config{
		Store:         st,
		Registry:      reg,
		NodeID:        nodeID,
		Workers:       4,
		ShutdownGrace: 100 * time.Millisecond,
		Settings:      func() archivist.Config { return settings },
		Observer:      obs,
		Env:           lifecycle.Env{Logger: quiet},
	}
	return b
}

// start builds the pool from b.cfg, starts it, and stops it at the end.
func (b *bundle) start(t *testing.T) *workerpool.Pool {
	t.Helper()
	b.pool = workerpool.New(b.cfg)
	if err := b.pool.Start(b.ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = b.pool.Stop(context.Background()) })
	return b.pool
}

// newTask returns a task to submit: type typ with the JSON input, a 1-minute
// timeout and no retries unless mod says otherwise.
func newTask(typ, input string, mod ...func(*archivist.Task)) *archivist.Task {
	t := &archivist.Task{Type: typ, Input: json.RawMessage(input), Priority: archivist.PriorityNormal, Timeout: time.Minute}
	for _, m := range mod {
		m(t)
	}
	return t
}

func retries(n int) func(*archivist.Task) { return func(t *archivist.Task) { t.MaxRetries = n } }

func timeout(d time.Duration) func(*archivist.Task) { return func(t *archivist.Task) { t.Timeout = d } }

// create stores tasks as PENDING and returns their ids.
func (b *bundle) create(t *testing.T, ts ...*archivist.Task) []string {
	t.Helper()
	if err := b.store.CreateTasks(b.ctx, ts); err != nil {
		t.Fatalf("CreateTasks: %v", err)
	}
	out := make([]string, 0, len(ts))
	for _, task := range ts {
		out = append(out, task.ID)
	}
	return out
}

// assign places tasks on the pool's node, all in one step, as the leader
// would.
func (b *bundle) assign(t *testing.T, node string, ids ...string) {
	t.Helper()
	as := make([]archivist.Assignment, 0, len(ids))
	for _, id := range ids {
		as = append(as, archivist.Assignment{TaskID: id, NodeID: node})
	}
	got, err := b.store.AssignTasks(b.ctx, b.lease, as, time.Hour)
	if err != nil || len(got) != len(ids) {
		t.Fatalf("AssignTasks: %d of %d assigned, err %v", len(got), len(ids), err)
	}
}

// submit creates tasks and assigns them to the pool's node.
func (b *bundle) submit(t *testing.T, ts ...*archivist.Task) []string {
	t.Helper()
	ids := b.create(t, ts...)
	b.assign(t, nodeID, ids...)
	return ids
}

// autoAssign stands in for the scheduler for the rest of the test: it keeps
// placing ready tasks (including retries whose backoff is over) on the
// pool's node.
func (b *bundle) autoAssign(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ready, err := b.store.ReadyTasks(ctx, 100)
			if err != nil || len(ready) == 0 {
				continue
			}
			as := make([]archivist.Assignment, 0, len(ready))
			for _, task := range ready {
				as = append(as, archivist.Assignment{TaskID: task.ID, NodeID: nodeID})
			}
			_, _ = b.store.AssignTasks(ctx, b.lease, as, time.Hour)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func (b *bundle) task(t *testing.T, id string) *archivist.Task {
	t.Helper()
	task, err := b.store.GetTask(context.Background(), id)
	if err != nil {
		t.Fatalf("GetTask(%s): %v", id, err)
	}
	return task
}

// waitStatus waits until the task is in one of the statuses and returns it.
func (b *bundle) waitStatus(t *testing.T, id string, timeout time.Duration, want ...archivist.TaskStatus) *archivist.Task {
	t.Helper()
	var last *archivist.Task
	testkit.Eventually(t, timeout, func() bool {
		last = b.task(t, id)
		for _, s := range want {
			if last.Status == s {
				return true
			}
		}
		return false
	}, "task %s is %s (error %q), want %v", id, lazy(func() any { return last.Status }), lazy(func() any { return last.Error }), want)
	return last
}

// count returns how many tasks are in status.
func (b *bundle) count(t *testing.T, status archivist.TaskStatus) int {
	t.Helper()
	counts, err := b.store.CountTasks(context.Background())
	if err != nil {
		t.Fatalf("CountTasks: %v", err)
	}
	return counts[status]
}

// lazy is an argument of a testkit.Eventually message that is evaluated
// only when the message is made, when the wait failed: the state then, not
// at the call.
type lazy func() any

// Format formats the value l returns as the verb asks.
func (l lazy) Format(f fmt.State, verb rune) { fmt.Fprintf(f, fmt.FormatString(f, verb), l()) }

// eventLog records every event of a store from the start of a test.
type eventLog struct {
	mu     sync.Mutex
	events []archivist.Event
}

func watchEvents(t *testing.T, st archivist.Store) *eventLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := st.Subscribe(ctx, 0)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	l := &eventLog{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range sub.C() {
			l.mu.Lock()
			l.events = append(l.events, ev)
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := sub.Err(); err != nil {
			t.Errorf("event log subscription ended: %v", err)
		}
	})
	return l
}

// of returns the recorded events of one task, in order.
func (l *eventLog) of(id string) []archivist.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []archivist.Event
	for _, ev := range l.events {
		if ev.Task != nil && ev.Task.ID == id {
			out = append(out, ev)
		}
	}
	return out
}

// waitFor waits until the log holds an event of type typ for task id (the
// log is filled asynchronously, behind the store) and returns the task's
// events up to now.
func (l *eventLog) waitFor(t *testing.T, id string, typ archivist.EventType) []archivist.Event {
	t.Helper()
	var evs []archivist.Event
	testkit.Eventually(t, wait, func() bool {
		evs = l.of(id)
		for _, ev := range evs {
			if ev.Type == typ {
				return true
			}
		}
		return false
	}, "no %s event for task %s; got %v", typ, id, lazy(func() any { return types(evs) }))
	return evs
}

// types lists the types of events.
func types(evs []archivist.Event) []archivist.EventType {
	out := make([]archivist.EventType, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

// maxInProgress replays the recorded events and returns the most tasks of
// ids that were IN_PROGRESS at the same time in the store.
func (l *eventLog) maxInProgress(ids []string) int {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	running := map[string]bool{}
	most := 0
	for _, ev := range l.events {
		if ev.Task == nil || !want[ev.Task.ID] {
			continue
		}
		if ev.Task.Status == archivist.TaskInProgress {
			running[ev.Task.ID] = true
		} else {
			delete(running, ev.Task.ID)
		}
		most = max(most, len(running))
	}
	return most
}

// observer records what the pool tells its Observer.
type observer struct {
	mu       sync.Mutex
	outcomes map[string][]string // by task id
	panicked []string
}

func (o *observer) AttemptFinished(_ context.Context, t *archivist.Task, outcome string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.outcomes == nil {
		o.outcomes = map[string][]string{}
	}
	o.outcomes[t.ID] = append(o.outcomes[t.ID], outcome)
}

func (o *observer) WorkerPanicked(t *archivist.Task) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.panicked = append(o.panicked, t.ID)
}

func (o *observer) outcomesOf(id string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.outcomes[id]...)
}

func (o *observer) panics() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.panicked...)
}

// gate is a test handler that counts how many of its jobs run at once and
// holds each until the test lets one go (or the job's context ends).
type gate struct {
	release chan struct{}
	cur     atomic.Int64
	most    atomic.Int64
	started atomic.Int64
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

func (g *gate) Handle(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
	n := g.cur.Add(1)
	defer g.cur.Add(-1)
	g.started.Add(1)
	for {
		m := g.most.Load()
		if n <= m || g.most.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-g.release:
		return json.RawMessage(fmt.Sprintf(`{"attempt":%d}`, job.Task.Attempt)), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// let releases one held job, waiting for one to take it.
func (g *gate) let(t *testing.T) {
	t.Helper()
	select {
	case g.release <- struct{}{}:
	case <-time.After(wait):
		t.Fatalf("no job of the gate took the release within %s", wait)
	}
}

// waitRunning waits until exactly n jobs are held.
func (g *gate) waitRunning(t *testing.T, n int64) {
	t.Helper()
	testkit.Eventually(t, wait, func() bool { return g.cur.Load() == n }, "%v jobs held, want %d", lazy(func() any { return g.cur.Load() }), n)
}
