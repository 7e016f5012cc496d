package workerpool_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/tasks"
)

// subscribeCounter is a store that counts the pool's subscriptions: one
// per run of the pool.
type subscribeCounter struct {
	archivist.Store
	n atomic.Int32
}

func (s *subscribeCounter) Subscribe(ctx context.Context, after uint64) (archivist.Subscription, error) {
	s.n.Add(1)
	return s.Store.Subscribe(ctx, after)
}

// Start is idempotent and the run outlives Start's context; a stopped pool
// claims nothing, and started again it runs tasks again.
func TestPoolStartIdempotentAndRestartable(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		st := &subscribeCounter{Store: b.store}
		b.cfg.Store = st
		p := b.start(t)
		ctx, cancel := context.WithCancel(context.Background())
		for range 3 {
			if err := p.Start(ctx); err != nil {
				t.Fatalf("Start again: %v", err)
			}
		}
		cancel()
		<-p.Started()
		if got := st.n.Load(); got != 1 {
			t.Fatalf("four Starts made %d runs, want 1", got)
		}
		first := b.submit(t, newTask(tasks.TypeEcho, `"one"`))[0]
		b.waitStatus(t, first, wait, archivist.TaskCompleted)

		if err := p.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if p.Running() {
			t.Fatal("running after Stop")
		}
		<-p.Stopped()
		second := b.submit(t, newTask(tasks.TypeEcho, `"two"`))[0]
		time.Sleep(2 * time.Second) // past poll intervals
		synctest.Wait()
		if got := b.task(t, second).Status; got != archivist.TaskAssigned {
			t.Fatalf("a stopped pool took a task: %s", got)
		}

		if err := p.Start(context.Background()); err != nil {
			t.Fatalf("Start after Stop: %v", err)
		}
		testkit.Signal(t, p.Started(), wait, "the pool to start again")
		b.waitStatus(t, second, wait, archivist.TaskCompleted)
		if got := st.n.Load(); got != 2 {
			t.Fatalf("%d runs after a restart, want 2", got)
		}
	})
}

// Stop is bounded by its context even when a handler ignores the
// cancellation of its attempt: it returns the context's error when the
// context ends, the attempt having been stopped before; the pool winds
// down once the handler returns, and its outcome is recorded then.
func TestPoolStopBoundedByContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.cfg.ShutdownGrace = time.Hour
		cancelled, release := make(chan struct{}), make(chan struct{})
		b.reg.RegisterFunc("stubborn", func(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
			<-ctx.Done()
			close(cancelled)
			<-release // and goes on regardless
			return nil, ctx.Err()
		})
		p := b.start(t)
		id := b.submit(t, newTask("stubborn", `{}`))[0]
		b.waitStatus(t, id, wait, archivist.TaskInProgress)

		testkit.StopGivesUp(t, p.Stop, 10*time.Second, "an attempt that ignores cancellation")
		select {
		case <-cancelled:
		default:
			t.Fatal("the attempt was not stopped before Stop's context ended")
		}
		select {
		case <-p.Stopped():
			t.Fatal("Stopped while an attempt still ran")
		default:
		}

		close(release)
		testkit.Signal(t, p.Stopped(), wait, "the pool to wind down once the handler returned")
		if task := b.task(t, id); task.Status != archivist.TaskPending || task.Requeues != 1 {
			t.Errorf("the stopped attempt's task is %s with %d requeues, want PENDING with 1", task.Status, task.Requeues)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatalf("Stop once wound down: %v", err)
		}
	})
}
