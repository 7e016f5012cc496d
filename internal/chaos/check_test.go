package chaos

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// goodHistory is a clean run: three tasks (echo, sleep, fail) completed,
// one of them re-run after its node was killed, one leader, nodes back.
func goodHistory() *History {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	h := &History{
		Nodes: []string{"n1", "n2"},
		Submitted: map[string]Submission{
			"e": {ID: "e", Type: "echo", Input: json.RawMessage(`{"k": 1}`), At: at(0)},
			"s": {ID: "s", Type: "sleep", Input: json.RawMessage(`{"ms": 100}`), At: at(0)},
			"f": {ID: "f", Type: "fail", Input: json.RawMessage(`{"times": 1}`), At: at(0)},
		},
		Final: map[string]FinalTask{
			"e": {ID: "e", Type: "echo", Status: "COMPLETED", Input: json.RawMessage(`{"k": 1}`), Result: json.RawMessage(`{"k":1}`), Attempts: 1},
			"s": {ID: "s", Type: "sleep", Status: "COMPLETED", Input: json.RawMessage(`{"ms": 100}`), Result: json.RawMessage(`{"sleptMs":100}`), Attempts: 2},
			"f": {ID: "f", Type: "fail", Status: "COMPLETED", Input: json.RawMessage(`{"times": 1}`), Result: json.RawMessage(`{"attempts":2}`), Attempts: 2},
		},
		Faults: []Fault{{At: at(150), Until: at(1000), Kind: FaultNodeKill, Target: "n1", Leader: true}},
	}
	seq := uint64(0)
	ev := func(ms int, typ, id string, attempt int, node, status string) Event {
		seq++
		return Event{Seq: seq, Type: typ, Time: at(ms), TaskID: id, Attempt: attempt, Node: node, Status: status}
	}
	h.Events = []Event{
		ev(10, "task.created", "e", 0, "", "PENDING"),
		ev(10, "task.created", "s", 0, "", "PENDING"),
		ev(10, "task.created", "f", 0, "", "PENDING"),
		ev(20, "task.started", "e", 1, "n2", "IN_PROGRESS"),
		ev(21, "task.completed", "e", 1, "n2", "COMPLETED"),
		ev(30, "task.started", "s", 1, "n1", "IN_PROGRESS"),
		// n1 is killed at 150 ms; the leader requeues its task.
		ev(900, "task.requeued", "s", 1, "", "PENDING"),
		ev(950, "task.started", "s", 2, "n2", "IN_PROGRESS"),
		ev(1050, "task.completed", "s", 2, "n2", "COMPLETED"),
		ev(30, "task.started", "f", 1, "n2", "IN_PROGRESS"),
		ev(31, "task.retrying", "f", 1, "n2", "RETRYING"),
		ev(60, "task.started", "f", 2, "n2", "IN_PROGRESS"),
		ev(61, "task.completed", "f", 2, "n2", "COMPLETED"),
	}
	for ms := 0; ms <= 2000; ms += 200 {
		s := LeaderSample{At: at(ms), Leaders: []string{"n1"}, Status: map[string]string{"n1": "ONLINE", "n2": "ONLINE"}}
		if ms >= 600 {
			s.Leaders = []string{"n2"}
		}
		h.Leadership = append(h.Leadership, s)
	}
	return h
}

func TestCheckCleanHistory(t *testing.T) {
	fig, vs := Check(goodHistory())
	if len(vs) > 0 {
		t.Fatalf("violations in a clean history: %v", vs)
	}
	if fig.Tasks != 3 || fig.Attempts != 5 || fig.Reruns != 1 || fig.Faults[FaultNodeKill] != 1 || fig.LeaderFaults != 1 {
		t.Fatalf("figures: %+v", fig)
	}
	// n1, killed at 150 ms, still held the lease in the samples of 200 and
	// 400 ms; the 600 ms sample saw n2.
	if fig.LongestNoLead != 400*time.Millisecond {
		t.Fatalf("longest without a leader: %s, want 400ms", fig.LongestNoLead)
	}
	if fig.LongestRerunWait != 800*time.Millisecond || !strings.HasPrefix(fig.RerunWaitTask, "s ") {
		t.Fatalf("longest re-run wait: %s %q, want 800ms for task s", fig.LongestRerunWait, fig.RerunWaitTask)
	}
}

// TestCheckDetects: each broken invariant, fabricated in an otherwise clean
// history, is reported.
func TestCheckDetects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inv    string
		break_ func(h *History)
	}{
		{"lost task", InvLost, func(h *History) { delete(h.Final, "e") }},
		{"task created but lost", InvLost, func(h *History) {
			h.Events = append(h.Events, Event{Seq: 99, Type: "task.created", TaskID: "x", Time: h.Events[0].Time})
		}},
		{"stuck task", InvFinished, func(h *History) {
			f := h.Final["s"]
			f.Status, f.Result = "IN_PROGRESS", nil
			h.Final["s"] = f
		}},
		{"failed task", InvFinished, func(h *History) {
			f := h.Final["f"]
			f.Status, f.Result, f.Error = "FAILED", nil, "boom"
			h.Final["f"] = f
		}},
		{"wrong echo result", InvResult, func(h *History) {
			f := h.Final["e"]
			f.Result = json.RawMessage(`{"k": 2}`)
			h.Final["e"] = f
		}},
		{"fail task completed too early", InvResult, func(h *History) {
			f := h.Final["f"]
			f.Attempts, f.Result = 1, json.RawMessage(`{"attempts":1}`)
			h.Final["f"] = f
		}},
		{"result of a fenced attempt accepted", InvFenced, func(h *History) {
			// Attempt 1 of s (on the killed n1) reported late and was taken.
			for i, e := range h.Events {
				if e.TaskID == "s" && e.Type == "task.completed" {
					h.Events[i].Attempt = 1
				}
			}
		}},
		{"two results accepted", InvFenced, func(h *History) {
			h.Events = append(h.Events, Event{Seq: 99, Type: "task.completed", TaskID: "e", Attempt: 1, Time: h.Events[4].Time})
		}},
		{"a newer attempt started than the one accepted", InvFenced, func(h *History) {
			h.Events = append(h.Events, Event{Seq: 99, Type: "task.started", TaskID: "e", Attempt: 2, Time: h.Events[4].Time})
		}},
		{"two leaders", InvOneLeader, func(h *History) {
			last := &h.Leadership[len(h.Leadership)-1]
			last.Leaders = []string{"n1", "n2"}
		}},
		{"no leader", InvOneLeader, func(h *History) {
			h.Leadership[len(h.Leadership)-1].Leaders = nil
		}},
		{"node not back", InvNodesBack, func(h *History) {
			h.Leadership[len(h.Leadership)-1].Status = map[string]string{"n1": "OFFLINE", "n2": "ONLINE"}
		}},
		{"no events", InvHistory, func(h *History) { h.Events = nil }},
		{"leader gap too long", InvLeaderGap, func(h *History) { h.MaxLeaderless = 300 * time.Millisecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := goodHistory()
			tc.break_(h)
			_, vs := Check(h)
			for _, v := range vs {
				if v.Invariant == tc.inv {
					return
				}
			}
			t.Fatalf("want a violation of %q, got %v", tc.inv, vs)
		})
	}
}
