package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// subRun is one subscription run: K WebSocket clients subscribed to every
// task update while tasks flow at a rate that gives each of them
// EventsPerSec messages.
type subRun struct {
	Subscribers int `json:"subscribers"`
	// Active of them get the events; the others hold a quiet subscription.
	Active       int     `json:"active"`
	EventsPerSec int     `json:"eventsPerSecEach"`
	Expected     int64   `json:"expected"`
	Received     int64   `json:"received"`
	MsgsPerSec   float64 `json:"messagesPerSec"`
	Delay        latency `json:"delay"`
	// Node memory per subscriber: RSS with K idle subscribers, and its peak
	// under load, over the RSS before they connected, divided by K.
	IdleKBPerSub float64 `json:"idleKbPerSubscriber"`
	PeakKBPerSub float64 `json:"peakKbPerSubscriber"`
	NodeCPUPct   float64 `json:"nodeCpuPercent"`
	// The benchmark's own CPU meanwhile (its K clients): on two cores it
	// competes with the node.
	ClientCPUPct float64 `json:"clientCpuPercent"`
	Dropped      int     `json:"droppedSubscribers"`
}

type subResult struct {
	Subscribers int      `json:"subscribers"`
	Runs        []subRun `json:"runs"`
	Median      subRun   `json:"median"`
}

func summarizeSub(k int, runs []subRun) *subResult {
	ds := make([]latency, len(runs))
	for i, r := range runs {
		ds[i] = r.Delay
	}
	return &subResult{Subscribers: k, Runs: runs, Median: subRun{
		Subscribers:  k,
		Active:       runs[0].Active,
		EventsPerSec: runs[0].EventsPerSec,
		Expected:     int64(medianOf(runs, func(r subRun) float64 { return float64(r.Expected) })),
		Received:     int64(medianOf(runs, func(r subRun) float64 { return float64(r.Received) })),
		MsgsPerSec:   medianOf(runs, func(r subRun) float64 { return r.MsgsPerSec }),
		Delay:        medianLatency(ds),
		IdleKBPerSub: medianOf(runs, func(r subRun) float64 { return r.IdleKBPerSub }),
		PeakKBPerSub: medianOf(runs, func(r subRun) float64 { return r.PeakKBPerSub }),
		NodeCPUPct:   medianOf(runs, func(r subRun) float64 { return r.NodeCPUPct }),
		ClientCPUPct: medianOf(runs, func(r subRun) float64 { return r.ClientCPUPct }),
		Dropped:      int(medianOf(runs, func(r subRun) float64 { return float64(r.Dropped) })),
	}}
}

// Each task makes three task events on one node: created, started (the
// leader starts the tasks it places on its own node's free workers in the
// placement step) and completed. A task that waited for a worker would make
// a fourth (assigned), so the run waits for every task's completion, not
// for a count of messages.
const eventsPerTask = 3

// subscribeRun connects k subscribers to one node on Redis and submits
// tasks through the Go API so that each of the first active subscribers
// gets eventsPerSec messages a second; the others subscribe to
// configUpdated, which stays quiet.
func (b *bench) subscribeRun(ctx context.Context, k, active, eventsPerSec int) (subRun, error) {
	run := subRun{Subscribers: k, Active: active, EventsPerSec: eventsPerSec}
	if err := b.redis.flush(ctx); err != nil {
		return run, err
	}
	nodes, err := b.startNodes(1, func(int) nodeSpec {
		return nodeSpec{Store: b.redis.URL(), Cluster: benchCluster, ID: "node-1", Workers: b.cfg.Concurrency}
	})
	defer stopNodes(nodes)
	if err != nil {
		return run, err
	}
	nd := nodes[0]
	st, err := b.openRedisStore(ctx)
	if err != nil {
		return run, err
	}
	defer st.Close()
	time.Sleep(time.Second)
	base, _, _ := procMem(nd.Pid())

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	url := "ws://" + nd.HTTP + "/graphql"
	subs := make([]*subscriber, k)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var dialErr atomic.Value
	for i := range subs {
		subs[i] = &subscriber{query: activeQuery}
		if i >= active {
			subs[i].query = idleQuery
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := subs[i].connect(sctx, url); err != nil {
				dialErr.CompareAndSwap(nil, err)
			}
		})
	}
	wg.Wait()
	if err, ok := dialErr.Load().(error); ok {
		return run, fmt.Errorf("subscribe: %w", err)
	}
	var readers sync.WaitGroup
	for _, s := range subs {
		readers.Go(func() { s.read(sctx) })
	}
	defer func() {
		cancel()
		for _, s := range subs {
			s.close()
		}
		readers.Wait()
	}()
	// Let every subscription start on the node before events flow.
	time.Sleep(time.Second)
	idle, _, _ := procMem(nd.Pid())

	tasksPerSec := max(1, eventsPerSec/eventsPerTask)
	total := tasksPerSec * int(b.cfg.SubDuration/time.Millisecond) / 1000
	peak := idle
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(250 * time.Millisecond):
				if rss, _, err := procMem(nd.Pid()); err == nil {
					peak = max(peak, rss)
				}
			}
		}
	}()
	cpu0, _ := procCPU(nd.Pid())
	self0, _ := procCPU(os.Getpid())
	begin := time.Now()
	err = pace(total, tasksPerSec, func(int) error { return st.CreateTasks(ctx, newTasks(1)) })
	// Wait for the last messages (bounded).
	expected := int64(active) * int64(total) * eventsPerTask
	_ = waitFor(ctx, 10*time.Second, func() (bool, error) {
		var done int64
		for _, s := range subs {
			done += s.completed.Load()
		}
		return done >= int64(active)*int64(total), nil
	})
	elapsed := time.Since(begin)
	cpu1, _ := procCPU(nd.Pid())
	self1, _ := procCPU(os.Getpid())
	close(stopSampling)
	<-sampled
	if err != nil {
		return run, err
	}
	var delays []int64
	for _, s := range subs {
		s.mu.Lock()
		delays = append(delays, s.delays...)
		s.mu.Unlock()
		run.Received += s.count.Load()
		if s.ended.Load() {
			run.Dropped++
		}
	}
	run.Expected = expected
	run.MsgsPerSec = float64(run.Received) / elapsed.Seconds()
	run.Delay = summarize(delays)
	run.IdleKBPerSub = float64(idle-base) / 1024 / float64(k)
	run.PeakKBPerSub = float64(peak-base) / 1024 / float64(k)
	run.NodeCPUPct = 100 * (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	run.ClientCPUPct = 100 * (self1 - self0).Seconds() / elapsed.Seconds()
	return run, nil
}

// The subscriptions: every task update, or the configuration's (quiet).
const (
	activeQuery = `{"id":"1","type":"subscribe","payload":{"query":"subscription { taskUpdated { id status updatedAt } }"}}`
	idleQuery   = `{"id":"1","type":"subscribe","payload":{"query":"subscription { configUpdated { version } }"}}`
)

// subscriber is one graphql-transport-ws client with one subscription.
type subscriber struct {
	query string
	c     *websocket.Conn
	count atomic.Int64
	// completed counts the messages of a task's completion.
	completed atomic.Int64
	ended     atomic.Bool
	mu        sync.Mutex
	delays    []int64 // µs from the change (updatedAt) to receipt
}

func (s *subscriber) connect(ctx context.Context, url string) error {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return err
	}
	c.SetReadLimit(1 << 20)
	s.c = c
	if err := c.Write(dctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{}}`)); err != nil {
		return err
	}
	_, msg, err := c.Read(dctx)
	if err != nil {
		return err
	}
	if !bytes.Contains(msg, []byte(`"connection_ack"`)) {
		return fmt.Errorf("expected connection_ack, got %s", msg)
	}
	return c.Write(dctx, websocket.MessageText, []byte(s.query))
}

var (
	updatedAtKey    = []byte(`"updatedAt":"`)
	completedStatus = []byte(`"status":"COMPLETED"`)
)

func (s *subscriber) read(ctx context.Context) {
	for {
		_, msg, err := s.c.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.ended.Store(true)
			}
			return
		}
		now := time.Now()
		switch {
		case bytes.Contains(msg, []byte(`"type":"next"`)):
			s.count.Add(1)
			if bytes.Contains(msg, completedStatus) {
				s.completed.Add(1)
			}
			if i := bytes.Index(msg, updatedAtKey); i >= 0 {
				rest := msg[i+len(updatedAtKey):]
				if j := bytes.IndexByte(rest, '"'); j > 0 {
					if at, err := time.Parse(time.RFC3339Nano, string(rest[:j])); err == nil {
						s.mu.Lock()
						s.delays = append(s.delays, now.Sub(at).Microseconds())
						s.mu.Unlock()
					}
				}
			}
		case bytes.Contains(msg, []byte(`"type":"ping"`)):
			_ = s.c.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
		case bytes.Contains(msg, []byte(`"type":"error"`)), bytes.Contains(msg, []byte(`"type":"complete"`)):
			s.ended.Store(true)
			return
		}
	}
}

func (s *subscriber) close() {
	if s.c != nil {
		_ = s.c.CloseNow()
	}
}
