package main

import (
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// TestDashboardStoreUnreachable runs dashboard/e2e/store.e2e.mjs against two
// nodes on a Redis that the script asks to stop and to start again: while
// it is down the page shows a banner naming the store, and no node turns
// OFFLINE; when it is back the banner goes away.
func TestDashboardStoreUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser and a cluster")
	}
	dir := dashboardDir(t)
	nodeBin := requireDashboardTools(t, dir, true)
	shots := screenshotDir(t)
	r := redistest.Start(t)
	a := startNode(t, clusterArgs(r.URL(), "store-a", "--name", "scribe-a", "--health-interval", "1s")...)
	b := startNode(t, clusterArgs(r.URL(), "store-b", "--name", "scribe-b", "--health-interval", "1s")...)
	testkit.Eventually(t, 20*time.Second, func() bool { return len(onlineNodes(t, a)) == 2 }, "two online nodes")
	runBrowserScript(t, dir, nodeBin, "store.e2e.mjs", []string{
		"ARCHIVIST_URL=http://" + a.addr,
		"ARCHIVIST_SCREENSHOTS=" + shots,
		"NODE_COUNT=2",
	}, func(action string) string {
		switch action {
		case "redis-kill":
			r.Kill()
			for _, n := range []*node{a, b} {
				waitLog(t, n, 20*time.Second, "the node to lose the store", "lost the store")
			}
			return "the Redis store at " + r.Addr
		case "redis-restart":
			r.Restart()
			return "ok"
		}
		return "ERROR unknown action " + action
	}, func() { logClusterState(t, a) })
	t.Logf("screenshots in %s", shots)
}
