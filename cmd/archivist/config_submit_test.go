package main

import (
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// TestSubmissionsUseAppliedConfig: a node checks submissions against the
// configuration it applied rather than reading it for each one. A change
// made through the node counts for its very next submission; one made
// through another node counts once it arrives (its event).
func TestSubmissionsUseAppliedConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	r := redistest.Start(t)
	a := startNode(t, clusterArgs(r.URL(), "cfg-a", "--role", "master")...)
	b := startNode(t, clusterArgs(r.URL(), "cfg-b", "--role", "master")...)
	testkit.Eventually(t, 10*time.Second, func() bool { return len(onlineNodes(t, a)) == 2 }, "two online nodes")
	maxRetries := func(n *node) int {
		t.Helper()
		var out struct{ SubmitTask struct{ MaxRetries int } }
		n.gql(t, `mutation { submitTask(input: {type: "echo", input: 1}) { maxRetries } }`, nil, &out)
		return out.SubmitTask.MaxRetries
	}
	for _, retries := range []int{7, 2} {
		a.gql(t, `mutation($r: Int) { updateConfig(input: {defaultMaxRetries: $r}) { version } }`, map[string]any{"r": retries}, nil)
		if got := maxRetries(a); got != retries {
			t.Fatalf("right after updateConfig(defaultMaxRetries: %d) on the same node, a submission got maxRetries %d", retries, got)
		}
		testkit.Eventually(t, 10*time.Second, func() bool { return maxRetries(b) == retries },
			"the other node to check submissions against the new config")
	}
}
