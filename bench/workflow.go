package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/store"
	"github.com/rpg-archivist/archivist/tasks"
)

// Workflow drains: the plain drain's tasks (echo with input {}, the same
// timeout, retries and priority) as the steps of workflows of
// drainWorkflowSteps steps each, a fan-out and fan-in: a root, the steps
// after it, and a last step after all of those. What differs from the
// plain drain is the workflow machinery alone: WAITING steps, their
// release in the completion of the steps they depend on, and the
// workflow's record.
const drainWorkflowSteps = 10

// echoRegistry knows the one task type the benchmark runs, so that
// NewWorkflow can check the steps as a node would.
func echoRegistry() *archivist.Registry {
	reg := archivist.NewRegistry()
	reg.Register(tasks.TypeEcho, tasks.EchoHandler{})
	return reg
}

// echoStep is the task of every workflow step: the plain drain's task
// (newTasks).
func echoStep() archivist.TaskSpec {
	retries := 3
	return archivist.TaskSpec{Type: tasks.TypeEcho, Input: json.RawMessage(`{}`), Priority: archivist.PriorityNormal,
		Timeout: time.Minute, MaxRetries: &retries}
}

// fanOutSpec is one drain workflow: root, then mid-1 ... mid-(steps-2)
// after root, then last after all of them.
func fanOutSpec(i, steps int) archivist.WorkflowSpec {
	spec := archivist.WorkflowSpec{Name: "drain-" + strconv.Itoa(i)}
	spec.Steps = append(spec.Steps, archivist.WorkflowStepSpec{Key: "root", Task: echoStep()})
	var mids []string
	for j := 1; j <= steps-2; j++ {
		k := "mid-" + strconv.Itoa(j)
		mids = append(mids, k)
		spec.Steps = append(spec.Steps, archivist.WorkflowStepSpec{Key: k, DependsOn: []string{"root"}, Task: echoStep()})
	}
	spec.Steps = append(spec.Steps, archivist.WorkflowStepSpec{Key: "last", DependsOn: mids, Task: echoStep()})
	return spec
}

// chainSpec is one workflow of the workflow scenario: steps s0 ... s(n-1),
// each after the one before.
func chainSpec(i, steps int) archivist.WorkflowSpec {
	spec := archivist.WorkflowSpec{Name: "chain-" + strconv.Itoa(i)}
	for j := range steps {
		s := archivist.WorkflowStepSpec{Key: "s" + strconv.Itoa(j), Task: echoStep()}
		if j > 0 {
			s.DependsOn = []string{"s" + strconv.Itoa(j-1)}
		}
		spec.Steps = append(spec.Steps, s)
	}
	return spec
}

// workflowTasks is the workflow drain's preparation: cfg.N tasks (rounded
// down to whole workflows) as cfg.N/drainWorkflowSteps workflows stored
// through CreateWorkflow, one per call, from a few goroutines. The ids
// come roots first, in submission order (the first to run).
func (b *bench) workflowTasks(ctx context.Context, st archivist.Store) ([]string, error) {
	cfg := archivist.DefaultConfig()
	cfg.Enabled = false
	if _, err := st.UpdateConfig(ctx, cfg, 0); err != nil {
		return nil, fmt.Errorf("store config: %w", err)
	}
	n := b.cfg.N / drainWorkflowSteps
	if n == 0 {
		return nil, fmt.Errorf("a workflow drain needs at least %d tasks (-n)", drainWorkflowSteps)
	}
	reg := echoRegistry()
	now := time.Now()
	wfs := make([]*archivist.Workflow, n)
	steps := make([][]*archivist.Task, n)
	for i := range n {
		w, ts, err := archivist.NewWorkflow(fanOutSpec(i, drainWorkflowSteps), reg, cfg, now)
		if err != nil {
			return nil, fmt.Errorf("build workflow: %w", err)
		}
		wfs[i], steps[i] = w, ts
	}
	if err := forEach(ctx, n, 8, func(i int) error { return st.CreateWorkflow(ctx, wfs[i], steps[i]) }); err != nil {
		return nil, fmt.Errorf("create workflows: %w", err)
	}
	ids := make([]string, 0, n*drainWorkflowSteps)
	for _, ts := range steps {
		ids = append(ids, ts[0].ID)
	}
	for _, ts := range steps {
		for _, t := range ts[1:] {
			ids = append(ids, t.ID)
		}
	}
	return ids, nil
}

// forEach runs f(i) for i in [0, n) from k goroutines and returns the
// first error.
func forEach(ctx context.Context, n, k int, f func(i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// The workflow scenario: chains of steps, submitted at once to a running
// node, and how long each step waits from its release (its parent's
// completion) to its start.
const (
	chainSteps = 10
	// chainClients submit the workflows, each one per request.
	chainClients = 16
)

// chainRun is one run of the workflow scenario. Every latency is from the
// store's own timestamps (one clock: Redis's TIME, or the embedded
// store's node).
type chainRun struct {
	Workflows        int `json:"workflows"`
	StepsPerWorkflow int `json:"stepsPerWorkflow"`
	// ReleaseToStart is child.StartedAt − parent.CompletedAt for every
	// step but the roots: the release happens in the parent's completion,
	// then the leader places the child (ReleaseToPlaced, to AssignedAt)
	// and a worker starts it (PlacedToStart).
	ReleaseToStart  latency `json:"releaseToStart"`
	ReleaseToPlaced latency `json:"releaseToAssigned"`
	PlacedToStart   latency `json:"assignedToStarted"`
	// StepRun is StartedAt to CompletedAt of every step: after the claim,
	// the worker's reads of the workflow and the parents' results, the
	// run and the report.
	StepRun latency `json:"startedToCompleted"`
	// RootStart is a root's StartedAt − CreatedAt: a plain task's
	// submission to start, in the same burst.
	RootStart latency `json:"rootCreatedToStarted"`
	// Submission is the first workflow's CreatedAt to the last one's;
	// Seconds the first CreatedAt to the last step's CompletedAt.
	SubmissionMS float64 `json:"submissionMs"`
	Seconds      float64 `json:"seconds"`
	// What the run cost Redis per step (0 on the embedded store).
	RedisCPUPerStepUS float64 `json:"redisCpuPerStepUs"`
	RedisCmdsPerStep  float64 `json:"redisCommandsPerStep"`
}

type chainResult struct {
	System string     `json:"system"`
	Runs   []chainRun `json:"runs"`
	Median chainRun   `json:"median"`
}

func summarizeChains(system string, runs []chainRun) *chainResult {
	lat := func(f func(chainRun) latency) latency {
		ls := make([]latency, len(runs))
		for i, r := range runs {
			ls[i] = f(r)
		}
		return medianLatency(ls)
	}
	m := chainRun{Workflows: runs[0].Workflows, StepsPerWorkflow: runs[0].StepsPerWorkflow,
		ReleaseToStart:    lat(func(r chainRun) latency { return r.ReleaseToStart }),
		ReleaseToPlaced:   lat(func(r chainRun) latency { return r.ReleaseToPlaced }),
		PlacedToStart:     lat(func(r chainRun) latency { return r.PlacedToStart }),
		StepRun:           lat(func(r chainRun) latency { return r.StepRun }),
		RootStart:         lat(func(r chainRun) latency { return r.RootStart }),
		SubmissionMS:      medianOf(runs, func(r chainRun) float64 { return r.SubmissionMS }),
		Seconds:           medianOf(runs, func(r chainRun) float64 { return r.Seconds }),
		RedisCPUPerStepUS: medianOf(runs, func(r chainRun) float64 { return r.RedisCPUPerStepUS }),
		RedisCmdsPerStep:  medianOf(runs, func(r chainRun) float64 { return r.RedisCmdsPerStep }),
	}
	return &chainResult{System: system, Runs: runs, Median: m}
}

// chainsRedis runs the workflow scenario on one node on the shared Redis.
func (b *bench) chainsRedis(ctx context.Context) (chainRun, error) {
	var run chainRun
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
	// Let the node settle into idle, as it is between bursts.
	time.Sleep(1500 * time.Millisecond)
	before, err := b.redis.stats(ctx)
	if err != nil {
		return run, err
	}
	if err := b.runChains(ctx, nodes[0]); err != nil {
		return run, err
	}
	after, err := b.redis.stats(ctx)
	if err != nil {
		return run, err
	}
	st, err := b.openRedisStore(ctx)
	if err != nil {
		return run, err
	}
	defer st.Close()
	run, err = chainLatencies(ctx, st, b.cfg.Chains)
	if err != nil {
		return run, err
	}
	d := after.sub(before)
	steps := run.Workflows * run.StepsPerWorkflow
	run.RedisCPUPerStepUS = perTask(d.CPU, steps)
	run.RedisCmdsPerStep = float64(d.Commands) / float64(max(steps, 1))
	return run, nil
}

// chainsEmbedded runs the workflow scenario on one node on the embedded
// store; the tasks are read from the file once the node has stopped.
func (b *bench) chainsEmbedded(ctx context.Context) (chainRun, error) {
	var run chainRun
	dir, err := tmpDir(b.tmp, "bolt")
	if err != nil {
		return run, err
	}
	path := filepath.Join(dir, "archivist.db")
	nodes, err := b.startNodes(1, func(int) nodeSpec {
		return nodeSpec{Store: "bolt:" + path, ID: "node-1", Workers: b.cfg.Concurrency}
	})
	defer stopNodes(nodes)
	if err != nil {
		return run, err
	}
	time.Sleep(1500 * time.Millisecond) // as chainsRedis
	if err := b.runChains(ctx, nodes[0]); err != nil {
		return run, err
	}
	stopNodes(nodes)
	st, err := store.OpenBolt(path, store.Options{Logger: quietLogger})
	if err != nil {
		return run, err
	}
	defer st.Close()
	return chainLatencies(ctx, st, b.cfg.Chains)
}

// chainWorkflowMutation submits one workflow and returns only its id.
const chainWorkflowMutation = `mutation($input: WorkflowInput!) { submitWorkflow(input: $input) { id } }`

// runChains submits cfg.Chains chains of chainSteps steps to n at once
// (chainClients clients, one workflow per request, through GraphQL as a
// user would) and waits until every step completed.
func (b *bench) runChains(ctx context.Context, n *node) error {
	inputs := make([]map[string]any, b.cfg.Chains)
	for i := range inputs {
		spec := chainSpec(i, chainSteps)
		var steps []map[string]any
		for _, s := range spec.Steps {
			steps = append(steps, map[string]any{"key": s.Key, "dependsOn": s.DependsOn, "type": s.Task.Type,
				"input": s.Task.Input, "timeoutSeconds": s.Task.Timeout.Seconds(), "maxRetries": *s.Task.MaxRetries})
		}
		inputs[i] = map[string]any{"name": spec.Name, "steps": steps}
	}
	url := "http://" + n.HTTP + "/graphql"
	if err := forEach(ctx, len(inputs), chainClients, func(i int) error {
		return gqlPost(ctx, httpClient, url, chainWorkflowMutation, map[string]any{"input": inputs[i]}, nil)
	}); err != nil {
		return fmt.Errorf("submit workflows (GraphQL submitWorkflow): %w", err)
	}
	total := b.cfg.Chains * chainSteps
	if err := waitFor(ctx, 2*time.Minute, func() (bool, error) {
		c, err := n.completed(ctx)
		return c >= total, err
	}); err != nil {
		return fmt.Errorf("workflows: %w", err)
	}
	return nil
}

// httpClient keeps a connection per submitting client.
var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: chainClients}}

// chainLatencies reads every step of the chains (n workflows) from st and
// measures them.
func chainLatencies(ctx context.Context, st archivist.Store, n int) (chainRun, error) {
	var run chainRun
	byWorkflow := map[string]map[string]*archivist.Task{}
	q := archivist.TaskQuery{First: 500}
	for {
		page, err := st.ListTasks(ctx, q)
		if err != nil {
			return run, err
		}
		for _, t := range page.Tasks {
			if t.WorkflowID == "" {
				continue
			}
			if t.Status != archivist.TaskCompleted {
				return run, fmt.Errorf("step %s of workflow %s is %s", t.StepKey, t.WorkflowID, t.Status)
			}
			w := byWorkflow[t.WorkflowID]
			if w == nil {
				w = map[string]*archivist.Task{}
				byWorkflow[t.WorkflowID] = w
			}
			w[t.StepKey] = t
		}
		if !page.HasNext {
			break
		}
		q.After = page.EndCursor
	}
	if len(byWorkflow) != n {
		return run, fmt.Errorf("%d workflows in the store, want %d", len(byWorkflow), n)
	}
	var release, placed, claimed, ran, root []int64
	var first, lastCreated, end time.Time
	us := func(d time.Duration) int64 { return d.Microseconds() }
	for id, w := range byWorkflow {
		if len(w) != chainSteps {
			return run, fmt.Errorf("workflow %s has %d steps, want %d", id, len(w), chainSteps)
		}
		for j := range chainSteps {
			t := w["s"+strconv.Itoa(j)]
			if t == nil {
				return run, fmt.Errorf("workflow %s has no step s%d", id, j)
			}
			ran = append(ran, us(t.CompletedAt.Sub(t.StartedAt)))
			if t.CompletedAt.After(end) {
				end = t.CompletedAt
			}
			if j == 0 {
				root = append(root, us(t.StartedAt.Sub(t.CreatedAt)))
				if first.IsZero() || t.CreatedAt.Before(first) {
					first = t.CreatedAt
				}
				if t.CreatedAt.After(lastCreated) {
					lastCreated = t.CreatedAt
				}
				continue
			}
			p := w["s"+strconv.Itoa(j-1)]
			release = append(release, us(t.StartedAt.Sub(p.CompletedAt)))
			placed = append(placed, us(t.AssignedAt.Sub(p.CompletedAt)))
			claimed = append(claimed, us(t.StartedAt.Sub(t.AssignedAt)))
		}
	}
	run.Workflows, run.StepsPerWorkflow = len(byWorkflow), chainSteps
	run.ReleaseToStart, run.ReleaseToPlaced, run.PlacedToStart = summarize(release), summarize(placed), summarize(claimed)
	run.StepRun, run.RootStart = summarize(ran), summarize(root)
	run.SubmissionMS = float64(lastCreated.Sub(first).Microseconds()) / 1000
	run.Seconds = end.Sub(first).Seconds()
	return run, nil
}
