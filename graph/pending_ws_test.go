package graph_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpg-archivist/archivist/graph"
)

// TestPendingWebsocketsPerClient checks that one client address cannot
// hold more than MaxPendingWebsockets upgrades that never send
// connection_init: the next is refused before upgrading (429,
// TOO_MANY_CONNECTIONS), a client at another address still gets in and is
// served, initialising a pending connection frees its place, and the
// server closes a pending connection after InitTimeout, freeing its place
// too.
func TestPendingWebsocketsPerClient(t *testing.T) {
	t.Parallel()
	// Long enough for the steps before pending[0] is initialised (four
	// upgrades, a refusal, a query from another address) on a loaded
	// machine under -race.
	const initTimeout = 3 * time.Second
	e := setupLimits(t, "", func(o *graph.HandlerOptions) {
		o.MaxPendingWebsockets = 4
		o.MaxWebsockets = 6
		o.InitTimeout = initTimeout
	})
	var pending []*websocket.Conn
	for i := range 4 {
		conn, _, err := e.tryDial(t, protoTransportWS, nil)
		if err != nil {
			t.Fatalf("pending upgrade %d: %v", i, err)
		}
		pending = append(pending, conn)
	}
	opened := time.Now()
	conn, resp, err := e.tryDial(t, protoLegacyWS, nil)
	if err == nil || conn != nil || resp == nil {
		t.Fatalf("a fifth pending upgrade from one address: upgraded %v, response %v, error %v", conn != nil, resp != nil, err)
	}
	wantRefused(t, decodeResult(t, resp.StatusCode, resp.Header, resp.Body), http.StatusTooManyRequests, "TOO_MANY_CONNECTIONS", "5")

	// Another address is not kept out.
	other := e.dialFrom(t, "127.0.0.2")
	other.subscribe("q", `{ taskTypes }`, nil)
	if r := other.result("q"); len(r.Errors) > 0 {
		t.Fatalf("query from another address: %+v", r.Errors)
	}

	// Initialising a pending connection frees its place.
	c := &wsClient{t: t, conn: pending[0]}
	c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("want connection_ack, got %+v", m)
	}
	if conn, _, err := e.tryDial(t, protoTransportWS, nil); err != nil {
		t.Fatalf("a pending place freed by connection_init was not given: %v", err)
	} else {
		pending[0] = conn
	}

	// The server closes pending connections after InitTimeout.
	for i, conn := range pending {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, _, err := conn.Read(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil || timedOut {
			t.Fatalf("pending connection %d not closed by the server: %v", i, err)
		}
	}
	if took := time.Since(opened); took < initTimeout {
		t.Errorf("pending connections closed after %v, before InitTimeout (%v)", took, initTimeout)
	}
	dialEventually(t, e, protoLegacyWS)
}

// dialFrom opens a WebSocket from the loopback address local and completes
// connection_init.
func (e *env) dialFrom(t *testing.T, local string) *wsClient {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, e.wsURL(), &websocket.DialOptions{Subprotocols: []string{protoTransportWS}, HTTPClient: client})
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	c := &wsClient{t: t, conn: conn}
	c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("want connection_ack, got %+v", m)
	}
	return c
}
