package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/lifecycle"
)

// Defaults of Config.
const (
	// defaultWebhookTimeout bounds one webhook request of the default
	// HTTPClient.
	defaultWebhookTimeout = 10 * time.Second
	defaultMaxAttempts    = 6
	defaultRetryBase      = 500 * time.Millisecond
	// maxRetryWait caps the backoff between delivery attempts.
	maxRetryWait = 30 * time.Second
)

// Config configures an Evaluator. Zero values mean the defaults.
type Config struct {
	Store archivist.Store
	Rules Rules
	// Settings gives the heartbeat interval (the evaluation period) and
	// the missed heartbeats after which a node is offline (default
	// archivist.DefaultConfig).
	Settings func() archivist.Config
	// IsLeader says whether this node delivers to the webhooks (default:
	// always, for a node on its own).
	IsLeader func() bool
	// Webhooks get each alert that fires or resolves as a JSON POST.
	Webhooks []string
	// HTTPClient posts to the webhooks (default: a client with a
	// defaultWebhookTimeout, 10s, timeout). Redirects are never followed,
	// whatever its CheckRedirect: a 3xx answer is a failed delivery.
	HTTPClient *http.Client
	// MaxAttempts per delivery (default defaultMaxAttempts, 6), with
	// backoff from RetryBase (default defaultRetryBase, 500ms) doubling up
	// to maxRetryWait (30s).
	MaxAttempts int
	RetryBase   time.Duration
	// Env is where the evaluator logs alerts and failed deliveries, and
	// its clock (lifecycle.Env's defaults).
	Env lifecycle.Env
}

// Evaluator evaluates the rules at every heartbeat interval, keeps the
// alerts that fire, tells its subscribers of every change and, on the
// leader, delivers them to the webhooks. Its lifecycle is a
// lifecycle.Base.
type Evaluator struct {
	lifecycle.Base
	cfg   Config
	rules Rules

	mu        sync.Mutex
	firing    map[string]*Alert
	resolved  []Alert // newest last, at most keepResolved
	finished  []outcome
	pending   map[string]time.Time // PENDING task id -> created at
	busySince map[string]time.Time
	subs      map[chan Alert]struct{}

	deliveries chan Alert
	evaluated  chan struct{} // test hook: signalled after each evaluation
}

type outcome struct {
	at     time.Time
	failed bool
}

const (
	keepResolved  = 50
	maxPendingTrk = 100000
)

// New returns a stopped evaluator.
func New(cfg Config) *Evaluator {
	if cfg.Settings == nil {
		cfg.Settings = archivist.DefaultConfig
	}
	if cfg.IsLeader == nil {
		cfg.IsLeader = func() bool { return true }
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: defaultWebhookTimeout}
	}
	// A webhook URL often carries a token: following a redirect would send
	// the payload elsewhere, and the URL along in Referer. Redirects are
	// answers, not followed (see post).
	hc := *cfg.HTTPClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.HTTPClient = &hc
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = defaultMaxAttempts
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = defaultRetryBase
	}
	cfg.Env = cfg.Env.WithDefaults()
	return &Evaluator{cfg: cfg, rules: cfg.Rules.withDefaults(), firing: map[string]*Alert{},
		pending: map[string]time.Time{}, busySince: map[string]time.Time{}, subs: map[chan Alert]struct{}{},
		deliveries: make(chan Alert, 1024), evaluated: make(chan struct{}, 1)}
}

// Start subscribes to the task events and seeds the pending tasks from
// the store (within ctx), then evaluates, and delivers, in the background
// until Stop. It is idempotent, and a stopped evaluator starts again.
func (e *Evaluator) Start(ctx context.Context) error {
	var sub archivist.Subscription
	return e.Base.Start(ctx, func(run context.Context) (err error) {
		if sub, err = e.cfg.Store.Subscribe(run, 0); err != nil {
			return err
		}
		if err := e.seedPending(ctx); err != nil {
			e.cfg.Env.Logger.Warn("alerts: could not read pending tasks", "err", err)
		}
		return nil
	}, func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() { e.watch(ctx, sub) })
		wg.Go(func() { e.deliver(ctx) })
		e.loop(ctx)
		wg.Wait()
	})
}

// Stop ends evaluation and delivery, waiting for them or for ctx to end
// (then it returns an error, and a later Stop or Start waits again).
// Idempotent.
func (e *Evaluator) Stop(ctx context.Context) error { return e.Base.Stop(ctx) }

func (e *Evaluator) seedPending(ctx context.Context) error {
	after := ""
	for range maxPendingTrk / 500 {
		page, err := e.cfg.Store.ListTasks(ctx, archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Status: []archivist.TaskStatus{archivist.TaskPending}}, First: 500, After: after})
		if err != nil {
			return err
		}
		e.mu.Lock()
		for _, t := range page.Tasks {
			e.pending[t.ID] = t.ReadySince()
		}
		e.mu.Unlock()
		if !page.HasNext {
			return nil
		}
		after = page.EndCursor
	}
	return nil
}

// watch follows task events: finished attempts for the failure rate, and
// which tasks are PENDING since when.
func (e *Evaluator) watch(ctx context.Context, sub archivist.Subscription) {
	for {
		for ev := range sub.C() {
			if ev.Task == nil {
				continue
			}
			t := ev.Task
			e.mu.Lock()
			switch ev.Type {
			case archivist.EventTaskCompleted:
				e.finished = append(e.finished, outcome{ev.Time, false})
			case archivist.EventTaskFailed, archivist.EventTaskTimedOut, archivist.EventTaskRetrying:
				e.finished = append(e.finished, outcome{ev.Time, true})
			}
			if t.Status == archivist.TaskPending {
				if len(e.pending) < maxPendingTrk {
					e.pending[t.ID] = t.ReadySince()
				}
			} else {
				delete(e.pending, t.ID)
			}
			e.mu.Unlock()
		}
		if ctx.Err() != nil {
			return
		}
		var err error
		for {
			if sub, err = e.cfg.Store.Subscribe(ctx, 0); err == nil || ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		if ctx.Err() != nil {
			return
		}
		// Events were missed: read the pending tasks again.
		e.mu.Lock()
		e.pending = map[string]time.Time{}
		e.mu.Unlock()
		_ = e.seedPending(ctx)
	}
}

func (e *Evaluator) loop(ctx context.Context) {
	for {
		iv := e.cfg.Settings().HeartbeatInterval
		if iv <= 0 {
			iv = archivist.DefaultHeartbeatInterval
		}
		t := time.NewTimer(iv)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		e.Evaluate(ctx)
	}
}

// Evaluate checks every rule now and fires or resolves alerts.
func (e *Evaluator) Evaluate(ctx context.Context) {
	defer func() {
		select {
		case e.evaluated <- struct{}{}:
		default:
		}
	}()
	now := e.cfg.Env.Now()
	cfg := e.cfg.Settings()
	nodes, err := e.cfg.Store.ListNodes(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.cfg.Env.Logger.Warn("alerts: list nodes", "err", err)
		}
		return
	}
	// Heartbeats that the store could not take say nothing about the nodes.
	grace := archivist.InHeartbeatGrace(e.cfg.Store, cfg.MissedHeartbeats, cfg.HeartbeatInterval)
	want := map[string]Alert{}
	add := func(rule, subject, severity, msg string, value float64) {
		id := rule + ":" + subject
		want[id] = Alert{ID: id, Rule: rule, Subject: subject, Severity: severity, Message: msg, Value: value}
	}
	e.mu.Lock()
	seen := map[string]bool{}
	for _, n := range nodes {
		seen[n.ID] = true
		status := n.StatusAt(now, cfg.MissedHeartbeats)
		// One interval of slack over the offline rule, so that a heartbeat
		// delayed by a loaded machine does not page anyone.
		if n.Offline(now, cfg.MissedHeartbeats+1) && !e.rules.NodeOfflineOff && !grace {
			silent := now.Sub(n.LastHeartbeat)
			add(RuleNodeOffline, n.ID, "critical",
				fmt.Sprintf("node %s is offline: no heartbeat for %s", n.ID, silent.Round(time.Second)), silent.Seconds())
		}
		if status != archivist.NodeBusy {
			delete(e.busySince, n.ID)
			continue
		}
		since, ok := e.busySince[n.ID]
		if !ok {
			e.busySince[n.ID] = now
			since = now
		}
		if e.rules.BusyFor > 0 && now.Sub(since) >= e.rules.BusyFor {
			add(RuleNodeBusy, n.ID, "warning", fmt.Sprintf("node %s has been BUSY for %s (cpu %.0f%%, memory %.0f%%, load %.2f)",
				n.ID, now.Sub(since).Round(time.Second), n.Health.CPUPercent, n.Health.MemoryPercent, n.Health.Load1), now.Sub(since).Seconds())
		}
	}
	for id := range e.busySince {
		if !seen[id] {
			delete(e.busySince, id)
		}
	}
	// Failure rate over the window.
	cut := now.Add(-e.rules.FailureWindow)
	i := sort.Search(len(e.finished), func(i int) bool { return !e.finished[i].at.Before(cut) })
	e.finished = append(e.finished[:0], e.finished[i:]...)
	failed := 0
	for _, o := range e.finished {
		if o.failed {
			failed++
		}
	}
	if total := len(e.finished); e.rules.FailureRate > 0 && total >= e.rules.FailureMinTasks {
		if rate := 100 * float64(failed) / float64(total); rate > e.rules.FailureRate {
			add(RuleFailureRate, "cluster", "critical", fmt.Sprintf("%.0f%% of %d finished attempts failed in the last %s (limit %.0f%%)",
				rate, total, e.rules.FailureWindow, e.rules.FailureRate), rate)
		}
	}
	// Oldest pending task.
	var oldestID string
	var oldest time.Time
	for id, at := range e.pending {
		if oldestID == "" || at.Before(oldest) {
			oldestID, oldest = id, at
		}
	}
	if e.rules.PendingAge > 0 && oldestID != "" && now.Sub(oldest) > e.rules.PendingAge {
		age := now.Sub(oldest)
		add(RulePendingTooOld, "cluster", "warning", fmt.Sprintf("task %s has been pending for %s (%d tasks pending; limit %s)",
			oldestID, age.Round(time.Second), len(e.pending), e.rules.PendingAge), age.Seconds())
	}
	// Fire what is new, resolve what cleared, refresh the rest.
	var changes []Alert
	for id, a := range want {
		if cur, ok := e.firing[id]; ok {
			cur.Message, cur.Value = a.Message, a.Value
			continue
		}
		a.Status, a.StartedAt = Firing, now
		e.firing[id] = &a
		changes = append(changes, a)
	}
	for id, cur := range e.firing {
		if _, ok := want[id]; ok {
			continue
		}
		r := *cur
		r.Status, r.ResolvedAt = Resolved, now
		delete(e.firing, id)
		e.resolved = append(e.resolved, r)
		if len(e.resolved) > keepResolved {
			e.resolved = e.resolved[len(e.resolved)-keepResolved:]
		}
		changes = append(changes, r)
	}
	e.mu.Unlock()
	for _, a := range changes {
		e.publish(a)
	}
}

// publish tells subscribers and queues the webhook delivery, never
// blocking: a subscriber that is full is dropped.
func (e *Evaluator) publish(a Alert) {
	level := slog.LevelWarn
	if a.Status == Resolved {
		level = slog.LevelInfo
	}
	e.cfg.Env.Logger.Log(context.Background(), level, "alert "+string(a.Status), "rule", a.Rule, "subject", a.Subject, "message", a.Message)
	e.mu.Lock()
	for ch := range e.subs {
		select {
		case ch <- a:
		default:
			delete(e.subs, ch)
			close(ch)
		}
	}
	e.mu.Unlock()
	if len(e.cfg.Webhooks) == 0 {
		return
	}
	select {
	case e.deliveries <- a:
	default:
		e.cfg.Env.Logger.Error("alerts: delivery queue full; alert not sent", "alert", a.ID)
	}
}

// Alerts returns the firing alerts (and, with resolved, the recently
// resolved ones), newest first.
func (e *Evaluator) Alerts(resolved bool) []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Alert, 0, len(e.firing))
	for _, a := range e.firing {
		out = append(out, *a)
	}
	if resolved {
		out = append(out, e.resolved...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].StartedAt, out[j].StartedAt
		if !out[i].ResolvedAt.IsZero() {
			ti = out[i].ResolvedAt
		}
		if !out[j].ResolvedAt.IsZero() {
			tj = out[j].ResolvedAt
		}
		return ti.After(tj)
	})
	return out
}

// Subscribe returns a channel of alert changes, closed when ctx ends or the
// reader falls behind.
func (e *Evaluator) Subscribe(ctx context.Context) <-chan Alert {
	ch := make(chan Alert, 64)
	e.mu.Lock()
	e.subs[ch] = struct{}{}
	e.mu.Unlock()
	context.AfterFunc(ctx, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if _, ok := e.subs[ch]; ok {
			delete(e.subs, ch)
			close(ch)
		}
	})
	return ch
}

// deliver posts alerts to the webhooks while this node leads.
func (e *Evaluator) deliver(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-e.deliveries:
			if !e.cfg.IsLeader() {
				continue
			}
			for _, url := range e.cfg.Webhooks {
				e.post(ctx, url, a)
			}
		}
	}
}

// Payload is what a webhook receives.
type Payload struct {
	Alert Alert `json:"alert"`
	// Source is the node that sent it.
	Source string    `json:"source,omitempty"`
	SentAt time.Time `json:"sentAt"`
}

func (e *Evaluator) post(ctx context.Context, url string, a Alert) {
	body, _ := json.Marshal(Payload{Alert: a, SentAt: e.cfg.Env.Now()})
	wait := e.cfg.RetryBase
	for attempt := 1; attempt <= e.cfg.MaxAttempts; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			e.cfg.Env.Logger.Error("alerts: bad webhook URL", "webhook", RedactWebhook(url))
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.cfg.HTTPClient.Do(req)
		err = withoutURL(err) // its URL may hold a token
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return
			}
			if resp.StatusCode < 400 {
				// Retrying would get the same answer.
				e.cfg.Env.Logger.Error("alerts: webhook delivery failed: the webhook answered with a redirect, which is not followed (the URL may carry a token); configure the final URL",
					"alert", a.ID, "webhook", RedactWebhook(url), "status", resp.StatusCode)
				return
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if ctx.Err() != nil {
			return
		}
		if attempt == e.cfg.MaxAttempts {
			e.cfg.Env.Logger.Error("alerts: webhook delivery failed; giving up", "alert", a.ID, "webhook", RedactWebhook(url), "attempts", attempt, "err", err)
			return
		}
		e.cfg.Env.Logger.Warn("alerts: webhook delivery failed; retrying", "alert", a.ID, "webhook", RedactWebhook(url), "attempt", attempt, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, maxRetryWait)
	}
}
