package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/store"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// handlerTransport answers requests with the handler of their host, in
// process: webhook deliveries need no network, so the tests run in a
// synctest bubble, where the retry backoff follows the fake clock and
// "nothing was delivered" is checked once every goroutine has settled
// rather than after a sleep.
type handlerTransport map[string]http.Handler

func (ht handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h, ok := ht[r.URL.Host]
	if !ok {
		return nil, fmt.Errorf("no handler for host %s", r.URL.Host)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result(), nil
}

// hookURL is the webhook of setup's bundle.
const hookURL = "http://hook.test/alerts"

type bundle struct {
	st    *store.Memory
	clk   *clock
	ev    *Evaluator
	ctx   context.Context
	hooks chan Payload
	fails atomic.Int32 // webhook answers 500 this many times first
}

// setup returns a started evaluator on a memory store, evaluating only
// when a test calls Evaluate (its heartbeat interval is an hour), with a
// webhook that records what it gets on hooks. Call it inside a bubble.
func setup(t *testing.T, rules Rules) *bundle {
	t.Helper()
	b := &bundle{st: store.NewMemory(store.Options{}), clk: &clock{now: time.Now()}, ctx: t.Context(), hooks: make(chan Payload, 16)}
	t.Cleanup(func() { b.st.Close() })
	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.fails.Add(-1) >= 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var p Payload
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		b.hooks <- p
	})
	b.ev = New(Config{Store: b.st, Rules: rules, Webhooks: []string{hookURL}, RetryBase: 10 * time.Millisecond,
		HTTPClient: &http.Client{Transport: handlerTransport{"hook.test": hook}},
		Env:        lifecycle.Env{Now: b.clk.Now},
		Settings:   func() archivist.Config { c := archivist.DefaultConfig(); c.HeartbeatInterval = time.Hour; return c }})
	if err := b.ev.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.ev.Stop(context.Background()) })
	return b
}

func (b *bundle) heartbeat(t *testing.T, id string, busy bool) {
	t.Helper()
	_, err := b.st.Heartbeat(b.ctx, &archivist.Node{ID: id, Workers: 2, Interval: time.Second, LastHeartbeat: b.clk.Now(), Busy: busy})
	if err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) hook(t *testing.T) Payload {
	t.Helper()
	return testkit.Signal(t, b.hooks, 10*time.Second, "a webhook delivery")
}

func TestNodeOfflineFiresAndResolvesWithRetries(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Rules{})
		b.heartbeat(t, "n1", false)
		sub := b.ev.Subscribe(b.ctx)
		b.ev.Evaluate(b.ctx)
		if got := b.ev.Alerts(false); len(got) != 0 {
			t.Fatalf("alerts on a healthy cluster: %+v", got)
		}
		b.fails.Store(2) // the first two deliveries fail: retried
		b.clk.Add(5 * time.Second)
		b.ev.Evaluate(b.ctx)
		p := b.hook(t)
		if p.Alert.Rule != RuleNodeOffline || p.Alert.Subject != "n1" || p.Alert.Status != Firing {
			t.Fatalf("webhook got %+v", p.Alert)
		}
		if a := <-sub; a.ID != "node_offline:n1" || a.Status != Firing {
			t.Fatalf("subscriber got %+v", a)
		}
		if got := b.ev.Alerts(false); len(got) != 1 {
			t.Fatalf("firing alerts %+v", got)
		}
		b.heartbeat(t, "n1", false)
		b.ev.Evaluate(b.ctx)
		if p := b.hook(t); p.Alert.Status != Resolved || p.Alert.ResolvedAt.IsZero() {
			t.Fatalf("resolution %+v", p.Alert)
		}
		if got := b.ev.Alerts(true); len(got) != 1 || got[0].Status != Resolved {
			t.Fatalf("with resolved: %+v", got)
		}
	})
}

func TestFailureRate(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Rules{FailureRate: 30, FailureMinTasks: 4, FailureWindow: time.Minute})
		lease, _ := b.st.Campaign(b.ctx, "n1", time.Hour)
		run := func(fail bool) {
			task := &archivist.Task{Type: "x", Priority: archivist.PriorityNormal, Timeout: time.Minute}
			b.st.CreateTasks(b.ctx, []*archivist.Task{task})
			b.st.AssignTasks(b.ctx, lease, []archivist.Assignment{{TaskID: task.ID, NodeID: "n1"}}, time.Minute)
			b.st.ClaimTasks(b.ctx, "n1", 1, time.Second)
			if fail {
				b.st.FailTask(b.ctx, task.ID, 1, archivist.Failure{Error: "boom", Permanent: true})
			} else {
				b.st.CompleteTask(b.ctx, task.ID, 1, json.RawMessage(`1`))
			}
		}
		for _, f := range []bool{false, false, true} {
			run(f)
		}
		waitEvents(t, b, 3)
		b.ev.Evaluate(b.ctx)
		if got := b.ev.Alerts(false); len(got) != 0 {
			t.Fatalf("fired below the minimum task count: %+v", got)
		}
		run(true) // 2 of 4 failed: 50% > 30%
		waitEvents(t, b, 4)
		b.ev.Evaluate(b.ctx)
		got := b.ev.Alerts(false)
		if len(got) != 1 || got[0].Rule != RuleFailureRate || got[0].Value != 50 {
			t.Fatalf("alerts %+v", got)
		}
		b.clk.Add(2 * time.Minute) // the window moves past them
		b.ev.Evaluate(b.ctx)
		if got := b.ev.Alerts(false); len(got) != 0 {
			t.Fatalf("still firing after the window: %+v", got)
		}
	})
}

// waitEvents lets the evaluator take in the store's events, and checks
// that it saw n finished attempts.
func waitEvents(t *testing.T, b *bundle, n int) {
	t.Helper()
	synctest.Wait()
	b.ev.mu.Lock()
	got := len(b.ev.finished)
	b.ev.mu.Unlock()
	if got < n {
		t.Fatalf("saw %d finished attempts, want %d", got, n)
	}
}

func TestPendingTooOldAndBusy(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Rules{PendingAge: time.Minute, BusyFor: time.Minute, FailureRate: -1})
		task := &archivist.Task{Type: "x", Priority: archivist.PriorityNormal, Timeout: time.Minute}
		b.st.CreateTasks(b.ctx, []*archivist.Task{task})
		synctest.Wait() // the evaluator takes in the task's event
		b.ev.mu.Lock()
		n := len(b.ev.pending)
		b.ev.mu.Unlock()
		if n != 1 {
			t.Fatal("the pending task was not tracked")
		}
		b.heartbeat(t, "hot", true)
		b.ev.Evaluate(b.ctx)
		if got := b.ev.Alerts(false); len(got) != 0 {
			t.Fatalf("fired too early: %+v", got)
		}
		b.clk.Add(90 * time.Second)
		b.heartbeat(t, "hot", true)
		b.ev.Evaluate(b.ctx)
		rules := map[string]bool{}
		for _, a := range b.ev.Alerts(false) {
			rules[a.Rule] = true
		}
		if !rules[RulePendingTooOld] || !rules[RuleNodeBusy] || len(rules) != 2 {
			t.Fatalf("alerts %v, want pending_too_old and node_busy", rules)
		}
	})
}

func TestNotLeaderDoesNotDeliver(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, Rules{})
		b.ev.cfg.IsLeader = func() bool { return false }
		b.heartbeat(t, "n1", false)
		b.clk.Add(10 * time.Second)
		b.ev.Evaluate(b.ctx)
		if len(b.ev.Alerts(false)) != 1 {
			t.Fatal("a follower must still evaluate")
		}
		synctest.Wait() // the delivery loop took the alert and settled
		select {
		case p := <-b.hooks:
			t.Fatalf("a follower delivered %+v", p)
		default:
		}
	})
}
