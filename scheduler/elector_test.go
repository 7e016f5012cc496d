package scheduler_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/scheduler"
	"github.com/rpg-archivist/archivist/store"
)

// cutStore passes calls through to a store until cut, after which every
// leadership call fails: a node that lost the store (or died) without
// resigning.
type cutStore struct {
	archivist.Store
	mu  sync.RWMutex
	cut bool
}

var errCut = archivist.Errorf(archivist.CodeInternal, "store unreachable")

// Cut stops all further calls; once it returns, none is in flight.
func (s *cutStore) Cut() {
	s.mu.Lock()
	s.cut = true
	s.mu.Unlock()
}

func (s *cutStore) Campaign(ctx context.Context, nodeID string, ttl time.Duration) (archivist.Lease, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.cut {
		return archivist.Lease{}, errCut
	}
	return s.Store.Campaign(ctx, nodeID, ttl)
}

func (s *cutStore) Resign(ctx context.Context, nodeID string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.cut {
		return errCut
	}
	return s.Store.Resign(ctx, nodeID)
}

// countingStore counts campaigns and, once stuck, blocks them until block
// is closed, whatever their context says: a store call that hangs.
type countingStore struct {
	archivist.Store
	campaigns atomic.Int32
	stuck     atomic.Bool
	block     chan struct{}
}

func (s *countingStore) Campaign(ctx context.Context, nodeID string, ttl time.Duration) (archivist.Lease, error) {
	s.campaigns.Add(1)
	if s.stuck.Load() {
		<-s.block
	}
	return s.Store.Campaign(ctx, nodeID, ttl)
}

func newMemoryStore(t *testing.T) *store.Memory {
	t.Helper()
	st := store.NewMemory(store.Options{Logger: quiet})
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// startElector starts an elector and stops it at the end of the test.
func startElector(t *testing.T, st archivist.Store, node string, ttl time.Duration) *scheduler.Elector {
	t.Helper()
	e := scheduler.NewElector(scheduler.ElectorConfig{Store: st, NodeID: node, TTL: ttl, Env: lifecycle.Env{Logger: quiet}})
	if err := e.Start(context.Background()); err != nil {
		t.Fatalf("Start elector %s: %v", node, err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	return e
}

func storeLeader(t *testing.T, st archivist.Store) archivist.Lease {
	t.Helper()
	l, err := st.Leader(context.Background())
	if err != nil {
		t.Fatalf("Leader: %v", err)
	}
	return l
}

// The elector tests run in a synctest bubble: the memory store, the
// renewal timers and the leases all follow its fake clock, so a test
// sleeps exactly to the moment it checks and never waits for real.

func TestElectorLeadsAlone(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := newMemoryStore(t)
		e := startElector(t, st, "m1", time.Second)
		// Start campaigns before it returns.
		if !e.IsLeader() {
			t.Fatalf("a lone elector is not the leader after Start")
		}
		testkit.Signal(t, e.Changed(), time.Second, "Changed when leadership is gained")
		l := e.Lease()
		if l.Holder != "m1" || l.Token <= 0 {
			t.Fatalf("Lease = %+v, want held by m1 with a token", l)
		}
		if got := storeLeader(t, st); got.Holder != "m1" || got.Token != l.Token {
			t.Errorf("store leader %+v, want m1 with token %d", got, l.Token)
		}
		// It keeps renewing, at a third of its TTL: the lease outlives it.
		first := storeLeader(t, st).Expires
		time.Sleep(time.Second/3 + time.Millisecond)
		synctest.Wait()
		if got := storeLeader(t, st).Expires; !got.After(first) {
			t.Fatalf("lease expires at %v after a renewal period, want it renewed past %v", got, first)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !e.IsLeader() || e.Lease().Token != l.Token {
			t.Errorf("after two TTLs: leader %v with token %d, want still leader with token %d", e.IsLeader(), e.Lease().Token, l.Token)
		}

		// Stop is idempotent, resigns, and a stopped elector is not the leader.
		for range 2 {
			if err := e.Stop(context.Background()); err != nil {
				t.Fatalf("Stop: %v", err)
			}
		}
		if e.IsLeader() {
			t.Errorf("a stopped elector still reports leadership")
		}
		if got := storeLeader(t, st); got.Holder != "" {
			t.Errorf("store leader after Stop: %+v, want none (resigned)", got)
		}
	})
}

// Watch gives each part a signal of its own: Changed and every watcher are
// signalled when leadership is gained and lost.
func TestElectorWatch(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := newMemoryStore(t)
		e := scheduler.NewElector(scheduler.ElectorConfig{Store: st, NodeID: "m1", TTL: time.Second, Env: lifecycle.Env{Logger: quiet}})
		w1, w2 := e.Watch(), e.Watch()
		if err := e.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		for _, ch := range []<-chan struct{}{e.Changed(), w1, w2} {
			testkit.Signal(t, ch, time.Second, "a signal when leadership is gained")
		}
		if err := e.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		for _, ch := range []<-chan struct{}{e.Changed(), w1, w2} {
			testkit.Signal(t, ch, time.Second, "a signal when leadership is given up")
		}
	})
}

// A follower that stops does not disturb the leader.
func TestElectorFollowerStopKeepsLeader(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := newMemoryStore(t)
		leader := startElector(t, st, "m1", 10*time.Second)
		follower := startElector(t, st, "m2", 10*time.Second)
		if !leader.IsLeader() || follower.IsLeader() {
			t.Fatalf("m1 leader %v, m2 leader %v; want only m1", leader.IsLeader(), follower.IsLeader())
		}
		token := leader.Lease().Token
		if err := follower.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if got := storeLeader(t, st); got.Holder != "m1" || got.Token != token {
			t.Errorf("store leader after the follower stopped: %+v, want m1 with token %d", got, token)
		}
		if !leader.IsLeader() {
			t.Errorf("m1 lost leadership when m2 stopped")
		}
	})
}

// A second elector takes over when the first leaves: at once when it
// resigns on Stop, and only once its lease has run out when it is simply
// gone. The new holder gets a larger fencing token.
func TestElectorTakeover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// firstTTL is the first leader's lease.
		firstTTL time.Duration
		// abandon: the first leader loses the store instead of stopping.
		abandon bool
		// within bounds the takeover; with resign it is far below firstTTL,
		// so that waiting for the lease to run out would fail the test.
		within time.Duration
	}{
		{name: "first resigns on Stop", firstTTL: time.Minute, within: 5 * time.Second},
		{name: "first is abandoned", firstTTL: 150 * time.Millisecond, abandon: true, within: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				st := newMemoryStore(t)
				first := &cutStore{Store: st}
				e1 := startElector(t, first, "m1", tt.firstTTL)
				e2 := startElector(t, st, "m2", 150*time.Millisecond)
				if !e1.IsLeader() || e2.IsLeader() {
					t.Fatalf("m1 leader %v, m2 leader %v; want only m1 (it started first)", e1.IsLeader(), e2.IsLeader())
				}
				oldToken := e1.Lease().Token

				start := time.Now()
				var expires time.Time
				if tt.abandon {
					first.Cut()
					expires = storeLeader(t, st).Expires
				} else {
					if err := e1.Stop(context.Background()); err != nil {
						t.Fatalf("Stop: %v", err)
					}
					if e1.IsLeader() {
						t.Errorf("m1 still reports leadership after Stop")
					}
					if l := storeLeader(t, st); l.Holder == "m1" {
						t.Errorf("m1 still holds the lease in the store after Stop: %+v; Stop should resign", l)
					}
				}

				testkit.Signal(t, e2.Changed(), tt.within, "m2 never took over")
				took := time.Since(start)
				l := e2.Lease()
				if !e2.IsLeader() || l.Holder != "m2" {
					t.Fatalf("after its Changed signal, m2 has lease %+v, want leadership", l)
				}
				if l.Token <= oldToken {
					t.Errorf("m2's token %d is not larger than m1's %d", l.Token, oldToken)
				}
				if got := storeLeader(t, st); got.Holder != "m2" || got.Token != l.Token {
					t.Errorf("store leader %+v, want m2 with token %d", got, l.Token)
				}
				if e1.IsLeader() {
					t.Errorf("m1 still reports leadership while m2 leads")
				}
				if tt.abandon && time.Now().Before(expires) {
					t.Errorf("m2 took over at %v, before m1's lease ran out at %v", time.Now(), expires)
				}
				// On the fake clock the takeover is exact: at m2's next
				// renewal (every 50ms) once m1 resigned, or once m1's lease
				// ran out.
				if limit := 50 * time.Millisecond; !tt.abandon && took > limit {
					t.Errorf("takeover after a resignation took %s, want at most one renewal period, %s", took, limit)
				}
				t.Logf("takeover after %s", took)
			})
		})
	}
}

// Start is idempotent: three Starts make one campaign loop, and the store
// sees one campaign at Start. Stop then Start campaigns again, and the
// elector leads again with a new token.
func TestElectorStartIdempotentAndRestartable(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := &countingStore{Store: newMemoryStore(t)}
		e := scheduler.NewElector(scheduler.ElectorConfig{Store: st, NodeID: "m1", TTL: 3 * time.Second, Env: lifecycle.Env{Logger: quiet}})
		t.Cleanup(func() { _ = e.Stop(context.Background()) })
		started := e.Started()
		for range 3 {
			if err := e.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
		}
		testkit.Signal(t, started, time.Second, "Started")
		synctest.Wait()
		if got := st.campaigns.Load(); got != 1 {
			t.Fatalf("three Starts campaigned %d times, want 1", got)
		}
		// One renewal period: one loop renews once.
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if got := st.campaigns.Load(); got != 2 {
			t.Fatalf("after one renewal period, %d campaigns, want 2 (one loop)", got)
		}
		token := e.Lease().Token

		if err := e.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		testkit.Signal(t, e.Stopped(), time.Second, "Stopped")
		if e.Running() || e.IsLeader() {
			t.Fatalf("after Stop: running %v, leader %v", e.Running(), e.IsLeader())
		}
		if err := e.Start(t.Context()); err != nil {
			t.Fatalf("Start after Stop: %v", err)
		}
		testkit.Signal(t, e.Started(), time.Second, "Started after a restart")
		if l := e.Lease(); l.Token <= token {
			t.Fatalf("after a restart the lease is %+v, want leadership with a token over %d", l, token)
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if got := st.campaigns.Load(); got != 4 {
			t.Fatalf("a restarted elector campaigned %d times in all, want 4 (it renews again)", got)
		}
	})
}

// Stop is bounded by its context: with a renewal stuck in the store, Stop
// gives up when its context ends, and this node no longer claims the lead.
// Once the store answers, a later Stop returns at once.
func TestElectorStopBoundedByContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := &countingStore{Store: newMemoryStore(t), block: make(chan struct{})}
		e := scheduler.NewElector(scheduler.ElectorConfig{Store: st, NodeID: "m1", TTL: 3 * time.Second, Env: lifecycle.Env{Logger: quiet}})
		if err := e.Start(t.Context()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		st.stuck.Store(true) // the next renewal hangs, ignoring its context
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()

		testkit.StopGivesUp(t, e.Stop, time.Second, "a renewal stuck")
		if e.IsLeader() {
			t.Errorf("an elector that was told to stop still claims leadership")
		}
		close(st.block)
		if err := e.Stop(context.Background()); err != nil {
			t.Fatalf("a second Stop once the store answers: %v", err)
		}
	})
}

// Only the leader's scheduler places tasks: a scheduler whose elector does
// not lead runs its rounds and places nothing; when the leader resigns, the
// other one takes over placement. (In a synctest bubble, like the elector
// tests.)
func TestSchedulerPlacesOnlyWhenLeading(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := newMemoryStore(t)
		ctx := context.Background()
		node := &archivist.Node{ID: "w1", Role: archivist.RoleWorker, Workers: 100,
			Interval: time.Hour, LastHeartbeat: time.Now(), StartedAt: time.Now()}
		if _, err := st.Heartbeat(ctx, node); err != nil {
			t.Fatalf("Heartbeat: %v", err)
		}

		cfg := archivist.DefaultConfig()
		cfg.HeartbeatInterval = 20 * time.Millisecond
		// rounds counts the loop's reads of the settings, one at least per
		// round: a signal that the follower's loop went around.
		var rounds atomic.Int64
		newSched := func(e *scheduler.Elector, count bool) *scheduler.Scheduler {
			s := scheduler.New(scheduler.Config{Store: st, Elector: e, Env: lifecycle.Env{Logger: quiet}, Settings: func() archivist.Config {
				if count {
					rounds.Add(1)
				}
				return cfg
			}})
			t.Cleanup(func() { _ = s.Stop(context.Background()) })
			return s
		}

		e1 := startElector(t, st, "m1", time.Minute)
		e2 := startElector(t, st, "m2", 150*time.Millisecond)
		if !e1.IsLeader() || e2.IsLeader() {
			t.Fatalf("m1 leader %v, m2 leader %v; want only m1", e1.IsLeader(), e2.IsLeader())
		}
		s1, s2 := newSched(e1, false), newSched(e2, true)

		if err := s2.Start(ctx); err != nil {
			t.Fatalf("Start follower scheduler: %v", err)
		}
		submit := func(n int) []string {
			var out []string
			for range n {
				task := &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute}
				if err := st.CreateTasks(ctx, []*archivist.Task{task}); err != nil {
					t.Fatalf("CreateTasks: %v", err)
				}
				out = append(out, task.ID)
			}
			return out
		}
		first := submit(3)
		// Let the follower go through several rounds, woken by the submissions
		// and by its timer.
		base := rounds.Load()
		testkit.Eventually(t, 5*time.Second, func() bool { return rounds.Load() >= base+5 }, "the follower's scheduler loop did not run")
		for _, id := range first {
			if task := getTask(t, st, id); task.Status != archivist.TaskPending {
				t.Fatalf("task %s is %s on %q while only a follower schedules; want PENDING", id, task.Status, task.NodeID)
			}
		}

		if err := s1.Start(ctx); err != nil {
			t.Fatalf("Start leader scheduler: %v", err)
		}
		testkit.Eventually(t, 5*time.Second, func() bool { return len(tasksIn(t, st, archivist.TaskAssigned)) == 3 },
			"the leader's scheduler did not place the 3 tasks")

		// The leader resigns; the follower's scheduler takes over placement.
		if err := e1.Stop(ctx); err != nil {
			t.Fatalf("Stop leader elector: %v", err)
		}
		// (s2 consumes e2's Changed signal: poll instead.)
		testkit.Eventually(t, wait, e2.IsLeader, "m2 never took over")
		second := submit(2)
		testkit.Eventually(t, 5*time.Second, func() bool {
			for _, id := range second {
				if getTask(t, st, id).Status != archivist.TaskAssigned {
					return false
				}
			}
			return true
		}, "the new leader's scheduler did not place the tasks submitted after the takeover")
	})
}
