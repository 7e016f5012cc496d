package graph_test

import (
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// sharedUpdate is one taskUpdated a client of TestSharedSubscriptions got.
type sharedUpdate struct {
	client int
	id     string
	status string
}

// readUpdates reads c's messages until its connection ends, sending the
// task updates of subscription "s" to out.
func readUpdates(t *testing.T, i int, c *wsClient, out chan<- sharedUpdate) {
	for {
		var m wsMessage
		if err := wsjson.Read(t.Context(), c.conn, &m); err != nil {
			return
		}
		if m.ID != "s" || (m.Type != "next" && m.Type != "data") {
			continue
		}
		var r struct {
			Data struct{ TaskUpdated struct{ ID, Status string } }
		}
		if json.Unmarshal(m.Payload, &r) == nil && r.Data.TaskUpdated.ID != "" {
			select {
			case out <- sharedUpdate{client: i, id: r.Data.TaskUpdated.ID, status: r.Data.TaskUpdated.Status}:
			case <-t.Context().Done():
				return
			}
		}
	}
}

// TestSharedSubscriptions: subscriptions with the same document and
// variables, on both protocols, share one store subscription; each gets
// every update once, in order; other variables get a feed of their own; and
// when they all leave, nothing is left open.
func TestSharedSubscriptions(t *testing.T) {
	e := setup(t)
	e.must(t, `{ taskTypes }`, nil, nil)
	before := runtime.NumGoroutine()
	slow := graph.SlowEncodes()

	const n = 30
	echo := map[string]any{"f": map[string]any{"type": "echo"}}
	clients := make([]*wsClient, n)
	updates := make(chan sharedUpdate, 4*n)
	for i := range clients {
		clients[i] = e.dial(t, []string{protoTransportWS, protoLegacyWS}[i%2])
		clients[i].subscribe("s", taskUpdated, echo)
		go readUpdates(t, i, clients[i], updates)
	}
	// A subscriber misses the tasks created before it joined: tasks keep
	// coming until every client has had one.
	create := func(typ string) string {
		t.Helper()
		task := &archivist.Task{Type: typ, Priority: archivist.PriorityLow}
		if err := e.store.CreateTasks(t.Context(), []*archivist.Task{task}); err != nil {
			t.Fatal(err)
		}
		return task.ID
	}
	seen := map[int]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		create("echo")
		drain := time.After(20 * time.Millisecond)
	collect:
		for {
			select {
			case u := <-updates:
				seen[u.client] = true
			case <-drain:
				break collect
			}
		}
	}
	if len(seen) < n {
		t.Fatalf("%d of %d subscribers got an update", len(seen), n)
	}
	if open := e.events.open.Load(); open != 1 {
		t.Fatalf("%d store subscriptions for %d identical subscriptions, want 1 shared", open, n)
	}

	// Two more tasks: every subscriber gets both, once each, in order; a
	// task of another type reaches none (the filter is applied once).
	create("sleep")
	first, second := create("echo"), create("echo")
	got := make([][]string, n)
	done := 0
	timeout := time.After(10 * time.Second)
	for done < n {
		select {
		case u := <-updates:
			if u.id != first && u.id != second {
				continue // an update of an earlier task
			}
			got[u.client] = append(got[u.client], u.id)
			if len(got[u.client]) == 2 {
				done++
			}
		case <-timeout:
			t.Fatalf("after 10s: %d subscribers got both tasks: %v", done, got)
		}
	}
	for i, ids := range got {
		if len(ids) != 2 || ids[0] != first || ids[1] != second {
			t.Errorf("subscriber %d got %v, want [%s %s] once each, in order", i, ids, first, second)
		}
	}

	// Other variables: a feed of their own.
	other := e.dial(t, protoTransportWS)
	other.subscribe("s", taskUpdated, map[string]any{"f": map[string]any{"type": "sleep"}})
	testkit.Eventually(t, 10*time.Second, func() bool { return e.events.open.Load() == 2 }, "a second store subscription for other variables")

	// Everyone leaves: the feeds end.
	for i, c := range append(clients, other) {
		if i%2 == 0 {
			c.stop("s")
		}
		_ = c.conn.Close(websocket.StatusNormalClosure, "")
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return e.events.open.Load() == 0 }, "every store subscription to close")
	testkit.Eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= before+5 }, "goroutines to end")
	// Every message of both protocols was written around its payload, not
	// encoded again.
	if n := graph.SlowEncodes() - slow; n != 0 {
		t.Errorf("%d WebSocket messages went through encoding/json", n)
	}
}
