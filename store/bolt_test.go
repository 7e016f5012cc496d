package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// TestBoltSurvivesReopen checks that everything a transition acknowledged is
// in the file: tasks in every state, the queue order, sequences, the config
// and the leadership token.
func TestBoltSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "archivist.db")
	b, err := OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var tasks []*archivist.Task
	for i, p := range []archivist.Priority{archivist.PriorityLow, archivist.PriorityCritical, archivist.PriorityNormal, archivist.PriorityCritical} {
		tasks = append(tasks, &archivist.Task{Type: "echo", Input: json.RawMessage(`{"n":` + string(rune('0'+i)) + `}`),
			Priority: p, Timeout: time.Minute, MaxRetries: 2})
	}
	if err := b.CreateTasks(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	lease, err := b.Campaign(ctx, "n1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Run the first critical task to completion.
	if _, err := b.AssignTasks(ctx, lease, []archivist.Assignment{{TaskID: tasks[1].ID, NodeID: "n1"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	claimed, err := b.ClaimTasks(ctx, "n1", 1, time.Second)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if _, err := b.CompleteTask(ctx, tasks[1].ID, 1, json.RawMessage(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	cfg := archivist.DefaultConfig()
	cfg.Workers = 9
	if _, err := b.UpdateConfig(ctx, cfg, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Heartbeat(ctx, &archivist.Node{ID: "n1", Workers: 3, LastHeartbeat: time.Now()}); err != nil {
		t.Fatal(err)
	}
	lastSeq, _ := b.LastSeq(ctx)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b2, err := OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	done, err := b2.GetTask(ctx, tasks[1].ID)
	if err != nil || done.Status != archivist.TaskCompleted || string(done.Result) != `{"ok":true}` || done.Attempt != 1 {
		t.Fatalf("completed task after reopen: %+v %v", done, err)
	}
	ready, err := b2.ReadyTasks(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range ready {
		order = append(order, r.ID)
	}
	want := []string{tasks[3].ID, tasks[2].ID, tasks[0].ID}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Fatalf("queue after reopen %v, want %v", order, want)
	}
	got, _ := b2.Config(ctx)
	if got.Version != 1 || got.Workers != 9 {
		t.Fatalf("config after reopen: version %d workers %d", got.Version, got.Workers)
	}
	if n, err := b2.GetNode(ctx, "n1"); err != nil || n.Workers != 3 {
		t.Fatalf("node after reopen: %+v %v", n, err)
	}
	if seq, _ := b2.LastSeq(ctx); seq != lastSeq {
		t.Fatalf("event sequence restarted at %d, want %d", seq, lastSeq)
	}
	more := []*archivist.Task{{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute}}
	if err := b2.CreateTasks(ctx, more); err != nil {
		t.Fatal(err)
	}
	if more[0].Seq <= tasks[3].Seq {
		t.Fatalf("task sequence went back: %d after %d", more[0].Seq, tasks[3].Seq)
	}
	// Another node takes over once the old lease is gone, with a larger
	// token than any before.
	if err := b2.Resign(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	l2, err := b2.Campaign(ctx, "n2", time.Minute)
	if err != nil || l2.Holder != "n2" || l2.Token <= lease.Token {
		t.Fatalf("new lease %+v (old token %d): %v", l2, lease.Token, err)
	}
}

func TestBoltLockedFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a.db")
	b, err := OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = OpenBolt(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second open: %v, want a clear 'locked' error", err)
	}
}

func TestOpenSpecs(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"cassandra://x", "bolt:", "redis"} {
		if _, err := Open(spec, Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", spec)
		}
	}
	s, err := Open("memory", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestBoltKeepsNodeSettings checks that node settings are in the file, also
// those of a node that was removed (a node deregisters when it stops).
func TestBoltKeepsNodeSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "archivist.db")
	b, err := OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Heartbeat(ctx, &archivist.Node{ID: "n1", Workers: 4, Role: archivist.RoleHybrid}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SetNodeSettings(ctx, "n1", archivist.NodeSettings{Workers: 7, Role: archivist.RoleWorker,
		Capabilities: []string{}}); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveNode(ctx, "n1"); err != nil {
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
	s, err := b2.NodeSettings(ctx, "n1")
	if err != nil || s.Workers != 7 || s.Role != archivist.RoleWorker || s.Capabilities == nil || len(s.Capabilities) != 0 {
		t.Fatalf("settings after reopen: %+v (capabilities nil: %v) %v", s, s.Capabilities == nil, err)
	}
}

// TestBoltSchedulesSurviveReopen checks that schedules, with their state,
// are in the file: created, fired, paused, updated and deleted ones.
func TestBoltSchedulesSurviveReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "archivist.db")
	b, err := OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	next := time.Now().Add(time.Hour).Truncate(time.Second)
	mk := func(name string) *archivist.Schedule {
		return &archivist.Schedule{Name: name, Every: time.Minute, Overlap: archivist.OverlapSkip, Misfire: archivist.MisfireSkip,
			Task: &archivist.Task{Type: "echo", Input: json.RawMessage(`{"x":1}`), Priority: archivist.PriorityHigh, Timeout: time.Minute,
				UniqueKey: "k-" + name, OnDuplicate: archivist.DuplicateReplace}, NextRunAt: next}
	}
	for _, name := range []string{"kept", "paused", "gone"} {
		if err := b.CreateSchedule(ctx, mk(name)); err != nil {
			t.Fatal(err)
		}
	}
	lease, err := b.Campaign(ctx, "n1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	task := mk("kept").Task
	task.Schedule = "kept"
	fired, err := b.FireSchedule(ctx, archivist.ScheduleFire{Name: "kept", Lease: lease, Tick: next, Next: next.Add(time.Minute), Task: task})
	if err != nil || fired.Task == nil {
		t.Fatalf("FireSchedule: %+v %v", fired, err)
	}
	if _, err := b.PauseSchedule(ctx, "paused", true, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteSchedule(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	want, err := b.ListSchedules(ctx)
	if err != nil {
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
	got, err := b2.ListSchedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(want) != 2 {
		t.Fatalf("schedules after reopen: %d, before: %d; want 2", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if g.Name != w.Name || g.Paused != w.Paused || !g.NextRunAt.Equal(w.NextRunAt) || !g.LastRunAt.Equal(w.LastRunAt) ||
			g.LastTaskID != w.LastTaskID || !g.CreatedAt.Equal(w.CreatedAt) || !g.UpdatedAt.Equal(w.UpdatedAt) ||
			g.Every != w.Every || g.Overlap != w.Overlap || g.Misfire != w.Misfire || g.Task == nil ||
			g.Task.Type != "echo" || string(g.Task.Input) != `{"x":1}` || g.Task.Priority != archivist.PriorityHigh ||
			g.Task.UniqueKey != w.Task.UniqueKey || g.Task.OnDuplicate != archivist.DuplicateReplace {
			t.Errorf("schedule after reopen:\n got %+v\nwant %+v", g, w)
		}
	}
	if got[0].Name != "kept" || got[0].LastTaskID != fired.Task.ID || !got[1].Paused {
		t.Errorf("after reopen: %s with last task %q, %s paused %v", got[0].Name, got[0].LastTaskID, got[1].Name, got[1].Paused)
	}
	if tk, err := b2.GetTask(ctx, fired.Task.ID); err != nil || tk.Schedule != "kept" {
		t.Errorf("the fired task after reopen: %+v %v", tk, err)
	}
	// The tick fired before the restart is not fired again, by a current
	// leader.
	lease2, err := b2.Campaign(ctx, "n1", time.Minute)
	if err != nil || lease2.Holder != "n1" {
		t.Fatalf("Campaign after reopen: %+v %v", lease2, err)
	}
	if _, err := b2.FireSchedule(ctx, archivist.ScheduleFire{Name: "kept", Lease: lease2, Tick: next, Next: next.Add(time.Minute), Task: task}); !archivist.IsCode(err, archivist.CodeConflict) {
		t.Errorf("the tick fired before the restart, again: %v, want CONFLICT", err)
	}
	if _, err := b2.GetSchedule(ctx, "gone"); !archivist.IsCode(err, archivist.CodeNotFound) {
		t.Errorf("deleted schedule after reopen: %v, want NOT_FOUND", err)
	}
}

// TestBoltKeepsDelayedAndUnique: after a reopen a SCHEDULED task is still
// SCHEDULED with its due time (NextDue finds it, it becomes PENDING on
// time), and a unique key is still held by its task.
func TestBoltKeepsDelayedAndUnique(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "archivist.db")
	b, err := OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	later := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute, Delay: 500 * time.Millisecond}
	keyed := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute, UniqueKey: "k", UniqueFor: time.Hour}
	if err := b.CreateTasks(ctx, []*archivist.Task{later, keyed}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CancelTask(ctx, keyed.ID); err != nil {
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
	got, err := b2.GetTask(ctx, later.ID)
	if err != nil || got.Status != archivist.TaskScheduled || !got.RunAt.Equal(later.RunAt) {
		t.Fatalf("delayed task after reopen: %+v %v; want SCHEDULED at %s", got, err, later.RunAt)
	}
	if d, ok, err := b2.NextDue(ctx); err != nil || !ok || d > 500*time.Millisecond {
		t.Fatalf("NextDue after reopen: %s %v %v", d, ok, err)
	}
	testkit.Eventually(t, 5*time.Second, func() bool {
		ready, err := b2.ReadyTasks(ctx, 10)
		return err == nil && len(ready) == 1 && ready[0].ID == later.ID
	}, "the delayed task becomes ready after the reopen")
	dup := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute, UniqueKey: "k"}
	if err := b2.CreateTasks(ctx, []*archivist.Task{dup}); err != nil {
		t.Fatal(err)
	}
	if !dup.Duplicate || dup.ID != keyed.ID {
		t.Fatalf("unique key after reopen: got task %s duplicate %v, want the holder %s", dup.ID, dup.Duplicate, keyed.ID)
	}
}

// TestBoltWorkflowsSurviveReopen: a workflow, its WAITING steps and what
// its finished steps released are read back from the file, and release
// goes on after the reopen.
func TestBoltWorkflowsSurviveReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "archivist.db")
	b, err := OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := archivist.NewRegistry()
	reg.RegisterFunc("t", func(context.Context, *archivist.Job) (json.RawMessage, error) { return nil, nil })
	spec := archivist.WorkflowSpec{Name: "ingest", Steps: []archivist.WorkflowStepSpec{
		{Key: "a", Task: archivist.TaskSpec{Type: "t"}},
		{Key: "b", DependsOn: []string{"a"}, Task: archivist.TaskSpec{Type: "t"}},
		{Key: "c", DependsOn: []string{"b"}, Task: archivist.TaskSpec{Type: "t"}},
	}}
	w, tasks, err := archivist.NewWorkflow(spec, reg, archivist.DefaultConfig(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateWorkflow(ctx, w, tasks); err != nil {
		t.Fatal(err)
	}
	a, err := b.ClaimTask(ctx, "n1", tasks[0].ID, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CompleteTask(ctx, a.ID, a.Attempt, json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	want, err := b.GetWorkflow(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err = OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.GetWorkflow(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("workflow after reopen (-before +after):\n%s", diff)
	}
	counts, err := b.CountTasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[archivist.TaskWaiting] != 1 || counts[archivist.TaskPending] != 1 {
		t.Errorf("after reopen: %d WAITING and %d PENDING, want 1 and 1", counts[archivist.TaskWaiting], counts[archivist.TaskPending])
	}
	bt, err := b.ClaimTask(ctx, "n1", tasks[1].ID, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CompleteTask(ctx, bt.ID, bt.Attempt, json.RawMessage(`2`)); err != nil {
		t.Fatal(err)
	}
	if c, _ := b.GetTask(ctx, tasks[2].ID); c.Status != archivist.TaskPending {
		t.Errorf("step c after b completed (after the reopen): %s, want PENDING", c.Status)
	}
	// A second workflow gets a Seq after the first one's.
	w2, tasks2, _ := archivist.NewWorkflow(spec, reg, archivist.DefaultConfig(), time.Now())
	if err := b.CreateWorkflow(ctx, w2, tasks2); err != nil {
		t.Fatal(err)
	}
	if w2.Seq <= got.Seq {
		t.Errorf("workflow Seq %d after reopen, not after %d", w2.Seq, got.Seq)
	}
}
