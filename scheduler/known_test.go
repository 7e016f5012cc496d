package scheduler_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
)

// readCounter counts the ready-queue reads of a store.
type readCounter struct {
	archivist.Store
	reads atomic.Int64
}

func (s *readCounter) ReadyTasks(ctx context.Context, limit int) ([]*archivist.Task, error) {
	s.reads.Add(1)
	return s.Store.ReadyTasks(ctx, limit)
}

// knownSetup runs a leader's scheduler on a memory store whose only node,
// w, has workers slots, with no periodic round during the test (the
// heartbeat interval is an hour): every round comes from an event.
func knownSetup(t *testing.T, workers int) (*readCounter, archivist.Store) {
	t.Helper()
	mem := newMemoryStore(t)
	st := &readCounter{Store: mem}
	ctx := context.Background()
	cfg := archivist.DefaultConfig()
	cfg.HeartbeatInterval = time.Hour
	n := &archivist.Node{ID: "w", Role: archivist.RoleWorker, Workers: workers, Interval: time.Hour,
		LastHeartbeat: time.Now(), StartedAt: time.Now()}
	if _, err := mem.Heartbeat(ctx, n); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	startScheduler(t, mem, st, cfg)
	synctest.Wait() // elected, and its first round (a read) done
	return st, mem
}

func submitOne(t *testing.T, st archivist.Store, p archivist.Priority) *archivist.Task {
	t.Helper()
	task := &archivist.Task{Type: "echo", Priority: p, Timeout: time.Hour}
	if err := st.CreateTasks(context.Background(), []*archivist.Task{task}); err != nil {
		t.Fatalf("CreateTasks: %v", err)
	}
	return task
}

// A leader places the tasks it saw created without reading the queue back
// while it knows the queue held nothing else; a task that became PENDING
// another way (put back from a lost node) makes it read the queue, and is
// placed at once, not at the next periodic round.
func TestSchedulerPlacesWhatItSawCreated(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st, mem := knownSetup(t, 100)
		ctx := context.Background()
		first := submitOne(t, mem, archivist.PriorityNormal)
		synctest.Wait()
		if got := getTask(t, mem, first.ID); got.Status != archivist.TaskAssigned {
			t.Fatalf("first task %s, want ASSIGNED", got.Status)
		}
		reads := st.reads.Load()
		var ids []string
		for range 20 {
			task := submitOne(t, mem, archivist.PriorityNormal)
			synctest.Wait()
			if got := getTask(t, mem, task.ID); got.Status != archivist.TaskAssigned || got.NodeID != "w" {
				t.Fatalf("task %s is %s on %q, want ASSIGNED on w", task.ID, got.Status, got.NodeID)
			}
			ids = append(ids, task.ID)
		}
		if n := st.reads.Load() - reads; n != 0 {
			t.Errorf("%d reads of the ready queue for 20 submissions one by one, want none", n)
		}

		// Put back: the tasks of w go back to PENDING (task.requeued).
		back, err := mem.RequeueNode(ctx, storeLeader(t, mem), "w")
		if err != nil || len(back) != 21 {
			t.Fatalf("RequeueNode: %d tasks, %v", len(back), err)
		}
		reads = st.reads.Load()
		synctest.Wait()
		for _, id := range append(ids, first.ID) {
			if got := getTask(t, mem, id); got.Status != archivist.TaskAssigned || got.Requeues != 1 {
				t.Fatalf("task %s put back is %s (requeues %d), want ASSIGNED again", id, got.Status, got.Requeues)
			}
		}
		if st.reads.Load() == reads {
			t.Error("the tasks put back were placed without reading the queue")
		}
	})
}

// Tasks known from events are placed in the queue's order: priority first,
// then submission; those there is no room for wait, and go next.
func TestSchedulerKnownQueueKeepsOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st, mem := knownSetup(t, 1)
		ctx := context.Background()
		low := &archivist.Task{Type: "echo", Priority: archivist.PriorityLow, Timeout: time.Hour}
		low2 := &archivist.Task{Type: "echo", Priority: archivist.PriorityLow, Timeout: time.Hour}
		high := &archivist.Task{Type: "echo", Priority: archivist.PriorityHigh, Timeout: time.Hour}
		reads := st.reads.Load()
		if err := mem.CreateTasks(ctx, []*archivist.Task{low, low2, high}); err != nil {
			t.Fatalf("CreateTasks: %v", err)
		}
		synctest.Wait()
		if got := getTask(t, mem, high.ID); got.Status != archivist.TaskAssigned {
			t.Fatalf("the HIGH task is %s, want ASSIGNED before the LOW ones submitted first", got.Status)
		}
		for _, id := range []string{low.ID, low2.ID} {
			if got := getTask(t, mem, id); got.Status != archivist.TaskPending {
				t.Fatalf("LOW task %s, want PENDING (one slot)", got.Status)
			}
		}
		// The slot frees: the first LOW task goes next.
		claimed, err := mem.ClaimTasks(ctx, "w", 1, time.Hour)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("ClaimTasks: %v, %v", claimed, err)
		}
		if _, err := mem.CompleteTask(ctx, high.ID, claimed[0].Attempt, nil); err != nil {
			t.Fatalf("CompleteTask: %v", err)
		}
		synctest.Wait()
		if got := getTask(t, mem, low.ID); got.Status != archivist.TaskAssigned {
			t.Fatalf("the first LOW task is %s after the slot freed, want ASSIGNED", got.Status)
		}
		if got := getTask(t, mem, low2.ID); got.Status != archivist.TaskPending {
			t.Fatalf("the second LOW task is %s, want PENDING", got.Status)
		}
		if n := st.reads.Load() - reads; n != 0 {
			t.Errorf("%d reads of the ready queue, want none", n)
		}
	})
}
