package main

import (
	"encoding/json"
	"testing"
)

// TestPlaygroundOffline runs dashboard/e2e/playground.e2e.mjs in Chromium
// against real nodes with every request that is not to the node blocked and
// recorded, as on a machine without internet access: GraphiQL (bundled in
// the binary) loads, its docs explorer shows the schema (introspection), a
// query typed in the editor runs over HTTP, a subscription (taskUpdated,
// over the WebSocket) shows the echo task that a mutation run in another
// tab submits, a GraphiQL that cannot load says so, and no request went
// anywhere but the node's origin and its ws:// twin, with no page error and
// nothing refused by the Content-Security-Policy. The node with API keys
// runs the same with the dashboard's key in the tab (sent as Authorization
// and in connection_init), and a tab without it gets the key typed under
// Headers onto both, with nothing of it written to localStorage.
func TestPlaygroundOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser")
	}
	dir := dashboardDir(t)
	nodeBin := requireDashboardTools(t, dir, true)
	shots := screenshotDir(t)

	for _, c := range []struct {
		name string
		key  string
	}{
		{"open", ""},
		{"with_keys", "operator-" + randomHex(t, 12)},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := "playground-" + c.name
			args := []string{"--store", "memory", "--node-id", id, "--name", "gamebook"}
			if c.key != "" {
				args = append(args, "--api-keys", "operator:"+c.key+",viewer:viewer-"+randomHex(t, 12))
			}
			n := startNode(t, args...)
			env := []string{
				"ARCHIVIST_URL=http://" + n.addr,
				"ARCHIVIST_NODE_ID=" + id,
				"ARCHIVIST_SCREENSHOTS=" + shots,
			}
			if c.key != "" {
				env = append(env, "E2E_KEY="+c.key)
			}
			runBrowserScript(t, dir, nodeBin, "playground.e2e.mjs", env, func(action string) string {
				return "ERROR unknown action " + action
			}, func() {
				var out json.RawMessage
				err := gqlWithKey(n.addr, c.key, `{ nodes { id status } taskCounts { status count } }`, nil, &out)
				t.Logf("node state: %s %v", out, err)
			})
		})
	}
	t.Logf("screenshots in %s", shots)
}
