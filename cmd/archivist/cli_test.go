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
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
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

// TestCLITaskBackoff: submit --retry-backoff/--max-backoff give a task its
// own retry backoff, which tasks get shows and the retry waits, instead of
// the cluster's (1s by default); bad values are refused with the flag's name.
func TestCLITaskBackoff(t *testing.T) {
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
	n := startNode(t, "--store", "memory", "--node-id", "backoff-node")
	submit := func(args ...string) string {
		t.Helper()
		out, errOut, code := cli(t, n, append([]string{"submit", "fail"}, args...)...)
		if code != 0 {
			t.Fatalf("archivist submit fail %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		return strings.TrimSpace(out)
	}
	type view struct {
		Status                       string
		Failures                     int
		RetryBackoffMs, MaxBackoffMs *int
	}
	get := func(id string) view {
		t.Helper()
		out, errOut, code := cli(t, n, "tasks", "get", id)
		var v view
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("tasks get %s: exit %d %q %q", id, code, out, errOut)
		}
		return v
	}

	// A long backoff of its own: after its failure the task waits an hour,
	// where the cluster's backoff would have retried it within a second.
	slow := submit("--input", `{"times": 1}`, "--retries", "1", "--retry-backoff", "1h", "--max-backoff", "2h")
	var v view
	testkit.Eventually(t, 20*time.Second, func() bool { v = get(slow); return v.Failures == 1 }, "the task's first attempt to fail")
	if v.RetryBackoffMs == nil || *v.RetryBackoffMs != 3600000 || v.MaxBackoffMs == nil || *v.MaxBackoffMs != 7200000 {
		t.Fatalf("tasks get shows backoff %v, %v; want 3600000, 7200000", v.RetryBackoffMs, v.MaxBackoffMs)
	}
	// A short one of its own (under the cluster's 1s) is retried and done.
	out, errOut, code := cli(t, n, "submit", "fail", "--input", `{"times": 2}`, "--retries", "2",
		"--max-backoff", "20ms", "--wait", "-o", "json")
	if code != 0 {
		t.Fatalf("a task with a short backoff did not complete: exit %d %q %q", code, out, errOut)
	}
	var done view
	if err := json.Unmarshal([]byte(out), &done); err != nil || done.Status != "COMPLETED" || done.Failures != 2 ||
		done.RetryBackoffMs != nil || done.MaxBackoffMs == nil || *done.MaxBackoffMs != 20 {
		t.Fatalf("submit --wait printed %s (%v)", out, err)
	}
	if v := get(slow); v.Status != "RETRYING" {
		t.Errorf("the task with a 1h backoff is %s, want still RETRYING", v.Status)
	}
	// Without flags, the task shows no backoff of its own.
	if v := get(submit("--input", `{"times": 0}`)); v.RetryBackoffMs != nil || v.MaxBackoffMs != nil {
		t.Errorf("a task without a backoff of its own shows %v, %v", v.RetryBackoffMs, v.MaxBackoffMs)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--retry-backoff", "0"}, 2, `invalid value "0" for flag -retry-backoff: must be above 0`},
		{[]string{"--max-backoff", "soon"}, 2, "flag -max-backoff: not a duration"},
		{[]string{"--retry-backoff", "1500us"}, 2, "whole milliseconds"},
		{[]string{"--retry-backoff", "2s", "--max-backoff", "1s"}, 2, "--max-backoff 1s must not be under --retry-backoff 2s"},
		{[]string{"--retry-backoff", "25h"}, 1, "BAD_USER_INPUT"},
	} {
		_, errOut, code := cli(t, n, append([]string{"submit", "fail", "--input", `{"times": 0}`}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("submit %v: exit %d %q; want exit %d mentioning %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

func TestCLISchedule(t *testing.T) {
	t.Parallel() // its own node(s), store and ports: it can run beside the others (see e2e_test.go)
	n := startNode(t, "--store", "memory", "--node-id", "schedule-node")
	mustOK := func(args ...string) string {
		t.Helper()
		out, errOut, code := cli(t, n, args...)
		if code != 0 {
			t.Fatalf("archivist %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		return out
	}
	type schedule struct {
		Name, Cron, Every, Timezone, Overlap, Misfire string
		Paused                                        bool
		NextRunAt, LastRunAt                          *time.Time
		LastTask                                      *struct{ ID, Schedule string }
		Task                                          struct {
			Type           string
			Input          json.RawMessage
			Priority       string
			TimeoutSeconds float64
			MaxRetries     int
		}
	}
	show := func(name string) schedule {
		t.Helper()
		var s schedule
		if err := json.Unmarshal([]byte(mustOK("schedule", "show", name, "-o", "json")), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	// A cron schedule in a zone, with every task flag.
	out := mustOK("schedule", "create", "nightly", "--cron", "0 3 * * *", "--timezone", "Europe/Paris", "--type", "echo",
		"--input", `{"campaign": 7}`, "--priority", "high", "--timeout", "45s", "--max-retries", "2",
		"--overlap", "cancel-previous", "--misfire", "skip", "--paused")
	if !strings.Contains(out, "nightly") || !strings.Contains(out, "0 3 * * * (Europe/Paris)") || !strings.Contains(out, "yes") {
		t.Fatalf("schedule create printed %q", out)
	}
	s := show("nightly")
	if s.Cron != "0 3 * * *" || s.Timezone != "Europe/Paris" || s.Task.Type != "echo" || s.Task.Priority != "HIGH" ||
		s.Task.TimeoutSeconds != 45 || s.Task.MaxRetries != 2 || s.Overlap != "CANCEL_PREVIOUS" || s.Misfire != "SKIP" ||
		!s.Paused || s.NextRunAt != nil || strings.Join(strings.Fields(string(s.Task.Input)), "") != `{"campaign":7}` {
		t.Fatalf("schedule show: %+v", s)
	}
	// update changes what it names and keeps the rest.
	mustOK("schedule", "update", "nightly", "--cron", "30 2 * * *")
	if s := show("nightly"); s.Cron != "30 2 * * *" || s.Timezone != "Europe/Paris" || s.Task.Priority != "HIGH" ||
		s.Task.MaxRetries != 2 || s.Overlap != "CANCEL_PREVIOUS" || !s.Paused {
		t.Fatalf("after update: %+v", s)
	}
	if out := mustOK("schedule", "show", "nightly"); !strings.Contains(out, "30 2 * * * (Europe/Paris)") || !strings.Contains(out, "misfire:") {
		t.Fatalf("schedule show (table): %s", out)
	}

	// An every schedule runs on the node: its tasks carry its name.
	mustOK("schedule", "create", "poll", "--every", "1s", "--type", "echo", "--input", `"tick"`)
	testkit.Eventually(t, 20*time.Second, func() bool {
		return strings.Count(mustOK("tasks", "list", "--schedule", "poll"), "echo") >= 2
	}, "two ticks of the every-second schedule")
	mustOK("schedule", "pause", "poll")
	s = show("poll")
	if !s.Paused || s.NextRunAt != nil || s.LastRunAt == nil || s.LastTask == nil || s.LastTask.Schedule != "poll" {
		t.Fatalf("poll after ticks, paused: %+v", s)
	}
	if out := mustOK("schedule", "list"); !strings.Contains(out, "NEXT RUN") || !strings.Contains(out, "every 1s") ||
		!strings.Contains(out, "nightly") {
		t.Fatalf("schedule list: %s", out)
	}
	// trigger submits at once, paused or not.
	id := strings.TrimSpace(mustOK("schedule", "trigger", "nightly"))
	if out := mustOK("tasks", "list", "--schedule", "nightly"); !strings.Contains(out, id) {
		t.Fatalf("the triggered task %s is not in the schedule's tasks: %s", id, out)
	}
	mustOK("schedule", "resume", "poll")
	if s := show("poll"); s.Paused || s.NextRunAt == nil {
		t.Fatalf("resumed: %+v", s)
	}
	if out := mustOK("schedule", "delete", "poll"); !strings.Contains(out, "deleted schedule poll") {
		t.Fatalf("schedule delete: %s", out)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"schedule"}, 2, "want a subcommand"},
		{[]string{"schedule", "explode", "x"}, 2, `unknown subcommand "explode"`},
		{[]string{"schedule", "create", "x", "--type", "echo"}, 2, "create wants --cron or --every"},
		{[]string{"schedule", "create", "x", "--every", "1m"}, 2, "create wants --type"},
		{[]string{"schedule", "create", "x", "--every", "1m", "--cron", "* * * * *", "--type", "echo"}, 2, "not both"},
		{[]string{"schedule", "create", "x", "--every", "500ms", "--type", "echo"}, 2, "must be at least 1s"},
		{[]string{"schedule", "create", "x", "--every", "1m", "--type", "echo", "--overlap", "sometimes"}, 2,
			`--overlap "sometimes": use one of allow, skip, cancel-previous`},
		{[]string{"schedule", "create", "x", "--cron", "61 * * * *", "--type", "echo"}, 1, "above maximum (59)"},
		{[]string{"schedule", "create", "x", "--cron", "0 3 * * *", "--timezone", "Moon/Base", "--type", "echo"}, 1, `"Moon/Base" is unknown`},
		{[]string{"schedule", "create", "x", "--every", "1m", "--type", "no.such.type"}, 1, "unknown task type"},
		{[]string{"schedule", "create", "nightly", "--every", "1m", "--type", "echo"}, 1, "CONFLICT"},
		{[]string{"schedule", "update", "nightly"}, 2, "at least one flag"},
		{[]string{"schedule", "update", "nightly", "--paused"}, 2, "use pause or resume"},
		{[]string{"schedule", "show", "nope"}, 1, "NOT_FOUND"},
		{[]string{"schedule", "trigger", "nope"}, 1, "NOT_FOUND"},
		{[]string{"schedule", "pause", "nightly", "--every", "1m"}, 2, "goes with create or update"},
	} {
		_, errOut, code := cli(t, n, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("archivist %v: exit %d %q; want exit %d mentioning %q", c.args, code, errOut, c.code, c.want)
		}
	}
}
