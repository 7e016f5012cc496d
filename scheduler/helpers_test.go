package scheduler_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/scheduler"
)

// wait bounds waits for what should happen promptly.
const wait = 5 * time.Second

// quiet is the logger of every component under test.
var quiet = slog.New(slog.DiscardHandler)

func newFakeClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}

// getTask reads a task, failing the test on error.
func getTask(t *testing.T, st archivist.Store, id string) *archivist.Task {
	t.Helper()
	task, err := st.GetTask(context.Background(), id)
	if err != nil {
		t.Fatalf("GetTask(%s): %v", id, err)
	}
	return task
}

// tasksIn returns the tasks in status, oldest first.
func tasksIn(t *testing.T, st archivist.Store, status archivist.TaskStatus) []*archivist.Task {
	t.Helper()
	page, err := st.ListTasks(context.Background(), archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Status: []archivist.TaskStatus{status}}, First: 500})
	if err != nil {
		t.Fatalf("ListTasks(%s): %v", status, err)
	}
	out := make([]*archivist.Task, 0, len(page.Tasks))
	for i := len(page.Tasks) - 1; i >= 0; i-- {
		out = append(out, page.Tasks[i])
	}
	return out
}

func ids(ts []*archivist.Task) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// startScheduler starts the scheduler of leader m1 (its elector on st) on
// sched, st itself or a wrapper of it, with cfg, and stops it at the end of
// the test.
func startScheduler(t *testing.T, st, sched archivist.Store, cfg archivist.Config) *scheduler.Scheduler {
	t.Helper()
	e := startElector(t, st, "m1", time.Minute)
	s := scheduler.New(scheduler.Config{Store: sched, Elector: e, Env: lifecycle.Env{Logger: quiet},
		Settings: func() archivist.Config { return cfg }})
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}
