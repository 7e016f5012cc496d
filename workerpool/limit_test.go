package workerpool_test

import (
	"sort"
	"testing"

	"github.com/rpg-archivist/archivist"
)

// With distributed processing off, a node starts the tasks submitted to it
// itself: a limit still bounds them, and the ones it held back start as
// slots come back, none left PENDING for ever.
func TestPoolLocalTasksKeepLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	settings := b.cfg.Settings()
	settings.Enabled = false
	b.cfg.Settings = func() archivist.Config { return settings }
	l, err := archivist.NewLimit(archivist.Limit{TaskType: "sleep", MaxConcurrent: 1}, b.reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.SetLimit(b.ctx, l); err != nil {
		t.Fatal(err)
	}
	pool := b.start(t)
	ids := b.create(t, newTask("sleep", `{"ms": 30}`), newTask("sleep", `{"ms": 30}`), newTask("sleep", `{"ms": 30}`))
	pool.RunLocal(ids...)
	var done []*archivist.Task
	for _, id := range ids {
		got := b.waitStatus(t, id, wait, archivist.TaskCompleted, archivist.TaskFailed)
		if got.Status != archivist.TaskCompleted {
			t.Fatalf("task %s: %s %s", id, got.Status, got.Error)
		}
		done = append(done, got)
	}
	sort.Slice(done, func(i, j int) bool { return done[i].StartedAt.Before(done[j].StartedAt) })
	for i := 1; i < len(done); i++ {
		if done[i].StartedAt.Before(done[i-1].CompletedAt) {
			t.Errorf("task %s started at %s, before %s completed (%s): two ran at once under a limit of 1",
				done[i].ID, done[i].StartedAt, done[i-1].ID, done[i-1].CompletedAt)
		}
	}
}

// A paused type's local task waits, and starts once the type is resumed.
func TestPoolLocalTasksWaitWhilePaused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	settings := b.cfg.Settings()
	settings.Enabled = false
	b.cfg.Settings = func() archivist.Config { return settings }
	if _, err := b.store.PauseTaskType(b.ctx, "echo", true); err != nil {
		t.Fatal(err)
	}
	pool := b.start(t)
	ids := b.create(t, newTask("echo", `1`))
	pool.RunLocal(ids...)
	// A later task of another type runs: the local queue is not blocked.
	other := b.create(t, newTask("sleep", `{"ms": 1}`))
	pool.RunLocal(other...)
	b.waitStatus(t, other[0], wait, archivist.TaskCompleted)
	if got, err := b.store.GetTask(b.ctx, ids[0]); err != nil || got.Status != archivist.TaskPending {
		t.Fatalf("the paused type's task: %+v, %v; want PENDING", got, err)
	}
	if _, err := b.store.PauseTaskType(b.ctx, "echo", false); err != nil {
		t.Fatal(err)
	}
	if got := b.waitStatus(t, ids[0], wait, archivist.TaskCompleted, archivist.TaskFailed); got.Status != archivist.TaskCompleted {
		t.Fatalf("after resuming: %s %s", got.Status, got.Error)
	}
}
