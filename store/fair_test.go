package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/redistest"
)

func fairTasks(g string, n int) []*archivist.Task {
	out := make([]*archivist.Task, n)
	for i := range out {
		out[i] = &archivist.Task{Type: "t", Priority: archivist.PriorityNormal, Timeout: time.Minute, Group: g}
	}
	return out
}

func taskIDs(ts []*archivist.Task) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// TestBoltFairShareSurvivesReopen: after a restart, turns go on where they
// were: placement (kept in meta) and each group's last turn (from its
// tasks).
func TestBoltFairShareSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "archivist.db")
	b, err := OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := fairTasks("A", 30)
	if err := b.CreateTasks(ctx, a); err != nil {
		t.Fatal(err)
	}
	lease, err := b.Campaign(ctx, "n1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var as []archivist.Assignment
	for _, task := range a[:20] {
		as = append(as, archivist.Assignment{TaskID: task.ID, NodeID: "n1"})
	}
	if _, err := b.AssignTasks(ctx, lease, as, time.Minute); err != nil {
		t.Fatal(err)
	}
	bs := fairTasks("B", 2)
	if err := b.CreateTasks(ctx, bs); err != nil {
		t.Fatal(err)
	}
	before, err := b.ReadyTasks(ctx, 100)
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
	after, err := b.ReadyTasks(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(taskIDs(before), taskIDs(after)); diff != "" {
		t.Errorf("ready order after reopen (-before +after):\n%s", diff)
	}
	more := []*archivist.Task{fairTasks("A", 1)[0], fairTasks("B", 1)[0], fairTasks("C", 1)[0]}
	if err := b.CreateTasks(ctx, more); err != nil {
		t.Fatal(err)
	}
	// A: after its 30; B: after its 21, 22; C, new: right after the 20 placed.
	for i, want := range []uint64{31, 23, 21} {
		if more[i].Turn != want {
			t.Errorf("task of group %s after reopen: Turn %d, want %d", more[i].Group, more[i].Turn, want)
		}
	}
}

// TestRedisListPendingMany: PENDING tasks are listed newest first the same
// way whether listPending sorts them all or walks all tasks for them (as it
// does past readyListAll).
func TestRedisListPendingMany(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	few := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "pending-many"})
	many := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "pending-many"})
	many.listAllPending = 1
	ctx := t.Context()
	var tasks []*archivist.Task
	for i := range 40 {
		p := []archivist.Priority{archivist.PriorityNormal, archivist.PriorityHigh, archivist.PriorityLow}[i%3]
		tasks = append(tasks, &archivist.Task{Type: "t", Priority: p, Timeout: time.Minute, Group: fmt.Sprintf("g%d", i%4)})
	}
	if err := few.CreateTasks(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	lease, err := few.Campaign(ctx, "n1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var as []archivist.Assignment
	for i := 0; i < 40; i += 5 {
		as = append(as, archivist.Assignment{TaskID: tasks[i].ID, NodeID: "n1"})
	}
	if _, err := few.AssignTasks(ctx, lease, as, time.Minute); err != nil {
		t.Fatal(err)
	}
	walk := func(r *Redis, prio archivist.Priority) (out []string) {
		q := archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskPending}, Priority: prio}, First: 4}
		for range 100 {
			page, err := r.ListTasks(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var last uint64
			for _, task := range page.Tasks {
				if task.Status != archivist.TaskPending || (prio != "" && task.Priority != prio) {
					t.Errorf("listed %s task %s of %s", task.Status, task.ID, task.Priority)
				}
				if last != 0 && task.Seq >= last {
					t.Errorf("Seq %d after %d: not newest first", task.Seq, last)
				}
				last = task.Seq
				out = append(out, task.ID)
			}
			if !page.HasNext {
				return out
			}
			q.After = page.EndCursor
		}
		t.Fatal("paging did not end")
		return nil
	}
	for _, prio := range []archivist.Priority{"", archivist.PriorityHigh, archivist.PriorityLow} {
		a, b := walk(few, prio), walk(many, prio)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("priority %q: sorted all (-) and walked (+) differ:\n%s", prio, diff)
		}
		want := 32
		if prio != "" {
			want = 0
			for i, task := range tasks {
				if i%5 != 0 && task.Priority == prio {
					want++
				}
			}
		}
		if len(a) != want {
			t.Errorf("priority %q: %d PENDING tasks listed, want %d", prio, len(a), want)
		}
	}
}

// TestRedisFairPrune: purge drops the last turns of groups that placement
// passed, and a group that comes back starts where placement is.
func TestRedisFairPrune(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := openTestRedis(t, RedisOptions{URL: srv.URL(), Cluster: "fair-prune"})
	ctx := t.Context()
	a, b := fairTasks("A", 3), fairTasks("B", 5)
	if err := r.CreateTasks(ctx, append(a, b...)); err != nil {
		t.Fatal(err)
	}
	lease, err := r.Campaign(ctx, "n1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Placed in turn order: A's 3 and B's first 3 (turns 1..3).
	var as []archivist.Assignment
	for _, task := range append(a, b[:3]...) {
		as = append(as, archivist.Assignment{TaskID: task.ID, NodeID: "n1"})
	}
	if _, err := r.AssignTasks(ctx, lease, as, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PurgeFinished(ctx, time.Now().Add(time.Hour), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	fields, err := r.client.HGetAll(ctx, r.keys.fair()).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"v:1": "3", "l:1:B": "5"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("fair HASH after purge (-want +got):\n%s", diff)
	}
	again := fairTasks("A", 1)
	if err := r.CreateTasks(ctx, again); err != nil {
		t.Fatal(err)
	}
	if again[0].Turn != 4 {
		t.Errorf("A's new task: Turn %d, want 4", again[0].Turn)
	}
}
