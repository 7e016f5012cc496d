// Command bench is Archivist's benchmark, side by side with asynq
// (github.com/hibiken/asynq) on the same machine and the same Redis, in one
// run: `make bench`. It starts its own redis-server on a free loopback port,
// runs Archivist nodes as the real binary (bin/archivist, one process per
// node) and asynq through bench/asynqside (its own Go module, so that the
// main module never depends on asynq), runs each scenario several times, and
// prints a table of medians with the ratios between the two, also written as
// JSON and Markdown (bench/results/latest.json, latest.md).
//
// Scenarios: drain (N pre-enqueued no-op tasks run to completion, also as
// the steps of workflows), steady state (a fixed offered rate;
// enqueue-to-start and enqueue-to-completed latency), workflows (chains of
// steps: a step's release to its start), submission (GraphQL, batch
// GraphQL, Go API; asynq's Enqueue), subscriptions (K WebSocket
// subscribers), and cost (Redis commands and CPU per task, Go CPU per task,
// peak RSS, an idle node).
//
// BENCH_QUICK=1 (or -quick) runs a smaller, single-run version for
// development. Every wait is bounded.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var quietLogger = slog.New(slog.DiscardHandler)

// config is what a benchmark run does.
type config struct {
	Quick          bool          `json:"quick"`
	N              int           `json:"drainTasks"`
	Concurrency    int           `json:"concurrency"`
	Runs           int           `json:"runs"`
	Rates          []int         `json:"steadyRates"`
	SteadyDuration time.Duration `json:"steadyDuration"`
	SubmitDuration time.Duration `json:"submitDuration"`
	Subscribers    []int         `json:"subscribers"`
	// IdleSubscribers, when not 0, adds a run of 1,000 active subscribers
	// beside this many idle ones (subscribed to configUpdated, which stays
	// quiet).
	IdleSubscribers int           `json:"idleSubscribers,omitempty"`
	EventsPerSec    int           `json:"eventsPerSecPerSubscriber"`
	SubDuration     time.Duration `json:"subscriptionDuration"`
	IdleSettle      time.Duration `json:"idleSettle"`
	IdleWindow      time.Duration `json:"idleWindow"`
	Chains          int           `json:"workflowChains"`
	Only            []string      `json:"only,omitempty"`
	DrainSystems    []string      `json:"drainSystems,omitempty"`
	// WorkflowSystems are the stores of the workflow scenario.
	WorkflowSystems []string `json:"workflowSystems,omitempty"`
}

func defaultConfig(quick bool) config {
	if quick {
		return config{Quick: true, N: 5000, Concurrency: 100, Runs: 1, Rates: []int{1000, 5000},
			SteadyDuration: 3 * time.Second, SubmitDuration: 2 * time.Second, Subscribers: []int{100, 1000},
			EventsPerSec: 100, SubDuration: 4 * time.Second, IdleSettle: 2 * time.Second, IdleWindow: 5 * time.Second,
			Chains: 200, IdleSubscribers: 9000}
	}
	return config{N: 20000, Concurrency: 100, Runs: 3, Rates: []int{1000, 5000},
		SteadyDuration: 10 * time.Second, SubmitDuration: 5 * time.Second, Subscribers: []int{100, 1000},
		EventsPerSec: 100, SubDuration: 10 * time.Second, IdleSettle: 5 * time.Second, IdleWindow: 20 * time.Second,
		Chains: 200, IdleSubscribers: 9000}
}

type bench struct {
	cfg          config
	redis        *redisServer
	archivistBin string
	asynqBin     string
	tmp          string
	log          *log.Logger
	report       *report
	sink         *otlpSink // the traced drain's, started when first needed
}

func main() {
	quick := flag.Bool("quick", os.Getenv("BENCH_QUICK") != "", "a smaller, single-run benchmark (also BENCH_QUICK=1)")
	archivistBin := flag.String("archivist", "bin/archivist", "the archivist binary")
	asynqBin := flag.String("asynq", "bin/asynqside", "the asynq side's binary (bench/asynqside)")
	out := flag.String("out", "bench/results/latest.json", "where the JSON results go (and the Markdown table, as .md)")
	only := flag.String("only", os.Getenv("BENCH_ONLY"), "comma-separated scenarios to run: drain,steady,workflow,submit,subscribe,idle (default all)")
	runs := flag.Int("runs", 0, "runs of each scenario (default 3, quick 1)")
	n := flag.Int("n", 0, "drain tasks (default 20000, quick 5000)")
	conc := flag.Int("concurrency", 0, "workers per Archivist node and asynq server concurrency (default 100)")
	subs := flag.String("subscribers", "", "comma-separated subscriber counts for the subscription runs (default 100,1000)")
	systems := flag.String("drain-systems", "", "comma-separated drain systems to run: redis1,redis2,embedded,redis1-waiting,embedded-waiting,redis1-workflow,embedded-workflow,redis1-traced,asynq (default all)")
	chains := flag.Int("chains", 0, "workflows (chains of 10 steps) of the workflow scenario, submitted at once (default 200)")
	wfSystems := flag.String("workflow-systems", "", "comma-separated stores of the workflow scenario: redis1,embedded (default both)")
	flag.Parse()

	cfg := defaultConfig(*quick)
	if *runs > 0 {
		cfg.Runs = *runs
	}
	if *n > 0 {
		cfg.N = *n
	}
	if *conc > 0 {
		cfg.Concurrency = *conc
	}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	if *subs != "" {
		cfg.Subscribers = nil
		for _, v := range strings.Split(*subs, ",") {
			k, err := strconv.Atoi(v)
			if err != nil || k <= 0 {
				log.Fatalf("bench: -subscribers %q: want counts", *subs)
			}
			cfg.Subscribers = append(cfg.Subscribers, k)
		}
	}
	if *systems != "" {
		cfg.DrainSystems = strings.Split(*systems, ",")
	}
	if *chains > 0 {
		cfg.Chains = *chains
	}
	if *wfSystems != "" {
		cfg.WorkflowSystems = strings.Split(*wfSystems, ",")
	}
	logger := log.New(os.Stderr, "bench: ", log.Ltime)
	for _, bin := range []string{*archivistBin, *asynqBin} {
		if _, err := os.Stat(bin); err != nil {
			logger.Fatalf("%s is missing: run make bench (it builds it)", bin)
		}
	}
	if !hasBinary("redis-server") {
		logger.Fatal("redis-server is not installed (apt-get install redis-server)")
	}
	tmp, err := os.MkdirTemp("", "archivist-bench-")
	if err != nil {
		logger.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	rdir, err := tmpDir(tmp, "redis")
	if err != nil {
		logger.Fatal(err)
	}
	rs, err := startRedis(rdir)
	if err != nil {
		logger.Fatal(err)
	}
	defer rs.stop()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{cfg: cfg, redis: rs, archivistBin: *archivistBin, asynqBin: *asynqBin, tmp: tmp, log: logger,
		report: newReport(cfg, rs.Version)}
	logger.Printf("redis-server %s on %s; %d CPUs (%s); N=%d, concurrency %d, %d run(s) per scenario; load average %s",
		rs.Version, rs.Addr, runtime.NumCPU(), cpuModel(), cfg.N, cfg.Concurrency, cfg.Runs, b.report.Machine.LoadBefore)
	began := time.Now()
	if err := b.runAll(ctx); err != nil {
		logger.Printf("benchmark stopped: %v", err)
		stop()
		rs.stop()
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	b.report.Seconds = time.Since(began).Seconds()
	b.report.Machine.LoadAfter = loadAverage()
	md := b.report.markdown()
	fmt.Print(md)
	if *out != "" {
		if err := writeResults(*out, b.report, md); err != nil {
			logger.Printf("write results: %v", err)
		} else {
			logger.Printf("results in %s (and .md); took %s", *out, time.Since(began).Round(time.Second))
		}
	}
}

func (b *bench) wants(s string) bool { return len(b.cfg.Only) == 0 || slices.Contains(b.cfg.Only, s) }

// repeat runs f cfg.Runs times, logging each run.
func repeat[T any](b *bench, name string, f func() (T, error)) ([]T, error) {
	var out []T
	for i := range b.cfg.Runs {
		t0 := time.Now()
		v, err := f()
		if err != nil {
			return out, fmt.Errorf("%s (run %d): %w", name, i+1, err)
		}
		b.log.Printf("%s: run %d done in %s", name, i+1, time.Since(t0).Round(10*time.Millisecond))
		out = append(out, v)
	}
	return out, nil
}

func (b *bench) runAll(ctx context.Context) error {
	r := b.report
	if b.wants("drain") {
		all := []struct {
			key, name string
			f         func() (drainRun, error)
		}{
			{"redis1", sysRedis1, func() (drainRun, error) { return b.drainArchivistRedis(ctx, 1) }},
			{"redis2", sysRedis2, func() (drainRun, error) { return b.drainArchivistRedis(ctx, 2) }},
			{"embedded", sysEmbedded, func() (drainRun, error) { return b.drainEmbedded(ctx) }},
			{"redis1-waiting", sysRedis1Waiting, func() (drainRun, error) { return b.drainArchivistRedisWaiting(ctx) }},
			{"embedded-waiting", sysEmbeddedWaiting, func() (drainRun, error) { return b.drainEmbeddedWaiting(ctx) }},
			{"redis1-workflow", sysRedis1Workflow, func() (drainRun, error) { return b.drainArchivistRedisWorkflow(ctx) }},
			{"redis1-traced", sysRedis1Traced, func() (drainRun, error) { return b.drainArchivistRedisTraced(ctx) }},
			{"embedded-workflow", sysEmbeddedWorkflow, func() (drainRun, error) { return b.drainEmbeddedWorkflow(ctx) }},
			{"asynq", sysAsynq, func() (drainRun, error) { return b.drainAsynq(ctx) }},
		}
		systems := all[:0:0]
		for _, s := range all {
			if len(b.cfg.DrainSystems) == 0 || slices.Contains(b.cfg.DrainSystems, s.key) {
				systems = append(systems, s)
			}
		}
		// Interleave the systems run by run, so that a slow patch of the
		// machine does not fall on one of them only.
		runs := map[string][]drainRun{}
		for i := range b.cfg.Runs {
			for _, s := range systems {
				t0 := time.Now()
				v, err := s.f()
				if err != nil {
					return fmt.Errorf("drain %s (run %d): %w", s.name, i+1, err)
				}
				b.log.Printf("drain %s: run %d: %.0f tasks/s (%s)", s.name, i+1, v.TasksPerSec, time.Since(t0).Round(10*time.Millisecond))
				runs[s.name] = append(runs[s.name], v)
			}
		}
		for _, s := range systems {
			r.Drain = append(r.Drain, summarizeDrain(s.name, runs[s.name]))
		}
	}
	if b.wants("steady") {
		for _, rate := range b.cfg.Rates {
			systems := []struct {
				name string
				f    func() (steadyRun, error)
			}{
				{sysRedis1, func() (steadyRun, error) { return b.steadyArchivist(ctx, rate) }},
				{sysAsynq + " (default)", func() (steadyRun, error) { return b.steadyAsynq(ctx, rate, 0) }},
				{sysAsynq + " (10ms check)", func() (steadyRun, error) { return b.steadyAsynq(ctx, rate, 10) }},
			}
			for _, s := range systems {
				runs, err := repeat(b, fmt.Sprintf("steady %d/s %s", rate, s.name), s.f)
				if err != nil {
					return err
				}
				r.Steady = append(r.Steady, summarizeSteady(s.name, rate, runs))
			}
		}
	}
	if b.wants("workflow") {
		for _, s := range []struct {
			key, name string
			f         func(context.Context) (chainRun, error)
		}{{"redis1", sysRedis1, b.chainsRedis}, {"embedded", sysEmbedded, b.chainsEmbedded}} {
			if len(b.cfg.WorkflowSystems) > 0 && !slices.Contains(b.cfg.WorkflowSystems, s.key) {
				continue
			}
			runs, err := repeat(b, "workflow "+s.name, func() (chainRun, error) { return s.f(ctx) })
			if err != nil {
				return err
			}
			r.Workflows = append(r.Workflows, summarizeChains(s.name, runs))
		}
	}
	if b.wants("submit") {
		for _, m := range submitModes {
			runs, err := repeat(b, "submit "+m.Name, func() (float64, error) { return b.submitRun(ctx, m.Name, m.Clients, m.Batch) })
			if err != nil {
				return err
			}
			r.Submit = append(r.Submit, &submitResult{Mode: m.Name, Clients: m.Clients, Batch: m.Batch, Runs: runs, Median: median(runs)})
		}
	}
	if b.wants("subscribe") {
		for _, k := range b.cfg.Subscribers {
			runs, err := repeat(b, fmt.Sprintf("subscribe K=%d", k), func() (subRun, error) {
				return b.subscribeRun(ctx, k, k, b.cfg.EventsPerSec)
			})
			if err != nil {
				return err
			}
			r.Subscriptions = append(r.Subscriptions, summarizeSub(k, runs))
		}
		if idle := b.cfg.IdleSubscribers; idle > 0 {
			const active = 1000
			k := active + idle
			runs, err := repeat(b, fmt.Sprintf("subscribe K=%d (%d active)", k, active), func() (subRun, error) {
				return b.subscribeRun(ctx, k, active, b.cfg.EventsPerSec)
			})
			if err != nil {
				return err
			}
			r.Subscriptions = append(r.Subscriptions, summarizeSub(k, runs))
		}
	}
	if b.wants("idle") {
		for _, f := range []func(context.Context) (idleResult, error){b.idleArchivistRedis, b.idleArchivistRedisSchedules, b.idleArchivistEmbedded, b.idleAsynq} {
			v, err := f(ctx)
			if err != nil {
				return fmt.Errorf("idle: %w", err)
			}
			b.log.Printf("idle %s: %.1f MB, %.2f%% CPU", v.System, v.RSSMB, v.CPUPercent)
			r.Idle = append(r.Idle, &v)
		}
	}
	return nil
}

func writeResults(path string, r *report, md string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	mdPath := strings.TrimSuffix(path, filepath.Ext(path)) + ".md"
	return os.WriteFile(mdPath, []byte(md), 0o644)
}
