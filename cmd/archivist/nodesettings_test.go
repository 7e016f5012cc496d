package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// nodeView is a node as the API shows it.
type nodeView struct {
	ID           string
	Name         string
	Role         string
	Status       string
	Workers      int
	ActiveTasks  int
	IsLeader     bool
	Capabilities []string
}

func nodeSettingsView(t *testing.T, n *node, id string) nodeView {
	t.Helper()
	var out struct{ Node *nodeView }
	n.gql(t, `query($id: ID!) { node(id: $id) { id name role status workers activeTasks isLeader capabilities } }`,
		map[string]any{"id": id}, &out)
	if out.Node == nil {
		t.Fatalf("node %s not found", id)
	}
	return *out.Node
}

// updateNode calls updateNode with input (GraphQL input object syntax).
func updateNode(t *testing.T, n *node, id, input string) nodeView {
	t.Helper()
	var out struct{ UpdateNode nodeView }
	n.gql(t, `mutation($id: ID!) { updateNode(id: $id, input: `+input+`) { id name role status workers activeTasks isLeader capabilities } }`,
		map[string]any{"id": id}, &out)
	return out.UpdateNode
}

// inProgress counts the tasks IN_PROGRESS, by node.
func inProgress(t *testing.T, n *node) map[string]int {
	t.Helper()
	var out struct {
		Tasks struct {
			Edges []struct{ Node struct{ NodeID string } }
		}
	}
	n.gql(t, `{ tasks(first: 500, filter: {status: [IN_PROGRESS]}) { edges { node { nodeId } } } }`, nil, &out)
	by := map[string]int{}
	for _, e := range out.Tasks.Edges {
		by[e.Node.NodeID]++
	}
	return by
}

// finishedOnce checks that every task completed in one attempt: none was
// stopped or put back by a settings change.
func finishedOnce(t *testing.T, n *node, total int) {
	t.Helper()
	c := countTasks(t, n)
	if c.total != total || c.completed != total || c.reran != 0 {
		t.Fatalf("%d tasks, %d completed, %d ran more than once (want %d, all completed once): %v",
			c.total, c.completed, c.reran, total, c.notDone)
	}
}

// TestNodeSettingsWorkers: the worker count of a running node changes at
// once, up (more tasks run at once) and down (running tasks finish); it is
// kept across a graceful restart and a SIGKILL; a --workers given at start
// wins and is recorded.
func TestNodeSettingsWorkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "archivist.db")
	args := []string{"--store", "bolt:" + path, "--node-id", "solo"}
	n := startNode(t, args...)

	if got := updateNode(t, n, "solo", `{workers: 1, name: "scribe", capabilities: ["sleep", "echo"]}`); got.Workers != 1 || got.Name != "scribe" {
		t.Fatalf("updateNode answered %+v, want workers 1 and name scribe", got)
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return nodeSettingsView(t, n, "solo").Workers == 1 }, "the node to report 1 worker")
	if v := nodeSettingsView(t, n, "solo"); v.Name != "scribe" || !slices.Equal(v.Capabilities, []string{"sleep", "echo"}) {
		t.Fatalf("node %+v: want the new name and capabilities", v)
	}

	submitSleeps(t, n, 6, 1500)
	testkit.Eventually(t, 10*time.Second, func() bool { return inProgress(t, n)["solo"] == 1 }, "one task running")
	// One worker: a second task does not start while the first runs.
	for range 10 {
		if got := inProgress(t, n)["solo"]; got > 1 {
			t.Fatalf("%d tasks running with 1 worker", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	updateNode(t, n, "solo", `{workers: 4}`)
	testkit.Eventually(t, 10*time.Second, func() bool { return inProgress(t, n)["solo"] == 4 }, "four tasks running once the node has 4 workers")
	if v := nodeSettingsView(t, n, "solo"); v.Workers != 4 {
		t.Fatalf("node reports %d workers, want 4", v.Workers)
	}
	// Fewer: the four running finish, then one at a time.
	updateNode(t, n, "solo", `{workers: 1}`)
	testkit.Eventually(t, 10*time.Second, func() bool { return nodeSettingsView(t, n, "solo").Workers == 1 }, "the node to report 1 worker")
	testkit.Eventually(t, 15*time.Second, func() bool { return inProgress(t, n)["solo"] <= 1 }, "the running tasks to finish")
	testkit.Eventually(t, 30*time.Second, func() bool { return completed(t, n) == 6 }, "every task to complete")
	finishedOnce(t, n, 6)

	// Kept across a graceful restart, with no flag given.
	n.stop(t)
	n = startNode(t, args...)
	if v := nodeSettingsView(t, n, "solo"); v.Workers != 1 || v.Name != "scribe" || !slices.Equal(v.Capabilities, []string{"sleep", "echo"}) {
		t.Fatalf("after a restart: %+v, want the stored workers 1, name and capabilities", v)
	}
	// And across a SIGKILL.
	updateNode(t, n, "solo", `{workers: 2}`)
	testkit.Eventually(t, 10*time.Second, func() bool { return nodeSettingsView(t, n, "solo").Workers == 2 }, "2 workers")
	n.kill()
	n = startNode(t, args...)
	if v := nodeSettingsView(t, n, "solo"); v.Workers != 2 {
		t.Fatalf("after SIGKILL: %d workers, want the stored 2", v.Workers)
	}

	// A flag given at start wins, and is recorded: the next start without
	// it keeps it.
	n.kill()
	n = startNode(t, append(args, "--workers", "3", "--name", "quill")...)
	if v := nodeSettingsView(t, n, "solo"); v.Workers != 3 || v.Name != "quill" {
		t.Fatalf("started with --workers 3 --name quill: %+v", v)
	}
	n.stop(t)
	n = startNode(t, args...)
	if v := nodeSettingsView(t, n, "solo"); v.Workers != 3 || v.Name != "quill" {
		t.Fatalf("restarted without flags after --workers 3 --name quill: %+v, want them recorded", v)
	}
	// Bad input gets clear codes.
	for _, c := range []struct{ input, code string }{
		{`{workers: 0}`, "BAD_USER_INPUT"}, {`{workers: 10001}`, "BAD_USER_INPUT"},
		{`{capabilities: ["two words"]}`, "BAD_USER_INPUT"}, {`{name: ""}`, "BAD_USER_INPUT"},
	} {
		_, r := n.post(t, fmt.Sprintf(`{"query": "mutation { updateNode(id: \"solo\", input: %s) { id } }"}`, strings.ReplaceAll(c.input, `"`, `\"`)))
		if r.code() != c.code {
			t.Errorf("updateNode %s: %q %+v, want %s", c.input, r.code(), r.Errors, c.code)
		}
	}
	if _, r := n.post(t, `{"query": "mutation { updateNode(id: \"nobody\", input: {workers: 2}) { id } }"}`); r.code() != "NOT_FOUND" {
		t.Errorf("updateNode of an unknown node: %q, want NOT_FOUND", r.code())
	}
}

// TestNodeSettingsRole: on Redis, a HYBRID leader made WORKER gives up
// leadership at once (the MASTER leads) and keeps running tasks; made
// MASTER while it runs a task, it finishes it and gets no new tasks (they go
// to a worker); its role is kept across a restart; a --role given at start
// wins and is recorded.
func TestNodeSettingsRole(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	r := redistest.Start(t)
	a := startNode(t, clusterArgs(r.URL(), "a")...) // HYBRID by default
	testkit.Eventually(t, 10*time.Second, func() bool { return leaderOf(t, a) == "a" }, "a leads")
	b := startNode(t, clusterArgs(r.URL(), "b", "--role", "master")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, b)) == 2 }, "two online nodes")

	changed := time.Now()
	if got := updateNode(t, b, "a", `{role: WORKER}`); got.Role != "WORKER" {
		t.Fatalf("updateNode answered role %s", got.Role)
	}
	testkit.Eventually(t, 5*time.Second, func() bool { return leaderOf(t, b) == "b" }, "b to lead once a is a WORKER")
	t.Logf("b leads %s after a was made a WORKER", time.Since(changed))
	if v := nodeSettingsView(t, b, "a"); v.Role != "WORKER" || v.IsLeader {
		t.Fatalf("a: %+v, want a WORKER, not leading", v)
	}
	submitSleeps(t, b, 10, 10)
	testkit.Eventually(t, 20*time.Second, func() bool { return countTasks(t, b).byNode["a"] == 10 }, "the tasks to complete on a")

	// Made MASTER while it runs a long task: it finishes it, and the next
	// tasks go to the worker c.
	var long struct{ SubmitTask struct{ ID string } }
	b.gql(t, `mutation { submitTask(input: {type: "sleep", input: {ms: 3000}, maxRetries: 0}) { id } }`, nil, &long)
	testkit.Eventually(t, 10*time.Second, func() bool { return inProgress(t, b)["a"] == 1 }, "the long task to run on a")
	updateNode(t, b, "a", `{role: MASTER}`)
	c := startNode(t, clusterArgs(r.URL(), "c", "--role", "worker")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, b)) == 3 }, "three online nodes")
	submitSleeps(t, b, 20, 10)
	testkit.Eventually(t, 20*time.Second, func() bool { return completed(t, c) == 31 }, "all tasks to complete")
	cnt := countTasks(t, b)
	if cnt.byNode["a"] != 11 || cnt.byNode["c"] != 20 || cnt.reran != 0 {
		t.Fatalf("completed by node %v (%d ran more than once): want the long task on a (11 there in all), the 20 new ones on c",
			cnt.byNode, cnt.reran)
	}
	var task struct {
		Task struct{ Status, NodeID string }
	}
	b.gql(t, `query($id: ID!) { task(id: $id) { status nodeId } }`, map[string]any{"id": long.SubmitTask.ID}, &task)
	if task.Task.Status != "COMPLETED" || task.Task.NodeID != "a" {
		t.Fatalf("long task %+v, want COMPLETED on a", task.Task)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		v := nodeSettingsView(t, b, "a")
		return v.Role == "MASTER" && v.Workers == 0
	}, "a to stop its workers")

	// Kept across a graceful restart (which stops the parts the role
	// changes built: the race detector of this binary checks them).
	a.stop(t)
	a = startNode(t, clusterArgs(r.URL(), "a")...)
	if v := nodeSettingsView(t, a, "a"); v.Role != "MASTER" || v.Workers != 0 {
		t.Fatalf("a after a restart: %+v, want the stored MASTER", v)
	}
	// A --role at start wins and is recorded.
	a.kill()
	a = startNode(t, clusterArgs(r.URL(), "a", "--role", "hybrid")...)
	if v := nodeSettingsView(t, a, "a"); v.Role != "HYBRID" || v.Workers == 0 {
		t.Fatalf("a started with --role hybrid: %+v", v)
	}
	a.stop(t)
	a = startNode(t, clusterArgs(r.URL(), "a")...)
	if v := nodeSettingsView(t, a, "a"); v.Role != "HYBRID" {
		t.Fatalf("a restarted without --role: %+v, want the recorded HYBRID", v)
	}
}

// TestNodeSettingsCLI: archivist nodes update changes a running node.
func TestNodeSettingsCLI(t *testing.T) {
	n := startNode(t, "--store", "memory", "--node-id", "cli-edit")
	out, errOut, code := cli(t, n, "nodes", "update", "cli-edit", "--role", "worker", "--workers", "3", "--name", "scribe",
		"--capabilities", "echo,sleep", "-o", "json")
	if code != 0 {
		t.Fatalf("nodes update: exit %d: %s", code, errOut)
	}
	var got []nodeView
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || got[0].Role != "WORKER" || got[0].Workers != 3 ||
		got[0].Name != "scribe" || !slices.Equal(got[0].Capabilities, []string{"echo", "sleep"}) {
		t.Fatalf("nodes update printed %s (%v)", out, err)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		v := nodeSettingsView(t, n, "cli-edit")
		return v.Role == "WORKER" && v.Workers == 3 && !v.IsLeader
	}, "the node to run as a WORKER with 3 workers")
	if out, errOut, code := cli(t, n, "nodes", "update", "cli-edit", "--capabilities", "", "-o", "json"); code != 0 || !strings.Contains(out, `"capabilities": []`) {
		t.Fatalf("nodes update --capabilities '': exit %d: %s %s", code, out, errOut)
	}
	if out, _, _ := cli(t, n, "nodes", "list"); !strings.Contains(out, "WORKER") || !strings.Contains(out, "/3") {
		t.Fatalf("nodes list after the update:\n%s", out)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"nodes", "update", "cli-edit"}, 2, "--role, --workers"},
		{[]string{"nodes", "update", "cli-edit", "--workers", "0"}, 2, "--workers"},
		{[]string{"nodes", "update", "cli-edit", "--role", "boss"}, 2, "--role"},
		{[]string{"nodes", "update", "cli-edit", "--capabilities", "a b"}, 1, "BAD_USER_INPUT"},
		{[]string{"nodes", "update", "nobody", "--workers", "2"}, 1, "NOT_FOUND"},
	} {
		if _, errOut, code := cli(t, n, c.args...); code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d %q, want exit %d mentioning %s", c.args, code, errOut, c.code, c.msg)
		}
	}
}

// TestNodeSettingsCapabilities: under CAPABILITY_BASED, placement follows
// capabilities changed at run time at once: tasks go to the node that has
// just been given their type, no longer to the one that lost it.
func TestNodeSettingsCapabilities(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	r := redistest.Start(t)
	m := startNode(t, clusterArgs(r.URL(), "m", "--role", "master", "--strategy", "capability-based")...)
	startNode(t, clusterArgs(r.URL(), "w1", "--role", "worker", "--capabilities", "sleep")...)
	startNode(t, clusterArgs(r.URL(), "w2", "--role", "worker", "--capabilities", "echo")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, m)) == 3 }, "three online nodes")
	submitSleeps(t, m, 20, 1)
	testkit.Eventually(t, 20*time.Second, func() bool { return completed(t, m) == 20 }, "20 sleeps to complete")
	if by := countTasks(t, m).byNode; by["w1"] != 20 {
		t.Fatalf("sleeps completed by node %v, want all on w1 (capabilities sleep)", by)
	}
	// Swap: w2 takes sleep, w1 only echo.
	updateNode(t, m, "w1", `{capabilities: ["echo"]}`)
	updateNode(t, m, "w2", `{capabilities: ["sleep", "text.*"]}`)
	submitSleeps(t, m, 20, 1)
	testkit.Eventually(t, 20*time.Second, func() bool { return completed(t, m) == 40 }, "40 sleeps to complete")
	if by := countTasks(t, m).byNode; by["w1"] != 20 || by["w2"] != 20 {
		t.Fatalf("sleeps completed by node %v, want the new 20 on w2", by)
	}
	if v := nodeSettingsView(t, m, "w2"); !slices.Equal(v.Capabilities, []string{"sleep", "text.*"}) {
		t.Fatalf("w2 reports capabilities %v", v.Capabilities)
	}
}
