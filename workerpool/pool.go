// Package workerpool runs tasks on this node: it claims the tasks the leader
// assigned here, as many as it has free workers, runs each attempt under a
// deadline with the handler of its type, turns a handler panic into a failed
// attempt, reports progress, stops attempts whose cancellation was
// requested, and on shutdown puts unfinished tasks back.
//
// With fault tolerance off (archivist.Config.FaultTolerance) no task runs
// twice: a failed attempt is not retried, and an attempt the pool cannot
// see through to its end is failed rather than put back: one a previous
// process of this node left running (a crash or restart mid-task), one
// whose outcome it could not record, and one still running when a
// shutdown's grace runs out. Only a task it claimed and never started (the
// claim's reply was lost) is put back. A handler panic fails its
// attempt either way; the worker goroutine is replaced (each attempt runs
// in its own), so the pool never shrinks.
package workerpool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/tracing"
)

// Defaults of the Config fields left zero.
const (
	// DefaultLeaseGrace: a lease outlasts the task's timeout by this much.
	DefaultLeaseGrace = 5 * time.Second
	// DefaultShutdownGrace is how long running attempts may finish once
	// Stop is called.
	DefaultShutdownGrace = 30 * time.Second
	// DefaultPollInterval is the safety-net claim interval.
	DefaultPollInterval = time.Second
	// DefaultOrphanCheck is how often orphans are looked for.
	DefaultOrphanCheck = 10 * time.Second
)

// Config configures a Pool. Zero values mean the defaults.
type Config struct {
	Store    archivist.Store
	Registry *archivist.Registry
	NodeID   string
	// Workers is how many attempts run at once (default
	// archivist.DefaultWorkers).
	Workers int
	// LeaseGrace is added to a task's timeout for its lease, so that the
	// worker's own deadline fires first (default DefaultLeaseGrace).
	LeaseGrace time.Duration
	// ShutdownGrace is how long Stop waits for running attempts before it
	// stops them and puts their tasks back, or fails them when fault
	// tolerance is off (default DefaultShutdownGrace).
	ShutdownGrace time.Duration
	// Settings returns the cluster configuration (retry policy; default
	// archivist.DefaultConfig).
	Settings func() archivist.Config
	// PollInterval is the safety-net claim interval in case a wake-up was
	// missed (default DefaultPollInterval).
	PollInterval time.Duration
	// OrphanCheck is how often the pool looks for tasks the store shows
	// IN_PROGRESS here that it is not running, and puts them back (default
	// DefaultOrphanCheck). They come from a claim whose reply was lost (a
	// Redis restart: the client retries the claim, which then finds the
	// tasks taken), or from an attempt whose outcome could not be
	// recorded, and would otherwise wait for their lease, the task
	// timeout. With fault tolerance off the second kind is failed instead
	// (see releaseOrphans). It is also how long an attempt keeps retrying
	// to record its outcome while the store does not answer (see finish).
	OrphanCheck time.Duration
	// Observer, if set, is told about every finished attempt (metrics).
	Observer Observer
	// Env is where the pool logs and its clock (timing attempts).
	Env lifecycle.Env
}

// Observer is told about finished attempts. It must not block.
type Observer interface {
	AttemptFinished(ctx context.Context, t *archivist.Task, outcome string, d time.Duration)
	WorkerPanicked(t *archivist.Task)
}

var (
	errCancelRequested = errors.New("cancelled on request")
	errShutdown        = errors.New("node shutting down")
)

// Pool runs tasks on this node. Its lifecycle.Base gives it the Started
// and Stopped signals; it can be started again after Stop.
type Pool struct {
	lifecycle.Base
	cfg Config

	mu      sync.Mutex
	workers int
	running map[string]*attempt // by task id
	// attempts is the parent of the attempts of the current run, cancelled
	// (with errShutdown) when Stop's grace ends: not with the run's own
	// context, which Stop cancels at once to stop claiming.
	attempts     context.Context
	stopAttempts context.CancelCauseFunc
	wg           sync.WaitGroup // attempts
	wake         chan struct{}
	// waiting estimates the tasks assigned here and not claimed yet (from
	// task.assigned events, less what claims took): a worker that frees up
	// claims again only when some may be waiting, not after every task.
	waiting int
	local   []string // PENDING tasks submitted here to run here (RunLocal)
	// heldLocal holds local tasks that a limit or a paused type held back
	// when they were to start: they are tried again when a task is
	// unheld, and at each poll tick (a rate limit's token comes with
	// time, not with an event).
	heldLocal []string
	paused    bool
	// reserved counts the workers set aside for tasks the leader on this
	// node is starting in its placement step (Reserve, RunStarted), and
	// accepting says that the loop runs, so that such tasks are run.
	reserved  int
	accepting bool
	// unrecorded holds the attempts this process ran whose outcome it
	// could not record (by task id), and orphanPass counts orphan checks:
	// together they tell an orphan that ran from a claim whose reply was
	// lost (see releaseOrphans). restartChecked: a check at Start (or a
	// later one standing in for it) went through, so no attempt of a
	// previous process is left.
	unrecorded     map[string]unrecordedAttempt
	orphanPass     int
	restartChecked bool
}

// unrecordedAttempt is an attempt that ran here and whose outcome could not
// be recorded, noted during orphan check pass.
type unrecordedAttempt struct {
	attempt, pass int
}

// orphanKind is what the pool knows of an attempt the store shows running
// here and that it does not run.
type orphanKind int

const (
	// orphanRestart: possibly an attempt of a previous process of this
	// node, which may have run.
	orphanRestart orphanKind = iota
	// orphanUnrecorded: this process ran it and could not record its
	// outcome.
	orphanUnrecorded
	// orphanNeverRan: claimed by this process, whose claim reply was lost,
	// so never started.
	orphanNeverRan
)

type attempt struct {
	task   *archivist.Task
	cancel context.CancelCauseFunc
}

// New returns a stopped pool.
func New(cfg Config) *Pool {
	if cfg.Workers <= 0 {
		cfg.Workers = archivist.DefaultWorkers
	}
	if cfg.LeaseGrace <= 0 {
		cfg.LeaseGrace = DefaultLeaseGrace
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.OrphanCheck <= 0 {
		cfg.OrphanCheck = DefaultOrphanCheck
	}
	if cfg.Settings == nil {
		cfg.Settings = archivist.DefaultConfig
	}
	cfg.Env = cfg.Env.WithDefaults()
	return &Pool{cfg: cfg, workers: cfg.Workers, running: map[string]*attempt{}, wake: make(chan struct{}, 1),
		unrecorded: map[string]unrecordedAttempt{}}
}

// Start puts back the attempts a previous process on this node left
// running, then claims and runs tasks in the background until Stop (not
// until ctx ends). Idempotent; a stopped pool starts again.
func (p *Pool) Start(ctx context.Context) error {
	var sub archivist.Subscription
	return p.Base.Start(ctx, func(runCtx context.Context) error {
		if err := p.releaseOrphans(ctx, true); err != nil {
			p.cfg.Env.Logger.Warn("could not take back tasks left by a previous run", "err", err)
		}
		s, err := p.cfg.Store.Subscribe(runCtx, 0)
		if err != nil {
			return err
		}
		sub = s
		attempts, stop := context.WithCancelCause(context.WithoutCancel(runCtx))
		p.mu.Lock()
		p.attempts, p.stopAttempts = attempts, stop
		p.accepting = true
		p.mu.Unlock()
		return nil
	}, func(runCtx context.Context) {
		p.loop(runCtx, sub)
		p.mu.Lock()
		p.accepting = false // what RunStarted hands over now goes back
		p.mu.Unlock()
		p.drain()
	})
}

// drain, once the loop stopped claiming, gives the running attempts
// ShutdownGrace to finish, then stops the rest and waits for their
// outcomes to be recorded (see run: released, or failed when fault
// tolerance is off).
func (p *Pool) drain() {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	grace := time.NewTimer(p.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
	}
	p.shutdownAttempts()
	<-done
}

// shutdownAttempts stops the attempts of the current (or last) run.
func (p *Pool) shutdownAttempts() {
	p.mu.Lock()
	stop := p.stopAttempts
	p.mu.Unlock()
	if stop != nil {
		stop(errShutdown)
	}
}

// releaseOrphans puts back tasks this node had started before a crash or
// restart (atStart): no goroutine of this process runs them.
//
// Later, the loop calls it every OrphanCheck, between its claims: a task
// the store shows IN_PROGRESS here that the pool is not running is then an
// orphan (the loop launches the attempts it claims; an attempt the leader
// started here is on its way to RunStarted while workers are reserved, so
// a check then leaves such tasks to the next one; an attempt leaves
// running only after its outcome is recorded or, failing that, noted in
// unrecorded). Such an orphan either ran here and its outcome could not be
// recorded (it is in unrecorded), or was claimed (or started by the
// leader's placement) by a call whose reply was lost (a Redis restart: the
// client retries the call, which then finds the tasks taken), and never
// started.
//
// With fault tolerance off an orphan that may have run (one left by a
// previous process, which may have been killed mid-task, or one whose
// outcome could not be recorded) is failed instead; one that never started
// is put back, which runs it for the first time. Until a check at Start
// went through, every orphan counts as one a previous process may have
// left.
func (p *Pool) releaseOrphans(ctx context.Context, atStart bool) error {
	p.mu.Lock()
	pass := p.orphanPass
	p.orphanPass++
	restart := atStart || !p.restartChecked
	p.mu.Unlock()
	after := ""
	incomplete := false
	for {
		page, err := p.cfg.Store.ListTasks(ctx, archivist.TaskQuery{
			TaskFilter: archivist.TaskFilter{NodeID: p.cfg.NodeID, Status: []archivist.TaskStatus{archivist.TaskInProgress}},
			First:      500, After: after})
		if err != nil {
			return err
		}
		for _, t := range page.Tasks {
			p.mu.Lock()
			a := p.running[t.ID]
			u, ran := p.unrecorded[t.ID]
			starting := p.reserved > 0
			p.mu.Unlock()
			if a != nil {
				continue
			}
			if starting {
				// It may be a task the placement step just started here,
				// on its way to RunStarted: the next check decides.
				incomplete = true
				continue
			}
			kind := orphanNeverRan
			switch {
			case restart:
				kind = orphanRestart
			case ran && u.attempt == t.Attempt:
				kind = orphanUnrecorded
			}
			err := p.takeBackOrphan(ctx, t, kind)
			if err != nil && !archivist.IsCode(err, archivist.CodeConflict) && !archivist.IsCode(err, archivist.CodeNotFound) {
				return err
			}
			// Taken back, or it finished meanwhile.
			if kind == orphanUnrecorded {
				p.mu.Lock()
				if p.unrecorded[t.ID] == u {
					delete(p.unrecorded, t.ID)
				}
				p.mu.Unlock()
			}
		}
		if !page.HasNext {
			break
		}
		after = page.EndCursor
	}
	if incomplete {
		return nil // not every task was judged: settle nothing yet
	}
	// Every attempt this node runs in the store was seen: the unrecorded
	// ones noted before this pass that it did not see are settled (their
	// report went through after all, or the task moved on).
	p.mu.Lock()
	p.restartChecked = true
	for id, u := range p.unrecorded {
		if u.pass <= pass {
			delete(p.unrecorded, id)
		}
	}
	p.mu.Unlock()
	return nil
}

// takeBackOrphan puts back attempt t.Attempt of orphan t, or, when fault
// tolerance is off and it may have run, fails it.
func (p *Pool) takeBackOrphan(ctx context.Context, t *archivist.Task, kind orphanKind) error {
	if kind == orphanNeverRan || p.cfg.Settings().FaultTolerance {
		if _, err := p.cfg.Store.ReleaseTask(ctx, t.ID, t.Attempt); err != nil {
			return err
		}
		why := "put back a task this node claimed but never started (the reply to its claim was lost)"
		switch kind {
		case orphanRestart:
			why = "put back a task left running by a previous run of this node"
		case orphanUnrecorded:
			why = "put back a task whose outcome this node could not record"
		}
		p.cfg.Env.Logger.Warn(why, "task", t.ID, "attempt", t.Attempt)
		return nil
	}
	msg := fmt.Sprintf("node %s restarted while attempt %d of this task ran there; fault tolerance is off, so it was not run again",
		p.cfg.NodeID, t.Attempt)
	if kind == orphanUnrecorded {
		msg = fmt.Sprintf("node %s ran attempt %d of this task but could not record its outcome; fault tolerance is off, so it was not run again",
			p.cfg.NodeID, t.Attempt)
	}
	if _, err := p.cfg.Store.FailTask(ctx, t.ID, t.Attempt, noRerun(msg)); err != nil {
		return err
	}
	p.cfg.Env.Logger.Warn("failed a task this node had started but is not running, as fault tolerance is off", "task", t.ID, "attempt", t.Attempt, "error", msg)
	return nil
}

// noRerun is the failure that ends an attempt for good when fault tolerance
// is off.
func noRerun(msg string) archivist.Failure {
	return archivist.Failure{Error: msg, Permanent: true, Retry: archivist.RetryPolicy{Disabled: true}}
}

// stopReserve is how long before the deadline of Stop's context the
// running attempts are stopped at the latest (half the time left when that
// is less), so that their outcomes are recorded before Stop returns.
const stopReserve = time.Second

// Stop stops claiming, waits up to ShutdownGrace (or until ctx ends) for
// running attempts, then stops the rest and puts their tasks back (fails
// them when fault tolerance is off, so that none runs twice), and returns
// once their outcomes are recorded. Tasks assigned here but not started go
// back when the node deregisters (the leader puts back the tasks of a node
// it no longer knows).
//
// Stop returns when ctx ends at the latest, with an error: an attempt whose
// handler ignores its cancellation keeps the pool winding down, and a later
// Start waits for it. A ctx with a deadline has the attempts stopped up to
// stopReserve before it, so that their outcomes are recorded in time; one
// cancelled without a deadline has them stopped at once, their outcomes
// recorded after Stop returned. Idempotent.
func (p *Pool) Stop(ctx context.Context) error {
	early, cancel := reserveBefore(ctx, stopReserve)
	defer cancel()
	defer context.AfterFunc(early, p.shutdownAttempts)()
	return p.Base.Stop(ctx)
}

// reserveBefore returns a context that ends reserve before ctx's deadline
// (or half-way to it, when less time is left), or with ctx.
func reserveBefore(ctx context.Context, reserve time.Duration) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline.Add(-min(reserve, time.Until(deadline)/2)))
}

// SetWorkers changes how many attempts run at once. Running attempts are
// not interrupted when the number shrinks.
func (p *Pool) SetWorkers(n int) {
	if n <= 0 {
		return
	}
	p.mu.Lock()
	changed := n != p.workers
	p.workers = n
	p.mu.Unlock()
	if changed {
		p.cfg.Env.Logger.Info("worker count changed", "workers", n)
		p.Wake()
	}
}

// SetPaused stops (or resumes) starting local tasks (RunLocal), as when the
// node drains. Tasks the leader assigned here are still started: a drained
// node gets no new assignments, and finishes those it had.
func (p *Pool) SetPaused(paused bool) {
	p.mu.Lock()
	resumed := p.paused && !paused
	p.paused = paused
	p.mu.Unlock()
	if resumed {
		p.Wake() // local tasks may wait (the node's heartbeat sets it each time: no claim for nothing)
	}
}

// Workers is the configured worker count.
func (p *Pool) Workers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.workers
}

// Active is how many attempts are running.
func (p *Pool) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.running)
}

// Wake asks the pool to claim soon.
func (p *Pool) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// RunLocal queues PENDING tasks to be started on this node directly,
// bypassing placement (when distributed processing is off): they start as
// workers free up. A task that meanwhile left PENDING is skipped.
func (p *Pool) RunLocal(ids ...string) {
	p.mu.Lock()
	p.local = append(p.local, ids...)
	p.mu.Unlock()
	p.Wake()
}

// claimLocal starts queued local tasks while workers are free.
func (p *Pool) claimLocal(ctx context.Context) {
	for ctx.Err() == nil {
		p.mu.Lock()
		if len(p.local) == 0 || p.free() <= 0 || p.paused {
			p.mu.Unlock()
			return
		}
		id := p.local[0]
		p.local = p.local[1:]
		p.mu.Unlock()
		t, err := p.cfg.Store.ClaimTask(ctx, p.cfg.NodeID, id, p.cfg.LeaseGrace)
		if err != nil {
			if archivist.IsCode(err, archivist.CodeConflict) && ctx.Err() == nil {
				// Still PENDING: held back by a limit or a paused type
				// (else it was started or ended elsewhere): try again later.
				if cur, gerr := p.cfg.Store.GetTask(ctx, id); gerr == nil && cur.Status == archivist.TaskPending {
					p.mu.Lock()
					p.heldLocal = append(p.heldLocal, id)
					p.mu.Unlock()
				}
			} else if !archivist.IsCode(err, archivist.CodeNotFound) && ctx.Err() == nil {
				p.cfg.Env.Logger.Error("start local task", "task", id, "err", err)
			}
			continue
		}
		p.launch(t)
	}
}

// retryHeldLocal queues the local tasks held back for another try, and
// reports whether there were any.
func (p *Pool) retryHeldLocal() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.heldLocal) == 0 {
		return false
	}
	p.local = append(p.local, p.heldLocal...)
	p.heldLocal = nil
	return true
}

// loop claims and starts attempts until ctx (the run's) ends.
func (p *Pool) loop(ctx context.Context, sub archivist.Subscription) {
	defer func() { sub.Close() }()
	p.claim(ctx)
	tick := time.NewTicker(p.cfg.PollInterval)
	defer tick.Stop()
	orphans := time.NewTicker(p.cfg.OrphanCheck)
	defer orphans.Stop()
	events := sub.C()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-tick.C:
			p.retryHeldLocal()
		case <-orphans.C:
			if err := p.releaseOrphans(ctx, false); err != nil && ctx.Err() == nil {
				p.cfg.Env.Logger.Warn("could not check for orphaned tasks", "err", err)
			}
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return
				}
				p.cfg.Env.Logger.Warn("worker event feed dropped; resubscribing", "err", sub.Err())
				if s, err := p.cfg.Store.Subscribe(ctx, 0); err == nil {
					sub = s
					events = sub.C()
				} else {
					events = nil // the ticker keeps claiming
				}
				p.mu.Lock()
				p.waiting = max(p.waiting, 1) // assignments may have been missed
				p.mu.Unlock()
				break
			}
			// Take every event already queued before claiming: the leader
			// places many tasks at once, and one claim takes them all.
			assigned := p.handle(ev)
		more:
			for range maxEventBurst {
				select {
				case ev, ok := <-events:
					if !ok {
						break more // the next round resubscribes
					}
					assigned = p.handle(ev) || assigned
				default:
					break more
				}
			}
			if !assigned {
				continue
			}
		}
		p.claim(ctx)
	}
}

// maxEventBurst bounds how many queued events the loop takes before it
// claims.
const maxEventBurst = 4096

// handle acts on one event and reports whether it assigned a task here.
func (p *Pool) handle(ev archivist.Event) bool {
	if ev.Type == archivist.EventTaskUnheld {
		return p.retryHeldLocal() // a slot came back: a held local task may fit now
	}
	if ev.Task == nil || ev.Task.NodeID != p.cfg.NodeID {
		return false
	}
	switch ev.Type {
	case archivist.EventTaskAssigned:
		p.mu.Lock()
		p.waiting++
		p.mu.Unlock()
		return true
	case archivist.EventTaskCancelRequested:
		p.cancelRunning(ev.Task.ID, ev.Task.Attempt)
	}
	return false
}

func (p *Pool) cancelRunning(id string, attemptNo int) {
	p.mu.Lock()
	a := p.running[id]
	p.mu.Unlock()
	if a != nil && a.task.Attempt == attemptNo {
		a.cancel(errCancelRequested)
	}
}

// claim takes as many assigned (then local) tasks as there are free
// workers.
func (p *Pool) claim(ctx context.Context) {
	defer p.claimLocal(ctx)
	for ctx.Err() == nil {
		p.mu.Lock()
		free := p.free()
		p.mu.Unlock()
		if free <= 0 {
			return
		}
		ts, err := p.cfg.Store.ClaimTasks(ctx, p.cfg.NodeID, free, p.cfg.LeaseGrace)
		if err != nil {
			if ctx.Err() == nil {
				p.cfg.Env.Logger.Error("claim tasks", "err", err)
			}
			return
		}
		p.mu.Lock()
		if len(ts) < free {
			p.waiting = 0 // it took every task assigned here
		} else {
			p.waiting = max(p.waiting-len(ts), 0)
		}
		p.mu.Unlock()
		for _, t := range ts {
			p.launch(t)
		}
		if len(ts) < free {
			return
		}
	}
}

// free is how many workers can take a task now. p.mu is held.
func (p *Pool) free() int {
	return p.workers - len(p.running) - p.reserved
}

// NodeID is the node the pool runs tasks for.
func (p *Pool) NodeID() string { return p.cfg.NodeID }

// Reserve sets aside up to n free workers for tasks that the leader, on
// this node, is about to start in its placement step
// (archivist.Assignment.Start), and returns how many it set aside and the
// lease grace to start them with. It sets none aside while the pool is not
// running, or while tasks given to RunLocal wait for a worker. Tasks
// assigned here that wait for a worker are claimed when an attempt ends
// (it wakes the claim loop at once), and a lease window brings back those
// never claimed. Every reservation ends with RunStarted.
func (p *Pool) Reserve(n int) (int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.accepting || len(p.local) > 0 {
		return 0, 0
	}
	n = max(min(n, p.free()), 0)
	p.reserved += n
	return n, p.cfg.LeaseGrace
}

// releaseTimeout bounds putting back a task handed to a stopped pool.
const releaseTimeout = 10 * time.Second

// RunStarted runs the tasks that the placement step started here, in the
// workers that Reserve set aside (reserved of them), and frees those left
// over (tasks the step did not start: taken meanwhile, held by a limit, or
// a failed call). A pool that stopped meanwhile puts the tasks back: they
// never ran.
func (p *Pool) RunStarted(ts []*archivist.Task, reserved int) {
	p.mu.Lock()
	p.reserved -= reserved
	left := reserved > len(ts)
	if p.accepting {
		for _, t := range ts {
			p.launchLocked(t)
		}
		ts = nil
	}
	p.mu.Unlock()
	if left {
		p.Wake() // workers came back: assigned tasks may be waiting
	}
	for _, t := range ts {
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		if _, err := p.cfg.Store.ReleaseTask(ctx, t.ID, t.Attempt); err != nil {
			// Its lease brings it back.
			p.cfg.Env.Logger.Warn("could not put back a task started here as the pool stopped", "task", t.ID, "err", err)
		}
		cancel()
	}
}

func (p *Pool) launch(t *archivist.Task) {
	p.mu.Lock()
	p.launchLocked(t)
	p.mu.Unlock()
}

// launchLocked starts running attempt t. p.mu is held.
func (p *Pool) launchLocked(t *archivist.Task) {
	ctx, cancel := context.WithCancelCause(p.attempts)
	p.running[t.ID] = &attempt{task: t, cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer cancel(nil)
		p.run(ctx, t)
		p.mu.Lock()
		delete(p.running, t.ID)
		more := p.waiting > 0 || len(p.local) > 0
		p.mu.Unlock()
		if more {
			p.Wake()
		}
	}()
}

// attemptLog is the logger of one attempt, made only when something is
// logged: most attempts log nothing.
type attemptLog struct {
	base *slog.Logger
	t    *archivist.Task
	l    *slog.Logger
	// outcome is what finish recorded ("completed", "failed", ...).
	outcome string
}

func (a *attemptLog) get() *slog.Logger {
	if a.l == nil {
		a.l = a.base.With("task", a.t.ID, "type", a.t.Type, "attempt", a.t.Attempt)
	}
	return a.l
}

// run executes one attempt and records its outcome.
func (p *Pool) run(parent context.Context, t *archivist.Task) {
	log := &attemptLog{base: p.cfg.Env.Logger, t: t}
	if tracing.Enabled() {
		// The attempt is a span of the submission's trace (the task's
		// Trace), and the handler's context holds it.
		var span trace.Span
		parent, span = tracing.Start(tracing.Resume(parent, t.Trace), "run "+t.Type, trace.SpanKindConsumer,
			tracing.KeyTaskID.String(t.ID), tracing.KeyTaskType.String(t.Type), tracing.KeyAttempt.Int(t.Attempt),
			tracing.KeyNode.String(p.cfg.NodeID))
		if t.Group != "" {
			span.SetAttributes(tracing.KeyGroup.String(t.Group))
		}
		if t.WorkflowID != "" {
			span.SetAttributes(tracing.KeyWorkflowID.String(t.WorkflowID), tracing.KeyStepKey.String(t.StepKey))
		}
		defer func() {
			span.SetAttributes(tracing.KeyOutcome.String(log.outcome))
			if log.outcome != "completed" && log.outcome != "released" {
				span.SetStatus(codes.Error, log.outcome)
			}
			span.End()
		}()
	}
	store := p.cfg.Store
	// Reports must reach the store even when the attempt's context ended.
	rctx := context.WithoutCancel(parent)
	start := p.cfg.Env.Now()

	// A cancel requested before the claim arrived with the task.
	if t.CancelRequested {
		p.finish(parent, log, t, start, "cancelled", func() (*archivist.Task, error) {
			return store.FailTask(rctx, t.ID, t.Attempt, archivist.Failure{Error: "cancelled on request", Cancelled: true})
		})
		return
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = p.cfg.Settings().DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()

	prog := newProgress(func(f float64, msg string) {
		if err := store.ReportProgress(rctx, t.ID, t.Attempt, f, msg); err != nil && !archivist.IsCode(err, archivist.CodeConflict) {
			log.get().Warn("report progress", "err", err)
		}
	})
	var result json.RawMessage
	job, err := p.newJob(ctx, t, prog.report)
	if err == nil {
		result, err = p.call(ctx, log, t, job)
	}
	prog.close()

	if err == nil && result != nil && !json.Valid(result) {
		err = archivist.Permanent(fmt.Errorf("handler returned invalid JSON"))
	}
	if err == nil && len(result) > archivist.MaxResultBytes {
		err = archivist.Permanent(fmt.Errorf("result is %d bytes; the limit is %d", len(result), archivist.MaxResultBytes))
	}
	cause := context.Cause(ctx)
	cfg := p.cfg.Settings()
	retry := archivist.RetryPolicy{Disabled: !cfg.FaultTolerance, Base: cfg.RetryBackoff, Max: cfg.MaxBackoff}
	switch {
	case err == nil:
		if result == nil {
			result = json.RawMessage("null")
		}
		p.finish(parent, log, t, start, "completed", func() (*archivist.Task, error) {
			return store.CompleteTask(rctx, t.ID, t.Attempt, result)
		})
		if t.WorkflowID != "" && !cfg.Enabled {
			p.runReleased(rctx, t)
		}
	case errors.Is(cause, errShutdown) && !cfg.FaultTolerance:
		msg := fmt.Sprintf("node %s shut down before attempt %d finished (it was stopped when the shutdown grace ran out); fault tolerance is off, so it was not run again",
			p.cfg.NodeID, t.Attempt)
		p.finish(parent, log, t, start, "failed", func() (*archivist.Task, error) {
			return store.FailTask(rctx, t.ID, t.Attempt, noRerun(msg))
		})
	case errors.Is(cause, errShutdown):
		p.finish(parent, log, t, start, "released", func() (*archivist.Task, error) {
			return store.ReleaseTask(rctx, t.ID, t.Attempt)
		})
	case errors.Is(cause, errCancelRequested):
		p.finish(parent, log, t, start, "cancelled", func() (*archivist.Task, error) {
			return store.FailTask(rctx, t.ID, t.Attempt, archivist.Failure{Error: "cancelled on request", Cancelled: true})
		})
	case errors.Is(cause, context.DeadlineExceeded):
		msg := fmt.Sprintf("attempt %d timed out after %s", t.Attempt, t.Timeout)
		p.finish(parent, log, t, start, "timed_out", func() (*archivist.Task, error) {
			return store.FailTask(rctx, t.ID, t.Attempt, archivist.Failure{Error: msg, TimedOut: true, Retry: retry})
		})
	default:
		p.finish(parent, log, t, start, "failed", func() (*archivist.Task, error) {
			return store.FailTask(rctx, t.ID, t.Attempt, archivist.Failure{Error: err.Error(), Permanent: archivist.IsPermanent(err), Retry: retry})
		})
	}
}

// call runs the handler, turning a panic into an error.
func (p *Pool) call(ctx context.Context, log *attemptLog, t *archivist.Task, job *archivist.Job) (result json.RawMessage, err error) {
	h, ok := p.cfg.Registry.Lookup(t.Type)
	if !ok {
		return nil, archivist.Permanent(fmt.Errorf("no handler for task type %q on node %s", t.Type, p.cfg.NodeID))
	}
	defer func() {
		if r := recover(); r != nil {
			log.get().Error("handler panicked; the worker is replaced", "panic", r, "stack", string(debug.Stack()))
			if p.cfg.Observer != nil {
				p.cfg.Observer.WorkerPanicked(t)
			}
			result, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return h.Handle(ctx, job)
}

// Reporting an outcome is retried while the store cannot be reached (a
// Redis failover, a restart), for up to OrphanCheck: a node that records
// its outcomes as soon as the store is back frees its slots for new work at
// once and runs nothing again, where giving up leaves each task to the
// next orphan check and its slot counted busy in the store until then.
const (
	reportRetryMinPause = 50 * time.Millisecond
	reportRetryMaxPause = 500 * time.Millisecond
)

// reportAgain reports whether a report that failed with err may succeed if
// sent again: the store did not answer, rather than refuse it.
func reportAgain(err error) bool {
	return err != nil && !archivist.IsCode(err, archivist.CodeConflict) && !archivist.IsCode(err, archivist.CodeNotFound) &&
		!archivist.IsCode(err, archivist.CodeBadUserInput)
}

func (p *Pool) finish(parent context.Context, log *attemptLog, t *archivist.Task, start time.Time, outcome string, report func() (*archivist.Task, error)) {
	log.outcome = outcome
	d := p.cfg.Env.Now().Sub(start)
	nt, err := report()
	if reportAgain(err) {
		log.get().Warn("could not record the outcome of an attempt; retrying", "outcome", outcome, "err", err)
		deadline := time.Now().Add(p.cfg.OrphanCheck)
		for pause := reportRetryMinPause; reportAgain(err) && time.Now().Before(deadline); pause = min(2*pause, reportRetryMaxPause) {
			select {
			case <-parent.Done(): // the pool stops: the orphan check at the next start takes it back
			case <-time.After(pause):
				nt, err = report()
				continue
			}
			break
		}
	}
	switch {
	case archivist.IsCode(err, archivist.CodeConflict):
		log.get().Warn("the outcome of this attempt was refused: the task moved on without it (fenced off)", "outcome", outcome, "err", err)
		return
	case err != nil:
		log.get().Error("could not record the outcome of an attempt; the orphan check or its lease will take it back", "outcome", outcome, "err", err)
		p.mu.Lock()
		p.unrecorded[t.ID] = unrecordedAttempt{attempt: t.Attempt, pass: p.orphanPass}
		p.mu.Unlock()
		return
	}
	if p.cfg.Observer != nil {
		p.cfg.Observer.AttemptFinished(parent, nt, outcome, d)
	}
	if p.cfg.Env.Logger.Enabled(context.Background(), slog.LevelDebug) {
		log.get().Debug("attempt finished", "outcome", outcome, "status", nt.Status, "duration", d)
	}
}
