package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// TestClusterWorkflowsSurviveKills: 200 workflows of 5 to 20 steps run on
// three nodes over a three-node Redis Cluster; the leader and a worker are
// killed with SIGKILL mid-run. Every workflow ends COMPLETED, every step
// ran to completion, and every $ref was resolved from the right parent:
// each step echoes its own key and, through $refs, its parents' keys.
func TestClusterWorkflowsSurviveKills(t *testing.T) {
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	rc := redistest.StartCluster(t)
	const interval = 500 * time.Millisecond
	args := func(id, role string) []string {
		return append(clusterArgs(rc.URL(), id, "--role", role), "--heartbeat-interval", interval.String())
	}
	a := startNode(t, args("a", "hybrid")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return leaderOf(t, a) == "a" }, "a leads")
	b := startNode(t, args("b", "hybrid")...)
	c := startNode(t, args("c", "worker")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, b)) == 3 }, "three online nodes")

	// Each workflow: a root that sleeps (so that the run lasts long enough
	// to be interrupted), then 4 to 19 echo steps, each depending on one to
	// three earlier steps, its input naming its parents through $refs.
	rng := rand.New(rand.NewPCG(16, 200))
	type wantStep struct{ parents []string }
	want := map[string]map[string]wantStep{} // workflow id -> step key -> parents
	const workflows = 200
	totalSteps := 0
	for w := range workflows {
		n := 5 + rng.IntN(16)
		steps := []map[string]any{{"key": "root", "type": "sleep", "input": map[string]any{"ms": 100 + rng.IntN(400)}, "maxRetries": 5}}
		wantSteps := map[string]wantStep{"root": {}}
		keys := []string{"root"}
		for i := 1; i < n; i++ {
			key := fmt.Sprintf("s%d", i)
			var parents []string
			for _, j := range rng.Perm(len(keys))[:1+rng.IntN(min(3, len(keys)))] {
				parents = append(parents, keys[j])
			}
			from := make([]any, 0, len(parents))
			for _, p := range parents {
				if p == "root" {
					from = append(from, "root")
					continue
				}
				from = append(from, map[string]any{"$ref": p + ".result.me"})
			}
			steps = append(steps, map[string]any{"key": key, "type": "echo", "dependsOn": parents, "maxRetries": 5,
				"input": map[string]any{"me": key, "from": from}})
			wantSteps[key] = wantStep{parents: parents}
			keys = append(keys, key)
		}
		var out struct{ SubmitWorkflow struct{ ID string } }
		b.gql(t, `mutation($in: WorkflowInput!) { submitWorkflow(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"name": fmt.Sprintf("chaos-%d", w), "steps": steps}}, &out)
		want[out.SubmitWorkflow.ID] = wantSteps
		totalSteps += n
	}

	completedWorkflows := func(n *node) int {
		var out struct{ Workflows struct{ TotalCount int } }
		n.gql(t, `{ workflows(first: 0, filter: {status: [COMPLETED]}) { totalCount } }`, nil, &out)
		return out.Workflows.TotalCount
	}
	testkit.Eventually(t, 60*time.Second, func() bool { return completedWorkflows(b) >= 20 }, "work under way")
	if l := leaderOf(t, b); l != "a" {
		t.Fatalf("leader before the kill: %q, want a", l)
	}
	a.kill()
	testkit.Eventually(t, 15*time.Second, func() bool { return leaderOf(t, b) == "b" }, "b to lead")
	done := completedWorkflows(b)
	if done >= workflows {
		t.Fatalf("all workflows completed before the worker was killed: the run was too short to test anything")
	}
	c.kill()
	t.Logf("killed the leader, then a worker with %d of %d workflows completed", done, workflows)
	testkit.Eventually(t, 180*time.Second, func() bool { return completedWorkflows(b) == workflows }, "every workflow to complete")

	for id, steps := range want {
		var out struct {
			Workflow struct {
				Status string
				Steps  []struct {
					Key       string
					DependsOn []string
					Task      struct {
						Status string
						Result json.RawMessage
					}
				}
			}
		}
		b.gql(t, `query($id: ID!) { workflow(id: $id) { status steps { key dependsOn task { status result } } } }`,
			map[string]any{"id": id}, &out)
		w := out.Workflow
		if w.Status != "COMPLETED" || len(w.Steps) != len(steps) {
			t.Fatalf("workflow %s: %s with %d steps, want COMPLETED with %d", id, w.Status, len(w.Steps), len(steps))
		}
		for _, s := range w.Steps {
			ws := steps[s.Key]
			if s.Task.Status != "COMPLETED" || !slices.Equal(s.DependsOn, ws.parents) && len(ws.parents) > 0 {
				t.Fatalf("workflow %s step %s: %s depending on %v, want COMPLETED depending on %v", id, s.Key, s.Task.Status, s.DependsOn, ws.parents)
			}
			if s.Key == "root" {
				continue
			}
			var res struct {
				Me   string
				From []string
			}
			if err := json.Unmarshal(s.Task.Result, &res); err != nil {
				t.Fatalf("workflow %s step %s: result %s: %v", id, s.Key, s.Task.Result, err)
			}
			if res.Me != s.Key || !slices.Equal(res.From, ws.parents) {
				t.Fatalf("workflow %s step %s: result %s; want me %s and from %v (its parents, through their results)",
					id, s.Key, s.Task.Result, s.Key, ws.parents)
			}
		}
	}
	t.Logf("%d workflows, %d steps: all completed with their $refs resolved from the right parents", workflows, totalSteps)
}
