package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/store"
)

// drainRun is one drain: n pre-enqueued no-op tasks run to completion,
// timed from the first task's start to the moment all are complete, with
// what it cost.
type drainRun struct {
	Tasks       int     `json:"tasks"`
	TasksPerSec float64 `json:"tasksPerSec"`
	Seconds     float64 `json:"seconds"`
	// Redis: every command per task (those run inside Lua included), the
	// top-level function and script calls (FCALL, EVALSHA, EVAL) per task,
	// and the server's CPU per task.
	RedisCmdsPerTask    float64          `json:"redisCommandsPerTask"`
	RedisScriptsPerTask float64          `json:"redisScriptCallsPerTask"`
	RedisCPUPerTaskUS   float64          `json:"redisCpuPerTaskUs"`
	GoCPUPerTaskUS      float64          `json:"goCpuPerTaskUs"`
	PeakRSSMB           float64          `json:"peakRssMb"` // largest process
	Calls               map[string]int64 `json:"redisCalls,omitempty"`
}

type drainResult struct {
	System string     `json:"system"`
	Runs   []drainRun `json:"runs"`
	Median drainRun   `json:"median"`
}

func summarizeDrain(system string, runs []drainRun) *drainResult {
	m := drainRun{
		Tasks:               int(medianOf(runs, func(r drainRun) float64 { return float64(r.Tasks) })),
		TasksPerSec:         medianOf(runs, func(r drainRun) float64 { return r.TasksPerSec }),
		Seconds:             medianOf(runs, func(r drainRun) float64 { return r.Seconds }),
		RedisCmdsPerTask:    medianOf(runs, func(r drainRun) float64 { return r.RedisCmdsPerTask }),
		RedisScriptsPerTask: medianOf(runs, func(r drainRun) float64 { return r.RedisScriptsPerTask }),
		RedisCPUPerTaskUS:   medianOf(runs, func(r drainRun) float64 { return r.RedisCPUPerTaskUS }),
		GoCPUPerTaskUS:      medianOf(runs, func(r drainRun) float64 { return r.GoCPUPerTaskUS }),
		PeakRSSMB:           medianOf(runs, func(r drainRun) float64 { return r.PeakRSSMB }),
	}
	return &drainResult{System: system, Runs: runs, Median: m}
}

// callsPerTask is the median over the runs of each Redis command's calls
// per task.
func (d *drainResult) callsPerTask() map[string]float64 {
	names := map[string]bool{}
	for _, r := range d.Runs {
		for k := range r.Calls {
			names[k] = true
		}
	}
	out := make(map[string]float64, len(names))
	for k := range names {
		out[k] = medianOf(d.Runs, func(r drainRun) float64 { return ratio(float64(r.Calls[k]), float64(r.Tasks)) })
	}
	return out
}

const benchCluster = "bench"

// newTasks returns n echo tasks with input {} (echo is the no-op: its
// result is its input).
func newTasks(n int) []*archivist.Task {
	out := make([]*archivist.Task, n)
	now := time.Now()
	for i := range out {
		out[i] = &archivist.Task{ID: archivist.NewID(now), Type: "echo", Input: json.RawMessage(`{}`),
			Priority: archivist.PriorityNormal, Timeout: time.Minute, MaxRetries: 3}
	}
	return out
}

// waitingTasks is how many SCHEDULED tasks the "+100k scheduled" drains
// hold in the store besides the ones they drain.
const waitingTasks = 100_000

// prepare stores a config with distribution off (nodes start and wait) and
// n tasks, through the Go API, and returns the tasks' ids. Before them it
// stores waiting tasks due in a week, which the drain must not slow for.
func prepare(ctx context.Context, st archivist.Store, n, waiting int, traced bool) ([]string, error) {
	cfg := archivist.DefaultConfig()
	cfg.Enabled = false
	if _, err := st.UpdateConfig(ctx, cfg, 0); err != nil {
		return nil, fmt.Errorf("store config: %w", err)
	}
	for done := 0; done < waiting; {
		ts := newTasks(min(1000, waiting-done))
		for _, t := range ts {
			t.Delay = 7 * 24 * time.Hour
		}
		if err := st.CreateTasks(ctx, ts); err != nil {
			return nil, fmt.Errorf("create waiting tasks: %w", err)
		}
		done += len(ts)
	}
	// BENCH_TRIM=1 empties the event stream before the drain, to tell
	// what the waiting tasks cost placement from what trimming their
	// task.created events out of the stream costs the drain's writes.
	if os.Getenv("BENCH_TRIM") != "" && waiting > 0 {
		if r, ok := st.(*store.Redis); ok {
			if err := r.Client().XTrimMaxLen(ctx, "{archivist:"+benchCluster+"}:events", 0).Err(); err != nil {
				return nil, err
			}
		}
	}
	ids := make([]string, 0, n)
	for len(ids) < n {
		ts := newTasks(min(1000, n-len(ids)))
		if traced {
			for _, t := range ts {
				t.Trace = randomTraceparent()
			}
		}
		if err := st.CreateTasks(ctx, ts); err != nil {
			return nil, fmt.Errorf("create tasks: %w", err)
		}
		for _, t := range ts {
			ids = append(ids, t.ID)
		}
	}
	return ids, nil
}

func (b *bench) openRedisStore(ctx context.Context) (*store.Redis, error) {
	return store.OpenRedis(ctx, store.RedisOptions{URL: b.redis.URL(), Cluster: benchCluster,
		Options: store.Options{Logger: quietLogger}})
}

// drainPrep stores a drain's tasks in st, with distribution off, and
// returns their ids, the first ones among the first to run.
type drainPrep func(ctx context.Context, st archivist.Store) ([]string, error)

// plainTasks is the plain drain's preparation: cfg.N tasks after waiting
// SCHEDULED ones.
func (b *bench) plainTasks(waiting int) drainPrep {
	return func(ctx context.Context, st archivist.Store) ([]string, error) {
		return prepare(ctx, st, b.cfg.N, waiting, false)
	}
}

// drainArchivistRedisTraced is the one-node drain with tracing on: every
// task was submitted in a trace (Task.Trace), so its placement and its
// attempt are spans, exported over OTLP/HTTP to the benchmark's sink.
func (b *bench) drainArchivistRedisTraced(ctx context.Context) (drainRun, error) {
	sink := b.otlpSink()
	return b.drainRedis(ctx, 1, func(ctx context.Context, st archivist.Store) ([]string, error) {
		return prepare(ctx, st, b.cfg.N, 0, true)
	}, "OTEL_EXPORTER_OTLP_ENDPOINT="+sink.URL, "OTEL_SERVICE_NAME=archivist-bench")
}

// drainArchivistRedis drains n tasks with k nodes on the shared Redis.
func (b *bench) drainArchivistRedis(ctx context.Context, k int) (drainRun, error) {
	return b.drainRedis(ctx, k, b.plainTasks(0))
}

// drainArchivistRedisWaiting is the one-node drain with waitingTasks
// SCHEDULED tasks in the store.
func (b *bench) drainArchivistRedisWaiting(ctx context.Context) (drainRun, error) {
	return b.drainRedis(ctx, 1, b.plainTasks(waitingTasks))
}

// drainArchivistRedisWorkflow is the one-node drain with the tasks as
// the steps of workflows (see workflowTasks).
func (b *bench) drainArchivistRedisWorkflow(ctx context.Context) (drainRun, error) {
	return b.drainRedis(ctx, 1, b.workflowTasks)
}

func (b *bench) drainRedis(ctx context.Context, k int, prep drainPrep, env ...string) (drainRun, error) {
	var run drainRun
	if err := b.redis.flush(ctx); err != nil {
		return run, err
	}
	st, err := b.openRedisStore(ctx)
	if err != nil {
		return run, err
	}
	ids, err := prep(ctx, st)
	st.Close()
	if err != nil {
		return run, err
	}
	nodes, err := b.startNodes(k, func(i int) nodeSpec {
		return nodeSpec{Store: b.redis.URL(), Cluster: benchCluster, ID: "node-" + strconv.Itoa(i+1), Workers: b.cfg.Concurrency, Env: env}
	})
	defer stopNodes(nodes)
	if err != nil {
		return run, err
	}
	if err := waitFor(ctx, 20*time.Second, func() (bool, error) {
		c, err := nodes[0].onlineNodes(ctx)
		return c == k, err
	}); err != nil {
		return run, fmt.Errorf("nodes online: %w", err)
	}
	countsKey := "{archivist:" + benchCluster + "}:counts"
	done := func() (bool, error) {
		v, err := b.redis.client.HGet(ctx, countsKey, "COMPLETED").Int()
		if errors.Is(err, redis.Nil) {
			return false, nil
		}
		return v >= len(ids), err
	}
	run, err = b.measureDrain(ctx, nodes, ids, done, 2*time.Millisecond)
	if err == nil && os.Getenv("BENCH_STEPS") != "" {
		b.drainSteps(ctx)
	}
	return run, err
}

// drainSteps logs how long tasks held a slot: assigned to started, started
// to completed (for development: BENCH_STEPS=1).
func (b *bench) drainSteps(ctx context.Context) {
	st, err := b.openRedisStore(ctx)
	if err != nil {
		return
	}
	defer st.Close()
	var claim, run, held []int64
	q := archivist.TaskQuery{First: 500}
	for {
		page, err := st.ListTasks(ctx, q)
		if err != nil {
			return
		}
		for _, t := range page.Tasks {
			claim = append(claim, t.StartedAt.Sub(t.AssignedAt).Microseconds())
			run = append(run, t.CompletedAt.Sub(t.StartedAt).Microseconds())
			held = append(held, t.CompletedAt.Sub(t.AssignedAt).Microseconds())
		}
		if !page.HasNext {
			break
		}
		q.After = page.EndCursor
	}
	b.log.Printf("steps: assigned→started %+v; started→completed %+v; slot held %+v", summarize(claim), summarize(run), summarize(held))
}

// drainEmbedded drains n tasks with one node on the embedded (bbolt)
// store. The node owns the file, so completion is polled through its API.
func (b *bench) drainEmbedded(ctx context.Context) (drainRun, error) {
	return b.drainBolt(ctx, b.plainTasks(0))
}

// drainEmbeddedWaiting is drainEmbedded with waitingTasks SCHEDULED tasks
// in the file.
func (b *bench) drainEmbeddedWaiting(ctx context.Context) (drainRun, error) {
	return b.drainBolt(ctx, b.plainTasks(waitingTasks))
}

// drainEmbeddedWorkflow is drainEmbedded with the tasks as the steps of
// workflows (see workflowTasks).
func (b *bench) drainEmbeddedWorkflow(ctx context.Context) (drainRun, error) {
	return b.drainBolt(ctx, b.workflowTasks)
}

func (b *bench) drainBolt(ctx context.Context, prep drainPrep) (drainRun, error) {
	var run drainRun
	dir, err := tmpDir(b.tmp, "bolt")
	if err != nil {
		return run, err
	}
	path := filepath.Join(dir, "archivist.db")
	st, err := store.OpenBolt(path, store.Options{Logger: quietLogger})
	if err != nil {
		return run, err
	}
	ids, err := prep(ctx, st)
	st.Close()
	if err != nil {
		return run, err
	}
	nodes, err := b.startNodes(1, func(int) nodeSpec {
		return nodeSpec{Store: "bolt:" + path, ID: "node-1", Workers: b.cfg.Concurrency}
	})
	defer stopNodes(nodes)
	if err != nil {
		return run, err
	}
	done := func() (bool, error) {
		c, err := nodes[0].completed(ctx)
		return c >= len(ids), err
	}
	run, err = b.measureDrain(ctx, nodes, ids, done, 10*time.Millisecond)
	// No Redis here: what the shared server did meanwhile is not this run's.
	run.RedisCmdsPerTask, run.RedisScriptsPerTask, run.RedisCPUPerTaskUS, run.Calls = 0, 0, 0, nil
	return run, err
}

// measureDrain turns distribution on, waits for done, and measures.
func (b *bench) measureDrain(ctx context.Context, nodes []*node, ids []string, done func() (bool, error), poll time.Duration) (drainRun, error) {
	var run drainRun
	before, err := b.redis.stats(ctx)
	if err != nil {
		return run, err
	}
	cpu0 := nodesCPU(nodes)
	if err := nodes[0].setEnabled(ctx, true); err != nil {
		return run, err
	}
	if err := waitForEvery(ctx, 5*time.Minute, poll, done); err != nil {
		return run, fmt.Errorf("drain: %w", err)
	}
	end := time.Now()
	after, err := b.redis.stats(ctx)
	if err != nil {
		return run, err
	}
	cpu := nodesCPU(nodes) - cpu0
	first, err := nodes[0].firstStart(ctx, ids[:min(64, len(ids))])
	if err != nil {
		return run, err
	}
	n := len(ids)
	d := after.sub(before)
	run.Tasks = n
	run.Seconds = end.Sub(first).Seconds()
	run.TasksPerSec = float64(n) / run.Seconds
	run.RedisCmdsPerTask = float64(d.Commands) / float64(n)
	run.RedisScriptsPerTask = float64(d.Calls["fcall"]+d.Calls["evalsha"]+d.Calls["eval"]) / float64(n)
	run.RedisCPUPerTaskUS = perTask(d.CPU, n)
	run.GoCPUPerTaskUS = perTask(cpu, n)
	run.PeakRSSMB = mb(nodesPeak(nodes))
	run.Calls = d.Calls
	return run, nil
}

// drainAsynq drains n tasks with one asynq server at the same concurrency.
func (b *bench) drainAsynq(ctx context.Context) (drainRun, error) {
	var run drainRun
	if err := b.redis.flush(ctx); err != nil {
		return run, err
	}
	p, err := startAsynq(b.asynqBin, asynqCommand{Op: "drain", Redis: b.redis.Addr, N: b.cfg.N, Concurrency: b.cfg.Concurrency})
	if err != nil {
		return run, err
	}
	defer p.finish()
	before, err := b.redis.stats(ctx)
	if err != nil {
		return run, err
	}
	cpu0, _ := procCPU(p.Pid())
	res, err := p.goAndWait(5 * time.Minute)
	if err != nil {
		return run, err
	}
	after, err := b.redis.stats(ctx)
	if err != nil {
		return run, err
	}
	cpu1, _ := procCPU(p.Pid())
	_, peak, _ := procMem(p.Pid())
	n := b.cfg.N
	d := after.sub(before)
	run.Tasks = n
	run.Seconds = time.Duration(res.DoneNS - res.FirstStartNS).Seconds()
	run.TasksPerSec = float64(n) / run.Seconds
	run.RedisCmdsPerTask = float64(d.Commands) / float64(n)
	run.RedisScriptsPerTask = float64(d.Calls["fcall"]+d.Calls["evalsha"]+d.Calls["eval"]) / float64(n)
	run.RedisCPUPerTaskUS = perTask(d.CPU, n)
	run.GoCPUPerTaskUS = perTask(cpu1-cpu0, n)
	run.PeakRSSMB = mb(peak)
	run.Calls = d.Calls
	return run, nil
}

func (b *bench) startNodes(k int, spec func(i int) nodeSpec) ([]*node, error) {
	var nodes []*node
	for i := range k {
		n, err := startNode(b.archivistBin, spec(i))
		if err != nil {
			return nodes, err
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

func stopNodes(nodes []*node) {
	for _, n := range nodes {
		n.stop()
	}
}

func nodesCPU(nodes []*node) time.Duration {
	var sum time.Duration
	for _, n := range nodes {
		c, _ := procCPU(n.Pid())
		sum += c
	}
	return sum
}

func nodesPeak(nodes []*node) int64 {
	var top int64
	for _, n := range nodes {
		_, p, _ := procMem(n.Pid())
		top = max(top, p)
	}
	return top
}

// waitFor polls cond every 20ms until it holds, fails, or limit passes.
func waitFor(ctx context.Context, limit time.Duration, cond func() (bool, error)) error {
	return waitForEvery(ctx, limit, 20*time.Millisecond, cond)
}

func waitForEvery(ctx context.Context, limit, every time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within %s (last error: %v)", limit, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}
