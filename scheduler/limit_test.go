package scheduler_test

import (
	"context"
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
)

// The leader places around limits: with maxConcurrent 2 on sleep it
// assigns two sleep tasks and the echo tasks queued behind the three held
// ones, places a held one when a slot comes back, and wakes for a rate
// limit's next token (NextDue) rather than at its next maintenance round
// (an hour here). It runs on synctest's fake clock.
func TestSchedulerPlacesUnderLimits(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := newMemoryStore(t)
		ctx := context.Background()
		cfg := archivist.DefaultConfig()
		cfg.HeartbeatInterval = time.Hour
		n := &archivist.Node{ID: "w", Role: archivist.RoleWorker, Workers: 10, Interval: time.Hour,
			LastHeartbeat: time.Now(), StartedAt: time.Now()}
		if _, err := st.Heartbeat(ctx, n); err != nil {
			t.Fatalf("Heartbeat: %v", err)
		}
		for _, l := range []archivist.Limit{{TaskType: "sleep", MaxConcurrent: 2}, {TaskType: "echo", RatePerSecond: 2, Burst: 1}} {
			nl, err := archivist.NewLimit(l, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.SetLimit(ctx, nl); err != nil {
				t.Fatalf("SetLimit: %v", err)
			}
		}
		var sleeps, echoes []*archivist.Task
		for range 5 {
			sleeps = append(sleeps, &archivist.Task{Type: "sleep", Input: json.RawMessage(`{"ms":1}`), Priority: archivist.PriorityNormal, Timeout: time.Hour})
		}
		for range 3 {
			echoes = append(echoes, &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Hour})
		}
		if err := st.CreateTasks(ctx, sleeps); err != nil {
			t.Fatalf("CreateTasks: %v", err)
		}
		startScheduler(t, st, st, cfg)
		start := time.Now()
		at := func(d time.Duration) {
			time.Sleep(start.Add(d).Sub(time.Now()))
			synctest.Wait()
		}
		assigned := func(tasks []*archivist.Task) (out []*archivist.Task) {
			for _, task := range tasks {
				if got := getTask(t, st, task.ID); got.Status == archivist.TaskAssigned {
					out = append(out, got)
				}
			}
			return out
		}
		at(10 * time.Millisecond)
		if got := assigned(sleeps); len(got) != 2 || got[0].ID != sleeps[0].ID || got[1].ID != sleeps[1].ID {
			t.Fatalf("assigned sleep tasks %v, want the first two", ids(got))
		}
		if got := getTask(t, st, sleeps[2].ID); got.HeldBy != archivist.HeldByLimit("type=sleep") {
			t.Errorf("the third sleep task is held by %q", got.HeldBy)
		}
		// Submitted once the leader runs (its first round reads NextDue
		// anyway), the echo tasks start at 2 per second.
		if err := st.CreateTasks(ctx, echoes); err != nil {
			t.Fatalf("CreateTasks: %v", err)
		}
		at(20 * time.Millisecond)
		if got := assigned(echoes); len(got) != 1 {
			t.Fatalf("assigned echo tasks at once %v, want one (a burst of 1)", ids(got))
		}
		at(500 * time.Millisecond)
		if got := assigned(echoes); len(got) != 1 {
			t.Fatalf("assigned echo tasks after 490ms %v, want one (2 per second)", ids(got))
		}
		at(520 * time.Millisecond)
		if got := assigned(echoes); len(got) != 2 {
			t.Fatalf("assigned echo tasks after 510ms %v, want two", ids(got))
		}
		at(1020 * time.Millisecond)
		if got := assigned(echoes); len(got) != 3 {
			t.Fatalf("assigned echo tasks after 1010ms %v, want all three", ids(got))
		}

		claimed, err := st.ClaimTask(ctx, "w", sleeps[0].ID, time.Hour)
		if err != nil {
			t.Fatalf("ClaimTask: %v", err)
		}
		if _, err := st.CompleteTask(ctx, claimed.ID, claimed.Attempt, json.RawMessage(`{}`)); err != nil {
			t.Fatalf("CompleteTask: %v", err)
		}
		synctest.Wait()
		if got := assigned(sleeps); len(got) != 2 || got[1].ID != sleeps[2].ID {
			t.Errorf("after a sleep task completed the assigned ones are %v, want %s and %s", ids(got), sleeps[1].ID, sleeps[2].ID)
		}
	})
}
