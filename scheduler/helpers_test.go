package scheduler_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
)

// wait bounds waits for what should happen promptly.
const wait = 5 * time.Second

// quiet is the logger of every component under test.
var quiet = slog.New(slog.DiscardHandler)

// fakeClock is a clock that moves only when a test advances it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
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
