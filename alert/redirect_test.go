package alert

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/store"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWebhookRedirectNotFollowed: a webhook that answers with a redirect
// gets no second request elsewhere (which would carry the payload, and the
// URL's token in Referer); the delivery fails at once with a clear log line.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		if strings.Contains(r.Header.Get("Referer"), "secret-token") {
			t.Errorf("the redirect target got the token in Referer: %s", r.Header.Get("Referer"))
		}
	}))
	t.Cleanup(target.Close)
	var hits atomic.Int32
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, target.URL+"/collect", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)

	st := store.NewMemory(store.Options{})
	t.Cleanup(func() { st.Close() })
	clk := &clock{now: time.Now()}
	logs := &lockedBuffer{}
	ev := New(Config{Store: st, Webhooks: []string{redirector.URL + "/hook?token=secret-token"}, RetryBase: 10 * time.Millisecond,
		Env:      lifecycle.Env{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(logs, nil))},
		Settings: func() archivist.Config { c := archivist.DefaultConfig(); c.HeartbeatInterval = time.Hour; return c }})
	ctx := t.Context()
	if err := ev.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Stop(context.Background()) })
	if _, err := st.Heartbeat(ctx, &archivist.Node{ID: "n1", Workers: 2, Interval: time.Second, LastHeartbeat: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	ev.Evaluate(ctx)

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "redirect") {
		if time.Now().After(deadline) {
			t.Fatalf("no log of the failed delivery within 10s; hits %d, elsewhere %d:\n%s", hits.Load(), elsewhere.Load(), logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the webhook was asked %d times, want 1 (a redirect is not retried)", n)
	}
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "not followed") || strings.Contains(l, "secret-token") {
		t.Errorf("log:\n%s", l)
	}
}
