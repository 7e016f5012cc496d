package scheduler_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/scheduler"
)

// hangingStore counts subscriptions and, once stuck, blocks the leader's
// maintenance (RecoverExpired) until block is closed, whatever its context
// says: a store call that hangs.
type hangingStore struct {
	archivist.Store
	subscribes atomic.Int32
	stuck      atomic.Bool
	block      chan struct{}
}

func (s *hangingStore) Subscribe(ctx context.Context, after uint64) (archivist.Subscription, error) {
	s.subscribes.Add(1)
	return s.Store.Subscribe(ctx, after)
}

func (s *hangingStore) RecoverExpired(ctx context.Context, lease archivist.Lease, retry archivist.RetryPolicy) ([]*archivist.Task, error) {
	if s.stuck.Load() {
		<-s.block
	}
	return s.Store.RecoverExpired(ctx, lease, retry)
}

// leadingScheduler is a stopped scheduler whose node leads alone, over st,
// on a heartbeat interval of a second, with one worker node to place on.
func leadingScheduler(t *testing.T, st archivist.Store) *scheduler.Scheduler {
	t.Helper()
	cfg := archivist.DefaultConfig()
	cfg.HeartbeatInterval = time.Second
	n := &archivist.Node{ID: "w1", Role: archivist.RoleWorker, Workers: 100,
		Interval: time.Hour, LastHeartbeat: time.Now(), StartedAt: time.Now()}
	if _, err := st.Heartbeat(context.Background(), n); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	e := startElector(t, st, "m1", time.Minute)
	s := scheduler.New(scheduler.Config{Store: st, Elector: e, Env: lifecycle.Env{Logger: quiet},
		Settings: func() archivist.Config { return cfg }})
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

// submitAndWait submits a task and waits until the scheduler placed it.
func submitAndWait(t *testing.T, st archivist.Store) {
	t.Helper()
	task := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute}
	if err := st.CreateTasks(context.Background(), []*archivist.Task{task}); err != nil {
		t.Fatalf("CreateTasks: %v", err)
	}
	synctest.Wait()
	if got := getTask(t, st, task.ID); got.Status != archivist.TaskAssigned {
		t.Fatalf("task %s is %s once the scheduler settled, want ASSIGNED", task.ID, got.Status)
	}
}

// Start is idempotent (one subscription, one loop); Stop then Start runs
// the scheduler again, and it places again.
func TestSchedulerStartIdempotentAndRestartable(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := &hangingStore{Store: newMemoryStore(t)}
		s := leadingScheduler(t, st)
		started := s.Started()
		for range 3 {
			if err := s.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
		}
		testkit.Signal(t, started, time.Second, "Started")
		if got := st.subscribes.Load(); got != 1 {
			t.Fatalf("three Starts subscribed %d times, want 1", got)
		}
		submitAndWait(t, st)

		if err := s.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		testkit.Signal(t, s.Stopped(), time.Second, "Stopped")
		if s.Running() {
			t.Fatal("running after Stop")
		}
		// A stopped scheduler places nothing.
		idle := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute}
		if err := st.CreateTasks(context.Background(), []*archivist.Task{idle}); err != nil {
			t.Fatalf("CreateTasks: %v", err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if got := getTask(t, st, idle.ID); got.Status != archivist.TaskPending {
			t.Fatalf("a stopped scheduler placed task %s (%s)", idle.ID, got.Status)
		}

		if err := s.Start(t.Context()); err != nil {
			t.Fatalf("Start after Stop: %v", err)
		}
		testkit.Signal(t, s.Started(), time.Second, "Started after a restart")
		if got := st.subscribes.Load(); got != 2 {
			t.Fatalf("a restart subscribed %d times in all, want 2", got)
		}
		// The task left waiting is placed at the next round, at the latest
		// a heartbeat interval on.
		time.Sleep(time.Second)
		synctest.Wait()
		if got := getTask(t, st, idle.ID); got.Status != archivist.TaskAssigned {
			t.Fatalf("the restarted scheduler left task %s %s, want ASSIGNED", idle.ID, got.Status)
		}
		submitAndWait(t, st)
	})
}

// Stop is bounded by its context: with the loop stuck in the store, Stop
// gives up when its context ends; once the store answers, a later Stop
// returns and the scheduler starts again.
func TestSchedulerStopBoundedByContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := &hangingStore{Store: newMemoryStore(t), block: make(chan struct{})}
		s := leadingScheduler(t, st)
		if err := s.Start(t.Context()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		st.stuck.Store(true)
		time.Sleep(time.Second + time.Millisecond) // the maintenance round is due, and hangs
		synctest.Wait()

		testkit.StopGivesUp(t, s.Stop, time.Second, "the loop stuck")
		st.stuck.Store(false)
		close(st.block)
		if err := s.Stop(context.Background()); err != nil {
			t.Fatalf("a second Stop once the store answers: %v", err)
		}
		if err := s.Start(t.Context()); err != nil {
			t.Fatalf("Start after a Stop that gave up: %v", err)
		}
		submitAndWait(t, st)
	})
}
