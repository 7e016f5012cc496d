package main

import (
	"sort"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// scheduleState is what the failover test reads of a schedule.
type scheduleState struct {
	NextRunAt, LastRunAt *time.Time
	Paused               bool
}

func readSchedule(t *testing.T, n *node, name string) scheduleState {
	t.Helper()
	var out struct{ Schedule *scheduleState }
	n.gql(t, `query($n: String!) { schedule(name: $n) { nextRunAt lastRunAt paused } }`, map[string]any{"n": name}, &out)
	if out.Schedule == nil {
		t.Fatalf("schedule %s is gone", name)
	}
	return *out.Schedule
}

// scheduleTasks returns the creation times of the tasks of a schedule,
// oldest first.
func scheduleTasks(t *testing.T, n *node, name string) []time.Time {
	t.Helper()
	var out struct {
		Tasks struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					Schedule  string
					CreatedAt time.Time
				}
			}
		}
	}
	n.gql(t, `query($n: String) { tasks(first: 500, filter: {schedule: $n}) { totalCount edges { node { schedule createdAt } } } }`,
		map[string]any{"n": name}, &out)
	if out.Tasks.TotalCount != len(out.Tasks.Edges) {
		t.Fatalf("%d tasks, more than a page", out.Tasks.TotalCount)
	}
	var at []time.Time
	for _, e := range out.Tasks.Edges {
		if e.Node.Schedule != name {
			t.Fatalf("a task of the schedule filter carries schedule %q", e.Node.Schedule)
		}
		at = append(at, e.Node.CreatedAt)
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	return at
}

// TestClusterScheduleLeaderKilled: on a Redis Cluster, the leader that
// fires an every-second schedule is killed with SIGKILL. The next leader
// goes on from the tick the store recorded: each tick from the first to
// the last makes exactly one task, none twice, none missing (the failover
// takes far less than the misfire threshold).
func TestClusterScheduleLeaderKilled(t *testing.T) {
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	rc := redistest.StartCluster(t)
	// A lease of two 1.5s heartbeat intervals: the dead leader's lease
	// runs for up to 3s, so some ticks fall in the failover and the new
	// leader finds them late.
	const interval = 1500 * time.Millisecond
	args := func(id, role string) []string {
		return append(clusterArgs(rc.URL(), id, "--role", role), "--heartbeat-interval", interval.String())
	}
	a := startNode(t, args("a", "hybrid")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return leaderOf(t, a) == "a" }, "a leads")
	b := startNode(t, args("b", "hybrid")...)
	c := startNode(t, args("c", "worker")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, b)) == 3 }, "three online nodes")

	const name = "failover/every-second"
	b.gql(t, `mutation($n: String!) { createSchedule(input: {name: $n, every: "1s", task: {type: "echo", input: "tick"}}) { name } }`,
		map[string]any{"n": name}, nil)
	first := *readSchedule(t, b, name).NextRunAt
	testkit.Eventually(t, 20*time.Second, func() bool { return len(scheduleTasks(t, b, name)) >= 4 }, "four ticks under a")

	if l := leaderOf(t, b); l != "a" {
		t.Fatalf("leader before the kill: %q, want a", l)
	}
	killed := time.Now()
	a.kill()
	testkit.Eventually(t, 15*time.Second, func() bool { return leaderOf(t, b) == "b" }, "b to lead")
	// Eight more ticks under the new leader, then the schedule is paused.
	// Each state read on the way has its next tick one second after its
	// last, on the grid of the first.
	testkit.Eventually(t, 30*time.Second, func() bool {
		s := readSchedule(t, c, name)
		if s.LastRunAt != nil {
			if s.NextRunAt == nil || s.NextRunAt.Sub(*s.LastRunAt) != time.Second || s.LastRunAt.Sub(first)%time.Second != 0 {
				t.Fatalf("schedule state: last %v next %v, want next one second after last, on the grid of %s", s.LastRunAt, s.NextRunAt, first)
			}
		}
		return s.LastRunAt != nil && s.LastRunAt.After(killed.Add(8*time.Second))
	}, "eight ticks after the kill")
	b.gql(t, `mutation($n: String!) { pauseSchedule(name: $n) { name } }`, map[string]any{"n": name}, nil)

	s := readSchedule(t, c, name)
	last := *s.LastRunAt
	if d := last.Sub(first); d%time.Second != 0 {
		t.Fatalf("last tick %s is not a whole number of seconds after the first %s", last, first)
	}
	ticks := int(last.Sub(first)/time.Second) + 1
	created := scheduleTasks(t, c, name)
	if len(created) != ticks {
		t.Fatalf("%d tasks for %d ticks from %s to %s: want exactly one per tick", len(created), ticks, first, last)
	}
	// Task i belongs to tick i: it was not made before its tick, and not
	// later than the misfire threshold after it (ticks missed during the
	// failover are made at once by the new leader).
	late := time.Duration(0)
	for i, at := range created {
		tick := first.Add(time.Duration(i) * time.Second)
		// The nodes share one clock; 50ms allows for the store's
		// milliseconds.
		if at.Before(tick.Add(-50 * time.Millisecond)) {
			t.Errorf("task %d created at %s, before its tick %s", i, at, tick)
		}
		if d := at.Sub(tick); d > late {
			late = d
		}
	}
	if late >= archivist.MisfireThreshold {
		t.Errorf("a task was made %s after its tick, past the misfire threshold", late)
	}
	// The scenario held: some tick came while no node led, and was made
	// late by the new leader rather than skipped.
	if late < 500*time.Millisecond {
		t.Errorf("no tick fell in the failover (the latest task was made %s after its tick)", late)
	}
	// The tasks run.
	testkit.Eventually(t, 30*time.Second, func() bool { return completed(t, c) == ticks }, "every tick's task to complete")
	t.Logf("%d ticks, one task each; the latest was made %s after its tick (the failover)", ticks, late)
}
