package scheduler_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
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
