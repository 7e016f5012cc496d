package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// History is what a run saw, and all the checker reads: the tasks the run
// submitted, their final state, the store's events, samples of the
// cluster's leadership and the faults it injected. A test can build one by
// hand to check that the checker catches a broken invariant.
type History struct {
	// Submitted are the tasks the API acknowledged, by id.
	Submitted map[string]Submission
	// Final is each task's state after the cluster settled, by id (as the
	// API showed it). A submitted task missing here is lost.
	Final map[string]FinalTask
	// Events are the store's task events of the run, in Seq order.
	Events []Event
	// Leadership are the samples of nodes { id isLeader status } taken
	// through the run; the last one is taken after the cluster settled.
	Leadership []LeaderSample
	// Faults are the faults injected, in order.
	Faults []Fault
	// Nodes are the ids of the cluster's nodes.
	Nodes []string
	// MaxLeaderless, when set, bounds the longest time without a live
	// leader: longer is a violation.
	MaxLeaderless time.Duration
}

// Submission is one submitted task.
type Submission struct {
	ID    string
	Type  string // echo, sleep or fail
	Input json.RawMessage
	At    time.Time
}

// FinalTask is a task's state at the end.
type FinalTask struct {
	ID       string
	Type     string
	Status   string
	Input    json.RawMessage
	Result   json.RawMessage
	Error    string
	Attempts int
}

// Event is one task event of the store, reduced to what the checker uses.
type Event struct {
	Seq     uint64
	Type    string // task.created, task.started, task.completed, task.stale_report...
	Time    time.Time
	TaskID  string
	Attempt int
	Node    string
	Status  string
	Detail  string
}

// LeaderSample is one look at the cluster's nodes. Err is set when no node
// answered.
type LeaderSample struct {
	At      time.Time
	Leaders []string
	Status  map[string]string // node id -> status
	Err     string
}

// Fault is one injected fault.
type Fault struct {
	At     time.Time
	Kind   string // node-kill, node-stop, redis-restart
	Target string // node id or redis address
	Leader bool   // the target node was the leader
	// Until is when the fault was undone (node restarted or resumed, Redis
	// back).
	Until time.Time
	Note  string
}

// Fault kinds.
const (
	FaultNodeKill     = "node-kill"
	FaultNodeStop     = "node-stop"
	FaultRedisRestart = "redis-restart"
	FaultFailover     = "redis-failover"
)

// Figures sum up a run.
type Figures struct {
	Tasks         int
	ByType        map[string]int
	Faults        map[string]int
	LeaderFaults  int // faults whose target was the leader
	Attempts      int
	Reruns        int // attempts beyond the first not explained by fail tasks
	StaleReports  int // reports of fenced attempts, rejected
	LongestNoLead time.Duration
	// LongestRerunWait is the longest time from a node's kill or stop to
	// the start of a new attempt of a task that node held.
	LongestRerunWait time.Duration
	RerunWaitTask    string
}

// Violation is one broken invariant.
type Violation struct {
	Invariant string
	Detail    string
}

func (v Violation) String() string { return v.Invariant + ": " + v.Detail }

// Invariants the checker enforces.
const (
	InvLost       = "no task lost"
	InvFinished   = "every task COMPLETED"
	InvResult     = "result as the task type returns it"
	InvFenced     = "no result from a fenced attempt"
	InvOneLeader  = "exactly one leader"
	InvNodesBack  = "every node back ONLINE"
	InvHistory    = "history complete"
	InvLeaderGap  = "a live leader again in time"
	maxViolations = 50
)

// Check verifies the invariants over h and computes the figures. It
// returns every violation found (at most 50 per invariant are described).
func Check(h *History) (Figures, []Violation) {
	var vs []Violation
	perInv := map[string]int{}
	add := func(inv, format string, args ...any) {
		perInv[inv]++
		if perInv[inv] <= maxViolations {
			vs = append(vs, Violation{inv, fmt.Sprintf(format, args...)})
		}
	}
	fig := Figures{ByType: map[string]int{}, Faults: map[string]int{}}
	for _, f := range h.Faults {
		fig.Faults[f.Kind]++
		if f.Leader {
			fig.LeaderFaults++
		}
	}

	byTask := map[string][]Event{}
	for _, e := range h.Events {
		byTask[e.TaskID] = append(byTask[e.TaskID], e)
		if e.Type == "task.stale_report" {
			fig.StaleReports++
		}
	}
	// The tasks to check: those acknowledged, and those the store created
	// for a submission whose answer was lost (a node killed mid-request).
	ids := map[string]bool{}
	for id := range h.Submitted {
		ids[id] = true
	}
	for id, evs := range byTask {
		for _, e := range evs {
			if e.Type == "task.created" {
				ids[id] = true
			}
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	fig.Tasks = len(sorted)

	for _, id := range sorted {
		ft, ok := h.Final[id]
		if !ok {
			add(InvLost, "task %s (submitted %s) is not in the store", id, subDesc(h.Submitted[id]))
			continue
		}
		fig.ByType[ft.Type]++
		fig.Attempts += ft.Attempts
		if ft.Status != "COMPLETED" {
			add(InvFinished, "task %s (%s) ended %s after %d attempts (error %q)", id, ft.Type, ft.Status, ft.Attempts, ft.Error)
			continue
		}
		failTimes := 0
		if ft.Type == "fail" {
			var in struct{ Times int }
			_ = json.Unmarshal(ft.Input, &in)
			failTimes = in.Times
		}
		if extra := ft.Attempts - 1 - failTimes; extra > 0 {
			fig.Reruns += extra
		}
		if want, err := expectedResult(ft.Type, ft.Input, ft.Attempts); err != nil {
			add(InvResult, "task %s (%s): %v", id, ft.Type, err)
		} else if !jsonEqual(ft.Result, want) {
			add(InvResult, "task %s (%s, input %s, attempt %d): result %s, want %s", id, ft.Type, ft.Input, ft.Attempts, ft.Result, want)
		}
		// Fencing: one result accepted, from the task's last attempt.
		evs := byTask[id]
		var completed []Event
		lastStarted := 0
		for _, e := range evs {
			switch e.Type {
			case "task.completed":
				completed = append(completed, e)
			case "task.started":
				lastStarted = max(lastStarted, e.Attempt)
			}
		}
		switch {
		case len(evs) == 0:
			add(InvHistory, "task %s: no event recorded", id)
		case len(completed) != 1:
			add(InvFenced, "task %s: %d results accepted (task.completed events), want 1", id, len(completed))
		case completed[0].Attempt != ft.Attempts:
			add(InvFenced, "task %s: the accepted result is from attempt %d, the task's last attempt is %d", id, completed[0].Attempt, ft.Attempts)
		case lastStarted != ft.Attempts:
			add(InvFenced, "task %s: the accepted result is from attempt %d, but attempt %d started", id, ft.Attempts, lastStarted)
		}
	}

	checkLeadership(h, &fig, add)
	fig.LongestRerunWait, fig.RerunWaitTask = rerunWait(h, byTask)
	return fig, vs
}

func subDesc(s Submission) string {
	if s.ID == "" {
		return "unacknowledged"
	}
	return fmt.Sprintf("%s %s at %s", s.Type, s.Input, s.At.Format("15:04:05.000"))
}

// expectedResult is what the built-in task types return: echo its input,
// sleep {"sleptMs": ms}, fail {"attempts": A} with A the attempt that
// succeeded.
func expectedResult(typ string, input json.RawMessage, attempt int) (json.RawMessage, error) {
	switch typ {
	case "echo":
		return input, nil
	case "sleep":
		var in struct{ Ms int64 }
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, err
		}
		return json.Marshal(map[string]int64{"sleptMs": in.Ms})
	case "fail":
		var in struct{ Times int }
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, err
		}
		if attempt <= in.Times {
			return nil, fmt.Errorf("completed at attempt %d, but fails its first %d", attempt, in.Times)
		}
		return json.Marshal(map[string]int{"attempts": attempt})
	}
	return nil, fmt.Errorf("unknown task type %q", typ)
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// checkLeadership: the last sample (after settling) shows exactly one
// leader and every node ONLINE; the longest time without a leader is the
// longest stretch of samples that saw none, or could not ask, or saw as
// leader a node that was killed or frozen at the time (its lease not yet
// run out: it leads no one).
func checkLeadership(h *History, fig *Figures, add func(inv, format string, args ...any)) {
	if len(h.Leadership) == 0 {
		add(InvHistory, "no sample of the cluster's nodes")
		return
	}
	down := func(id string, at time.Time) bool {
		for _, f := range h.Faults {
			if (f.Kind == FaultNodeKill || f.Kind == FaultNodeStop) && f.Target == id &&
				!at.Before(f.At) && (f.Until.IsZero() || at.Before(f.Until)) {
				return true
			}
		}
		return false
	}
	var since time.Time
	for _, s := range h.Leadership {
		if s.Err == "" && len(s.Leaders) == 1 && !down(s.Leaders[0], s.At) {
			if !since.IsZero() {
				fig.LongestNoLead = max(fig.LongestNoLead, s.At.Sub(since))
				since = time.Time{}
			}
			continue
		}
		if since.IsZero() {
			since = s.At
		}
	}
	last := h.Leadership[len(h.Leadership)-1]
	if !since.IsZero() {
		fig.LongestNoLead = max(fig.LongestNoLead, last.At.Sub(since))
	}
	if h.MaxLeaderless > 0 && fig.LongestNoLead > h.MaxLeaderless {
		add(InvLeaderGap, "%s without a live leader, more than the %s allowed", fig.LongestNoLead.Round(time.Millisecond), h.MaxLeaderless)
	}
	if last.Err != "" {
		add(InvOneLeader, "after settling, no node answered: %s", last.Err)
		return
	}
	if len(last.Leaders) != 1 {
		add(InvOneLeader, "after settling, %d leaders: %v", len(last.Leaders), last.Leaders)
	}
	for _, id := range h.Nodes {
		if st := last.Status[id]; st != "ONLINE" {
			add(InvNodesBack, "after settling, node %s is %q", id, st)
		}
	}
}

// rerunWait: for each kill or stop of a node, the tasks that node held
// (ASSIGNED or IN_PROGRESS there at the fault, by the events) and the time
// until each started again elsewhere or anew. Tasks the node finished
// itself after it came back are not counted.
func rerunWait(h *History, byTask map[string][]Event) (time.Duration, string) {
	var longest time.Duration
	var which string
	for _, f := range h.Faults {
		if f.Kind != FaultNodeKill && f.Kind != FaultNodeStop {
			continue
		}
		for id, evs := range byTask {
			var held *Event
			i := 0
			for ; i < len(evs) && !evs[i].Time.After(f.At); i++ {
				held = &evs[i]
			}
			if held == nil || held.Node != f.Target || (held.Status != "ASSIGNED" && held.Status != "IN_PROGRESS") {
				continue
			}
			for ; i < len(evs); i++ {
				e := evs[i]
				if e.Type == "task.started" && e.Attempt > held.Attempt {
					if d := e.Time.Sub(f.At); d > longest {
						longest, which = d, fmt.Sprintf("%s (node %s, %s at %s)", id, f.Target, f.Kind, f.At.Format("15:04:05.000"))
					}
					break
				}
				if e.Type == "task.completed" || e.Type == "task.failed" || e.Type == "task.cancelled" {
					break
				}
			}
		}
	}
	return longest, which
}
