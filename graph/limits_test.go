package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/auth"
	"github.com/rpg-archivist/archivist/graph"
	"github.com/rpg-archivist/archivist/internal/apq"
	"github.com/rpg-archivist/archivist/internal/redistest"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/store"
)

// setupLimits is setup with the handler behind WithAuth, as the app serves
// it, admitting the given keys ("ROLE:KEY,..."; none: auth off).
func setupLimits(t testing.TB, keyList string, tweak func(*graph.HandlerOptions)) *env {
	t.Helper()
	return setupOn(t, nil, keyList, tweak)
}

// setupOn is setupLimits over the given store (nil: a fresh memory store,
// which e.store then is).
func setupOn(t testing.TB, st archivist.Store, keyList string, tweak func(*graph.HandlerOptions)) *env {
	t.Helper()
	clock := testkit.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	e := &env{clock: clock, logs: &testkit.Buffer{}}
	if st == nil {
		e.store = store.NewMemory(store.Options{Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
		t.Cleanup(func() { _ = e.store.Close() })
		st = e.store
	}
	e.events = newCountingSource(st)
	reg := archivist.NewRegistry()
	reg.RegisterFunc("echo", func(_ context.Context, job *archivist.Job) (json.RawMessage, error) {
		return job.Task.Input, nil
	})
	r := &graph.Resolver{
		Store:    st,
		Registry: reg,
		Events:   e.events,
		Logger:   slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      clock.Now,
	}
	var keys auth.Keyring
	if err := keys.AddList(keyList); err != nil {
		t.Fatal(err)
	}
	opts := graph.HandlerOptions{Keys: &keys}
	if tweak != nil {
		tweak(&opts)
	}
	e.srv = httptest.NewServer(graph.WithAuth(graph.NewHandler(r, opts), &keys))
	t.Cleanup(e.srv.Close)
	return e
}

// httpResult is a response with its status and headers.
type httpResult struct {
	gqlResponse
	header http.Header
}

// send posts body (JSON) with an API key (none when empty).
func (e *env) send(t *testing.T, key string, body any) httpResult {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) httpResult {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return decodeResult(t, resp.StatusCode, resp.Header, resp.Body)
}

func decodeResult(t *testing.T, status int, h http.Header, body io.Reader) httpResult {
	t.Helper()
	out := httpResult{header: h}
	if err := json.NewDecoder(body).Decode(&out.gqlResponse); err != nil {
		t.Fatalf("response (status %d) is not JSON: %v", status, err)
	}
	out.Status = status
	for _, e := range out.Errors {
		if e.code() == "" {
			t.Errorf("error without extensions.code: %+v", e)
		}
	}
	return out
}

// wantRefused checks a response refused by a limit: status, a Retry-After
// of retryAfter seconds, and one error with code and the same retryAfter.
func wantRefused(t *testing.T, r httpResult, status int, code, retryAfter string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d", r.Status, status)
	}
	if got := r.header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After %q, want %q", got, retryAfter)
	}
	wantError(t, r.gqlResponse, code)
	if got, _ := r.Errors[0].Extensions["retryAfter"].(float64); got == 0 || formatSecs(got) != retryAfter {
		t.Errorf("extensions.retryAfter = %v, want %s", r.Errors[0].Extensions["retryAfter"], retryAfter)
	}
}

func formatSecs(f float64) string { b, _ := json.Marshal(f); return string(b) }

// wsURL is the WebSocket address of the server.
func (e *env) wsURL() string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") }

// tryDial opens a WebSocket without failing the test.
func (e *env) tryDial(t *testing.T, proto string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, e.wsURL(), &websocket.DialOptions{Subprotocols: []string{proto}, HTTPHeader: header})
	if conn != nil {
		t.Cleanup(func() { _ = conn.CloseNow() })
	}
	return conn, resp, err
}

// dialInit opens a WebSocket and completes connection_init with payload.
func (e *env) dialInit(t *testing.T, proto, payload string) *wsClient {
	t.Helper()
	conn, _, err := e.tryDial(t, proto, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(8 << 20)
	c := &wsClient{t: t, conn: conn, legacy: proto == protoLegacyWS}
	c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(payload)})
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("want connection_ack, got %+v", m)
	}
	return c
}

// result reads the outcome of operation id, a query or a refused one: its
// one result, then complete.
func (c *wsClient) result(id string) gqlResponse {
	c.t.Helper()
	r := c.next(id)
	if m := c.read(); m.Type != "complete" || m.ID != id {
		c.t.Fatalf("after the result of %s: %+v", id, m)
	}
	return r
}

// skipComplete reads the next message, skipping a complete of id (which
// gqlgen sends after a client stops an operation).
func (c *wsClient) skipComplete(id string) wsMessage {
	c.t.Helper()
	for {
		m := c.read()
		if m.Type == "complete" && m.ID == id {
			continue
		}
		return m
	}
}

func TestMaxWebsockets(t *testing.T) {
	t.Parallel()
	e := setupLimits(t, "", func(o *graph.HandlerOptions) { o.MaxWebsockets = 3 })
	open := []*wsClient{
		e.dial(t, protoTransportWS),
		e.dial(t, protoLegacyWS),
		e.dial(t, protoTransportWS),
	}
	for _, proto := range []string{protoTransportWS, protoLegacyWS} {
		conn, resp, err := e.tryDial(t, proto, nil)
		if err == nil {
			t.Fatalf("%s: a connection over the limit was upgraded", proto)
		}
		if conn != nil || resp == nil {
			t.Fatalf("%s: refused upgrade: conn %v resp %v (%v)", proto, conn, resp, err)
		}
		wantRefused(t, decodeResult(t, resp.StatusCode, resp.Header, resp.Body), http.StatusServiceUnavailable, "TOO_MANY_CONNECTIONS", "5")
	}
	// HTTP is not limited by it, and the open connections still work.
	e.must(t, `{ taskTypes }`, nil, nil)
	open[1].subscribe("q", `{ taskTypes }`, nil)
	if r := open[1].result("q"); len(r.Errors) > 0 {
		t.Fatalf("query on an open connection: %+v", r.Errors)
	}

	// A closed connection frees its slot (once the server has seen it go).
	_ = open[0].conn.Close(websocket.StatusNormalClosure, "")
	c := dialEventually(t, e, protoLegacyWS)
	c.subscribe("q", `{ taskTypes }`, nil)
	if r := c.result("q"); len(r.Errors) > 0 {
		t.Fatalf("query on the new connection: %+v", r.Errors)
	}
	if _, _, err := e.tryDial(t, protoTransportWS, nil); err == nil {
		t.Fatal("the limit is gone after one connection was replaced")
	}
}

// dialEventually opens a WebSocket once a slot is free (the server frees
// one when it notices a connection closed, which it does not announce) and
// completes connection_init.
func dialEventually(t *testing.T, e *env, proto string) *wsClient {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, resp, err := e.tryDial(t, proto, nil)
		if err == nil {
			conn.SetReadLimit(8 << 20)
			c := &wsClient{t: t, conn: conn, legacy: proto == protoLegacyWS}
			c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
			if m := c.read(); m.Type != "connection_ack" {
				t.Fatalf("want connection_ack, got %+v", m)
			}
			return c
		}
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("dial: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Many connections opened and closed, however they close, leave no slot
// taken and no goroutine behind.
func TestMaxWebsocketsNoLeak(t *testing.T) {
	e := setupLimits(t, "", func(o *graph.HandlerOptions) { o.MaxWebsockets = 2 })
	e.must(t, `{ taskTypes }`, nil, nil)
	base := runtime.NumGoroutine()
	for i := range 200 {
		c := dialEventually(t, e, []string{protoTransportWS, protoLegacyWS}[i%2])
		switch i % 4 {
		case 0: // with a subscription open
			c.subscribe("s", taskUpdated, nil)
			_ = c.conn.Close(websocket.StatusNormalClosure, "")
		case 1: // with a subscription open, dropped
			c.subscribe("s", taskUpdated, nil)
			_ = c.conn.CloseNow()
		case 2:
			_ = c.conn.Close(websocket.StatusNormalClosure, "")
		default: // the connection drops
			_ = c.conn.CloseNow()
		}
	}
	// Both slots are free again: two connections open, a third does not.
	a, b := dialEventually(t, e, protoTransportWS), dialEventually(t, e, protoLegacyWS)
	if _, resp, err := e.tryDial(t, protoTransportWS, nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a third connection: %v", err)
	}
	_ = a.conn.Close(websocket.StatusNormalClosure, "")
	_ = b.conn.Close(websocket.StatusNormalClosure, "")
	testkit.Eventually(t, 10*time.Second, func() bool { return e.events.open.Load() == 0 }, "every store subscription to close")
	testkit.Eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= base+5 }, "goroutines to end")
}

func TestMaxSubscriptionsPerConnection(t *testing.T) {
	for _, proto := range []string{protoTransportWS, protoLegacyWS} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			e := setupLimits(t, "", func(o *graph.HandlerOptions) { o.MaxSubscriptionsPerConnection = 2 })
			c := e.dial(t, proto)
			c.subscribe("a", ownDoc(taskUpdated, "a"), nil)
			c.subscribe("b", ownDoc(taskUpdated, "b"), nil)
			e.events.waitSubscribed(t, 2)

			c.subscribe("c", ownDoc(taskUpdated, "c"), nil)
			wantError(t, c.result("c"), "TOO_MANY_SUBSCRIPTIONS", "2 subscriptions")
			// Queries do not count, and the connection stays.
			c.subscribe("q", `{ taskTypes }`, nil)
			if r := c.result("q"); len(r.Errors) > 0 {
				t.Fatalf("query beside two subscriptions: %+v", r.Errors)
			}
			// Another connection has its own slots.
			other := e.dial(t, proto)
			other.subscribe("x", ownDoc(taskUpdated, "x"), nil)
			e.events.waitSubscribed(t, 1)

			// Stopping one frees its slot for the very next subscribe.
			c.stop("a")
			c.subscribe("d", ownDoc(taskUpdated, "d"), nil)
			e.events.waitSubscribed(t, 1)
			c.subscribe("e", ownDoc(taskUpdated, "e"), nil)
			if m := c.skipComplete("a"); m.ID != "e" {
				t.Fatalf("want the refusal of e, got %+v", m)
			} else {
				var r gqlResponse
				_ = json.Unmarshal(m.Payload, &r)
				wantError(t, r, "TOO_MANY_SUBSCRIPTIONS")
			}
			if m := c.skipComplete("a"); m.Type != "complete" || m.ID != "e" {
				t.Fatalf("after the refusal of e: %+v", m)
			}

			// The subscriptions left all work.
			if err := e.store.CreateTasks(t.Context(), []*archivist.Task{{Type: "echo", Priority: archivist.PriorityLow}}); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for len(got) < 2 {
				m := c.skipComplete("a")
				if m.Type != map[bool]string{true: "data", false: "next"}[c.legacy] || got[m.ID] {
					t.Fatalf("want one update each for b and d, got %+v (so far %v)", m, got)
				}
				got[m.ID] = true
			}
			if !got["b"] || !got["d"] {
				t.Errorf("updates went to %v, want b and d", got)
			}
			decodeNext[taskUpdate](t, other.next("x"))
		})
	}
}

// A subscription that the server ends (here with an error) frees its slot.
func TestSubscriptionSlotFreedWhenServerEnds(t *testing.T) {
	t.Parallel()
	e := setupLimits(t, "", func(o *graph.HandlerOptions) { o.MaxSubscriptionsPerConnection = 1 })
	c := e.dial(t, protoTransportWS)
	for _, id := range []string{"1", "2", "3"} {
		c.subscribe(id, taskUpdated, map[string]any{"id": "no-such-task"})
		wantError(t, c.result(id), "NOT_FOUND")
	}
	c.subscribe("live", taskUpdated, nil)
	e.events.waitSubscribed(t, 1)
	c.subscribe("over", taskUpdated, nil)
	wantError(t, c.result("over"), "TOO_MANY_SUBSCRIPTIONS")
}

const (
	limitViewerKey = "viewer-key-limits-0001"
	limitOtherKey  = "viewer-key-limits-0002"
	limitOpKey     = "operator-key-limits-01"
)

func TestRateLimitHTTP(t *testing.T) {
	t.Parallel()
	e := setupLimits(t, "viewer:"+limitViewerKey+",viewer:"+limitOtherKey,
		func(o *graph.HandlerOptions) { o.RateLimit, o.RateBurst = 0.5, 2 })
	query := map[string]any{"query": `{ taskTypes }`}
	for i := range 2 {
		if r := e.send(t, limitViewerKey, query); r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("request %d within the burst: %d %+v", i+1, r.Status, r.Errors)
		}
	}
	wantRefused(t, e.send(t, limitViewerKey, query), http.StatusTooManyRequests, "RATE_LIMITED", "2")
	// GET counts too.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"?query="+url.QueryEscape(`{ taskTypes }`), nil)
	req.Header.Set("Authorization", "Bearer "+limitViewerKey)
	wantRefused(t, do(t, req), http.StatusTooManyRequests, "RATE_LIMITED", "2")

	// Another key has its own bucket; so have clients without a valid key
	// (by address), whatever key they try.
	if r := e.send(t, limitOtherKey, query); r.Status != http.StatusOK {
		t.Fatalf("another key: %d %+v", r.Status, r.Errors)
	}
	for _, key := range []string{"", "not-a-valid-key-000"} {
		if r := e.send(t, key, map[string]any{"query": `{ __typename }`}); r.Status != http.StatusOK {
			t.Fatalf("key %q: %d %+v", key, r.Status, r.Errors)
		}
	}
	wantRefused(t, e.send(t, "another-bad-key-000", query), http.StatusTooManyRequests, "RATE_LIMITED", "2")

	// Tokens come back with time: one every two seconds.
	e.clock.Advance(time.Second)
	wantRefused(t, e.send(t, limitViewerKey, query), http.StatusTooManyRequests, "RATE_LIMITED", "1")
	e.clock.Advance(time.Second)
	if r := e.send(t, limitViewerKey, query); r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("after the refill: %d %+v", r.Status, r.Errors)
	}
	wantRefused(t, e.send(t, limitViewerKey, query), http.StatusTooManyRequests, "RATE_LIMITED", "2")
}

func TestRateLimitOffByDefault(t *testing.T) {
	t.Parallel()
	e := setupLimits(t, "", nil)
	for range 200 {
		if r := e.send(t, "", map[string]any{"query": `{ taskTypes }`}); r.Status != http.StatusOK {
			t.Fatalf("status %d: %+v", r.Status, r.Errors)
		}
	}
}

func TestRateLimitWebsocket(t *testing.T) {
	for _, proto := range []string{protoTransportWS, protoLegacyWS} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			// Without keys every request counts by address: the upgrade
			// takes one token, two operations the rest of the burst.
			e := setupLimits(t, "", func(o *graph.HandlerOptions) { o.RateLimit, o.RateBurst = 1, 3 })
			c := e.dial(t, proto)
			c.subscribe("s", taskUpdated, nil)
			e.events.waitSubscribed(t, 1)
			c.subscribe("q1", `{ taskTypes }`, nil)
			if r := c.result("q1"); len(r.Errors) > 0 {
				t.Fatalf("q1: %+v", r.Errors)
			}
			c.subscribe("q2", `{ taskTypes }`, nil)
			r := c.result("q2")
			wantError(t, r, "RATE_LIMITED")
			if got := r.Errors[0].Extensions["retryAfter"]; got != 1.0 {
				t.Errorf("retryAfter %v, want 1", got)
			}
			// HTTP from the same address shares the bucket.
			wantRefused(t, e.send(t, "", map[string]any{"query": `{ taskTypes }`}), http.StatusTooManyRequests, "RATE_LIMITED", "1")
			// So does an upgrade.
			if _, resp, err := e.tryDial(t, proto, nil); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("upgrade over the limit: %v", err)
			}

			// The connection and its subscription stayed.
			e.clock.Advance(time.Second)
			c.subscribe("q3", `{ taskTypes }`, nil)
			if r := c.result("q3"); len(r.Errors) > 0 {
				t.Fatalf("q3 after the refill: %+v", r.Errors)
			}
			if err := e.store.CreateTasks(t.Context(), []*archivist.Task{{Type: "echo", Priority: archivist.PriorityLow}}); err != nil {
				t.Fatal(err)
			}
			decodeNext[taskUpdate](t, c.next("s"))
		})
	}
}

// With keys, a WebSocket's operations count against the key given in
// connection_init, the same bucket as that key's HTTP requests.
func TestRateLimitWebsocketByKey(t *testing.T) {
	t.Parallel()
	e := setupLimits(t, "viewer:"+limitViewerKey+",operator:"+limitOpKey,
		func(o *graph.HandlerOptions) { o.RateLimit, o.RateBurst = 1, 3 })
	for range 2 {
		if r := e.send(t, limitViewerKey, map[string]any{"query": `{ taskTypes }`}); r.Status != http.StatusOK {
			t.Fatalf("HTTP: %d %+v", r.Status, r.Errors)
		}
	}
	viewer := e.dialInit(t, protoTransportWS, `{"Authorization": "Bearer `+limitViewerKey+`"}`)
	op := e.dialInit(t, protoLegacyWS, `{"token": "`+limitOpKey+`"}`)
	viewer.subscribe("1", `{ taskTypes }`, nil)
	if r := viewer.result("1"); len(r.Errors) > 0 {
		t.Fatalf("the key's third request: %+v", r.Errors)
	}
	viewer.subscribe("2", `{ taskTypes }`, nil)
	wantError(t, viewer.result("2"), "RATE_LIMITED")
	for _, id := range []string{"1", "2", "3"} {
		op.subscribe(id, `{ taskTypes }`, nil)
		if r := op.result(id); len(r.Errors) > 0 {
			t.Fatalf("another key, operation %s: %+v", id, r.Errors)
		}
	}
	op.subscribe("4", `{ taskTypes }`, nil)
	wantError(t, op.result("4"), "RATE_LIMITED")
}

// apqBody is a request body with an APQ hash, and the query when given.
func apqBody(query, hash string) map[string]any {
	body := map[string]any{"extensions": map[string]any{
		"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
	if query != "" {
		body["query"] = query
	}
	return body
}

func TestPersistedQueries(t *testing.T) {
	t.Parallel()
	e := setupLimits(t, "viewer:"+limitViewerKey+",operator:"+limitOpKey, func(o *graph.HandlerOptions) { o.MaxDepth = 5 })
	query := `query Types { taskTypes }`
	hash := apq.Hash(query)

	r := e.send(t, limitViewerKey, apqBody("", hash))
	wantError(t, r.gqlResponse, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
	if r := e.send(t, limitViewerKey, apqBody(query, hash)); len(r.Errors) > 0 {
		t.Fatalf("registration: %+v", r.Errors)
	}
	var types struct{ TaskTypes []string }
	r = e.send(t, limitViewerKey, apqBody("", hash))
	if len(r.Errors) > 0 || json.Unmarshal(r.Data, &types) != nil || len(types.TaskTypes) == 0 {
		t.Fatalf("by hash: %+v %s", r.Errors, r.Data)
	}
	// GET, as a CDN would cache it.
	ext, _ := json.Marshal(apqBody("", hash)["extensions"])
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"?extensions="+url.QueryEscape(string(ext)), nil)
	req.Header.Set("Authorization", "Bearer "+limitViewerKey)
	if r := do(t, req); r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("GET by hash: %d %+v", r.Status, r.Errors)
	}
	// And over a WebSocket.
	c := e.dialInit(t, protoTransportWS, `{"token": "`+limitViewerKey+`"}`)
	payload, _ := json.Marshal(apqBody("", hash))
	c.send(wsMessage{ID: "1", Type: "subscribe", Payload: payload})
	if r := c.result("1"); len(r.Errors) > 0 {
		t.Fatalf("WebSocket by hash: %+v", r.Errors)
	}

	// A hash that is not the query's is refused, and stores nothing.
	other := `{ nodes { id } }`
	if r := e.send(t, limitViewerKey, apqBody(other, hash[:63]+"0")); len(r.Errors) != 1 {
		t.Fatalf("wrong hash: %+v", r.Errors)
	}

	// Queries that fail a check are not stored: a parse error, the token
	// limit, validation, the depth limit, and a mutation the key may not run.
	deep := `{ tasks { edges { node { node { health { load1 } } } } } }`
	refused := map[string]string{
		"parse":      `{ taskTypes `,
		"tokens":     "{ " + strings.Repeat("taskTypes ", 4000) + "}",
		"validation": `{ noSuchField }`,
		"depth":      deep,
		"role":       `mutation { submitTask(input: {type: "echo"}) { id } }`,
	}
	for name, q := range refused {
		h := apq.Hash(q)
		if r := e.send(t, limitViewerKey, apqBody(q, h)); len(r.Errors) == 0 {
			t.Errorf("%s: the query was accepted: %s", name, r.Data)
		}
		r := e.send(t, limitOpKey, apqBody("", h))
		wantError(t, r.gqlResponse, "PERSISTED_QUERY_NOT_FOUND")
	}
	// The operator may register the mutation.
	q := refused["role"]
	if r := e.send(t, limitOpKey, apqBody(q, apq.Hash(q))); len(r.Errors) > 0 {
		t.Fatalf("operator registration: %+v", r.Errors)
	}
	if r := e.send(t, limitOpKey, apqBody("", apq.Hash(q))); len(r.Errors) > 0 {
		t.Fatalf("operator by hash: %+v", r.Errors)
	}
	// The viewer may look it up, but still not run it.
	wantError(t, e.send(t, limitViewerKey, apqBody("", apq.Hash(q))).gqlResponse, "FORBIDDEN")
}

// failingQueries is a query cache whose store is down.
type failingQueries struct{ puts atomic.Int64 }

func (f *failingQueries) GetQuery(context.Context, string) (string, bool, error) {
	return "", false, errors.New("connection refused")
}

func (f *failingQueries) PutQuery(context.Context, string, string) error {
	f.puts.Add(1)
	return errors.New("connection refused")
}

// A store error is a miss, never a failed request.
func TestPersistedQueriesStoreDown(t *testing.T) {
	t.Parallel()
	down := &failingQueries{}
	e := setupLimits(t, "", func(o *graph.HandlerOptions) { o.PersistedQueries = graph.StoreQueryCache(down) })
	query := `{ taskTypes }`
	hash := apq.Hash(query)
	wantError(t, e.send(t, "", apqBody("", hash)).gqlResponse, "PERSISTED_QUERY_NOT_FOUND")
	if r := e.send(t, "", apqBody(query, hash)); len(r.Errors) > 0 {
		t.Fatalf("with the full query: %+v", r.Errors)
	}
	if down.puts.Load() != 1 {
		t.Errorf("%d registrations tried, want 1", down.puts.Load())
	}
	if logs := e.logs.String(); !strings.Contains(logs, "level=DEBUG") || !strings.Contains(logs, "connection refused") ||
		strings.Contains(logs, "level=ERROR") {
		t.Errorf("want the store errors at debug level only; logs:\n%s", logs)
	}
}

// Two nodes over one Redis: a query registered through one is known to the
// other.
func TestPersistedQueriesAcrossNodes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	node := func() *env {
		st, err := store.OpenRedis(t.Context(), store.RedisOptions{URL: srv.URL(), Cluster: "apq",
			Options: store.Options{Logger: slog.New(slog.DiscardHandler)}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return setupOn(t, st, "", func(o *graph.HandlerOptions) { o.PersistedQueries = graph.StoreQueryCache(st) })
	}
	a, b := node(), node()
	query := `query Types { taskTypes }`
	hash := apq.Hash(query)
	wantError(t, b.send(t, "", apqBody("", hash)).gqlResponse, "PERSISTED_QUERY_NOT_FOUND")
	if r := a.send(t, "", apqBody(query, hash)); len(r.Errors) > 0 {
		t.Fatalf("registration on A: %+v", r.Errors)
	}
	var types struct{ TaskTypes []string }
	r := b.send(t, "", apqBody("", hash))
	if len(r.Errors) > 0 || json.Unmarshal(r.Data, &types) != nil || len(types.TaskTypes) == 0 {
		t.Fatalf("by hash on B: %+v %s", r.Errors, r.Data)
	}
	// Over a WebSocket on B too.
	c := b.dial(t, protoLegacyWS)
	payload, _ := json.Marshal(apqBody("", hash))
	c.send(wsMessage{ID: "1", Type: "start", Payload: payload})
	if r := c.result("1"); len(r.Errors) > 0 {
		t.Fatalf("WebSocket by hash on B: %+v", r.Errors)
	}
	// A query refused on B is not shared with A.
	bad := `{ noSuchField }`
	b.send(t, "", apqBody(bad, apq.Hash(bad)))
	wantError(t, a.send(t, "", apqBody("", apq.Hash(bad))).gqlResponse, "PERSISTED_QUERY_NOT_FOUND")
}
