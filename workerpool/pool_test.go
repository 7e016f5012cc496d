package workerpool_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
	"github.com/rpg-archivist/archivist/tasks"
	"github.com/rpg-archivist/archivist/workerpool"
)

func TestPoolRunsEcho(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.start(t)
		input := `{"hello":"world","n":[1,2,3],"nested":{"ok":true}}`
		id := b.submit(t, newTask(tasks.TypeEcho, input))[0]

		task := b.waitStatus(t, id, wait, archivist.TaskCompleted, archivist.TaskFailed)
		if task.Status != archivist.TaskCompleted {
			t.Fatalf("task is %s (error %q), want COMPLETED", task.Status, task.Error)
		}
		if string(task.Result) != input {
			t.Errorf("result %s, want the input %s", task.Result, input)
		}
		if task.Attempt != 1 || task.Failures != 0 || task.NodeID != nodeID || task.Progress != 1 {
			t.Errorf("task attempt %d, failures %d, node %q, progress %v; want 1, 0, %q, 1",
				task.Attempt, task.Failures, task.NodeID, task.Progress, nodeID)
		}
		want := []archivist.EventType{archivist.EventTaskCreated, archivist.EventTaskAssigned, archivist.EventTaskStarted, archivist.EventTaskCompleted}
		if diff := cmp.Diff(want, types(b.events.waitFor(t, id, archivist.EventTaskCompleted))); diff != "" {
			t.Errorf("events of the task (-want +got):\n%s", diff)
		}
		testkit.Eventually(t, wait, func() bool { return len(b.obs.outcomesOf(id)) == 1 }, "observer was not told about the attempt")
		if diff := cmp.Diff([]string{"completed"}, b.obs.outcomesOf(id)); diff != "" {
			t.Errorf("observed outcomes (-want +got):\n%s", diff)
		}
	})
}

// A task of a type this node has no handler for fails at once, without
// retries: another attempt here would fail the same way.
func TestPoolUnknownType(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.start(t)
		id := b.submit(t, newTask("no.such.type", `{}`, retries(3)))[0]
		task := b.waitStatus(t, id, wait, archivist.TaskFailed, archivist.TaskRetrying, archivist.TaskCompleted)
		if task.Status != archivist.TaskFailed || task.Attempt != 1 {
			t.Fatalf("task is %s at attempt %d, want FAILED at attempt 1", task.Status, task.Attempt)
		}
		if !strings.Contains(task.Error, "no.such.type") {
			t.Errorf("error %q does not name the type", task.Error)
		}
	})
}

// With 2 workers, never more than 2 of 6 sleep tasks run at once, seen by
// the handler and in the store.
func TestPoolRespectsWorkers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.cfg.Workers = 2
		var cur, most atomic.Int64
		b.reg.RegisterFunc("counted.sleep", func(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
			n := cur.Add(1)
			defer cur.Add(-1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			return tasks.SleepHandler{}.Handle(ctx, job)
		})
		b.start(t)
		var ts []*archivist.Task
		for range 6 {
			ts = append(ts, newTask("counted.sleep", `{"ms":60}`))
		}
		ids := b.submit(t, ts...)
		for _, id := range ids {
			if task := b.waitStatus(t, id, wait, archivist.TaskCompleted, archivist.TaskFailed); task.Status != archivist.TaskCompleted {
				t.Fatalf("task %s is %s (error %q), want COMPLETED", id, task.Status, task.Error)
			}
			b.events.waitFor(t, id, archivist.EventTaskCompleted)
		}
		if got := most.Load(); got > 2 {
			t.Errorf("%d handlers ran at once with 2 workers", got)
		}
		// All six were assigned before the pool claimed: it must have started
		// two at once, and never more.
		if got := b.events.maxInProgress(ids); got != 2 {
			t.Errorf("at most %d tasks were IN_PROGRESS at once in the store, want 2", got)
		}
	})
}

func TestPoolRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		input        string
		maxRetries   int
		want         archivist.TaskStatus
		wantAttempts int
		wantFailures int
		wantErr      string
		wantResult   string
	}{
		{name: "fails twice then succeeds", input: `{"times":2}`, maxRetries: 3,
			want: archivist.TaskCompleted, wantAttempts: 3, wantFailures: 2, wantResult: `{"attempts":3}`},
		{name: "runs out of retries and keeps the last error", input: `{"times":5}`, maxRetries: 1,
			want: archivist.TaskFailed, wantAttempts: 2, wantFailures: 2, wantErr: "fail: attempt 2 of 5 planned failures"},
		{name: "a permanent failure is not retried", input: `{"times":5,"permanent":true}`, maxRetries: 3,
			want: archivist.TaskFailed, wantAttempts: 1, wantFailures: 1, wantErr: "fail: attempt 1 of 5 planned failures"},
		{name: "no retries allowed", input: `{"times":1}`, maxRetries: 0,
			want: archivist.TaskFailed, wantAttempts: 1, wantFailures: 1, wantErr: "fail: attempt 1 of 1 planned failures"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := setup(t)
				b.start(t)
				b.autoAssign(t)
				id := b.create(t, newTask(tasks.TypeFail, tt.input, retries(tt.maxRetries)))[0]

				task := b.waitStatus(t, id, wait, archivist.TaskCompleted, archivist.TaskFailed, archivist.TaskTimedOut, archivist.TaskCancelled)
				if task.Status != tt.want {
					t.Fatalf("task is %s (error %q), want %s", task.Status, task.Error, tt.want)
				}
				if task.Attempt != tt.wantAttempts || task.Failures != tt.wantFailures {
					t.Errorf("task at attempt %d with %d failures, want %d and %d", task.Attempt, task.Failures, tt.wantAttempts, tt.wantFailures)
				}
				if task.Error != tt.wantErr {
					t.Errorf("task error %q, want %q", task.Error, tt.wantErr)
				}
				if tt.wantResult != "" && string(task.Result) != tt.wantResult {
					t.Errorf("result %s, want %s", task.Result, tt.wantResult)
				}

				// Each failure but the last went through RETRYING, waited out
				// its backoff (base doubled per failure, jitter in [d/2, d]),
				// and only then started the next attempt.
				var retrying []archivist.Event
				var started []archivist.Event
				final := archivist.EventTaskCompleted
				if tt.want == archivist.TaskFailed {
					final = archivist.EventTaskFailed
				}
				evs := b.events.waitFor(t, id, final)
				for _, ev := range evs {
					switch ev.Type {
					case archivist.EventTaskRetrying:
						retrying = append(retrying, ev)
					case archivist.EventTaskStarted:
						started = append(started, ev)
					}
				}
				if len(started) != tt.wantAttempts {
					t.Errorf("%d task.started events, want %d", len(started), tt.wantAttempts)
				}
				if want := tt.wantAttempts - 1; len(retrying) != want {
					t.Fatalf("%d task.retrying events, want %d: %v", len(retrying), want, types(evs))
				}
				for i, ev := range retrying {
					n := i + 1 // the failure this retry follows
					d := retryBase << (n - 1)
					d = min(d, retryMax)
					if ev.Task.Status != archivist.TaskRetrying || ev.Task.Failures != n {
						t.Errorf("retry %d: event task is %s with %d failures, want RETRYING with %d", n, ev.Task.Status, ev.Task.Failures, n)
					}
					if backoff := ev.Task.RunAt.Sub(ev.Time); backoff < d/2 || backoff > d {
						t.Errorf("retry %d: backoff %s, want between %s and %s", n, backoff, d/2, d)
					}
					next := started[n]
					if gap := next.Time.Sub(ev.Time); gap < d/2 || next.Time.Before(ev.Task.RunAt) {
						t.Errorf("attempt %d started %s after failure %d, before its backoff ended at %v", n+1, gap, n, ev.Task.RunAt)
					}
				}
			})
		})
	}
}

func TestPoolTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		maxRetries   int
		wantAttempts int
	}{
		{name: "no retry", maxRetries: 0, wantAttempts: 1},
		{name: "retried, then out of retries", maxRetries: 1, wantAttempts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := setup(t)
				b.start(t)
				b.autoAssign(t)
				start := time.Now()
				id := b.create(t, newTask(tasks.TypeSleep, `{"ms":5000}`, timeout(200*time.Millisecond), retries(tt.maxRetries)))[0]
				task := b.waitStatus(t, id, wait, archivist.TaskTimedOut, archivist.TaskCompleted, archivist.TaskFailed)
				took := time.Since(start)
				if task.Status != archivist.TaskTimedOut {
					t.Fatalf("task is %s (error %q), want TIMED_OUT", task.Status, task.Error)
				}
				// 200ms a try, plus at most one backoff of 50ms between.
				if limit := time.Duration(tt.wantAttempts) * time.Second; took > limit {
					t.Errorf("took %s to time out, want under %s", took, limit)
				}
				if task.Attempt != tt.wantAttempts || task.Failures != tt.wantAttempts {
					t.Errorf("task at attempt %d with %d failures, want %d and %d", task.Attempt, task.Failures, tt.wantAttempts, tt.wantAttempts)
				}
				if !strings.Contains(task.Error, "timed out") {
					t.Errorf("error %q does not say it timed out", task.Error)
				}
			})
		})
	}
}

func TestPoolCancelRunning(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		p := b.start(t)
		id := b.submit(t, newTask(tasks.TypeSleep, `{"ms":10000}`))[0]
		b.waitStatus(t, id, wait, archivist.TaskInProgress)
		testkit.Eventually(t, wait, func() bool { return p.Active() == 1 }, "the pool runs %v attempts, want 1", lazy(func() any { return p.Active() }))

		start := time.Now()
		got, err := b.store.CancelTask(b.ctx, id)
		if err != nil {
			t.Fatalf("CancelTask: %v", err)
		}
		if got.Status != archivist.TaskInProgress || !got.CancelRequested {
			t.Fatalf("CancelTask of a running task returned %s (cancel requested %v), want IN_PROGRESS with the request", got.Status, got.CancelRequested)
		}
		task := b.waitStatus(t, id, wait, archivist.TaskCancelled, archivist.TaskCompleted, archivist.TaskFailed)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("cancelling took %s; the sleep should stop at once", took)
		}
		if task.Status != archivist.TaskCancelled || task.Failures != 0 {
			t.Errorf("task is %s with %d failures, want CANCELLED with 0", task.Status, task.Failures)
		}
		testkit.Eventually(t, wait, func() bool { return p.Active() == 0 }, "the pool still runs %v attempts", lazy(func() any { return p.Active() }))
	})
}

func TestPoolRecoversFromPanic(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.cfg.Workers = 1
		p := b.start(t)
		id := b.submit(t, newTask(tasks.TypeFail, `{"times":1,"panic":true}`))[0]
		task := b.waitStatus(t, id, wait, archivist.TaskFailed, archivist.TaskCompleted, archivist.TaskRetrying)
		if task.Status != archivist.TaskFailed || task.Failures != 1 {
			t.Fatalf("task is %s with %d failures (error %q), want FAILED with 1", task.Status, task.Failures, task.Error)
		}
		if !strings.Contains(task.Error, "fail: attempt 1 of 1 planned failures") || !strings.Contains(task.Error, "panic") {
			t.Errorf("error %q, want the panic and its message", task.Error)
		}
		if diff := cmp.Diff([]string{id}, b.obs.panics()); diff != "" {
			t.Errorf("observed panics (-want +got):\n%s", diff)
		}

		// The pool (with its single worker) keeps working.
		next := b.submit(t, newTask(tasks.TypeEcho, `"still here"`))[0]
		if task := b.waitStatus(t, next, wait, archivist.TaskCompleted, archivist.TaskFailed); task.Status != archivist.TaskCompleted {
			t.Fatalf("echo after the panic is %s (error %q), want COMPLETED", task.Status, task.Error)
		}
		testkit.Eventually(t, wait, func() bool { return p.Active() == 0 }, "the pool still runs %v attempts", lazy(func() any { return p.Active() }))
	})
}

func TestPoolReportsProgress(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		release := make(chan struct{})
		b.reg.RegisterFunc("halfway", func(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
			job.ReportProgress(0.5, "halfway")
			select {
			case <-release:
				return json.RawMessage(`"done"`), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
		b.start(t)
		id := b.submit(t, newTask("halfway", `{}`))[0]

		var task *archivist.Task
		testkit.Eventually(t, wait, func() bool {
			task = b.task(t, id)
			return task.Progress == 0.5
		}, "task progress %v (%q), want 0.5", lazy(func() any { return task.Progress }), lazy(func() any { return task.ProgressMessage }))
		if task.Status != archivist.TaskInProgress || task.ProgressMessage != "halfway" {
			t.Errorf("task is %s with progress message %q, want IN_PROGRESS with %q", task.Status, task.ProgressMessage, "halfway")
		}
		var progressed []archivist.Event
		for _, ev := range b.events.waitFor(t, id, archivist.EventTaskProgress) {
			if ev.Type == archivist.EventTaskProgress {
				progressed = append(progressed, ev)
			}
		}
		if len(progressed) != 1 || progressed[0].Task.Progress != 0.5 || progressed[0].Task.ProgressMessage != "halfway" {
			t.Errorf("progress events %+v, want one at 0.5 %q", progressed, "halfway")
		}

		close(release)
		task = b.waitStatus(t, id, wait, archivist.TaskCompleted, archivist.TaskFailed)
		if task.Status != archivist.TaskCompleted || task.Progress != 1 {
			t.Errorf("task is %s at progress %v, want COMPLETED at 1", task.Status, task.Progress)
		}
	})
}

// Raising the worker count at runtime starts queued tasks at once;
// lowering it lets running attempts finish and then holds to the new count.
func TestPoolSetWorkers(t *testing.T) {
	t.Parallel()
	t.Run("raise", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			b.cfg.Workers = 1
			g := newGate()
			b.reg.Register("gate", g)
			p := b.start(t)
			ids := b.submit(t, newTask("gate", `{}`), newTask("gate", `{}`), newTask("gate", `{}`))
			g.waitRunning(t, 1)
			if got := b.count(t, archivist.TaskInProgress); got != 1 {
				t.Fatalf("%d tasks IN_PROGRESS with 1 worker", got)
			}

			p.SetWorkers(3)
			if got := p.Workers(); got != 3 {
				t.Errorf("Workers() = %d after SetWorkers(3)", got)
			}
			g.waitRunning(t, 3)
			for range 3 {
				g.let(t)
			}
			for _, id := range ids {
				if task := b.waitStatus(t, id, wait, archivist.TaskCompleted, archivist.TaskFailed); task.Status != archivist.TaskCompleted {
					t.Errorf("task %s is %s, want COMPLETED", id, task.Status)
				}
			}
			if got := g.most.Load(); got != 3 {
				t.Errorf("at most %d ran at once, want 3", got)
			}
		})
	})
	t.Run("lower", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			b.cfg.Workers = 3
			g := newGate()
			b.reg.Register("gate", g)
			p := b.start(t)
			var ts []*archivist.Task
			for range 5 {
				ts = append(ts, newTask("gate", `{}`))
			}
			ids := b.submit(t, ts...)
			g.waitRunning(t, 3)

			p.SetWorkers(1)
			// The three running attempts go on and finish.
			for range 3 {
				g.let(t)
			}
			testkit.Eventually(t, wait, func() bool { return b.count(t, archivist.TaskCompleted) == 3 }, "the running attempts did not complete")
			// The other two then run one at a time.
			for done := 3; done < 5; done++ {
				g.waitRunning(t, 1)
				if got := b.count(t, archivist.TaskInProgress); got != 1 {
					t.Errorf("%d tasks IN_PROGRESS after lowering to 1 worker", got)
				}
				g.let(t)
				testkit.Eventually(t, wait, func() bool { return b.count(t, archivist.TaskCompleted) == done+1 }, "task %d did not complete", done+1)
			}
			for _, id := range ids {
				b.events.waitFor(t, id, archivist.EventTaskCompleted)
			}
			if got := b.events.maxInProgress(ids[3:]); got != 1 {
				t.Errorf("the tasks queued behind the lowered count overlapped: %d at once", got)
			}
			for _, id := range ids {
				if task := b.task(t, id); task.Status != archivist.TaskCompleted || task.Attempt != 1 {
					t.Errorf("task %s is %s at attempt %d, want COMPLETED at 1: lowering must not interrupt", id, task.Status, task.Attempt)
				}
			}
		})
	})
}

func TestPoolStop(t *testing.T) {
	t.Parallel()
	t.Run("grace runs out: running task put back", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			b.cfg.Workers = 1
			b.cfg.ShutdownGrace = 100 * time.Millisecond
			p := b.start(t)
			ids := b.submit(t, newTask(tasks.TypeSleep, `{"ms":5000}`, retries(3)), newTask(tasks.TypeEcho, `{}`))
			running, queued := ids[0], ids[1]
			b.waitStatus(t, running, wait, archivist.TaskInProgress)
			if got := b.task(t, queued).Status; got != archivist.TaskAssigned {
				t.Fatalf("queued task is %s, want ASSIGNED behind the running one", got)
			}

			start := time.Now()
			if err := p.Stop(b.ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Stop took %s with a 100ms grace", took)
			}
			task := b.task(t, running)
			if task.Status != archivist.TaskPending || task.Failures != 0 || task.Requeues != 1 || task.Error != "" {
				t.Errorf("running task after Stop: %s, %d failures, %d requeues, error %q; want PENDING, 0, 1, none",
					task.Status, task.Failures, task.Requeues, task.Error)
			}
			if diff := cmp.Diff([]string{"released"}, b.obs.outcomesOf(running)); diff != "" {
				t.Errorf("observed outcomes (-want +got):\n%s", diff)
			}
			// The task queued behind it was never started here. (Whether it goes
			// back at Stop or when the leader sees the node leave is up to the
			// wiring; it must not have run or failed.)
			if task := b.task(t, queued); (task.Status != archivist.TaskAssigned && task.Status != archivist.TaskPending) ||
				task.Attempt != 0 || task.Failures != 0 {
				t.Errorf("queued task after Stop: %s at attempt %d with %d failures, want not started", task.Status, task.Attempt, task.Failures)
			}
			if p.Active() != 0 {
				t.Errorf("Active() = %d after Stop", p.Active())
			}

			// A stopped pool claims nothing, and Stop is idempotent.
			late := b.submit(t, newTask(tasks.TypeEcho, `{}`))[0]
			p.Wake()
			if err := p.Stop(b.ctx); err != nil {
				t.Fatalf("second Stop: %v", err)
			}
			// Past a poll interval, with every goroutine of the bubble
			// blocked: a pool still claiming would have claimed it.
			time.Sleep(workerpool.DefaultPollInterval)
			synctest.Wait()
			if got := b.task(t, late).Status; got != archivist.TaskAssigned {
				t.Fatalf("a task assigned after Stop is %s, want ASSIGNED (not claimed)", got)
			}
		})
	})
	t.Run("short task finishes within the grace", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			b.cfg.ShutdownGrace = time.Minute
			g := newGate()
			b.reg.Register("gate", g)
			p := b.start(t)
			id := b.submit(t, newTask("gate", `{}`))[0]
			g.waitRunning(t, 1)

			stopped := make(chan error, 1)
			go func() { stopped <- p.Stop(context.Background()) }()
			synctest.Wait() // everything blocked: the attempt, and Stop waiting for it
			select {
			case err := <-stopped:
				t.Fatalf("Stop returned (%v) while an attempt was running and the grace had not run out", err)
			default:
			}
			g.let(t)
			if err := testkit.Signal(t, stopped, wait, "Stop to return after the last attempt finished"); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if task := b.task(t, id); task.Status != archivist.TaskCompleted || task.Requeues != 0 {
				t.Errorf("task is %s with %d requeues, want COMPLETED with 0", task.Status, task.Requeues)
			}
		})
	})
	t.Run("stop context ends the wait early", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			b.cfg.ShutdownGrace = time.Minute
			p := b.start(t)
			id := b.submit(t, newTask(tasks.TypeSleep, `{"ms":10000}`))[0]
			b.waitStatus(t, id, wait, archivist.TaskInProgress)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			_ = p.Stop(ctx)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Stop took %s with a context of 100ms", took)
			}
			if task := b.task(t, id); task.Status != archivist.TaskPending || task.Failures != 0 {
				t.Errorf("task is %s with %d failures, want PENDING with 0", task.Status, task.Failures)
			}
		})
	})
}

// Tasks this node had IN_PROGRESS when its previous process died are put
// back at Start; other nodes' tasks are left alone.
func TestPoolReleasesOrphansAtStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		ids := b.create(t, newTask(tasks.TypeSleep, `{"ms":10000}`), newTask(tasks.TypeSleep, `{"ms":10000}`))
		mine, theirs := ids[0], ids[1]
		b.assign(t, nodeID, mine)
		b.assign(t, "other", theirs)
		for _, n := range []string{nodeID, "other"} {
			if claimed, err := b.store.ClaimTasks(b.ctx, n, 1, time.Minute); err != nil || len(claimed) != 1 {
				t.Fatalf("ClaimTasks(%s): %d claimed, %v", n, len(claimed), err)
			}
		}

		b.start(t)
		task := b.task(t, mine)
		if task.Status != archivist.TaskPending || task.Requeues != 1 || task.Failures != 0 || task.Attempt != 1 {
			t.Errorf("orphan after Start: %s, %d requeues, %d failures, attempt %d; want PENDING, 1, 0, 1",
				task.Status, task.Requeues, task.Failures, task.Attempt)
		}
		if task := b.task(t, theirs); task.Status != archivist.TaskInProgress || task.NodeID != "other" {
			t.Errorf("another node's task is %s on %q, want IN_PROGRESS on other", task.Status, task.NodeID)
		}

		// Placed again, it runs here as a new attempt.
		b.assign(t, nodeID, mine)
		b.waitStatus(t, mine, wait, archivist.TaskInProgress)
		if got := b.task(t, mine).Attempt; got != 2 {
			t.Errorf("the put-back task runs as attempt %d, want 2", got)
		}
	})
}

// A task the store shows IN_PROGRESS on this node while the pool is not
// running it (a claim whose reply was lost) is put back within OrphanCheck,
// and tasks the pool runs are left alone.
func TestPoolReleasesOrphansWhileRunning(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.cfg.OrphanCheck = 50 * time.Millisecond
		b.cfg.Workers = 1 // busy with the first task, the pool claims nothing else
		b.start(t)
		ids := b.create(t, newTask(tasks.TypeSleep, `{"ms":3000}`), newTask(tasks.TypeSleep, `{"ms":10000}`))
		running, lost := ids[0], ids[1]
		b.assign(t, nodeID, running)
		b.waitStatus(t, running, wait, archivist.TaskInProgress)

		// The claim of lost happens behind the pool's back.
		b.assign(t, nodeID, lost)
		if claimed, err := b.store.ClaimTask(b.ctx, nodeID, lost, time.Minute); err != nil || claimed.Status != archivist.TaskInProgress {
			t.Fatalf("ClaimTask: %v", err)
		}
		testkit.Eventually(t, wait, func() bool { return b.task(t, lost).Requeues == 1 }, "the orphan to be put back")
		if task := b.task(t, lost); task.Status != archivist.TaskPending {
			t.Errorf("the orphan is %s, want PENDING", task.Status)
		}
		if task := b.task(t, running); task.Status != archivist.TaskInProgress || task.Requeues != 0 {
			t.Errorf("the task the pool runs: %s with %d requeues, want IN_PROGRESS and none", task.Status, task.Requeues)
		}
	})
}

// RunLocal starts PENDING tasks here without placement, as workers free
// up: never more at once than there are workers, and skipping tasks that
// meanwhile left PENDING.
func TestPoolRunLocal(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := setup(t)
		b.cfg.Workers = 1
		g := newGate()
		b.reg.Register("gate", g)
		p := b.start(t)
		ids := b.create(t, newTask("gate", `{}`), newTask("gate", `{}`), newTask("gate", `{}`), newTask("gate", `{}`))
		cancelled := ids[2]
		if _, err := b.store.CancelTask(b.ctx, cancelled); err != nil {
			t.Fatalf("CancelTask: %v", err)
		}
		p.RunLocal(ids...)

		for done := 0; done < 3; done++ {
			g.waitRunning(t, 1)
			if got := b.count(t, archivist.TaskInProgress); got != 1 {
				t.Fatalf("%d tasks IN_PROGRESS with 1 worker", got)
			}
			g.let(t)
			testkit.Eventually(t, wait, func() bool { return b.count(t, archivist.TaskCompleted) == done+1 }, "local task %d did not complete", done+1)
		}
		for _, id := range ids {
			task := b.task(t, id)
			switch {
			case id == cancelled && (task.Status != archivist.TaskCancelled || task.Attempt != 0):
				t.Errorf("the task cancelled before it ran is %s at attempt %d, want CANCELLED, never started", task.Status, task.Attempt)
			case id != cancelled && (task.Status != archivist.TaskCompleted || task.NodeID != nodeID):
				t.Errorf("local task %s is %s on %q, want COMPLETED on %s", id, task.Status, task.NodeID, nodeID)
			}
		}
		for _, id := range ids {
			if id != cancelled {
				b.events.waitFor(t, id, archivist.EventTaskCompleted)
			}
		}
		if got := b.events.maxInProgress(ids); got != 1 {
			t.Errorf("%d local tasks were IN_PROGRESS at once with 1 worker", got)
		}
		if got := g.most.Load(); got != 1 {
			t.Errorf("%d local tasks ran at once with 1 worker", got)
		}
	})
}
