package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/auth"
	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/store"
)

const (
	viewerKey   = "viewer-key-0123456789"
	operatorKey = "operator-key-0123456789"
	adminKey    = "admin-key-0123456789"
)

type authEnv struct {
	srv    *httptest.Server
	store  *store.Memory
	events *countingSource
}

func setupAuth(t *testing.T) *authEnv {
	t.Helper()
	st := store.NewMemory(store.Options{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = st.Close() })
	reg := archivist.NewRegistry()
	reg.RegisterFunc("echo", func(_ context.Context, job *archivist.Job) (json.RawMessage, error) { return job.Task.Input, nil })
	var keys auth.Keyring
	if err := keys.AddList("viewer:" + viewerKey + ",operator:" + operatorKey + ",admin:" + adminKey); err != nil {
		t.Fatal(err)
	}
	events := newCountingSource(st)
	r := &graph.Resolver{Store: st, Registry: reg, Events: events, Logger: slog.New(slog.DiscardHandler)}
	h := graph.WithAuth(graph.NewHandler(r, graph.HandlerOptions{Keys: &keys}), &keys)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// An offline node to remove, and one online to drain.
	st.Heartbeat(t.Context(), &archivist.Node{ID: "gone", Interval: time.Second, LastHeartbeat: time.Now().Add(-time.Hour)})
	st.Heartbeat(t.Context(), &archivist.Node{ID: "live", Interval: time.Hour, LastHeartbeat: time.Now()})
	return &authEnv{srv: srv, store: st, events: events}
}

func (e *authEnv) do(t *testing.T, key, query string) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return doRequest(t, req)
}

// TestEveryMutationForEveryRole checks each mutation with no key, a bad key
// and each role.
func TestEveryMutationForEveryRole(t *testing.T) {
	t.Parallel()
	e := setupAuth(t)
	task := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute}
	e.store.CreateTasks(t.Context(), []*archivist.Task{task})
	mutations := []struct {
		query string
		need  auth.Role
	}{
		{`mutation { submitTask(input: {type: "echo"}) { id } }`, auth.Operator},
		{`mutation { submitTasks(inputs: [{type: "echo"}]) { id } }`, auth.Operator},
		{`mutation { cancelTask(id: "` + task.ID + `") { id } }`, auth.Operator},
		{`mutation { retryTask(id: "no-such-task") { id } }`, auth.Operator},
		{`mutation { drainNode(id: "live") { id } }`, auth.Operator},
		{`mutation { resumeNode(id: "live") { id } }`, auth.Operator},
		{`mutation { updateConfig(input: {defaultMaxRetries: 4}) { version } }`, auth.Admin},
		{`mutation { removeNode(id: "no-such-node") }`, auth.Admin},
		{`mutation { updateNode(id: "live", input: {workers: 3}) { id workers } }`, auth.Admin},
		{`mutation { createSchedule(input: {name: "s", every: "1m", task: {type: "echo"}}) { name } }`, auth.Operator},
		{`mutation { updateSchedule(input: {name: "s", every: "2m", task: {type: "echo"}}) { name } }`, auth.Operator},
		{`mutation { pauseSchedule(name: "s") { name } }`, auth.Operator},
		{`mutation { resumeSchedule(name: "s") { name } }`, auth.Operator},
		{`mutation { triggerSchedule(name: "s") { id } }`, auth.Operator},
		{`mutation { deleteSchedule(name: "no-such") }`, auth.Operator},
		{`mutation { submitWorkflow(input: {name: "w", steps: [{key: "a", type: "echo"}]}) { id } }`, auth.Operator},
		{`mutation { cancelWorkflow(id: "no-such-workflow") { id } }`, auth.Operator},
		{`mutation { retryWorkflow(id: "no-such-workflow") { id } }`, auth.Operator},
		{`mutation { cancelTasks(filter: {type: "no-such-type"}) }`, auth.Operator},
		{`mutation { retryTasks(filter: {type: "no-such-type"}) }`, auth.Operator},
		{`mutation { deleteTasks(filter: {type: "no-such-type"}) }`, auth.Admin},
		{`mutation { pauseTaskType(type: "echo") }`, auth.Operator},
		{`mutation { resumeTaskType(type: "echo") }`, auth.Operator},
		{`mutation { setLimit(input: {taskType: "echo", maxConcurrent: 2}) { id } }`, auth.Admin},
		{`mutation { deleteLimit(id: "type=echo") }`, auth.Admin},
	}
	keys := map[auth.Role]string{auth.Viewer: viewerKey, auth.Operator: operatorKey, auth.Admin: adminKey}
	for _, m := range mutations {
		name := strings.Fields(strings.TrimPrefix(m.query, "mutation { "))[0]
		name = name[:strings.IndexAny(name, "(")]
		for _, key := range []string{"", "not-a-key-at-all-000"} {
			if r := e.do(t, key, m.query); firstCode(r) != string(archivist.CodeUnauthenticated) {
				t.Errorf("%s with key %q: %+v, want UNAUTHENTICATED", name, key, r.Errors)
			}
		}
		for role := auth.Viewer; role <= auth.Admin; role++ {
			r := e.do(t, keys[role], m.query)
			code := firstCode(r)
			if role < m.need {
				if code != string(archivist.CodeForbidden) {
					t.Errorf("%s as %s: %q, want FORBIDDEN", name, role, code)
				}
				continue
			}
			if code == string(archivist.CodeForbidden) || code == string(archivist.CodeUnauthenticated) {
				t.Errorf("%s as %s: %q: the role allows it", name, role, code)
			}
		}
	}
	// Reading needs any valid key.
	if r := e.do(t, "", `{ nodes { id } }`); firstCode(r) != string(archivist.CodeUnauthenticated) {
		t.Errorf("query without a key: %+v", r.Errors)
	}
	if r := e.do(t, viewerKey, `{ nodes { id } }`); len(r.Errors) > 0 {
		t.Errorf("query as viewer: %+v", r.Errors)
	}
}

func TestWebSocketAuth(t *testing.T) {
	t.Parallel()
	e := setupAuth(t)
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http")
	dial := func(payload string) (*websocket.Conn, map[string]any, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.CloseNow() })
		wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": json.RawMessage(payload)})
		var m map[string]any
		err = wsjson.Read(ctx, conn, &m)
		return conn, m, err
	}
	for _, payload := range []string{`{}`, `{"Authorization": "Bearer wrong-key-00000000"}`} {
		_, m, err := dial(payload)
		if err == nil {
			// gqlgen may send connection_error before closing.
			t.Logf("before close: %v", m)
			_, _, err = dial(payload)
		}
		if websocket.CloseStatus(err) != 4401 {
			t.Errorf("init %s: %v, want close 4401", payload, err)
		}
	}
	conn, m, err := dial(`{"Authorization": "Bearer ` + viewerKey + `"}`)
	if err != nil || m["type"] != "connection_ack" {
		t.Fatalf("viewer init: %v %v", m, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": `subscription { nodeUpdated { id } }`}})
	// The subscription starts asynchronously: heartbeat once it has.
	e.events.waitSubscribed(t, 1)
	e.store.Heartbeat(ctx, &archivist.Node{ID: "live", Interval: time.Hour, LastHeartbeat: time.Now()})
	for {
		var msg map[string]any
		if err := wsjson.Read(ctx, conn, &msg); err != nil {
			t.Fatalf("viewer subscription: %v", err)
		}
		if msg["type"] == "next" {
			break
		}
		if msg["type"] == "error" {
			t.Fatalf("viewer subscription refused: %v", msg)
		}
	}
	// A viewer cannot mutate over the WebSocket either.
	wsjson.Write(ctx, conn, map[string]any{"id": "2", "type": "subscribe", "payload": map[string]any{"query": `mutation { submitTask(input: {type: "echo"}) { id } }`}})
	for {
		var msg map[string]any
		if err := wsjson.Read(ctx, conn, &msg); err != nil {
			t.Fatal(err)
		}
		if msg["id"] != "2" {
			continue
		}
		b, _ := json.Marshal(msg)
		if !strings.Contains(string(b), "FORBIDDEN") {
			t.Fatalf("viewer mutation over WebSocket: %s", b)
		}
		break
	}
}

// firstCode is the code of the first error, or "".
func firstCode(r gqlResponse) string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].code()
}
