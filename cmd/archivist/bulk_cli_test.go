package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/testkit"
)

// cliStdin is cli with stdin as the command's input.
func cliStdin(t *testing.T, n *node, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(os.Environ(), "ARCHIVIST_SERVER=http://"+n.addr)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// TestCLIBulk: tasks cancel|retry|delete over a filter count first, ask,
// and act only on yes (or --yes).
func TestCLIBulk(t *testing.T) {
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
	n := startNode(t, "--store", "memory", "--node-id", "cli-bulk")
	for range 3 {
		if _, errOut, code := cli(t, n, "submit", "fail", "--input", `{"times": 9, "message": "bulk"}`, "--retries", "0", "--wait"); code != 1 {
			t.Fatalf("submit fail: exit %d, %s", code, errOut)
		}
	}
	failed := func() int {
		t.Helper()
		out, errOut, code := cli(t, n, "tasks", "list", "--status", "failed", "-o", "json")
		if code != 0 {
			t.Fatalf("tasks list: exit %d, %s", code, errOut)
		}
		var page struct{ TotalCount int }
		if err := json.Unmarshal([]byte(out), &page); err != nil {
			t.Fatalf("tasks list -o json: %v in %q", err, out)
		}
		return page.TotalCount
	}

	out, errOut, code := cliStdin(t, n, "n\n", "tasks", "retry", "--status", "failed")
	if code != 1 || !strings.Contains(errOut, "Retry 3 finished tasks") || !strings.Contains(errOut, "not confirmed") {
		t.Fatalf("retry answered no: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if got := failed(); got != 3 {
		t.Fatalf("%d FAILED tasks after a retry answered no, want 3", got)
	}
	out, errOut, code = cliStdin(t, n, "y\n", "tasks", "retry", "--status", "failed")
	if code != 0 || strings.TrimSpace(out) != "retried 3 tasks" {
		t.Fatalf("retry answered yes: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	testkit.Eventually(t, 20*time.Second, func() bool { return failed() == 3 }, "the retried tasks to fail again")
	out, errOut, code = cli(t, n, "tasks", "delete", "--type", "fail", "--yes", "-o", "json")
	if code != 0 || strings.TrimSpace(out) != `{"deleted":3}` && !strings.Contains(out, `"deleted": 3`) {
		t.Fatalf("delete --yes: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if got := failed(); got != 0 {
		t.Errorf("%d FAILED tasks after deleting them, want 0", got)
	}

	for range 2 {
		if _, errOut, code := cli(t, n, "submit", "sleep", "--input", `{"ms": 60000}`, "--in", "1h"); code != 0 {
			t.Fatalf("submit sleep: exit %d, %s", code, errOut)
		}
	}
	if out, errOut, code := cli(t, n, "tasks", "cancel"); code != 2 || !strings.Contains(errOut, "--all") {
		t.Errorf("cancel with no id nor filter: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if out, errOut, code := cli(t, n, "tasks", "delete", "some-id"); code != 2 || !strings.Contains(errOut, "not an id") {
		t.Errorf("delete of an id: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	out, errOut, code = cliStdin(t, n, "yes\n", "tasks", "cancel", "--all")
	if code != 0 || !strings.Contains(errOut, "Cancel 2 tasks?") || strings.TrimSpace(out) != "cancelled 2 tasks" {
		t.Fatalf("cancel --all: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}
