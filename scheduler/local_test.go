package scheduler_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/scheduler"
	"github.com/rpg-archivist/archivist/store"
)

// fakePool is the leader's own worker pool as placement sees it: free
// workers to reserve, and a record of what it was handed.
type fakePool struct {
	id    string
	grace time.Duration

	mu       sync.Mutex
	free     int
	reserved int
	started  []*archivist.Task
}

func (f *fakePool) NodeID() string { return f.id }

func (f *fakePool) Reserve(n int) (int, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n = min(n, f.free)
	f.free -= n
	f.reserved += n
	return n, f.grace
}

func (f *fakePool) RunStarted(ts []*archivist.Task, reserved int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reserved -= reserved
	f.free += reserved - len(ts)
	f.started = append(f.started, ts...)
}

// finished frees the worker of an attempt that ended.
func (f *fakePool) finished() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.free++
}

func (f *fakePool) reservedNow() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reserved
}

func (f *fakePool) state() (free, reserved int, started []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.free, f.reserved, ids(f.started)
}

// The tasks the leader places on its own node while its pool has free
// workers start in the placement step and go to the pool: no claim. The
// others on its node are assigned, as are those of the other nodes.
func TestSchedulerStartsTasksOnItsOwnNode(t *testing.T) {
	t.Parallel()
	pool := &fakePool{id: "self", grace: 3 * time.Second, free: 2}
	b := setup(t, setupOpts{strategy: archivist.StrategyLeastBusy, local: pool})
	b.heartbeat(t, "self", func(n *archivist.Node) { n.Role = archivist.RoleHybrid })
	b.heartbeat(t, "other", nil)
	var submitted []string
	for range 6 {
		submitted = append(submitted, b.submit(t, &archivist.Task{Timeout: 20 * time.Second}))
	}
	b.runOnce(t)

	var inProgress, assignedHere, elsewhere []string
	for _, id := range submitted {
		task := b.task(t, id)
		switch {
		case task.NodeID == "self" && task.Status == archivist.TaskInProgress:
			inProgress = append(inProgress, id)
			if task.Attempt != 1 || task.StartedAt.IsZero() || !task.AssignedAt.Equal(task.StartedAt) {
				t.Errorf("started task %s: attempt %d, assigned %v, started %v; want attempt 1, both now", id, task.Attempt, task.AssignedAt, task.StartedAt)
			}
			if d := task.LeaseUntil.Sub(task.StartedAt); d != 23*time.Second {
				t.Errorf("started task %s: lease %s after its start, want its timeout plus the pool's grace, 23s", id, d)
			}
		case task.NodeID == "self" && task.Status == archivist.TaskAssigned:
			assignedHere = append(assignedHere, id)
		case task.NodeID == "other" && task.Status == archivist.TaskAssigned:
			elsewhere = append(elsewhere, id)
		default:
			t.Errorf("task %s is %s on %q", id, task.Status, task.NodeID)
		}
	}
	if len(inProgress) != 2 || len(assignedHere) != 1 || len(elsewhere) != 3 {
		t.Errorf("after a round: started here %v, assigned here %v, assigned to the other node %v; want 2, 1, 3", inProgress, assignedHere, elsewhere)
	}
	free, reserved, started := pool.state()
	if diff := cmp.Diff(inProgress, started, cmp.Transformer("sort", func(s []string) []string { return slices.Sorted(slices.Values(s)) })); diff != "" {
		t.Errorf("tasks handed to the pool (-started in the store +handed):\n%s", diff)
	}
	if free != 0 || reserved != 0 {
		t.Errorf("pool after the round: %d free, %d reserved; want 0 and 0", free, reserved)
	}
}

// Reserved workers come back when the placement step fails (here: a
// leadership lost meanwhile), and nothing starts.
func TestSchedulerFreesReservedWorkersOnFailure(t *testing.T) {
	t.Parallel()
	pool := &fakePool{id: "self", grace: time.Second, free: 4}
	b := setup(t, setupOpts{local: pool})
	b.heartbeat(t, "self", func(n *archivist.Node) { n.Role = archivist.RoleHybrid })
	id := b.submit(t, &archivist.Task{})
	stale := b.lease
	stale.Token--
	if err := b.sched.RunOnce(b.ctx, stale); err == nil {
		t.Errorf("a round under a stale lease: no error")
	}
	if task := b.task(t, id); task.Status != archivist.TaskPending {
		t.Errorf("task under a stale lease is %s, want PENDING", task.Status)
	}
	if free, reserved, started := pool.state(); free != 4 || reserved != 0 || len(started) != 0 {
		t.Errorf("pool after a failed round: %d free, %d reserved, handed %v; want 4, 0, none", free, reserved, started)
	}
	b.runOnce(t)
	if task := b.task(t, id); task.Status != archivist.TaskInProgress || task.NodeID != "self" {
		t.Errorf("task after a round under the current lease is %s on %q, want IN_PROGRESS on self", task.Status, task.NodeID)
	}
}

// readCounter is a store that counts reads of the ready queue.
type readCounter struct {
	archivist.Store
	reads atomic.Int64
}

func (r *readCounter) ReadyTasks(ctx context.Context, limit int) ([]*archivist.Task, error) {
	r.reads.Add(1)
	return r.Store.ReadyTasks(ctx, limit)
}

// startAlone starts a leading scheduler on a one-node cluster whose node
// is the scheduler's own, with pool as its worker pool, and no periodic
// round within the test: only events make rounds.
func startAlone(t *testing.T, pool *fakePool) (*store.Memory, *readCounter) {
	t.Helper()
	st := store.NewMemory(store.Options{Logger: quiet})
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now()
	if _, err := st.Heartbeat(context.Background(), &archivist.Node{ID: pool.id, Name: pool.id, Role: archivist.RoleHybrid,
		Workers: 1000, Interval: time.Hour, LastHeartbeat: now, StartedAt: now}); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	cfg := archivist.DefaultConfig()
	cfg.HeartbeatInterval = time.Hour
	rc := &readCounter{Store: st}
	e := startElector(t, st, pool.id, time.Hour)
	testkit.Eventually(t, wait, e.IsLeader, "%s to lead", pool.id)
	s := scheduler.New(scheduler.Config{Store: rc, Elector: e, Env: lifecycle.Env{Logger: quiet},
		Settings: func() archivist.Config { return cfg }, Local: func() scheduler.LocalPool { return pool }})
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return st, rc
}

func createOne(t *testing.T, st archivist.Store, p archivist.Priority) string {
	t.Helper()
	task := &archivist.Task{Type: "echo", Priority: p, Timeout: time.Minute}
	if err := st.CreateTasks(context.Background(), []*archivist.Task{task}); err != nil {
		t.Errorf("CreateTasks: %v", err)
	}
	return task.ID
}

func waitStatus(t *testing.T, st archivist.Store, id string, want archivist.TaskStatus) *archivist.Task {
	t.Helper()
	var task *archivist.Task
	testkit.Eventually(t, wait, func() bool {
		task = getTask(t, st, id)
		return task.Status == want
	}, "task %s to be %s", id, want)
	return task
}

// While the leader knows the ready queue held nothing else, it places the
// tasks it sees created without reading the queue back, on its own node,
// where they start; none is left behind, also when many come at once.
func TestSchedulerPlacesNewTasksWithoutReading(t *testing.T) {
	t.Parallel()
	pool := &fakePool{id: "m1", grace: time.Second, free: 1000}
	st, rc := startAlone(t, pool)

	waitStatus(t, st, createOne(t, st, archivist.PriorityNormal), archivist.TaskInProgress)
	reads := rc.reads.Load()
	for range 20 {
		waitStatus(t, st, createOne(t, st, archivist.PriorityNormal), archivist.TaskInProgress)
	}
	if got := rc.reads.Load(); got != reads {
		t.Errorf("the ready queue was read %d times for 20 tasks submitted one after the other, want 0", got-reads)
	}

	// Many at once, from several clients: every one starts, with no
	// periodic round to catch one left behind.
	var wg sync.WaitGroup
	ids := make([][]string, 8)
	for c := range ids {
		wg.Go(func() {
			for i := range 40 {
				ids[c] = append(ids[c], createOne(t, st, []archivist.Priority{archivist.PriorityLow, archivist.PriorityHigh}[i%2]))
			}
		})
	}
	wg.Wait()
	for _, batch := range ids {
		for _, id := range batch {
			waitStatus(t, st, id, archivist.TaskInProgress)
		}
	}
	if free, reserved, started := pool.state(); free != 1000-341 || reserved != 0 || len(started) != 341 {
		t.Errorf("pool: %d free, %d reserved, %d handed over; want %d, 0, 341", free, reserved, len(started), 1000-341)
	}
}

// A task that becomes PENDING other than by its creation (here: retried)
// makes the next round read the queue, and it is placed.
func TestSchedulerReadsAfterOtherReadyTasks(t *testing.T) {
	t.Parallel()
	pool := &fakePool{id: "m1", grace: time.Second, free: 10}
	st, rc := startAlone(t, pool)
	id := createOne(t, st, archivist.PriorityNormal)
	running := waitStatus(t, st, id, archivist.TaskInProgress)
	if _, err := st.FailTask(context.Background(), id, running.Attempt, archivist.Failure{Error: "boom", Permanent: true}); err != nil {
		t.Fatalf("FailTask: %v", err)
	}
	pool.finished() // the attempt ended: its worker is free again
	reads := rc.reads.Load()
	if _, err := st.RetryTask(context.Background(), id); err != nil {
		t.Fatalf("RetryTask: %v", err)
	}
	if task := waitStatus(t, st, id, archivist.TaskInProgress); task.Attempt != 2 {
		t.Errorf("retried task started at attempt %d, want 2", task.Attempt)
	}
	if rc.reads.Load() == reads {
		t.Errorf("a retried task was placed without reading the queue")
	}
}

// With no worker free on its node, new tasks wait in the queue (PENDING),
// and are placed once one is.
func TestSchedulerNewTasksWaitForAFreeWorker(t *testing.T) {
	t.Parallel()
	pool := &fakePool{id: "m1", grace: time.Second, free: 1}
	st, _ := startAlone(t, pool)
	first := createOne(t, st, archivist.PriorityNormal)
	waitStatus(t, st, first, archivist.TaskInProgress)
	second := createOne(t, st, archivist.PriorityNormal)
	testkit.Eventually(t, wait, func() bool { return getTask(t, st, second).Status == archivist.TaskPending && pool.reservedNow() == 0 },
		"the second task to wait")
	running := getTask(t, st, first)
	pool.finished() // the attempt ended: its worker is free again
	if _, err := st.CompleteTask(context.Background(), first, running.Attempt, []byte(`{}`)); err != nil {
		t.Fatalf("CompleteTask: %v", err)
	}
	waitStatus(t, st, second, archivist.TaskInProgress)
}
