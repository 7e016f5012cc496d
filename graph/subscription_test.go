package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

const taskUpdated = `subscription($id: ID, $f: TaskFilter) {
	taskUpdated(id: $id, filter: $f) { id status attempts result progress nodeId node { id status } startedAt completedAt }
}`

type taskUpdate struct {
	TaskUpdated taskView
}

func decodeNext[T any](t *testing.T, r gqlResponse) T {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	var v T
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatalf("decode %s: %v", r.Data, err)
	}
	return v
}

// runTask drives one task through its lifecycle directly in the store, as
// the leader and a worker on node n1 would.
func runTask(t *testing.T, e *env, id string) {
	t.Helper()
	ctx := t.Context()
	if _, err := e.store.Heartbeat(ctx, &archivist.Node{ID: "n1", Role: archivist.RoleHybrid, LastHeartbeat: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	lease, err := e.store.Campaign(ctx, "n1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AssignTasks(ctx, lease, []archivist.Assignment{{TaskID: id, NodeID: "n1"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	claimed, err := e.store.ClaimTasks(ctx, "n1", 1, time.Second)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if _, err := e.store.CompleteTask(ctx, id, claimed[0].Attempt, json.RawMessage(`{"done":true}`)); err != nil {
		t.Fatal(err)
	}
}

func TestTaskUpdatedSubscription(t *testing.T) {
	for _, proto := range []string{protoTransportWS, protoLegacyWS} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			task := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute}
			other := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute}
			if err := e.store.CreateTasks(t.Context(), []*archivist.Task{task, other}); err != nil {
				t.Fatal(err)
			}

			c := e.dial(t, proto)
			c.subscribe("by-id", taskUpdated, map[string]any{"id": task.ID})
			c.subscribe("by-filter", taskUpdated, map[string]any{"f": map[string]any{"status": []string{"COMPLETED"}}})
			e.events.waitSubscribed(t, 2)

			// A change to another task is not sent to the by-id subscriber.
			if _, err := e.store.CancelTask(t.Context(), other.ID); err != nil {
				t.Fatal(err)
			}
			runTask(t, e, task.ID)

			want := []string{"ASSIGNED", "IN_PROGRESS", "COMPLETED"}
			var got []taskView
			var completed *taskView
			for len(got) < len(want) || completed == nil {
				m := c.read()
				r := gqlResponse{}
				if err := json.Unmarshal(m.Payload, &r); err != nil {
					t.Fatal(err)
				}
				u := decodeNext[taskUpdate](t, r)
				switch m.ID {
				case "by-id":
					got = append(got, u.TaskUpdated)
				case "by-filter":
					if completed != nil {
						t.Fatalf("a second update for the filter: %+v", u)
					}
					completed = &u.TaskUpdated
				default:
					t.Fatalf("message %+v", m)
				}
			}
			for i, u := range got {
				if u.ID != task.ID || u.Status != want[i] {
					t.Errorf("update %d: %+v, want %s", i, u, want[i])
				}
			}
			last := got[2]
			if last.Attempts != 1 || last.NodeID == nil || *last.NodeID != "n1" || last.Node == nil || last.Node.Status != "ONLINE" ||
				last.StartedAt == nil || last.CompletedAt == nil || last.Progress != 1 {
				t.Errorf("completed update: %+v", last)
			}
			sameJSON(t, last.Result, `{"done": true}`)
			if completed.ID != task.ID || completed.Status != "COMPLETED" {
				t.Errorf("filtered update: %+v", completed)
			}

			// The client stops one operation: the server completes it (in
			// graphql-ws) and releases its store subscription.
			c.stop("by-id")
			if proto == protoLegacyWS {
				if m := c.read(); m.Type != "complete" || m.ID != "by-id" {
					t.Errorf("after stop: %+v", m)
				}
			}
			testkit.Eventually(t, 10*time.Second, func() bool { return e.events.open.Load() == 1 }, "the stopped subscription to close")
		})
	}
}

// TestTaskUpdatedCurrent: with current, the task as it is comes first,
// then its changes; without id, current is refused.
func TestTaskUpdatedCurrent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	task := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute}
	if err := e.store.CreateTasks(t.Context(), []*archivist.Task{task}); err != nil {
		t.Fatal(err)
	}
	const current = `subscription($id: ID, $c: Boolean) { taskUpdated(id: $id, current: $c) { id status result } }`
	c := e.dial(t, protoTransportWS)
	c.subscribe("1", current, map[string]any{"id": task.ID, "c": true})
	if u := decodeNext[taskUpdate](t, c.next("1")); u.TaskUpdated.ID != task.ID || u.TaskUpdated.Status != "PENDING" {
		t.Fatalf("first message: %+v, want the task PENDING", u)
	}
	e.events.waitSubscribed(t, 1)
	runTask(t, e, task.ID)
	// A slow reader may skip states in between; the last is COMPLETED and
	// none goes back.
	order := map[string]int{"PENDING": 0, "ASSIGNED": 1, "IN_PROGRESS": 2, "COMPLETED": 3}
	last := 0
	for last < 3 {
		u := decodeNext[taskUpdate](t, c.next("1"))
		rank, ok := order[u.TaskUpdated.Status]
		if !ok || rank <= last {
			t.Fatalf("after %d: %+v", last, u)
		}
		last = rank
		if rank == 3 {
			sameJSON(t, u.TaskUpdated.Result, `{"done": true}`)
		}
	}

	// A second subscriber, after the task finished, gets it COMPLETED at once.
	c.subscribe("2", current, map[string]any{"id": task.ID, "c": true})
	if u := decodeNext[taskUpdate](t, c.next("2")); u.TaskUpdated.Status != "COMPLETED" {
		t.Fatalf("late subscriber: %+v", u)
	}

	c.subscribe("3", current, map[string]any{"c": true})
	wantError(t, c.next("3"), "BAD_USER_INPUT", "current needs id")
	if m := c.read(); m.Type != "complete" || m.ID != "3" {
		t.Errorf("after the error: %+v", m)
	}
	c.subscribe("4", current, map[string]any{"id": "nope", "c": true})
	wantError(t, c.next("4"), "NOT_FOUND", "nope")
}

func TestTaskUpdatedUnknownID(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.dial(t, protoTransportWS)
	c.subscribe("1", taskUpdated, map[string]any{"id": "nope"})
	r := c.next("1")
	wantError(t, r, "NOT_FOUND", "nope")
	if m := c.read(); m.Type != "complete" || m.ID != "1" {
		t.Errorf("after the error: %+v", m)
	}
}

func TestNodeAndConfigSubscriptions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.dial(t, protoTransportWS)
	c.subscribe("nodes", `subscription { nodeUpdated(id: "n2") { id status isLeader } }`, nil)
	c.subscribe("config", `subscription { configUpdated { version workers } }`, nil)
	e.events.waitSubscribed(t, 2)

	ctx := t.Context()
	for _, id := range []string{"n1", "n2"} {
		if _, err := e.store.Heartbeat(ctx, &archivist.Node{ID: id, LastHeartbeat: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	type nodeUpdate struct{ NodeUpdated nodeView }
	if u := decodeNext[nodeUpdate](t, c.next("nodes")); u.NodeUpdated.ID != "n2" || u.NodeUpdated.Status != "ONLINE" {
		t.Errorf("heartbeat: %+v", u)
	}
	if _, err := e.store.Campaign(ctx, "n2", time.Minute); err != nil {
		t.Fatal(err)
	}
	if u := decodeNext[nodeUpdate](t, c.next("nodes")); !u.NodeUpdated.IsLeader {
		t.Errorf("leadership: %+v", u)
	}
	e.must(t, `mutation { drainNode(id: "n2") { id } }`, nil, nil)
	if u := decodeNext[nodeUpdate](t, c.next("nodes")); u.NodeUpdated.Status != "DRAINING" {
		t.Errorf("drain: %+v", u)
	}

	e.must(t, `mutation { updateConfig(input: {workers: 7}) { version } }`, nil, nil)
	type configUpdate struct{ ConfigUpdated configView }
	if u := decodeNext[configUpdate](t, c.next("config")); u.ConfigUpdated.Version != 1 || u.ConfigUpdated.Workers != 7 {
		t.Errorf("config: %+v", u)
	}
}

// droppingSource hands out subscriptions that the test ends as the store
// ends those of a subscriber too slow to keep up.
type droppingSource struct{ subs chan *droppedSub }

func (s droppingSource) Subscribe(context.Context, uint64) (archivist.Subscription, error) {
	sub := &droppedSub{ch: make(chan archivist.Event), closed: make(chan struct{})}
	s.subs <- sub
	return sub, nil
}

type droppedSub struct {
	ch     chan archivist.Event
	closed chan struct{}
	err    error
}

func (s *droppedSub) C() <-chan archivist.Event { return s.ch }
func (s *droppedSub) Err() error                { return s.err }
func (s *droppedSub) Close()                    { close(s.closed) }

func (s *droppedSub) drop(err error) {
	s.err = err
	close(s.ch)
}

func TestSlowSubscriberIsTold(t *testing.T) {
	t.Parallel()
	src := droppingSource{subs: make(chan *droppedSub, 1)}
	e := setup(t, func(r *graph.Resolver, _ *graph.HandlerOptions) { r.Events = src })
	for _, proto := range []string{protoTransportWS, protoLegacyWS} {
		c := e.dial(t, proto)
		c.subscribe("1", `subscription { configUpdated { version } }`, nil)
		sub := <-src.subs
		sub.drop(archivist.ErrSlowSubscriber)
		m := c.read()
		if m.Type != "error" || m.ID != "1" {
			t.Fatalf("%s: want an error, got %+v", proto, m)
		}
		var errs []gqlError
		if err := json.Unmarshal(m.Payload, &errs); err != nil {
			t.Fatal(err)
		}
		if len(errs) != 1 || errs[0].code() != "CONFLICT" {
			t.Errorf("%s: errors %+v", proto, errs)
		}
		testkit.Signal(t, sub.closed, 10*time.Second, proto+": the subscription closed")
	}
}

// Subscriptions that end, however they end, leave no goroutine and no store
// subscription behind.
func TestSubscriptionsDoNotLeak(t *testing.T) {
	e := setup(t)
	e.must(t, `{ taskTypes }`, nil, nil)
	http1 := runtime.NumGoroutine()

	const n = 50
	clients := make([]*wsClient, n)
	for i := range clients {
		clients[i] = e.dial(t, []string{protoTransportWS, protoLegacyWS}[i%2])
		clients[i].subscribe("s", ownDoc(taskUpdated, strconv.Itoa(i)), nil)
	}
	e.events.waitSubscribed(t, n)
	if got := e.events.open.Load(); got != n {
		t.Fatalf("%d store subscriptions open, want %d", got, n)
	}
	// One event reaches them all.
	if err := e.store.CreateTasks(t.Context(), []*archivist.Task{{Type: "echo", Priority: archivist.PriorityLow}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		decodeNext[taskUpdate](t, c.next("s"))
	}
	for i, c := range clients {
		switch i % 3 {
		case 0: // the client stops the operation, then leaves
			c.stop("s")
			_ = c.conn.Close(websocket.StatusNormalClosure, "")
		case 1: // the client leaves politely
			_ = c.conn.Close(websocket.StatusNormalClosure, "")
		default: // the connection just drops
			_ = c.conn.CloseNow()
		}
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return e.events.open.Load() == 0 }, "every store subscription to close")
	testkit.Eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= http1+5 }, "goroutines to end")
}

func TestWebsocketInit(t *testing.T) {
	t.Parallel()
	e := setup(t, func(_ *graph.Resolver, o *graph.HandlerOptions) {
		o.WebsocketInit = func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			switch p.Authorization() {
			case "good":
				return ctx, nil, nil
			case "careless":
				return nil, nil, errors.New("refused") // a nil context must not panic the server
			}
			return transport.WithWebsocketCloseCode(ctx, 4401), nil, errors.New("unauthenticated")
		}
	})
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http")
	for auth, wantClose := range map[string]websocket.StatusCode{"": 4401, "careless": websocket.StatusNormalClosure, "good": -1} {
		conn, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{Subprotocols: []string{protoTransportWS}})
		if err != nil {
			t.Fatal(err)
		}
		c := &wsClient{t: t, conn: conn}
		c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(fmt.Sprintf(`{"Authorization": %q}`, auth))})
		if wantClose == -1 {
			if m := c.read(); m.Type != "connection_ack" {
				t.Errorf("%q: %+v", auth, m)
			}
			_ = conn.CloseNow()
			continue
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		var err2 error
		for err2 == nil {
			_, _, err2 = conn.Read(ctx)
		}
		cancel()
		if got := websocket.CloseStatus(err2); got != wantClose {
			t.Errorf("%q: closed with %v (%v), want %v", auth, got, err2, wantClose)
		}
		_ = conn.CloseNow()
	}
}
