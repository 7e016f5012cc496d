package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/testkit"
)

// cli runs the archivist binary as a client of n and returns its stdout,
// stderr and exit code.
func cli(t *testing.T, n *node, args ...string) (string, string, int) {
	t.Helper()
	return runArchivist(t, []string{"ARCHIVIST_SERVER=http://" + n.addr}, args...)
}

// runArchivist runs the archivist binary with env added to the environment
// (at most a minute) and returns its stdout, stderr and exit code.
func runArchivist(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

func TestCLI(t *testing.T) {
	n := startNode(t, "--store", "memory", "--node-id", "cli-node")
	mustOK := func(args ...string) string {
		t.Helper()
		out, errOut, code := cli(t, n, args...)
		if code != 0 {
			t.Fatalf("archivist %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		return out
	}

	// submit --wait prints the result; a failing task exits 1.
	out := mustOK("submit", "dice.simulate", "--input", `{"expr": "2d6", "trials": 500, "seed": 7}`, "--priority", "high", "--wait")
	var res struct{ Trials, Min, Max int }
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Trials != 500 || res.Min < 2 || res.Max > 12 {
		t.Fatalf("submit --wait printed %q", out)
	}
	_, errOut, code := cli(t, n, "submit", "fail", "--input", `{"times": 5, "message": "the dragon woke"}`, "--retries", "0", "--wait")
	if code != 1 || !strings.Contains(errOut, "the dragon woke") {
		t.Fatalf("failing task: exit %d, stderr %q", code, errOut)
	}
	inputFile := filepath.Join(t.TempDir(), "in.json")
	os.WriteFile(inputFile, []byte(`{"ms": 60000}`), 0o600)
	id := strings.TrimSpace(mustOK("submit", "sleep", "--input", "@"+inputFile, "--priority", "low"))

	// tasks list / get / cancel / retry
	if out := mustOK("tasks", "list", "--type", "sleep"); !strings.Contains(out, id) || !strings.Contains(out, "STATUS") {
		t.Fatalf("tasks list: %s", out)
	}
	var got struct{ ID, Status string }
	if err := json.Unmarshal([]byte(mustOK("tasks", "get", id)), &got); err != nil || got.ID != id {
		t.Fatalf("tasks get: %+v %v", got, err)
	}
	mustOK("tasks", "cancel", id)
	testkit.Eventually(t, 10*time.Second, func() bool {
		json.Unmarshal([]byte(mustOK("tasks", "get", id, "-o", "json")), &got)
		return got.Status == "CANCELLED"
	}, "the task to be cancelled")
	if out := mustOK("tasks", "retry", id, "-o", "json"); !strings.Contains(out, `"PENDING"`) && !strings.Contains(out, `"ASSIGNED"`) && !strings.Contains(out, `"IN_PROGRESS"`) {
		t.Fatalf("tasks retry: %s", out)
	}
	mustOK("tasks", "cancel", id)
	if _, errOut, code := cli(t, n, "tasks", "get", "nope"); code != 1 || !strings.Contains(errOut, "NOT_FOUND") {
		t.Fatalf("unknown task: exit %d %q", code, errOut)
	}

	// nodes list / drain / resume
	if out := mustOK("nodes", "list"); !strings.Contains(out, "cli-node") || !strings.Contains(out, "leader") {
		t.Fatalf("nodes list: %s", out)
	}
	if out := mustOK("nodes", "drain", "cli-node"); !strings.Contains(out, "DRAINING") {
		t.Fatalf("nodes drain: %s", out)
	}
	if out := mustOK("nodes", "resume", "cli-node"); !strings.Contains(out, "ONLINE") {
		t.Fatalf("nodes resume: %s", out)
	}

	// config get / set
	if out := mustOK("config", "set", "workers=6", "strategy=least-busy", "thresholds.cpuPercent=85"); !strings.Contains(out, "workers: 6") ||
		!strings.Contains(out, "strategy: LEAST_BUSY") || !strings.Contains(out, "thresholds.cpuPercent: 85") {
		t.Fatalf("config set: %s", out)
	}
	if out := mustOK("config", "get", "-o", "json"); !strings.Contains(out, `"workers": 6`) {
		t.Fatalf("config get: %s", out)
	}
	if _, errOut, code := cli(t, n, "config", "set", "workers=0"); code != 1 || !strings.Contains(errOut, "BAD_USER_INPUT") {
		t.Fatalf("bad config: exit %d %q", code, errOut)
	}

	// watch streams task changes until stopped.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := exec.CommandContext(ctx, binPath, "watch", "--server", "http://"+n.addr)
	stdout, _ := w.StdoutPipe()
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	// The watch is live once its subscription is, which it does not
	// announce: it is once it shows a change of a probe task (left to run:
	// the node ends with the test).
	probe := strings.TrimSpace(mustOK("submit", "sleep", "--input", probeSleep))
	live := false
	for !live && lines.Scan() {
		live = strings.Contains(lines.Text(), probe)
	}
	if !live {
		t.Fatalf("watch never showed the probe task %s (%v)", probe, lines.Err())
	}
	mustOK("submit", "echo", "--input", `"watched"`)
	seen := false
	for lines.Scan() {
		if strings.Contains(lines.Text(), "COMPLETED") && strings.Contains(lines.Text(), "echo") {
			seen = true
			break
		}
	}
	w.Process.Kill()
	w.Wait()
	if !seen {
		t.Fatal("watch never showed the echo task completing")
	}

	// usage errors exit 2 with help
	for _, args := range [][]string{{"submit"}, {"tasks", "explode"}, {"nodes", "drain"}, {"config", "set", "workers"}, {"tasks", "list", "-o", "xml"}} {
		if _, errOut, code := cli(t, n, args...); code != 2 || errOut == "" {
			t.Errorf("archivist %v: exit %d, want 2 with a message", args, code)
		}
	}
	if out := mustOK("completion", "bash"); !strings.Contains(out, "complete -F _archivist archivist") {
		t.Error("no bash completion")
	}
}

func TestConfigInitFileRuns(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "archivist.yaml")
	out, err := exec.Command(binPath, "config", "init", "--file", path).CombinedOutput()
	if err != nil {
		t.Fatalf("config init: %v %s", err, out)
	}
	if out, err := exec.Command(binPath, "config", "init", "--file", path).CombinedOutput(); err == nil {
		t.Fatalf("config init overwrote %s: %s", path, out)
	}
	// The written file is valid as it is, and with a value uncommented.
	data, _ := os.ReadFile(path)
	// The commented default of workers is sized from the machine.
	edited := regexp.MustCompile(`(?m)^# workers: \d+$`).ReplaceAllString(string(data), "workers: 3")
	os.WriteFile(path, []byte(edited), 0o600)
	n := startNode(t, "--store", "memory", "--config", path)
	var o struct{ Nodes []struct{ Workers int } }
	n.gql(t, `{ nodes { workers } }`, nil, &o)
	if len(o.Nodes) != 1 || o.Nodes[0].Workers != 3 {
		t.Fatalf("node from the config file: %+v", o.Nodes)
	}
}
