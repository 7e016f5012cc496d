package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpg-archivist/archivist/internal/testkit"
)

// TestSecurityKeyRevokeClosesWebsockets: a reload (SIGHUP) that removes a
// key closes, with 4401, the WebSockets opened with it, subscriptions and
// all; a subscription on a key that stays (one given another role included)
// goes on receiving events.
func TestSecurityKeyRevokeClosesWebsockets(t *testing.T) {
	a, b, op := makeKey(t, "viewer"), makeKey(t, "viewer"), makeKey(t, "operator")
	path := filepath.Join(t.TempDir(), "keys")
	write := func(lines ...string) {
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a.Entry, b.Entry, op.Entry)
	n := startNode(t, "--api-keys-file", path)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	open := func(key string) *wsClient {
		conn, _, err := websocket.Dial(ctx, "ws://"+n.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.CloseNow() })
		ws := &wsClient{conn: conn}
		ws.send(t, ctx, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + key}})
		if m := ws.read(t, ctx); m["type"] != "connection_ack" {
			t.Fatalf("connection_init: %v", m)
		}
		ws.subscribe(t, ctx, "s", "subscription { taskUpdated { id status } }")
		return ws
	}
	wsA, wsB := open(a.Key), open(b.Key)

	submit := func() string {
		resp, body := n.call(t, "POST", "/graphql", op.Key, `{"query":"mutation { submitTask(input: {type: \"echo\", input: {}}) { id } }"}`, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"id"`) {
			t.Fatalf("submit: %d %s", resp.StatusCode, body)
		}
		return body
	}
	// Both subscriptions stream before the reload.
	submit()
	wsA.next(t, ctx, "s")
	wsB.next(t, ctx, "s")

	// a removed; b becomes an operator (a role change keeps its socket).
	write(strings.Replace(b.Entry, "viewer ", "operator ", 1), op.Entry)
	reloads := strings.Count(n.logs.String(), "API keys reloaded")
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		return strings.Count(n.logs.String(), "API keys reloaded") > reloads
	}, "the keys to be reloaded")

	// a's socket is closed with 4401, promptly.
	closeCtx, closeCancel := context.WithTimeout(ctx, 5*time.Second)
	defer closeCancel()
	for {
		_, msg, err := wsA.conn.Read(closeCtx)
		if err == nil {
			continue // events already in flight may still arrive before the close
		}
		if code := websocket.CloseStatus(err); code != 4401 {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("the WebSocket of the removed key is still open 5s after the reload (last message %s)", msg)
			}
			t.Fatalf("the WebSocket of the removed key ended with %v (close code %d), want 4401", err, code)
		}
		break
	}

	// b's subscription goes on.
	id := submit()
	for {
		data := wsB.next(t, ctx, "s")
		if strings.Contains(id, gjsonID(data)) {
			break
		}
	}
}

// gjsonID is the task id in a taskUpdated result.
func gjsonID(data []byte) string {
	s := string(data)
	i := strings.Index(s, `"id":"`)
	if i < 0 {
		return "\x00"
	}
	s = s[i+6:]
	return s[:strings.IndexByte(s, '"')]
}

// TestServeRefusesMalformedNodeID: a --node-id outside 1-128 characters of
// letters, digits and . _ : - stops the node at start with exit code 2.
func TestServeRefusesMalformedNodeID(t *testing.T) {
	for _, id := range []string{"node one", strings.Repeat("n", 129), "a/b"} {
		cmd := exec.Command(binPath, "serve", "--http", "127.0.0.1:0", "--store", "memory", "--node-id", id)
		cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "--node-id") {
			t.Errorf("--node-id %.20q: %v, want exit code 2 and a word on --node-id\n%s", id, err, out)
		}
	}
}
