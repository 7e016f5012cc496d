package graph_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph"
)

// gatedSource holds every store subscription until released: a
// subscription whose opening takes a while.
type gatedSource struct {
	src      graph.EventSource
	entered  chan struct{}
	release  chan struct{}
	released atomic.Bool
}

func (g *gatedSource) Subscribe(ctx context.Context, after uint64) (archivist.Subscription, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.src.Subscribe(ctx, after)
}

func (g *gatedSource) open() {
	g.released.Store(true)
	close(g.release)
}

// untilNext reads c's messages until the next result of operation id,
// skipping the ends of other operations.
func untilNext(t *testing.T, c *wsClient, id string) gqlResponse {
	t.Helper()
	for {
		m := c.read()
		switch {
		case m.ID == id && (m.Type == "next" || m.Type == "data"):
			var r gqlResponse
			if err := json.Unmarshal(m.Payload, &r); err != nil {
				t.Fatalf("decode %s: %v", m.Payload, err)
			}
			return r
		case m.ID != id && m.Type == "complete":
		default:
			t.Fatalf("want a result for %s, got %s %s %s", id, m.Type, m.ID, m.Payload)
		}
	}
}

// TestOperationsStartInOrder: on one WebSocket, an operation sent after a
// subscription starts once the subscription is open, so that a client that
// reads after that operation's answer misses no change: every change after
// the answer reaches the subscription. (gqlgen's transport would answer
// the query while the subscription was still opening.)
func TestOperationsStartInOrder(t *testing.T) {
	for _, proto := range []string{protoTransportWS, protoLegacyWS} {
		t.Run(proto, func(t *testing.T) {
			gate := &gatedSource{entered: make(chan struct{}, 1), release: make(chan struct{})}
			e := setup(t, func(r *graph.Resolver, _ *graph.HandlerOptions) { gate.src, r.Events = r.Events, gate })
			c := e.dial(t, proto)
			c.subscribe("1", `subscription { taskUpdated { id status } }`, nil)
			c.subscribe("2", `query { __typename }`, nil)
			select {
			case <-gate.entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the subscription did not start opening")
			}
			// The subscription opens in a while; the query must wait for it.
			time.AfterFunc(100*time.Millisecond, gate.open)
			if r := untilNext(t, c, "2"); len(r.Errors) > 0 {
				t.Fatalf("query: %+v", r.Errors)
			}
			if !gate.released.Load() {
				t.Fatal("the query sent after the subscription was answered before the subscription was open")
			}
			var sub struct {
				SubmitTask struct{ ID string }
			}
			e.must(t, `mutation { submitTask(input: {type: "echo"}) { id } }`, nil, &sub)
			r := untilNext(t, c, "1")
			var got struct {
				TaskUpdated struct{ ID, Status string }
			}
			if err := json.Unmarshal(r.Data, &got); err != nil {
				t.Fatal(err)
			}
			if got.TaskUpdated.ID != sub.SubmitTask.ID {
				t.Fatalf("the subscription got %+v, want the task submitted after the query's answer (%s)", got.TaskUpdated, sub.SubmitTask.ID)
			}
		})
	}

	// A subscription that cannot open (its store does not answer) holds
	// the connection's next operation back for a bounded time only.
	t.Run("bounded", func(t *testing.T) {
		defer graph.SetMaxOpenWait(100 * time.Millisecond)()
		gate := &gatedSource{entered: make(chan struct{}, 1), release: make(chan struct{})}
		defer gate.open()
		e := setup(t, func(r *graph.Resolver, _ *graph.HandlerOptions) { gate.src, r.Events = r.Events, gate })
		c := e.dial(t, protoTransportWS)
		c.subscribe("1", `subscription { taskUpdated { id } }`, nil)
		<-gate.entered
		c.subscribe("2", `query { __typename }`, nil)
		if r := untilNext(t, c, "2"); len(r.Errors) > 0 {
			t.Fatalf("query: %+v", r.Errors)
		}
	})
}
