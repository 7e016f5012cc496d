package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpg-archivist/archivist"
)

// steadyRun is one steady-state run: tasks offered at a fixed rate, one
// per submission, with the latency from submission to start and to
// completion.
type steadyRun struct {
	Offered   int     `json:"offered"`
	Completed int     `json:"completed"`
	Start     latency `json:"enqueueToStart"`
	Done      latency `json:"enqueueToCompleted"`
	// Archivist only, from the store's timestamps: submission to
	// placement (the leader), placement to start (the worker), start to
	// completion (run and report).
	Placed  *latency `json:"createdToAssigned,omitempty"`
	Claimed *latency `json:"assignedToStarted,omitempty"`
	Ran     *latency `json:"startedToCompleted,omitempty"`
	// What the run cost the Redis server, per task.
	RedisCPUPerTaskUS float64          `json:"redisCpuPerTaskUs"`
	RedisCmdsPerTask  float64          `json:"redisCommandsPerTask"`
	Calls             map[string]int64 `json:"redisCalls,omitempty"`
}

type steadyResult struct {
	System string      `json:"system"`
	Rate   int         `json:"rate"`
	Runs   []steadyRun `json:"runs"`
	Median steadyRun   `json:"median"`
}

func summarizeSteady(system string, rate int, runs []steadyRun) *steadyResult {
	starts, dones := make([]latency, len(runs)), make([]latency, len(runs))
	for i, r := range runs {
		starts[i], dones[i] = r.Start, r.Done
	}
	var steps [3][]latency
	for _, r := range runs {
		if r.Placed != nil {
			steps[0], steps[1], steps[2] = append(steps[0], *r.Placed), append(steps[1], *r.Claimed), append(steps[2], *r.Ran)
		}
	}
	step := func(ls []latency) *latency {
		if len(ls) == 0 {
			return nil
		}
		m := medianLatency(ls)
		return &m
	}
	return &steadyResult{System: system, Rate: rate, Runs: runs, Median: steadyRun{
		Placed:            step(steps[0]),
		Claimed:           step(steps[1]),
		Ran:               step(steps[2]),
		Offered:           int(medianOf(runs, func(r steadyRun) float64 { return float64(r.Offered) })),
		Completed:         int(medianOf(runs, func(r steadyRun) float64 { return float64(r.Completed) })),
		Start:             medianLatency(starts),
		Done:              medianLatency(dones),
		RedisCPUPerTaskUS: medianOf(runs, func(r steadyRun) float64 { return r.RedisCPUPerTaskUS }),
		RedisCmdsPerTask:  medianOf(runs, func(r steadyRun) float64 { return r.RedisCmdsPerTask }),
	}}
}

// steadySenders is how many goroutines share the offered rate, so that one
// slow call does not hold back the schedule.
const steadySenders = 4

// pace calls send(i) for i in [0, total) at rate per second spread over
// senders goroutines, each on its own schedule (open loop: a late call
// does not shift the ones after it).
func pace(total, rate int, send func(i int) error) error {
	begin := time.Now()
	interval := time.Duration(int64(time.Second) * steadySenders / int64(rate))
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for s := range steadySenders {
		wg.Go(func() {
			for k := 0; ; k++ {
				i := k*steadySenders + s
				if i >= total {
					return
				}
				due := begin.Add(time.Duration(k)*interval + time.Duration(s)*interval/steadySenders)
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				if err := send(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return nil
}

// steadyArchivist offers rate tasks/s for the duration to one node on Redis
// through the Go API, and reads every task's start and completion time
// from the store afterwards.
func (b *bench) steadyArchivist(ctx context.Context, rate int) (steadyRun, error) {
	var run steadyRun
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
	st, err := b.openRedisStore(ctx)
	if err != nil {
		return run, err
	}
	defer st.Close()
	// Let the node settle into idle, as it is between bursts.
	time.Sleep(1500 * time.Millisecond)

	total := rate * int(b.cfg.SteadyDuration/time.Millisecond) / 1000
	submitted := make([]time.Time, total)
	index := make(map[string]int, total)
	var mu sync.Mutex
	before, err := b.redis.stats(ctx)
	if err != nil {
		return run, err
	}
	err = pace(total, rate, func(i int) error {
		t := newTasks(1)
		mu.Lock()
		index[t[0].ID] = i
		mu.Unlock()
		submitted[i] = time.Now()
		return st.CreateTasks(ctx, t)
	})
	if err != nil {
		return run, err
	}
	_ = waitFor(ctx, 30*time.Second, func() (bool, error) {
		c, err := st.CountTasks(ctx)
		return c[archivist.TaskCompleted] >= total, err
	})
	after, err := b.redis.stats(ctx)
	if err != nil {
		return run, err
	}
	var startUS, doneUS, placedUS, claimedUS, ranUS []int64
	q := archivist.TaskQuery{First: 500}
	for {
		page, err := st.ListTasks(ctx, q)
		if err != nil {
			return run, err
		}
		for _, t := range page.Tasks {
			i, ok := index[t.ID]
			if !ok || t.Status != archivist.TaskCompleted {
				continue
			}
			startUS = append(startUS, t.StartedAt.Sub(submitted[i]).Microseconds())
			doneUS = append(doneUS, t.CompletedAt.Sub(submitted[i]).Microseconds())
			placedUS = append(placedUS, t.AssignedAt.Sub(t.CreatedAt).Microseconds())
			claimedUS = append(claimedUS, t.StartedAt.Sub(t.AssignedAt).Microseconds())
			ranUS = append(ranUS, t.CompletedAt.Sub(t.StartedAt).Microseconds())
		}
		if !page.HasNext {
			break
		}
		q.After = page.EndCursor
	}
	d := after.sub(before)
	run.Offered, run.Completed = total, len(doneUS)
	run.Start, run.Done = summarize(startUS), summarize(doneUS)
	placed, claimed, ran := summarize(placedUS), summarize(claimedUS), summarize(ranUS)
	run.Placed, run.Claimed, run.Ran = &placed, &claimed, &ran
	run.RedisCPUPerTaskUS = perTask(d.CPU, total)
	run.RedisCmdsPerTask = float64(d.Commands) / float64(total)
	run.Calls = d.Calls
	if run.Completed < total {
		return run, fmt.Errorf("only %d of %d tasks completed", run.Completed, total)
	}
	return run, nil
}

// steadyAsynq offers rate tasks/s to one asynq server; checkMS 0 is asynq's
// default TaskCheckInterval (1s).
func (b *bench) steadyAsynq(ctx context.Context, rate, checkMS int) (steadyRun, error) {
	var run steadyRun
	if err := b.redis.flush(ctx); err != nil {
		return run, err
	}
	p, err := startAsynq(b.asynqBin, asynqCommand{Op: "steady", Redis: b.redis.Addr, Concurrency: b.cfg.Concurrency,
		Rate: rate, DurationMS: int(b.cfg.SteadyDuration / time.Millisecond), CheckMS: checkMS, Senders: steadySenders})
	if err != nil {
		return run, err
	}
	defer p.finish()
	before, err := b.redis.stats(ctx)
	if err != nil {
		return run, err
	}
	res, err := p.goAndWait(b.cfg.SteadyDuration + time.Minute)
	if err != nil {
		return run, err
	}
	after, err := b.redis.stats(ctx)
	if err != nil {
		return run, err
	}
	d := after.sub(before)
	run.Offered, run.Completed = res.Offered, int(res.Handled)
	run.Start, run.Done = summarize(res.StartUS), summarize(res.DoneUS)
	run.RedisCPUPerTaskUS = perTask(d.CPU, res.Offered)
	run.RedisCmdsPerTask = float64(d.Commands) / float64(max(res.Offered, 1))
	run.Calls = d.Calls
	if run.Completed < run.Offered {
		return run, fmt.Errorf("asynq: only %d of %d tasks handled", run.Completed, run.Offered)
	}
	return run, nil
}
