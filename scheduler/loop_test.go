package scheduler_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// The running scheduler takes back the tasks of a node that stopped
// heartbeating within a few intervals, also while the rest of the cluster
// keeps it busy with wake-ups (heartbeats of live nodes, new tasks): the
// maintenance round must not wait for a quiet heartbeat interval. It runs
// on synctest's fake clock, so the intervals are exact however loaded the
// machine is.
func TestSchedulerMaintainsWhileWokenOften(t *testing.T) {
	t.Parallel()
	const interval = 100 * time.Millisecond
	tests := []struct {
		name string
		// live nodes heartbeat in turn, one every interval/live, so each
		// heartbeats once per interval, as real nodes do.
		live int
	}{
		{name: "no other node", live: 0},
		{name: "four live nodes heartbeating", live: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				st := newMemoryStore(t)
				ctx := context.Background()
				cfg := archivist.DefaultConfig()
				cfg.HeartbeatInterval = interval
				heartbeat := func(id string, workers int) {
					n := &archivist.Node{ID: id, Role: archivist.RoleWorker, Workers: workers, Interval: interval,
						LastHeartbeat: time.Now(), StartedAt: time.Now()}
					if _, err := st.Heartbeat(ctx, n); err != nil {
						t.Errorf("Heartbeat(%s): %v", id, err)
					}
				}
				heartbeat("dead", 1)
				for i := range tt.live {
					heartbeat(fmt.Sprintf("live-%d", i), 0)
				}

				startScheduler(t, st, st, cfg)

				// The scheduler places the task on the only node with a slot,
				// which starts it and then dies.
				task := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Hour}
				if err := st.CreateTasks(ctx, []*archivist.Task{task}); err != nil {
					t.Fatalf("CreateTasks: %v", err)
				}
				testkit.Eventually(t, wait, func() bool { return getTask(t, st, task.ID).Status == archivist.TaskAssigned },
					"the task was not placed")
				if claimed, err := st.ClaimTasks(ctx, "dead", 1, time.Hour); err != nil || len(claimed) != 1 {
					t.Fatalf("ClaimTasks: %v, %v", ids(claimed), err)
				}

				if tt.live > 0 {
					hbCtx, stop := context.WithCancel(context.Background())
					done := make(chan struct{})
					go func() {
						defer close(done)
						tick := time.NewTicker(interval / time.Duration(tt.live))
						defer tick.Stop()
						for i := 0; ; i++ {
							select {
							case <-hbCtx.Done():
								return
							case <-tick.C:
							}
							heartbeat(fmt.Sprintf("live-%d", i%tt.live), 0)
						}
					}()
					t.Cleanup(func() { stop(); <-done })
				}

				// Offline after 3 missed intervals (300ms); put back at the next
				// maintenance round after that.
				start := time.Now()
				testkit.Eventually(t, 3*time.Second, func() bool { return getTask(t, st, task.ID).Requeues > 0 },
					"the task of the dead node was never put back")
				t.Logf("put back after %s", time.Since(start))
			})
		})
	}
}

// Tasks that no node can take now do not hold back the ones behind them,
// however many of them wait in front.
func TestSchedulerUnplaceableTasksDoNotBlock(t *testing.T) {
	t.Parallel()
	for _, blocked := range []int{10, 100, 300} {
		for _, strategy := range []archivist.LoadBalancingStrategy{archivist.StrategyRoundRobin, archivist.StrategyCapabilityBased} {
			t.Run(fmt.Sprintf("%s/%d in front", strategy, blocked), func(t *testing.T) {
				t.Parallel()
				b := setup(t, setupOpts{strategy: strategy})
				b.heartbeat(t, "text", func(n *archivist.Node) {
					n.TaskTypes = []string{"echo", "text.upper"}
					n.Capabilities = []string{"text.*", "echo"}
				})
				var front []*archivist.Task
				for range blocked {
					front = append(front, &archivist.Task{Type: "image.resize", Priority: archivist.PriorityCritical, Timeout: time.Minute})
				}
				if err := b.store.CreateTasks(b.ctx, front); err != nil {
					t.Fatalf("CreateTasks: %v", err)
				}
				behind := b.submit(t, &archivist.Task{Type: "echo", Priority: archivist.PriorityLow})
				b.runOnce(t)
				if task := b.task(t, behind); task.Status != archivist.TaskAssigned || task.NodeID != "text" {
					t.Errorf("the echo task behind %d image tasks no node handles is %s on %q, want ASSIGNED on text",
						blocked, task.Status, task.NodeID)
				}
				if got := len(tasksIn(t, b.store, archivist.TaskPending)); got != blocked {
					t.Errorf("%d tasks PENDING, want the %d image tasks", got, blocked)
				}
			})
		}
	}
}
