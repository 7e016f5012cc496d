package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

func (h *fixture) campaign(node string, ttl time.Duration) archivist.Lease {
	h.t.Helper()
	l, err := h.s.Campaign(h.ctx(), node, ttl)
	if err != nil {
		h.t.Fatalf("Campaign(%s): %v", node, err)
	}
	return l
}

func (h *fixture) leader() archivist.Lease {
	h.t.Helper()
	l, err := h.s.Leader(h.ctx())
	if err != nil {
		h.t.Fatalf("Leader: %v", err)
	}
	return l
}

func testLeadership(t *testing.T, s suite) {
	s.run(t, "HoldRenewResign", func(t *testing.T, h *fixture) {
		if l := h.leader(); l.Holder != "" {
			t.Fatalf("Leader on a fresh store: %+v, want none", l)
		}
		before := time.Now()
		a := h.campaign("node-a", 10*time.Second)
		after := time.Now()
		if a.Holder != "node-a" || a.Token <= 0 {
			t.Fatalf("first Campaign: %+v, want held by node-a with a token above 0", a)
		}
		if !near(a.Expires, before.Add(10*time.Second), after.Add(10*time.Second)) {
			t.Errorf("lease expires %v, want about 10s from %v", a.Expires, before)
		}
		if diff := cmp.Diff(a, h.leader()); diff != "" {
			t.Errorf("Leader (-campaign +leader):\n%s", diff)
		}

		// Another node gets the lease that holds.
		if diff := cmp.Diff(a, h.campaign("node-b", 10*time.Second)); diff != "" {
			t.Errorf("Campaign by node-b while node-a holds (-node-a's lease +got):\n%s", diff)
		}

		// Renewing keeps the token and extends.
		renewed := h.campaign("node-a", 10*time.Second)
		if renewed.Holder != "node-a" || renewed.Token != a.Token {
			t.Errorf("renewal: %+v, want node-a with token %d", renewed, a.Token)
		}
		if renewed.Expires.Before(a.Expires) {
			t.Errorf("renewal moved expiry back from %v to %v", a.Expires, renewed.Expires)
		}

		// Resigning by a node that does not lead changes nothing.
		if err := h.s.Resign(h.ctx(), "node-b"); err != nil {
			t.Fatalf("Resign(node-b): %v", err)
		}
		if l := h.leader(); l.Holder != "node-a" || l.Token != a.Token {
			t.Errorf("after node-b resigned: leader %+v, want node-a", l)
		}

		if err := h.s.Resign(h.ctx(), "node-a"); err != nil {
			t.Fatalf("Resign(node-a): %v", err)
		}
		if l := h.leader(); l.Holder != "" {
			t.Errorf("after node-a resigned: leader %+v, want none", l)
		}
		b := h.campaign("node-b", 10*time.Second)
		if b.Holder != "node-b" || b.Token <= a.Token {
			t.Errorf("Campaign by node-b after node-a resigned: %+v, want node-b with a token above %d", b, a.Token)
		}
		if l := h.campaign("node-a", 10*time.Second); l.Holder != "node-b" {
			t.Errorf("Campaign by node-a while node-b holds: %+v", l)
		}
	})

	s.run(t, "ExpiryHandsOver", func(t *testing.T, h *fixture) {
		a := h.campaign("node-a", 80*time.Millisecond)
		if a.Holder != "node-a" {
			t.Fatalf("Campaign: %+v", a)
		}
		var b archivist.Lease
		testkit.Eventually(t, waitLimit, func() bool {
			b = h.campaign("node-b", 10*time.Second)
			return b.Holder == "node-b"
		}, "node-b gets the lease after node-a's 80ms ran out")
		if b.Token <= a.Token {
			t.Errorf("new holder's token %d is not above the old %d", b.Token, a.Token)
		}
		if l := h.leader(); l.Holder != "node-b" || l.Token != b.Token {
			t.Errorf("Leader: %+v, want node-b's lease", l)
		}
		// The old holder coming back does not win while node-b holds.
		if l := h.campaign("node-a", 10*time.Second); l.Holder != "node-b" {
			t.Errorf("Campaign by node-a after losing the lease: %+v", l)
		}
	})

	s.run(t, "ExpiredLease", func(t *testing.T, h *fixture) {
		id := h.createOne("alpha")
		a := h.campaign("node-a", 60*time.Millisecond)
		testkit.Eventually(t, waitLimit, func() bool { return h.leader().Holder == "" },
			"Leader reports no leader once node-a's 60ms lease ran out")
		before := h.snapshot(id)
		_, err := h.s.AssignTasks(h.ctx(), a, []archivist.Assignment{{TaskID: id, NodeID: "node-1"}}, longTTL)
		h.wantCode(err, archivist.CodeConflict, "AssignTasks under an expired lease")
		_, err = h.s.RecoverExpired(h.ctx(), a, quickRetry)
		h.wantCode(err, archivist.CodeConflict, "RecoverExpired under an expired lease")
		_, err = h.s.RequeueNode(h.ctx(), a, "node-1")
		h.wantCode(err, archivist.CodeConflict, "RequeueNode under an expired lease")
		h.unchanged("operations under an expired lease", before)
	})
}

func testAssignTasks(t *testing.T, s suite) {
	s.run(t, "CurrentLease", func(t *testing.T, h *fixture) {
		h.create(
			newTask("a", "t", archivist.PriorityNormal),
			newTask("b", "t", archivist.PriorityNormal),
			newTask("c", "t", archivist.PriorityNormal),
		)
		seq := h.lastSeq()
		before := time.Now()
		got, err := h.s.AssignTasks(h.ctx(), h.lead(), []archivist.Assignment{
			{TaskID: "a", NodeID: "node-1"},
			{TaskID: "b", NodeID: "node-2"},
		}, 30*time.Second)
		after := time.Now()
		if err != nil {
			t.Fatalf("AssignTasks: %v", err)
		}
		if diff := cmp.Diff([]string{"a", "b"}, sortedIDs(got)); diff != "" {
			t.Fatalf("assigned (-want +got):\n%s", diff)
		}
		wantNode := map[string]string{"a": "node-1", "b": "node-2"}
		for _, task := range got {
			if task.Status != archivist.TaskAssigned || task.NodeID != wantNode[task.ID] {
				t.Errorf("task %s: %s on %q, want ASSIGNED on %s", task.ID, task.Status, task.NodeID, wantNode[task.ID])
			}
			if !near(task.AssignedAt, before, after) {
				t.Errorf("task %s: AssignedAt %v, want about now", task.ID, task.AssignedAt)
			}
			if d := task.LeaseUntil.Sub(task.AssignedAt); !within(d, 30*time.Second, 30*time.Second) {
				t.Errorf("task %s: claim window %s (LeaseUntil %v), want 30s after AssignedAt", task.ID, d, task.LeaseUntil)
			}
			if task.Attempt != 0 {
				t.Errorf("task %s: Attempt %d after assignment, want 0", task.ID, task.Attempt)
			}
			h.checkStored("AssignTasks", task)
		}
		if got := h.get("c"); got.Status != archivist.TaskPending {
			t.Errorf("task c not in the assignment is %s", got.Status)
		}
		if got := h.lastSeq(); got <= seq {
			t.Errorf("AssignTasks recorded no event: LastSeq stayed %d", got)
		}
	})

	// The leader starts the tasks it places on its own node's free workers
	// in the placement step: no claim follows.
	s.run(t, "Start", func(t *testing.T, h *fixture) {
		specs := []*archivist.Task{
			newTask("a", "t", archivist.PriorityNormal),
			newTask("b", "t", archivist.PriorityNormal),
			newTask("c", "t", archivist.PriorityNormal),
		}
		specs[0].Timeout = 20 * time.Second
		h.create(specs...)
		h.lead()
		sub := h.subscribe(h.lastSeq())
		before := time.Now()
		got, err := h.s.AssignTasks(h.ctx(), h.lead(), []archivist.Assignment{
			{TaskID: "a", NodeID: "node-1", Start: true, Grace: 1500 * time.Millisecond},
			{TaskID: "b", NodeID: "node-1"},
			{TaskID: "c", NodeID: "node-2", Start: true, Grace: 2 * time.Second},
		}, longTTL)
		after := time.Now()
		if err != nil {
			t.Fatalf("AssignTasks: %v", err)
		}
		if diff := cmp.Diff([]string{"a", "b", "c"}, sortedIDs(got)); diff != "" {
			t.Fatalf("placed (-want +got):\n%s", diff)
		}
		for _, task := range got {
			switch task.ID {
			case "a":
				checkStarted(t, task, "node-1", 1, 1500*time.Millisecond, before, after)
			case "c":
				checkStarted(t, task, "node-2", 1, 2*time.Second, before, after)
			case "b":
				if task.Status != archivist.TaskAssigned || task.NodeID != "node-1" || task.Attempt != 0 {
					t.Errorf("task b: %s on %q attempt %d, want ASSIGNED on node-1 attempt 0", task.Status, task.NodeID, task.Attempt)
				}
			}
			if !near(task.AssignedAt, before, after) {
				t.Errorf("task %s: AssignedAt %v, want about now", task.ID, task.AssignedAt)
			}
			h.checkStored("AssignTasks", task)
		}
		// One event each, in the order given: started, assigned, started.
		for _, want := range []struct {
			typ    archivist.EventType
			id     string
			status archivist.TaskStatus
		}{
			{archivist.EventTaskStarted, "a", archivist.TaskInProgress},
			{archivist.EventTaskAssigned, "b", archivist.TaskAssigned},
			{archivist.EventTaskStarted, "c", archivist.TaskInProgress},
		} {
			ev := h.next(sub)
			if ev.Type != want.typ || ev.Task == nil || ev.Task.ID != want.id || ev.Task.Status != want.status {
				t.Errorf("event %s, want %s of %s (%s)", describe(ev), want.typ, want.id, want.status)
			}
		}
		if diff := cmp.Diff(map[string]int{"node-1": 2, "node-2": 1}, h.loads()); diff != "" {
			t.Errorf("NodeLoads (-want +got):\n%s", diff)
		}
		if n := h.counts()[archivist.TaskInProgress]; n != 2 {
			t.Errorf("CountTasks: %d IN_PROGRESS, want 2", n)
		}
		// A claim takes only what was assigned, not what started.
		claimed, err := h.s.ClaimTasks(h.ctx(), "node-1", 10, grace)
		if err != nil {
			t.Fatalf("ClaimTasks: %v", err)
		}
		if diff := cmp.Diff([]string{"b"}, ids(claimed)); diff != "" {
			t.Errorf("ClaimTasks(node-1) after a start (-want +got):\n%s", diff)
		}
		// The started attempt is fenced as a claimed one is.
		_, err = h.s.CompleteTask(h.ctx(), "a", 2, json.RawMessage(`{}`))
		h.wantCode(err, archivist.CodeConflict, "CompleteTask of an attempt that never started")
		if done := h.complete("a", 1, `{"ok":true}`); done.Status != archivist.TaskCompleted {
			t.Errorf("CompleteTask of the started attempt: %s", done.Status)
		}
		if diff := cmp.Diff(map[string]int{"node-1": 1, "node-2": 1}, h.loads()); diff != "" {
			t.Errorf("NodeLoads after a started task completed (-want +got):\n%s", diff)
		}
	})

	s.run(t, "SkipsNotPending", func(t *testing.T, h *fixture) {
		h.create(
			newTask("placed", "t", archivist.PriorityNormal),
			newTask("cancelled", "t", archivist.PriorityNormal),
			newTask("running", "t", archivist.PriorityNormal),
			newTask("free", "t", archivist.PriorityNormal),
		)
		h.assign("node-1", "placed")
		h.cancel("cancelled")
		h.start("node-3", "running")
		before := h.snapshot("placed", "cancelled", "running")
		got, err := h.s.AssignTasks(h.ctx(), h.lead(), []archivist.Assignment{
			{TaskID: "placed", NodeID: "node-2"},
			{TaskID: "cancelled", NodeID: "node-2"},
			{TaskID: "running", NodeID: "node-2"},
			{TaskID: "free", NodeID: "node-2"},
		}, longTTL)
		if err != nil {
			t.Fatalf("AssignTasks: %v", err)
		}
		if diff := cmp.Diff([]string{"free"}, ids(got)); diff != "" {
			t.Errorf("assigned (-want +got):\n%s", diff)
		}
		h.unchanged("assigning tasks that are not PENDING", before)
		if got := h.get("free"); got.Status != archivist.TaskAssigned || got.NodeID != "node-2" {
			t.Errorf("free task: %s on %q, want ASSIGNED on node-2", got.Status, got.NodeID)
		}
	})

	s.run(t, "StaleLease", func(t *testing.T, h *fixture) {
		stale, current := h.staleLease()
		h.create(newTask("a", "t", archivist.PriorityNormal), newTask("b", "t", archivist.PriorityNormal))
		before := h.snapshot("a", "b")
		seq := h.lastSeq()
		as := []archivist.Assignment{{TaskID: "a", NodeID: "node-1"}, {TaskID: "b", NodeID: "node-1", Start: true, Grace: grace}}

		_, err := h.s.AssignTasks(h.ctx(), stale, as, longTTL)
		h.wantCode(err, archivist.CodeConflict, "AssignTasks under the lease of a holder that lost it")
		old := current
		old.Token--
		_, err = h.s.AssignTasks(h.ctx(), old, as, longTTL)
		h.wantCode(err, archivist.CodeConflict, "AssignTasks with an old token")
		h.unchanged("AssignTasks under a stale lease", before)
		if got := h.lastSeq(); got != seq {
			t.Errorf("refused AssignTasks recorded events: LastSeq went from %d to %d", seq, got)
		}

		got, err := h.s.AssignTasks(h.ctx(), current, as, longTTL)
		if err != nil {
			t.Fatalf("AssignTasks under the current lease: %v", err)
		}
		if len(got) != 2 {
			t.Errorf("AssignTasks under the current lease assigned %v", ids(got))
		}
	})
}

func testNodeLoads(t *testing.T, s suite) {
	s.run(t, "CountsActiveTasks", func(t *testing.T, h *fixture) {
		if got := h.loads(); len(got) != 0 {
			t.Errorf("NodeLoads on an empty store: %v", got)
		}
		h.create(
			newTask("t1", "t", archivist.PriorityNormal), newTask("t2", "t", archivist.PriorityNormal),
			newTask("t3", "t", archivist.PriorityNormal), newTask("t4", "t", archivist.PriorityNormal),
			newTask("t5", "t", archivist.PriorityNormal), newTask("t6", "t", archivist.PriorityNormal),
		)
		h.assign("node-1", "t1", "t2", "t3")
		h.assign("node-2", "t4", "t5")
		if _, err := h.s.ClaimTasks(h.ctx(), "node-1", 1, grace); err != nil {
			t.Fatalf("ClaimTasks: %v", err)
		}
		check := func(when string, want map[string]int) {
			t.Helper()
			if diff := cmp.Diff(want, h.loads()); diff != "" {
				t.Errorf("NodeLoads %s (-want +got):\n%s", when, diff)
			}
		}
		check("after placing", map[string]int{"node-1": 3, "node-2": 2})

		h.complete("t1", 1, `1`)
		check("after a completion", map[string]int{"node-1": 2, "node-2": 2})

		claimed, err := h.s.ClaimTasks(h.ctx(), "node-2", 1, grace)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("ClaimTasks(node-2): %v, %v", ids(claimed), err)
		}
		h.fail(claimed[0].ID, claimed[0].Attempt, archivist.Failure{Error: "x", Permanent: true})
		check("after a failure", map[string]int{"node-1": 2, "node-2": 1})

		h.cancel("t5")
		check("after a cancel", map[string]int{"node-1": 2})
	})
}
