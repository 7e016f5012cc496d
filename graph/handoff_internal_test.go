package graph

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/coder/websocket"

	"github.com/rpg-archivist/archivist/internal/testkit"
)

// panicky is a transport that panics, before or after the upgrade.
type panicky struct{ afterUpgrade bool }

func (panicky) Supports(*http.Request) bool { return true }

func (p panicky) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	if p.afterUpgrade {
		if _, err := websocket.Accept(w, r, nil); err != nil {
			return
		}
	}
	panic("boom")
}

// TestHandoffPanic: a panic in a connection's goroutine, out of the HTTP
// server's handler, is logged and ends that connection (an answer of 500
// before the upgrade, a closed connection after it), not the node.
func TestHandoffPanic(t *testing.T) {
	for _, after := range []bool{false, true} {
		logs := &testkit.Buffer{}
		h := handedOffWebsocket{Transport: panicky{afterUpgrade: after}, logger: slog.New(slog.NewTextHandler(logs, nil))}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.Do(w, r, nil) }))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if !after {
			if err == nil || resp == nil || resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("a panic before the upgrade: %v, %+v; want a 500", err, resp)
			}
		} else {
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			if _, _, err := conn.Read(ctx); err == nil || ctx.Err() != nil {
				t.Fatalf("a panic after the upgrade left the connection open: %v", err)
			}
		}
		if !strings.Contains(logs.String(), "panicked") {
			t.Errorf("the panic was not logged: %s", logs.String())
		}
		cancel()
		srv.Close()
	}
}
