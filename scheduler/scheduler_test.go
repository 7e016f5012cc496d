package scheduler_test

import (
	"context"
	"fmt"
	"strings"
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

// bundle is a scheduler on a real memory store under a fake clock, with a
// leadership lease taken directly in the store so that tests drive rounds
// with RunOnce.
type bundle struct {
	ctx      context.Context
	clock    *testkit.Clock
	store    *store.Memory
	settings atomic.Pointer[archivist.Config]
	sched    *scheduler.Scheduler
	lease    archivist.Lease
}

type setupOpts struct {
	claimWithin time.Duration
	strategy    archivist.LoadBalancingStrategy
	// local is the leader's own worker pool (none when nil).
	local scheduler.LocalPool
}

func setup(t *testing.T, opts setupOpts) *bundle {
	t.Helper()
	b := &bundle{ctx: context.Background(), clock: newFakeClock()}
	b.store = store.NewMemory(store.Options{Now: b.clock.Now, Logger: quiet})
	t.Cleanup(func() { _ = b.store.Close() })
	cfg := archivist.DefaultConfig()
	if opts.strategy != "" {
		cfg.Strategy = opts.strategy
	}
	b.settings.Store(&cfg)
	sc := scheduler.Config{
		Store:       b.store,
		Settings:    func() archivist.Config { return *b.settings.Load() },
		ClaimWithin: opts.claimWithin,
		Env:         lifecycle.Env{Logger: quiet, Now: b.clock.Now},
	}
	if opts.local != nil {
		sc.Local = func() scheduler.LocalPool { return opts.local }
	}
	b.sched = scheduler.New(sc)
	lease, err := b.store.Campaign(b.ctx, "leader", 24*time.Hour)
	if err != nil {
		t.Fatalf("Campaign: %v", err)
	}
	b.lease = lease
	return b
}

// heartbeat writes a node into the store as it would describe itself now:
// a WORKER with 4 workers and a 1s heartbeat unless mod says otherwise.
func (b *bundle) heartbeat(t *testing.T, id string, mod func(n *archivist.Node)) {
	t.Helper()
	n := &archivist.Node{ID: id, Name: id, Role: archivist.RoleWorker, Workers: 4,
		Interval: time.Second, LastHeartbeat: b.clock.Now(), StartedAt: b.clock.Now()}
	if mod != nil {
		mod(n)
	}
	if _, err := b.store.Heartbeat(b.ctx, n); err != nil {
		t.Fatalf("Heartbeat(%s): %v", id, err)
	}
}

// submit stores a task and returns its id.
func (b *bundle) submit(t *testing.T, task *archivist.Task) string {
	t.Helper()
	if task.Type == "" {
		task.Type = "echo"
	}
	if task.Priority == "" {
		task.Priority = archivist.PriorityNormal
	}
	if task.Timeout == 0 {
		task.Timeout = time.Minute
	}
	if err := b.store.CreateTasks(b.ctx, []*archivist.Task{task}); err != nil {
		t.Fatalf("CreateTasks: %v", err)
	}
	return task.ID
}

func (b *bundle) runOnce(t *testing.T) {
	t.Helper()
	if err := b.sched.RunOnce(b.ctx, b.lease); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
}

func (b *bundle) task(t *testing.T, id string) *archivist.Task {
	t.Helper()
	return getTask(t, b.store, id)
}

// runAssigned starts and finishes every task assigned to node, as its worker
// would, freeing its slots; it returns their ids in claim order.
func (b *bundle) runAssigned(t *testing.T, node string) []string {
	t.Helper()
	claimed, err := b.store.ClaimTasks(b.ctx, node, 1000, time.Second)
	if err != nil {
		t.Fatalf("ClaimTasks(%s): %v", node, err)
	}
	for _, task := range claimed {
		if _, err := b.store.CompleteTask(b.ctx, task.ID, task.Attempt, []byte(`{}`)); err != nil {
			t.Fatalf("CompleteTask(%s): %v", task.ID, err)
		}
	}
	return ids(claimed)
}

func TestSchedulerPriorityOrder(t *testing.T) {
	t.Parallel()
	submissions := []struct {
		id   string
		prio archivist.Priority
	}{
		{"low-1", archivist.PriorityLow},
		{"normal-1", archivist.PriorityNormal},
		{"critical-1", archivist.PriorityCritical},
		{"high-1", archivist.PriorityHigh},
		{"low-2", archivist.PriorityLow},
		{"critical-2", archivist.PriorityCritical},
		{"normal-2", archivist.PriorityNormal},
		{"high-2", archivist.PriorityHigh},
		{"critical-3", archivist.PriorityCritical},
		{"low-3", archivist.PriorityLow},
	}
	want := []string{"critical-1", "critical-2", "critical-3", "high-1", "high-2", "normal-1", "normal-2", "low-1", "low-2", "low-3"}

	for _, slots := range []int{1, 3} {
		for _, strategy := range []archivist.LoadBalancingStrategy{archivist.StrategyRoundRobin, archivist.StrategyLeastBusy, archivist.StrategyCapabilityBased} {
			t.Run(fmt.Sprintf("%s/slots=%d", strategy, slots), func(t *testing.T) {
				t.Parallel()
				b := setup(t, setupOpts{strategy: strategy})
				// The only worker has no slot while the tasks arrive.
				b.heartbeat(t, "w1", func(n *archivist.Node) { n.Workers = 0 })
				for _, s := range submissions {
					b.submit(t, &archivist.Task{ID: s.id, Priority: s.prio})
				}
				b.runOnce(t)
				if got := tasksIn(t, b.store, archivist.TaskPending); len(got) != len(submissions) {
					t.Fatalf("with no free slot, %d tasks are PENDING, want all %d", len(got), len(submissions))
				}

				b.heartbeat(t, "w1", func(n *archivist.Node) { n.Workers = slots })
				var order []string
				for round := 0; len(order) < len(want); round++ {
					if round > len(want) {
						t.Fatalf("no progress after %d rounds; assigned so far %v", round, order)
					}
					b.runOnce(t)
					assigned := tasksIn(t, b.store, archivist.TaskAssigned)
					if wantN := min(slots, len(want)-len(order)); len(assigned) != wantN {
						t.Fatalf("round %d: %d tasks ASSIGNED (%v), want %d: the node's free slots", round, len(assigned), ids(assigned), wantN)
					}
					for _, task := range assigned {
						if task.NodeID != "w1" {
							t.Errorf("task %s assigned to %q, want w1", task.ID, task.NodeID)
						}
					}
					order = append(order, b.runAssigned(t, "w1")...)
				}
				if diff := cmp.Diff(want, order); diff != "" {
					t.Errorf("assignment order (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// Nodes that are busy, draining, offline, local or cannot run tasks get no
// new tasks, whatever the strategy; an ONLINE WORKER or HYBRID does.
func TestSchedulerSkipsUnavailableNodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mod      func(n *archivist.Node)
		draining bool
		want     bool
	}{
		{name: "online worker", want: true},
		{name: "online hybrid", mod: func(n *archivist.Node) { n.Role = archivist.RoleHybrid }, want: true},
		{name: "busy", mod: func(n *archivist.Node) { n.Busy = true }},
		{name: "draining", draining: true},
		{name: "offline", mod: func(n *archivist.Node) { n.LastHeartbeat = n.LastHeartbeat.Add(-4 * time.Second) }},
		{name: "local", mod: func(n *archivist.Node) { n.Local = true }},
		{name: "master only", mod: func(n *archivist.Node) { n.Role = archivist.RoleMaster }},
		{name: "no handler for the type", mod: func(n *archivist.Node) { n.TaskTypes = []string{"sleep"} }},
		{name: "no free slot", mod: func(n *archivist.Node) { n.Workers = 0 }},
	}
	for _, strategy := range []archivist.LoadBalancingStrategy{archivist.StrategyRoundRobin, archivist.StrategyLeastBusy, archivist.StrategyCapabilityBased} {
		for _, tt := range tests {
			t.Run(string(strategy)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, setupOpts{strategy: strategy})
				b.heartbeat(t, "n1", tt.mod)
				if tt.draining {
					if _, err := b.store.SetDraining(b.ctx, "n1", true); err != nil {
						t.Fatalf("SetDraining: %v", err)
					}
				}
				a := b.submit(t, &archivist.Task{})
				c := b.submit(t, &archivist.Task{})
				b.runOnce(t)
				for _, id := range []string{a, c} {
					task := b.task(t, id)
					switch {
					case tt.want && (task.Status != archivist.TaskAssigned || task.NodeID != "n1"):
						t.Errorf("task %s is %s on %q, want ASSIGNED on n1", id, task.Status, task.NodeID)
					case !tt.want && task.Status != archivist.TaskPending:
						t.Errorf("task %s is %s on %q, want PENDING: the node must get nothing", id, task.Status, task.NodeID)
					}
				}
			})
		}
	}
}

// With unavailable nodes around, everything goes to the one node that can
// take work.
func TestSchedulerPlacesOnlyOnAvailableNode(t *testing.T) {
	t.Parallel()
	for _, strategy := range []archivist.LoadBalancingStrategy{archivist.StrategyRoundRobin, archivist.StrategyLeastBusy, archivist.StrategyCapabilityBased} {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{strategy: strategy})
			big := func(n *archivist.Node) { n.Workers = 100 }
			b.heartbeat(t, "a-busy", func(n *archivist.Node) { big(n); n.Busy = true })
			b.heartbeat(t, "b-draining", big)
			if _, err := b.store.SetDraining(b.ctx, "b-draining", true); err != nil {
				t.Fatalf("SetDraining: %v", err)
			}
			b.heartbeat(t, "c-offline", func(n *archivist.Node) { big(n); n.LastHeartbeat = n.LastHeartbeat.Add(-time.Minute) })
			b.heartbeat(t, "d-local", func(n *archivist.Node) { big(n); n.Role = archivist.RoleHybrid; n.Local = true })
			b.heartbeat(t, "e-master", func(n *archivist.Node) { big(n); n.Role = archivist.RoleMaster })
			b.heartbeat(t, "f-good", func(n *archivist.Node) { n.Workers = 8 })
			for range 20 {
				b.submit(t, &archivist.Task{})
			}
			b.runOnce(t)
			loads, err := b.store.NodeLoads(b.ctx)
			if err != nil {
				t.Fatalf("NodeLoads: %v", err)
			}
			if diff := cmp.Diff(map[string]int{"f-good": 8}, loads); diff != "" {
				t.Errorf("node loads after a round (-want +got):\n%s", diff)
			}
		})
	}
}

// A node that stops heartbeating loses its tasks at the next round: they go
// back to PENDING at once (a requeue, not a failure), and are placed again
// on a live node if there is one.
func TestSchedulerRequeuesTasksOfOfflineNode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		otherNode bool
		removed   bool
	}{
		{name: "no other node"},
		{name: "another node takes them", otherNode: true},
		{name: "node removed from the store", removed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			b.heartbeat(t, "lost", nil)
			running := b.submit(t, &archivist.Task{ID: "running"})
			assigned := b.submit(t, &archivist.Task{ID: "assigned"})
			b.runOnce(t)
			claimed, err := b.store.ClaimTasks(b.ctx, "lost", 1, time.Second)
			if err != nil || len(claimed) != 1 || claimed[0].ID != running {
				t.Fatalf("ClaimTasks: %v, %v; want task %s started", ids(claimed), err, running)
			}
			if got := b.task(t, assigned); got.Status != archivist.TaskAssigned {
				t.Fatalf("task %s is %s, want ASSIGNED", assigned, got.Status)
			}

			// Four 1s intervals without a heartbeat: offline (3 missed).
			b.clock.Advance(4 * time.Second)
			if tt.removed {
				if err := b.store.RemoveNode(b.ctx, "lost"); err != nil {
					t.Fatalf("RemoveNode: %v", err)
				}
			}
			if tt.otherNode {
				b.heartbeat(t, "spare", nil)
			}
			b.runOnce(t)

			for _, id := range []string{running, assigned} {
				task := b.task(t, id)
				wantStatus, wantNode := archivist.TaskPending, "lost"
				if tt.otherNode {
					wantStatus, wantNode = archivist.TaskAssigned, "spare"
				}
				if task.Status != wantStatus || task.NodeID != wantNode {
					t.Errorf("task %s is %s on %q, want %s on %q", id, task.Status, task.NodeID, wantStatus, wantNode)
				}
				if task.Requeues != 1 || task.Failures != 0 {
					t.Errorf("task %s has %d requeues and %d failures, want 1 and 0", id, task.Requeues, task.Failures)
				}
			}
			if got := b.task(t, running).Attempt; got != 1 {
				t.Errorf("the started task is at attempt %d, want 1", got)
			}

			// Nothing is put back twice.
			b.runOnce(t)
			for _, id := range []string{running, assigned} {
				if got := b.task(t, id).Requeues; got != 1 {
					t.Errorf("task %s has %d requeues after another round, want 1", id, got)
				}
			}
		})
	}
}

// Leases that run out are taken back by a round: an assigned task that its
// node did not start in time is placed again; a running task that went
// silent past its timeout counts as a timed-out attempt.
func TestSchedulerRecoversExpiredLeases(t *testing.T) {
	t.Parallel()
	const claimWithin = 2 * time.Second
	tests := []struct {
		name       string
		maxRetries int
		start      bool // claim the task so that it runs
		cancel     bool // request a cancel while it runs
		advance    time.Duration
		want       archivist.TaskStatus
		wantFail   int
		wantErr    string
	}{
		{name: "assigned, not started in time", advance: claimWithin + time.Second, want: archivist.TaskPending},
		{name: "assigned, lease still running", advance: claimWithin / 2, want: archivist.TaskAssigned},
		{name: "running past its lease, retries left", start: true, maxRetries: 2, advance: 3 * time.Second,
			want: archivist.TaskRetrying, wantFail: 1, wantErr: "timed out"},
		{name: "running past its lease, no retry left", start: true, advance: 3 * time.Second,
			want: archivist.TaskTimedOut, wantFail: 1, wantErr: "timed out"},
		{name: "running past its lease, cancel requested", start: true, maxRetries: 2, cancel: true, advance: 3 * time.Second,
			want: archivist.TaskCancelled},
		{name: "running, lease still running", start: true, advance: 1500 * time.Millisecond, want: archivist.TaskInProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{claimWithin: claimWithin})
			// A slow heartbeat keeps the node online throughout: only the
			// task leases run out.
			b.heartbeat(t, "n1", func(n *archivist.Node) { n.Interval = time.Hour })
			id := b.submit(t, &archivist.Task{Timeout: time.Second, MaxRetries: tt.maxRetries})
			b.runOnce(t)
			if got := b.task(t, id); got.Status != archivist.TaskAssigned {
				t.Fatalf("task is %s, want ASSIGNED", got.Status)
			}
			if tt.start {
				// Lease: the 1s timeout plus 1s grace.
				if claimed, err := b.store.ClaimTasks(b.ctx, "n1", 1, time.Second); err != nil || len(claimed) != 1 {
					t.Fatalf("ClaimTasks: %v, %v", ids(claimed), err)
				}
			}
			if tt.cancel {
				if _, err := b.store.CancelTask(b.ctx, id); err != nil {
					t.Fatalf("CancelTask: %v", err)
				}
			}
			// Keep the node from being placed on again, so that the round's
			// effect on the task stays visible.
			if _, err := b.store.SetDraining(b.ctx, "n1", true); err != nil {
				t.Fatalf("SetDraining: %v", err)
			}
			b.clock.Advance(tt.advance)
			b.runOnce(t)

			task := b.task(t, id)
			if task.Status != tt.want {
				t.Fatalf("task is %s (error %q), want %s", task.Status, task.Error, tt.want)
			}
			if task.Failures != tt.wantFail || task.Requeues != 0 {
				t.Errorf("task has %d failures and %d requeues, want %d and 0", task.Failures, task.Requeues, tt.wantFail)
			}
			if !strings.Contains(task.Error, tt.wantErr) {
				t.Errorf("task error %q, want it to mention %q", task.Error, tt.wantErr)
			}
		})
	}
}
