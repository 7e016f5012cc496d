package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
)

// TestBoltLimitsSurviveReopen checks that limits and paused types are in
// the file, and that what they count (running tasks, held tasks) is
// rebuilt from the tasks when the store is opened again.
func TestBoltLimitsSurviveReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "archivist.db")
	b, err := OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := archivist.NewLimit(archivist.Limit{TaskType: "sleep", MaxConcurrent: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.SetLimit(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PauseTaskType(ctx, "dice.simulate", true); err != nil {
		t.Fatal(err)
	}
	var tasks []*archivist.Task
	for _, typ := range []string{"sleep", "sleep", "dice.simulate"} {
		tasks = append(tasks, &archivist.Task{Type: typ, Input: json.RawMessage(`{}`), Priority: archivist.PriorityNormal, Timeout: time.Minute})
	}
	if err := b.CreateTasks(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	lease, err := b.Campaign(ctx, "n1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.ReadyTasks(ctx, 10); err != nil || len(got) != 1 {
		t.Fatalf("ReadyTasks: %v, %v", got, err)
	}
	if _, err := b.AssignTasks(ctx, lease, []archivist.Assignment{{TaskID: tasks[0].ID, NodeID: "n1"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b2, err := OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	ls, err := b2.ListLimits(ctx)
	if err != nil || len(ls) != 1 {
		t.Fatalf("ListLimits after reopen: %v, %v", ls, err)
	}
	if got := ls[0]; got.ID != l.ID || got.MaxConcurrent != 1 || got.Running != 1 || got.Held != 1 {
		t.Errorf("limit after reopen: %+v; want %s, max 1, running 1, held 1", got, l.ID)
	}
	if got, err := b2.PausedTaskTypes(ctx); err != nil || !cmp.Equal(got, []string{"dice.simulate"}) {
		t.Errorf("PausedTaskTypes after reopen: %v, %v", got, err)
	}
	if got, err := b2.ReadyTasks(ctx, 10); err != nil || len(got) != 0 {
		t.Errorf("ReadyTasks after reopen: %v, %v; want none (one held by the limit, one paused)", got, err)
	}
	if _, err := b2.CancelTask(ctx, tasks[0].ID); err != nil {
		t.Fatal(err)
	}
	if got, err := b2.GetTask(ctx, tasks[1].ID); err != nil || got.HeldBy != "" {
		t.Errorf("the held task once the slot came back: %+v, %v", got, err)
	}
}
