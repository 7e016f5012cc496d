package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/internal/testkit"
)

// eventWait bounds the wait for one event.
const eventWait = 5 * time.Second

func (h *fixture) subscribe(after uint64) archivist.Subscription {
	h.t.Helper()
	sub, err := h.s.Subscribe(h.ctx(), after)
	if err != nil {
		h.t.Fatalf("Subscribe(%d): %v", after, err)
	}
	h.t.Cleanup(sub.Close)
	return sub
}

// next returns the next event of sub, failing if the feed ends or stays
// silent for eventWait.
func (h *fixture) next(sub archivist.Subscription) archivist.Event {
	h.t.Helper()
	select {
	case ev, ok := <-sub.C():
		if !ok {
			h.t.Fatalf("subscription ended early: %v", sub.Err())
		}
		return ev
	case <-time.After(eventWait):
		h.t.Fatalf("no event within %s", eventWait)
	}
	panic("unreachable")
}

// await reads sub until an event matches, failing after eventWait.
func (h *fixture) await(sub archivist.Subscription, what string, match func(archivist.Event) bool) archivist.Event {
	h.t.Helper()
	deadline := time.After(eventWait)
	var seen []string
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				h.t.Fatalf("subscription ended while waiting for %s (err %v); seen %v", what, sub.Err(), seen)
			}
			if match(ev) {
				return ev
			}
			seen = append(seen, describe(ev))
		case <-deadline:
			h.t.Fatalf("no %s within %s; seen %v", what, eventWait, seen)
		}
	}
}

// closed waits until sub's channel is closed, discarding at most limit
// buffered events.
func (h *fixture) closed(sub archivist.Subscription, limit int) {
	h.t.Helper()
	deadline := time.After(waitLimit)
	for n := 0; ; n++ {
		select {
		case _, ok := <-sub.C():
			if !ok {
				return
			}
			if n > limit {
				h.t.Fatalf("subscription still delivering after %d events; want it closed", n)
			}
		case <-deadline:
			h.t.Fatalf("subscription channel not closed within %s", waitLimit)
		}
	}
}

func describe(ev archivist.Event) string {
	switch {
	case ev.Task != nil:
		return fmt.Sprintf("#%d %s %s(%s)", ev.Seq, ev.Type, ev.Task.ID, ev.Task.Status)
	case ev.Node != nil:
		return fmt.Sprintf("#%d %s %s", ev.Seq, ev.Type, ev.Node.ID)
	}
	return fmt.Sprintf("#%d %s", ev.Seq, ev.Type)
}

// taskEvent matches an event of type typ about task id.
func taskEvent(typ archivist.EventType, id string) func(archivist.Event) bool {
	return func(ev archivist.Event) bool {
		return ev.Kind == archivist.EventTask && ev.Type == typ && ev.Task != nil && ev.Task.ID == id
	}
}

func testEvents(t *testing.T, s suite) {
	s.run(t, "TaskLifecycle", func(t *testing.T, h *fixture) {
		h.create(newTask("before", "t", archivist.PriorityNormal))
		h.lead()
		seq := h.lastSeq()
		sub := h.subscribe(0)

		h.create(newTask("job", "t", archivist.PriorityNormal))
		h.assign("node-1", "job")
		if got, err := h.s.ClaimTasks(h.ctx(), "node-1", 1, grace); err != nil || len(got) != 1 {
			t.Fatalf("ClaimTasks: %v, %v", ids(got), err)
		}
		h.complete("job", 1, `{"r":1}`)

		want := []struct {
			typ    archivist.EventType
			status archivist.TaskStatus
		}{
			{archivist.EventTaskCreated, archivist.TaskPending},
			{archivist.EventTaskAssigned, archivist.TaskAssigned},
			{archivist.EventTaskStarted, archivist.TaskInProgress},
			{archivist.EventTaskCompleted, archivist.TaskCompleted},
		}
		var got []archivist.Event
		for len(got) < len(want) {
			ev := h.next(sub)
			if ev.Seq != seq+1 {
				t.Errorf("event %s follows Seq %d; Seq must grow by one", describe(ev), seq)
			}
			seq = ev.Seq
			if ev.Time.IsZero() {
				t.Errorf("event %s has no Time", describe(ev))
			}
			if ev.Kind != archivist.EventTask {
				continue
			}
			if ev.Task == nil {
				t.Fatalf("task event %s without a task", describe(ev))
			}
			if ev.Task.ID == "before" {
				t.Errorf("Subscribe(0) delivered an event from before it: %s", describe(ev))
				continue
			}
			got = append(got, ev)
		}
		for i, ev := range got {
			if ev.Type != want[i].typ || ev.Task.ID != "job" || ev.Task.Status != want[i].status {
				t.Errorf("task event %d: %s, want %s about job in %s", i, describe(ev), want[i].typ, want[i].status)
			}
		}
		if t.Failed() {
			return
		}
		if got[1].Task.NodeID != "node-1" || got[2].Task.Attempt != 1 {
			t.Errorf("snapshots: assigned to %q, started attempt %d", got[1].Task.NodeID, got[2].Task.Attempt)
		}
		if diff := cmp.Diff(json.RawMessage(`{"r":1}`), got[3].Task.Result, jsonValue); diff != "" {
			t.Errorf("result in task.completed (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(h.get("job"), got[3].Task, taskOpts); diff != "" {
			t.Errorf("task.completed snapshot differs from the stored task (-stored +event):\n%s", diff)
		}
		if last := h.lastSeq(); last != got[3].Seq {
			t.Errorf("LastSeq %d, want the Seq of the last event, %d", last, got[3].Seq)
		}
	})

	s.run(t, "CatchUp", func(t *testing.T, h *fixture) {
		h.create(newTask("old", "t", archivist.PriorityNormal))
		from := h.lastSeq()
		var seqs []uint64
		for i := 1; i <= 5; i++ {
			h.create(newTask(fmt.Sprintf("c%d", i), "t", archivist.PriorityNormal))
			seqs = append(seqs, h.lastSeq())
		}

		sub := h.subscribe(from)
		prev := from
		for i := 1; i <= 5; i++ {
			ev := h.next(sub)
			if ev.Seq != prev+1 {
				t.Errorf("replayed %s after Seq %d; Seq must grow by one", describe(ev), prev)
			}
			prev = ev.Seq
			if id := fmt.Sprintf("c%d", i); !taskEvent(archivist.EventTaskCreated, id)(ev) {
				t.Errorf("replayed event %d: %s, want task.created of %s", i, describe(ev), id)
			}
		}
		// Live events follow the replay without a gap or a repeat.
		h.create(newTask("live", "t", archivist.PriorityNormal))
		if ev := h.next(sub); ev.Seq != prev+1 || !taskEvent(archivist.EventTaskCreated, "live")(ev) {
			t.Errorf("first live event after the replay: %s, want #%d task.created of live", describe(ev), prev+1)
		}

		// Starting from the middle replays only what came after.
		mid := h.subscribe(seqs[2])
		if ev := h.next(mid); !taskEvent(archivist.EventTaskCreated, "c4")(ev) {
			t.Errorf("Subscribe(Seq of c3) starts with %s, want task.created of c4", describe(ev))
		}
	})

	s.run(t, "NodeAndConfig", func(t *testing.T, h *fixture) {
		sub := h.subscribe(0)
		n := newNode("node-a")
		h.heartbeat(n.Clone())
		ev := h.await(sub, "node.updated", func(ev archivist.Event) bool { return ev.Type == archivist.EventNodeUpdated })
		if ev.Kind != archivist.EventNode || ev.Node == nil || ev.Node.ID != "node-a" || !ev.Node.LastHeartbeat.Equal(n.LastHeartbeat) {
			t.Errorf("heartbeat event: kind %s, node %+v", ev.Kind, ev.Node)
		}

		h.setDraining("node-a", true)
		h.await(sub, "node.updated with Draining", func(ev archivist.Event) bool {
			return ev.Type == archivist.EventNodeUpdated && ev.Node != nil && ev.Node.ID == "node-a" && ev.Node.Draining
		})

		cfg := archivist.DefaultConfig()
		cfg.Workers = 11
		if _, err := h.s.UpdateConfig(h.ctx(), cfg, 0); err != nil {
			t.Fatalf("UpdateConfig: %v", err)
		}
		ev = h.await(sub, "config.updated", func(ev archivist.Event) bool { return ev.Type == archivist.EventConfigUpdated })
		if ev.Kind != archivist.EventConfig || ev.Config == nil || ev.Config.Version != 1 || ev.Config.Workers != 11 {
			t.Errorf("config event: kind %s, config %+v", ev.Kind, ev.Config)
		}

		if err := h.s.RemoveNode(h.ctx(), "node-a"); err != nil {
			t.Fatalf("RemoveNode: %v", err)
		}
		ev = h.await(sub, "node.removed", func(ev archivist.Event) bool { return ev.Type == archivist.EventNodeRemoved })
		if ev.Kind != archivist.EventNode || ev.Node == nil || ev.Node.ID != "node-a" {
			t.Errorf("node.removed event: kind %s, node %+v", ev.Kind, ev.Node)
		}
	})

	transitions := []struct {
		name   string
		setup  func(h *fixture) // creates task "job"
		do     func(h *fixture)
		typ    archivist.EventType
		status archivist.TaskStatus
	}{
		{"CancelPending", func(h *fixture) { h.create(newTask("job", "t", archivist.PriorityNormal)) },
			func(h *fixture) { h.cancel("job") }, archivist.EventTaskCancelled, archivist.TaskCancelled},
		{"CancelRunning", runningJob(3), func(h *fixture) { h.cancel("job") },
			archivist.EventTaskCancelRequested, archivist.TaskInProgress},
		{"Progress", runningJob(3), func(h *fixture) {
			if err := h.s.ReportProgress(h.ctx(), "job", 1, 0.5, "half"); err != nil {
				h.t.Fatalf("ReportProgress: %v", err)
			}
		}, archivist.EventTaskProgress, archivist.TaskInProgress},
		{"FailWithRetry", runningJob(3), func(h *fixture) {
			h.fail("job", 1, archivist.Failure{Error: "x", Retry: slowRetry})
		}, archivist.EventTaskRetrying, archivist.TaskRetrying},
		{"FailPermanently", runningJob(3), func(h *fixture) {
			h.fail("job", 1, archivist.Failure{Error: "x", Permanent: true})
		}, archivist.EventTaskFailed, archivist.TaskFailed},
		{"TimeOut", runningJob(0), func(h *fixture) {
			h.fail("job", 1, archivist.Failure{Error: "x", TimedOut: true})
		}, archivist.EventTaskTimedOut, archivist.TaskTimedOut},
		{"Retry", func(h *fixture) {
			runningJob(0)(h)
			h.fail("job", 1, archivist.Failure{Error: "x", Permanent: true})
		}, func(h *fixture) {
			if _, err := h.s.RetryTask(h.ctx(), "job"); err != nil {
				h.t.Fatalf("RetryTask: %v", err)
			}
		}, archivist.EventTaskRetried, archivist.TaskPending},
		{"RequeueNode", runningJob(3), func(h *fixture) {
			if _, err := h.s.RequeueNode(h.ctx(), h.lead(), "node-1"); err != nil {
				h.t.Fatalf("RequeueNode: %v", err)
			}
		}, archivist.EventTaskRequeued, archivist.TaskPending},
		{"FailNode", runningJob(3), func(h *fixture) {
			if _, err := h.s.FailNode(h.ctx(), h.lead(), "node-1", "node node-1 was lost"); err != nil {
				h.t.Fatalf("FailNode: %v", err)
			}
		}, archivist.EventTaskFailed, archivist.TaskFailed},
	}
	for _, c := range transitions {
		s.run(t, c.name, func(t *testing.T, h *fixture) {
			c.setup(h)
			h.lead()
			sub := h.subscribe(0)
			c.do(h)
			ev := h.await(sub, string(c.typ)+" of job", taskEvent(c.typ, "job"))
			if ev.Task.Status != c.status {
				t.Errorf("%s event carries the task in %s, want %s", c.typ, ev.Task.Status, c.status)
			}
		})
	}

	s.run(t, "OrderUnderConcurrentWriters", func(t *testing.T, h *fixture) {
		const per = 20
		from := h.lastSeq()
		sub := h.subscribe(0)
		race(goroutines, func(g int) {
			for i := range per {
				task := newTask(fmt.Sprintf("w%d-%02d", g, i), "t", archivist.PriorityNormal)
				if err := h.s.CreateTasks(h.ctx(), []*archivist.Task{task}); err != nil {
					t.Errorf("CreateTasks: %v", err)
					return
				}
			}
		})
		prev, next := from, make([]int, goroutines)
		for range goroutines * per {
			ev := h.next(sub)
			if ev.Seq != prev+1 {
				t.Errorf("%s follows Seq %d; Seq must grow by one", describe(ev), prev)
			}
			prev = ev.Seq
			var g, i int
			if ev.Task == nil {
				t.Fatalf("unexpected event %s", describe(ev))
			}
			if _, err := fmt.Sscanf(ev.Task.ID, "w%d-%d", &g, &i); err != nil || g >= goroutines {
				t.Fatalf("unexpected event %s", describe(ev))
			}
			// One writer's calls follow each other, and so do their events.
			if i != next[g] {
				t.Errorf("writer %d: event of its call %d arrived where call %d's was due", g, i, next[g])
			}
			next[g] = i + 1
		}
	})

	s.run(t, "CatchUpWhileWriting", func(t *testing.T, h *fixture) {
		// A subscription that starts in the past while writers go on must
		// hand over from the replay to live events without a gap or repeat.
		// The writer stays at most a few dozen events ahead of the reader
		// (room), so that a subscriber slowed by the race detector is not
		// dropped as too slow, which is a different case (SlowSubscriber).
		stop, stopped := make(chan struct{}), make(chan struct{})
		room := make(chan struct{}, 32)
		go func() {
			defer close(stopped)
			for i := 0; i < 20000; i++ {
				select {
				case <-stop:
					return
				case room <- struct{}{}:
				}
				if err := h.s.CreateTasks(h.ctx(), []*archivist.Task{newTask("", "t", archivist.PriorityNormal)}); err != nil {
					t.Errorf("CreateTasks: %v", err)
					return
				}
			}
		}()
		defer func() {
			close(stop)
			<-stopped
		}()
		// Subscribe(0) means "only new events", not "from Seq 1": make sure
		// there is an event to start after, so every from below is a Seq.
		h.create(newTask("", "t", archivist.PriorityNormal))
		for range 10 {
			from := h.lastSeq()
			from -= min(from-1, 3) // replay a few; from stays at least 1
			sub, err := h.s.Subscribe(h.ctx(), from)
			if err != nil {
				t.Fatalf("Subscribe(%d): %v", from, err)
			}
			prev := from
			for range 20 {
				ev := h.next(sub)
				if ev.Seq != prev+1 {
					t.Errorf("Subscribe(%d): %s follows Seq %d", from, describe(ev), prev)
					break
				}
				prev = ev.Seq
				select {
				case <-room:
				default:
				}
			}
			sub.Close()
		}
	})

	s.run(t, "ContextEnds", func(t *testing.T, h *fixture) {
		ctx, cancel := context.WithCancel(h.ctx())
		sub, err := h.s.Subscribe(ctx, 0)
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		h.create(newTask("job", "t", archivist.PriorityNormal))
		cancel()
		h.closed(sub, 10)
		if err := sub.Err(); err != nil {
			t.Errorf("Err after the context ended: %v, want nil", err)
		}
		sub.Close() // harmless after the end
	})

	s.run(t, "Close", func(t *testing.T, h *fixture) {
		sub, err := h.s.Subscribe(h.ctx(), 0)
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		h.create(newTask("job", "t", archivist.PriorityNormal))
		sub.Close()
		h.closed(sub, 10)
		if err := sub.Err(); err != nil {
			t.Errorf("Err after Close: %v, want nil", err)
		}
		sub.Close()
		// Writers go on after a subscriber left.
		h.create(newTask("after", "t", archivist.PriorityNormal))
	})

	s.run(t, "SlowSubscriberDropped", func(t *testing.T, h *fixture) {
		const batch, maxBatches = 100, 500
		slow := h.subscribe(0)
		done := make(chan error, 1)
		go func() {
			// Writers must never wait for the subscriber that does not read.
			for i := 0; i < maxBatches && slow.Err() == nil; i++ {
				tasks := make([]*archivist.Task, batch)
				for j := range tasks {
					tasks[j] = newTask("", "t", archivist.PriorityNormal)
				}
				if err := h.s.CreateTasks(h.ctx(), tasks); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("CreateTasks: %v", err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("writers blocked: %d events not written within 2m with a subscriber that does not read", batch*maxBatches)
		}
		testkit.Eventually(t, waitLimit, func() bool { return slow.Err() != nil },
			"a subscriber that never reads is dropped (after up to %d events)", batch*maxBatches)
		if err := slow.Err(); !errors.Is(err, archivist.ErrSlowSubscriber) {
			t.Errorf("dropped subscriber's Err: %v, want ErrSlowSubscriber", err)
		}
		h.closed(slow, batch*maxBatches)

		// A new subscription resyncs and works.
		again := h.subscribe(h.lastSeq())
		h.create(newTask("after-drop", "t", archivist.PriorityNormal))
		h.await(again, "task.created of after-drop", taskEvent(archivist.EventTaskCreated, "after-drop"))
	})
}

// runningJob returns a setup that creates task "job" with maxRetries and
// runs its first attempt on node-1 (assigned by the leader, then claimed).
func runningJob(maxRetries int) func(h *fixture) {
	return func(h *fixture) {
		h.t.Helper()
		task := newTask("job", "t", archivist.PriorityNormal)
		task.MaxRetries = maxRetries
		h.create(task)
		h.assign("node-1", "job")
		if got, err := h.s.ClaimTasks(h.ctx(), "node-1", 1, grace); err != nil || len(got) != 1 {
			h.t.Fatalf("ClaimTasks: %v, %v", ids(got), err)
		}
	}
}
