package health

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	archivist "github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/lifecycle"
)

// wait bounds every wait on a signal, so a broken Monitor fails a test
// instead of hanging it.
const wait = 5 * time.Second

// result is one scripted answer of a fakeSampler.
type result struct {
	h   archivist.Health
	err error
	// before, if set, runs when the Monitor asks for this sample, that is
	// once it has finished with the previous one.
	before func()
}

// fakeSampler answers each Sample with the next value fed to it. The feed is
// unbuffered, so a completed feed means the Monitor is taking that sample,
// and the next feed completes only once the Monitor has finished with it.
type fakeSampler struct {
	next chan result
}

func newFakeSampler() *fakeSampler { return &fakeSampler{next: make(chan result)} }

func (f *fakeSampler) Sample(ctx context.Context) (archivist.Health, error) {
	select {
	case r := <-f.next:
		if r.before != nil {
			r.before()
		}
		return r.h, r.err
	case <-ctx.Done():
		return archivist.Health{}, ctx.Err()
	}
}

func (f *fakeSampler) feed(t *testing.T, h archivist.Health) {
	t.Helper()
	f.send(t, result{h: h})
}

func (f *fakeSampler) fail(t *testing.T, err error) {
	t.Helper()
	f.send(t, result{err: err})
}

func (f *fakeSampler) send(t *testing.T, r result) {
	t.Helper()
	select {
	case f.next <- r:
	case <-time.After(wait):
		t.Fatalf("the monitor did not ask for a sample within %s", wait)
	}
}

// change is one OnChange call.
type change struct {
	h    archivist.Health
	busy bool
}

// fakeClock is a settable clock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// logBuffer collects log output from any goroutine.
type logBuffer struct{ testkit.Buffer }

// lines are the lines logged that contain substr.
func (b *logBuffer) lines(substr string) []string {
	var out []string
	for line := range strings.Lines(b.String()) {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// bundle is what setup returns.
type bundle struct {
	monitor *Monitor
	sampler *fakeSampler
	clock   *fakeClock
	logs    *logBuffer
	changes chan change
}

// setup returns a stopped Monitor on a fakeSampler, sampling every
// millisecond (so it asks for a sample as soon as it is ready), with its
// OnChange calls on bundle.changes. Stop is registered as a cleanup.
// edit may adjust the config before the Monitor is made.
func setup(t *testing.T, edit func(*MonitorConfig)) *bundle {
	t.Helper()
	b := &bundle{
		sampler: newFakeSampler(),
		clock:   newFakeClock(),
		logs:    &logBuffer{},
		changes: make(chan change, 64),
	}
	cfg := MonitorConfig{
		Sampler:    b.sampler,
		Interval:   time.Millisecond,
		Thresholds: archivist.Thresholds{CPUPercent: 90, MemoryPercent: 90},
		Cores:      1,
		Env:        lifecycle.Env{Logger: slog.New(slog.NewTextHandler(b.logs, nil)), Now: b.clock.Now},
		OnChange:   func(h archivist.Health, busy bool) { b.changes <- change{h, busy} },
	}
	if edit != nil {
		edit(&cfg)
	}
	b.monitor = NewMonitor(cfg)
	t.Cleanup(func() { stop(t, b.monitor) })
	return b
}

// stop stops m, failing the test if that takes longer than wait.
func stop(t *testing.T, m *Monitor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := m.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// start starts the Monitor, feeding it first as its synchronous sample.
func (b *bundle) start(t *testing.T, first archivist.Health) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- b.monitor.Start(context.Background()) }()
	b.sampler.feed(t, first)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
	case <-time.After(wait):
		t.Fatalf("Start did not return within %s", wait)
	}
}

// expect waits for the next OnChange call and checks it.
func (b *bundle) expect(t *testing.T, cpu float64, busy bool) change {
	t.Helper()
	select {
	case c := <-b.changes:
		if c.h.CPUPercent != cpu || c.busy != busy {
			t.Fatalf("OnChange(cpu %.1f, busy %v), want (cpu %.1f, busy %v)", c.h.CPUPercent, c.busy, cpu, busy)
		}
		return c
	case <-time.After(wait):
		t.Fatalf("no OnChange within %s, want (cpu %.1f, busy %v)", wait, cpu, busy)
		return change{}
	}
}

// expectCurrent checks Current.
func (b *bundle) expectCurrent(t *testing.T, cpu float64, busy bool) {
	t.Helper()
	h, gotBusy := b.monitor.Current()
	if h.CPUPercent != cpu || gotBusy != busy {
		t.Fatalf("Current() = (cpu %.1f, busy %v), want (cpu %.1f, busy %v)", h.CPUPercent, gotBusy, cpu, busy)
	}
}

func cpuAt(pct float64) archivist.Health { return archivist.Health{CPUPercent: pct, MemoryPercent: 40} }

func TestMonitorGoesBusyAndRecovers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, nil)

		b.start(t, cpuAt(50))
		b.expectCurrent(t, 50, false) // filled by Start itself
		c := b.expect(t, 50, false)
		if want := b.clock.Now(); !c.h.SampledAt.Equal(want) {
			t.Errorf("SampledAt = %v, want the injected clock's %v", c.h.SampledAt, want)
		}

		for _, step := range []struct {
			cpu  float64
			busy bool
		}{
			{95, true},  // over 90
			{85, true},  // inside the band 80..90
			{80, true},  // at its lower edge
			{79, false}, // below it
			{85, false}, // inside the band again, but not over the threshold
			{91, true},
		} {
			b.sampler.feed(t, cpuAt(step.cpu))
			b.expect(t, step.cpu, step.busy)
			b.expectCurrent(t, step.cpu, step.busy)
		}

		if got := b.logs.lines(`msg="node busy: cpu 95.0% > 90.0%"`); len(got) != 1 {
			t.Errorf("want one busy line for 95%%, got %q", got)
		}
		if got := b.logs.lines(`msg="node busy: cpu 91.0% > 90.0%"`); len(got) != 1 {
			t.Errorf("want one busy line for 91%%, got %q", got)
		}
		if got := b.logs.lines(`msg="node recovered"`); len(got) != 1 {
			t.Errorf("want one recovered line, got %q", got)
		}
		if got := b.logs.lines("level=INFO"); len(got) != 3 {
			t.Errorf("want exactly the 3 transitions logged, got %q", got)
		}
	})
}

func TestMonitorLoadThresholdIsPerCore(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, func(cfg *MonitorConfig) {
			cfg.Thresholds = archivist.Thresholds{Load1: 1}
			cfg.Cores = 4
		})
		b.start(t, archivist.Health{Load1: 3.9})
		b.expect(t, 0, false)
		b.sampler.feed(t, archivist.Health{Load1: 4.1})
		b.expect(t, 0, true)
		if got := b.logs.lines(`msg="node busy: load1/core 1.02 > 1.00"`); len(got) != 1 {
			t.Errorf("want one busy line naming the per-core load, got %q", got)
		}
	})
}

func TestMonitorSetThresholdsReevaluates(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, nil)

		// Before any sample there is nothing to evaluate and nothing to report.
		b.monitor.SetThresholds(archivist.Thresholds{CPUPercent: 90})
		b.expectCurrent(t, 0, false)

		b.start(t, cpuAt(50))
		b.expect(t, 50, false)

		// Lowered under the last sample: busy at once, without a new sample
		// (the fake sampler is not fed, so none can be taken).
		b.monitor.SetThresholds(archivist.Thresholds{CPUPercent: 40})
		b.expectCurrent(t, 50, true)
		b.expect(t, 50, true)

		// Raised: the band is under the threshold now in force (recovery below
		// 55 for 65), and 50 is below it.
		b.monitor.SetThresholds(archivist.Thresholds{CPUPercent: 65})
		b.expectCurrent(t, 50, false)
		b.expect(t, 50, false)

		// A change that leaves the decision alone calls nobody: the next call
		// is the next sample's.
		b.monitor.SetThresholds(archivist.Thresholds{CPUPercent: 95})
		b.expectCurrent(t, 50, false)
		b.sampler.feed(t, cpuAt(93))
		b.expect(t, 93, false) // 93 is under the new 95

		b.monitor.SetThresholds(archivist.Thresholds{}) // all disabled
		b.sampler.feed(t, cpuAt(100))
		b.expect(t, 100, false)
	})
}

func TestMonitorOnChangeMayCallBack(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var m *Monitor
		changes := make(chan change, 64)
		fake := newFakeSampler()
		m = NewMonitor(MonitorConfig{
			Sampler:    fake,
			Interval:   time.Millisecond,
			Thresholds: archivist.Thresholds{CPUPercent: 90},
			Env:        lifecycle.Env{Logger: slog.New(slog.DiscardHandler)},
			OnChange: func(h archivist.Health, busy bool) {
				changes <- change{h, busy}
				m.Current()
				if !busy {
					// Re-entrant: the change this makes is delivered by this
					// same delivery loop once this call returns.
					m.SetThresholds(archivist.Thresholds{CPUPercent: 10})
				}
			},
		})
		t.Cleanup(func() { stop(t, m) })
		b := &bundle{monitor: m, sampler: fake, changes: changes}

		b.start(t, cpuAt(50))
		b.expect(t, 50, false)
		b.expect(t, 50, true)
		b.expectCurrent(t, 50, true)
	})
}

func TestMonitorKeepsPreviousSampleOnError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, nil)
		b.start(t, cpuAt(95))
		b.expect(t, 95, true)

		boom := errors.New("boom")
		b.sampler.fail(t, boom)
		b.sampler.fail(t, boom) // completes only once the first failure is handled
		b.expectCurrent(t, 95, true)

		b.sampler.send(t, result{err: boom, before: func() { b.clock.Advance(errLogEvery) }})
		b.sampler.feed(t, cpuAt(50))
		// No OnChange for the failures: the next call is the next good sample.
		b.expect(t, 50, false)

		failed := b.logs.lines("health sample failed")
		if len(failed) != 2 {
			t.Fatalf("want 2 failure lines (the second failure rate-limited), got %q", failed)
		}
		if !strings.Contains(failed[0], "err=boom") || !strings.Contains(failed[0], "suppressed=0") {
			t.Errorf("first failure line = %q, want err=boom suppressed=0", failed[0])
		}
		if !strings.Contains(failed[1], "failures=3") || !strings.Contains(failed[1], "suppressed=1") {
			t.Errorf("second failure line = %q, want failures=3 suppressed=1", failed[1])
		}
		if got := b.logs.lines(`msg="health sampling recovered" failures=3`); len(got) != 1 {
			t.Errorf("want one recovery line with failures=3, got %q", got)
		}

		// Within the window again: this run is neither logged nor is its end.
		b.sampler.fail(t, boom)
		b.sampler.feed(t, cpuAt(51))
		b.expect(t, 51, false)
		if got := b.logs.lines("health sample failed"); len(got) != 2 {
			t.Errorf("a rate-limited failure was logged: %q", got)
		}
		if got := b.logs.lines("health sampling recovered"); len(got) != 1 {
			t.Errorf("the end of an unlogged failure run was logged: %q", got)
		}
	})
}

func TestMonitorStartFailureKeepsRunning(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, nil)
		errc := make(chan error, 1)
		go func() { errc <- b.monitor.Start(context.Background()) }()
		b.sampler.fail(t, errors.New("boom"))
		if err := <-errc; err != nil {
			t.Fatalf("Start: %v", err)
		}
		b.expectCurrent(t, 0, false)
		b.sampler.feed(t, cpuAt(99))
		b.expect(t, 99, true)
	})
}

func TestMonitorSetInterval(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, func(cfg *MonitorConfig) { cfg.Interval = time.Hour })
		b.start(t, cpuAt(50))
		b.expect(t, 50, false)
		// At an hour the monitor would not ask again within the test's wait;
		// it does once the interval is changed.
		b.monitor.SetInterval(time.Millisecond)
		b.sampler.feed(t, cpuAt(60))
		b.expect(t, 60, false)
	})
}

func TestMonitorDefaults(t *testing.T) {
	t.Parallel()
	m := NewMonitor(MonitorConfig{Sampler: newFakeSampler()})
	if m.interval != DefaultInterval {
		t.Errorf("interval = %s, want %s", m.interval, DefaultInterval)
	}
	if m.hysteresis != archivist.DefaultHysteresis {
		t.Errorf("hysteresis = %v, want %v", m.hysteresis, archivist.DefaultHysteresis)
	}
	if m.cores != runtime.NumCPU() {
		t.Errorf("cores = %d, want %d", m.cores, runtime.NumCPU())
	}
	if m.log == nil || m.now == nil {
		t.Error("logger or clock not defaulted")
	}
	if m := NewMonitor(MonitorConfig{Sampler: newFakeSampler(), Hysteresis: -1}); m.hysteresis != 0 {
		t.Errorf("negative hysteresis = %v, want 0 (off)", m.hysteresis)
	}
	if _, ok := NewMonitor(MonitorConfig{}).sampler.(*SystemSampler); !ok {
		t.Error("default sampler is not a SystemSampler")
	}
	m.SetInterval(0)
	if m.interval != DefaultInterval {
		t.Errorf("SetInterval(0) gave %s, want %s", m.interval, DefaultInterval)
	}
}

// TestMonitorConcurrentUse is for the race detector: readers and writers
// while samples flow, and OnChange calls never overlapping.
func TestMonitorConcurrentUse(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	var inFlight atomic.Int32
	enough := make(chan struct{})
	m := NewMonitor(MonitorConfig{
		Sampler: SamplerFunc(func(context.Context) (archivist.Health, error) {
			i := n.Add(1)
			if i%7 == 0 {
				return archivist.Health{}, errors.New("every seventh fails")
			}
			return archivist.Health{CPUPercent: float64(i % 100)}, nil
		}),
		Interval:   time.Millisecond,
		Thresholds: archivist.Thresholds{CPUPercent: 50},
		Env:        lifecycle.Env{Logger: slog.New(slog.DiscardHandler)},
		OnChange: func(archivist.Health, bool) {
			if inFlight.Add(1) != 1 {
				t.Error("OnChange calls overlap")
			}
			if n.Load() > 200 {
				select {
				case <-enough:
				default:
					close(enough)
				}
			}
			inFlight.Add(-1)
		},
	})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	quit := make(chan struct{})
	for i := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-quit:
					return
				default:
				}
				m.Current()
				m.SetThresholds(archivist.Thresholds{CPUPercent: float64(30 + 10*i)})
				// The same interval each time: a new one restarts the
				// ticker, and constant restarts would starve the samples.
				m.SetInterval(time.Millisecond)
				runtime.Gosched()
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(wait):
		t.Error("too few samples")
	}
	close(quit)
	wg.Wait()
	stop(t, m)
}

// On synctest's fake clock: Start is idempotent (one first sample, one
// loop sampling every interval), Started and Stopped signal, a stopped
// Monitor samples no more and starts again, and Stop is bounded by its
// context when the sampler hangs. (The goroutine-counting tests below check
// the same without a bubble.)
func TestMonitorLifecycleOnFakeClock(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var samples atomic.Int32
		var stuck atomic.Bool
		release := make(chan struct{})
		m := NewMonitor(MonitorConfig{
			// Ignores its context once stuck: a hung sampler.
			Sampler: SamplerFunc(func(context.Context) (archivist.Health, error) {
				samples.Add(1)
				if stuck.Load() {
					<-release
				}
				return cpuAt(10), nil
			}),
			Interval: 2 * time.Second,
			Env:      lifecycle.Env{Logger: slog.New(slog.DiscardHandler)},
		})
		started := m.Started()
		for range 3 {
			if err := m.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
		}
		<-started
		if got := samples.Load(); got != 1 {
			t.Fatalf("three Starts took %d samples, want 1", got)
		}
		time.Sleep(3 * 2 * time.Second)
		synctest.Wait()
		if got := samples.Load(); got != 4 {
			t.Fatalf("after three intervals, %d samples, want 4 (one loop)", got)
		}

		stop(t, m)
		<-m.Stopped()
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := samples.Load(); got != 4 {
			t.Fatalf("a stopped Monitor went on sampling: %d samples, want 4", got)
		}

		if err := m.Start(t.Context()); err != nil {
			t.Fatalf("Start after Stop: %v", err)
		}
		<-m.Started()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := samples.Load(); got != 6 {
			t.Fatalf("a restarted Monitor took %d samples in all, want 6", got)
		}

		stuck.Store(true)
		time.Sleep(2 * time.Second) // the next sample hangs
		synctest.Wait()
		testkit.StopGivesUp(t, m.Stop, time.Second, "the sampler stuck")
		close(release)
		stop(t, m)
	})
}

// The tests below count goroutines, so they do not run in parallel (parallel
// tests start only after every sequential one has finished).

func TestMonitorStartStopIdempotent(t *testing.T) {
	before := runtime.NumGoroutine()
	b := setup(t, nil)

	stop(t, b.monitor) // before Start
	b.start(t, cpuAt(50))
	b.expect(t, 50, false)
	waitGoroutines(t, before+1) // the sampling loop only

	// On a running Monitor Start does nothing: no sample (the fake is not
	// fed; a sample would block on the cancelled context and fail), no
	// second loop, not even a look at the context.
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.monitor.Start(canceled); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	waitGoroutines(t, before+1)

	stop(t, b.monitor)
	stop(t, b.monitor)
	waitGoroutines(t, before)
	b.expectCurrent(t, 50, false) // Stop keeps the last sample

	// A stopped Monitor starts again.
	b.start(t, cpuAt(95))
	b.expect(t, 95, true)
	stop(t, b.monitor)
	waitGoroutines(t, before)

	// A stopped Monitor refuses a dead context.
	if err := b.monitor.Start(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with a cancelled context = %v, want context.Canceled", err)
	}
	waitGoroutines(t, before)
}

func TestMonitorStopGivesUpAndRetries(t *testing.T) {
	before := runtime.NumGoroutine()
	var calls atomic.Int32
	entered := make(chan struct{})
	release := make(chan struct{})
	m := NewMonitor(MonitorConfig{
		// Ignores its context: the first call answers, the second blocks
		// until released.
		Sampler: SamplerFunc(func(context.Context) (archivist.Health, error) {
			if calls.Add(1) == 2 {
				close(entered)
				<-release
			}
			return cpuAt(10), nil
		}),
		Interval: time.Millisecond,
		Env:      lifecycle.Env{Logger: slog.New(slog.DiscardHandler)},
	})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatal("the loop never sampled")
	}

	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Stop(expired); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with the loop stuck = %v, want context.Canceled", err)
	}
	// Start during a stop that gave up must not pretend to be running,
	// nor start a second loop: it waits for the old one, here in vain.
	if err := m.Start(expired); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start while stopping = %v, want context.Canceled", err)
	}

	close(release)
	stop(t, m)
	waitGoroutines(t, before)
}

// waitGoroutines waits, briefly, for the goroutine count to come down to
// want: goroutines that have been told to end take a moment to be gone.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := runtime.NumGoroutine()
		if got <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d:\n%s", got, want, buf)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
