// Package lifecycle is how every background part of a node starts and
// stops: the server, the heartbeat, mDNS, the alert evaluator, the elector,
// the scheduler, the worker pool and the health monitor all embed a Base,
// and app.Main runs them as a Group, started in order and stopped in
// reverse.
//
// A Base gives a part the same semantics everywhere:
//
//   - Start is idempotent: while a run is under way it returns nil at once.
//   - A part can be started again after Stop (a node that changes role
//     stops its scheduler and later starts it again).
//   - The run lives until Stop, not until the context given to Start ends;
//     it keeps that context's values.
//   - Stop is idempotent and bounded by its context: it cancels the run and
//     waits for it to return, or for ctx to end (then it returns an error
//     and the run goes on winding down; a later Stop or Start waits for it).
//   - Started and Stopped are signals tests and callers wait on instead of
//     sleeping.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Service is a part that runs in the background between Start and Stop.
type Service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// ErrStopped is the cause of a run's context once Stop was called.
var ErrStopped = errors.New("stopped")

// run is one Start..Stop cycle of a Base.
type run struct {
	cancel  context.CancelCauseFunc
	stopped chan struct{} // closed when the run (or its failed start) returned
}

// Base is the start/stop state of one part. The zero value is ready; embed
// it (or hold it) and call its Start from the part's own Start.
type Base struct {
	mu      sync.Mutex
	cur     *run          // the run under way; nil when stopped
	last    *run          // the most recent run, to wait for its end
	started chan struct{} // closed while a run is under way (made lazily)
}

// Start begins a run. init, when not nil, runs first and synchronously with
// the run's context: its error is returned and nothing runs. Then run is
// called in a goroutine of its own; the run ends when run returns, which it
// must do soon after its context is cancelled (by Stop).
//
// While a run is under way Start returns nil and does nothing. If a
// previous run is still winding down (a Stop that gave up waiting), Start
// first waits for it, within ctx.
func (b *Base) Start(ctx context.Context, init func(context.Context) error, fn func(context.Context)) error {
	b.mu.Lock()
	if b.cur != nil {
		b.mu.Unlock()
		return nil
	}
	prev := b.last
	rctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	r := &run{cancel: cancel, stopped: make(chan struct{})}
	b.cur, b.last = r, r
	b.mu.Unlock()

	fail := func(err error) error {
		cancel(ErrStopped)
		b.mu.Lock()
		if b.cur == r {
			b.cur = nil
		}
		if b.last == r && prev != nil {
			// The previous run may still be winding down: Stop and
			// Stopped go on waiting for it, not for this run that never was.
			b.last = prev
		}
		b.mu.Unlock()
		close(r.stopped)
		return err
	}
	if prev != nil {
		select {
		case <-prev.stopped:
		default:
			select {
			case <-prev.stopped:
			case <-ctx.Done():
				return fail(fmt.Errorf("previous run still stopping: %w", context.Cause(ctx)))
			case <-rctx.Done():
				return fail(ErrStopped)
			}
		}
	}
	if init != nil {
		if err := init(rctx); err != nil {
			return fail(err)
		}
	}
	b.mu.Lock()
	if b.cur != r { // Stop came while init ran
		b.mu.Unlock()
		return fail(ErrStopped)
	}
	b.startedLocked()
	b.mu.Unlock()
	go func() {
		defer close(r.stopped)
		fn(rctx)
	}()
	return nil
}

// startedLocked closes the Started channel.
func (b *Base) startedLocked() {
	if b.started == nil {
		b.started = make(chan struct{})
	}
	select {
	case <-b.started:
	default:
		close(b.started)
	}
}

// Stop cancels the run under way and waits for it to return, or for ctx to
// end: then it returns an error wrapping ctx's cause, and the run goes on
// winding down. Stopping a stopped part returns nil once its last run has
// returned.
func (b *Base) Stop(ctx context.Context) error {
	b.mu.Lock()
	r := b.last
	if b.cur != nil {
		b.cur.cancel(ErrStopped)
		b.cur = nil
		if b.started != nil {
			select {
			case <-b.started:
				b.started = nil // a later Started waits for the next run
			default:
			}
		}
	}
	b.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("still stopping: %w", context.Cause(ctx))
	}
}

// Started is closed once a run is under way (Start's init succeeded). After
// Stop, a new call returns a channel for the next run.
func (b *Base) Started() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started == nil {
		b.started = make(chan struct{})
	}
	return b.started
}

// Stopped is closed once the most recent run has returned; before the
// first Start it is closed already.
func (b *Base) Stopped() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return b.last.stopped
}

// Running reports whether a run is under way (started and not stopped).
func (b *Base) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur != nil
}

// Env is what every part shares: where it logs and what time it is. The
// zero value logs nowhere and uses the wall clock; tests give a fake Now.
type Env struct {
	Logger *slog.Logger
	Now    func() time.Time
}

// discard logs nothing.
var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// WithDefaults fills what is not set: a logger that discards and time.Now.
func (e Env) WithDefaults() Env {
	if e.Logger == nil {
		e.Logger = discard
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	return e
}

// Group runs services in the order they were added and stops them in
// reverse: Main's list of what a node is made of.
type Group struct {
	mu      sync.Mutex
	entries []entry
	started int // how many of entries were started
}

type entry struct {
	name string
	svc  Service
}

// Add appends a service under a name used in errors.
func (g *Group) Add(name string, s Service) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.entries = append(g.entries, entry{name, s})
}

// Start starts the services not started yet, in order. When one fails, it
// returns "start NAME: err" and leaves the ones started running: Stop stops
// them.
func (g *Group) Start(ctx context.Context) error {
	for {
		g.mu.Lock()
		if g.started == len(g.entries) {
			g.mu.Unlock()
			return nil
		}
		e := g.entries[g.started]
		g.mu.Unlock()
		if err := e.svc.Start(ctx); err != nil {
			return fmt.Errorf("start %s: %w", e.name, err)
		}
		g.mu.Lock()
		g.started++
		g.mu.Unlock()
	}
}

// Stop stops the started services in reverse order, each within ctx, and
// joins their errors ("stop NAME: err"). Idempotent; Start starts them
// again.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	started := g.entries[:g.started]
	g.started = 0
	g.mu.Unlock()
	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		if err := started[i].svc.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", started[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// Funcs makes a Service of two functions: a step of Main that is not a
// part of its own (nil means nothing to do).
func Funcs(start, stop func(context.Context) error) Service {
	return funcs{start, stop}
}

type funcs struct{ start, stop func(context.Context) error }

func (f funcs) Start(ctx context.Context) error {
	if f.start == nil {
		return nil
	}
	return f.start(ctx)
}

func (f funcs) Stop(ctx context.Context) error {
	if f.stop == nil {
		return nil
	}
	return f.stop(ctx)
}
