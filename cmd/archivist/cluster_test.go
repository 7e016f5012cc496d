package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// The cluster tests run several real archivist processes on one real
// redis-server started on a free port.

// clusterArgs are the flags every node of a test cluster gets: a short
// heartbeat so that failures are noticed within a second.
func clusterArgs(redisURL, id string, extra ...string) []string {
	return append([]string{"--store", redisURL, "--node-id", id, "--heartbeat-interval", "200ms",
		"--cluster", "test"}, extra...)
}

type taskCounts struct {
	total, completed int
	byNode           map[string]int
	reran            int
	notDone          []string
}

// countTasks pages through every task.
func countTasks(t *testing.T, n *node) taskCounts {
	t.Helper()
	c := taskCounts{byNode: map[string]int{}}
	after := ""
	for {
		var out struct {
			Tasks struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
				Edges []struct {
					Node struct {
						ID       string
						Status   string
						Attempts int
						NodeID   *string
					}
				}
			}
		}
		vars := map[string]any{"after": nil}
		if after != "" {
			vars["after"] = after
		}
		n.gql(t, `query($after: String) { tasks(first: 500, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id status attempts nodeId } } } }`, vars, &out)
		c.total = out.Tasks.TotalCount
		for _, e := range out.Tasks.Edges {
			if e.Node.Status == "COMPLETED" {
				c.completed++
				if e.Node.NodeID != nil {
					c.byNode[*e.Node.NodeID]++
				}
			} else if len(c.notDone) < 5 {
				c.notDone = append(c.notDone, e.Node.ID+":"+e.Node.Status)
			}
			if e.Node.Attempts > 1 {
				c.reran++
			}
		}
		if !out.Tasks.PageInfo.HasNextPage {
			return c
		}
		after = out.Tasks.PageInfo.EndCursor
	}
}

func submitSleeps(t *testing.T, n *node, count, ms int) {
	t.Helper()
	for done := 0; done < count; {
		batch := min(500, count-done)
		inputs := make([]map[string]any, batch)
		for i := range inputs {
			inputs[i] = map[string]any{"type": "sleep", "input": map[string]any{"ms": ms}, "maxRetries": 1}
		}
		var out struct{ SubmitTasks []struct{ ID string } }
		n.gql(t, `mutation($in: [SubmitTaskInput!]!) { submitTasks(inputs: $in) { id } }`, map[string]any{"in": inputs}, &out)
		if len(out.SubmitTasks) != batch {
			t.Fatalf("submitted %d, want %d", len(out.SubmitTasks), batch)
		}
		done += batch
	}
}

func completed(t *testing.T, n *node) int {
	var out struct{ Tasks struct{ TotalCount int } }
	n.gql(t, `{ tasks(first: 0, filter: {status: [COMPLETED]}) { totalCount } }`, nil, &out)
	return out.Tasks.TotalCount
}

func leaderOf(t *testing.T, n *node) string {
	var out struct{ Leader *struct{ ID string } }
	n.gql(t, `{ leader { id } }`, nil, &out)
	if out.Leader == nil {
		return ""
	}
	return out.Leader.ID
}

func onlineNodes(t *testing.T, n *node) []string {
	var out struct {
		Nodes []struct{ ID, Status string }
	}
	n.gql(t, `{ nodes { id status } }`, nil, &out)
	var ids []string
	for _, x := range out.Nodes {
		if x.Status == "ONLINE" {
			ids = append(ids, x.ID)
		}
	}
	return ids
}

// TestClusterWorkerKilled: 3 nodes, 2,000 tasks, one worker killed with
// SIGKILL mid-run: all complete, none lost.
func TestClusterWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	r := redistest.Start(t)
	master := startNode(t, clusterArgs(r.URL(), "master", "--role", "master")...)
	w1 := startNode(t, clusterArgs(r.URL(), "w1", "--role", "worker", "--workers", "8")...)
	w2 := startNode(t, clusterArgs(r.URL(), "w2", "--role", "worker", "--workers", "8")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, master)) == 3 }, "three online nodes")
	const total = 2000
	submitSleeps(t, master, total, 5)
	testkit.Eventually(t, 60*time.Second, func() bool { return completed(t, master) >= 300 }, "work under way")
	w2.kill()
	testkit.Eventually(t, 120*time.Second, func() bool { return completed(t, master) == total }, "all tasks to complete")
	c := countTasks(t, master)
	if c.total != total || c.completed != total {
		t.Fatalf("%d tasks, %d completed (not done: %v)", c.total, c.completed, c.notDone)
	}
	if c.byNode["w1"] == 0 {
		t.Fatalf("w1 completed nothing: %v", c.byNode)
	}
	t.Logf("completed by node: %v; %d tasks ran more than once (were running on w2 when it died)", c.byNode, c.reran)
	_ = w1
}

// TestClusterLeaderKilled: the leader is killed mid-run; another node takes
// over within a few heartbeats and every task completes.
func TestClusterLeaderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	r := redistest.Start(t)
	// A 500ms heartbeat here: the promise is a new leader within three
	// heartbeat intervals.
	const interval = 500 * time.Millisecond
	args := func(id, role string) []string {
		return append(clusterArgs(r.URL(), id, "--role", role), "--heartbeat-interval", interval.String())
	}
	a := startNode(t, args("a", "hybrid")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return leaderOf(t, a) == "a" }, "a leads")
	b := startNode(t, args("b", "hybrid")...)
	c := startNode(t, args("c", "worker")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, b)) == 3 }, "three online nodes")
	const total = 1000
	submitSleeps(t, b, total, 5)
	testkit.Eventually(t, 60*time.Second, func() bool { return completed(t, b) >= 100 }, "work under way")
	killed := time.Now()
	a.kill()
	testkit.Eventually(t, 10*time.Second, func() bool { return leaderOf(t, b) == "b" }, "b to lead")
	took := time.Since(killed)
	testkit.Eventually(t, 120*time.Second, func() bool { return completed(t, c) == total }, "all tasks to complete")
	cnt := countTasks(t, b)
	if cnt.completed != total {
		t.Fatalf("%d of %d completed: %v", cnt.completed, total, cnt.notDone)
	}
	// The lease is two heartbeat intervals and the survivor campaigns every
	// third of that: a new leader within three intervals (plus the 50ms
	// polling of this test).
	if took > 3*interval+100*time.Millisecond {
		t.Errorf("a new leader took %s, more than three heartbeat intervals (%s)", took, 3*interval)
	}
	t.Logf("new leader after %s; %d tasks ran more than once", took, cnt.reran)
}

// TestClusterRedisRestart: Redis restarts mid-run (AOF on); nodes reconnect
// and every task completes.
func TestClusterRedisRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	r := redistest.Start(t)
	a := startNode(t, clusterArgs(r.URL(), "a")...)
	b := startNode(t, clusterArgs(r.URL(), "b")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, a)) == 2 }, "two online nodes")
	const total = 1000
	submitSleeps(t, a, total, 5)
	testkit.Eventually(t, 60*time.Second, func() bool { return completed(t, a) >= 100 }, "work under way")
	r.Restart()
	for deadline := time.Now().Add(120 * time.Second); completed(t, b) != total; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			c := countTasks(t, a)
			t.Fatalf("after 2m, %d of %d tasks completed; some of the others: %v", c.completed, total, c.notDone)
		}
	}
	cnt := countTasks(t, a)
	if cnt.total != total || cnt.completed != total {
		t.Fatalf("%d tasks, %d completed: %v", cnt.total, cnt.completed, cnt.notDone)
	}
}

// TestClusterAdmission: a node of another cluster name, or outside the
// manual peer list, does not join.
func TestClusterAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	r := redistest.Start(t)
	a := startNode(t, clusterArgs(r.URL(), "a", "--discovery", "manual", "--peers", "a,b")...)
	startNode(t, clusterArgs(r.URL(), "b", "--discovery", "manual", "--peers", "a,b")...)
	other := startNode(t, append(clusterArgs(r.URL(), "x"), "--cluster", "other")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, a)) == 2 }, "a and b online")
	if ids := onlineNodes(t, a); strings.Join(ids, ",") != "a,b" {
		t.Fatalf("cluster test sees %v", ids)
	}
	if ids := onlineNodes(t, other); strings.Join(ids, ",") != "x" {
		t.Fatalf("cluster other sees %v", ids)
	}
	// c is not in the stored peer list: it refuses to start.
	out, err := runNode(t, clusterArgs(r.URL(), "c", "--discovery", "manual")...)
	if err == nil || !strings.Contains(out, "not in the cluster's manual peer list") {
		t.Fatalf("c started or said %q", out)
	}
}

func TestClusterRedisDownAtStart(t *testing.T) {
	port := redistest.FreePort(t)
	out, err := runNode(t, "--store", fmt.Sprintf("redis://127.0.0.1:%d/0", port), "--connect-timeout", "2s")
	if err == nil || !strings.Contains(out, "cannot reach") {
		t.Fatalf("want a clear error and a non-zero exit, got %v: %s", err, out)
	}
	if strings.Count(out, "retrying") < 1 {
		t.Errorf("no retry with backoff before giving up: %s", out)
	}
}

func setStrategy(t *testing.T, n *node, strategy string) {
	t.Helper()
	var out struct{ UpdateConfig struct{ Version int } }
	n.gql(t, `mutation($s: LoadBalancingStrategy) { updateConfig(input: {strategy: $s}) { version } }`, map[string]any{"s": strategy}, &out)
}

// waitApplied waits until every node runs the newest config version.
func waitApplied(t *testing.T, n *node, nodes int) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, func() bool {
		var out struct {
			Config struct{ Version int }
			Nodes  []struct{ ConfigVersion int }
		}
		n.gql(t, `{ config { version } nodes { configVersion } }`, nil, &out)
		if len(out.Nodes) != nodes {
			return false
		}
		for _, x := range out.Nodes {
			if x.ConfigVersion != out.Config.Version {
				return false
			}
		}
		return true
	}, "every node to apply the config")
}

// TestClusterDistribution: with 3 worker nodes, ROUND_ROBIN spreads 3,000
// tasks evenly; CAPABILITY_BASED sends a type only to matching nodes; a
// BUSY or DRAINING node gets nothing new, and a drained node finishes what
// it runs.
func TestClusterDistribution(t *testing.T) {
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	r := redistest.Start(t)
	m := startNode(t, clusterArgs(r.URL(), "m", "--role", "master")...)
	for _, id := range []string{"w1", "w2", "w3"} {
		startNode(t, clusterArgs(r.URL(), id, "--role", "worker", "--workers", "4")...)
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, m)) == 4 }, "four online nodes")

	t.Run("round robin", func(t *testing.T) {
		const total = 3000
		submitSleeps(t, m, total, 1)
		testkit.Eventually(t, 120*time.Second, func() bool { return completed(t, m) == total }, "all tasks to complete")
		c := countTasks(t, m)
		for _, id := range []string{"w1", "w2", "w3"} {
			if got := c.byNode[id]; got < 900 || got > 1100 {
				t.Errorf("%s ran %d of %d tasks; want 1000 ± 10%% (%v)", id, got, total, c.byNode)
			}
		}
	})

	t.Run("capability based", func(t *testing.T) {
		dice := startNode(t, clusterArgs(r.URL(), "dice", "--role", "worker", "--capabilities", "dice.*")...)
		_ = dice
		setStrategy(t, m, "CAPABILITY_BASED")
		waitApplied(t, m, 5)
		var ids []string
		for range 40 {
			var out struct{ SubmitTask struct{ ID string } }
			n := map[string]any{"type": "dice.simulate", "input": map[string]any{"expr": "1d20", "trials": 10}}
			m.gql(t, submitMutation, map[string]any{"in": n}, &out)
			ids = append(ids, out.SubmitTask.ID)
			m.gql(t, submitMutation, map[string]any{"in": map[string]any{"type": "echo", "input": 1}}, &out)
			ids = append(ids, out.SubmitTask.ID)
		}
		for _, id := range ids {
			var out struct {
				Task struct {
					Type, Status string
					NodeID       *string
				}
			}
			testkit.Eventually(t, 30*time.Second, func() bool {
				m.gql(t, `query($id: ID!) { task(id: $id) { type status nodeId } }`, map[string]any{"id": id}, &out)
				return out.Task.Status == "COMPLETED"
			}, "task %s to complete", id)
			onDice := out.Task.NodeID != nil && *out.Task.NodeID == "dice"
			if out.Task.Type == "dice.simulate" && !onDice {
				t.Errorf("a dice task ran on %v, not on the node whose capability matches", *out.Task.NodeID)
			}
			if out.Task.Type == "echo" && onDice {
				t.Errorf("an echo task ran on the dice-only node")
			}
		}
		setStrategy(t, m, "ROUND_ROBIN")
	})

	t.Run("busy and draining nodes get nothing", func(t *testing.T) {
		// A CPU threshold of 0.001% keeps this node BUSY.
		startNode(t, append(clusterArgs(r.URL(), "busy", "--role", "worker"), "--cpu-threshold", "0.001")...)
		testkit.Eventually(t, 10*time.Second, func() bool {
			var out struct{ Node *struct{ Status string } }
			m.gql(t, `{ node(id: "busy") { status } }`, nil, &out)
			return out.Node != nil && out.Node.Status == "BUSY"
		}, "the busy node to show BUSY")
		// w1 runs long tasks, then is drained: they finish there, and
		// nothing new lands on it.
		var drained struct{ DrainNode struct{ Status string } }
		before := countTasks(t, m).byNode
		submitSleeps(t, m, 12, 1500)
		deadline := time.Now().Add(10 * time.Second)
		for {
			var out struct{ Tasks struct{ TotalCount int } }
			m.gql(t, `{ tasks(first: 0, filter: {status: [IN_PROGRESS], nodeId: "w1"}) { totalCount } }`, nil, &out)
			if out.Tasks.TotalCount > 0 {
				break
			}
			if time.Now().After(deadline) {
				var dump any
				m.gql(t, `{ tasks(first: 15) { edges { node { id type status nodeId attempts error } } } nodes { id status workers activeTasks } config { strategy version } }`, nil, &dump)
				t.Fatalf("w1 runs no long task after 10s: %+v", dump)
			}
			time.Sleep(50 * time.Millisecond)
		}
		m.gql(t, `mutation { drainNode(id: "w1") { status } }`, nil, &drained)
		if drained.DrainNode.Status != "DRAINING" {
			t.Fatalf("drainNode gave status %s", drained.DrainNode.Status)
		}
		w1Running := 0
		{
			var out struct{ Tasks struct{ TotalCount int } }
			m.gql(t, `{ tasks(first: 0, filter: {status: [IN_PROGRESS, ASSIGNED], nodeId: "w1"}) { totalCount } }`, nil, &out)
			w1Running = out.Tasks.TotalCount
		}
		submitSleeps(t, m, 300, 1)
		testkit.Eventually(t, 60*time.Second, func() bool { return completed(t, m) == countTasks(t, m).total }, "all tasks to complete")
		after := countTasks(t, m).byNode
		if after["busy"] != 0 {
			t.Errorf("the BUSY node ran %d tasks", after["busy"])
		}
		if got := after["w1"] - before["w1"]; got > w1Running {
			t.Errorf("the DRAINING node completed %d tasks, more than the %d it held when drained", got, w1Running)
		}
		if after["w1"]-before["w1"] == 0 {
			t.Errorf("the drained node did not finish its running tasks")
		}
	})
}

// TestClusterPausedNodeFencedOff: a worker frozen with SIGSTOP is declared
// offline, its task runs elsewhere; when it wakes up its late result is
// refused, and it says so in its log.
func TestClusterPausedNodeFencedOff(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	r := redistest.Start(t)
	m := startNode(t, clusterArgs(r.URL(), "m", "--role", "master")...)
	frozen := startNode(t, clusterArgs(r.URL(), "frozen", "--role", "worker")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, m)) == 2 }, "two online nodes")
	var sub struct{ SubmitTask struct{ ID string } }
	m.gql(t, submitMutation, map[string]any{"in": map[string]any{"type": "sleep", "input": map[string]any{"ms": 1500}}}, &sub)
	id := sub.SubmitTask.ID
	var task struct {
		Task struct {
			Status   string
			Attempts int
			NodeID   *string
		}
	}
	get := func() {
		m.gql(t, `query($id: ID!) { task(id: $id) { status attempts nodeId } }`, map[string]any{"id": id}, &task)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		get()
		return task.Task.Status == "IN_PROGRESS"
	}, "the task to run on the frozen node")
	if err := frozen.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	startNode(t, clusterArgs(r.URL(), "other", "--role", "worker")...)
	testkit.Eventually(t, 30*time.Second, func() bool {
		get()
		return task.Task.Status == "COMPLETED"
	}, "the task to complete on the other node")
	if task.Task.Attempts != 2 || task.Task.NodeID == nil || *task.Task.NodeID != "other" {
		t.Fatalf("completed as attempt %d on %v, want attempt 2 on other", task.Task.Attempts, task.Task.NodeID)
	}
	if err := frozen.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, func() bool {
		return strings.Contains(frozen.logs.String(), "fenced off")
	}, "the woken node to log that its result was fenced off")
	get()
	if task.Task.Status != "COMPLETED" || task.Task.Attempts != 2 || *task.Task.NodeID != "other" {
		t.Fatalf("the late result changed the task: %+v", task.Task)
	}
}

// TestClusterLocalProcessing: with distributed processing off, a task runs
// on the node it was submitted to; on again, nodes share work again.
func TestClusterLocalProcessing(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	r := redistest.Start(t)
	a := startNode(t, clusterArgs(r.URL(), "a")...)
	b := startNode(t, clusterArgs(r.URL(), "b")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, a)) == 2 }, "two online nodes")
	var upd struct{ UpdateConfig struct{ Enabled bool } }
	a.gql(t, `mutation { updateConfig(input: {enabled: false}) { enabled } }`, nil, &upd)
	waitApplied(t, a, 2)
	for _, n := range []*node{a, b} {
		for range 10 {
			var sub struct{ SubmitTask struct{ ID string } }
			n.gql(t, submitMutation, map[string]any{"in": map[string]any{"type": "echo", "input": 1}}, &sub)
			var task struct {
				Task struct {
					Status string
					NodeID *string
				}
			}
			testkit.Eventually(t, 10*time.Second, func() bool {
				n.gql(t, `query($id: ID!) { task(id: $id) { status nodeId } }`, map[string]any{"id": sub.SubmitTask.ID}, &task)
				return task.Task.Status == "COMPLETED"
			}, "a local task to complete")
			want := "a"
			if n == b {
				want = "b"
			}
			if *task.Task.NodeID != want {
				t.Fatalf("a task submitted to %s ran on %s with distribution off", want, *task.Task.NodeID)
			}
		}
	}
	a.gql(t, `mutation { updateConfig(input: {enabled: true}) { enabled } }`, nil, &upd)
	waitApplied(t, a, 2)
	submitSleeps(t, a, 200, 5)
	testkit.Eventually(t, 60*time.Second, func() bool { return completed(t, a) == 220 }, "all tasks to complete")
	c := countTasks(t, a)
	if c.byNode["b"] <= 10 {
		t.Fatalf("with distribution back on, b ran none of the tasks submitted to a: %v", c.byNode)
	}
}

// TestClusterCrossNodeSubscription: a subscription on a worker node sees a
// task submitted to the master and run on another worker, through to
// COMPLETED, in order.
func TestClusterCrossNodeSubscription(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	r := redistest.Start(t)
	m := startNode(t, clusterArgs(r.URL(), "m", "--role", "master")...)
	watcher := startNode(t, clusterArgs(r.URL(), "watcher", "--role", "worker", "--capabilities", "nothing.here")...)
	startNode(t, clusterArgs(r.URL(), "runner", "--role", "worker")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, m)) == 3 }, "three online nodes")
	setStrategy(t, m, "CAPABILITY_BASED") // the watcher takes no echo task
	waitApplied(t, m, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dialWS(t, ctx, watcher.addr, "graphql-transport-ws")
	defer c.conn.Close(websocket.StatusNormalClosure, "")
	c.subscribe(t, ctx, "s", `subscription { taskUpdated { id status nodeId } }`)
	c.awaitLive(t, ctx, "s", m)
	var sub struct{ SubmitTask struct{ ID string } }
	m.gql(t, submitMutation, map[string]any{"in": map[string]any{"type": "echo", "input": "hello"}}, &sub)
	var statuses []string
	for {
		var ev struct {
			TaskUpdated struct {
				ID, Status string
				NodeID     *string
			}
		}
		if err := json.Unmarshal(c.next(t, ctx, "s"), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.TaskUpdated.ID != sub.SubmitTask.ID {
			continue
		}
		statuses = append(statuses, ev.TaskUpdated.Status)
		if ev.TaskUpdated.Status == "COMPLETED" {
			if ev.TaskUpdated.NodeID == nil || *ev.TaskUpdated.NodeID != "runner" {
				t.Fatalf("completed on %v, want runner", ev.TaskUpdated.NodeID)
			}
			break
		}
	}
	if got := strings.Join(statuses, ","); got != "PENDING,ASSIGNED,IN_PROGRESS,COMPLETED" {
		t.Fatalf("the watcher saw %s", got)
	}
}

// TestClusterAlertWebhook: killing a node sends a node_offline alert to the
// configured webhook, and the alerts query shows it.
func TestClusterAlertWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	got := make(chan map[string]any, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		if err := json.NewDecoder(r.Body).Decode(&p); err == nil {
			got <- p
		}
	}))
	defer hook.Close()
	r := redistest.Start(t)
	m := startNode(t, clusterArgs(r.URL(), "m", "--role", "master", "--alert-webhooks", hook.URL)...)
	victim := startNode(t, clusterArgs(r.URL(), "victim", "--role", "worker")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, m)) == 2 }, "two online nodes")
	victim.kill()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case p := <-got:
			a, _ := p["alert"].(map[string]any)
			if a["rule"] == "node_offline" && a["subject"] == "victim" && a["status"] == "FIRING" {
				var out struct{ Alerts []struct{ ID, Status string } }
				m.gql(t, `{ alerts { id status } }`, nil, &out)
				if len(out.Alerts) != 1 || out.Alerts[0].ID != "node_offline:victim" {
					t.Fatalf("alerts query: %+v", out.Alerts)
				}
				return
			}
		case <-deadline:
			t.Fatal("no node_offline alert reached the webhook within 20s")
		}
	}
}
