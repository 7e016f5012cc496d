package graph_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// TestRevokedKeyClosesWebsockets: replacing the keys closes, with 4401,
// every WebSocket opened with a key that is gone (whether the key came in
// connection_init or on the upgrade request), and only those.
func TestRevokedKeyClosesWebsockets(t *testing.T) {
	t.Parallel()
	const keyA, keyB, keyC = "aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccc"
	st := store.NewMemory(store.Options{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = st.Close() })
	var keys auth.Keyring
	if err := keys.AddList("viewer:" + keyA + ",viewer:" + keyB + ",viewer:" + keyC); err != nil {
		t.Fatal(err)
	}
	events := newCountingSource(st)
	r := &graph.Resolver{Store: st, Registry: archivist.NewRegistry(), Events: events, Logger: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(graph.WithAuth(graph.NewHandler(r, graph.HandlerOptions{Keys: &keys}), &keys))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	opened := 0
	open := func(key string, inHeader bool) *websocket.Conn {
		opened++
		opts := &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}}
		payload := map[string]any{"Authorization": "Bearer " + key}
		if inHeader {
			opts.HTTPHeader = http.Header{"Authorization": {"Bearer " + key}}
			payload = map[string]any{}
		}
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.CloseNow() })
		_ = wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": payload})
		var m map[string]any
		if err := wsjson.Read(ctx, c, &m); err != nil || m["type"] != "connection_ack" {
			t.Fatalf("connection_init: %v %v", m, err)
		}
		_ = wsjson.Write(ctx, c, map[string]any{"id": "s", "type": "subscribe",
			"payload": map[string]any{"query": ownDoc("subscription { taskUpdated { id } }", strconv.Itoa(opened))}})
		return c
	}
	a1, a2, b, c := open(keyA, false), open(keyA, true), open(keyB, false), open(keyC, true)
	events.waitSubscribed(t, 4)

	// A removed, B given another role, C kept.
	var next auth.Keyring
	if err := next.AddList("operator:" + keyB + ",viewer:" + keyC); err != nil {
		t.Fatal(err)
	}
	keys.Replace(&next)

	for i, conn := range []*websocket.Conn{a1, a2} {
		var m json.RawMessage
		err := wsjson.Read(ctx, conn, &m)
		for err == nil { // a ping or keep-alive may come first
			err = wsjson.Read(ctx, conn, &m)
		}
		if websocket.CloseStatus(err) != 4401 {
			t.Errorf("socket %d of the removed key: %v, want closed with 4401", i+1, err)
		}
	}
	// The others go on: a new task reaches both.
	task := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute}
	if err := st.CreateTasks(ctx, []*archivist.Task{task}); err != nil {
		t.Fatal(err)
	}
	for i, conn := range []*websocket.Conn{b, c} {
		for {
			var m struct{ Type, ID string }
			if err := wsjson.Read(ctx, conn, &m); err != nil {
				t.Fatalf("socket of a kept key (%d): %v", i, err)
			}
			if m.Type == "next" && m.ID == "s" {
				break
			}
		}
	}
}
