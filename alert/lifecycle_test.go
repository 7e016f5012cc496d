package alert

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/store"
)

// hangingStore counts subscriptions and evaluations (ListNodes) and, once
// stuck, blocks evaluations until block is closed, whatever their context
// says: a store call that hangs.
type hangingStore struct {
	archivist.Store
	subscribes, evaluations atomic.Int32
	stuck                   atomic.Bool
	block                   chan struct{}
}

func (s *hangingStore) Subscribe(ctx context.Context, after uint64) (archivist.Subscription, error) {
	s.subscribes.Add(1)
	return s.Store.Subscribe(ctx, after)
}

func (s *hangingStore) ListNodes(ctx context.Context) ([]*archivist.Node, error) {
	s.evaluations.Add(1)
	if s.stuck.Load() {
		<-s.block
	}
	return s.Store.ListNodes(ctx)
}

// On synctest's fake clock: Start is idempotent (one subscription, one
// loop evaluating every heartbeat interval), a stopped evaluator evaluates
// no more and starts again, and Stop is bounded by its context when the
// store hangs.
func TestEvaluatorLifecycle(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		mem := store.NewMemory(store.Options{})
		t.Cleanup(func() { mem.Close() })
		st := &hangingStore{Store: mem, block: make(chan struct{})}
		ev := New(Config{Store: st,
			Settings: func() archivist.Config { c := archivist.DefaultConfig(); c.HeartbeatInterval = time.Second; return c }})
		t.Cleanup(func() { ev.Stop(context.Background()) })

		started := ev.Started()
		for range 3 {
			if err := ev.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
		}
		<-started
		if got := st.subscribes.Load(); got != 1 {
			t.Fatalf("three Starts subscribed %d times, want 1", got)
		}
		time.Sleep(3*time.Second + time.Millisecond)
		synctest.Wait()
		if got := st.evaluations.Load(); got != 3 {
			t.Fatalf("%d evaluations in three heartbeat intervals, want 3 (one loop)", got)
		}

		if err := ev.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		<-ev.Stopped()
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := st.evaluations.Load(); got != 3 {
			t.Fatalf("a stopped evaluator went on: %d evaluations, want 3", got)
		}

		if err := ev.Start(t.Context()); err != nil {
			t.Fatalf("Start after Stop: %v", err)
		}
		<-ev.Started()
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if got, subs := st.evaluations.Load(), st.subscribes.Load(); got != 4 || subs != 2 {
			t.Fatalf("after a restart and an interval: %d evaluations and %d subscriptions in all, want 4 and 2", got, subs)
		}

		st.stuck.Store(true)
		time.Sleep(time.Second) // the next evaluation hangs
		synctest.Wait()
		testkit.StopGivesUp(t, ev.Stop, time.Second, "an evaluation stuck")
		close(st.block)
		if err := ev.Stop(context.Background()); err != nil {
			t.Fatalf("a second Stop once the store answers: %v", err)
		}
	})
}
