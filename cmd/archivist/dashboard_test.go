package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// The dashboard tests run the dashboard in a real browser (Debian's
// Chromium, driven by playwright-core from dashboard/node_modules) against a
// real node. They need, besides Go:
//
//	apt-get install -y chromium      # /usr/bin/chromium (or set CHROMIUM)
//	cd dashboard && npm ci           # node_modules with playwright-core and vitest
//	cd clients/typescript && npm ci  # the client the dashboard is built with
//
// Without them the tests are skipped, except under CI (CI set), where they
// fail. Screenshots of every view go to $ARCHIVIST_SCREENSHOTS, or to the
// test's artifact directory (kept with go test -artifacts).

// dashboardDir is the dashboard's source folder, from this package.
func dashboardDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "dashboard"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// requireDashboardTools skips the test (fails it under CI) when Node.js,
// the dashboard's node_modules or, with browser, Chromium are missing.
func requireDashboardTools(t *testing.T, dir string, browser bool) string {
	t.Helper()
	var missing []string
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (Node.js 20 or newer)")
	}
	for _, pkg := range []string{"playwright-core", "vitest"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
			missing = append(missing, "dashboard/node_modules/"+pkg+" (run: cd dashboard && npm ci)")
			break
		}
	}
	// The dashboard compiles the TypeScript client from its source, with
	// the client's packages.
	if _, err := os.Stat(filepath.Join(dir, "..", "clients", "typescript", "node_modules", "graphql-ws")); err != nil {
		missing = append(missing, "clients/typescript/node_modules (run: cd clients/typescript && npm ci)")
	}
	if browser {
		if _, err := os.Stat(chromiumPath()); err != nil {
			missing = append(missing, chromiumPath()+" (run: apt-get install -y chromium, or set CHROMIUM)")
		}
	}
	if len(missing) > 0 {
		msg := "dashboard tests need: " + strings.Join(missing, "; ")
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return nodeBin
}

// freeAddr returns a loopback address with a port free now, so that a node
// can be restarted on the same address.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDashboardUnit type-checks the dashboard (its types are checked there
// against what its GraphQL documents return by the schema: see
// dashboard/src/service/typecheck.ts) and runs its unit tests (Vitest): the
// event reducers, JSON and configuration checks, every document valid
// against the schema.
func TestDashboardUnit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node.js")
	}
	dir := dashboardDir(t)
	nodeBin := requireDashboardTools(t, dir, false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tsc := exec.CommandContext(ctx, nodeBin, filepath.Join("node_modules", "typescript", "bin", "tsc"), "--noEmit")
	tsc.Dir = dir
	if out, err := tsc.CombinedOutput(); err != nil {
		t.Fatalf("tsc --noEmit (the dashboard's types): %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, nodeBin, filepath.Join("node_modules", "vitest", "vitest.mjs"), "run", "--reporter=dot")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "FORCE_COLOR=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vitest: %v\n%s", err, out)
	}
	t.Logf("vitest:\n%s", lastLines(string(out), 6))
}

// TestDashboardBrowser runs dashboard/e2e/dashboard.e2e.mjs in Chromium
// against a node on the bolt store: the page loads with the node shown, a
// task submitted through the form goes to COMPLETED on screen, one submitted
// through the API appears live, cancel, retry and drain work from the UI,
// a configuration change shows as applied, an admin edits the node (name,
// role, workers, capabilities) and sees it apply live (a WORKER loses the
// Leader badge, HYBRID again gets it back), a delayed task shows SCHEDULED
// with its due time and then runs, a held unique key shows the task that
// holds it, a schedule is created, fires, is paused, triggered, edited and
// deleted from the Schedules page (a bad cron refused in the form),
// workflows show live on the Workflows page and in their graph (boxes and
// arrows, statuses turning COMPLETED, a step leading to its task, steps added
// by a fan-out drawn after the step that added them with "added by"
// connectors, 300 steps on a scrolling canvas) and are submitted, cancelled
// and retried from the UI, and the page survives the node's
// restart (SIGKILL, then a new process on the same address and file) without
// a reload. Each scenario is reported as a subtest.
func TestDashboardBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser")
	}
	dir := dashboardDir(t)
	nodeBin := requireDashboardTools(t, dir, true)
	shots := screenshotDir(t)

	addr := freeAddr(t)
	const nodeID = "dash-node"
	args := []string{"--http", addr, "--store", "bolt:" + filepath.Join(t.TempDir(), "dashboard.db"),
		"--node-id", nodeID, "--name", "atlas"}
	// The node traces, to an OTLP receiver of the test's: the task view
	// shows a task's trace id.
	traceEnv := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + newOTLPReceiver(t).srv.URL, "OTEL_BSP_SCHEDULE_DELAY=200"}
	n := startNodeEnv(t, traceEnv, args...)
	if n.addr != addr {
		t.Fatalf("node listens on %s, want %s", n.addr, addr)
	}

	runDashboardScript(t, dir, nodeBin, []string{
		"ARCHIVIST_URL=http://" + addr,
		"ARCHIVIST_NODE_ID=" + nodeID,
		"ARCHIVIST_SCREENSHOTS=" + shots,
	}, func(action string) string { return dashboardAction(t, action, &n, traceEnv, args) },
		func() { logClusterState(t, n) })
	t.Logf("screenshots in %s", shots)
}

// TestDashboardCluster runs the browser against a cluster of three nodes on
// a real Redis: every node shown with one leader; more tasks than workers
// fire a pending_too_old alert that shows, then resolves, live; a node
// killed with SIGKILL turns OFFLINE on screen (no event says so: the page
// sees its heartbeats stop) and its node_offline alert shows live, in the
// header from any view and in the Overview's list; the alert resolves when
// the node is removed, fires again when the node, back, is killed again,
// and resolves when it is restarted.
func TestDashboardCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser and a cluster")
	}
	testDashboardCluster(t, 3)
}

// TestDashboardFiftyNodes is the same with fifty nodes, to see the page
// keep up with fifty nodes heartbeating. It is heavy for a small machine
// (fifty processes), so it runs only with ARCHIVIST_DASHBOARD_FIFTY=1.
func TestDashboardFiftyNodes(t *testing.T) {
	if testing.Short() || os.Getenv("ARCHIVIST_DASHBOARD_FIFTY") == "" {
		t.Skip("fifty nodes: set ARCHIVIST_DASHBOARD_FIFTY=1 to run")
	}
	testDashboardCluster(t, 50)
}

func testDashboardCluster(t *testing.T, count int) {
	dir := dashboardDir(t)
	nodeBin := requireDashboardTools(t, dir, true)
	shots := screenshotDir(t)
	if count > 10 {
		// Fifty race-detector builds would starve two cores: the nodes
		// here run a plain build (the page is what is under test).
		bin := filepath.Join(t.TempDir(), "archivist")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		old := binPath
		binPath = bin
		t.Cleanup(func() { binPath = old })
	}
	r := redistest.Start(t)
	nodes := make([]*node, count)
	args := make([][]string, count)
	for i := range nodes {
		id := fmt.Sprintf("node-%02d", i+1)
		// A task pending 1.5 s fires the pending_too_old alert (a warning);
		// node_offline fires after --missed-heartbeats (3) heartbeats.
		args[i] = clusterArgs(r.URL(), id, "--name", fmt.Sprintf("scribe-%02d", i+1), "--workers", "2",
			"--health-interval", "1s", "--alert-pending-age", "1500ms")
		if count > 10 {
			// The default heartbeat, as a real cluster of fifty would run.
			args[i] = append(args[i], "--heartbeat-interval", "1s")
		}
		nodes[i] = startNode(t, args[i]...)
	}
	victim := count - 1
	runDashboardScript(t, dir, nodeBin, []string{
		"ARCHIVIST_URL=http://" + nodes[0].addr,
		"ARCHIVIST_SCREENSHOTS=" + shots,
		"E2E_MODE=cluster",
		fmt.Sprintf("NODE_COUNT=%d", count),
	}, func(action string) string {
		switch action {
		case "kill-one":
			nodes[victim].kill()
			return fmt.Sprintf("node-%02d", victim+1)
		case "restart-one":
			nodes[victim] = startNode(t, args[victim]...)
			return "ok"
		case "pending-burst":
			// More five-second tasks than the cluster has workers (two a
			// node): the rest wait PENDING past --alert-pending-age until
			// workers free up, so pending_too_old fires, then resolves.
			inputs := make([]map[string]any, 2*count+4)
			for i := range inputs {
				inputs[i] = map[string]any{"type": "sleep", "input": map[string]any{"ms": 5000}}
			}
			var out struct{ SubmitTasks []struct{ ID string } }
			nodes[0].gql(t, `mutation($in: [SubmitTaskInput!]!) { submitTasks(inputs: $in) { id } }`, map[string]any{"in": inputs}, &out)
			if len(out.SubmitTasks) != len(inputs) {
				return fmt.Sprintf("ERROR submitted %d tasks, want %d", len(out.SubmitTasks), len(inputs))
			}
			return strconv.Itoa(len(inputs))
		}
		return "ERROR unknown action " + action
	}, func() { logClusterState(t, nodes[0]) })
	t.Logf("screenshots in %s", shots)
}

// screenshotDir is $ARCHIVIST_SCREENSHOTS, or the test's artifact directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("ARCHIVIST_SCREENSHOTS"); dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			return abs
		}
		return dir
	}
	return t.ArtifactDir()
}

// runDashboardScript runs dashboard/e2e/dashboard.e2e.mjs with env, answers
// its ASK lines with act, and reports each of its scenarios as a subtest.
// onFail runs once when a scenario failed, to log the cluster's state.
func runDashboardScript(t *testing.T, dir, nodeBin string, env []string, act func(string) string, onFail func()) {
	t.Helper()
	runBrowserScript(t, dir, nodeBin, "dashboard.e2e.mjs", env, act, onFail)
}

// runBrowserScript runs the browser script dashboard/e2e/SCRIPT as
// runDashboardScript does.
func runBrowserScript(t *testing.T, dir, nodeBin, script string, env []string, act func(string) string, onFail func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, filepath.Join("e2e", script))
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CHROMIUM="+chromiumPath(), "E2E_INTERACTIVE=1"), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testkit.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	type result struct{ name, verdict, detail string }
	var results []result
	var transcript strings.Builder
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		transcript.WriteString(line + "\n")
		verb, rest, _ := strings.Cut(line, " ")
		switch verb {
		case "ASK":
			if _, err := io.WriteString(stdin, act(rest)+"\n"); err != nil {
				t.Errorf("answering %s: %v", rest, err)
			}
		case "INFO":
			t.Log(rest)
		case "PASS", "FAIL", "SKIP":
			name, detail, _ := strings.Cut(rest, ": ")
			if verb == "PASS" {
				name, detail, _ = strings.Cut(rest, " (")
			}
			results = append(results, result{name, verb, detail})
		}
	}
	stdin.Close()
	waitErr := cmd.Wait()

	for _, r := range results {
		if r.verdict == "FAIL" {
			onFail()
			break
		}
	}
	for _, r := range results {
		t.Run(strings.ReplaceAll(r.name, " ", "_"), func(t *testing.T) {
			switch r.verdict {
			case "FAIL":
				t.Error(r.detail)
			case "SKIP":
				t.Skip(r.detail)
			}
		})
	}
	if waitErr != nil || len(results) == 0 {
		t.Fatalf("browser script: %v\nstdout:\n%s\nstderr:\n%s", waitErr, transcript.String(), lastLines(stderr.String(), 40))
	}
}

// dashboardAction does what the browser script asks of the driver and
// returns the answer line.
func dashboardAction(t *testing.T, action string, n **node, env, args []string) string {
	t.Helper()
	switch action {
	case "submit-api":
		var out struct{ SubmitTask taskView }
		(*n).gql(t, submitMutation, map[string]any{"in": map[string]any{
			"type": "echo", "input": map[string]any{"from": "the API", "session": 13},
			"metadata": map[string]any{"by": "dashboard_test"},
		}}, &out)
		return out.SubmitTask.ID
	case "seed":
		// A mix for the screenshots: quick and slower tasks, dice, failures.
		var inputs []map[string]any
		for i := range 90 {
			switch i % 6 {
			case 0, 1:
				inputs = append(inputs, map[string]any{"type": "sleep", "input": map[string]any{"ms": 300 + i*37%2200}})
			case 2:
				inputs = append(inputs, map[string]any{"type": "dice.simulate", "priority": "HIGH",
					"input": map[string]any{"expr": "4d6kh3", "trials": 20000}})
			case 3:
				inputs = append(inputs, map[string]any{"type": "fail", "maxRetries": 1,
					"input": map[string]any{"times": 3, "message": "the scroll is unreadable"}})
			default:
				inputs = append(inputs, map[string]any{"type": "echo", "priority": []string{"LOW", "NORMAL", "CRITICAL"}[i%3],
					"input": map[string]any{"note": fmt.Sprintf("session %d", i)}})
			}
		}
		var out struct{ SubmitTasks []taskView }
		(*n).gql(t, `mutation($in: [SubmitTaskInput!]!) { submitTasks(inputs: $in) { id type } }`,
			map[string]any{"in": inputs}, &out)
		for _, tv := range out.SubmitTasks {
			if tv.Type == "dice.simulate" {
				return tv.ID
			}
		}
		return "ERROR no dice task submitted"
	case "bulk 10000":
		// Ten batches of a thousand quick tasks: the dashboard must keep up.
		// They are LOW so that the later scenarios' tasks go first while
		// these drain in the background.
		for b := range 10 {
			inputs := make([]map[string]any, 1000)
			for i := range inputs {
				inputs[i] = map[string]any{"type": "echo", "priority": "LOW", "input": map[string]any{"batch": b, "i": i}}
			}
			var out struct{ SubmitTasks []struct{ ID string } }
			(*n).gql(t, `mutation($in: [SubmitTaskInput!]!) { submitTasks(inputs: $in) { id } }`, map[string]any{"in": inputs}, &out)
			if len(out.SubmitTasks) != len(inputs) {
				return fmt.Sprintf("ERROR submitted %d tasks, want %d", len(out.SubmitTasks), len(inputs))
			}
		}
		return "ok"
	case "kill":
		(*n).kill()
		return "ok"
	case "restart":
		*n = startNodeEnv(t, env, args...)
		return "ok"
	}
	return "ERROR unknown action " + action
}

// logClusterState logs the nodes, the unfinished tasks and the alerts, to
// tell a dashboard fault from a node's.
func logClusterState(t *testing.T, n *node) {
	t.Helper()
	select {
	case <-n.done:
		return
	default:
	}
	body := `{"query":"{ nodes { id status workers activeTasks isLeader configVersion lastHeartbeat } taskCounts { status count } ` +
		`tasks(first: 20, filter: {status: [ASSIGNED, IN_PROGRESS, RETRYING]}) { edges { node { id type status attempts nodeId updatedAt cancelRequested } } } ` +
		`alerts(includeResolved: true) { id status startedAt resolvedAt message } }"}`
	_, r := n.post(t, body)
	t.Logf("cluster state: %s %v", r.Data, r.Errors)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
