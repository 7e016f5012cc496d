package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// node is an Archivist node run as the real binary (archivist serve), so
// that its CPU and memory are its own and measured as a user would see
// them.
type node struct {
	ID   string
	HTTP string
	cmd  *exec.Cmd
	logs *tailBuffer
	done chan struct{}
}

type nodeSpec struct {
	Store   string // --store
	Cluster string
	ID      string
	Workers int
	Role    string   // default hybrid
	Env     []string // more environment (OTEL_*, say)
}

// startNode starts archivist serve and waits until it answers /readyz.
// Health thresholds are off: a benchmark keeps both cores busy on purpose,
// which would otherwise make the node BUSY.
func startNode(bin string, s nodeSpec) (*node, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"serve", "--store", s.Store, "--http", addr, "--node-id", s.ID,
		"--cpu-threshold", "0", "--memory-threshold", "0", "--log-level", "warn",
		"--no-playground", "--shutdown-grace", "2s",
		// Every subscriber of the benchmark dials from 127.0.0.1: the limit
		// of handshakes pending per client address is for many clients.
		"--max-pending-websockets", "-1",
		// The subscription runs go up to 10,000 connections (the default
		// limit is 1,000).
		"--max-websockets", "20000"}
	if s.Cluster != "" {
		args = append(args, "--cluster", s.Cluster)
	}
	if s.Workers > 0 {
		args = append(args, "--workers", strconv.Itoa(s.Workers))
	}
	if s.Role != "" {
		args = append(args, "--role", s.Role)
	}
	cmd := exec.Command(bin, args...)
	if len(s.Env) > 0 {
		cmd.Env = append(os.Environ(), s.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logs := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	n := &node{ID: s.ID, HTTP: addr, cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(n.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, nil
			}
		}
		select {
		case <-n.done:
			return nil, fmt.Errorf("node %s exited at start: %s", s.ID, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("node %s not ready within 30s: %s", s.ID, logs.String())
		}
	}
}

// Pid is the node's process id.
func (n *node) Pid() int { return n.cmd.Process.Pid }

// stop sends SIGTERM and waits for the node to exit (SIGKILL after 10s).
func (n *node) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// gql runs a GraphQL operation against the node and decodes data into out.
func (n *node) gql(ctx context.Context, query string, vars map[string]any, out any) error {
	return gqlPost(ctx, http.DefaultClient, "http://"+n.HTTP+"/graphql", query, vars, out)
}

func gqlPost(ctx context.Context, c *http.Client, url, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("graphql: HTTP %d: %w", resp.StatusCode, err)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("graphql: %s", r.Errors[0].Message)
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// setEnabled turns distributed processing on or off for the cluster.
func (n *node) setEnabled(ctx context.Context, on bool) error {
	return n.gql(ctx, `mutation($on: Boolean) { updateConfig(input: {enabled: $on}) { version } }`,
		map[string]any{"on": on}, nil)
}

// onlineNodes counts the cluster's ONLINE nodes.
func (n *node) onlineNodes(ctx context.Context) (int, error) {
	var r struct {
		Nodes []struct{ Status string } `json:"nodes"`
	}
	if err := n.gql(ctx, `{ nodes { status } }`, nil, &r); err != nil {
		return 0, err
	}
	c := 0
	for _, x := range r.Nodes {
		if x.Status == "ONLINE" {
			c++
		}
	}
	return c, nil
}

// completed is how many tasks are COMPLETED, by the API.
func (n *node) completed(ctx context.Context) (int, error) {
	var r struct {
		TaskCounts []struct {
			Status string
			Count  int
		} `json:"taskCounts"`
	}
	if err := n.gql(ctx, `{ taskCounts { status count } }`, nil, &r); err != nil {
		return 0, err
	}
	for _, c := range r.TaskCounts {
		if c.Status == "COMPLETED" {
			return c.Count, nil
		}
	}
	return 0, nil
}

// firstStart is the earliest startedAt among the given tasks.
func (n *node) firstStart(ctx context.Context, ids []string) (time.Time, error) {
	var q bytes.Buffer
	q.WriteString("{")
	for i, id := range ids {
		fmt.Fprintf(&q, " t%d: task(id: %q) { startedAt }", i, id)
	}
	q.WriteString(" }")
	var r map[string]struct {
		StartedAt *time.Time `json:"startedAt"`
	}
	if err := n.gql(ctx, q.String(), nil, &r); err != nil {
		return time.Time{}, err
	}
	var first time.Time
	for _, t := range r {
		if t.StartedAt != nil && (first.IsZero() || t.StartedAt.Before(first)) {
			first = *t.StartedAt
		}
	}
	if first.IsZero() {
		return first, fmt.Errorf("none of the first tasks has started")
	}
	return first, nil
}

// tailBuffer keeps the last max bytes written to it (a process's logs, for
// error messages).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
