package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/scheduler"
)

// simNode describes a simulated node for Place: its id, worker count, load
// and what it accepts.
type simNode struct {
	id        string
	workers   int
	load      int
	taskTypes []string
	caps      []string
}

func candidates(nodes ...simNode) []*scheduler.Candidate {
	out := make([]*scheduler.Candidate, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, &scheduler.Candidate{
			Node: &archivist.Node{ID: n.id, Role: archivist.RoleWorker, Workers: n.workers,
				TaskTypes: n.taskTypes, Capabilities: n.caps},
			Load: n.load,
		})
	}
	return out
}

// newTasks returns n tasks of type typ with ids "<typ>-000", ...
func newTasks(typ string, n int) []*archivist.Task {
	out := make([]*archivist.Task, 0, n)
	for i := range n {
		out = append(out, &archivist.Task{ID: fmt.Sprintf("%s-%03d", typ, i), Type: typ, Priority: archivist.PriorityNormal})
	}
	return out
}

func perNode(as []archivist.Assignment) map[string]int {
	out := map[string]int{}
	for _, a := range as {
		out[a.NodeID]++
	}
	return out
}

// checkPlacement checks what holds for every strategy: assignments come in
// task order, each task at most once, on a known node, and no node gets
// more than the free slots it had; the candidates' loads are updated.
func checkPlacement(t *testing.T, tasks []*archivist.Task, before map[string]simNode, cands []*scheduler.Candidate, as []archivist.Assignment) {
	t.Helper()
	pos := map[string]int{}
	for i, task := range tasks {
		pos[task.ID] = i
	}
	last := -1
	for _, a := range as {
		p, ok := pos[a.TaskID]
		if !ok {
			t.Fatalf("assignment of unknown task %q", a.TaskID)
		}
		if p <= last {
			t.Fatalf("assignment of %s is out of task order (or repeated)", a.TaskID)
		}
		last = p
		if _, ok := before[a.NodeID]; !ok {
			t.Fatalf("task %s placed on unknown node %q", a.TaskID, a.NodeID)
		}
	}
	got := perNode(as)
	for id, n := range before {
		if free := max(n.workers-n.load, 0); got[id] > free {
			t.Errorf("node %s got %d tasks, but had only %d free slots", id, got[id], free)
		}
	}
	for _, c := range cands {
		if want := before[c.Node.ID].load + got[c.Node.ID]; c.Load != want {
			t.Errorf("candidate %s has load %d after Place, want %d (its load before plus what it got)", c.Node.ID, c.Load, want)
		}
	}
}

func byID(nodes []simNode) map[string]simNode {
	out := map[string]simNode{}
	for _, n := range nodes {
		out[n.id] = n
	}
	return out
}

func TestPlaceRoundRobin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		nodes []simNode
		tasks int
		want  map[string]int
	}{
		{
			name:  "spreads evenly over nodes with room",
			nodes: []simNode{{id: "a", workers: 150}, {id: "b", workers: 150}, {id: "c", workers: 150}},
			tasks: 300,
			want:  map[string]int{"a": 100, "b": 100, "c": 100},
		},
		{
			name:  "counts the load a node already has",
			nodes: []simNode{{id: "a", workers: 110, load: 10}, {id: "b", workers: 100}, {id: "c", workers: 100}},
			tasks: 300,
			want:  map[string]int{"a": 100, "b": 100, "c": 100},
		},
		{
			name:  "skips a node with no free slot",
			nodes: []simNode{{id: "a", workers: 100, load: 100}, {id: "b", workers: 200}, {id: "c", workers: 200}},
			tasks: 300,
			want:  map[string]int{"b": 150, "c": 150},
		},
		{
			name: "skips a node without a handler for the type",
			nodes: []simNode{{id: "a", workers: 200, taskTypes: []string{"sleep", "fail"}},
				{id: "b", workers: 200, taskTypes: []string{"echo", "sleep"}}, {id: "c", workers: 200}},
			tasks: 300,
			want:  map[string]int{"b": 150, "c": 150},
		},
		{
			name:  "places no more than the free slots",
			nodes: []simNode{{id: "a", workers: 10}, {id: "b", workers: 25, load: 5}, {id: "c", workers: 4, load: 6}},
			tasks: 300,
			want:  map[string]int{"a": 10, "b": 20},
		},
		{
			name:  "places nothing when no node has room",
			nodes: []simNode{{id: "a", workers: 2, load: 2}, {id: "b", workers: 0}},
			tasks: 5,
			want:  map[string]int{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p scheduler.Placer
			tasks := newTasks("echo", tt.tasks)
			cands := candidates(tt.nodes...)
			as := p.Place(archivist.StrategyRoundRobin, tasks, cands)
			checkPlacement(t, tasks, byID(tt.nodes), cands, as)
			if diff := cmp.Diff(tt.want, perNode(as)); diff != "" {
				t.Errorf("tasks per node (-want +got):\n%s", diff)
			}
		})
	}
}

// Round robin takes turns: while every node has room, any run of as many
// consecutive assignments as there are nodes touches every node once.
func TestPlaceRoundRobinTakesTurns(t *testing.T) {
	t.Parallel()
	var p scheduler.Placer
	nodes := []simNode{{id: "c", workers: 150}, {id: "a", workers: 150}, {id: "b", workers: 150}}
	tasks := newTasks("echo", 300)
	as := p.Place(archivist.StrategyRoundRobin, tasks, candidates(nodes...))
	if len(as) != 300 {
		t.Fatalf("placed %d tasks, want 300", len(as))
	}
	for i := 0; i+3 <= len(as); i++ {
		seen := map[string]bool{}
		for _, a := range as[i : i+3] {
			seen[a.NodeID] = true
		}
		if len(seen) != 3 {
			t.Fatalf("assignments %d..%d went to %v: round robin should use each of the 3 nodes once", i, i+2, as[i:i+3])
		}
	}

	// The position carries over to the next round: three rounds of one task
	// go to three different nodes.
	var q scheduler.Placer
	var got []string
	for range 3 {
		as := q.Place(archivist.StrategyRoundRobin, newTasks("echo", 1), candidates(nodes...))
		if len(as) != 1 {
			t.Fatalf("placed %d tasks, want 1", len(as))
		}
		got = append(got, as[0].NodeID)
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{"a", "b", "c"}, got); diff != "" {
		t.Errorf("nodes of three one-task rounds (-want +got):\n%s", diff)
	}
}

// lessShare reports whether aLoad/aWorkers < bLoad/bWorkers, without division.
func lessShare(aLoad, aWorkers, bLoad, bWorkers int) bool { return aLoad*bWorkers < bLoad*aWorkers }

func TestPlaceLeastBusy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		nodes []simNode
		tasks int
		// wantOrder, when set, is the node of each assignment in turn.
		wantOrder []string
		want      map[string]int
	}{
		{
			name:  "idle node first, then by share with ties to more free slots",
			nodes: []simNode{{id: "a", workers: 4}, {id: "b", workers: 4, load: 3}, {id: "c", workers: 8, load: 2}},
			tasks: 6,
			// shares a 0/4 b 3/4 c 2/8 -> a; a 1/4 = c 2/8, c has more free -> c;
			// a 1/4 < c 3/8 -> a; a 2/4 > c 3/8 -> c; a 2/4 = c 4/8 -> c; a 2/4 < c 5/8 -> a.
			wantOrder: []string{"a", "c", "a", "c", "c", "a"},
			want:      map[string]int{"a": 3, "c": 3},
		},
		{
			name:  "unequal worker counts fill in proportion",
			nodes: []simNode{{id: "a", workers: 2}, {id: "b", workers: 8}},
			tasks: 20,
			want:  map[string]int{"a": 2, "b": 8},
		},
		{
			name:  "a busier large node still beats a fuller small one",
			nodes: []simNode{{id: "small", workers: 2, load: 1}, {id: "large", workers: 16, load: 6}},
			tasks: 1,
			want:  map[string]int{"large": 1},
		},
		{
			name: "skips full nodes and nodes without a handler",
			nodes: []simNode{{id: "a", workers: 4, load: 4}, {id: "b", workers: 8, taskTypes: []string{"sleep"}},
				{id: "c", workers: 8, load: 6}},
			tasks: 5,
			want:  map[string]int{"c": 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p scheduler.Placer
			tasks := newTasks("echo", tt.tasks)
			cands := candidates(tt.nodes...)
			as := p.Place(archivist.StrategyLeastBusy, tasks, cands)
			checkPlacement(t, tasks, byID(tt.nodes), cands, as)
			if diff := cmp.Diff(tt.want, perNode(as)); diff != "" {
				t.Errorf("tasks per node (-want +got):\n%s", diff)
			}
			if tt.wantOrder != nil {
				var got []string
				for _, a := range as {
					got = append(got, a.NodeID)
				}
				if diff := cmp.Diff(tt.wantOrder, got); diff != "" {
					t.Errorf("node of each assignment (-want +got):\n%s", diff)
				}
			}
			// Replay: each pick had the lowest share among the nodes that
			// could take the task at that moment.
			load := map[string]int{}
			for _, n := range tt.nodes {
				load[n.id] = n.load
			}
			nodes := byID(tt.nodes)
			for i, a := range as {
				chosen := nodes[a.NodeID]
				for _, n := range tt.nodes {
					eligible := load[n.id] < n.workers && (len(n.taskTypes) == 0 || slices.Contains(n.taskTypes, "echo"))
					if eligible && lessShare(load[n.id], n.workers, load[chosen.id], chosen.workers) {
						t.Errorf("assignment %d went to %s at %d/%d, but %s was less busy at %d/%d",
							i, chosen.id, load[chosen.id], chosen.workers, n.id, load[n.id], n.workers)
					}
				}
				load[a.NodeID]++
			}
		})
	}
}

func TestPlaceCapabilityBased(t *testing.T) {
	t.Parallel()
	exact := simNode{id: "1-exact", workers: 1, caps: []string{"image.resize", "text.upper"}}
	pattern := simNode{id: "2-pattern", workers: 1, caps: []string{"text.*"}}
	star := simNode{id: "3-star", workers: 1, caps: []string{"*"}}
	none := simNode{id: "4-none", workers: 1}
	image := simNode{id: "5-image", workers: 8, caps: []string{"image.*"}}
	full := func(n simNode) simNode { n.load = n.workers; return n }

	tests := []struct {
		name  string
		nodes []simNode
		typ   string
		tasks int
		want  map[string]int
	}{
		{
			name:  "exact match first",
			nodes: []simNode{none, star, pattern, exact, image},
			typ:   "text.upper", tasks: 1,
			want: map[string]int{"1-exact": 1},
		},
		{
			name:  "then a pattern",
			nodes: []simNode{none, star, pattern, full(exact), image},
			typ:   "text.upper", tasks: 1,
			want: map[string]int{"2-pattern": 1},
		},
		{
			name:  "then the * wildcard",
			nodes: []simNode{none, star, full(pattern), full(exact), image},
			typ:   "text.upper", tasks: 1,
			want: map[string]int{"3-star": 1},
		},
		{
			name:  "then a node listing no capabilities",
			nodes: []simNode{none, full(star), full(pattern), full(exact), image},
			typ:   "text.upper", tasks: 1,
			want: map[string]int{"4-none": 1},
		},
		{
			name:  "more tasks than matching slots fill in order of preference, never a non-matching node",
			nodes: []simNode{none, star, pattern, exact, image},
			typ:   "text.upper", tasks: 10,
			want: map[string]int{"1-exact": 1, "2-pattern": 1, "3-star": 1, "4-none": 1},
		},
		{
			name:  "unplaced when no node matches",
			nodes: []simNode{pattern, image, {id: "6-dice", workers: 4, caps: []string{"dice.simulate"}}},
			typ:   "echo", tasks: 3,
			want: map[string]int{},
		},
		{
			name:  "a pattern does not match another family",
			nodes: []simNode{{id: "p", workers: 4, caps: []string{"text.*"}}},
			typ:   "image.resize", tasks: 1,
			want: map[string]int{},
		},
		{
			name:  "a matching capability without a handler does not count",
			nodes: []simNode{{id: "p", workers: 4, caps: []string{"text.*"}, taskTypes: []string{"text.lower"}}},
			typ:   "text.upper", tasks: 1,
			want: map[string]int{},
		},
		{
			name: "among equal matches the least busy",
			nodes: []simNode{{id: "a", workers: 4, load: 3, caps: []string{"text.*"}},
				{id: "b", workers: 4, load: 1, caps: []string{"text.*"}}},
			typ: "text.upper", tasks: 1,
			want: map[string]int{"b": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p scheduler.Placer
			tasks := newTasks(tt.typ, tt.tasks)
			cands := candidates(tt.nodes...)
			as := p.Place(archivist.StrategyCapabilityBased, tasks, cands)
			checkPlacement(t, tasks, byID(tt.nodes), cands, as)
			if diff := cmp.Diff(tt.want, perNode(as)); diff != "" {
				t.Errorf("tasks per node (-want +got):\n%s", diff)
			}
		})
	}
}

// Whatever the strategy, types, capabilities and loads, no node gets more
// than its free slots, each task lands on a node that accepts it, and when
// every node accepts every type nothing that fits is left unplaced.
func TestPlaceNeverOverfills(t *testing.T) {
	t.Parallel()
	types := []string{"echo", "sleep", "text.upper", "image.resize"}
	capSets := [][]string{nil, {"*"}, {"text.*"}, {"echo", "sleep"}, {"image.resize", "text.*"}}
	typeSets := [][]string{nil, {"echo", "sleep", "text.upper", "image.resize"}, {"echo", "text.upper"}}
	for _, strategy := range []archivist.LoadBalancingStrategy{archivist.StrategyRoundRobin, archivist.StrategyLeastBusy, archivist.StrategyCapabilityBased} {
		for seed := range uint64(20) {
			t.Run(fmt.Sprintf("%s/seed%d", strategy, seed), func(t *testing.T) {
				t.Parallel()
				rng := rand.New(rand.NewPCG(seed, 42))
				restricted := seed%2 == 1
				var nodes []simNode
				for i := range 2 + rng.IntN(5) {
					workers := rng.IntN(9)
					n := simNode{id: fmt.Sprintf("n%d", i), workers: workers, load: rng.IntN(workers + 2)}
					if restricted {
						n.caps = capSets[rng.IntN(len(capSets))]
						n.taskTypes = typeSets[rng.IntN(len(typeSets))]
					}
					nodes = append(nodes, n)
				}
				var tasks []*archivist.Task
				for i := range 10 + rng.IntN(60) {
					typ := types[rng.IntN(len(types))]
					tasks = append(tasks, &archivist.Task{ID: fmt.Sprintf("t%03d", i), Type: typ, Priority: archivist.PriorityNormal})
				}
				var p scheduler.Placer
				cands := candidates(nodes...)
				as := p.Place(strategy, tasks, cands)
				checkPlacement(t, tasks, byID(nodes), cands, as)

				byTask := map[string]*archivist.Task{}
				for _, task := range tasks {
					byTask[task.ID] = task
				}
				all := byID(nodes)
				for _, a := range as {
					n, typ := all[a.NodeID], byTask[a.TaskID].Type
					if len(n.taskTypes) > 0 && !slices.Contains(n.taskTypes, typ) {
						t.Errorf("task %s (%s) placed on %s, which has no handler for it", a.TaskID, typ, n.id)
					}
					if strategy == archivist.StrategyCapabilityBased {
						node := &archivist.Node{ID: n.id, Capabilities: n.caps, TaskTypes: n.taskTypes}
						if !node.Accepts(typ) {
							t.Errorf("task %s (%s) placed on %s with capabilities %v", a.TaskID, typ, n.id, n.caps)
						}
					}
				}
				if !restricted {
					free := 0
					for _, n := range nodes {
						free += max(n.workers-n.load, 0)
					}
					if want := min(free, len(tasks)); len(as) != want {
						t.Errorf("placed %d of %d tasks with %d free slots, want %d", len(as), len(tasks), free, want)
					}
				}
			})
		}
	}
}
