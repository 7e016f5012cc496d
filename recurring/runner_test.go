package recurring_test

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/lifecycle"
	"github.com/rpg-archivist/archivist/recurring"
	"github.com/rpg-archivist/archivist/store"
)

// The runner tests run in a synctest bubble: the memory store, the
// runner's timer and the test share its fake clock, so a test of ten
// one-second ticks takes no real time, and every tick lands exactly on
// its second.

// leader is a Leadership the test sets.
type leader struct {
	mu    sync.Mutex
	lease archivist.Lease
	ch    chan struct{}
}

func newLeader() *leader { return &leader{ch: make(chan struct{}, 1)} }

func (l *leader) Lease() archivist.Lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lease
}

func (l *leader) Watch() <-chan struct{} { return l.ch }

func (l *leader) set(lease archivist.Lease) {
	l.mu.Lock()
	l.lease = lease
	l.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
	default:
	}
}

// countingStore counts the schedule calls the runner makes.
type countingStore struct {
	archivist.Store
	lists, gets, fires atomic.Int32
}

func (s *countingStore) ListSchedules(ctx context.Context) ([]*archivist.Schedule, error) {
	s.lists.Add(1)
	return s.Store.ListSchedules(ctx)
}

func (s *countingStore) GetSchedule(ctx context.Context, name string) (*archivist.Schedule, error) {
	s.gets.Add(1)
	return s.Store.GetSchedule(ctx, name)
}

func (s *countingStore) FireSchedule(ctx context.Context, f archivist.ScheduleFire) (*archivist.ScheduleFired, error) {
	s.fires.Add(1)
	return s.Store.FireSchedule(ctx, f)
}

type bundle struct {
	st     *countingStore
	leader *leader
	runner *recurring.Runner
	logs   *testkit.Buffer
	ticks  *outcomes
}

// outcomes counts what OnTick was told.
type outcomes struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *outcomes) add(outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n[outcome]++
}

func (o *outcomes) get() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.n)
}

var quiet = slog.New(slog.DiscardHandler)

// setup makes a memory store in which node n1 leads (for an hour, so no
// renewal is needed) and a runner over it, not started.
func setup(t *testing.T) *bundle {
	t.Helper()
	mem := store.NewMemory(store.Options{Logger: quiet})
	t.Cleanup(func() { _ = mem.Close() })
	st := &countingStore{Store: mem}
	lease, err := st.Campaign(t.Context(), "n1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l := newLeader()
	l.set(lease)
	<-l.ch // the runner is told of changes after it started
	logs := &testkit.Buffer{}
	ticks := &outcomes{n: map[string]int{}}
	r := recurring.NewRunner(recurring.Config{Store: st, Leader: l, OnTick: ticks.add,
		Env: lifecycle.Env{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}})
	return &bundle{st: st, leader: l, runner: r, logs: logs, ticks: ticks}
}

func (b *bundle) start(t *testing.T) {
	t.Helper()
	if err := b.runner.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.runner.Stop(context.Background()) })
}

// create stores an every schedule whose first tick is one interval from now.
func (b *bundle) create(t *testing.T, name string, every time.Duration, mod ...func(*archivist.Schedule)) {
	t.Helper()
	s := &archivist.Schedule{Name: name, Every: every, Task: &archivist.Task{Type: "echo", Priority: archivist.PriorityNormal, Timeout: time.Minute},
		Overlap: archivist.OverlapAllow, Misfire: archivist.MisfireRunOnce, NextRunAt: time.Now().Add(every)}
	for _, f := range mod {
		f(s)
	}
	if err := b.st.CreateSchedule(t.Context(), s); err != nil {
		t.Fatal(err)
	}
}

// tasks returns the tasks of a schedule, oldest first.
func (b *bundle) tasks(t *testing.T, name string) []*archivist.Task {
	t.Helper()
	page, err := b.st.ListTasks(t.Context(), archivist.TaskQuery{TaskFilter: archivist.TaskFilter{Schedule: name}, First: 500})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*archivist.Task, len(page.Tasks))
	for i, tk := range page.Tasks {
		out[len(out)-1-i] = tk
	}
	return out
}

func (b *bundle) schedule(t *testing.T, name string) *archivist.Schedule {
	t.Helper()
	s, err := b.st.GetSchedule(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wantTicks checks that the schedule's tasks were created at exactly the
// given times, one each.
func wantTicks(t *testing.T, tasks []*archivist.Task, ticks []time.Time) {
	t.Helper()
	if len(tasks) != len(ticks) {
		t.Fatalf("%d tasks, want %d (one per tick)", len(tasks), len(ticks))
	}
	for i, tk := range tasks {
		if !tk.CreatedAt.Equal(ticks[i]) {
			t.Errorf("task %d created at %s, want its tick %s", i, tk.CreatedAt, ticks[i])
		}
	}
}

func TestRunnerFiresEachTick(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		start := time.Now()
		b.create(t, "poll", time.Second)
		b.start(t)
		time.Sleep(5*time.Second + time.Millisecond)
		synctest.Wait()
		var ticks []time.Time
		for i := 1; i <= 5; i++ {
			ticks = append(ticks, start.Add(time.Duration(i)*time.Second))
		}
		tasks := b.tasks(t, "poll")
		wantTicks(t, tasks, ticks)
		for _, tk := range tasks {
			if tk.Schedule != "poll" || tk.Type != "echo" || tk.Status != archivist.TaskPending {
				t.Errorf("task %+v", tk)
			}
		}
		s := b.schedule(t, "poll")
		if !s.LastRunAt.Equal(ticks[4]) || !s.NextRunAt.Equal(ticks[4].Add(time.Second)) || s.LastTaskID != tasks[4].ID {
			t.Errorf("schedule last %s next %s lastTask %s", s.LastRunAt, s.NextRunAt, s.LastTaskID)
		}
		// One read of the schedules when it started, and one call per tick.
		if l, f := b.st.lists.Load(), b.st.fires.Load(); l != 1 || f != 5 {
			t.Errorf("%d ListSchedules and %d FireSchedule, want 1 and 5", l, f)
		}
		if !b.logs.Contains("schedule fired") {
			t.Errorf("no debug line for a fire: %s", b.logs)
		}
		if got := b.ticks.get(); !maps.Equal(got, map[string]int{recurring.TickFired: 5}) {
			t.Errorf("OnTick told %v, want 5 fired", got)
		}
	})
}

// A tick whose task's unique key is still held submits nothing: the holder
// stands for it (OnTick: duplicate), and the schedule goes on.
func TestRunnerUniqueTaskHeld(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		start := time.Now()
		b.create(t, "reindex", time.Second, func(s *archivist.Schedule) { s.Task.UniqueKey = "reindex" })
		b.start(t)
		time.Sleep(3*time.Second + time.Millisecond)
		synctest.Wait()
		tasks := b.tasks(t, "reindex")
		wantTicks(t, tasks, []time.Time{start.Add(time.Second)})
		if got := b.ticks.get(); !maps.Equal(got, map[string]int{recurring.TickFired: 1, recurring.TickDuplicate: 2}) {
			t.Errorf("OnTick told %v, want 1 fired and 2 duplicates", got)
		}
		if s := b.schedule(t, "reindex"); s.LastTaskID != tasks[0].ID || !s.NextRunAt.Equal(start.Add(4*time.Second)) {
			t.Errorf("last task %s next %s; want the holder %s and the 4s tick", s.LastTaskID, s.NextRunAt.Sub(start), tasks[0].ID)
		}
		if !b.logs.Contains("unique key is held") {
			t.Errorf("no line for the ticks that found the key held: %s", b.logs)
		}
	})
}

// A node with many schedules sleeps until the nearest tick: no store call
// in between.
func TestRunnerIdles(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		for i := range 100 {
			b.create(t, "hourly-"+string(rune('a'+i/26))+string(rune('a'+i%26)), time.Hour)
		}
		b.start(t)
		time.Sleep(59 * time.Minute)
		synctest.Wait()
		if l, g, f := b.st.lists.Load(), b.st.gets.Load(), b.st.fires.Load(); l != 1 || g != 0 || f != 0 {
			t.Errorf("in an idle hour: %d ListSchedules, %d GetSchedule, %d FireSchedule; want 1, 0, 0", l, g, f)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if f := b.st.fires.Load(); f != 100 {
			t.Errorf("%d FireSchedule at the hour, want 100", f)
		}
	})
}

// Without leadership nothing fires; a node that gains it fires the ticks
// it finds, each on its own when less late than the misfire threshold.
func TestRunnerFiresOnlyWhileLeading(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		lease := b.leader.Lease()
		b.leader.set(archivist.Lease{})
		<-b.leader.ch
		start := time.Now()
		b.create(t, "poll", 10*time.Second)
		b.start(t)
		time.Sleep(35 * time.Second)
		synctest.Wait()
		if n := len(b.tasks(t, "poll")); n != 0 || b.st.lists.Load() != 0 {
			t.Fatalf("a follower made %d tasks and read the schedules %d times", n, b.st.lists.Load())
		}
		b.leader.set(lease) // took over 35s in: ticks at 10, 20 and 30s are late but not missed
		synctest.Wait()
		wantTicks(t, b.tasks(t, "poll"), []time.Time{time.Now(), time.Now(), time.Now()})
		if s := b.schedule(t, "poll"); !s.LastRunAt.Equal(start.Add(30*time.Second)) || !s.NextRunAt.Equal(start.Add(40*time.Second)) {
			t.Errorf("last %s next %s", s.LastRunAt.Sub(start), s.NextRunAt.Sub(start))
		}
		// Losing it stops the firing.
		b.leader.set(archivist.Lease{})
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(b.tasks(t, "poll")); n != 3 {
			t.Errorf("%d tasks after leadership was lost, want still 3", n)
		}
	})
}

func TestRunnerMisfire(t *testing.T) {
	t.Parallel()
	for _, policy := range []archivist.MisfirePolicy{archivist.MisfireRunOnce, archivist.MisfireSkip} {
		t.Run(string(policy), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := setup(t)
				now := time.Now()
				// Its last tick was due two hours and five seconds ago.
				b.create(t, "poll", time.Minute, func(s *archivist.Schedule) {
					s.Misfire = policy
					s.NextRunAt = now.Add(-2*time.Hour - 5*time.Second)
				})
				b.start(t)
				synctest.Wait()
				tasks := b.tasks(t, "poll")
				s := b.schedule(t, "poll")
				// Either way it goes on at its next tick on the same grid.
				if !s.NextRunAt.Equal(now.Add(55 * time.Second)) {
					t.Errorf("next %s, want 55s from now", s.NextRunAt.Sub(now))
				}
				switch policy {
				case archivist.MisfireRunOnce:
					if len(tasks) != 1 || s.LastTaskID != tasks[0].ID {
						t.Errorf("%d tasks, want one for all the missed ticks", len(tasks))
					}
					// It ran now: the last run says so, not the first missed tick.
					if !s.LastRunAt.Equal(now) {
						t.Errorf("last run %s from now, want now", s.LastRunAt.Sub(now))
					}
					if got := b.ticks.get(); got[recurring.TickMissed] != 1 {
						t.Errorf("OnTick told %v, want one missed", got)
					}
				case archivist.MisfireSkip:
					if len(tasks) != 0 {
						t.Errorf("%d tasks, want none", len(tasks))
					}
					if !b.logs.Contains("schedule skipped missed ticks") {
						t.Errorf("no info line for the skip: %s", b.logs)
					}
					if got := b.ticks.get(); got[recurring.TickSkipped] != 1 {
						t.Errorf("OnTick told %v, want one skipped", got)
					}
				}
				time.Sleep(55 * time.Second)
				synctest.Wait()
				if n := len(b.tasks(t, "poll")); n != len(tasks)+1 {
					t.Errorf("%d tasks after the next tick, want %d", n, len(tasks)+1)
				}
			})
		})
	}
}

// The runner follows changes made through the store: a new schedule, a
// pause, an update, a deletion.
func TestRunnerFollowsChanges(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.start(t)
		synctest.Wait()
		b.create(t, "a", time.Second)
		time.Sleep(2*time.Second + time.Millisecond)
		synctest.Wait()
		if n := len(b.tasks(t, "a")); n != 2 {
			t.Fatalf("%d tasks of a schedule created while running, want 2", n)
		}
		if _, err := b.st.PauseSchedule(t.Context(), "a", true, time.Time{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if n := len(b.tasks(t, "a")); n != 2 {
			t.Fatalf("%d tasks while paused, want still 2", n)
		}
		if _, err := b.st.PauseSchedule(t.Context(), "a", false, time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		s := b.schedule(t, "a")
		s.Every, s.NextRunAt = 10*time.Second, time.Now().Add(10*time.Second)
		if _, err := b.st.UpdateSchedule(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if n := len(b.tasks(t, "a")); n != 2 {
			t.Fatalf("%d tasks before the updated schedule's tick, want still 2", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(b.tasks(t, "a")); n != 3 {
			t.Fatalf("%d tasks at the updated schedule's tick, want 3", n)
		}
		if err := b.st.DeleteSchedule(t.Context(), "a"); err != nil {
			t.Fatal(err)
		}
		fires := b.st.fires.Load()
		time.Sleep(time.Minute)
		synctest.Wait()
		if f := b.st.fires.Load(); f != fires {
			t.Errorf("%d FireSchedule after the deletion", f-fires)
		}
	})
}

// A node whose lease is no longer current (another node leads now) is
// refused: it reads the schedule again and fires nothing, and the true
// leader fires each tick once.
func TestRunnerStaleLeaseFiresNothing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		// n2 takes over (n1's lease is given up without n1 knowing).
		if err := b.st.Resign(t.Context(), "n1"); err != nil {
			t.Fatal(err)
		}
		lease, err := b.st.Campaign(t.Context(), "n2", time.Hour)
		if err != nil || lease.Holder != "n2" {
			t.Fatalf("n2 campaign: %+v, %v", lease, err)
		}
		start := time.Now()
		b.create(t, "poll", time.Second)
		b.start(t) // n1, with its stale lease
		l2 := newLeader()
		l2.set(lease)
		r2 := recurring.NewRunner(recurring.Config{Store: b.st, Leader: l2, Env: lifecycle.Env{Logger: quiet}})
		if err := r2.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r2.Stop(context.Background()) })
		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()
		var ticks []time.Time
		for i := 1; i <= 10; i++ {
			ticks = append(ticks, start.Add(time.Duration(i)*time.Second))
		}
		wantTicks(t, b.tasks(t, "poll"), ticks)
		if b.runner.Fired() != 0 || r2.Fired() != 10 {
			t.Errorf("the stale node fired %d ticks, the leader %d; want 0 and 10", b.runner.Fired(), r2.Fired())
		}
	})
}

// Under OverlapSkip a tick whose previous task is unfinished (nothing runs
// the tasks here) submits nothing, is logged, and the schedule moves on.
func TestRunnerOverlapSkip(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		start := time.Now()
		b.create(t, "slow", time.Second, func(s *archivist.Schedule) { s.Overlap = archivist.OverlapSkip })
		b.start(t)
		time.Sleep(3*time.Second + time.Millisecond)
		synctest.Wait()
		tasks := b.tasks(t, "slow")
		wantTicks(t, tasks, []time.Time{start.Add(time.Second)})
		s := b.schedule(t, "slow")
		if !s.LastRunAt.Equal(start.Add(3*time.Second)) || !s.NextRunAt.Equal(start.Add(4*time.Second)) || s.LastTaskID != tasks[0].ID {
			t.Errorf("last %s next %s lastTask %s", s.LastRunAt.Sub(start), s.NextRunAt.Sub(start), s.LastTaskID)
		}
		if !b.logs.Contains("schedule tick skipped") || !b.logs.Contains("overlap policy SKIP") {
			t.Errorf("no info line for the skipped ticks: %s", b.logs)
		}
		if got := b.ticks.get(); !maps.Equal(got, map[string]int{recurring.TickFired: 1, recurring.TickSkipped: 2}) {
			t.Errorf("OnTick told %v, want 1 fired and 2 skipped", got)
		}
		// Once it finished, the next tick submits again.
		if _, err := b.st.CancelTask(t.Context(), tasks[0].ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(b.tasks(t, "slow")); n != 2 {
			t.Errorf("%d tasks after the previous one finished, want 2", n)
		}
	})
}

// Start is idempotent; a stopped runner fires nothing and starts again.
func TestRunnerStopAndRestart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.start(t)
		b.start(t)
		b.create(t, "poll", time.Second)
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if err := b.runner.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		testkit.Signal(t, b.runner.Stopped(), time.Second, "the runner to stop")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := len(b.tasks(t, "poll")); n != 1 {
			t.Fatalf("%d tasks, want 1: a stopped runner fires nothing", n)
		}
		b.start(t)
		synctest.Wait()
		// The ticks that came while it was stopped are late, not missed:
		// each is fired now.
		if n := len(b.tasks(t, "poll")); n != 11 {
			t.Fatalf("%d tasks after the restart, want 11", n)
		}
	})
}
