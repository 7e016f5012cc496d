package health

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"time"

	archivist "github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/lifecycle"
)

// DefaultInterval is how often a Monitor samples unless told otherwise.
const DefaultInterval = 2 * time.Second

// errLogEvery is how often a failing sampler is logged at most; the failures
// in between are counted and reported with the next line.
const errLogEvery = time.Minute

// MonitorConfig configures a Monitor. Zero values mean the documented
// defaults.
type MonitorConfig struct {
	// Sampler takes the samples. Default: a SystemSampler using Env.Now.
	Sampler Sampler
	// Interval between samples. Default: DefaultInterval.
	Interval time.Duration
	// Thresholds that make the node busy; a zero field disables that
	// threshold, so the zero value never makes the node busy.
	Thresholds archivist.Thresholds
	// Hysteresis is how far under a threshold a busy node must fall before
	// it recovers; see Evaluate. Default: archivist.DefaultHysteresis. A
	// negative value turns hysteresis off.
	Hysteresis float64
	// Cores divides Load1 before it is compared with Thresholds.Load1.
	// Default: runtime.NumCPU().
	Cores int
	// Env is where busy/recovered transitions and sampling failures are
	// logged, and the clock (lifecycle.Env's defaults).
	Env lifecycle.Env
	// OnChange, when set, is called with the newest sample and busy state
	// after every sample, and after SetThresholds when it changes the busy
	// state. It is never called while the Monitor holds a lock, so it may
	// call Current, SetThresholds and SetInterval; it must not call Stop.
	// Calls never overlap and the last call always carries the newest state:
	// samples taken while a call is running are folded into one more call.
	// It runs on the Monitor's goroutine or on the goroutine that called
	// Start or SetThresholds, so it should return quickly.
	OnChange func(h archivist.Health, busy bool)
}

// Monitor samples the node's health on an interval and keeps the newest
// sample together with the busy decision that Evaluate makes from it.
// Its methods are safe for concurrent use. Its lifecycle is a
// lifecycle.Base: Start is idempotent, and a stopped Monitor starts again.
type Monitor struct {
	lifecycle.Base
	sampler    Sampler
	hysteresis float64
	cores      int
	log        *slog.Logger
	now        func() time.Time
	onChange   func(archivist.Health, bool)

	// wake tells the loop that the interval changed. Buffered to one so
	// that SetInterval never blocks and changes coalesce.
	wake chan struct{}

	mu         sync.Mutex
	interval   time.Duration
	thresholds archivist.Thresholds
	health     archivist.Health
	sampled    bool // health holds a real sample
	busy       bool
	pending    bool // state changed since OnChange last saw it
	delivering bool // a goroutine is calling OnChange
	failures   int  // consecutive sampling failures
	suppressed int  // failures not logged since the last logged one
	loggedRun  bool // a failure of the current run was logged
	lastErrLog time.Time
}

// NewMonitor returns a stopped Monitor; Start starts it.
func NewMonitor(cfg MonitorConfig) *Monitor {
	env := cfg.Env.WithDefaults()
	m := &Monitor{
		sampler:    cfg.Sampler,
		hysteresis: cfg.Hysteresis,
		cores:      cfg.Cores,
		log:        env.Logger,
		now:        env.Now,
		onChange:   cfg.OnChange,
		wake:       make(chan struct{}, 1),
		interval:   cfg.Interval,
		thresholds: cfg.Thresholds,
	}
	if m.sampler == nil {
		m.sampler = NewSystemSampler(m.now)
	}
	switch {
	case m.hysteresis == 0:
		m.hysteresis = archivist.DefaultHysteresis
	case m.hysteresis < 0:
		m.hysteresis = 0
	}
	if m.cores <= 0 {
		m.cores = runtime.NumCPU()
	}
	if m.interval <= 0 {
		m.interval = DefaultInterval
	}
	return m
}

// Start takes a first sample, so that Current is filled when Start returns
// (unless that sample fails, which is logged like any other failure), and
// then samples every interval until Stop. ctx bounds only the first sample;
// cancelling it later does not stop the Monitor. Calling Start on a running
// Monitor does nothing; a stopped Monitor starts again.
func (m *Monitor) Start(ctx context.Context) error {
	recorded := false
	err := m.Base.Start(ctx, func(run context.Context) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The first sample ends with ctx, or with a Stop meanwhile.
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(run, cancel)()
		recorded = m.sample(sctx)
		return nil
	}, m.run)
	if recorded {
		m.deliver() // outside Base's start, as OnChange may call back
	}
	return err
}

// Stop stops sampling and waits for the Monitor's goroutine to return, or
// for ctx to be done, in which case it returns an error wrapping ctx's
// cause, and a later Stop (or Start) waits again. Current keeps the last
// sample. Calling Stop on a stopped Monitor does nothing.
func (m *Monitor) Stop(ctx context.Context) error { return m.Base.Stop(ctx) }

// Current returns the newest sample and whether the node is busy. Before the
// first successful sample it returns the zero Health and false.
func (m *Monitor) Current() (h archivist.Health, busy bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.health, m.busy
}

// SetThresholds replaces the thresholds. The newest sample is evaluated
// against them at once (so Current reflects them when SetThresholds
// returns), and OnChange is called if that changes the busy state.
func (m *Monitor) SetThresholds(t archivist.Thresholds) {
	m.mu.Lock()
	m.thresholds = t
	if !m.sampled {
		m.mu.Unlock()
		return
	}
	tr := m.evaluateLocked()
	m.mu.Unlock()
	m.logTransition(tr)
	if tr.changed {
		m.deliver()
	}
}

// SetInterval changes the sampling interval; d <= 0 means DefaultInterval.
// A running Monitor switches to it at once.
func (m *Monitor) SetInterval(d time.Duration) {
	if d <= 0 {
		d = DefaultInterval
	}
	m.mu.Lock()
	m.interval = d
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Monitor) run(ctx context.Context) {
	iv := m.currentInterval()
	ticker := time.NewTicker(iv)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
			if next := m.currentInterval(); next != iv {
				iv = next
				ticker.Reset(iv)
			}
		case <-ticker.C:
			if m.sample(ctx) {
				m.deliver()
			}
		}
	}
}

func (m *Monitor) currentInterval() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.interval
}

// sample takes one sample and records it. A failure is logged and keeps the
// previous sample. It reports whether a sample was recorded; the caller
// then calls deliver, outside any lock.
func (m *Monitor) sample(ctx context.Context) bool {
	h, err := m.sampler.Sample(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.sampleFailed(err)
		}
		return false
	}
	if h.SampledAt.IsZero() {
		h.SampledAt = m.now()
	}

	m.mu.Lock()
	m.health, m.sampled = h, true
	recovered := m.failures
	if !m.loggedRun {
		recovered = 0 // its failures were never reported, nor is its end
	}
	m.failures, m.suppressed, m.loggedRun = 0, 0, false
	tr := m.evaluateLocked()
	m.pending = true
	m.mu.Unlock()

	if recovered > 0 {
		m.log.Info("health sampling recovered", "failures", recovered)
	}
	m.logTransition(tr)
	return true
}

func (m *Monitor) sampleFailed(err error) {
	now := m.now()
	m.mu.Lock()
	m.failures++
	failures := m.failures
	logIt := m.lastErrLog.IsZero() || now.Sub(m.lastErrLog) >= errLogEvery
	suppressed := m.suppressed
	if logIt {
		m.lastErrLog, m.suppressed, m.loggedRun = now, 0, true
	} else {
		m.suppressed++
	}
	m.mu.Unlock()
	if logIt {
		m.log.Warn("health sample failed, keeping the previous one",
			"err", err, "failures", failures, "suppressed", suppressed)
	}
}

// transition is the outcome of one evaluation, logged outside the lock.
type transition struct {
	changed bool
	busy    bool
	reason  string
	health  archivist.Health
}

func (m *Monitor) evaluateLocked() transition {
	busy, reason := Evaluate(m.busy, m.health, m.thresholds, m.hysteresis, m.cores)
	tr := transition{changed: busy != m.busy, busy: busy, reason: reason, health: m.health}
	if tr.changed {
		m.busy = busy
		m.pending = true
	}
	return tr
}

func (m *Monitor) logTransition(tr transition) {
	if !tr.changed {
		return
	}
	attrs := []any{
		"cpu", tr.health.CPUPercent,
		"memory", tr.health.MemoryPercent,
		"load1", tr.health.Load1,
		"cores", m.cores,
	}
	if tr.busy {
		m.log.Info("node busy: "+tr.reason, attrs...)
	} else {
		m.log.Info("node recovered", attrs...)
	}
}

// deliver calls OnChange until it has seen the newest state. Only one
// goroutine delivers at a time; another one finding it busy leaves its
// change pending for it, so calls never overlap and never go stale.
func (m *Monitor) deliver() {
	if m.onChange == nil {
		return
	}
	m.mu.Lock()
	if m.delivering {
		m.mu.Unlock()
		return
	}
	m.delivering = true
	for m.pending {
		m.pending = false
		h, busy := m.health, m.busy
		m.mu.Unlock()
		m.call(h, busy)
		m.mu.Lock()
	}
	m.delivering = false
	m.mu.Unlock()
}

// call runs OnChange; if it panics, the delivering flag is released before
// the panic goes on, so that later changes are still delivered.
func (m *Monitor) call(h archivist.Health, busy bool) {
	ok := false
	defer func() {
		if !ok {
			m.mu.Lock()
			m.delivering = false
			m.mu.Unlock()
		}
	}()
	m.onChange(h, busy)
	ok = true
}
