package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist/app"
	"github.com/rpg-archivist/archivist/client"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// server is the address of a real node run in this process on the memory
// store, for the tests and the examples.
var server string

func TestMain(m *testing.M) {
	opts, err := app.ParseOptions([]string{"--store", "memory", "--http", "127.0.0.1:0", "--node-id", "client-test",
		"--cpu-threshold", "0", "--memory-threshold", "0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	node := app.NewMain(opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := node.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server = "http://" + node.Server.Addr()
	code := m.Run()
	_ = node.Close(context.Background())
	os.Exit(code)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// Submit a task and wait for its result.
func ExampleClient_Wait() {
	c := client.New(server)
	ctx := context.Background()
	task, err := c.Submit(ctx, client.TaskSpec{Type: "echo", Input: json.RawMessage(`{"session":12}`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	done, err := c.Wait(ctx, task.ID, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(done.Status, string(done.Result))
	// Output: COMPLETED {"session":12}
}

// Errors carry the API's code.
func ExampleCodeOf() {
	c := client.New(server)
	_, err := c.Submit(context.Background(), client.TaskSpec{Type: "summon.dragon"})
	fmt.Println(client.CodeOf(err))
	_, err = c.Get(context.Background(), "no-such-task")
	fmt.Println(client.IsNotFound(err))
	// Output:
	// BAD_USER_INPUT
	// true
}

func TestWaitReportsProgressAndFailure(t *testing.T) {
	c := client.New(server)
	task, err := c.Submit(ctx(t), client.TaskSpec{Type: "sleep", Input: json.RawMessage(`{"ms": 1500}`)})
	if err != nil {
		t.Fatal(err)
	}
	var updates int
	var sawProgress bool
	done, err := c.Wait(ctx(t), task.ID, func(tk *client.Task) {
		updates++
		if tk.Status == client.StatusInProgress && tk.Progress > 0 && tk.Progress < 1 {
			sawProgress = true
		}
	})
	if err != nil || done.Status != client.StatusCompleted {
		t.Fatalf("wait: %v %+v", err, done)
	}
	if !sawProgress || updates < 3 {
		t.Errorf("updates %d, progress seen %v", updates, sawProgress)
	}
	zero := 0
	failing, err := c.Submit(ctx(t), client.TaskSpec{Type: "fail", Input: json.RawMessage(`{"times": 1, "message": "the goblin ate the notes"}`), MaxRetries: &zero})
	if err != nil {
		t.Fatal(err)
	}
	done, err = c.Wait(ctx(t), failing.ID, nil)
	if !errors.Is(err, client.ErrTaskFailed) || done.Status != client.StatusFailed || done.Error == "" {
		t.Fatalf("wait on a failing task: %v %+v", err, done)
	}
}

func TestListCancelRetry(t *testing.T) {
	c := client.New(server)
	var specs []client.TaskSpec
	for range 5 {
		specs = append(specs, client.TaskSpec{Type: "sleep", Input: json.RawMessage(`{"ms": 60000}`), Priority: "LOW"})
	}
	tasks, err := c.SubmitMany(ctx(t), specs)
	if err != nil || len(tasks) != 5 {
		t.Fatalf("submit many: %v %d", err, len(tasks))
	}
	page, err := c.List(ctx(t), client.Filter{Type: "sleep", Priority: "LOW"}, 2, "")
	if err != nil || len(page.Tasks) != 2 || !page.HasNext || page.TotalCount < 5 {
		t.Fatalf("list: %v %+v", err, page)
	}
	next, err := c.List(ctx(t), client.Filter{Type: "sleep", Priority: "LOW"}, 2, page.EndCursor)
	if err != nil || len(next.Tasks) != 2 || next.Tasks[0].ID == page.Tasks[0].ID {
		t.Fatalf("second page: %v %+v", err, next)
	}
	for _, tk := range tasks {
		if _, err := c.Cancel(ctx(t), tk.ID); err != nil {
			t.Fatal(err)
		}
		done, err := c.Wait(ctx(t), tk.ID, nil)
		if done == nil || done.Status != client.StatusCancelled || !errors.Is(err, client.ErrTaskFailed) {
			t.Fatalf("cancelled task: %+v %v", done, err)
		}
	}
	again, err := c.Retry(ctx(t), tasks[0].ID)
	if err != nil || again.Status != client.StatusPending {
		t.Fatalf("retry: %v %+v", err, again)
	}
	if _, err := c.Cancel(ctx(t), tasks[1].ID); client.CodeOf(err) != client.CodeConflict {
		t.Fatalf("cancelling a cancelled task: %v, want CONFLICT", err)
	}
	_, _ = c.Cancel(ctx(t), tasks[0].ID)
}

func TestWatchAndNodes(t *testing.T) {
	c := client.New(server)
	nodes, err := c.Nodes(ctx(t))
	if err != nil || len(nodes) != 1 || !nodes[0].IsLeader || nodes[0].Status != "ONLINE" {
		t.Fatalf("nodes: %v %+v", err, nodes)
	}
	s, err := c.WatchNodes(ctx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if ev := testkit.Signal(t, s.C, 10*time.Second, "a heartbeat event"); ev.Node == nil || ev.Node.ID != "client-test" {
		t.Fatalf("node event %+v", ev)
	}
	s.Close()
	if _, ok := <-s.C; ok {
		t.Fatal("stream still open after Close")
	}
	if _, err := c.Drain(ctx(t), "client-test"); err != nil {
		t.Fatal(err)
	}
	n, err := c.Resume(ctx(t), "client-test")
	if err != nil || n.Status != "ONLINE" {
		t.Fatalf("resume: %v %+v", err, n)
	}
	cfg, err := c.UpdateConfig(ctx(t), map[string]any{"defaultMaxRetries": 5})
	if err != nil || cfg["defaultMaxRetries"].(float64) != 5 {
		t.Fatalf("update config: %v %v", err, cfg)
	}
	if _, err := c.UpdateConfig(ctx(t), map[string]any{"workers": 0}); client.CodeOf(err) != client.CodeBadUserInput {
		t.Fatalf("bad config: %v", err)
	}
}

func TestServerDown(t *testing.T) {
	c := client.New("127.0.0.1:1")
	_, err := c.Get(ctx(t), "x")
	if err == nil || client.CodeOf(err) != "" {
		t.Fatalf("err %v: want a network error without an API code", err)
	}
}

func TestUpdateNode(t *testing.T) {
	c := client.New(server)
	n, err := c.UpdateNode(ctx(t), "client-test", client.NodeUpdate{Name: "quill", Capabilities: []string{}})
	if err != nil || n.Name != "quill" || len(n.Capabilities) != 0 {
		t.Fatalf("update node: %v %+v", err, n)
	}
	if _, err := c.UpdateNode(ctx(t), "client-test", client.NodeUpdate{Capabilities: []string{"two words"}}); client.CodeOf(err) != client.CodeBadUserInput {
		t.Fatalf("bad capability: %v", err)
	}
	if _, err := c.UpdateNode(ctx(t), "nobody", client.NodeUpdate{Workers: 2}); client.CodeOf(err) != client.CodeNotFound {
		t.Fatalf("unknown node: %v", err)
	}
}

// The largest page the CLI may ask for (archivist tasks list -n 500), with
// every field, is within the node's complexity limit.
func TestListLargestPage(t *testing.T) {
	c := client.New(server)
	if _, err := c.Submit(ctx(t), client.TaskSpec{Type: "echo", Input: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	page, err := c.List(ctx(t), client.Filter{}, 500, "")
	if err != nil || len(page.Tasks) == 0 {
		t.Fatalf("list 500: %v %+v", err, page)
	}
}

func TestSubmitOwnBackoff(t *testing.T) {
	c := client.New(server)
	// A part of a millisecond is rounded up: the API counts whole ones.
	task, err := c.Submit(ctx(t), client.TaskSpec{Type: "sleep", Input: json.RawMessage(`{"ms": 1}`),
		RetryBackoff: 1500 * time.Microsecond, MaxBackoff: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if task.RetryBackoffMs == nil || *task.RetryBackoffMs != 2 || task.MaxBackoffMs == nil || *task.MaxBackoffMs != 60000 {
		t.Errorf("submitted with backoff %v, %v; want 2, 60000", task.RetryBackoffMs, task.MaxBackoffMs)
	}
	got, err := c.Get(ctx(t), task.ID)
	if err != nil || got.RetryBackoffMs == nil || *got.RetryBackoffMs != 2 {
		t.Fatalf("get: %v %+v", err, got)
	}
	plain, err := c.Submit(ctx(t), client.TaskSpec{Type: "sleep", Input: json.RawMessage(`{"ms": 1}`)})
	if err != nil || plain.RetryBackoffMs != nil || plain.MaxBackoffMs != nil {
		t.Fatalf("a task without its own backoff: %v %+v", err, plain)
	}
	_, err = c.Submit(ctx(t), client.TaskSpec{Type: "sleep", RetryBackoff: time.Minute, MaxBackoff: time.Second})
	if client.CodeOf(err) != client.CodeBadUserInput {
		t.Errorf("max under base: %v, want BAD_USER_INPUT", err)
	}
}
