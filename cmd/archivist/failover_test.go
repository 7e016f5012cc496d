package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// The failover tests run two archivist nodes on a Redis with replicas
// (Redis Cluster, Sentinel), kill the master that holds the cluster's slot
// with SIGKILL while tasks flow, and check that the nodes resume within 5s
// of the replica's promotion, with every task completed and none run more
// often than at-least-once allows.

// failoverResume is the promise: the cluster works again this soon after
// Redis promotes the replica.
const failoverResume = 5 * time.Second

// failoverKey is a key in the slot of the test cluster's hash tag
// ({archivist:test}, see clusterArgs).
const failoverKey = "{archivist:test}:probe"

// tryGQL runs a query with a 2s bound and reports GraphQL errors as an
// error, for polling a node that may not answer yet.
func tryGQL(n *node, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+n.addr+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r gqlResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("not JSON (%d): %.200s", resp.StatusCode, raw)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("%s: %s", r.code(), r.Errors[0].Message)
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// resumed reports whether every node answers, sees all nodes ONLINE, and a
// probe task (submitted through nodes[0] when *probe is empty) completed.
// The probe is CRITICAL, so that it goes ahead of the tasks still queued:
// it measures that tasks move again, not how long the backlog takes.
func resumed(nodes []*node, probe *string) (bool, string) {
	if *probe == "" {
		var out struct{ SubmitTask struct{ ID string } }
		if err := tryGQL(nodes[0], `mutation { submitTask(input: {type: "echo", input: {probe: true}, priority: CRITICAL}) { id } }`, nil, &out); err != nil {
			return false, "submit probe: " + err.Error()
		}
		*probe = out.SubmitTask.ID
	}
	for _, n := range nodes {
		var out struct {
			Nodes []struct{ ID, Status string }
			Task  struct{ Status string }
			Tasks struct{ TotalCount int }
		}
		if err := tryGQL(n, `query($id: ID!) { nodes { id status } task(id: $id) { status }
			tasks(first: 0, filter: {status: [COMPLETED]}) { totalCount } }`, map[string]any{"id": *probe}, &out); err != nil {
			return false, "query: " + err.Error()
		}
		for _, x := range out.Nodes {
			if x.Status != "ONLINE" {
				return false, fmt.Sprintf("node %s %s", x.ID, x.Status)
			}
		}
		if len(out.Nodes) != len(nodes) {
			return false, fmt.Sprintf("%d nodes", len(out.Nodes))
		}
		if out.Task.Status != "COMPLETED" {
			return false, fmt.Sprintf("probe %s, %d tasks completed", out.Task.Status, out.Tasks.TotalCount)
		}
	}
	return true, ""
}

// runFailover starts two nodes on url, submits tasks, runs kill (which
// kills the master and returns when Redis has promoted the replica) in the
// middle of the run, and checks the promise.
func runFailover(t *testing.T, url string, kill func() time.Time) {
	t.Helper()
	const workers = 4
	a := startNode(t, clusterArgs(url, "a", "--workers", fmt.Sprint(workers))...)
	b := startNode(t, clusterArgs(url, "b", "--workers", fmt.Sprint(workers))...)
	nodes := []*node{a, b}
	testkit.Eventually(t, 20*time.Second, func() bool { return len(onlineNodes(t, a)) == 2 }, "two online nodes")
	const total = 400
	submitSleeps(t, a, total, 20)
	testkit.Eventually(t, 60*time.Second, func() bool { return completed(t, a) >= 60 }, "work under way")

	killed := time.Now()
	promoted := kill()
	var probe, why string
	deadline := promoted.Add(30 * time.Second)
	for {
		ok, w := resumed(nodes, &probe)
		if ok {
			break
		}
		if kind, _, _ := strings.Cut(w, ","); !strings.HasPrefix(why, kind) {
			t.Logf("%s after the promotion: %s", time.Since(promoted).Round(time.Millisecond), w)
		}
		why = w
		if time.Now().After(deadline) {
			t.Fatalf("not resumed 30s after the promotion: %s", why)
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(promoted)
	t.Logf("replica promoted %s after the kill (at %s); cluster resumed %s after the promotion (last wait: %s)",
		promoted.Sub(killed).Round(time.Millisecond), promoted.UTC().Format("15:04:05.000"), took.Round(time.Millisecond), why)
	if took > failoverResume {
		t.Errorf("the cluster resumed %s after the promotion, more than %s", took.Round(time.Millisecond), failoverResume)
	}

	testkit.Eventually(t, 90*time.Second, func() bool { return completed(t, a) == total+1 }, "every task to complete")
	c := countTasks(t, b)
	if c.total != total+1 || c.completed != total+1 {
		t.Fatalf("%d tasks, %d completed, want %d: %v", c.total, c.completed, total+1, c.notDone)
	}
	// At-least-once: a task runs again only if it was running (or its
	// result was being recorded) when the master died: at most one slot
	// of each node's, twice over for a result the promoted replica had
	// not received yet.
	if c.reran > 2*2*workers {
		t.Errorf("%d tasks ran more than once; at most %d were in flight", c.reran, 2*workers)
	}
	t.Logf("%d tasks completed; %d ran more than once; by node %v", c.completed, c.reran, c.byNode)
}

// TestFailoverRedisCluster: Redis Cluster of three masters and three
// replicas; the master of the cluster's slot is killed mid-run.
func TestFailoverRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process failover test")
	}
	clusterFailover(t, (*redistest.Server).Kill)
}

// TestFailoverRedisClusterSilentMaster: as TestFailoverRedisCluster, but
// the master is stopped (SIGSTOP), not killed: its connections stay open
// and nothing answers, as with a host gone or a network cut, so reads time
// out rather than fail at once.
func TestFailoverRedisClusterSilentMaster(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process failover test")
	}
	clusterFailover(t, (*redistest.Server).Freeze)
}

// clusterFailover runs the failover scenario on a Redis Cluster of three
// masters and three replicas, stopping the master of the cluster's slot
// with stop (a SIGKILL, or a SIGSTOP that leaves it silent).
func clusterFailover(t *testing.T, stop func(*redistest.Server)) {
	rc := redistest.StartReplicatedCluster(t)
	runFailover(t, rc.URL(), func() time.Time {
		ctx := t.Context()
		m, err := rc.MasterOf(ctx, failoverKey)
		if err != nil {
			t.Fatal(err)
		}
		r, err := rc.ReplicaOf(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		stop(m)
		return redistest.WaitMaster(t, r.Addr, 20*time.Second)
	})
}

// TestFailoverSentinel: a master, a replica and three sentinels; the
// master is killed mid-run.
func TestFailoverSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process failover test")
	}
	s := redistest.StartSentinel(t)
	runFailover(t, s.URL(), func() time.Time {
		s.Master.Kill()
		promoted := redistest.WaitMaster(t, s.Replica.Addr, 20*time.Second)
		switched := s.WaitSwitched(t, s.Replica.Addr, 20*time.Second)
		t.Logf("the sentinels named the new master %s after its promotion", switched.Sub(promoted).Round(time.Millisecond))
		return promoted
	})
}
