package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/testkit"
)

// TestCLILimits sets a limit and pauses a task type through the archivist
// command, against a node that holds tasks back for them.
func TestCLILimits(t *testing.T) {
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
	n := startNode(t, "--store", "memory", "--node-id", "limits-node", "--workers", "4")
	mustOK := func(args ...string) string {
		t.Helper()
		out, errOut, code := cli(t, n, args...)
		if code != 0 {
			t.Fatalf("archivist %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		return out
	}

	out := mustOK("limits", "set", "--type", "sleep", "--max-concurrent", "1")
	if !strings.Contains(out, "type=sleep") || !strings.Contains(out, "MAX CONCURRENT") {
		t.Fatalf("limits set printed %q", out)
	}
	var ids []string
	for range 3 {
		ids = append(ids, strings.TrimSpace(mustOK("submit", "sleep", "--input", `{"ms": 60000}`)))
	}
	// One runs; the limit holds the two others back, and says so.
	testkit.Eventually(t, 20*time.Second, func() bool {
		var list []struct {
			ID      string
			Running int
			Held    int
		}
		if err := json.Unmarshal([]byte(mustOK("limits", "list", "-o", "json")), &list); err != nil {
			t.Fatal(err)
		}
		return len(list) == 1 && list[0].ID == "type=sleep" && list[0].Running == 1 && list[0].Held == 2
	}, "the sleep limit to run 1 task and hold 2")
	if out := mustOK("limits", "list"); !strings.Contains(out, "1/1") {
		t.Errorf("limits list: %s", out)
	}
	if out := mustOK("tasks", "list", "--type", "sleep"); strings.Count(out, "(held: limit type=sleep)") != 2 {
		t.Errorf("tasks list does not show two held tasks:\n%s", out)
	}

	// A paused type's task queues, held by "paused", and runs once resumed.
	if out := mustOK("types", "pause", "echo"); !strings.Contains(out, "paused echo") {
		t.Errorf("types pause: %s", out)
	}
	if out := mustOK("types", "pause", "echo"); !strings.Contains(out, "echo was paused already") {
		t.Errorf("second types pause: %s", out)
	}
	if out := mustOK("types", "list"); !strings.Contains(strings.Join(strings.Fields(out), " "), "echo yes") {
		t.Errorf("types list: %s", out)
	}
	echo := strings.TrimSpace(mustOK("submit", "echo", "--input", `"held"`))
	type task struct{ Status, HeldBy string }
	get := func(id string) task {
		var tk task
		if err := json.Unmarshal([]byte(mustOK("tasks", "get", id)), &tk); err != nil {
			t.Fatal(err)
		}
		return tk
	}
	testkit.Eventually(t, 20*time.Second, func() bool {
		tk := get(echo)
		return tk.Status == "PENDING" && tk.HeldBy == "paused"
	}, "the echo task to be held by the pause")
	mustOK("types", "resume", "echo")
	testkit.Eventually(t, 20*time.Second, func() bool { return get(echo).Status == "COMPLETED" }, "the echo task to run once resumed")

	// Deleting the limit lets the held sleep tasks run.
	if out := mustOK("limits", "delete", "type=sleep"); !strings.Contains(out, "deleted limit type=sleep") {
		t.Errorf("limits delete: %s", out)
	}
	testkit.Eventually(t, 20*time.Second, func() bool {
		for _, id := range ids {
			if get(id).Status != "IN_PROGRESS" {
				return false
			}
		}
		return true
	}, "the three sleep tasks to run once the limit is gone")
	for _, id := range ids {
		mustOK("tasks", "cancel", id)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"limits", "set", "--type", "no.such.type", "--max-concurrent", "1"}, 1, "unknown task type"},
		{[]string{"limits", "delete", "type=sleep"}, 1, "NOT_FOUND"},
		{[]string{"types", "pause", "no.such.type"}, 1, "known types:"},
		{[]string{"limits", "set", "--type", "sleep"}, 2, "--max-concurrent, --rate or both"},
	} {
		_, errOut, code := cli(t, n, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("archivist %v: exit %d %q; want exit %d mentioning %q", c.args, code, errOut, c.code, c.want)
		}
	}
}
