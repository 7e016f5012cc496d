package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpg-archivist/archivist/client"
)

// TestWaitStartsFromTheCurrentState: a task can change between the moment
// a client sends its subscription and the moment the server registers it,
// with no event for that change. Wait asks for taskUpdated(current: true),
// whose first message is the task as it is once the subscription is open,
// and needs no read of its own: here the task finished before Wait
// started, the only message is that state, and any HTTP read fails.
func TestWaitStartsFromTheCurrentState(t *testing.T) {
	var httpReads, currentAsked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			httpReads.Add(1)
			http.Error(w, "no reads", http.StatusTeapot)
			return
		}
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			return
		}
		defer conn.CloseNow()
		ctx := r.Context()
		if _, _, err := conn.Read(ctx); err != nil { // connection_init
			return
		}
		_ = conn.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_ack"}`))
		_, msg, err := conn.Read(ctx) // subscribe
		if err != nil {
			return
		}
		var sub struct {
			ID      string `json:"id"`
			Payload struct {
				Query string `json:"query"`
			} `json:"payload"`
		}
		if json.Unmarshal(msg, &sub) != nil {
			return
		}
		if strings.Contains(sub.Payload.Query, "current: true") {
			currentAsked.Add(1)
		}
		_ = conn.Write(ctx, websocket.MessageText, []byte(`{"type":"next","id":"`+sub.ID+`","payload":{"data":{"taskUpdated":`+
			`{"id":"t1","type":"echo","status":"COMPLETED","priority":"NORMAL","attempts":1,"createdAt":"2026-11-27T21:00:00Z","updatedAt":"2026-11-27T21:00:01Z"}}}}`))
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				return
			}
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var seen []string
	done, err := client.New(srv.URL).Wait(ctx, "t1", func(tk *client.Task) { seen = append(seen, tk.Status) })
	if err != nil || done == nil || done.Status != client.StatusCompleted {
		t.Fatalf("Wait: %v %+v", err, done)
	}
	if strings.Join(seen, ",") != "COMPLETED" {
		t.Errorf("updates %v, want COMPLETED once", seen)
	}
	if currentAsked.Load() != 1 || httpReads.Load() != 0 {
		t.Errorf("subscriptions with current: %d (want 1), HTTP reads: %d (want 0)", currentAsked.Load(), httpReads.Load())
	}
}
