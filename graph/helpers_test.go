package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/store"
)

// env is one server over a fresh in-memory store.
type env struct {
	store  *store.Memory
	clock  *testkit.Clock
	events *countingSource
	logs   *testkit.Buffer
	srv    *httptest.Server
}

// setup starts a server; tweak, if given, changes the resolver and options
// before the handler is built.
func setup(t *testing.T, tweak ...func(*graph.Resolver, *graph.HandlerOptions)) *env {
	t.Helper()
	clock := testkit.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	st := store.NewMemory(store.Options{Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = st.Close() })

	reg := archivist.NewRegistry()
	reg.RegisterFunc("echo", func(_ context.Context, job *archivist.Job) (json.RawMessage, error) {
		return job.Task.Input, nil
	})
	reg.RegisterFunc("sleep", func(ctx context.Context, _ *archivist.Job) (json.RawMessage, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})

	logs := &testkit.Buffer{}
	e := &env{store: st, clock: clock, logs: logs, events: newCountingSource(st)}
	r := &graph.Resolver{
		Store:    st,
		Registry: reg,
		Events:   e.events,
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
		Now:      clock.Now,
	}
	var opts graph.HandlerOptions
	for _, f := range tweak {
		f(r, &opts)
	}
	e.srv = httptest.NewServer(graph.NewHandler(r, opts))
	t.Cleanup(e.srv.Close)
	return e
}

// countingSource is the store's event feed, with a signal for each
// subscription opened (so tests need not sleep until the server has
// subscribed) and a count of those not yet closed.
type countingSource struct {
	src        graph.EventSource
	subscribed chan struct{}
	open       atomic.Int64
}

func newCountingSource(src graph.EventSource) *countingSource {
	return &countingSource{src: src, subscribed: make(chan struct{}, 1000)}
}

func (c *countingSource) Subscribe(ctx context.Context, after uint64) (archivist.Subscription, error) {
	sub, err := c.src.Subscribe(ctx, after)
	if err != nil {
		return nil, err
	}
	c.open.Add(1)
	select {
	case c.subscribed <- struct{}{}:
	default:
	}
	return &countedSub{Subscription: sub, open: &c.open}, nil
}

// waitSubscribed waits for n more subscriptions to be opened.
// ownDoc makes query a document of its own (a comment naming it), so that
// its subscription opens a store subscription of its own instead of sharing
// the feed of the same document: tests that count store subscriptions use it.
func ownDoc(query, name string) string { return "# " + name + "\n" + query }

func (c *countingSource) waitSubscribed(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case <-c.subscribed:
		case <-timeout:
			t.Fatalf("the server did not subscribe to the store")
		}
	}
}

type countedSub struct {
	archivist.Subscription
	once sync.Once
	open *atomic.Int64
}

func (s *countedSub) Close() {
	s.once.Do(func() { s.open.Add(-1) })
	s.Subscription.Close()
}

// gqlError is an error of a GraphQL response.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

type gqlResponse struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// codes lists the code of every error.
func (r gqlResponse) codes() []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, e.code())
	}
	return out
}

// post sends one operation and decodes the response, whatever its status.
func (e *env) post(t *testing.T, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	return e.postRaw(t, body)
}

func (e *env) postRaw(t *testing.T, body []byte) gqlResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return doRequest(t, req)
}

func doRequest(t *testing.T, req *http.Request) gqlResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("response (status %d) is not JSON: %v", resp.StatusCode, err)
	}
	out.Status = resp.StatusCode
	for _, e := range out.Errors {
		if e.code() == "" {
			t.Errorf("error without extensions.code: %+v", e)
		}
	}
	return out
}

// must sends one operation, fails on any error, and decodes data into out.
func (e *env) must(t *testing.T, query string, vars map[string]any, out any) {
	t.Helper()
	r := e.post(t, query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v", r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("decode %s: %v", r.Data, err)
		}
	}
}

// wantError checks that r failed with one error of the given code whose
// message contains each of the given parts.
func wantError(t *testing.T, r gqlResponse, code string, parts ...string) {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("want one %s error, got %+v (data %s)", code, r.Errors, r.Data)
	}
	if got := r.Errors[0].code(); got != code {
		t.Fatalf("code = %s, want %s (message %q)", got, code, r.Errors[0].Message)
	}
	for _, p := range parts {
		if !strings.Contains(r.Errors[0].Message, p) {
			t.Errorf("message %q does not mention %q", r.Errors[0].Message, p)
		}
	}
}

// wsMessage is a message of either WebSocket protocol.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient speaks graphql-transport-ws or the older graphql-ws.
type wsClient struct {
	t      *testing.T
	conn   *websocket.Conn
	legacy bool
}

const (
	protoTransportWS = "graphql-transport-ws"
	protoLegacyWS    = "graphql-ws"
)

// dial opens a WebSocket and completes the connection_init handshake.
func (e *env) dial(t *testing.T, proto string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http")
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if resp.Body != nil {
		_ = resp.Body.Close()
	}
	if conn.Subprotocol() != proto {
		t.Fatalf("negotiated %q, want %q", conn.Subprotocol(), proto)
	}
	conn.SetReadLimit(8 << 20)
	c := &wsClient{t: t, conn: conn, legacy: proto == protoLegacyWS}
	t.Cleanup(func() { _ = conn.CloseNow() })
	c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("want connection_ack, got %+v", m)
	}
	return c
}

func (c *wsClient) send(m wsMessage) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, c.conn, m); err != nil {
		c.t.Fatalf("write %s: %v", m.Type, err)
	}
}

// read returns the next message, answering pings and skipping keep-alives.
func (c *wsClient) read() wsMessage {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, c.conn, &m); err != nil {
			c.t.Fatalf("read: %v", err)
		}
		switch m.Type {
		case "ka", "pong":
			continue
		case "ping":
			c.send(wsMessage{Type: "pong"})
			continue
		}
		return m
	}
}

// subscribe starts an operation with the given id.
func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	c.subscribeExt(id, query, vars, nil)
}

// subscribeExt starts an operation with the given id and extensions.
func (c *wsClient) subscribeExt(id, query string, vars, ext map[string]any) {
	c.t.Helper()
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars, "extensions": ext})
	if err != nil {
		c.t.Fatal(err)
	}
	typ := "subscribe"
	if c.legacy {
		typ = "start"
	}
	c.send(wsMessage{ID: id, Type: typ, Payload: payload})
}

// stop ends the operation with the given id from the client's side.
func (c *wsClient) stop(id string) {
	c.t.Helper()
	typ := "complete"
	if c.legacy {
		typ = "stop"
	}
	c.send(wsMessage{ID: id, Type: typ})
}

// next returns the payload of the next result of operation id, failing on
// anything else.
func (c *wsClient) next(id string) gqlResponse {
	c.t.Helper()
	m := c.read()
	want := "next"
	if c.legacy {
		want = "data"
	}
	if m.Type != want || m.ID != id {
		c.t.Fatalf("want %s for %s, got %s %s %s", want, id, m.Type, m.ID, m.Payload)
	}
	var r gqlResponse
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		c.t.Fatalf("decode %s: %v", m.Payload, err)
	}
	return r
}
