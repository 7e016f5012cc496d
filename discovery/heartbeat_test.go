package discovery_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/discovery"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/store"
)

// beatStore is a memory store whose heartbeats can be refused, or held
// (ignoring their context) until released.
type beatStore struct {
	archivist.Store
	mu      sync.Mutex
	refuse  error
	hold    chan struct{} // when not nil, heartbeats wait for it to close
	held    chan struct{} // closed when a heartbeat is held
	removed atomic.Int32
}

func (s *beatStore) Heartbeat(ctx context.Context, n *archivist.Node) (*archivist.Node, error) {
	s.mu.Lock()
	refuse, hold, held := s.refuse, s.hold, s.held
	s.mu.Unlock()
	if refuse != nil {
		return nil, refuse
	}
	if hold != nil {
		close(held)
		<-hold
	}
	return s.Store.Heartbeat(ctx, n)
}

func (s *beatStore) RemoveNode(ctx context.Context, id string) error {
	s.removed.Add(1)
	return s.Store.RemoveNode(ctx, id)
}

// holdBeats makes the next heartbeat wait until the returned function is
// called; held is closed once it waits.
func (s *beatStore) holdBeats() (held <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold, s.held = make(chan struct{}), make(chan struct{})
	hold := s.hold
	return s.held, func() {
		s.mu.Lock()
		s.hold = nil
		s.mu.Unlock()
		close(hold)
	}
}

// heartbeatSetup is a heartbeater of node n1 beating every second on a
// memory store, counting the beats the store kept.
func heartbeatSetup(t *testing.T) (*discovery.Heartbeater, *beatStore, *atomic.Int32) {
	t.Helper()
	mem := store.NewMemory(store.Options{})
	t.Cleanup(func() { _ = mem.Close() })
	st := &beatStore{Store: mem}
	var beats atomic.Int32
	h := discovery.NewHeartbeater(discovery.HeartbeatConfig{
		Store:    st,
		Describe: func() *archivist.Node { return &archivist.Node{ID: "n1", Role: archivist.RoleHybrid} },
		OnStored: func(*archivist.Node) { beats.Add(1) },
		Interval: time.Second,
	})
	t.Cleanup(func() { _ = h.Stop(context.Background()) })
	return h, st, &beats
}

// registered reports whether the store knows node n1.
func registered(t *testing.T, st archivist.Store) bool {
	t.Helper()
	_, err := st.GetNode(context.Background(), "n1")
	if err != nil && !archivist.IsCode(err, archivist.CodeNotFound) {
		t.Fatalf("GetNode: %v", err)
	}
	return err == nil
}

// Start registers the node before it returns (a refusal is its error), is
// idempotent, and the beats outlive Start's context; Stop deregisters, and
// a stopped heartbeater starts again.
func TestHeartbeaterStartStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, st, beats := heartbeatSetup(t)
		st.refuse = errors.New("store refuses")
		if err := h.Start(context.Background()); err == nil || err.Error() != "store refuses" {
			t.Fatalf("Start with a refusing store = %v, want its error", err)
		}
		if h.Running() || registered(t, st) {
			t.Fatal("a heartbeater whose registration failed runs")
		}
		st.refuse = nil

		ctx, cancel := context.WithCancel(context.Background())
		for range 3 {
			if err := h.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
			if !registered(t, st) {
				t.Fatal("Start returned before the node was registered")
			}
		}
		cancel()
		<-h.Started()
		time.Sleep(3*time.Second + time.Millisecond)
		if got := beats.Load(); got != 4 {
			t.Fatalf("%d beats after three Starts and 3 intervals, want 4 (one loop, beyond Start's context)", got)
		}

		for range 2 {
			if err := h.Stop(context.Background()); err != nil {
				t.Fatalf("Stop: %v", err)
			}
		}
		if registered(t, st) || st.removed.Load() != 1 {
			t.Fatalf("after two Stops: registered %v, %d removals; want deregistered once", registered(t, st), st.removed.Load())
		}
		time.Sleep(3 * time.Second)
		if got := beats.Load(); got != 4 {
			t.Fatalf("%d beats after Stop, want still 4", got)
		}

		if err := h.Start(context.Background()); err != nil {
			t.Fatalf("Start after Stop: %v", err)
		}
		time.Sleep(time.Second + time.Millisecond)
		if got := beats.Load(); got != 6 || !registered(t, st) {
			t.Fatalf("after a restart: %d beats (want 6), registered %v", got, registered(t, st))
		}
	})
}

// Stop is bounded by its context while a heartbeat hangs in the store;
// the node is deregistered by the Stop after the heartbeat came back.
func TestHeartbeaterStopBoundedByContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, st, _ := heartbeatSetup(t)
		if err := h.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		held, release := st.holdBeats()
		h.Kick()
		<-held

		testkit.StopGivesUp(t, h.Stop, time.Second, "a heartbeat under way")
		if !registered(t, st) {
			t.Fatal("deregistered while a heartbeat was under way")
		}
		release()
		testkit.Signal(t, h.Stopped(), time.Minute, "the heartbeat loop to end once the store answered")
		if err := h.Stop(context.Background()); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
		if registered(t, st) {
			t.Fatal("still registered after the second Stop")
		}
	})
}
