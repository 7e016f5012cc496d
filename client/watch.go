package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// Event is one change delivered by a watch: a task, a node or a workflow.
type Event struct {
	Task     *Task
	Node     *Node
	Workflow *Workflow
}

// Stream is a live subscription. C is closed when it ends; Err then says
// why (nil when ended by Close or the context).
type Stream struct {
	C <-chan Event

	mu     sync.Mutex
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

// Err is why the stream ended, once C is closed.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the stream, waits for its reader and discards the events not
// yet received: once Close returns, C is closed and empty.
func (s *Stream) Close() {
	s.cancel()
	<-s.done
	for range s.C {
	}
}

// WatchTasks streams every change of tasks: one task when id is set, else
// those matching f (nil: all).
func (c *Client) WatchTasks(ctx context.Context, id string, f *Filter) (*Stream, error) {
	vars := map[string]any{}
	if id != "" {
		vars["id"] = id
	}
	if f != nil {
		vars["f"] = f
	}
	return c.watch(ctx, `subscription($id: ID, $f: TaskFilter) { taskUpdated(id: $id, filter: $f) { `+taskFields+` } }`, vars, "taskUpdated")
}

// WatchNodes streams node changes (heartbeats with health, status): one
// node when id is set, else all.
func (c *Client) WatchNodes(ctx context.Context, id string) (*Stream, error) {
	vars := map[string]any{}
	if id != "" {
		vars["id"] = id
	}
	return c.watch(ctx, `subscription($id: ID) { nodeUpdated(id: $id) { `+nodeFields+` } }`, vars, "nodeUpdated")
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// watch opens a WebSocket with the graphql-transport-ws protocol and runs
// one subscription whose result field is field.
func (c *Client) watch(ctx context.Context, query string, vars map[string]any, field string) (*Stream, error) {
	wsURL := "ws" + strings.TrimPrefix(c.base, "http") + "/graphql"
	hdr := map[string][]string{}
	if c.token != "" {
		hdr["Authorization"] = []string{"Bearer " + c.token}
	}
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"}, HTTPClient: c.http, HTTPHeader: hdr,
	})
	if err != nil {
		return nil, fmt.Errorf("archivist %s: open subscription: %w", c.base, err)
	}
	conn.SetReadLimit(64 << 20)
	send := func(ctx context.Context, m wsMessage) error {
		b, _ := json.Marshal(m)
		return conn.Write(ctx, websocket.MessageText, b)
	}
	read := func(ctx context.Context) (wsMessage, error) {
		var m wsMessage
		_, b, err := conn.Read(ctx)
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		return m, err
	}
	fail := func(err error) (*Stream, error) {
		conn.Close(websocket.StatusNormalClosure, "")
		return nil, err
	}
	init := map[string]any{}
	if c.token != "" {
		init["Authorization"] = "Bearer " + c.token
	}
	payload, _ := json.Marshal(init)
	if err := send(ctx, wsMessage{Type: "connection_init", Payload: payload}); err != nil {
		return fail(err)
	}
	for {
		m, err := read(ctx)
		if err != nil {
			if cs := websocket.CloseStatus(err); cs == 4401 || cs == 4403 {
				return fail(&Error{Code: CodeUnauthenticated, Message: "the server refused the WebSocket: " + err.Error()})
			}
			return fail(fmt.Errorf("archivist %s: subscription handshake: %w", c.base, err))
		}
		if m.Type == "ping" {
			_ = send(ctx, wsMessage{Type: "pong"})
			continue
		}
		if m.Type == "connection_ack" {
			break
		}
	}
	sub, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err := send(ctx, wsMessage{ID: "1", Type: "subscribe", Payload: sub}); err != nil {
		return fail(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	ch := make(chan Event, 64)
	s := &Stream{C: ch, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(ch)
		defer conn.Close(websocket.StatusNormalClosure, "")
		for {
			m, err := read(rctx)
			if err != nil {
				if rctx.Err() == nil {
					s.setErr(fmt.Errorf("archivist %s: subscription ended: %w", c.base, err))
				}
				return
			}
			switch m.Type {
			case "ping":
				_ = send(rctx, wsMessage{Type: "pong"})
			case "next":
				var p struct {
					Data   map[string]json.RawMessage `json:"data"`
					Errors []gqlError                 `json:"errors"`
				}
				if err := json.Unmarshal(m.Payload, &p); err != nil {
					s.setErr(err)
					return
				}
				if len(p.Errors) > 0 {
					s.setErr(p.Errors[0].err())
					return
				}
				var ev Event
				raw := p.Data[field]
				switch field {
				case "nodeUpdated":
					ev.Node = &Node{}
					err = json.Unmarshal(raw, ev.Node)
				case "workflowUpdated":
					ev.Workflow = &Workflow{}
					err = json.Unmarshal(raw, ev.Workflow)
				default:
					ev.Task = &Task{}
					err = json.Unmarshal(raw, ev.Task)
				}
				if err != nil {
					s.setErr(err)
					return
				}
				select {
				case ch <- ev:
				case <-rctx.Done():
					return
				}
			case "error":
				var errs []gqlError
				if json.Unmarshal(m.Payload, &errs) == nil && len(errs) > 0 {
					s.setErr(errs[0].err())
				} else {
					s.setErr(fmt.Errorf("archivist: subscription error: %s", m.Payload))
				}
				return
			case "complete":
				return
			}
		}
	}()
	return s, nil
}

func (s *Stream) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}
