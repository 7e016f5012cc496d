package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// testUnique: a task with a UniqueKey is the only one with that key while
// it is unfinished and for its UniqueFor after; a submission with a held
// key creates nothing and gets the holder back (Duplicate), or, with
// REPLACE, cancels an unfinished holder and takes the key. All of it
// atomic: concurrent submissions of one key create one task.
func testUnique(t *testing.T, s suite) {
	keyed := func(id, key string) *archivist.Task {
		task := newTask(id, "t", archivist.PriorityNormal)
		task.UniqueKey = key
		return task
	}
	replacing := func(id, key string) *archivist.Task {
		task := keyed(id, key)
		task.OnDuplicate = archivist.DuplicateReplace
		return task
	}
	total := func(h *fixture) int { return h.list(archivist.TaskQuery{}).TotalCount }

	s.run(t, "ReturnsExisting", func(t *testing.T, h *fixture) {
		first := h.create(keyed("", "handout-7"))[0]
		if first.Duplicate {
			t.Fatal("the first task with a key is marked a duplicate")
		}
		if got := h.get(first.ID); got.UniqueKey != "handout-7" || got.Duplicate {
			t.Errorf("stored key %q duplicate %v, want handout-7, false", got.UniqueKey, got.Duplicate)
		}
		seq := h.lastSeq()
		again := h.create(keyed("", "handout-7"), keyed("", "handout-8"))
		if !again[0].Duplicate || again[0].ID != first.ID || again[0].Status != archivist.TaskPending || again[0].Seq != first.Seq {
			t.Errorf("second submission of the key: id %s duplicate %v status %s; want the first task %s, duplicate",
				again[0].ID, again[0].Duplicate, again[0].Status, first.ID)
		}
		if again[1].Duplicate || again[1].ID == first.ID {
			t.Errorf("a task with another key was taken for a duplicate")
		}
		if n := total(h); n != 2 {
			t.Errorf("%d tasks stored, want 2", n)
		}
		// Only the new task was recorded.
		sub := h.subscribe(seq)
		if ev := h.next(sub); ev.Type != archivist.EventTaskCreated || ev.Task.ID != again[1].ID {
			t.Errorf("event after the duplicate: %s, want task.created of %s only", describe(ev), again[1].ID)
		}
	})

	s.run(t, "SameCall", func(t *testing.T, h *fixture) {
		got := h.create(keyed("", "k"), keyed("", "k"), keyed("", "k"))
		if got[0].Duplicate || !got[1].Duplicate || !got[2].Duplicate || got[1].ID != got[0].ID || got[2].ID != got[0].ID {
			t.Errorf("three submissions of one key in one call: %s/%v %s/%v %s/%v; want one task, two duplicates",
				got[0].ID, got[0].Duplicate, got[1].ID, got[1].Duplicate, got[2].ID, got[2].Duplicate)
		}
		if n := total(h); n != 1 {
			t.Errorf("%d tasks stored, want 1", n)
		}
	})

	s.run(t, "FreeOnceFinished", func(t *testing.T, h *fixture) {
		first := h.running("node-1", keyed("one", "k"))
		if got := h.create(keyed("", "k"))[0]; !got.Duplicate || got.ID != "one" || got.Status != archivist.TaskInProgress {
			t.Fatalf("key of a running task: %s/%v/%s, want the running task", got.ID, got.Duplicate, got.Status)
		}
		h.complete("one", first.Attempt, `"done"`)
		if got := h.create(keyed("two", "k"))[0]; got.Duplicate || got.ID != "two" {
			t.Errorf("key of a finished task with no UniqueFor: %s duplicate %v; want a new task", got.ID, got.Duplicate)
		}
	})

	s.run(t, "HeldForUniqueFor", func(t *testing.T, h *fixture) {
		long, short := keyed("long", "a"), keyed("short", "b")
		long.UniqueFor, short.UniqueFor = time.Hour, 300*time.Millisecond
		h.create(long, short)
		if got := h.get("long"); got.UniqueFor != time.Hour {
			t.Errorf("UniqueFor stored as %s, want 1h", got.UniqueFor)
		}
		h.cancel("long")
		h.cancel("short")
		if got := h.create(keyed("", "a"))[0]; !got.Duplicate || got.ID != "long" || got.Status != archivist.TaskCancelled {
			t.Errorf("key of a task finished less than its UniqueFor ago: %s/%v; want the finished task", got.ID, got.Duplicate)
		}
		// Held until 300ms after it finished, by the store's clock; then a
		// submission creates a task (one: earlier tries are duplicates).
		var fresh *archivist.Task
		testkit.Eventually(t, waitLimit, func() bool {
			fresh = h.create(keyed("", "b"))[0]
			return !fresh.Duplicate
		}, "the key is free once UniqueFor passed")
		if done := h.get("short"); fresh.CreatedAt.Before(done.CompletedAt.Add(300 * time.Millisecond)) {
			t.Errorf("key taken at %s, before the holder's UniqueFor ended (%s)", fresh.CreatedAt, done.CompletedAt.Add(300*time.Millisecond))
		}
		if n := total(h); n != 3 {
			t.Errorf("%d tasks stored, want 3", n)
		}
	})

	s.run(t, "Replace", func(t *testing.T, h *fixture) {
		h.create(keyed("old", "k"))
		seq := h.lastSeq()
		got := h.create(replacing("new", "k"))[0]
		if got.Duplicate || got.ID != "new" || got.Status != archivist.TaskPending {
			t.Fatalf("REPLACE: %s/%v/%s, want the new task PENDING", got.ID, got.Duplicate, got.Status)
		}
		old := h.wantStatus("old", archivist.TaskCancelled)
		if old.CompletedAt.IsZero() {
			t.Error("the replaced task has no CompletedAt")
		}
		sub := h.subscribe(seq)
		if ev := h.next(sub); ev.Type != archivist.EventTaskCancelled || ev.Task.ID != "old" || ev.Detail == "" {
			t.Errorf("first event of REPLACE: %s, want task.cancelled of the old task with a reason", describe(ev))
		}
		if ev := h.next(sub); ev.Type != archivist.EventTaskCreated || ev.Task.ID != "new" {
			t.Errorf("second event of REPLACE: %s, want task.created of the new task", describe(ev))
		}
		if again := h.create(keyed("", "k"))[0]; !again.Duplicate || again.ID != "new" {
			t.Errorf("the key after REPLACE belongs to %s (duplicate %v), want new", again.ID, again.Duplicate)
		}
	})

	s.run(t, "ReplaceRunning", func(t *testing.T, h *fixture) {
		h.running("node-1", keyed("old", "k"))
		got := h.create(replacing("new", "k"))[0]
		if got.Duplicate || got.ID != "new" {
			t.Fatalf("REPLACE of a running task: %s/%v, want the new task", got.ID, got.Duplicate)
		}
		if old := h.wantStatus("old", archivist.TaskInProgress); !old.CancelRequested {
			t.Error("the running task was not asked to stop")
		}
	})

	// Debounce: REPLACE with a delay keeps only the last of a burst.
	s.run(t, "Debounce", func(t *testing.T, h *fixture) {
		for i := range 5 {
			task := replacing(fmt.Sprintf("edit-%d", i), "reindex:note-9")
			task.Delay = time.Hour
			h.create(task)
		}
		scheduled := h.list(archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskScheduled}}})
		if len(scheduled.Tasks) != 1 || scheduled.Tasks[0].ID != "edit-4" {
			t.Errorf("SCHEDULED after five debounced submissions: %v, want only edit-4", ids(scheduled.Tasks))
		}
		if c := h.counts(); c[archivist.TaskCancelled] != 4 {
			t.Errorf("counts %v, want 4 CANCELLED", nonZero(c))
		}
	})

	s.run(t, "PurgeFreesKey", func(t *testing.T, h *fixture) {
		task := keyed("gone", "k")
		task.UniqueFor = time.Hour
		h.create(task)
		h.cancel("gone")
		if _, err := h.s.PurgeFinished(h.ctx(), time.Now().Add(time.Hour), time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("PurgeFinished: %v", err)
		}
		if got := h.create(keyed("", "k"))[0]; got.Duplicate {
			t.Errorf("the key of a purged task is still held by %s", got.ID)
		}
	})

	s.run(t, "Concurrent", func(t *testing.T, h *fixture) {
		const clients = 16
		var wg sync.WaitGroup
		got := make([]string, clients)
		errs := make([]error, clients)
		for i := range clients {
			wg.Go(func() {
				task := keyed("", "thumbnail:handout-42")
				errs[i] = h.s.CreateTasks(h.ctx(), []*archivist.Task{task})
				got[i] = task.ID
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
			if got[i] != got[0] {
				t.Errorf("client %d got task %s, client 0 got %s: want one task", i, got[i], got[0])
			}
		}
		if n := total(h); n != 1 {
			t.Errorf("%d tasks stored, want 1", n)
		}
	})
}
