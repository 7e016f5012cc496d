package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpg-archivist/archivist/client"
)

// TestWaitSurvivesAMissedChange: the server registers a subscription a
// moment after the client sent it, so a task can change in between with
// no event. Here the subscription never delivers anything and the task is
// ASSIGNED at the first read, COMPLETED after: Wait must still return it.
func TestWaitSurvivesAMissedChange(t *testing.T) {
	var reads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
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
			for { // subscribe, then silence
				if _, _, err := conn.Read(ctx); err != nil {
					return
				}
			}
		}
		status := "ASSIGNED"
		if reads.Add(1) > 1 {
			status = "COMPLETED"
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"task":{"id":"t1","type":"echo","status":"` + status + `","priority":"NORMAL","attempts":1,"createdAt":"2026-11-27T21:00:00Z","updatedAt":"2026-11-27T21:00:00Z"}}}`))
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var seen []string
	done, err := client.New(srv.URL).Wait(ctx, "t1", func(tk *client.Task) { seen = append(seen, tk.Status) })
	if err != nil || done == nil || done.Status != client.StatusCompleted {
		t.Fatalf("Wait: %v %+v", err, done)
	}
	if strings.Join(seen, ",") != "ASSIGNED,COMPLETED" {
		t.Errorf("updates %v, want ASSIGNED then COMPLETED once each", seen)
	}
}
