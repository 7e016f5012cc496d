package graph_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/lifecycle"
)

// rawRead reads the next message as it comes (no ping answered, no
// keep-alive skipped).
func rawRead(ctx context.Context, c *websocket.Conn) (wsMessage, error) {
	var m wsMessage
	err := wsjson.Read(ctx, c, &m)
	return m, err
}

// TestKeepAlive: under graphql-transport-ws the node pings every
// KeepAlive; a client that answers stays connected for as long as it
// likes, one that stops answering is disconnected after about twice the
// interval. Under the older graphql-ws the node sends ka, which needs no
// answer.
func TestKeepAlive(t *testing.T) {
	const interval = 50 * time.Millisecond
	e := setup(t, func(_ *graph.Resolver, o *graph.HandlerOptions) { o.KeepAlive = interval })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	t.Run("graphql-transport-ws", func(t *testing.T) {
		c := e.dial(t, protoTransportWS)
		// Twenty pings answered: a second, twenty intervals, still open.
		pings := 0
		for pings < 20 {
			m, err := rawRead(ctx, c.conn)
			if err != nil {
				t.Fatalf("after %d pings: %v", pings, err)
			}
			if m.Type == "ping" {
				pings++
				c.send(wsMessage{Type: "pong"})
			}
		}
		// Still served.
		c.subscribe("1", `query { taskCounts { status } }`, nil)
		if r := c.next("1"); len(r.Errors) > 0 {
			t.Fatalf("an operation after the pings: %+v", r.Errors)
		}
		// One last pong (unasked, which the protocol allows), then no more
		// answers: the node hangs up, not before twice the interval.
		begin := time.Now()
		c.send(wsMessage{Type: "pong"})
		for {
			m, err := rawRead(ctx, c.conn)
			if err != nil {
				if ctx.Err() != nil {
					t.Fatal("a client that stopped answering pings was not disconnected")
				}
				break
			}
			if m.Type != "ping" && m.Type != "complete" {
				t.Fatalf("unexpected %+v", m)
			}
		}
		if waited := time.Since(begin); waited < 2*interval {
			t.Fatalf("disconnected %s after the last message, before twice the interval", waited)
		}
	})

	t.Run("graphql-ws", func(t *testing.T) {
		c := e.dial(t, protoLegacyWS)
		// Five keep-alives, none answered, and still open.
		for kas := 0; kas < 5; {
			m, err := rawRead(ctx, c.conn)
			if err != nil {
				t.Fatalf("after %d keep-alives: %v", kas, err)
			}
			switch m.Type {
			case "ka":
				kas++
			default:
				t.Fatalf("unexpected %+v", m)
			}
		}
		c.subscribe("1", `query { taskCounts { status } }`, nil)
		if r := c.next("1"); len(r.Errors) > 0 {
			t.Fatalf("an operation after the keep-alives: %+v", r.Errors)
		}
	})
}

// TestWebsocketLifetime: a WebSocket outlives the HTTP handler that
// upgraded it (it is served by a goroutine of its own), and is closed when
// the server's lifetime context ends.
func TestWebsocketLifetime(t *testing.T) {
	e := setup(t)
	life, end := context.WithCancel(context.Background())
	defer end()
	srv := httptest.NewUnstartedServer(e.srv.Config.Handler)
	srv.Config.BaseContext = func(ln net.Listener) context.Context { return lifecycle.WithConnectionLifetime(life) }
	srv.Start()
	defer srv.Close()
	e.srv = srv

	c := e.dial(t, protoTransportWS)
	c.subscribe("1", `subscription { configUpdated { version } }`, nil)
	e.events.waitSubscribed(t, 1)
	// Served after the upgrade's handler returned.
	c.subscribe("2", `query { taskCounts { status } }`, nil)
	if r := c.next("2"); len(r.Errors) > 0 {
		t.Fatalf("a query over the connection: %+v", r.Errors)
	}

	end()
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for {
			if _, err := rawRead(ctx, c.conn); err != nil {
				closed <- err
				return
			}
		}
	}()
	err := testkit.Signal(t, closed, 10*time.Second, "the connection to close when its lifetime ends")
	if strings.Contains(err.Error(), "deadline") {
		t.Fatalf("the connection outlived its lifetime: %v", err)
	}
}
