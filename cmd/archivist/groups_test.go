package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCLIGroups: submit --group, tasks list --group with its GROUP column,
// and archivist groups.
func TestCLIGroups(t *testing.T) {
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
	n := startNode(t, "--store", "memory", "--node-id", "groups-node")
	mustOK := func(args ...string) string {
		t.Helper()
		out, errOut, code := cli(t, n, args...)
		if code != 0 {
			t.Fatalf("archivist %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		return out
	}
	for range 3 {
		mustOK("submit", "sleep", "--input", `{"ms": 60000}`, "--in", "1h", "--group", "campaign-42")
	}
	mustOK("submit", "echo", "--group", "campaign-7", "--wait")
	mustOK("submit", "echo", "--wait")

	out := mustOK("tasks", "list", "--group", "campaign-42")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "GROUP") {
		t.Fatalf("tasks list --group campaign-42:\n%s", out)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, "campaign-42") || !strings.Contains(l, "SCHEDULED") {
			t.Errorf("row without the group or not SCHEDULED: %s", l)
		}
	}

	out = mustOK("groups")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "GROUP") ||
		!strings.HasPrefix(lines[1], "campaign-42") || !strings.HasPrefix(lines[2], "campaign-7") {
		t.Fatalf("groups, busiest first:\n%s", out)
	}
	if f := strings.Fields(lines[1]); f[1] != "3" || f[len(f)-1] != "3" {
		t.Errorf("campaign-42 row %q: want 3 unfinished of 3", lines[1])
	}
	var groups []struct {
		Group             string
		Unfinished, Total int
		Counts            map[string]int
	}
	if err := json.Unmarshal([]byte(mustOK("groups", "-o", "json")), &groups); err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || groups[1].Group != "campaign-7" || groups[1].Counts["COMPLETED"] != 1 || groups[1].Unfinished != 0 {
		t.Errorf("groups -o json: %+v", groups)
	}
	if _, errOut, code := cli(t, n, "submit", "echo", "--group", "*"); code != 1 || !strings.Contains(errOut, "BAD_USER_INPUT") {
		t.Errorf("submit --group '*': exit %d: %s", code, errOut)
	}
	if _, _, code := cli(t, n, "groups", "-n", "0"); code != 2 {
		t.Errorf("groups -n 0: exit %d, want 2", code)
	}
}
