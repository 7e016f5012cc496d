package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// Fair share end to end (issue #17): 10,000 sleep tasks of group A are
// queued first and 10 of group B after, while no node runs tasks; then
// nodes that run them start. Every task of B starts before the 101st of
// A's: within the first 1%, not behind A's backlog (in first in, first
// out order they would start after all 10,000).
const (
	fairA = 10000
	fairB = 10
)

// submitFair queues A's tasks, then B's, in batches of submitTasks.
func submitFair(t *testing.T, n *node) {
	t.Helper()
	submit := func(group string, count int) {
		for done := 0; done < count; {
			size := min(1000, count-done)
			ins := make([]map[string]any, size)
			for i := range ins {
				ins[i] = map[string]any{"type": "sleep", "input": map[string]any{"ms": 0}, "group": group}
			}
			var out struct{ SubmitTasks []struct{ ID string } }
			n.gql(t, `mutation($in: [SubmitTaskInput!]!) { submitTasks(inputs: $in) { id } }`, map[string]any{"in": ins}, &out)
			if len(out.SubmitTasks) != size {
				t.Fatalf("submitTasks created %d tasks of %d", len(out.SubmitTasks), size)
			}
			done += size
		}
	}
	start := time.Now()
	submit("A", fairA)
	submit("B", fairB)
	t.Logf("%d tasks submitted in %s", fairA+fairB, time.Since(start).Round(time.Millisecond))
}

// startTimes pages through the tasks of group with one of statuses and
// returns when each started.
func startTimes(t *testing.T, n *node, group string, statuses ...string) []time.Time {
	t.Helper()
	var out []time.Time
	after := ""
	for {
		var page struct {
			Tasks struct {
				Edges []struct {
					Node struct{ StartedAt *time.Time }
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
		vars := map[string]any{"g": group, "s": statuses}
		if after != "" {
			vars["after"] = after
		}
		n.gql(t, `query($g: String!, $s: [TaskStatus!], $after: String) {
			tasks(filter: {group: $g, status: $s}, first: 500, after: $after) {
				edges { node { startedAt } } pageInfo { hasNextPage endCursor } } }`, vars, &page)
		for _, e := range page.Tasks.Edges {
			if e.Node.StartedAt == nil {
				t.Fatalf("a started task of group %s has no startedAt", group)
			}
			out = append(out, *e.Node.StartedAt)
		}
		if !page.Tasks.PageInfo.HasNextPage {
			return out
		}
		after = page.Tasks.PageInfo.EndCursor
	}
}

// fairCount is how many tasks of group have one of statuses.
func fairCount(t *testing.T, n *node, group string, statuses ...string) int {
	var out struct{ Tasks struct{ TotalCount int } }
	n.gql(t, `query($g: String!, $s: [TaskStatus!]) { tasks(filter: {group: $g, status: $s}, first: 0) { totalCount } }`,
		map[string]any{"g": group, "s": statuses}, &out)
	return out.Tasks.TotalCount
}

// checkFair waits until B's tasks completed and counts the tasks of A that
// started before the last of B's. A's tasks are read while they go on
// running: those that start meanwhile start after B's anyway.
func checkFair(t *testing.T, n *node) {
	t.Helper()
	start := time.Now()
	testkit.Eventually(t, 30*time.Second, func() bool { return fairCount(t, n, "B", "COMPLETED") == fairB }, "B's tasks to complete")
	t.Logf("B's tasks completed in %s", time.Since(start).Round(time.Millisecond))
	b := startTimes(t, n, "B", "COMPLETED")
	a := startTimes(t, n, "A", "IN_PROGRESS", "COMPLETED")
	if len(b) != fairB {
		t.Fatalf("%d tasks of B listed, want %d", len(b), fairB)
	}
	lastB := b[0]
	for _, s := range b {
		if s.After(lastB) {
			lastB = s
		}
	}
	before := 0
	for _, s := range a {
		if s.Before(lastB) {
			before++
		}
	}
	t.Logf("B's last task started after %d of A's %d (%d of A's started when read)", before, fairA, len(a))
	if before > fairA/100 {
		t.Errorf("B's last task started after %d of A's tasks, want at most %d (1%%)", before, fairA/100)
	}
}

// TestFairShareOneNode: one node on the embedded store. The tasks are
// queued by a node that places none (role master, no worker), which is
// then stopped and started again as a hybrid node on the same file: the
// turns were stored with the tasks.
func TestFairShareOneNode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 10,010 tasks on a real node")
	}
	args := []string{"--store", "bolt:" + filepath.Join(t.TempDir(), "fair.db"), "--node-id", "fair-node", "--workers", "8"}
	n := startNode(t, append(args, "--role", "master")...)
	submitFair(t, n)
	if c := fairCount(t, n, "A", "ASSIGNED", "IN_PROGRESS", "COMPLETED"); c != 0 {
		t.Fatalf("%d tasks placed with no worker", c)
	}
	n.stop(t)
	n = startNode(t, append(args, "--role", "hybrid")...)
	checkFair(t, n)
}

// TestFairShareRedisCluster: three nodes on a Redis Cluster. The tasks are
// queued through a worker node while no node leads (so none is placed);
// then two hybrid nodes start, one leads, and the three run them.
func TestFairShareRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 10,010 tasks on three real nodes")
	}
	rc := redistest.StartCluster(t)
	w := startNode(t, clusterArgs(rc.URL(), "fair-w", "--role", "worker", "--workers", "8")...)
	submitFair(t, w)
	if c := fairCount(t, w, "A", "ASSIGNED", "IN_PROGRESS", "COMPLETED"); c != 0 {
		t.Fatalf("%d tasks placed with no leader", c)
	}
	var nodes []*node
	for i := range 2 {
		nodes = append(nodes, startNode(t, clusterArgs(rc.URL(), fmt.Sprintf("fair-h%d", i), "--role", "hybrid", "--workers", "8")...))
	}
	checkFair(t, nodes[0])
}
