package recurring

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/tracing"
)

// Leadership is what the runner needs of the elector: the lease this node
// holds (zero when it does not lead) and a wake-up when that changes.
type Leadership interface {
	Lease() archivist.Lease
	// Watch returns a channel of the runner's own, signalled (buffered 1,
	// coalescing) when this node gains or loses leadership.
	Watch() <-chan struct{}
}

// Outcomes of a tick, as OnTick is told them.
const (
	// TickFired: the tick submitted its task.
	TickFired = "fired"
	// TickMissed: one task for ticks missed past the misfire threshold
	// (MisfireRunOnce).
	TickMissed = "missed"
	// TickSkipped: no task, by the overlap policy SKIP or for missed ticks
	// under MisfireSkip.
	TickSkipped = "skipped"
	// TickDuplicate: the task's unique key was held; the holder stands for
	// it and nothing new was submitted.
	TickDuplicate = "duplicate"
	// TickRefused: the store refused the tick (fired elsewhere, changed,
	// or this node's lease was stale).
	TickRefused = "refused"
	// TickFailed: the store could not be asked; the tick is tried again.
	TickFailed = "failed"
)

// retryAfter is how long a schedule whose firing failed (the store was
// unreachable, or refused with the tick still stored, as when another node
// leads) waits before this node tries it again.
const retryAfter = time.Second

// Config configures a Runner.
type Config struct {
	Store archivist.Store
	// Leader says whether this node leads; without it the runner never
	// fires.
	Leader Leadership
	// Env is where the runner logs, and its clock (lifecycle.Env's
	// defaults).
	Env lifecycle.Env
	// OnTick, if set, is told the outcome of each tick this node tried to
	// fire: one of the Tick* outcomes (the node's metrics count them).
	OnTick func(outcome string)
}

// Runner fires the ticks of the cluster's schedules while its node leads.
// It keeps the schedules in memory (read when leadership is gained, kept
// up to date by the store's schedule events) and one timer at the nearest
// next tick, so an idle node wakes only when a tick is due. Each tick is
// one Store.FireSchedule, fenced by the leadership lease and the stored
// next tick: a tick fired once, by this node or a leader before it, is not
// fired again. Its lifecycle is a lifecycle.Base.
type Runner struct {
	lifecycle.Base
	cfg Config
	// changed is the Leader's Watch channel, taken once.
	changed <-chan struct{}

	mu sync.Mutex // guards fired
	// fired counts FireSchedule calls that succeeded, for tests.
	fired int
}

// entry is a schedule the runner knows, with its parsed timing.
type entry struct {
	s    *archivist.Schedule
	spec *Spec // nil when the stored timing does not parse
	// hold is when a schedule whose firing failed may be tried again.
	hold time.Time
}

// NewRunner returns a stopped runner.
func NewRunner(cfg Config) *Runner {
	cfg.Env = cfg.Env.WithDefaults()
	r := &Runner{cfg: cfg}
	if cfg.Leader != nil {
		r.changed = cfg.Leader.Watch()
	}
	return r
}

// Start subscribes to the store's events, so that no change is missed once
// it returns, then runs in the background until Stop. It is idempotent and
// starts again after Stop.
func (r *Runner) Start(ctx context.Context) error {
	var sub archivist.Subscription
	return r.Base.Start(ctx, func(ctx context.Context) (err error) {
		sub, err = r.cfg.Store.Subscribe(ctx, 0)
		return err
	}, func(ctx context.Context) { r.run(ctx, sub) })
}

// Stop ends the runner and waits for it, or for ctx to end. Idempotent.
func (r *Runner) Stop(ctx context.Context) error { return r.Base.Stop(ctx) }

// Fired is how many ticks (and skipped missed ticks) this runner recorded.
func (r *Runner) Fired() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fired
}

// run is the runner's one goroutine: it reads events, leadership changes
// and its timer, and fires what is due.
func (r *Runner) run(ctx context.Context, sub archivist.Subscription) {
	defer func() {
		if sub != nil {
			sub.Close()
		}
	}()
	changed := r.changed
	var (
		known   map[string]*entry // nil while not leading, or not loaded yet
		timer   = time.NewTimer(time.Hour)
		retryAt time.Time // when loading failed, when to try again
	)
	timer.Stop()
	defer timer.Stop()
	for {
		lease := r.lease()
		now := r.cfg.Env.Now()
		switch {
		case lease.Token == 0:
			// Not leading (or the lease ran out here before a renewal
			// came through; then the next event, such as this node's
			// own heartbeat, looks again).
			known = nil
		case known == nil && !now.Before(retryAt):
			var err error
			if known, err = r.load(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				r.cfg.Env.Logger.Warn("could not read the schedules; trying again", "err", err)
				retryAt = now.Add(retryAfter)
			}
		}
		if known != nil {
			r.fireDue(ctx, lease, known)
		}
		// Sleep until the nearest tick, or the next try at loading.
		var wake time.Time
		if known != nil {
			wake = nearest(known)
		} else if lease.Token != 0 {
			wake = retryAt
		}
		timer.Stop()
		if !wake.IsZero() {
			timer.Reset(max(wake.Sub(r.cfg.Env.Now()), 0))
		}
		// Wait for something that may change what is due. Task and node
		// events pass by without a look at the schedules, so a busy
		// cluster costs the runner nothing per event; while not leading,
		// any event is a chance to look at the lease again.
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-changed:
				// Gained or lost: read the schedules afresh when leading.
				known = nil
				retryAt = time.Time{}
				break wait
			case <-timer.C:
				break wait
			case ev, ok := <-sub.C():
				if !ok {
					if ctx.Err() != nil {
						return
					}
					// Dropped for being slow: changes may have been missed.
					r.cfg.Env.Logger.Warn("schedule runner event feed dropped; resubscribing", "err", sub.Err())
					if sub = r.resubscribe(ctx); sub == nil {
						return
					}
					known = nil
					retryAt = time.Time{}
					break wait
				}
				if known == nil {
					break wait
				}
				if ev.Kind == archivist.EventSchedule && ev.Schedule != nil {
					r.apply(known, ev)
					break wait
				}
			}
		}
	}
}

func (r *Runner) lease() archivist.Lease {
	if r.cfg.Leader == nil {
		return archivist.Lease{}
	}
	return r.cfg.Leader.Lease()
}

// resubscribe subscribes again, trying each second until ctx ends (nil).
func (r *Runner) resubscribe(ctx context.Context) archivist.Subscription {
	for {
		sub, err := r.cfg.Store.Subscribe(ctx, 0)
		if err == nil {
			return sub
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retryAfter):
		}
	}
}

// load reads every schedule.
func (r *Runner) load(ctx context.Context) (map[string]*entry, error) {
	list, err := r.cfg.Store.ListSchedules(ctx)
	if err != nil {
		return nil, err
	}
	known := make(map[string]*entry, len(list))
	for _, s := range list {
		known[s.Name] = r.entryOf(s)
	}
	return known, nil
}

// entryOf parses a stored schedule's timing. One that does not parse (it
// was stored by a node that read cron differently) is kept, never fired,
// and logged.
func (r *Runner) entryOf(s *archivist.Schedule) *entry {
	spec, err := ForSchedule(s)
	if err != nil {
		r.cfg.Env.Logger.Error("schedule not fired: its timing does not parse", "schedule", s.Name, "err", err)
	}
	return &entry{s: s, spec: spec}
}

// apply brings known up to date with a schedule event. An event older than
// what the runner already has (its own firing came back first) is ignored.
func (r *Runner) apply(known map[string]*entry, ev archivist.Event) {
	name := ev.Schedule.Name
	if ev.Type == archivist.EventScheduleDeleted {
		delete(known, name)
		return
	}
	if e, ok := known[name]; ok && ev.Schedule.UpdatedAt.Before(e.s.UpdatedAt) {
		return
	}
	known[name] = r.entryOf(ev.Schedule.Clone())
}

// nearest is the earliest time a known schedule needs the runner: its next
// tick, or the end of its hold. Zero when none does.
func nearest(known map[string]*entry) time.Time {
	var at time.Time
	for _, e := range known {
		if e.spec == nil || e.s.Paused || e.s.NextRunAt.IsZero() {
			continue
		}
		t := e.s.NextRunAt
		if e.hold.After(t) {
			t = e.hold
		}
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	return at
}

// fireDue fires every due tick of the known schedules, one call per tick,
// until none is due.
func (r *Runner) fireDue(ctx context.Context, lease archivist.Lease, known map[string]*entry) {
	for _, e := range known {
		for ctx.Err() == nil && e.spec != nil {
			now := r.cfg.Env.Now()
			if now.Before(e.hold) {
				break
			}
			f, missed, due := Plan(e.s, e.spec, now)
			if !due {
				break
			}
			f.Lease = lease
			if !r.fire(ctx, known, e, f, missed) {
				break
			}
			e = known[f.Name]
			if e == nil {
				break
			}
		}
	}
}

// fire makes one FireSchedule call and records its outcome in known. It
// reports whether the schedule may be fired again at once.
func (r *Runner) fire(ctx context.Context, known map[string]*entry, e *entry, f archivist.ScheduleFire, missed bool) bool {
	log := r.cfg.Env.Logger
	if tracing.Enabled() && f.Task != nil {
		// A tick starts a trace of its own: its task's placement and
		// attempts are spans of it.
		sctx, span := tracing.Start(context.WithoutCancel(ctx), "schedule "+f.Name, trace.SpanKindProducer,
			tracing.KeySchedule.String(f.Name), attribute.String("archivist.schedule.tick", f.Tick.UTC().Format(time.RFC3339Nano)))
		defer span.End()
		t := f.Task.Clone()
		t.Trace = tracing.Parent(sctx)
		f.Task = t
	}
	res, err := r.cfg.Store.FireSchedule(ctx, f)
	switch {
	case err == nil:
		r.mu.Lock()
		r.fired++
		r.mu.Unlock()
		known[f.Name] = &entry{s: res.Schedule, spec: e.spec}
		switch {
		case res.Task != nil && res.Task.Duplicate:
			r.tick(TickDuplicate)
			log.Info("schedule tick submitted nothing: its task's unique key is held", "schedule", f.Name, "tick", f.Tick,
				"holder", res.Task.ID, "next", f.Next)
		case res.Task != nil && missed:
			r.tick(TickMissed)
			log.Info("schedule fired once for missed ticks", "schedule", f.Name, "since", f.Tick, "task", res.Task.ID, "next", f.Next)
		case res.Task != nil:
			r.tick(TickFired)
			log.Debug("schedule fired", "schedule", f.Name, "tick", f.Tick, "task", res.Task.ID, "next", f.Next)
		case missed && f.Task == nil:
			r.tick(TickSkipped)
			log.Info("schedule skipped missed ticks", "schedule", f.Name, "since", f.Tick, "next", f.Next)
		default:
			r.tick(TickSkipped)
			log.Info("schedule tick skipped", "schedule", f.Name, "tick", f.Tick, "reason", res.Skipped, "next", f.Next)
		}
		return true
	case archivist.IsCode(err, archivist.CodeNotFound):
		delete(known, f.Name)
		return false
	case archivist.IsCode(err, archivist.CodeConflict):
		r.tick(TickRefused)
		// Another leader fired the tick, or the schedule changed (paused,
		// updated), or this node's lease is stale: read it again rather
		// than retry.
		s, gerr := r.cfg.Store.GetSchedule(ctx, f.Name)
		switch {
		case archivist.IsCode(gerr, archivist.CodeNotFound):
			delete(known, f.Name)
			return false
		case gerr != nil:
			log.Warn("could not read a schedule after a refused tick", "schedule", f.Name, "err", gerr)
			e.hold = r.cfg.Env.Now().Add(retryAfter)
			return false
		}
		next := r.entryOf(s)
		if !s.Paused && s.NextRunAt.Equal(f.Tick) {
			// Unchanged, yet refused: the lease is not current. Wait for
			// a change of leadership (or retryAfter) instead of spinning.
			log.Debug("schedule tick refused; this node's lease is not current", "schedule", f.Name, "tick", f.Tick, "err", err)
			next.hold = r.cfg.Env.Now().Add(retryAfter)
		} else {
			log.Debug("schedule tick refused: fired or changed elsewhere", "schedule", f.Name, "tick", f.Tick)
		}
		known[f.Name] = next
		return next.hold.IsZero()
	default:
		if ctx.Err() == nil {
			r.tick(TickFailed)
			log.Warn("could not fire a schedule; trying again", "schedule", f.Name, "tick", f.Tick, "err", err)
		}
		e.hold = r.cfg.Env.Now().Add(retryAfter)
		return false
	}
}

// tick tells OnTick an outcome.
func (r *Runner) tick(outcome string) {
	if r.cfg.OnTick != nil {
		r.cfg.OnTick(outcome)
	}
}
