package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"

	"github.com/rpg-archivist/archivist"
)

// Metrics are the Prometheus series of a node. It implements the worker
// pool's Observer.
type Metrics struct {
	Registry *prometheus.Registry

	attempts *prometheus.CounterVec
	duration *prometheus.HistogramVec
	panics   prometheus.Counter
	requests *prometheus.CounterVec
	ticks    *prometheus.CounterVec
}

// StateSource gives the gauges read at scrape time.
type StateSource struct {
	Store  archivist.Store
	Health func() (archivist.Health, bool)
	Active func() int
	Leader func() bool
}

// NewMetrics registers the node's series.
func NewMetrics(src StateSource) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "archivist_task_attempts_total",
			Help: "Finished task attempts run on this node, by task type and outcome (completed, failed, timed_out, cancelled, released).",
		}, []string{"type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "archivist_task_duration_seconds",
			Help:    "How long task attempts ran on this node, by task type.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"type"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "archivist_worker_panics_total",
			Help: "Handler panics recovered on this node (each replaced its worker).",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "archivist_graphql_requests_total",
			Help: "GraphQL operations served by this node, by operation type and outcome (ok or error).",
		}, []string{"operation", "outcome"}),
		ticks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "archivist_schedule_ticks_total",
			Help: "Schedule ticks this node tried to fire while leading, by outcome: fired, missed (one task for ticks missed past the misfire threshold), skipped (overlap or misfire SKIP), duplicate (the task's unique key was held), refused (fired elsewhere, changed, or a stale lease), failed (the store did not answer; tried again).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.attempts, m.duration, m.panics, m.requests, m.ticks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{src: src})
	return m
}

// AttemptFinished implements workerpool.Observer. With tracing on, the
// duration carries the attempt's trace as an exemplar (shown by Prometheus
// and Grafana with OpenMetrics scraping), which leads from a slow bucket to
// the trace of an attempt in it.
func (m *Metrics) AttemptFinished(ctx context.Context, t *archivist.Task, outcome string, d time.Duration) {
	m.attempts.WithLabelValues(t.Type, outcome).Inc()
	obs := m.duration.WithLabelValues(t.Type)
	if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
		if eo, ok := obs.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(d.Seconds(), prometheus.Labels{"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String()})
			return
		}
	}
	obs.Observe(d.Seconds())
}

// ScheduleTick counts one tick this node tried to fire (see
// recurring.Config.OnTick).
func (m *Metrics) ScheduleTick(outcome string) { m.ticks.WithLabelValues(outcome).Inc() }

// WorkerPanicked implements workerpool.Observer.
func (m *Metrics) WorkerPanicked(*archivist.Task) { m.panics.Inc() }

// GraphQLRequest counts one operation.
func (m *Metrics) GraphQLRequest(operation string, failed bool) {
	outcome := "ok"
	if failed {
		outcome = "error"
	}
	m.requests.WithLabelValues(operation, outcome).Inc()
}

var (
	descTasks = prometheus.NewDesc("archivist_tasks", "Tasks in the store, by status.", []string{"status"}, nil)
	descQueue = prometheus.NewDesc("archivist_queue_depth", "Tasks waiting to run (PENDING and RETRYING).", nil, nil)
	descCPU   = prometheus.NewDesc("archivist_node_cpu_percent", "CPU use of this node's machine, in percent.", nil, nil)
	descMem   = prometheus.NewDesc("archivist_node_memory_percent", "Memory use of this node's machine, in percent.", nil, nil)
	descLoad  = prometheus.NewDesc("archivist_node_load", "Load average of this node's machine.", []string{"period"}, nil)
	descBusy  = prometheus.NewDesc("archivist_node_busy", "1 when this node is over a health threshold and takes no new tasks.", nil, nil)
	descAct   = prometheus.NewDesc("archivist_node_active_tasks", "Task attempts running on this node.", nil, nil)
	descLead  = prometheus.NewDesc("archivist_node_leader", "1 when this node is the cluster's leader.", nil, nil)
)

// stateCollector reads gauges from the store and the node at scrape time.
type stateCollector struct{ src StateSource }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTasks, descQueue, descCPU, descMem, descLoad, descBusy, descAct, descLead} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		counts, err := c.src.Store.CountTasks(ctx)
		cancel()
		if err == nil {
			for _, s := range archivist.AllTaskStatuses {
				ch <- prometheus.MustNewConstMetric(descTasks, prometheus.GaugeValue, float64(counts[s]), string(s))
			}
			ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue,
				float64(counts[archivist.TaskPending]+counts[archivist.TaskRetrying]))
		}
	}
	if c.src.Health != nil {
		h, busy := c.src.Health()
		ch <- prometheus.MustNewConstMetric(descCPU, prometheus.GaugeValue, h.CPUPercent)
		ch <- prometheus.MustNewConstMetric(descMem, prometheus.GaugeValue, h.MemoryPercent)
		ch <- prometheus.MustNewConstMetric(descLoad, prometheus.GaugeValue, h.Load1, "1m")
		ch <- prometheus.MustNewConstMetric(descLoad, prometheus.GaugeValue, h.Load5, "5m")
		ch <- prometheus.MustNewConstMetric(descLoad, prometheus.GaugeValue, h.Load15, "15m")
		ch <- prometheus.MustNewConstMetric(descBusy, prometheus.GaugeValue, boolFloat(busy))
	}
	if c.src.Active != nil {
		ch <- prometheus.MustNewConstMetric(descAct, prometheus.GaugeValue, float64(c.src.Active()))
	}
	if c.src.Leader != nil {
		ch <- prometheus.MustNewConstMetric(descLead, prometheus.GaugeValue, boolFloat(c.src.Leader()))
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
