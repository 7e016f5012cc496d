package graph_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestLoneSurrogatesRefused: an escaped lone surrogate is refused like
// invalid UTF-8, in a POST body, in GET variables, in a GraphQL string
// literal and in a WebSocket message; a surrogate pair is stored as the
// character it encodes.
func TestLoneSurrogatesRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const submit = `mutation($in: JSON) { submitTask(input: {type: "echo", input: $in}) { id input } }`
	r := e.postRaw(t, []byte(`{"query":"`+strings.ReplaceAll(submit, `"`, `\"`)+`","variables":{"in":{"s":"a\ud800b"}}}`))
	wantError(t, r, "BAD_USER_INPUT", "surrogate")
	if r.Status != http.StatusBadRequest {
		t.Errorf("status %d", r.Status)
	}
	r = e.postRaw(t, []byte(`{"query":"`+strings.ReplaceAll(submit, `"`, `\"`)+`","variables":{"in":{"s":"\ud83d\ude00 \\ud800"}}}`))
	if len(r.Errors) > 0 {
		t.Fatalf("a surrogate pair: %+v", r.Errors)
	}
	if !strings.Contains(string(r.Data), `😀 \\ud800`) {
		t.Errorf("a surrogate pair and an escaped backslash: %s", r.Data)
	}

	// A GraphQL string literal.
	wantError(t, e.post(t, `mutation { submitTask(input: {type: "echo", input: "x\ud800"}) { id } }`, nil), "BAD_USER_INPUT", "surrogate")

	// GET variables.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"?query="+url.QueryEscape(`query($id: ID!) { task(id: $id) { id } }`)+
		"&variables="+url.QueryEscape(`{"id":"\udfff"}`), nil)
	wantError(t, doRequest(t, req), "BAD_USER_INPUT", "surrogate")

	// A WebSocket message: the connection is closed with 1007.
	c := e.dial(t, protoTransportWS)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(`{"id":"2","type":"subscribe","payload":{"query":"subscription { taskUpdated { id } }","variables":{"x":"\ud800"}}}`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err := c.conn.Read(ctx)
		if err == nil {
			continue
		}
		if websocket.CloseStatus(err) != 1007 {
			t.Fatalf("after a message with a lone surrogate: %v, want close 1007", err)
		}
		break
	}
}
