package main

import (
	"cmp"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// System names in the results.
const (
	sysRedis1   = "archivist redis, 1 node"
	sysRedis2   = "archivist redis, 2 nodes"
	sysEmbedded = "archivist embedded"
	// The same drains with 100,000 SCHEDULED tasks due next week in the
	// store (waitingTasks): what tasks waiting for a time cost placement.
	sysRedis1Waiting   = "archivist redis, 1 node, +100k scheduled"
	sysEmbeddedWaiting = "archivist embedded, +100k scheduled"
	// The same drains with the tasks as the steps of workflows of
	// drainWorkflowSteps steps (fan-out and fan-in): what a workflow step
	// costs over a plain task.
	sysRedis1Workflow   = "archivist redis, 1 node, workflow steps"
	sysRedis1Traced     = "archivist redis, 1 node, traced"
	sysEmbeddedWorkflow = "archivist embedded, workflow steps"
	sysAsynq            = "asynq, 1 server"
)

// report is everything one benchmark run measured.
type report struct {
	When          time.Time       `json:"when"`
	Machine       machine         `json:"machine"`
	Config        config          `json:"config"`
	Seconds       float64         `json:"seconds"`
	Drain         []*drainResult  `json:"drain,omitempty"`
	Steady        []*steadyResult `json:"steady,omitempty"`
	Workflows     []*chainResult  `json:"workflows,omitempty"`
	Submit        []*submitResult `json:"submission,omitempty"`
	Subscriptions []*subResult    `json:"subscriptions,omitempty"`
	Idle          []*idleResult   `json:"idle,omitempty"`
	Targets       []target        `json:"targets,omitempty"`
}

type machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpuModel"`
	Go       string `json:"go"`
	Redis    string `json:"redis"`
	Kernel   string `json:"kernel"`
	// Load averages (1, 5, 15 min) when the run began and ended: other
	// work on the machine skews every figure.
	LoadBefore string `json:"loadBefore"`
	LoadAfter  string `json:"loadAfter,omitempty"`
}

// target is one goal of the benchmark and whether this run met it.
type target struct {
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

func newReport(cfg config, redisVersion string) *report {
	k, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return &report{When: time.Now().UTC().Truncate(time.Second), Config: cfg, Machine: machine{
		CPUs: runtime.NumCPU(), CPUModel: cpuModel(), Go: runtime.Version(), Redis: redisVersion,
		Kernel: strings.TrimSpace(string(k)), LoadBefore: loadAverage(),
	}}
}

// loadAverage is /proc/loadavg's first three fields.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func (r *report) drain(system string) *drainResult {
	for _, d := range r.Drain {
		if d.System == system {
			return d
		}
	}
	return nil
}

func (r *report) steady(system string, rate int) *steadyResult {
	for _, s := range r.Steady {
		if s.System == system && s.Rate == rate {
			return s
		}
	}
	return nil
}

// markdown renders the tables (and computes the targets).
func (r *report) markdown() string {
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	runs := fmt.Sprintf("Median of %d runs", r.Config.Runs)
	if r.Config.Runs == 1 {
		runs = "One run"
	}
	quick := ""
	if r.Config.Quick {
		quick = " (quick mode)"
	}
	p("Machine: %d × %s, Linux %s, %s, Redis %s (AOF, fsync every second)%s; load average %s before, %s after. %s; each Archivist node is a separate `archivist serve` process; concurrency %d (workers per node, asynq server concurrency).\n\n",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.Kernel, r.Machine.Go, r.Machine.Redis, quick,
		r.Machine.LoadBefore, r.Machine.LoadAfter, runs, r.Config.Concurrency)

	asq := r.drain(sysAsynq)
	if len(r.Drain) > 0 {
		p("**Drain**: %d pre-enqueued no-op tasks, from the first start to the last completion.\n\n", r.Config.N)
		p("| system | tasks/s | × asynq | Redis cmds/task | scripts/task | Redis CPU µs/task | Go CPU µs/task | peak RSS MB |\n")
		p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, d := range r.Drain {
			m := d.Median
			x := "—"
			if asq != nil && d != asq {
				x = fmt.Sprintf("%.2f", ratio(m.TasksPerSec, asq.Median.TasksPerSec))
			}
			redis := func(v float64, f string) string {
				if !strings.HasPrefix(d.System, "archivist redis") && d.System != sysAsynq {
					return "—"
				}
				return fmt.Sprintf(f, v)
			}
			p("| %s | %.0f | %s | %s | %s | %s | %.1f | %.0f |\n", d.System, m.TasksPerSec, x,
				redis(m.RedisCmdsPerTask, "%.1f"), redis(m.RedisScriptsPerTask, "%.2f"), redis(m.RedisCPUPerTaskUS, "%.1f"),
				m.GoCPUPerTaskUS, m.PeakRSSMB)
		}
		p("\n")
		for _, c := range [][2]string{{sysRedis1, sysRedis1Waiting}, {sysEmbedded, sysEmbeddedWaiting}} {
			if a, b := r.drain(c[0]), r.drain(c[1]); a != nil && b != nil {
				p("With %d SCHEDULED tasks due next week in the store, %s drains at %.0f%% of its rate without them (%.1f instead of %.1f Go CPU µs per task).\n\n",
					waitingTasks, c[0], 100*ratio(b.Median.TasksPerSec, a.Median.TasksPerSec), b.Median.GoCPUPerTaskUS, a.Median.GoCPUPerTaskUS)
			}
		}
		if a, b := r.drain(sysRedis1), r.drain(sysRedis1Workflow); a != nil && b != nil {
			p("As the steps of workflows of %d (a root, %d steps after it, a last step after those), %s drains at %.0f%% of its rate as plain tasks; a step costs %.1f µs of Redis CPU and %.1f Redis commands, a plain task %.1f and %.1f (%+.1f µs, %+.1f commands per step).\n\n",
				drainWorkflowSteps, drainWorkflowSteps-2, sysRedis1, 100*ratio(b.Median.TasksPerSec, a.Median.TasksPerSec),
				b.Median.RedisCPUPerTaskUS, b.Median.RedisCmdsPerTask, a.Median.RedisCPUPerTaskUS, a.Median.RedisCmdsPerTask,
				b.Median.RedisCPUPerTaskUS-a.Median.RedisCPUPerTaskUS, b.Median.RedisCmdsPerTask-a.Median.RedisCmdsPerTask)
			if more := moreCalls(a, b, 0.05); more != "" {
				p("The Redis commands a step runs more than a plain task, per step: %s.\n\n", more)
			}
		}
		if a, b := r.drain(sysRedis1), r.drain(sysRedis1Traced); a != nil && b != nil {
			p("With tracing on (every task submitted in a trace: its placement and its attempt are spans, exported over OTLP/HTTP to a sink in the benchmark), %s drains at %.0f%% of its rate with tracing off (%.1f instead of %.1f Go CPU µs per task, %+.1f; Redis CPU %.1f instead of %.1f µs per task, the trace stored with the task). Off, tracing costs one atomic load where a span could start.\n\n",
				sysRedis1, 100*ratio(b.Median.TasksPerSec, a.Median.TasksPerSec), b.Median.GoCPUPerTaskUS, a.Median.GoCPUPerTaskUS,
				b.Median.GoCPUPerTaskUS-a.Median.GoCPUPerTaskUS, b.Median.RedisCPUPerTaskUS, a.Median.RedisCPUPerTaskUS)
		}
		if a, b := r.drain(sysEmbedded), r.drain(sysEmbeddedWorkflow); a != nil && b != nil {
			p("As the steps of workflows, %s drains at %.0f%% of its rate as plain tasks (%.1f instead of %.1f Go CPU µs per task).\n\n",
				sysEmbedded, 100*ratio(b.Median.TasksPerSec, a.Median.TasksPerSec), b.Median.GoCPUPerTaskUS, a.Median.GoCPUPerTaskUS)
		}
	}
	if len(r.Steady) > 0 {
		p("**Steady state**: tasks offered one per submission at a fixed rate for %s; latency in ms from submission to start and to completion (asynq: to the handler's return; its acknowledgement follows in one round trip).\n\n", r.Config.SteadyDuration)
		p("| system | rate/s | start p50 | start p99 | start max | done p50 | done p99 | done max | Redis CPU µs/task |\n")
		p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, s := range r.Steady {
			m := s.Median
			p("| %s | %d | %.2f | %.2f | %.1f | %.2f | %.2f | %.1f | %.1f |\n", s.System, s.Rate,
				m.Start.P50, m.Start.P99, m.Start.Max, m.Done.P50, m.Done.P99, m.Done.Max, m.RedisCPUPerTaskUS)
		}
		p("\n")
		p("Archivist's steps, from the store's timestamps (ms, p50 / p99): submission → placed by the leader → started by the worker → completed.\n\n")
		p("| rate/s | placed | started | completed |\n| ---: | ---: | ---: | ---: |\n")
		for _, s := range r.Steady {
			if m := s.Median; m.Placed != nil {
				p("| %d | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f |\n", s.Rate, m.Placed.P50, m.Placed.P99,
					m.Claimed.P50, m.Claimed.P99, m.Ran.P50, m.Ran.P99)
			}
		}
		p("\n")
	}
	if len(r.Workflows) > 0 {
		p("**Workflows**: %d chains of %d steps (each step depends on the one before; `echo` with input `{}`), submitted at once (GraphQL `submitWorkflow`, %d clients) to one node; from the store's timestamps, in ms: a step's release (its parent's completion, in the same atomic step) to its start, that split into placement by the leader and start by a worker, and a root's submission to its start (a plain task in the same burst); Redis CPU per step is the whole run's, submissions included.\n\n",
			r.Config.Chains, chainSteps, chainClients)
		p("| system | release→start p50 | p95 | p99 | max | release→placed p50 / p99 | placed→started p50 / p99 | root submit→start p50 / p99 | step run p50 | submission ms | total s | Redis CPU µs/step |\n")
		p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, c := range r.Workflows {
			m := c.Median
			cpu := "—"
			if strings.HasPrefix(c.System, "archivist redis") {
				cpu = fmt.Sprintf("%.1f", m.RedisCPUPerStepUS)
			}
			p("| %s | %.2f | %.2f | %.2f | %.1f | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2f | %.0f | %.2f | %s |\n", c.System,
				m.ReleaseToStart.P50, m.ReleaseToStart.P95, m.ReleaseToStart.P99, m.ReleaseToStart.Max,
				m.ReleaseToPlaced.P50, m.ReleaseToPlaced.P99, m.PlacedToStart.P50, m.PlacedToStart.P99,
				m.RootStart.P50, m.RootStart.P99, m.StepRun.P50, m.SubmissionMS, m.Seconds, cpu)
		}
		p("\n")
		for _, s := range r.Steady {
			if s.System == sysRedis1 && s.Median.Placed != nil {
				p("For comparison, a plain task offered one per submission at %d/s (steady state, %s) starts %.2f ms (p50) and %.2f ms (p99) after its submission, and is placed %.2f / %.2f ms (p50 / p99) after it.\n\n",
					s.Rate, sysRedis1, s.Median.Start.P50, s.Median.Start.P99, s.Median.Placed.P50, s.Median.Placed.P99)
			}
		}
	}
	if len(r.Submit) > 0 {
		p("**Submission** for %s, as fast as the clients go (Archivist: one node on Redis that runs no tasks, so that this is the submission path alone).\n\n", r.Config.SubmitDuration)
		p("| way in | clients | tasks per call | tasks/s |\n| --- | ---: | ---: | ---: |\n")
		for _, s := range r.Submit {
			p("| %s | %d | %d | %.0f |\n", s.Mode, s.Clients, s.Batch, s.Median)
		}
		p("\n")
	}
	if len(r.Subscriptions) > 0 {
		p("**Subscriptions**: K WebSocket clients (graphql-transport-ws) subscribed to `taskUpdated` on one node on Redis, each receiving %d events/s for %s (where fewer are active, the others hold a `configUpdated` subscription that stays quiet); delay from the change (`updatedAt`) to receipt, in ms; node memory per subscriber over its RSS before they connected.\n\n", r.Config.EventsPerSec, r.Config.SubDuration)
		p("| K | messages/s | delivered | delay p50 | delay p99 | delay max | KB/subscriber idle | KB/subscriber peak | node CPU %% | clients' CPU %% | dropped |\n")
		p("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, s := range r.Subscriptions {
			m := s.Median
			k := fmt.Sprint(s.Subscribers)
			if m.Active > 0 && m.Active < s.Subscribers {
				k = fmt.Sprintf("%d (%d active)", s.Subscribers, m.Active)
			}
			p("| %s | %.0f | %.1f%% | %.1f | %.1f | %.1f | %.0f | %.0f | %.0f | %.0f | %d |\n", k, m.MsgsPerSec,
				100*ratio(float64(m.Received), float64(m.Expected)), m.Delay.P50, m.Delay.P99, m.Delay.Max,
				m.IdleKBPerSub, m.PeakKBPerSub, m.NodeCPUPct, m.ClientCPUPct, m.Dropped)
		}
		p("\n")
	}
	if len(r.Idle) > 0 {
		p("**Idle**: one process with nothing to do, after %s, over %s.\n\n", r.Config.IdleSettle, r.Config.IdleWindow)
		p("| system | RSS MB | CPU %% of a core | Redis commands/s | Redis CPU %% |\n| --- | ---: | ---: | ---: | ---: |\n")
		for _, i := range r.Idle {
			p("| %s | %.1f | %.2f | %.1f | %.2f |\n", i.System, i.RSSMB, i.CPUPercent, i.RedisCmdsSec, i.RedisCPUPct)
		}
		p("\n")
	}
	r.Targets = r.targets()
	if len(r.Targets) > 0 {
		p("**Targets** (ratios from this run):\n\n| target | measured | met |\n| --- | --- | --- |\n")
		for _, t := range r.Targets {
			met := "no"
			if t.Met {
				met = "yes"
			}
			p("| %s | %s | %s |\n", t.Goal, t.Measured, met)
		}
		p("\n")
	}
	return w.String()
}

// moreCalls lists the Redis commands that b runs more often per task than
// a, by at least atLeast per task, the largest difference first.
func moreCalls(a, b *drainResult, atLeast float64) string {
	ca, cb := a.callsPerTask(), b.callsPerTask()
	type diff struct {
		name string
		d    float64
	}
	var ds []diff
	for k, v := range cb {
		if d := v - ca[k]; d >= atLeast {
			ds = append(ds, diff{k, d})
		}
	}
	slices.SortFunc(ds, func(x, y diff) int { return cmp.Compare(y.d, x.d) })
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%s %+.2f", strings.ToUpper(d.name), d.d)
	}
	return strings.Join(parts, ", ")
}

// targets are those of issue #18 (README: "Targets"), each from this run.
func (r *report) targets() []target {
	var out []target
	a1, asq, emb := r.drain(sysRedis1), r.drain(sysAsynq), r.drain(sysEmbedded)
	if a1 != nil && asq != nil {
		x := ratio(a1.Median.TasksPerSec, asq.Median.TasksPerSec)
		out = append(out, target{"drain on Redis, one node ≥ 2.5× asynq", fmt.Sprintf("%.2f×", x), x >= 2.5})
		c := ratio(a1.Median.RedisCPUPerTaskUS, asq.Median.RedisCPUPerTaskUS)
		out = append(out, target{"Redis CPU per task ≤ 40% of asynq's (drain)",
			fmt.Sprintf("%.0f%% (%.1f vs %.1f µs)", 100*c, a1.Median.RedisCPUPerTaskUS, asq.Median.RedisCPUPerTaskUS), c <= 0.40})
	}
	if s := r.steady(sysRedis1, 1000); s != nil {
		// asynq's cheaper configuration of the two is the bar.
		var bar float64
		for _, name := range []string{sysAsynq + " (default)", sysAsynq + " (10ms check)"} {
			if a := r.steady(name, 1000); a != nil && (bar == 0 || a.Median.RedisCPUPerTaskUS < bar) {
				bar = a.Median.RedisCPUPerTaskUS
			}
		}
		if bar > 0 {
			x := ratio(s.Median.RedisCPUPerTaskUS, bar)
			out = append(out, target{"Redis CPU per task at 1,000/s ≤ 1.0× asynq's",
				fmt.Sprintf("%.2f× (%.0f vs %.0f µs)", x, s.Median.RedisCPUPerTaskUS, bar), x <= 1})
		}
		out = append(out, target{"p99 submission→start ≤ 2 ms at 1,000/s", fmt.Sprintf("%.2f ms", s.Median.Start.P99), s.Median.Start.P99 <= 2})
	}
	if emb != nil && asq != nil {
		x := ratio(emb.Median.TasksPerSec, asq.Median.TasksPerSec)
		out = append(out, target{"embedded drain ≥ 3× asynq's drain on Redis", fmt.Sprintf("%.2f×", x), x >= 3})
	}
	submit := map[string]float64{}
	for _, s := range r.Submit {
		submit[s.Mode] = s.Median
	}
	if g, a := submit["go CreateTasks"], submit["asynq Enqueue"]; g > 0 && a > 0 {
		x := ratio(g, a)
		out = append(out, target{"one task per call, Go API ≥ 1.0× asynq Enqueue", fmt.Sprintf("%.2f× (%.0f vs %.0f/s)", x, g, a), x >= 1})
	}
	if g := submit["graphql submitTask"]; g > 0 {
		out = append(out, target{"one task per call, GraphQL submitTask ≥ 10,000/s", fmt.Sprintf("%.0f/s", g), g >= 10000})
	}
	for _, s := range r.Subscriptions {
		m := s.Median
		switch {
		case s.Subscribers == 1000 && (m.Active == 0 || m.Active == 1000):
			out = append(out, target{"1,000 subscribers at 100 events/s: p99 < 100 ms", fmt.Sprintf("%.1f ms", m.Delay.P99),
				m.Delay.P99 < 100 && m.Received >= m.Expected*99/100})
			out = append(out, target{"1,000 subscribers: < 50 KB each (peak)", fmt.Sprintf("%.0f KB", m.PeakKBPerSub), m.PeakKBPerSub < 50})
		case s.Subscribers >= 10000:
			out = append(out, target{fmt.Sprintf("%d subscribers (%d active): < 20 KB each idle", s.Subscribers, m.Active),
				fmt.Sprintf("%.1f KB", m.IdleKBPerSub), m.IdleKBPerSub < 20})
		}
	}
	for _, i := range r.Idle {
		if !strings.HasPrefix(i.System, "archivist") {
			continue
		}
		out = append(out, target{"idle node " + strings.TrimPrefix(i.System, "archivist ") + ": < 40 MB RSS, < 1% of a core",
			fmt.Sprintf("%.1f MB, %.2f%%", i.RSSMB, i.CPUPercent), i.RSSMB < 40 && i.CPUPercent < 1})
	}
	return out
}
