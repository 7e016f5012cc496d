package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpg-archivist/archivist/internal/testkit"
)

// TestBadInputSuite throws malformed and hostile input at a live node and
// checks that each gets a clear error with a code, that the node stays up,
// and that no task is lost.
func TestBadInputSuite(t *testing.T) {
	n := startNode(t, "--store", "memory")
	// A task in flight across the whole suite: it must come through.
	var sub struct{ SubmitTask struct{ ID string } }
	n.gql(t, submitMutation, map[string]any{"in": map[string]any{"type": "sleep", "input": map[string]any{"ms": 1500}}}, &sub)

	deep := "{ __type(name: \"Query\") " + strings.Repeat("{ fields { type ", 40) + "{ name }" + strings.Repeat(" } }", 40) + " }"
	wide := "{ " + strings.Repeat("nodes { id name address } ", 2000) + "}"
	cases := []struct {
		name, body string
		codes      []string // any of these
	}{
		{"not JSON", `nonsense`, []string{"BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED"}},
		{"truncated JSON", `{"query": "{ nodes { id }`, []string{"BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED"}},
		{"query is a number", `{"query": 42}`, []string{"BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED"}},
		{"variables of the wrong type", `{"query":"query($f: Int) { tasks(first: $f) { totalCount } }","variables":{"f":"many"}}`, []string{"GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}},
		{"unknown enum", `{"query":"{ tasks(filter: {status: [EXPLODED]}) { totalCount } }"}`, []string{"GRAPHQL_VALIDATION_FAILED"}},
		{"unknown field", `{"query":"{ dragons { id } }"}`, []string{"GRAPHQL_VALIDATION_FAILED"}},
		{"wrong type for timeout", `{"query":"mutation { submitTask(input:{type:\"echo\", timeoutSeconds: \"soon\"}) { id } }"}`, []string{"GRAPHQL_VALIDATION_FAILED"}},
		{"huge timeout", `{"query":"mutation { submitTask(input:{type:\"echo\", timeoutSeconds: 1e12}) { id } }"}`, []string{"BAD_USER_INPUT"}},
		{"negative retries", `{"query":"mutation { submitTask(input:{type:\"echo\", maxRetries: -1}) { id } }"}`, []string{"BAD_USER_INPUT"}},
		{"deeply nested query", `{"query":"` + deep + `"}`, []string{"GRAPHQL_VALIDATION_FAILED", "DEPTH_LIMIT_EXCEEDED", "COMPLEXITY_LIMIT_EXCEEDED", "BAD_USER_INPUT"}},
		{"malformed nesting", `{"query":"` + strings.Repeat("{ node { ", 60) + `"}`, []string{"GRAPHQL_PARSE_FAILED"}},
		{"huge query", `{"query":"` + wide + `"}`, []string{"GRAPHQL_PARSE_FAILED", "COMPLEXITY_LIMIT_EXCEEDED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}},
		{"invalid UTF-8", "{\"query\":\"mutation { submitTask(input:{type:\\\"echo\\\", input: \\\"\xff\xfe\\\"}) { id } }\"}", []string{"BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED"}},
		{"body over the limit", `{"query":"{ nodes { id } }","variables":{"pad":"` + strings.Repeat("x", 3<<20) + `"}}`, []string{"BAD_USER_INPUT"}},
		{"subscription over HTTP", `{"query":"subscription { taskUpdated { id } }"}`, []string{"BAD_USER_INPUT"}},
		{"bad cursor", `{"query":"{ tasks(after: \"not-a-cursor\") { totalCount } }"}`, []string{"BAD_USER_INPUT"}},
		{"page too large", `{"query":"{ tasks(first: 100000) { totalCount } }"}`, []string{"BAD_USER_INPUT"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, r := n.post(t, c.body)
			if len(r.Errors) == 0 {
				t.Fatal("no error")
			}
			code := r.code()
			ok := false
			for _, want := range c.codes {
				ok = ok || code == want
			}
			if !ok {
				t.Fatalf("code %q (%s), want one of %v", code, r.Errors[0].Message, c.codes)
			}
			if strings.Contains(strings.ToLower(r.Errors[0].Message), "goroutine") || strings.Contains(r.Errors[0].Message, ".go:") {
				t.Fatalf("the error leaks internals: %s", r.Errors[0].Message)
			}
		})
	}

	// A flood of WebSocket connections that never finish their handshake,
	// and some that subscribe and vanish: bounded in count.
	t.Run("websocket flood", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, _, err := websocket.Dial(ctx, "ws://"+n.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
				if err != nil {
					return
				}
				if i%2 == 0 {
					conn.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init"}`))
					conn.Write(ctx, websocket.MessageText, []byte(`{"id":"1","type":"subscribe","payload":{"query":"subscription { taskUpdated { id } }"}}`))
					conn.Write(ctx, websocket.MessageText, []byte(`{"type":"garbage`))
				}
				conn.CloseNow()
			}()
		}
		wg.Wait()
	})

	// Still serving, and the task submitted first completes.
	resp, err := http.Get("http://" + n.addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("node down after the bad input: %v", err)
	}
	resp.Body.Close()
	testkit.Eventually(t, 20*time.Second, func() bool {
		var out struct{ Task struct{ Status string } }
		n.gql(t, `query($id: ID!) { task(id: $id) { status } }`, map[string]any{"id": sub.SubmitTask.ID}, &out)
		return out.Task.Status == "COMPLETED"
	}, "the task in flight to complete")
	if strings.Contains(n.logs.String(), "panic") {
		t.Fatalf("the node logged a panic:\n%s", n.logs.String())
	}
}
