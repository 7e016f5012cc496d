package alert

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/store"
)

// TestWebhookRedirectNotFollowed: a webhook that answers with a redirect
// gets no second request elsewhere (which would carry the payload, and the
// URL's token in Referer); the delivery fails at once with a clear log line.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var elsewhere atomic.Int32
		target := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			elsewhere.Add(1)
			if strings.Contains(r.Header.Get("Referer"), "secret-token") {
				t.Errorf("the redirect target got the token in Referer: %s", r.Header.Get("Referer"))
			}
		})
		var hits atomic.Int32
		redirector := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Redirect(w, r, "http://target.test/collect", http.StatusTemporaryRedirect)
		})
		// The client given follows redirects (the default): the evaluator
		// must turn that off.
		client := &http.Client{Transport: handlerTransport{"hook.test": redirector, "target.test": target}}

		st := store.NewMemory(store.Options{})
		t.Cleanup(func() { st.Close() })
		clk := &clock{now: time.Now()}
		logs := &testkit.Buffer{}
		ev := New(Config{Store: st, Webhooks: []string{"http://hook.test/hook?token=secret-token"}, RetryBase: 10 * time.Millisecond,
			HTTPClient: client,
			Env:        lifecycle.Env{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(logs, nil))},
			Settings:   func() archivist.Config { c := archivist.DefaultConfig(); c.HeartbeatInterval = time.Hour; return c }})
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

		// Retries would come after RetryBase: let them.
		time.Sleep(time.Second)
		synctest.Wait()
		if !logs.Contains("redirect") {
			t.Fatalf("no log of the failed delivery; hits %d, elsewhere %d:\n%s", hits.Load(), elsewhere.Load(), logs.String())
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
	})
}
