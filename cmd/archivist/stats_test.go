package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

type clusterStats struct {
	WindowSeconds, BucketSeconds int
	From, To                     time.Time
	Series                       []struct {
		At                                       time.Time
		Submitted, Completed, Failed             int
		WaitP50Ms, WaitP95Ms, RunP50Ms, RunP95Ms float64
	}
	ByType []struct {
		Type                string
		Completed, Failed   int
		WaitP95Ms, RunP95Ms float64
	}
	ByNode []struct {
		NodeID                     string
		Completed, Failed          int
		BusySeconds, WorkerSeconds float64
		Utilization                float64
	}
	ByGroup []struct {
		Group                        string
		Submitted, Completed, Failed int
	}
}

func (st clusterStats) totals() (submitted, completed, failed int) {
	for _, p := range st.Series {
		submitted += p.Submitted
		completed += p.Completed
		failed += p.Failed
	}
	return
}

func statsOf(t *testing.T, n *node) clusterStats {
	t.Helper()
	var out struct{ Stats clusterStats }
	n.gql(t, `{ stats(windowSeconds: 600, bucketSeconds: 60) { windowSeconds bucketSeconds from to
		series { at submitted completed failed waitP50Ms waitP95Ms runP50Ms runP95Ms }
		byType { type completed failed waitP95Ms runP95Ms }
		byNode { nodeId completed failed busySeconds workerSeconds utilization }
		byGroup { group submitted completed failed } } }`, nil, &out)
	return out.Stats
}

// TestStatsClusterSameOnEveryNode: two real nodes on a real redis-server
// answer stats the same, from the rollups in Redis, with every task of both
// nodes counted, per group too; the CLI prints them.
func TestStatsClusterSameOnEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	srv := redistest.Start(t)
	a := startNode(t, clusterArgs(srv.URL(), "stats-a", "--workers", "4")...)
	b := startNode(t, clusterArgs(srv.URL(), "stats-b", "--workers", "4")...)
	testkit.Eventually(t, 20*time.Second, func() bool { return len(onlineNodes(t, a)) == 2 }, "both nodes online")
	submitSleeps(t, a, 60, 30)
	var out struct{ SubmitTasks []struct{ ID string } }
	a.gql(t, `mutation { submitTasks(inputs: [{type: "fail", input: {times: 5}, maxRetries: 0, group: "camp-9"},
		{type: "echo", input: {}, group: "camp-9"}, {type: "echo", input: {}, group: "camp-9"}]) { id } }`, nil, &out)
	testkit.Eventually(t, 60*time.Second, func() bool {
		_, done, failed := statsOf(t, b).totals()
		return done == 62 && failed == 1
	}, "the tasks to end")

	var sa, sb clusterStats
	testkit.Eventually(t, 20*time.Second, func() bool {
		sa, sb = statsOf(t, a), statsOf(t, b)
		return reflect.DeepEqual(sa, sb)
	}, "both nodes to give the same stats")
	if sub, done, failed := sa.totals(); sub != 63 || done != 62 || failed != 1 {
		t.Errorf("totals: %d submitted, %d completed, %d failed; want 63, 62, 1", sub, done, failed)
	}
	if len(sa.ByGroup) != 1 || sa.ByGroup[0].Group != "camp-9" || sa.ByGroup[0].Submitted != 3 ||
		sa.ByGroup[0].Completed != 2 || sa.ByGroup[0].Failed != 1 {
		t.Errorf("by group: %+v, want camp-9 alone with 3 submitted, 2 completed, 1 failed", sa.ByGroup)
	}
	types := map[string][2]int{}
	for _, ty := range sa.ByType {
		types[ty.Type] = [2]int{ty.Completed, ty.Failed}
		if ty.Type == "sleep" && (ty.RunP95Ms < 27 || ty.RunP95Ms > 500) {
			t.Errorf("sleep tasks of 30ms: run p95 %vms", ty.RunP95Ms)
		}
	}
	if types["sleep"] != [2]int{60, 0} || types["fail"] != [2]int{0, 1} || types["echo"] != [2]int{2, 0} {
		t.Errorf("by type: %v, want sleep 60 completed, echo 2 completed, fail 1 failed", types)
	}
	perNode := 0
	for _, n := range sa.ByNode {
		perNode += n.Completed
		if n.WorkerSeconds <= 0 || n.Utilization <= 0 || n.Utilization > 1 {
			t.Errorf("node %s: worker time %vs, utilization %v; want both above 0 (it ran tasks and heartbeats)",
				n.NodeID, n.WorkerSeconds, n.Utilization)
		}
	}
	if len(sa.ByNode) != 2 || perNode != 62 {
		t.Errorf("by node: %+v, want stats-a and stats-b with 62 completed between them", sa.ByNode)
	}

	// The CLI, on the other node.
	text, errOut, code := cli(t, b, "stats", "--window", "10m", "--bucket", "1m")
	if code != 0 || !strings.Contains(text, "COMPLETED") || !strings.Contains(text, "sleep") ||
		!strings.Contains(text, "stats-a") || !strings.Contains(text, "UTILIZATION") || !strings.Contains(text, "camp-9") {
		t.Errorf("archivist stats: exit %d\n%s\n%s", code, text, errOut)
	}
	text, errOut, code = cli(t, b, "stats", "--window", "10m", "--bucket", "1m", "--group", "camp-9")
	if code != 0 || !strings.HasPrefix(text, `Group "camp-9"`) || strings.Contains(text, "UTILIZATION") {
		t.Errorf("archivist stats --group camp-9: exit %d\n%s\n%s", code, text, errOut)
	}
	js, _, code := cli(t, b, "stats", "--window", "10m", "--group", "camp-9", "-o", "json")
	var one clusterStats
	if code != 0 || json.Unmarshal([]byte(js), &one) != nil {
		t.Fatalf("archivist stats --group -o json: exit %d\n%s", code, js)
	}
	if sub, done, failed := one.totals(); sub != 3 || done != 2 || failed != 1 || len(one.ByType) != 0 {
		t.Errorf("archivist stats --group camp-9: %d/%d/%d submitted/completed/failed, types %+v; want 3/2/1 and none",
			sub, done, failed, one.ByType)
	}
	if _, errOut, code := cli(t, b, "stats", "--group", "*"); code != 1 || !strings.Contains(errOut, "reserved") {
		t.Errorf("archivist stats --group '*': exit %d, %q; want 1 and a reserved group error", code, errOut)
	}
	js, _, code = cli(t, b, "stats", "--window", "10m", "-o", "json")
	var parsed struct{ ByType []struct{ Type string } }
	if code != 0 || json.Unmarshal([]byte(js), &parsed) != nil || len(parsed.ByType) != 3 {
		t.Errorf("archivist stats -o json: exit %d\n%s", code, js)
	}
	if _, errOut, code := cli(t, b, "stats", "--window", "1h", "--bucket", "15s"); code != 1 || !strings.Contains(errOut, "BAD_USER_INPUT") {
		t.Errorf("archivist stats with a bad bucket: exit %d, %q; want 1 and BAD_USER_INPUT", code, errOut)
	}
}

// TestStatsEmbeddedSurviveRestart: a node on the embedded store shows the
// same stats after a restart on its file.
func TestStatsEmbeddedSurviveRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a real node")
	}
	args := []string{"--store", "bolt:" + filepath.Join(t.TempDir(), "stats.db"), "--node-id", "stats-node"}
	n := startNode(t, args...)
	submitSleeps(t, n, 20, 10)
	testkit.Eventually(t, 30*time.Second, func() bool {
		_, done, _ := statsOf(t, n).totals()
		return done == 20
	}, "the tasks to complete")
	n.stop(t)
	n = startNode(t, args...)
	st := statsOf(t, n)
	if sub, done, _ := st.totals(); sub != 20 || done != 20 || len(st.ByType) != 1 || st.ByType[0].Completed != 20 {
		t.Errorf("after a restart: %d submitted, %d completed, types %+v; want 20, 20, sleep", sub, done, st.ByType)
	}
}
