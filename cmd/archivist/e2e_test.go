package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpg-archivist/archivist/internal/testkit"
)

// The end-to-end tests run the real binary as separate processes.

var binPath string

// Tests that start their own nodes (free ports, their own store and data
// directory) and wait mostly on processes call t.Parallel, so that go
// test runs them beside each other (-parallel, GOMAXPROCS by default). The
// browser tests, the mDNS tests (one multicast group on the machine) and
// those that time a short window stay sequential.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "archivist-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "archivist")
	build := exec.Command("go", "build", "-race", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build archivist:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is a running archivist process.
type node struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	logs *testkit.Buffer
	done chan struct{}
}

var addrRe = regexp.MustCompile(`msg="serving HTTP" .*addr=(\S+)`)

// startNode starts `archivist serve` with args on a free port and waits
// until it serves.
func startNode(t *testing.T, args ...string) *node {
	t.Helper()
	return startNodeEnv(t, nil, args...)
}

// startNodeEnv is startNode with env added to the environment.
func startNodeEnv(t *testing.T, env []string, args ...string) *node {
	t.Helper()
	// Health thresholds are off: a test machine under load would otherwise
	// turn the node BUSY, and a busy node gets no work.
	args = append([]string{"serve", "--http", "127.0.0.1:0", "--health-interval", "200ms",
		"--cpu-threshold", "0", "--memory-threshold", "0"}, args...)
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(append(os.Environ(), "XDG_DATA_HOME="+t.TempDir()), env...)
	return startCmd(t, cmd, fmt.Sprint(args), 60*time.Second)
}

// startCmd starts cmd, an archivist node (perhaps behind a prefix such as
// ip netns exec), and waits until its log says where it serves. Its stdout
// and stderr both go to n.logs.
func startCmd(t *testing.T, cmd *exec.Cmd, label string, timeout time.Duration) *node {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	n := &node{t: t, cmd: cmd, logs: &testkit.Buffer{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			n.logs.Write([]byte(line + "\n"))
			if m := addrRe.FindStringSubmatch(line); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(n.done)
	}()
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("logs of %s:\n%s", label, n.logs.String())
		}
	})
	select {
	case n.addr = <-found:
	case <-n.done:
		t.Fatalf("archivist %s exited before serving:\n%s", label, n.logs.String())
	case <-time.After(timeout):
		t.Fatalf("archivist %s did not start within %s:\n%s", label, timeout, n.logs.String())
	}
	return n
}

func (n *node) kill() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// stop sends SIGTERM and waits for a clean exit.
func (n *node) stop(t *testing.T) {
	t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("node did not stop within 30s after SIGTERM:\n%s", n.logs.String())
	}
	if code := n.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, n.logs.String())
	}
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// post sends a raw body to /graphql.
func (n *node) post(t *testing.T, body string) (int, *gqlResponse) {
	t.Helper()
	resp, err := http.Post("http://"+n.addr+"/graphql", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, &out
}

// call sends one request to n with a body (sent as JSON), a key (as
// Authorization: Bearer, when given) and more headers ("Host" sets the
// Host), and returns the response, its body read and closed.
func (n *node) call(t *testing.T, method, path, key, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(raw)
}

// gql runs a query and decodes its data into out, failing on errors.
func (n *node) gql(t *testing.T, query string, vars map[string]any, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	_, r := n.post(t, string(body))
	if len(r.Errors) > 0 {
		t.Fatalf("GraphQL errors: %+v", r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("decode %s: %v", r.Data, err)
		}
	}
}

// wsClient speaks one of the two GraphQL-over-WebSocket protocols.
type wsClient struct {
	conn   *websocket.Conn
	legacy bool
}

func dialWS(t *testing.T, ctx context.Context, addr, protocol string) *wsClient {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{protocol}})
	if err != nil {
		t.Fatalf("dial %s: %v", protocol, err)
	}
	if conn.Subprotocol() != protocol {
		t.Fatalf("server chose subprotocol %q, want %q", conn.Subprotocol(), protocol)
	}
	c := &wsClient{conn: conn, legacy: protocol == "graphql-ws"}
	c.send(t, ctx, map[string]any{"type": "connection_init", "payload": map[string]any{}})
	for {
		m := c.read(t, ctx)
		if m["type"] == "connection_ack" {
			return c
		}
		if m["type"] == "connection_error" {
			t.Fatalf("connection error: %v", m)
		}
	}
}

func (c *wsClient) send(t *testing.T, ctx context.Context, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("ws write: %v", err)
	}
}

func (c *wsClient) read(t *testing.T, ctx context.Context) map[string]any {
	t.Helper()
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			t.Fatalf("ws read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("ws message is not JSON: %s", b)
		}
		switch m["type"] {
		case "ping":
			c.send(t, ctx, map[string]any{"type": "pong"})
			continue
		case "ka", "pong":
			continue
		}
		return m
	}
}

func (c *wsClient) subscribe(t *testing.T, ctx context.Context, id, query string) {
	typ := "subscribe"
	if c.legacy {
		typ = "start"
	}
	c.send(t, ctx, map[string]any{"id": id, "type": typ, "payload": map[string]any{"query": query}})
}

// probeSleep is the input of a probe task: a sleep that reports progress
// every 2 seconds for 20 seconds, so that a subscription that goes live at
// any time in those 20 seconds sees one of its changes within 2 seconds.
const probeSleep = `{"ms": 20000}`

// awaitLive returns once subscription id, a taskUpdated that selects the
// task's id, is live on the server. The server does not acknowledge a
// subscription, and a change made before it is live is not sent, so a
// probe task is submitted on n and events are read until one of the probe
// arrives; the probe is then cancelled.
func (c *wsClient) awaitLive(t *testing.T, ctx context.Context, id string, n *node) {
	t.Helper()
	var probe struct{ SubmitTask struct{ ID string } }
	n.gql(t, submitMutation, map[string]any{"in": map[string]any{"type": "sleep", "input": json.RawMessage(probeSleep)}}, &probe)
	for {
		var ev struct{ TaskUpdated struct{ ID string } }
		if err := json.Unmarshal(c.next(t, ctx, id), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.TaskUpdated.ID == probe.SubmitTask.ID {
			break
		}
	}
	n.gql(t, `mutation($id: ID!) { cancelTask(id: $id) { id } }`, map[string]any{"id": probe.SubmitTask.ID}, nil)
}

// next returns the data of the next result of subscription id.
func (c *wsClient) next(t *testing.T, ctx context.Context, id string) json.RawMessage {
	t.Helper()
	want := "next"
	if c.legacy {
		want = "data"
	}
	for {
		m := c.read(t, ctx)
		if m["id"] != id {
			continue
		}
		switch m["type"] {
		case want:
			payload, _ := json.Marshal(m["payload"])
			var p gqlResponse
			_ = json.Unmarshal(payload, &p)
			if len(p.Errors) > 0 {
				t.Fatalf("subscription error: %+v", p.Errors)
			}
			return p.Data
		case "error", "complete":
			t.Fatalf("subscription ended: %v", m)
		}
	}
}

type taskView struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Status   string          `json:"status"`
	Result   json.RawMessage `json:"result"`
	Error    *string         `json:"error"`
	Attempts int             `json:"attempts"`
	Progress float64         `json:"progress"`
}

const submitMutation = `mutation($in: SubmitTaskInput!) { submitTask(input: $in) { id status } }`

func TestEndToEndSubscriptionBothProtocols(t *testing.T) {
	n := startNode(t, "--store", "memory")
	for _, protocol := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(protocol, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := dialWS(t, ctx, n.addr, protocol)
			defer c.conn.Close(websocket.StatusNormalClosure, "")
			c.subscribe(t, ctx, "1", `subscription { taskUpdated { id status result attempts } }`)
			c.awaitLive(t, ctx, "1", n)
			input := map[string]any{"campaign": "Curse of the Crimson Throne", "session": 12}
			var sub struct{ SubmitTask taskView }
			got := make(chan json.RawMessage, 64)
			go func() {
				for ctx.Err() == nil {
					_, b, err := c.conn.Read(ctx)
					if err != nil {
						return
					}
					got <- b
				}
			}()
			n.gql(t, submitMutation, map[string]any{"in": map[string]any{"type": "echo", "input": input}}, &sub)
			id := sub.SubmitTask.ID
			var statuses []string
			for {
				var raw json.RawMessage
				select {
				case raw = <-got:
				case <-ctx.Done():
					t.Fatalf("no COMPLETED event for %s; saw %v", id, statuses)
				}
				var m struct {
					Type    string `json:"type"`
					ID      string `json:"id"`
					Payload struct {
						Data struct{ TaskUpdated taskView } `json:"data"`
					} `json:"payload"`
				}
				_ = json.Unmarshal(raw, &m)
				if m.Type == "ping" {
					c.send(t, ctx, map[string]any{"type": "pong"})
				}
				if m.ID != "1" || (m.Type != "next" && m.Type != "data") {
					continue
				}
				tv := m.Payload.Data.TaskUpdated
				if tv.ID != id {
					continue
				}
				statuses = append(statuses, tv.Status)
				if tv.Status == "COMPLETED" {
					var res map[string]any
					if err := json.Unmarshal(tv.Result, &res); err != nil || res["campaign"] != "Curse of the Crimson Throne" {
						t.Fatalf("result %s, want the echoed input", tv.Result)
					}
					if tv.Attempts != 1 {
						t.Fatalf("attempts %d, want 1", tv.Attempts)
					}
					break
				}
			}
			// The node leads and has free workers: the task starts in the
			// placement step, with no ASSIGNED in between (see
			// docs/concepts.md).
			want := []string{"PENDING", "IN_PROGRESS", "COMPLETED"}
			if strings.Join(statuses, ",") != strings.Join(want, ",") {
				t.Fatalf("statuses %v, want %v", statuses, want)
			}
			// The task reads back through the query as well.
			var q struct{ Task taskView }
			n.gql(t, `query($id: ID!) { task(id: $id) { id status result } }`, map[string]any{"id": id}, &q)
			if q.Task.Status != "COMPLETED" {
				t.Fatalf("task(id) status %s", q.Task.Status)
			}
		})
	}
}

func TestEndToEndServesEndpoints(t *testing.T) {
	n := startNode(t, "--store", "memory")
	for path, want := range map[string]string{
		"/":           "Archivist",
		"/playground": "graphiql",
		"/healthz":    "ok",
		"/readyz":     "ready",
		"/metrics":    "archivist_tasks",
	} {
		resp, err := http.Get("http://" + n.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(strings.ToLower(string(body)), strings.ToLower(want)) {
			t.Errorf("GET %s: %d, body does not contain %q", path, resp.StatusCode, want)
		}
	}
	var out struct {
		Nodes []struct {
			ID       string
			Status   string
			IsLeader bool
			Role     string
			Workers  int
		}
	}
	n.gql(t, `{ nodes { id status isLeader role workers } }`, nil, &out)
	if len(out.Nodes) != 1 || out.Nodes[0].Status != "ONLINE" || !out.Nodes[0].IsLeader || out.Nodes[0].Role != "HYBRID" {
		t.Fatalf("nodes = %+v, want one ONLINE leader HYBRID node", out.Nodes)
	}
	// A graceful stop closes open subscriptions and exits 0.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := dialWS(t, ctx, n.addr, "graphql-transport-ws")
	c.subscribe(t, ctx, "1", `subscription { nodeUpdated { id status } }`)
	c.next(t, ctx, "1") // heartbeats arrive every second
	n.stop(t)
	for {
		if _, _, err := c.conn.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the WebSocket stayed open after the node stopped")
			}
			break
		}
	}
}

func TestEndToEndBadInput(t *testing.T) {
	n := startNode(t, "--store", "memory")
	big := strings.Repeat("x", 1<<20+10)
	cases := []struct {
		name, body, code string
	}{
		{"malformed JSON", `{"query": "mutation { submitTask(`, ""},
		{"wrong enum", `{"query":"mutation { submitTask(input:{type:\"echo\", priority: URGENT}) { id } }"}`, "GRAPHQL_VALIDATION_FAILED"},
		{"unknown type", `{"query":"mutation { submitTask(input:{type:\"summon.dragon\"}) { id } }"}`, "BAD_USER_INPUT"},
		{"negative timeout", `{"query":"mutation { submitTask(input:{type:\"echo\", timeoutSeconds: -5}) { id } }"}`, "BAD_USER_INPUT"},
		{"oversized input", `{"query":"mutation($s: JSON) { submitTask(input:{type:\"echo\", input: $s}) { id } }","variables":{"s":"` + big + `"}}`, "BAD_USER_INPUT"},
		{"bad dice", `{"query":"mutation { submitTask(input:{type:\"dice.simulate\", input: {expr: \"4d6kh9\"}}) { id } }"}`, "BAD_USER_INPUT"},
		{"syntax error", `{"query":"{ tasks { "}`, "GRAPHQL_PARSE_FAILED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, r := n.post(t, c.body)
			if len(r.Errors) == 0 {
				t.Fatalf("no error (HTTP %d)", status)
			}
			if r.Errors[0].Message == "" {
				t.Fatal("empty error message")
			}
			if c.code != "" && r.code() != c.code {
				t.Fatalf("code %q (%s), want %q", r.code(), r.Errors[0].Message, c.code)
			}
			if c.code == "" && r.code() == "" {
				t.Fatalf("error without a code: %+v", r.Errors)
			}
		})
	}
	_, r := n.post(t, `{"query":"mutation { submitTask(input:{type:\"summon.dragon\"}) { id } }"}`)
	if !strings.Contains(r.Errors[0].Message, "echo") {
		t.Errorf("unknown type error does not list the known types: %s", r.Errors[0].Message)
	}
	// Still up and serving.
	var out struct{ Nodes []struct{ ID string } }
	n.gql(t, `{ nodes { id } }`, nil, &out)
	if len(out.Nodes) != 1 {
		t.Fatalf("node not serving after bad input")
	}
}

func TestEndToEndBadFlagsExitNonZero(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--role", "emperor"},
		{"serve", "--workers", "0"},
		{"serve", "--store", "cassandra://x"},
		{"serve", "--no-such-flag"},
		{"conquer"},
	} {
		cmd := exec.Command(binPath, args...)
		cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%v: exit 0, want an error", args)
			continue
		}
		if len(out) == 0 || strings.Contains(string(out), "panic") {
			t.Errorf("%v: output %q, want a clear error", args, out)
		}
	}
	out, err := exec.Command(binPath, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "archivist ") {
		t.Errorf("version: %q %v", out, err)
	}
}

// TestCrashSafetyBolt kills a node on the embedded store with SIGKILL while
// 500 tasks are queued or running, restarts it on the same file and checks
// that every task completes.
func TestCrashSafetyBolt(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a real node")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	args := []string{"--store", "bolt:" + path, "--node-id", "crash-node", "--workers", "8"}
	n := startNode(t, args...)
	const total = 500
	inputs := make([]map[string]any, total)
	for i := range inputs {
		inputs[i] = map[string]any{"type": "sleep", "input": map[string]any{"ms": 20 + i%4*10}}
	}
	var sub struct{ SubmitTasks []taskView }
	n.gql(t, `mutation($in: [SubmitTaskInput!]!) { submitTasks(inputs: $in) { id } }`, map[string]any{"in": inputs}, &sub)
	if len(sub.SubmitTasks) != total {
		t.Fatalf("submitted %d tasks, want %d", len(sub.SubmitTasks), total)
	}
	count := func(n *node, status string) int {
		var out struct {
			Tasks struct{ TotalCount int }
		}
		n.gql(t, `query($s: [TaskStatus!]) { tasks(filter: {status: $s}) { totalCount } }`, map[string]any{"s": []string{status}}, &out)
		return out.Tasks.TotalCount
	}
	testkit.Eventually(t, 60*time.Second, func() bool { return count(n, "COMPLETED") >= 60 }, "some tasks to complete")
	n.kill()

	n2 := startNode(t, args...)
	testkit.Eventually(t, 120*time.Second, func() bool { return count(n2, "COMPLETED") == total }, "all tasks to complete after the restart")
	var all struct {
		Tasks struct {
			TotalCount int
			Edges      []struct{ Node taskView }
		}
	}
	n2.gql(t, `{ tasks(first: 500) { totalCount edges { node { id status attempts } } } }`, nil, &all)
	if all.Tasks.TotalCount != total {
		t.Fatalf("store holds %d tasks, want %d", all.Tasks.TotalCount, total)
	}
	again := 0
	for _, e := range all.Tasks.Edges {
		if e.Node.Status != "COMPLETED" {
			t.Errorf("task %s is %s", e.Node.ID, e.Node.Status)
		}
		if e.Node.Attempts < 1 {
			t.Errorf("task %s completed with %d attempts", e.Node.ID, e.Node.Attempts)
		}
		if e.Node.Attempts > 1 {
			again++
		}
	}
	t.Logf("after the SIGKILL, %d of %d tasks ran more than once (they were running when the node died)", again, total)
	if again == 0 {
		t.Log("no task was running at the kill; the restart still had to finish the queue")
	}
}

// runNode runs `archivist serve args` to its exit (bounded) and returns its
// output.
func runNode(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, append([]string{"serve", "--http", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}
