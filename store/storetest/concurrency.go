package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
)

// goroutines is how many callers race in each concurrency case.
const goroutines = 8

// race runs fn(i) on n goroutines released at once and waits for them.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func testConcurrency(t *testing.T, s suite) {
	s.run(t, "ClaimTasksSameNode", func(t *testing.T, h *fixture) {
		const n = 60
		batch := make([]*archivist.Task, n)
		for i := range batch {
			batch[i] = newTask(fmt.Sprintf("task-%02d", i), "t", archivist.PriorityNormal)
		}
		h.create(batch...)
		h.assign("node-1", ids(batch)...)

		var mu sync.Mutex
		claims := map[string]int{}
		race(goroutines, func(int) {
			for range n { // bounded: each round claims at least one task or stops
				got, err := h.s.ClaimTasks(h.ctx(), "node-1", 4, grace)
				if err != nil {
					t.Errorf("ClaimTasks: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, task := range got {
					claims[task.ID]++
					if task.Attempt != 1 {
						t.Errorf("task %s claimed as attempt %d", task.ID, task.Attempt)
					}
				}
				mu.Unlock()
			}
		})
		for _, id := range ids(batch) {
			if claims[id] != 1 {
				t.Errorf("task %s claimed %d times, want once", id, claims[id])
			}
		}
	})

	s.run(t, "ClaimTaskDifferentNodes", func(t *testing.T, h *fixture) {
		const n = 40
		batch := make([]*archivist.Task, n)
		for i := range batch {
			batch[i] = newTask(fmt.Sprintf("task-%02d", i), "t", archivist.PriorityNormal)
		}
		h.create(batch...)
		all := ids(batch)

		var mu sync.Mutex
		winner := map[string][]string{}
		race(goroutines, func(g int) {
			node := fmt.Sprintf("node-%d", g)
			for k := range all {
				id := all[k]
				if g%2 == 1 { // half go backwards, to meet the others midway
					id = all[len(all)-1-k]
				}
				_, err := h.s.ClaimTask(h.ctx(), node, id, grace)
				switch {
				case err == nil:
					mu.Lock()
					winner[id] = append(winner[id], node)
					mu.Unlock()
				case !archivist.IsCode(err, archivist.CodeConflict):
					t.Errorf("ClaimTask(%s, %s) lost with %v, want CONFLICT", node, id, err)
				}
			}
		})
		for _, id := range all {
			if len(winner[id]) != 1 {
				t.Errorf("task %s claimed by %v, want exactly one node", id, winner[id])
				continue
			}
			if got := h.get(id); got.NodeID != winner[id][0] || got.Attempt != 1 || got.Status != archivist.TaskInProgress {
				t.Errorf("task %s: %s on %q attempt %d; claimed by %s", id, got.Status, got.NodeID, got.Attempt, winner[id][0])
			}
		}
	})

	s.run(t, "CompleteSameAttempt", func(t *testing.T, h *fixture) {
		h.running("node-1", newTask("job", "t", archivist.PriorityNormal))
		errs := make([]error, goroutines)
		race(goroutines, func(i int) {
			_, errs[i] = h.s.CompleteTask(h.ctx(), "job", 1, json.RawMessage(fmt.Sprint(i)))
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("CompleteTask succeeded twice for one attempt (callers %d and %d)", winner, i)
			case err == nil:
				winner = i
			case !archivist.IsCode(err, archivist.CodeConflict):
				t.Errorf("losing CompleteTask: %v, want CONFLICT", err)
			}
		}
		if winner < 0 {
			t.Fatalf("no CompleteTask succeeded: %v", errs)
		}
		if got := h.get("job"); got.Status != archivist.TaskCompleted || string(got.Result) != fmt.Sprint(winner) {
			t.Errorf("stored: %s with result %s, want COMPLETED with the winner's %d", got.Status, got.Result, winner)
		}
	})

	s.run(t, "CompleteOrFail", func(t *testing.T, h *fixture) {
		h.running("node-1", newTask("job", "t", archivist.PriorityNormal))
		errs := make([]error, goroutines)
		race(goroutines, func(i int) {
			if i%2 == 0 {
				_, errs[i] = h.s.CompleteTask(h.ctx(), "job", 1, json.RawMessage(`1`))
			} else {
				_, errs[i] = h.s.FailTask(h.ctx(), "job", 1, archivist.Failure{Error: "x", Retry: quickRetry})
			}
		})
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !archivist.IsCode(err, archivist.CodeConflict) {
				t.Errorf("losing report: %v, want CONFLICT", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d reports of one attempt succeeded, want exactly 1", ok)
		}
	})

	s.run(t, "CreateTasks", func(t *testing.T, h *fixture) {
		const per = 25
		var mu sync.Mutex
		var created []*archivist.Task
		race(goroutines, func(int) {
			batch := make([]*archivist.Task, per)
			for j := range batch {
				batch[j] = newTask("", "t", archivist.PriorityNormal)
			}
			if err := h.s.CreateTasks(h.ctx(), batch); err != nil {
				t.Errorf("CreateTasks: %v", err)
				return
			}
			mu.Lock()
			created = append(created, batch...)
			mu.Unlock()
		})
		seenID, seenSeq := map[string]bool{}, map[uint64]bool{}
		for _, task := range created {
			if seenID[task.ID] || seenSeq[task.Seq] {
				t.Errorf("ID %q or Seq %d given twice", task.ID, task.Seq)
			}
			seenID[task.ID], seenSeq[task.Seq] = true, true
		}
		counts, err := h.s.CountTasks(h.ctx())
		if err != nil {
			t.Fatalf("CountTasks: %v", err)
		}
		if diff := cmp.Diff(map[archivist.TaskStatus]int{archivist.TaskPending: goroutines * per}, nonZero(counts)); diff != "" {
			t.Errorf("CountTasks (-want +got):\n%s", diff)
		}
	})

	// Calls made at once stay each all or nothing, and one refused call
	// (an id that exists) does not take the others down with it: a store
	// may send concurrent calls together (the Redis store does).
	s.run(t, "CreateTasksOneRefused", func(t *testing.T, h *fixture) {
		h.create(newTask("taken", "t", archivist.PriorityNormal))
		const calls = 4 * goroutines
		errs := make([]error, calls)
		batches := make([][]*archivist.Task, calls)
		race(calls, func(i int) {
			batches[i] = []*archivist.Task{newTask(fmt.Sprintf("call-%d-a", i), "t", archivist.PriorityNormal),
				newTask(fmt.Sprintf("call-%d-b", i), "t", archivist.PriorityNormal)}
			if i == calls/2 {
				batches[i][1].ID = "taken"
			}
			errs[i] = h.s.CreateTasks(h.ctx(), batches[i])
		})
		seenSeq := map[uint64]bool{}
		for i, err := range errs {
			if i == calls/2 {
				h.wantCode(err, archivist.CodeConflict, "the call with a taken id")
				if _, err := h.s.GetTask(h.ctx(), batches[i][0].ID); !archivist.IsCode(err, archivist.CodeNotFound) {
					t.Errorf("the refused call created its other task (%v)", err)
				}
				continue
			}
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				continue
			}
			for _, task := range batches[i] {
				if task.Seq == 0 || seenSeq[task.Seq] || task.Status != archivist.TaskPending {
					t.Errorf("call %d: task %s has Seq %d, status %s: want a Seq of its own, PENDING", i, task.ID, task.Seq, task.Status)
				}
				seenSeq[task.Seq] = true
			}
		}
		counts, err := h.s.CountTasks(h.ctx())
		if err != nil {
			t.Fatalf("CountTasks: %v", err)
		}
		if got := counts[archivist.TaskPending]; got != 1+2*(calls-1) {
			t.Errorf("%d tasks PENDING, want %d", got, 1+2*(calls-1))
		}
	})

	s.run(t, "Campaign", func(t *testing.T, h *fixture) {
		leases := make([]archivist.Lease, goroutines)
		errs := make([]error, goroutines)
		race(goroutines, func(i int) {
			leases[i], errs[i] = h.s.Campaign(h.ctx(), fmt.Sprintf("node-%d", i), longTTL)
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Campaign(node-%d): %v", i, err)
			}
		}
		leader := h.leader()
		if leader.Holder == "" {
			t.Fatalf("no leader after %d campaigns", goroutines)
		}
		for i, l := range leases {
			if l.Holder != leader.Holder || l.Token != leader.Token {
				t.Errorf("Campaign(node-%d) returned %s's lease (token %d); the leader is %s (token %d)",
					i, l.Holder, l.Token, leader.Holder, leader.Token)
			}
		}
	})
}
