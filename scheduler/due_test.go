package scheduler_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
)

// A delayed task, and a failed one waiting out its backoff, are placed as
// soon as they are due, not at the next maintenance round: the scheduler
// sleeps until the store's NextDue (or the due time an event carries),
// here with a heartbeat interval of an hour. It runs on synctest's fake
// clock, so "on time" is exact.
func TestSchedulerWakesWhenDue(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := newMemoryStore(t)
		ctx := context.Background()
		cfg := archivist.DefaultConfig()
		cfg.HeartbeatInterval = time.Hour
		n := &archivist.Node{ID: "w", Role: archivist.RoleWorker, Workers: 4, Interval: time.Hour,
			LastHeartbeat: time.Now(), StartedAt: time.Now()}
		if _, err := st.Heartbeat(ctx, n); err != nil {
			t.Fatalf("Heartbeat: %v", err)
		}
		// One task is SCHEDULED before the scheduler starts (found through
		// NextDue), the other after (found through its event).
		early := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Hour, MaxRetries: 3, Delay: 3 * time.Second}
		if err := st.CreateTasks(ctx, []*archivist.Task{early}); err != nil {
			t.Fatalf("CreateTasks: %v", err)
		}
		startScheduler(t, st, st, cfg)
		start := time.Now()
		late := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Hour, Delay: 5 * time.Second}
		if err := st.CreateTasks(ctx, []*archivist.Task{late}); err != nil {
			t.Fatalf("CreateTasks: %v", err)
		}

		at := func(d time.Duration) {
			time.Sleep(start.Add(d).Sub(time.Now()))
			synctest.Wait()
		}
		status := func(task *archivist.Task) archivist.TaskStatus { return getTask(t, st, task.ID).Status }
		at(2900 * time.Millisecond)
		if got := status(early); got != archivist.TaskScheduled {
			t.Fatalf("before its time the first task is %s, want SCHEDULED", got)
		}
		at(3001 * time.Millisecond)
		if got := status(early); got != archivist.TaskAssigned {
			t.Fatalf("just after its time the first task is %s, want ASSIGNED", got)
		}
		if got := status(late); got != archivist.TaskScheduled {
			t.Fatalf("the second task is %s at 3s, want SCHEDULED until 5s", got)
		}
		at(5001 * time.Millisecond)
		if got := status(late); got != archivist.TaskAssigned {
			t.Fatalf("just after its time the second task is %s, want ASSIGNED", got)
		}

		// A failure with a 2s backoff is placed again 2s later.
		claimed, err := st.ClaimTasks(ctx, "w", 1, time.Hour)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("ClaimTasks: %v, %v", ids(claimed), err)
		}
		failed, err := st.FailTask(ctx, claimed[0].ID, claimed[0].Attempt, archivist.Failure{Error: "boom",
			Retry: archivist.RetryPolicy{Base: 2 * time.Second, Max: 2 * time.Second}})
		if err != nil || failed.Status != archivist.TaskRetrying {
			t.Fatalf("FailTask: %v, %v", failed, err)
		}
		wait := failed.RunAt.Sub(time.Now())
		time.Sleep(wait - 10*time.Millisecond)
		synctest.Wait()
		if got := status(failed); got != archivist.TaskRetrying {
			t.Fatalf("before its backoff ended the task is %s, want RETRYING", got)
		}
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		if got := status(failed); got != archivist.TaskAssigned {
			t.Fatalf("just after its backoff the task is %s, want ASSIGNED again", got)
		}
	})
}
