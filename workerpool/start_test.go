package workerpool_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/tasks"
	"github.com/rpg-archivist/archivist/workerpool"
)

// startHere starts task id on the pool's node in a placement step, as the
// leader on this node does (archivist.Assignment.Start).
func (b *bundle) startHere(t *testing.T, id string, grace time.Duration) *archivist.Task {
	t.Helper()
	got, err := b.store.AssignTasks(b.ctx, b.lease, []archivist.Assignment{{TaskID: id, NodeID: nodeID, Start: true, Grace: grace}}, time.Hour)
	if err != nil || len(got) != 1 || got[0].Status != archivist.TaskInProgress {
		t.Fatalf("AssignTasks starting %s: %v, %v", id, got, err)
	}
	return got[0]
}

// Workers reserved for the leader's placement step are not used by claims
// until the step hands its tasks over; the pool runs what it is handed, and
// the reserved workers it was not handed tasks for take what waits.
func TestPoolRunStarted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.cfg.Workers = 2
		g := newGate()
		b.reg.Register("gate", g)
		if n, _ := workerpool.New(b.cfg).Reserve(1); n != 0 {
			t.Fatalf("a pool not started reserved %d workers", n)
		}
		p := b.start(t)
		if p.NodeID() != nodeID {
			t.Errorf("NodeID() = %q, want %q", p.NodeID(), nodeID)
		}
		n, grace := p.Reserve(3)
		if n != 2 || grace != workerpool.DefaultLeaseGrace {
			t.Fatalf("Reserve(3) with 2 free workers: %d, grace %s; want 2, %s", n, grace, workerpool.DefaultLeaseGrace)
		}
		if again, _ := p.Reserve(1); again != 0 {
			t.Errorf("Reserve(1) with every worker reserved: %d", again)
		}
		// A task assigned here meanwhile waits for a worker.
		waiting := b.submit(t, newTask("gate", `{}`))[0]
		synctest.Wait()
		if got := b.task(t, waiting).Status; got != archivist.TaskAssigned {
			t.Fatalf("a task assigned while every worker is reserved is %s, want ASSIGNED", got)
		}
		started := b.startHere(t, b.create(t, newTask("gate", `{}`))[0], grace)
		p.RunStarted([]*archivist.Task{started}, 2)
		g.waitRunning(t, 2) // the started one, and the waiting one in the worker left over
		if got := b.task(t, waiting); got.Status != archivist.TaskInProgress {
			t.Errorf("the waiting task is %s once a reserved worker came back, want IN_PROGRESS", got.Status)
		}
		g.let(t)
		g.let(t)
		for _, id := range []string{started.ID, waiting} {
			if task := b.waitStatus(t, id, wait, archivist.TaskCompleted); task.Attempt != 1 {
				t.Errorf("task %s completed at attempt %d, want 1", id, task.Attempt)
			}
		}
		if got := b.obs.outcomesOf(started.ID); len(got) != 1 || got[0] != "completed" {
			t.Errorf("outcomes of the started task: %v, want [completed]", got)
		}
	})
}

// While workers are reserved, the orphan check leaves alone a task the
// store shows running here that the pool does not run yet: it may be one
// the placement step started, on its way to RunStarted.
func TestPoolOrphanCheckSparesTasksBeingStarted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.cfg.OrphanCheck = 50 * time.Millisecond
		p := b.start(t)
		n, grace := p.Reserve(1)
		if n != 1 {
			t.Fatalf("Reserve(1): %d", n)
		}
		started := b.startHere(t, b.create(t, newTask(tasks.TypeEcho, `{"x":1}`))[0], grace)
		time.Sleep(10 * b.cfg.OrphanCheck) // ten orphan checks
		synctest.Wait()
		if task := b.task(t, started.ID); task.Status != archivist.TaskInProgress || task.Requeues != 0 {
			t.Fatalf("a task being started here, after orphan checks: %s with %d requeues; want IN_PROGRESS, none", task.Status, task.Requeues)
		}
		p.RunStarted([]*archivist.Task{started}, n)
		if task := b.waitStatus(t, started.ID, wait, archivist.TaskCompleted); task.Attempt != 1 || task.Requeues != 0 {
			t.Errorf("completed at attempt %d with %d requeues, want 1 and none", task.Attempt, task.Requeues)
		}
		// With nothing reserved any more, an orphan is put back as before.
		orphan := b.startHere(t, b.create(t, newTask(tasks.TypeEcho, `{}`))[0], grace)
		b.waitStatus(t, orphan.ID, wait, archivist.TaskPending)
	})
}

// Tasks handed over after the pool stopped go back: they never ran. A
// stopped pool reserves nothing.
func TestPoolRunStartedAfterStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		p := b.start(t)
		n, grace := p.Reserve(1)
		started := b.startHere(t, b.create(t, newTask(tasks.TypeEcho, `{}`))[0], grace)
		if err := p.Stop(b.ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		p.RunStarted([]*archivist.Task{started}, n)
		task := b.task(t, started.ID)
		if task.Status != archivist.TaskPending || task.Failures != 0 {
			t.Errorf("a task handed to a stopped pool is %s with %d failures, want PENDING and none", task.Status, task.Failures)
		}
		if len(b.obs.outcomesOf(started.ID)) != 0 {
			t.Errorf("a task handed to a stopped pool ran: %v", b.obs.outcomesOf(started.ID))
		}
		if n, _ := p.Reserve(1); n != 0 {
			t.Errorf("a stopped pool reserved %d workers", n)
		}
	})
}

// claimCounter is a store that counts the pool's claims.
type claimCounter struct {
	archivist.Store
	claims atomic.Int64
}

func (c *claimCounter) ClaimTasks(ctx context.Context, nodeID string, limit int, grace time.Duration) ([]*archivist.Task, error) {
	c.claims.Add(1)
	return c.Store.ClaimTasks(ctx, nodeID, limit, grace)
}

// startCountingClaims starts a pool on a store that counts its claims, and
// returns the count once the pool is idle (in a synctest bubble).
func startCountingClaims(t *testing.T) (*bundle, *workerpool.Pool, *claimCounter, int64) {
	t.Helper()
	b := setup(t)
	cc := &claimCounter{Store: b.store}
	b.cfg.Store = cc
	p := b.start(t)
	synctest.Wait()
	return b, p, cc, cc.claims.Load()
}

// A task started in the placement step costs the pool no claim: it is
// handed over, and the pool does not look for assigned tasks because of
// it (a claim is a store round trip). Only workers left over wake it.
func TestPoolRunStartedClaimsNothing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b, p, cc, before := startCountingClaims(t)
		n, grace := p.Reserve(1)
		started := b.startHere(t, b.create(t, newTask(tasks.TypeEcho, `{}`))[0], grace)
		p.RunStarted([]*archivist.Task{started}, n)
		b.waitStatus(t, started.ID, wait, archivist.TaskCompleted)
		synctest.Wait()
		if got := cc.claims.Load() - before; got != 0 {
			t.Errorf("%d claims for a task handed over by the placement step, want none", got)
		}
		// Workers set aside and not used wake the pool: something may
		// have been assigned meanwhile.
		n, _ = p.Reserve(2)
		p.RunStarted(nil, n)
		synctest.Wait()
		if got := cc.claims.Load() - before; got != 1 {
			t.Errorf("%d claims after reserved workers came back unused, want 1", got)
		}
	})
}

// The node's heartbeat sets the pause flag each time it beats: only a
// resumption makes the pool claim (local tasks may be waiting), not a
// repeat of what it was.
func TestPoolSetPausedClaimsOnlyOnResume(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, p, cc, before := startCountingClaims(t)
		for range 3 {
			p.SetPaused(false)
		}
		p.SetPaused(true)
		synctest.Wait()
		if got := cc.claims.Load() - before; got != 0 {
			t.Errorf("%d claims when the pause flag was set to what it was, or set, want none", got)
		}
		p.SetPaused(false)
		synctest.Wait()
		if got := cc.claims.Load() - before; got != 1 {
			t.Errorf("%d claims after a resumption, want 1", got)
		}
	})
}
