package scheduler

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/tracing"
)

// Defaults of Config.
const (
	defaultClaimWithin     = 10 * time.Second
	defaultBatch           = 256
	defaultJanitorInterval = time.Minute
)

// Config configures a Scheduler. Zero values mean the defaults.
type Config struct {
	Store archivist.Store
	// Elector says whether this node leads, and so places tasks; without
	// one the scheduler never places.
	Elector *Elector
	// Settings returns the cluster configuration this node runs with
	// (default archivist.DefaultConfig).
	Settings func() archivist.Config
	// ClaimWithin is how long an assigned task may wait for its node to
	// start it before it is placed again (default defaultClaimWithin, 10s).
	ClaimWithin time.Duration
	// Batch is the most tasks placed in one store call (default
	// defaultBatch, 256).
	Batch int
	// JanitorInterval is how often finished tasks past retention are
	// purged (default defaultJanitorInterval, 1m).
	JanitorInterval time.Duration
	// Env is where the scheduler logs, and its clock (lifecycle.Env's
	// defaults).
	Env lifecycle.Env
	// Local returns this node's worker pool, or nil when the node runs no
	// tasks: the tasks placed on this node while its workers are free
	// start in the placement step, with no claim after it.
	Local func() LocalPool
}

// LocalPool is the worker pool of the leader's own node as placement sees
// it (workerpool.Pool).
type LocalPool interface {
	// NodeID is the node it runs tasks for.
	NodeID() string
	// Reserve sets aside up to n free workers and returns how many, and
	// the lease grace to start tasks with.
	Reserve(n int) (int, time.Duration)
	// RunStarted runs the tasks started here in the reserved workers and
	// frees the rest.
	RunStarted(tasks []*archivist.Task, reserved int)
}

// maxScan bounds how deep into the ready queue a placement round looks for
// tasks that some node can take.
const maxScan = 4096

// Scheduler places tasks while its node leads. It wakes on events
// (submissions, finished tasks, node changes) and on a timer at the
// heartbeat interval for leases, backoffs and lost nodes. Its lifecycle is
// a lifecycle.Base.
type Scheduler struct {
	lifecycle.Base
	cfg    Config
	placer Placer

	wake chan struct{}
	mu   sync.Mutex // guards refused, known and fresh

	// known is set while the leader knows that the ready queue holds
	// nothing but the tasks in fresh: a round read the queue to its end
	// and placed all it read, and no event since made a task PENDING
	// other than the creations gathered in fresh (see watch). A round can
	// then place fresh without reading the queue (placeFresh).
	known bool
	fresh []*archivist.Task

	lastPurge time.Time
	// nodes caches ListNodes between placement rounds of the loop: it is
	// read again when a node event arrives (nodesStale, set by watch), and
	// at least once per heartbeat interval.
	nodes      []*archivist.Node
	nodesAt    time.Time
	nodesStale atomic.Bool
	// What wake-ups ask of the next round (set by watch and Wake, taken by
	// loop): newReady when tasks may have become ready (or anything else
	// asks for a round), freed when capacity may have freed up, which
	// matters only if the last round left tasks waiting (backlog).
	newReady atomic.Bool
	freed    atomic.Bool
	backlog  bool
	// held is set when a round held tasks back (a limit, a paused type):
	// the next round reads NextDue, which counts when a rate limit has a
	// token for them.
	held atomic.Bool
	// dueAt is when, by this node's clock (unix ns; 0: none known), the
	// earliest SCHEDULED or RETRYING task becomes due: the loop's timer
	// wakes for it, so that delayed tasks start on time without polling.
	// The store's NextDue sets it after rounds that may have moved it;
	// events of tasks that start waiting lower it (see noteDue).
	dueAt atomic.Int64
	// requeued remembers lost nodes already handled, so that their tasks
	// are put back once, not at every tick.
	lost map[string]time.Time
	// refused remembers nodes outside the manual peer list, logged once.
	refused map[string]bool
	// proofs caches admission proof checks (see proven).
	proofs map[string]proofCheck
}

// New returns a stopped scheduler.
func New(cfg Config) *Scheduler {
	if cfg.ClaimWithin <= 0 {
		cfg.ClaimWithin = defaultClaimWithin
	}
	if cfg.Batch <= 0 {
		cfg.Batch = defaultBatch
	}
	if cfg.JanitorInterval <= 0 {
		cfg.JanitorInterval = defaultJanitorInterval
	}
	if cfg.Settings == nil {
		cfg.Settings = archivist.DefaultConfig
	}
	cfg.Env = cfg.Env.WithDefaults()
	return &Scheduler{cfg: cfg, wake: make(chan struct{}, 1), lost: map[string]time.Time{}}
}

// Start subscribes to the store's events, so that no wake-up is missed
// once it returns, then schedules in the background until Stop. It is
// idempotent, and a stopped scheduler starts again (a node that loses its
// role and gets it back).
func (s *Scheduler) Start(ctx context.Context) error {
	var sub archivist.Subscription
	return s.Base.Start(ctx, func(ctx context.Context) (err error) {
		sub, err = s.cfg.Store.Subscribe(ctx, 0)
		return err
	}, func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() { s.watch(ctx, sub) })
		s.loop(ctx)
		wg.Wait()
	})
}

// Stop ends scheduling and waits for the loops, or for ctx to end (then it
// returns an error, and a later Stop or Start waits for them). It is
// idempotent.
func (s *Scheduler) Stop(ctx context.Context) error { return s.Base.Stop(ctx) }

// Wake asks for a placement round soon.
func (s *Scheduler) Wake() {
	s.newReady.Store(true)
	s.poke()
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// watch turns events that may make placement possible into wake-ups.
func (s *Scheduler) watch(ctx context.Context, sub archivist.Subscription) {
	for {
		for ev := range sub.C() {
			if ev.Type == archivist.EventConfigUpdated ||
				(ev.Task != nil && ev.Task.Status == archivist.TaskPending && ev.Type != archivist.EventTaskCreated) {
				// A task became PENDING other than by its creation (put
				// back, retried, due, released, unheld), or placement
				// changed: the next round reads the queue.
				s.forget()
			}
			switch ev.Type {
			case archivist.EventNodeUpdated, archivist.EventNodeRemoved, archivist.EventNodeLeader:
				// A node may have come, gone or freed up.
				s.nodesStale.Store(true)
				s.freed.Store(true)
				s.poke()
			case archivist.EventTaskCreated:
				if ev.Task != nil && ev.Task.Status == archivist.TaskScheduled {
					s.noteDue(ev)
					continue
				}
				if ev.Task != nil && ev.Task.Status == archivist.TaskWaiting {
					continue // a workflow step: placed once released
				}
				s.noteFresh(ev.Task)
				s.Wake()
			case archivist.EventTaskRequeued, archivist.EventTaskRetried, archivist.EventTaskDue, archivist.EventTaskReleased,
				archivist.EventConfigUpdated, archivist.EventTaskUnheld:
				s.Wake()
			case archivist.EventTaskHeld:
				// A round that held tasks back may have stopped short of the
				// ready tasks behind them: run another, and learn when a
				// rate limit lets the held ones go.
				s.held.Store(true)
				s.Wake()
			case archivist.EventTaskRetrying:
				s.noteDue(ev)
				s.freed.Store(true)
				s.poke()
			case archivist.EventTaskCompleted, archivist.EventTaskFailed, archivist.EventTaskCancelled,
				archivist.EventTaskTimedOut:
				s.freed.Store(true)
				s.poke()
			}
		}
		if ctx.Err() != nil {
			return
		}
		// Dropped for being slow: resubscribe and run a round, since
		// wake-ups may have been missed.
		s.cfg.Env.Logger.Warn("scheduler event feed dropped; resubscribing", "err", sub.Err())
		var err error
		for {
			sub, err = s.cfg.Store.Subscribe(ctx, 0)
			if err == nil || ctx.Err() != nil {
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
		s.forget() // events were missed
		s.nodesStale.Store(true)
		s.Wake()
	}
}

// noteFresh notes a task created PENDING while the queue is known (see
// Scheduler.known); past a batch of them, the queue is read instead.
func (s *Scheduler) noteFresh(t *archivist.Task) {
	if t == nil || t.Status != archivist.TaskPending {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.known {
		return
	}
	if len(s.fresh) >= s.cfg.Batch {
		s.known, s.fresh = false, nil
		return
	}
	s.fresh = append(s.fresh, t)
}

// forget makes the next round read the ready queue.
func (s *Scheduler) forget() {
	s.mu.Lock()
	s.known, s.fresh = false, nil
	s.mu.Unlock()
}

func (s *Scheduler) loop(ctx context.Context) {
	var changed <-chan struct{}
	if s.cfg.Elector != nil {
		changed = s.cfg.Elector.Changed()
	}
	// Maintenance runs once per heartbeat interval however often wake-ups
	// come: the deadline is kept across them.
	next := s.cfg.Env.Now().Add(s.interval())
	t := time.NewTimer(s.interval())
	defer t.Stop()
	for {
		force := false
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-changed:
			force = true
		case <-t.C:
		}
		newReady, freed, held := s.newReady.Swap(false), s.freed.Swap(false), s.held.Swap(false)
		now := s.cfg.Env.Now()
		due := !now.Before(next)
		if due {
			next = now.Add(s.interval())
		}
		// Tasks waiting for a time are due: a round moves them to PENDING.
		dueAt := s.dueAt.Load()
		timed := dueAt != 0 && now.UnixNano() >= dueAt
		lease := s.lease()
		if lease.Token != 0 {
			if due {
				s.maintain(ctx, lease)
			}
			// A round that can find nothing new is skipped: tasks finishing
			// while the queue is empty need no placement (and cost round trips).
			if due || force || newReady || timed || (freed && s.backlog) {
				// Only a round that new submissions alone asked for may
				// place them without reading the queue.
				s.backlog, _ = s.place(ctx, lease, true, !(due || force || timed || held || s.backlog))
			}
			if due || force || timed || held {
				s.refreshDue(ctx, dueAt)
			}
		}
		wait := next.Sub(now)
		if d := s.dueAt.Load(); d != 0 && lease.Token != 0 {
			wait = min(wait, max(0, time.Duration(d-s.cfg.Env.Now().UnixNano())))
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

// noteDue lowers dueAt to when the task of ev (created SCHEDULED, or
// RETRYING) becomes due: its RunAt, which is by the store's clock, is
// taken as a wait from the event's time, so that clocks need not agree.
func (s *Scheduler) noteDue(ev archivist.Event) {
	if ev.Task == nil || ev.Task.RunAt.IsZero() {
		return
	}
	at := s.cfg.Env.Now().Add(ev.Task.RunAt.Sub(ev.Time)).UnixNano()
	for {
		cur := s.dueAt.Load()
		if cur != 0 && cur <= at {
			return
		}
		if s.dueAt.CompareAndSwap(cur, at) {
			s.poke()
			return
		}
	}
}

// refreshDue sets dueAt from the store's NextDue (read was the value
// before). An event that lowered dueAt meanwhile wins if it is earlier.
func (s *Scheduler) refreshDue(ctx context.Context, read int64) {
	wait, ok, err := s.cfg.Store.NextDue(ctx)
	if err != nil {
		s.logErr(ctx, "next due task", err)
		return
	}
	var at int64
	if ok {
		at = s.cfg.Env.Now().Add(wait).UnixNano()
	}
	if s.dueAt.CompareAndSwap(read, at) {
		return
	}
	for {
		cur := s.dueAt.Load()
		if cur != 0 && (at == 0 || cur <= at) || s.dueAt.CompareAndSwap(cur, at) {
			return
		}
	}
}

func (s *Scheduler) interval() time.Duration {
	if iv := s.cfg.Settings().HeartbeatInterval; iv > 0 {
		return iv
	}
	return archivist.DefaultHeartbeatInterval
}

func (s *Scheduler) lease() archivist.Lease {
	if s.cfg.Elector == nil {
		return archivist.Lease{}
	}
	return s.cfg.Elector.Lease()
}

// RunOnce runs one maintenance and placement round under lease; for tests.
func (s *Scheduler) RunOnce(ctx context.Context, lease archivist.Lease) error {
	s.maintain(ctx, lease)
	_, err := s.place(ctx, lease, false, false)
	return err
}

// maintain takes back expired leases and the tasks of lost nodes, and
// purges finished tasks past retention.
func (s *Scheduler) maintain(ctx context.Context, lease archivist.Lease) {
	cfg := s.cfg.Settings()
	now := s.cfg.Env.Now()
	retry := archivist.RetryPolicy{Disabled: !cfg.FaultTolerance, Base: cfg.RetryBackoff, Max: cfg.MaxBackoff}
	if ts, err := s.cfg.Store.RecoverExpired(ctx, lease, retry); err != nil {
		s.logErr(ctx, "recover expired leases", err)
	} else if len(ts) > 0 {
		s.cfg.Env.Logger.Info("took back tasks whose lease ran out", "tasks", len(ts))
	}
	nodes, err := s.cfg.Store.ListNodes(ctx)
	if err != nil {
		s.logErr(ctx, "list nodes", err)
		return
	}
	// The store was out of reach a moment ago: no node could heartbeat
	// meanwhile. Give them the usual time to beat again before calling any
	// lost.
	inGrace := archivist.InHeartbeatGrace(s.cfg.Store, cfg.MissedHeartbeats, cfg.HeartbeatInterval)
	loads, err := s.cfg.Store.NodeLoads(ctx)
	if err != nil {
		s.logErr(ctx, "node loads", err)
		return
	}
	known := map[string]bool{}
	for _, n := range nodes {
		known[n.ID] = true
		if !n.Offline(now, cfg.MissedHeartbeats) {
			delete(s.lost, n.ID)
			continue
		}
		if inGrace {
			continue
		}
		if _, seen := s.lost[n.ID]; !seen {
			s.cfg.Env.Logger.Warn("node is offline: no heartbeat", "node", n.ID, "last_heartbeat", n.LastHeartbeat)
			s.lost[n.ID] = now
		}
	}
	// Tasks held by offline nodes, or by nodes the store no longer knows,
	// are taken back at once: put back with fault tolerance on; with it
	// off, the running ones fail (see takeBack).
	for id, load := range loads {
		if load == 0 {
			continue
		}
		if _, isLost := s.lost[id]; !isLost && known[id] {
			continue
		}
		s.takeBack(ctx, lease, cfg, id, known[id])
	}
	if now.Sub(s.lastPurge) >= s.cfg.JanitorInterval {
		s.lastPurge = now
		n, err := s.cfg.Store.PurgeFinished(ctx, now.Add(-cfg.Retention), now.Add(-cfg.FailedRetentionPeriod()))
		if err != nil {
			s.logErr(ctx, "purge finished tasks", err)
		} else if n > 0 {
			s.cfg.Env.Logger.Info("purged finished tasks past retention", "tasks", n, "retention", cfg.Retention)
		}
	}
}

// takeBack takes back the tasks of lost node id. With fault tolerance on,
// all of them go back to PENDING to run elsewhere (RequeueNode). With it
// off, no task may run twice: the ones the node had started end FAILED
// with an error that says the node was lost (FailNode), and only the ones
// it had not claimed yet, which never ran, go back. known tells a node
// that stopped heartbeating from one that left the store (deregistered,
// or removed through the API).
func (s *Scheduler) takeBack(ctx context.Context, lease archivist.Lease, cfg archivist.Config, id string, known bool) {
	if cfg.FaultTolerance {
		ts, err := s.cfg.Store.RequeueNode(ctx, lease, id)
		if err != nil {
			s.logErr(ctx, "requeue tasks of lost node", err)
			return
		}
		s.cfg.Env.Logger.Warn("put back the tasks of a lost node", "node", id, "tasks", len(ts))
		return
	}
	how := "stopped heartbeating"
	if !known {
		how = "left the cluster"
	}
	reason := fmt.Sprintf("node %s was lost (%s) while running this task; fault tolerance is off, so it was not run again", id, how)
	ts, err := s.cfg.Store.FailNode(ctx, lease, id, reason)
	if err != nil {
		s.logErr(ctx, "fail tasks of lost node", err)
		return
	}
	failed := 0
	for _, t := range ts {
		if t.Status != archivist.TaskPending {
			failed++
		}
	}
	s.cfg.Env.Logger.Warn("a node was lost with fault tolerance off: its running tasks end without running again, the ones it had not started go back",
		"node", id, "ended", failed, "put_back", len(ts)-failed)
}

// place runs placement rounds until nothing more can be placed, and
// reports whether ready tasks may be left waiting (for capacity, or for a
// node that takes them). cached lets it use the node list of an earlier
// round (see Scheduler.nodes).
//
// A round reads the node loads and the head of the ready queue, a little
// more than the free slots (in one call from a store that can:
// archivist.RoundReader), places what it can and assigns that in one call. When some of
// those tasks cannot be placed now (no node takes their type), it reads a
// wider window, up to maxScan tasks deep, so that they do not hold back
// the ones behind them.
//
// quick lets it place the tasks created since the last round without
// reading the queue, when the leader knows they are all it holds
// (placeFresh).
func (s *Scheduler) place(ctx context.Context, lease archivist.Lease, cached, quick bool) (backlog bool, err error) {
	cfg := s.cfg.Settings()
	if !cfg.Enabled {
		s.forget()
		return false, nil // distributed processing off: each node runs what it was given
	}
	if quick {
		if backlog, ok, err := s.placeFresh(ctx, lease, cfg); ok {
			return backlog, err
		}
	}
	// From the first read on, creations are gathered again; if the rounds
	// end with the queue read to its end and all of it placed, the queue
	// holds nothing else.
	s.mu.Lock()
	s.known, s.fresh = true, nil
	s.mu.Unlock()
	backlog, err = s.placeRead(ctx, lease, cfg, cached)
	if backlog || err != nil {
		s.forget()
	}
	return backlog, err
}

// placeRead runs placement rounds that read the ready queue (see place).
func (s *Scheduler) placeRead(ctx context.Context, lease archivist.Lease, cfg archivist.Config, cached bool) (backlog bool, err error) {
	for ctx.Err() == nil {
		cands, free, limit, tasks, err := s.readRound(ctx, cfg, cached)
		if err != nil || free == 0 {
			return true, err
		}
		loads := make([]int, len(cands))
		for i, c := range cands {
			loads[i] = c.Load
		}
		next := s.placer.next
		var as []archivist.Assignment
		for {
			if tasks == nil {
				if tasks, err = s.cfg.Store.ReadyTasks(ctx, limit); err != nil {
					return true, err
				}
			}
			if len(tasks) == 0 {
				return false, nil
			}
			as = s.placer.Place(cfg.Strategy, tasks, cands)
			if len(as) >= free || len(tasks) < limit || limit >= maxScan {
				break
			}
			// Some could not be placed: look deeper, placing afresh.
			for i, c := range cands {
				c.Load = loads[i]
			}
			s.placer.next = next
			limit, tasks = min(limit*2, maxScan), nil
		}
		if len(as) == 0 {
			return true, nil
		}
		var placedAt time.Time
		if tracing.Enabled() {
			placedAt = time.Now()
		}
		local, mine, reserved := s.reserveLocal(as)
		placed, err := s.cfg.Store.AssignTasks(ctx, lease, as, s.cfg.ClaimWithin)
		if reserved > 0 {
			local.RunStarted(startedOn(local.NodeID(), placed), reserved)
		}
		if err != nil {
			s.logErr(ctx, "assign tasks", err)
			return true, err
		}
		if mine > reserved {
			// Tasks wait on this node for a claim: new ones must not
			// start ahead of them (placeFresh), so the next round reads.
			s.forget()
		}
		if tracing.Enabled() {
			tracePlaced(ctx, tasks, as, placed, placedAt)
		}
		switch {
		case len(tasks) < limit && len(as) == len(tasks) && len(placed) == len(as):
			return false, nil // the queue is empty
		case len(placed) < len(as) || len(as) < free || len(tasks) < limit:
			return true, nil
		}
	}
	return true, ctx.Err()
}

// local returns this node's worker pool, or nil.
func (s *Scheduler) local() LocalPool {
	if s.cfg.Local == nil {
		return nil
	}
	return s.cfg.Local()
}

// reserveLocal sets aside workers of this node's pool for the assignments
// to this node (mine of them), at most one each, and marks those
// assignments to start in the placement step. It returns the pool and how
// many workers it reserved (0: none, and nothing to hand it).
func (s *Scheduler) reserveLocal(as []archivist.Assignment) (local LocalPool, mine, reserved int) {
	if local = s.local(); local == nil {
		return nil, 0, 0
	}
	self := local.NodeID()
	for _, a := range as {
		if a.NodeID == self {
			mine++
		}
	}
	if mine == 0 {
		return local, 0, 0
	}
	n, grace := local.Reserve(mine)
	// The first ones in placement order start.
	for i, left := 0, n; i < len(as) && left > 0; i++ {
		if as[i].NodeID == self {
			as[i].Start, as[i].Grace = true, grace
			left--
		}
	}
	return local, mine, n
}

// placeFresh places the tasks created since the last round (fresh) without
// reading the ready queue, when the leader knows they are all it holds
// (Scheduler.known) and its own node is the only one that takes tasks now:
// they start there in the placement call, as many as its pool has free
// workers, in placement order. ok is false when the round must read the
// queue instead; backlog is true when tasks were left waiting.
func (s *Scheduler) placeFresh(ctx context.Context, lease archivist.Lease, cfg archivist.Config) (backlog, ok bool, err error) {
	local := s.local()
	if local == nil {
		return false, false, nil
	}
	s.mu.Lock()
	if !s.known || len(s.fresh) == 0 {
		s.mu.Unlock()
		return false, false, nil
	}
	fresh := s.fresh
	s.fresh = nil
	s.mu.Unlock()
	nodes, err := s.nodeList(ctx, true)
	if err != nil {
		return false, false, nil
	}
	avail := s.available(nodes, cfg)
	if len(avail) != 1 || avail[0].ID != local.NodeID() {
		return false, false, nil
	}
	sort.SliceStable(fresh, func(i, j int) bool {
		a, b := fresh[i], fresh[j]
		if a.Priority.Rank() != b.Priority.Rank() {
			return a.Priority.Rank() > b.Priority.Rank()
		}
		if a.Turn != b.Turn {
			return a.Turn < b.Turn
		}
		return a.Seq < b.Seq
	})
	n, grace := local.Reserve(len(fresh))
	if n == 0 {
		s.forget()
		return true, true, nil // no worker free: they wait in the queue
	}
	// The strategy still decides whether the node takes each task (its
	// types, its capabilities), up to the reserved workers.
	self := &Candidate{Node: avail[0], Load: avail[0].Workers - n}
	as := s.placer.Place(cfg.Strategy, fresh, []*Candidate{self})
	for i := range as {
		as[i].Start, as[i].Grace = true, grace
	}
	var placedAt time.Time
	if tracing.Enabled() {
		placedAt = time.Now()
	}
	var placed []*archivist.Task
	if len(as) > 0 {
		placed, err = s.cfg.Store.AssignTasks(ctx, lease, as, s.cfg.ClaimWithin)
	}
	local.RunStarted(startedOn(self.Node.ID, placed), n)
	if err != nil {
		s.forget()
		s.logErr(ctx, "assign tasks", err)
		return true, true, err
	}
	if tracing.Enabled() {
		tracePlaced(ctx, fresh, as, placed, placedAt)
	}
	if len(as) < len(fresh) {
		s.forget()
		return true, true, nil // some wait in the queue
	}
	return false, true, nil
}

// startedOn returns the tasks of placed that started on node.
func startedOn(node string, placed []*archivist.Task) []*archivist.Task {
	var out []*archivist.Task
	for _, t := range placed {
		if t.Status == archivist.TaskInProgress && t.NodeID == node {
			out = append(out, t)
		}
	}
	return out
}

// roundMargin is how many ready tasks beyond the free slots a placement
// round reads, at most: those some candidate cannot take need not hold
// back the ones behind them.
const roundMargin = 16

// readRound reads what a placement round needs: the candidates, their
// free slots, how many ready tasks to read (a little more than fit), and,
// from a store that reads them in the same call (archivist.RoundReader),
// those tasks (nil: to be read).
func (s *Scheduler) readRound(ctx context.Context, cfg archivist.Config, cached bool) (cands []*Candidate, free, limit int, tasks []*archivist.Task, err error) {
	rr, ok := s.cfg.Store.(archivist.RoundReader)
	if !ok {
		cands, free, err = s.candidates(ctx, cfg, cached)
		return cands, free, archivist.RoundLimit(free, roundMargin, s.cfg.Batch), nil, err
	}
	nodes, err := s.nodeList(ctx, cached)
	if err != nil {
		return nil, 0, 0, nil, err
	}
	avail := s.available(nodes, cfg)
	workers := make(map[string]int, len(avail))
	for _, n := range avail {
		workers[n.ID] = n.Workers
	}
	loads, tasks, limit, err := rr.ReadRound(ctx, workers, roundMargin, s.cfg.Batch)
	if err != nil {
		return nil, 0, 0, nil, err
	}
	cands, free = candidatesOf(avail, loads)
	if tasks == nil {
		tasks = []*archivist.Task{} // read: none ready
	}
	return cands, free, limit, tasks, nil
}

// nodeList returns the node list, from the cache when cached allows (see
// Scheduler.nodes).
func (s *Scheduler) nodeList(ctx context.Context, cached bool) ([]*archivist.Node, error) {
	now := s.cfg.Env.Now()
	if cached && s.nodes != nil && !s.nodesStale.Load() && now.Sub(s.nodesAt) < s.interval() && !now.Before(s.nodesAt) {
		return s.nodes, nil
	}
	s.nodesStale.Store(false)
	nodes, err := s.cfg.Store.ListNodes(ctx)
	if err != nil {
		s.nodes = nil
		return nil, err
	}
	s.nodes, s.nodesAt = nodes, now
	return nodes, nil
}

// available are the nodes that may take new tasks now: ONLINE (not busy,
// draining or offline), running tasks, taking part in placement, admitted.
func (s *Scheduler) available(nodes []*archivist.Node, cfg archivist.Config) []*archivist.Node {
	now := s.cfg.Env.Now()
	var out []*archivist.Node
	for _, n := range nodes {
		if !cfg.Admits(n) {
			s.refuse(n)
			continue
		}
		if !s.proven(n, cfg.AdmissionKey) {
			continue
		}
		if !n.Role.RunsTasks() || n.Local || n.StatusAt(now, cfg.MissedHeartbeats) != archivist.NodeOnline {
			continue
		}
		out = append(out, n)
	}
	return out
}

// candidates returns the nodes that may take new tasks now and their total
// free slots. With cached, the node list of an earlier round serves unless
// a node changed since or it is older than a heartbeat interval; the loads
// are always read.
func (s *Scheduler) candidates(ctx context.Context, cfg archivist.Config, cached bool) ([]*Candidate, int, error) {
	nodes, err := s.nodeList(ctx, cached)
	if err != nil {
		return nil, 0, err
	}
	loads, err := s.cfg.Store.NodeLoads(ctx)
	if err != nil {
		return nil, 0, err
	}
	out, free := candidatesOf(s.available(nodes, cfg), loads)
	return out, free, nil
}

// candidatesOf returns the nodes of avail with free slots under loads, and
// their total free slots.
func candidatesOf(avail []*archivist.Node, loads map[string]int) ([]*Candidate, int) {
	var out []*Candidate
	free := 0
	for _, n := range avail {
		c := &Candidate{Node: n, Load: loads[n.ID]}
		if c.Free() > 0 {
			free += c.Free()
			out = append(out, c)
		}
	}
	return out, free
}

// refuse logs, once per node, that a node outside the manual peer list gets
// no work.
func (s *Scheduler) refuse(n *archivist.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused == nil {
		s.refused = map[string]bool{}
	}
	if !s.refused[n.ID] {
		s.refused[n.ID] = true
		s.cfg.Env.Logger.Warn("refused a node that is not in the manual peer list: it gets no tasks", "node", n.ID, "address", n.Address)
	}
}

func (s *Scheduler) logErr(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	if archivist.IsCode(err, archivist.CodeConflict) {
		s.cfg.Env.Logger.Info(what+": leadership moved on", "err", err)
		return
	}
	s.cfg.Env.Logger.Error(what, "err", err)
}

// tracePlaced records the placement of each placed task that has a trace
// (Task.Trace) as a span of that trace: from the assignment call to its
// answer, with the node chosen.
func tracePlaced(ctx context.Context, read []*archivist.Task, as []archivist.Assignment, placed []*archivist.Task, start time.Time) {
	byID := make(map[string]*archivist.Task, len(read))
	for _, t := range read {
		if t.Trace != "" {
			byID[t.ID] = t
		}
	}
	if len(byID) == 0 {
		return
	}
	done := make(map[string]bool, len(placed))
	for _, t := range placed {
		done[t.ID] = true
	}
	end := time.Now()
	for _, a := range as {
		t := byID[a.TaskID]
		if t == nil || !done[a.TaskID] {
			continue
		}
		_, span := tracing.StartAt(tracing.Resume(ctx, t.Trace), "place "+t.Type, start,
			tracing.KeyTaskID.String(t.ID), tracing.KeyTaskType.String(t.Type), tracing.KeyNode.String(a.NodeID))
		span.End(trace.WithTimestamp(end))
	}
}
