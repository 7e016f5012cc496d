package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/workerpool"
)

// roleParts are the parts of a node that its role decides, one step of
// Main's list: a worker pool when the role runs tasks (WORKER, HYBRID), an
// elector, a scheduler and a schedule runner when it can lead (MASTER,
// HYBRID). Start starts those the role needs; a role change (set) starts
// and stops them as nodeState describes; Stop stops them all, the schedule
// runner and the scheduler first (no new ticks or placements), then the
// elector (leadership resigned at once), then the pool (running tasks get
// their grace). The parts are Main's Pool, Elector, Scheduler and
// Schedules, read under Main.mu.
type roleParts struct {
	m *Main
	// mu makes starts, stops and role changes one at a time.
	mu sync.Mutex
	// running: between Start and Stop. Otherwise a role change only
	// records the role, and Start starts what it needs.
	running bool
	// retiring runs retirePool while the pool of a node made MASTER
	// finishes its tasks.
	retiring lifecycle.Base
}

// retireCheck is how often a retiring pool looks whether the node still
// holds tasks; retireQuiet is how many checks in a row must find none.
const (
	retireCheck = 200 * time.Millisecond
	retireQuiet = 3
)

// Start starts the parts the node's role needs now. If one fails, those
// started are stopped again.
func (r *roleParts) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running {
		return nil
	}
	if err := r.ensure(ctx, r.m.currentRole()); err != nil {
		_ = r.stop(ctx)
		return err
	}
	r.running = true
	return nil
}

// Stop stops every part, a retiring pool included, each within ctx.
func (r *roleParts) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running = false
	return r.stop(ctx)
}

// stop (r.mu held) stops the schedule runner, the scheduler, the elector
// and the pool.
func (r *roleParts) stop(ctx context.Context) error {
	m := r.m
	var errs []error
	if err := r.retiring.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop retiring the worker pool: %w", err))
	}
	errs = append(errs, m.stopLeading(ctx))
	m.mu.Lock()
	p := m.Pool
	m.Pool = nil
	m.mu.Unlock()
	if p != nil {
		if err := p.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop worker pool: %w", err))
		}
	}
	return errors.Join(errs...)
}

// set changes the node's role and, while the parts run, starts or stops
// those the new role needs or not.
func (r *roleParts) set(ctx context.Context, to archivist.NodeRole) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.m
	m.mu.Lock()
	from := m.role
	if from == to {
		m.mu.Unlock()
		return
	}
	m.role = to
	m.mu.Unlock()
	m.Logger.Info("role changed", "from", from, "to", to)
	// Tell the leader at once: a node made MASTER gets no new tasks.
	m.kick()
	if !r.running {
		return
	}
	if err := r.ensure(ctx, to); err != nil {
		m.Logger.Error("start the parts of the new role", "role", to, "err", err)
	}
}

// ensure (r.mu held) makes the parts match role: it starts those the role
// needs, stops the elector and scheduler of a role that cannot lead, and
// retires the pool of one that runs no tasks.
func (r *roleParts) ensure(ctx context.Context, role archivist.NodeRole) error {
	m := r.m
	var errs []error
	if role.RunsTasks() {
		// A pool still retiring goes on as it is.
		if err := r.retiring.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop retiring the worker pool: %w", err))
		}
		p := m.pool()
		if p == nil {
			p = m.newPool()
		}
		m.mu.Lock()
		draining := m.node.draining
		m.mu.Unlock()
		p.SetPaused(draining)
		p.SetWorkers(m.workers(m.Settings()))
		if err := p.Start(ctx); err != nil {
			errs = append(errs, fmt.Errorf("start the worker pool: %w", err))
		}
	} else if p := m.pool(); p != nil && !r.retiring.Running() {
		_ = r.retiring.Start(ctx, nil, func(ctx context.Context) { m.retirePool(ctx, p) })
	}
	if !role.CanLead() {
		if err := m.stopLeading(ctx); err != nil {
			errs = append(errs, err)
		}
	} else if m.elector() == nil {
		if err := m.startLeading(ctx); err != nil {
			errs = append(errs, fmt.Errorf("start leader election: %w", err))
		}
	}
	return errors.Join(errs...)
}

// retirePool lets p finish what the node runs or was assigned, taking no
// local work, then stops it, once the node holds no task for retireQuiet
// checks in a row (an assignment made just before the leader saw the role
// change is then claimed and run too). Stopped early through ctx (the node
// runs tasks again, or closes), it leaves p running.
func (m *Main) retirePool(ctx context.Context, p *workerpool.Pool) {
	p.SetPaused(true)
	m.Logger.Info("retiring the worker pool: it finishes the tasks this node holds and takes no new ones",
		"active", p.Active())
	t := time.NewTicker(retireCheck)
	defer t.Stop()
	for quiet := 0; quiet < retireQuiet; {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		loads, err := m.Store.NodeLoads(ctx)
		if err != nil {
			quiet = 0
			continue
		}
		if p.Active() == 0 && loads[m.nodeID] == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	if ctx.Err() != nil {
		return
	}
	_ = p.Stop(context.WithoutCancel(ctx))
	m.mu.Lock()
	if m.Pool == p {
		m.Pool = nil
	}
	m.mu.Unlock()
	m.Logger.Info("worker pool stopped: this node runs no tasks")
	m.kick()
}
