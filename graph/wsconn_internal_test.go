package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
)

// msgType is a message type that encodes as text, as gqlgen's are.
type msgType int

func (t msgType) MarshalText() ([]byte, error) {
	return []byte([]string{"next", "complete", "error"}[t]), nil
}

// message has the shape of gqlgen's protocol messages.
type message struct {
	Payload json.RawMessage `json:"payload,omitempty"`
	ID      string          `json:"id,omitempty"`
	Type    msgType         `json:"type"`
	noOp    bool
}

func TestEncodeMessage(t *testing.T) {
	for _, v := range []any{
		message{Payload: json.RawMessage(`{"data":{"taskUpdated":{"id":"a<b>&c"}}}`), ID: "1", Type: 0, noOp: true},
		&message{ID: "sub \"quoted\" \\ é ✓ \u2028", Type: 1},
		message{Type: 2, Payload: json.RawMessage(`[{"message":"no","extensions":{"code":"CONFLICT"}}]`)},
		message{},
		struct {
			N    int    `json:"n"`
			Name string `json:"name"`
		}{N: 3, Name: "other"}, // not a message shape: encoding/json's
		map[string]any{"type": "ka"},
	} {
		got, err := encodeMessage(v)
		if err != nil {
			t.Fatalf("encodeMessage(%+v): %v", v, err)
		}
		want, _ := json.Marshal(v)
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("encodeMessage(%+v) = %s: not JSON: %v", v, got, err)
		}
		_ = json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("encodeMessage(%+v) = %s, want %s", v, got, want)
		}
	}
	if planFor(reflect.TypeFor[message]()) == nil {
		t.Error("a message of gqlgen's shape is not written directly")
	}
}

// TestBatchedConnOrderAndClose: messages written from several goroutines
// arrive whole and each goroutine's in order, then the close frame, after
// all of them.
func TestBatchedConnOrderAndClose(t *testing.T) {
	const writers, each = 4, 500
	accepted := make(chan transport.WebsocketConn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := batchedImplementation{}.Accept(w, r, transport.WebsocketAcceptOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		accepted <- c
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	client.SetReadLimit(1 << 20)
	conn := <-accepted

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				payload := json.RawMessage(fmt.Sprintf(`{"w":%d,"i":%d,"pad":%q}`, w, i, strings.Repeat("x", i%300)))
				if err := conn.WriteJSON(message{Payload: payload, ID: "s", Type: 0}); err != nil {
					t.Errorf("WriteJSON: %v", err)
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		_ = conn.WriteClose(4000, "done")
	}()

	next := make([]int, writers)
	for n := 0; ; n++ {
		_, b, err := client.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != 4000 {
				t.Fatalf("after %d messages: %v, want the close frame 4000", n, err)
			}
			if n != writers*each {
				t.Fatalf("the close frame came after %d messages, want %d", n, writers*each)
			}
			break
		}
		var m struct {
			ID, Type string
			Payload  struct{ W, I int }
		}
		if err := json.Unmarshal(b, &m); err != nil || m.ID != "s" || m.Type != "next" {
			t.Fatalf("message %d: %s (%v)", n, b, err)
		}
		if m.Payload.I != next[m.Payload.W] {
			t.Fatalf("writer %d: message %d came when %d was due", m.Payload.W, m.Payload.I, next[m.Payload.W])
		}
		next[m.Payload.W]++
	}
}
