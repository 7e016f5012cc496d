package storetest

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// leaderID is the node that places tasks in cases that need a leader.
const leaderID = "leader"

// fixture is one case's store with helpers that fail the case on an
// unexpected error. Its methods call t.Fatal, so they belong on the test
// goroutine; goroutines a case starts call the store directly.
type fixture struct {
	t     *testing.T
	s     archivist.Store
	lease archivist.Lease // the current leadership, once lead was called
}

func (h *fixture) ctx() context.Context { return h.t.Context() }

// wantCode fails the case unless err carries code.
func (h *fixture) wantCode(err error, code archivist.ErrorCode, what string) {
	h.t.Helper()
	if !archivist.IsCode(err, code) {
		h.t.Fatalf("%s: got error %v (code %s), want code %s", what, err, archivist.ErrorCodeOf(err), code)
	}
}

func (h *fixture) create(tasks ...*archivist.Task) []*archivist.Task {
	h.t.Helper()
	if err := h.s.CreateTasks(h.ctx(), tasks); err != nil {
		h.t.Fatalf("CreateTasks: %v", err)
	}
	for _, task := range tasks {
		if task.ID == "" {
			h.t.Fatalf("CreateTasks left the ID of a %s task empty", task.Type)
		}
	}
	return tasks
}

// createOne creates a NORMAL task of type typ and returns its id.
func (h *fixture) createOne(typ string) string {
	h.t.Helper()
	return h.create(newTask("", typ, archivist.PriorityNormal))[0].ID
}

func (h *fixture) get(id string) *archivist.Task {
	h.t.Helper()
	task, err := h.s.GetTask(h.ctx(), id)
	if err != nil {
		h.t.Fatalf("GetTask(%s): %v", id, err)
	}
	if task.ID != id {
		h.t.Fatalf("GetTask(%s) returned task %q", id, task.ID)
	}
	return task
}

// checkStored fails unless the store holds exactly the task an operation
// returned.
func (h *fixture) checkStored(op string, got *archivist.Task) {
	h.t.Helper()
	if diff := cmp.Diff(h.get(got.ID), got, taskOpts); diff != "" {
		h.t.Errorf("%s returned a task other than the stored one (-stored +returned):\n%s", op, diff)
	}
}

// wantStatus fails unless the stored task is in status want.
func (h *fixture) wantStatus(id string, want archivist.TaskStatus) *archivist.Task {
	h.t.Helper()
	task := h.get(id)
	if task.Status != want {
		h.t.Fatalf("task %s is %s, want %s", id, task.Status, want)
	}
	return task
}

// snapshot reads the given tasks, to check later that nothing changed them.
func (h *fixture) snapshot(ids ...string) map[string]*archivist.Task {
	h.t.Helper()
	out := map[string]*archivist.Task{}
	for _, id := range ids {
		out[id] = h.get(id)
	}
	return out
}

// unchanged fails if any task of the snapshot changed.
func (h *fixture) unchanged(what string, before map[string]*archivist.Task) {
	h.t.Helper()
	for _, id := range slices.Sorted(maps.Keys(before)) {
		if diff := cmp.Diff(before[id], h.get(id), sameState); diff != "" {
			h.t.Errorf("%s changed task %s (-before +after):\n%s", what, id, diff)
		}
	}
}

func (h *fixture) lastSeq() uint64 {
	h.t.Helper()
	seq, err := h.s.LastSeq(h.ctx())
	if err != nil {
		h.t.Fatalf("LastSeq: %v", err)
	}
	return seq
}

// lead returns a current leadership held by leaderID.
func (h *fixture) lead() archivist.Lease {
	h.t.Helper()
	if h.lease.Holder != "" {
		return h.lease
	}
	l, err := h.s.Campaign(h.ctx(), leaderID, longTTL)
	if err != nil {
		h.t.Fatalf("Campaign(%s): %v", leaderID, err)
	}
	if l.Holder != leaderID {
		h.t.Fatalf("Campaign(%s) on a store with no leader: lease held by %q", leaderID, l.Holder)
	}
	h.lease = l
	return l
}

// staleLease returns a lease that another node really held and lost when
// leaderID took over, and the current lease.
func (h *fixture) staleLease() (stale, current archivist.Lease) {
	h.t.Helper()
	if h.lease.Holder != "" {
		if err := h.s.Resign(h.ctx(), h.lease.Holder); err != nil {
			h.t.Fatalf("Resign: %v", err)
		}
		h.lease = archivist.Lease{}
	}
	stale, err := h.s.Campaign(h.ctx(), "old-leader", 50*time.Millisecond)
	if err != nil {
		h.t.Fatalf("Campaign(old-leader): %v", err)
	}
	if stale.Holder != "old-leader" {
		h.t.Fatalf("Campaign(old-leader) with no leader: lease held by %q", stale.Holder)
	}
	testkit.Eventually(h.t, waitLimit, func() bool {
		current, err = h.s.Campaign(h.ctx(), leaderID, longTTL)
		if err != nil {
			h.t.Fatalf("Campaign(%s): %v", leaderID, err)
		}
		return current.Holder == leaderID
	}, "%s takes over after a 50ms lease of old-leader ran out", leaderID)
	if current.Token <= stale.Token {
		h.t.Fatalf("new holder got token %d, not above the old %d", current.Token, stale.Token)
	}
	h.lease = current
	return stale, current
}

// assign places the tasks on node under the current leadership and fails
// unless all of them were assigned.
func (h *fixture) assign(node string, ids ...string) []*archivist.Task {
	h.t.Helper()
	return h.assignWithin(node, longTTL, ids...)
}

func (h *fixture) assignWithin(node string, claimWithin time.Duration, ids ...string) []*archivist.Task {
	h.t.Helper()
	as := make([]archivist.Assignment, 0, len(ids))
	for _, id := range ids {
		as = append(as, archivist.Assignment{TaskID: id, NodeID: node})
	}
	got, err := h.s.AssignTasks(h.ctx(), h.lead(), as, claimWithin)
	if err != nil {
		h.t.Fatalf("AssignTasks(%v to %s): %v", ids, node, err)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(ids)), sortedIDs(got)); diff != "" {
		h.t.Fatalf("AssignTasks to %s assigned other tasks than all the PENDING ones asked for (-want +got):\n%s", node, diff)
	}
	return got
}

// start claims task id on node as a new attempt.
func (h *fixture) start(node, id string) *archivist.Task {
	h.t.Helper()
	task, err := h.s.ClaimTask(h.ctx(), node, id, grace)
	if err != nil {
		h.t.Fatalf("ClaimTask(%s, %s): %v", node, id, err)
	}
	if task.Status != archivist.TaskInProgress {
		h.t.Fatalf("ClaimTask(%s, %s): task is %s, want IN_PROGRESS", node, id, task.Status)
	}
	return task
}

// running creates a task from spec and starts its first attempt on node.
func (h *fixture) running(node string, spec *archivist.Task) *archivist.Task {
	h.t.Helper()
	h.create(spec)
	return h.start(node, spec.ID)
}

func (h *fixture) complete(id string, attempt int, result string) *archivist.Task {
	h.t.Helper()
	task, err := h.s.CompleteTask(h.ctx(), id, attempt, json.RawMessage(result))
	if err != nil {
		h.t.Fatalf("CompleteTask(%s, attempt %d): %v", id, attempt, err)
	}
	return task
}

func (h *fixture) fail(id string, attempt int, f archivist.Failure) *archivist.Task {
	h.t.Helper()
	task, err := h.s.FailTask(h.ctx(), id, attempt, f)
	if err != nil {
		h.t.Fatalf("FailTask(%s, attempt %d): %v", id, attempt, err)
	}
	return task
}

func (h *fixture) cancel(id string) *archivist.Task {
	h.t.Helper()
	task, err := h.s.CancelTask(h.ctx(), id)
	if err != nil {
		h.t.Fatalf("CancelTask(%s): %v", id, err)
	}
	return task
}

func (h *fixture) ready(limit int) []*archivist.Task {
	h.t.Helper()
	tasks, err := h.s.ReadyTasks(h.ctx(), limit)
	if err != nil {
		h.t.Fatalf("ReadyTasks(%d): %v", limit, err)
	}
	return tasks
}

// waitReady waits until ReadyTasks offers task id (moving it from RETRYING
// once its backoff is over) and returns the offered task.
func (h *fixture) waitReady(id string) *archivist.Task {
	h.t.Helper()
	var found *archivist.Task
	testkit.Eventually(h.t, waitLimit, func() bool {
		for _, task := range h.ready(1000) {
			if task.ID == id {
				found = task
				return true
			}
		}
		return false
	}, "ReadyTasks offers task %s", id)
	return found
}

func (h *fixture) loads() map[string]int {
	h.t.Helper()
	m, err := h.s.NodeLoads(h.ctx())
	if err != nil {
		h.t.Fatalf("NodeLoads: %v", err)
	}
	return nonZero(m)
}

// slowRetry retries after a backoff that no case waits for.
var slowRetry = archivist.RetryPolicy{Base: longTTL, Max: longTTL}

// quickRetry retries after at most 40ms.
var quickRetry = archivist.RetryPolicy{Base: 40 * time.Millisecond, Max: 40 * time.Millisecond}

func (h *fixture) counts() map[archivist.TaskStatus]int {
	h.t.Helper()
	c, err := h.s.CountTasks(h.ctx())
	if err != nil {
		h.t.Fatalf("CountTasks: %v", err)
	}
	return c
}
