package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestDashboardAuth runs dashboard/e2e/dashboard.e2e.mjs (E2E_MODE=auth) in
// Chromium against a node started with API keys: the sign-in screen shows; a
// wrong key is refused with a message; a viewer key shows live data but no
// submit, cancel, retry, drain or configuration editing; sign-out returns to
// the sign-in screen and closes the WebSocket; an operator key submits a task
// through the form and sees it complete live (over the WebSocket, so the key
// went in connection_init), and creates a paused schedule with its actions
// (resume, run now, edit, delete) offered, which a viewer then sees without
// any; a reload in the same tab keeps the session
// (sessionStorage); an admin key changes the configuration; the playground,
// opened in the same tab, runs a query and a subscription with the
// dashboard's key; and when the node restarts with other keys, the page
// goes back to the sign-in screen with a message. A second node, run with
// --insecure in a network namespace, shows the loud banner. Each scenario
// is a subtest.
func TestDashboardAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser")
	}
	dir := dashboardDir(t)
	nodeBin := requireDashboardTools(t, dir, true)
	shots := screenshotDir(t)

	keys := map[string]string{
		"viewer":   "viewer-" + randomHex(t, 12),
		"operator": "operator-" + randomHex(t, 12),
		"admin":    "admin-" + randomHex(t, 12),
	}
	entries := func(roles ...string) string {
		var list []string
		for _, r := range roles {
			list = append(list, r+":"+keys[r])
		}
		return strings.Join(list, ",")
	}
	addr := freeAddr(t)
	db := "bolt:" + filepath.Join(t.TempDir(), "auth.db")
	args := func(apiKeys string) []string {
		return []string{"--http", addr, "--store", db, "--node-id", "vault-node", "--name", "vault", "--api-keys", apiKeys}
	}
	n := startNode(t, args(entries("viewer", "operator", "admin"))...)
	if n.addr != addr {
		t.Fatalf("node listens on %s, want %s", n.addr, addr)
	}

	env := []string{
		"ARCHIVIST_URL=http://" + addr,
		"ARCHIVIST_SCREENSHOTS=" + shots,
		"E2E_MODE=auth",
		"E2E_KEY_VIEWER=" + keys["viewer"],
		"E2E_KEY_OPERATOR=" + keys["operator"],
		"E2E_KEY_ADMIN=" + keys["admin"],
	}
	// A node without keys beyond loopback (--insecure) shows a loud banner.
	// It listens on a link-local address inside a network namespace made
	// for the test, which the browser reaches over the test's bridge.
	topo := newNetTopo(t, 1)
	open := startNodeIn(t, topo.ns[0], nil, "--http", topo.ips[0]+":0", "--insecure", "--store", "memory",
		"--node-id", "open-node", "--name", "agora")
	env = append(env, "ARCHIVIST_INSECURE_URL=http://"+open.addr)

	runDashboardScript(t, dir, nodeBin, env, func(action string) string {
		switch action {
		case "submit-api":
			var out struct{ SubmitTask struct{ ID string } }
			if err := gqlWithKey(n.addr, keys["operator"], submitMutation, map[string]any{"in": map[string]any{
				"type": "echo", "input": map[string]any{"from": "the API", "with": "an operator key"},
			}}, &out); err != nil {
				return "ERROR " + err.Error()
			}
			return out.SubmitTask.ID
		case "restart-other-keys":
			// The keys the page holds are gone: a new admin key only.
			n.kill()
			keys["admin"] = "admin-" + randomHex(t, 12)
			n = startNode(t, args(entries("admin"))...)
			return "ok"
		}
		return "ERROR unknown action " + action
	}, func() {
		var out json.RawMessage
		err := gqlWithKey(n.addr, keys["admin"], `{ session { authRequired role } nodes { id status } taskCounts { status count } }`, nil, &out)
		t.Logf("node state: %s %v", out, err)
	})
	t.Logf("screenshots in %s", shots)
}

// gqlWithKey runs a GraphQL operation on the node at addr with an API key.
func gqlWithKey(addr, key, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("response %d is not JSON: %v", resp.StatusCode, err)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("%s (%s)", r.Errors[0].Message, r.code())
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
