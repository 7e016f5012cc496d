package workerpool_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/tasks"
)

// faultToleranceOff makes the pool's settings say fault tolerance is off.
func (b *bundle) faultToleranceOff() {
	settings := b.cfg.Settings()
	settings.FaultTolerance = false
	b.cfg.Settings = func() archivist.Config { return settings }
}

// wantNoRerun fails unless task ended FAILED at attempt 1 with an error that
// says all of want and that it was not run again.
func wantNoRerun(t *testing.T, task *archivist.Task, want ...string) {
	t.Helper()
	if task.Status != archivist.TaskFailed || task.Attempt != 1 || task.Failures != 1 || task.Requeues != 0 {
		t.Errorf("task %s: %s at attempt %d, %d failures, %d requeues (error %q); want FAILED at attempt 1, 1 failure, no requeue",
			task.ID, task.Status, task.Attempt, task.Failures, task.Requeues, task.Error)
	}
	for _, w := range append(want, "fault tolerance is off, so it was not run again") {
		if !strings.Contains(task.Error, w) {
			t.Errorf("task %s: error %q does not say %q", task.ID, task.Error, w)
		}
	}
}

// With fault tolerance off, a failed attempt is not retried, whatever
// retries the task has left.
func TestPoolFaultToleranceOffNoRetry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.faultToleranceOff()
		b.start(t)
		b.autoAssign(t)
		id := b.create(t, newTask(tasks.TypeFail, `{"times":2}`, retries(3)))[0]
		task := b.waitStatus(t, id, wait, archivist.TaskCompleted, archivist.TaskFailed, archivist.TaskRetrying)
		if task.Status != archivist.TaskFailed || task.Attempt != 1 || task.Failures != 1 {
			t.Errorf("task is %s at attempt %d with %d failures, want FAILED at attempt 1 with 1", task.Status, task.Attempt, task.Failures)
		}
	})
}

// A handler that panics fails its attempt (without retry when fault
// tolerance is off) and its worker is replaced: the pool keeps all its
// workers, whether fault tolerance is on or off.
func TestPoolPanicKeepsEveryWorker(t *testing.T) {
	t.Parallel()
	for _, ft := range []bool{true, false} {
		name := "fault tolerance on"
		if !ft {
			name = "fault tolerance off"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := setup(t)
				if !ft {
					b.faultToleranceOff()
				}
				b.cfg.Workers = 2
				g := newGate()
				b.reg.Register("gate", g)
				p := b.start(t)

				// Both workers panic, one after the other, several times over.
				const panics = 6
				var ids []string
				for range panics {
					ids = append(ids, b.submit(t, newTask(tasks.TypeFail, `{"times":1,"panic":true}`))...)
				}
				for _, id := range ids {
					task := b.waitStatus(t, id, wait, archivist.TaskFailed, archivist.TaskCompleted, archivist.TaskRetrying)
					if task.Status != archivist.TaskFailed || task.Attempt != 1 || !strings.Contains(task.Error, "panic") {
						t.Errorf("panicking task %s is %s at attempt %d (error %q), want FAILED at attempt 1 with the panic",
							id, task.Status, task.Attempt, task.Error)
					}
				}
				if got := len(b.obs.panics()); got != panics {
					t.Errorf("observed %d panics, want %d", got, panics)
				}

				// Still two workers: two tasks run at once.
				held := b.submit(t, newTask("gate", `{}`), newTask("gate", `{}`))
				g.waitRunning(t, 2)
				if got := p.Workers(); got != 2 {
					t.Errorf("Workers() = %d after the panics, want 2", got)
				}
				g.let(t)
				g.let(t)
				for _, id := range held {
					if task := b.waitStatus(t, id, wait, archivist.TaskCompleted, archivist.TaskFailed); task.Status != archivist.TaskCompleted {
						t.Errorf("task %s after the panics is %s, want COMPLETED", id, task.Status)
					}
				}
			})
		})
	}
}

// With fault tolerance off, an attempt this node's previous process left
// running is failed at Start, not put back: it may have run.
func TestPoolFaultToleranceOffFailsOrphansAtStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.faultToleranceOff()
		ids := b.create(t, newTask(tasks.TypeSleep, `{"ms":10000}`, retries(3)), newTask(tasks.TypeSleep, `{"ms":10000}`, retries(3)))
		mine, theirs := ids[0], ids[1]
		b.assign(t, nodeID, mine)
		b.assign(t, "other", theirs)
		for _, n := range []string{nodeID, "other"} {
			if claimed, err := b.store.ClaimTasks(b.ctx, n, 1, time.Minute); err != nil || len(claimed) != 1 {
				t.Fatalf("ClaimTasks(%s): %d claimed, %v", n, len(claimed), err)
			}
		}

		b.start(t)
		wantNoRerun(t, b.task(t, mine), "node "+nodeID+" restarted while attempt 1 of this task ran there")
		if task := b.task(t, theirs); task.Status != archivist.TaskInProgress || task.NodeID != "other" {
			t.Errorf("another node's task is %s on %q, want IN_PROGRESS on other", task.Status, task.NodeID)
		}
		evs := b.events.waitFor(t, mine, archivist.EventTaskFailed)
		if diff := cmp.Diff([]archivist.EventType{archivist.EventTaskCreated, archivist.EventTaskAssigned, archivist.EventTaskStarted, archivist.EventTaskFailed}, types(evs)); diff != "" {
			t.Errorf("events of the orphan (-want +got):\n%s", diff)
		}
	})
}

// unrecordingStore is a store whose CompleteTask fails, without recording,
// for the task named in lose: as when the report's reply is lost for good.
type unrecordingStore struct {
	archivist.Store
	mu   sync.Mutex
	lose string
}

func (s *unrecordingStore) CompleteTask(ctx context.Context, id string, attempt int, result json.RawMessage) (*archivist.Task, error) {
	s.mu.Lock()
	lose := s.lose == id
	s.mu.Unlock()
	if lose {
		return nil, errors.New("connection reset by peer")
	}
	return s.Store.CompleteTask(ctx, id, attempt, result)
}

// Orphans found while the pool runs: a task the store shows running here
// that the pool never started (a claim whose reply was lost) is put back,
// whether fault tolerance is on or off, since it never ran; one that ran
// here and whose outcome could not be recorded is put back with fault
// tolerance on, and failed with it off. The task the pool runs is left
// alone.
func TestPoolOrphansWhileRunning(t *testing.T) {
	t.Parallel()
	for _, ft := range []bool{true, false} {
		t.Run(fmt.Sprintf("faultTolerance %v", ft), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := setup(t)
				if !ft {
					b.faultToleranceOff()
				}
				st := &unrecordingStore{Store: b.store}
				b.cfg.Store = st
				b.cfg.OrphanCheck = 50 * time.Millisecond
				b.cfg.Workers = 2
				b.start(t)
				ids := b.create(t, newTask(tasks.TypeSleep, `{"ms":5000}`), newTask(tasks.TypeEcho, `"lost claim"`, retries(3)),
					newTask(tasks.TypeEcho, `"unrecorded"`, retries(3)))
				running, lost, unrecorded := ids[0], ids[1], ids[2]
				b.assign(t, nodeID, running)
				b.waitStatus(t, running, wait, archivist.TaskInProgress)

				// The claim of lost happens behind the pool's back (straight from
				// PENDING, so that the pool hears of no assignment to race it).
				if claimed, err := b.store.ClaimTask(b.ctx, nodeID, lost, time.Minute); err != nil || claimed.Status != archivist.TaskInProgress {
					t.Fatalf("ClaimTask: %v", err)
				}
				// unrecorded runs, and its result is lost.
				st.mu.Lock()
				st.lose = unrecorded
				st.mu.Unlock()
				b.assign(t, nodeID, unrecorded)

				testkit.Eventually(t, wait, func() bool { return b.task(t, lost).Status != archivist.TaskInProgress },
					"the never-started orphan to be taken back")
				if task := b.task(t, lost); task.Status != archivist.TaskPending || task.Requeues != 1 || task.Failures != 0 {
					t.Errorf("the never-started orphan: %s, %d requeues, %d failures; want PENDING, 1, 0", task.Status, task.Requeues, task.Failures)
				}
				task := b.waitStatus(t, unrecorded, wait, archivist.TaskFailed, archivist.TaskPending)
				if ft {
					if task.Status != archivist.TaskPending || task.Requeues != 1 {
						t.Errorf("the unrecorded attempt with fault tolerance on: %s with %d requeues, want PENDING with 1", task.Status, task.Requeues)
					}
				} else {
					wantNoRerun(t, task, "node "+nodeID+" ran attempt 1 of this task but could not record its outcome")
				}
				if task := b.task(t, running); task.Status != archivist.TaskInProgress || task.Requeues != 0 {
					t.Errorf("the task the pool runs: %s with %d requeues, want IN_PROGRESS and none", task.Status, task.Requeues)
				}

				// The never-started one, placed again, runs for the first time.
				b.assign(t, nodeID, lost)
				if task := b.waitStatus(t, lost, wait, archivist.TaskCompleted, archivist.TaskFailed); task.Status != archivist.TaskCompleted || task.Attempt != 2 {
					t.Errorf("the put-back task is %s at attempt %d, want COMPLETED at attempt 2 (its first run)", task.Status, task.Attempt)
				}
			})
		})
	}
}

// With fault tolerance off, an attempt still running when the shutdown
// grace runs out is failed, not put back; a task assigned here and never
// started is left to go back (it never ran).
func TestPoolFaultToleranceOffStopFailsRunning(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.faultToleranceOff()
		b.cfg.Workers = 1
		b.cfg.ShutdownGrace = 100 * time.Millisecond
		p := b.start(t)
		ids := b.submit(t, newTask(tasks.TypeSleep, `{"ms":5000}`, retries(3)), newTask(tasks.TypeEcho, `{}`))
		running, queued := ids[0], ids[1]
		b.waitStatus(t, running, wait, archivist.TaskInProgress)

		if err := p.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		wantNoRerun(t, b.task(t, running), "node "+nodeID+" shut down before attempt 1 finished")
		if diff := cmp.Diff([]string{"failed"}, b.obs.outcomesOf(running)); diff != "" {
			t.Errorf("observed outcomes (-want +got):\n%s", diff)
		}
		if task := b.task(t, queued); task.Status != archivist.TaskAssigned || task.Attempt != 0 {
			t.Errorf("queued task after Stop: %s at attempt %d, want ASSIGNED and never started", task.Status, task.Attempt)
		}
	})
}
